"""Erlang external term format (ETF) for the kz_globals test tools.

Kazoo's kz_globals puts names, messages, replies and exit reasons on the
bus as base64 of ``term_to_binary/1``.  A simulated Kazoo node has to
produce and read those bytes exactly as an Erlang node does, and a test
has to show terms the way kz_globals shows them in its views, so this
module offers:

* ``encode(term)`` / ``decode(buf)``: Python value <-> term buffer (the
  version byte 131 and one term);
* ``render(term)``: the Erlang syntax of a term, one line, following the
  rules of ``etf_render`` in ``src/wire/etf.c`` (io_lib ``~tp`` of OTP 25 with
  the unicode printable range);
* ``canonical(buf)``: a term buffer re-encoded the way this module
  encodes, to compare names as Erlang compares terms.

Python types map to Erlang terms like this:

==================  ====================================================
Python              Erlang
==================  ====================================================
``bytes``           binary (``BINARY_EXT``)
``Atom``            atom (decoded from tags 100, 115, 118 and 119;
                    encoded as 119, or as 100 with ``atom_tag=100`` the
                    way OTP 25 writes latin-1 atoms)
``bool``            the atoms ``true`` and ``false`` (encoding only)
``int``             integer of any size
``float``           float (``NEW_FLOAT_EXT``)
``tuple``           tuple
``list``            proper list (``[]`` is nil); a list of small
                    integers is written as ``STRING_EXT``, as
                    ``term_to_binary`` does
``str``             an Erlang string, i.e. a list of code points
                    (``STRING_EXT`` decodes to ``str``, so a decoded
                    ``[1, 2, 3]`` is ``"\\x01\\x02\\x03"``: compare terms
                    with ``term_equal``)
``ImproperList``    ``[A, B | Tail]``
``dict``            map (Python cannot hold both ``1`` and ``1.0`` as keys
                    of one dict, nor list keys)
``Pid``             pid (``NEW_PID_EXT``)
``Opaque``          any other term (reference, port, fun, bit string),
                    kept as its raw bytes
==================  ====================================================

Run ``python3 etf.py`` to check this codec against ``erl``.
"""

import base64
import math
import struct

VERSION = 131

NEW_FLOAT_EXT = 70
BIT_BINARY_EXT = 77
NEW_PID_EXT = 88
NEW_PORT_EXT = 89
NEWER_REFERENCE_EXT = 90
SMALL_INTEGER_EXT = 97
INTEGER_EXT = 98
FLOAT_EXT = 99
ATOM_EXT = 100
REFERENCE_EXT = 101
PORT_EXT = 102
PID_EXT = 103
SMALL_TUPLE_EXT = 104
LARGE_TUPLE_EXT = 105
NIL_EXT = 106
STRING_EXT = 107
LIST_EXT = 108
BINARY_EXT = 109
SMALL_BIG_EXT = 110
LARGE_BIG_EXT = 111
NEW_FUN_EXT = 112
EXPORT_EXT = 113
NEW_REFERENCE_EXT = 114
SMALL_ATOM_EXT = 115
MAP_EXT = 116
ATOM_UTF8_EXT = 118
SMALL_ATOM_UTF8_EXT = 119
V4_PORT_EXT = 120

MAX_DEPTH = 64

# Erlang's reserved words: erl quotes them even though they look bare.
RESERVED_WORDS = frozenset((
    "after", "and", "andalso", "band", "begin", "bnot", "bor", "bsl", "bsr",
    "bxor", "case", "catch", "cond", "div", "end", "fun", "if", "let",
    "maybe", "not", "of", "or", "orelse", "receive", "rem", "try", "when",
    "xor"))


class EtfError(ValueError):
    """A buffer that is not a well-formed external term."""


class Atom(str):
    """An Erlang atom.  A ``str`` subclass so that it compares by text."""

    __slots__ = ()

    def __repr__(self):
        return "Atom(%s)" % str.__repr__(self)

    def __eq__(self, other):
        return isinstance(other, Atom) and str.__eq__(self, other)

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(("atom", str(self)))


class ImproperList:
    """A list whose last tail is not ``[]``: ``[items... | tail]``."""

    __slots__ = ("items", "tail")

    def __init__(self, items, tail):
        self.items = list(items)
        self.tail = tail

    def __eq__(self, other):
        return (isinstance(other, ImproperList) and self.items == other.items
                and self.tail == other.tail)

    def __hash__(self):
        return hash(("improper", tuple(self.items), self.tail))

    def __repr__(self):
        return "ImproperList(%r, %r)" % (self.items, self.tail)


class Pid:
    """An Erlang pid: node atom, id, serial and creation."""

    __slots__ = ("node", "id", "serial", "creation")

    def __init__(self, node, id_, serial, creation=0):
        self.node = Atom(node)
        self.id = id_
        self.serial = serial
        self.creation = creation

    def _key(self):
        return (str(self.node), self.id, self.serial, self.creation)

    def __eq__(self, other):
        return isinstance(other, Pid) and self._key() == other._key()

    def __hash__(self):
        return hash(("pid",) + self._key())

    def __repr__(self):
        return "Pid(%r, %d, %d, %d)" % self._key()


class Opaque:
    """A term this codec does not model (reference, port, fun, bit string).

    It keeps the raw bytes of the term (without the version byte) so that it
    encodes back unchanged; ``render`` shows it as ``#Opaque<tag>``.
    """

    __slots__ = ("raw",)

    def __init__(self, raw):
        self.raw = bytes(raw)

    def __eq__(self, other):
        return isinstance(other, Opaque) and self.raw == other.raw

    def __hash__(self):
        return hash(("opaque", self.raw))

    def __repr__(self):
        return "Opaque(%r)" % (self.raw,)


# ---------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------

def encode(term, atom_tag=SMALL_ATOM_UTF8_EXT):
    """Returns the term buffer (version byte and term) of a Python value.

    ``atom_tag`` is 119 (SMALL_ATOM_UTF8_EXT, OTP 26+) or 100 (ATOM_EXT, what
    OTP 25 writes for latin-1 atoms; a non-latin-1 atom is then still
    written as UTF-8, as OTP 25 does).
    """
    out = bytearray([VERSION])
    _put(out, term, atom_tag, 0)
    return bytes(out)


def _put(out, term, atom_tag, depth):
    """Appends one term to out."""
    if depth > MAX_DEPTH:
        raise EtfError("term nested too deeply")
    if isinstance(term, bool):
        _put_atom(out, "true" if term else "false", atom_tag)
    elif isinstance(term, Atom):
        _put_atom(out, term, atom_tag)
    elif isinstance(term, (bytes, bytearray, memoryview)):
        data = bytes(term)
        out += struct.pack(">BI", BINARY_EXT, len(data)) + data
    elif isinstance(term, int):
        _put_int(out, term)
    elif isinstance(term, float):
        if math.isnan(term) or math.isinf(term):
            raise EtfError("Erlang has no NaN or infinity")
        out += struct.pack(">Bd", NEW_FLOAT_EXT, term)
    elif isinstance(term, tuple):
        _put_tuple(out, term, atom_tag, depth)
    elif isinstance(term, str):
        _put_list(out, [ord(c) for c in term], None, atom_tag, depth)
    elif isinstance(term, list):
        _put_list(out, term, None, atom_tag, depth)
    elif isinstance(term, ImproperList):
        _put_list(out, term.items, term.tail, atom_tag, depth)
    elif isinstance(term, dict):
        _put_map(out, term, atom_tag, depth)
    elif isinstance(term, Pid):
        out.append(NEW_PID_EXT)
        _put_atom(out, term.node, atom_tag)
        out += struct.pack(">III", term.id, term.serial, term.creation)
    elif isinstance(term, Opaque):
        out += term.raw
    else:
        raise TypeError("cannot encode %r as an Erlang term" % (term,))


def _put_atom(out, name, atom_tag):
    """Appends an atom as SMALL_ATOM_UTF8_EXT (or ATOM_EXT when asked)."""
    if atom_tag == ATOM_EXT and all(ord(c) < 256 for c in name):
        data = name.encode("latin-1")
        if len(data) > 255:
            raise EtfError("atom longer than 255 characters")
        out += struct.pack(">BH", ATOM_EXT, len(data)) + data
        return
    data = name.encode("utf-8")
    if len(name) > 255:
        raise EtfError("atom longer than 255 characters")
    if len(data) < 256:
        out += struct.pack(">BB", SMALL_ATOM_UTF8_EXT, len(data)) + data
    else:
        out += struct.pack(">BH", ATOM_UTF8_EXT, len(data)) + data


def _put_int(out, value):
    """Appends an integer in the smallest form term_to_binary uses."""
    if 0 <= value <= 255:
        out += struct.pack(">BB", SMALL_INTEGER_EXT, value)
    elif -2 ** 31 <= value < 2 ** 31:
        out += struct.pack(">Bi", INTEGER_EXT, value)
    else:
        magnitude = abs(value)
        nbytes = (magnitude.bit_length() + 7) // 8
        digits = magnitude.to_bytes(nbytes, "little")
        sign = 1 if value < 0 else 0
        if len(digits) < 256:
            out += struct.pack(">BBB", SMALL_BIG_EXT, len(digits), sign)
        else:
            out += struct.pack(">BIB", LARGE_BIG_EXT, len(digits), sign)
        out += digits


def _put_tuple(out, items, atom_tag, depth):
    if len(items) < 256:
        out += struct.pack(">BB", SMALL_TUPLE_EXT, len(items))
    else:
        out += struct.pack(">BI", LARGE_TUPLE_EXT, len(items))
    for item in items:
        _put(out, item, atom_tag, depth + 1)


def _put_list(out, items, tail, atom_tag, depth):
    """Appends a list: nil, STRING_EXT for small integers, else LIST_EXT."""
    if not items and tail is None:
        out.append(NIL_EXT)
        return
    if (tail is None and len(items) <= 0xFFFF and
            all(type(i) is int and 0 <= i <= 255 for i in items)):
        out += struct.pack(">BH", STRING_EXT, len(items)) + bytes(items)
        return
    out += struct.pack(">BI", LIST_EXT, len(items))
    for item in items:
        _put(out, item, atom_tag, depth + 1)
    if tail is None:
        out.append(NIL_EXT)
    else:
        _put(out, tail, atom_tag, depth + 1)


def _put_map(out, mapping, atom_tag, depth):
    """Appends a map, keys in Erlang term order as flatmaps keep them.

    Maps of more than 32 keys are hash maps in Erlang, whose encoding order
    cannot be reproduced here; they are still written in term order, which
    binary_to_term accepts.
    """
    out += struct.pack(">BI", MAP_EXT, len(mapping))
    for key in sorted(mapping, key=term_sort_key):
        _put(out, key, atom_tag, depth + 1)
        _put(out, mapping[key], atom_tag, depth + 1)


# Erlang's order of types: number < atom < reference < fun < port < pid <
# tuple < map < nil < list < bit string.
_TYPE_RANK = {"number": 0, "atom": 1, "opaque": 2, "pid": 5, "tuple": 6,
              "map": 7, "nil": 8, "list": 9, "binary": 10}


def _type_of(term):
    """Returns the type name of a term for term ordering."""
    if isinstance(term, bool) or isinstance(term, Atom):
        return "atom"
    if isinstance(term, (int, float)):
        return "number"
    if isinstance(term, (bytes, bytearray)):
        return "binary"
    if isinstance(term, tuple):
        return "tuple"
    if isinstance(term, dict):
        return "map"
    if isinstance(term, (list, str)):
        return "nil" if len(term) == 0 else "list"
    if isinstance(term, ImproperList):
        return "list"
    if isinstance(term, Pid):
        return "pid"
    return "opaque"


def term_sort_key(term):
    """A sort key that orders terms as Erlang's map keys are ordered.

    Numbers compare by value with integers before equal floats (the exact
    order of map keys); lists compare element by element; tuples and maps by
    size first.
    """
    kind = _type_of(term)
    rank = _TYPE_RANK[kind]
    if kind == "number":
        return (rank, term, isinstance(term, float))
    if kind == "atom":
        if isinstance(term, bool):
            text = "true" if term else "false"
        else:
            text = str(term)
        return (rank, text.encode("utf-8"))
    if kind == "binary":
        return (rank, bytes(term))
    if kind == "tuple":
        return (rank, len(term), tuple(term_sort_key(t) for t in term))
    if kind == "map":
        keys = sorted(term, key=term_sort_key)
        return (rank, len(term), tuple(term_sort_key(k) for k in keys),
                tuple(term_sort_key(term[k]) for k in keys))
    if kind == "nil":
        return (rank,)
    if kind == "list":
        return (rank, _list_key(term))
    if kind == "pid":
        return (rank, str(term.node), term.id, term.serial, term.creation)
    return (rank, term.raw)


def _list_key(term):
    """Sort key of a non-empty list, element by element."""
    if isinstance(term, str):
        items, tail = [ord(c) for c in term], []
    elif isinstance(term, ImproperList):
        items, tail = term.items, term.tail
    else:
        items, tail = term, []
    return (tuple(term_sort_key(i) for i in items), term_sort_key(tail))


# ---------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------

def decode(buf):
    """Returns the Python value of a term buffer; raises EtfError if bad."""
    buf = bytes(buf)
    if not buf:
        raise EtfError("empty term buffer")
    if buf[0] != VERSION:
        raise EtfError("first byte is %d, not 131" % buf[0])
    reader = _Reader(buf, 1)
    term = reader.term(0)
    if reader.pos != len(buf):
        raise EtfError("%d bytes left after the term"
                       % (len(buf) - reader.pos))
    return term


def canonical(buf):
    """Re-encodes a term buffer as this module writes it (atoms as 119).

    Two buffers of equal Erlang terms (an atom as tag 100 or 119, a list as
    STRING_EXT or LIST_EXT) have the same canonical form, which makes it a
    table key with Erlang's equality.
    """
    return encode(decode(buf))


def term_equal(a, b):
    """Whether two Python values are the same Erlang term (=:=).

    Needed because one Erlang term can have several Python forms: the
    list [97, 98] and the str "ab" are both the Erlang string "ab".
    """
    return encode(a) == encode(b)


class _Reader:
    """A bounds-checked cursor over a term buffer."""

    def __init__(self, buf, pos):
        self.buf = buf
        self.pos = pos

    def take(self, n):
        if n < 0 or self.pos + n > len(self.buf):
            raise EtfError("term buffer truncated")
        data = self.buf[self.pos:self.pos + n]
        self.pos += n
        return data

    def uint(self, n):
        return int.from_bytes(self.take(n), "big")

    def term(self, depth):
        if depth > MAX_DEPTH:
            raise EtfError("term nested too deeply")
        start = self.pos
        tag = self.uint(1)
        handler = _DECODERS.get(tag)
        if handler is None:
            raise EtfError("unsupported tag %d" % tag)
        return handler(self, tag, depth, start)

    def atom(self):
        """Reads a term that must be an atom (pid and port node names)."""
        term = self.term(MAX_DEPTH)
        if not isinstance(term, Atom):
            raise EtfError("expected an atom")
        return term


def _dec_small_int(r, tag, depth, start):
    return r.uint(1)


def _dec_int(r, tag, depth, start):
    return struct.unpack(">i", r.take(4))[0]


def _dec_big(r, tag, depth, start):
    n = r.uint(1 if tag == SMALL_BIG_EXT else 4)
    sign = r.uint(1)
    value = int.from_bytes(r.take(n), "little")
    return -value if sign else value


def _dec_new_float(r, tag, depth, start):
    value = struct.unpack(">d", r.take(8))[0]
    if math.isnan(value) or math.isinf(value):
        raise EtfError("NaN or infinity")
    return value


def _dec_old_float(r, tag, depth, start):
    text = r.take(31).split(b"\0", 1)[0].decode("ascii", "replace")
    try:
        return float(text.replace(",", "."))
    except ValueError:
        raise EtfError("bad FLOAT_EXT text %r" % text) from None


def _dec_atom(r, tag, depth, start):
    n = r.uint(1 if tag in (SMALL_ATOM_EXT, SMALL_ATOM_UTF8_EXT) else 2)
    data = r.take(n)
    if tag in (ATOM_EXT, SMALL_ATOM_EXT):
        return Atom(data.decode("latin-1"))
    try:
        return Atom(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise EtfError("atom is not UTF-8") from None


def _dec_tuple(r, tag, depth, start):
    n = r.uint(1 if tag == SMALL_TUPLE_EXT else 4)
    if n > len(r.buf) - r.pos:
        raise EtfError("tuple larger than its buffer")
    return tuple(r.term(depth + 1) for _ in range(n))


def _dec_nil(r, tag, depth, start):
    return []


def _dec_string(r, tag, depth, start):
    return r.take(r.uint(2)).decode("latin-1")


def _dec_list(r, tag, depth, start):
    n = r.uint(4)
    if n > len(r.buf) - r.pos:
        raise EtfError("list larger than its buffer")
    items = [r.term(depth + 1) for _ in range(n)]
    tail = r.term(depth + 1)
    if isinstance(tail, Atom) or \
            not isinstance(tail, (str, list, ImproperList)):
        return ImproperList(items, tail)
    if isinstance(tail, str):
        return items + [ord(c) for c in tail]
    if isinstance(tail, list):
        return items + tail
    return ImproperList(items + tail.items, tail.tail)


def _dec_binary(r, tag, depth, start):
    return r.take(r.uint(4))


def _dec_map(r, tag, depth, start):
    n = r.uint(4)
    if 2 * n > len(r.buf) - r.pos:
        raise EtfError("map larger than its buffer")
    result = {}
    for _ in range(n):
        key = r.term(depth + 1)
        result[_hashable(key)] = r.term(depth + 1)
    return result


def _hashable(term):
    """Lists cannot be dict keys in Python: they become tuples-of-list."""
    if isinstance(term, list):
        raise EtfError("list map keys are not supported by this codec")
    return term


def _dec_pid(r, tag, depth, start):
    node = r.atom()
    id_, serial = r.uint(4), r.uint(4)
    creation = r.uint(1 if tag == PID_EXT else 4)
    return Pid(node, id_, serial, creation)


def _dec_opaque(r, tag, depth, start):
    """Skips a reference, port, fun or bit string, keeping its bytes."""
    if tag == BIT_BINARY_EXT:
        n = r.uint(4)
        r.take(1 + n)
    elif tag in (PORT_EXT, NEW_PORT_EXT, V4_PORT_EXT):
        r.atom()
        r.take({PORT_EXT: 5, NEW_PORT_EXT: 8, V4_PORT_EXT: 12}[tag])
    elif tag == REFERENCE_EXT:
        r.atom()
        r.take(5)
    elif tag in (NEW_REFERENCE_EXT, NEWER_REFERENCE_EXT):
        n = r.uint(2)
        r.atom()
        r.take((1 if tag == NEW_REFERENCE_EXT else 4) + 4 * n)
    elif tag == EXPORT_EXT:
        for _ in range(3):
            r.term(depth + 1)
    elif tag == NEW_FUN_EXT:
        size = r.uint(4)
        r.take(size - 5)
    return Opaque(r.buf[start:r.pos])


_DECODERS = {
    SMALL_INTEGER_EXT: _dec_small_int,
    INTEGER_EXT: _dec_int,
    SMALL_BIG_EXT: _dec_big,
    LARGE_BIG_EXT: _dec_big,
    NEW_FLOAT_EXT: _dec_new_float,
    FLOAT_EXT: _dec_old_float,
    ATOM_EXT: _dec_atom,
    SMALL_ATOM_EXT: _dec_atom,
    ATOM_UTF8_EXT: _dec_atom,
    SMALL_ATOM_UTF8_EXT: _dec_atom,
    SMALL_TUPLE_EXT: _dec_tuple,
    LARGE_TUPLE_EXT: _dec_tuple,
    NIL_EXT: _dec_nil,
    STRING_EXT: _dec_string,
    LIST_EXT: _dec_list,
    BINARY_EXT: _dec_binary,
    MAP_EXT: _dec_map,
    PID_EXT: _dec_pid,
    NEW_PID_EXT: _dec_pid,
    BIT_BINARY_EXT: _dec_opaque,
    PORT_EXT: _dec_opaque,
    NEW_PORT_EXT: _dec_opaque,
    V4_PORT_EXT: _dec_opaque,
    REFERENCE_EXT: _dec_opaque,
    NEW_REFERENCE_EXT: _dec_opaque,
    NEWER_REFERENCE_EXT: _dec_opaque,
    EXPORT_EXT: _dec_opaque,
    NEW_FUN_EXT: _dec_opaque,
}


# ---------------------------------------------------------------------------
# base64 helpers (the wire form of Name, Message, Reply and Reason)
# ---------------------------------------------------------------------------

def to_b64(term, atom_tag=SMALL_ATOM_UTF8_EXT):
    """base64 text of term_to_binary(term), as kapi_globals puts it in JSON."""
    return base64.b64encode(encode(term, atom_tag)).decode("ascii")


def from_b64(text):
    """The term of a base64 field; raises EtfError on bad base64 or ETF."""
    try:
        buf = base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        raise EtfError("not valid base64") from None
    return decode(buf)


# ---------------------------------------------------------------------------
# Rendering: Erlang syntax, as kz_globals' etf_render prints terms
# ---------------------------------------------------------------------------

def render(term):
    """The Erlang syntax of a term on one line, as kz_globals shows it.

    The rules are those of ``etf_render`` in ``src/wire/etf.c``: io_lib's ``~tp``
    of OTP 25 with the unicode printable range.
    """
    out = []
    _render(out, term)
    return "".join(out)


def render_buffer(buf):
    """Renders a term buffer (bytes with the version byte)."""
    return render(decode(buf))


def _is_printable(cp):
    """io_lib's unicode printable test for one code point."""
    return (32 <= cp <= 126 or 8 <= cp <= 13 or cp == 27 or
            160 <= cp <= 0xD7FF or 0xE000 <= cp <= 0xFFFD or
            0x10000 <= cp <= 0x10FFFF)


_LETTER_ESCAPES = {8: "b", 9: "t", 10: "n", 11: "v", 12: "f", 13: "r", 27: "e"}


def _string_char(cp):
    """One character of a "string" or <<"binary">>, escaped as erl does."""
    if cp in _LETTER_ESCAPES:
        return "\\" + _LETTER_ESCAPES[cp]
    if cp in (ord('"'), ord("\\")):
        return "\\" + chr(cp)
    return chr(cp)


def _atom_char(cp):
    """One character of a quoted atom, escaped as erl does."""
    if cp in _LETTER_ESCAPES:
        return "\\" + _LETTER_ESCAPES[cp]
    if cp in (ord("'"), ord("\\")):
        return "\\" + chr(cp)
    if cp == 127:
        return "\\d"
    if cp < 32 or 128 <= cp < 160:
        return "\\%03o" % cp
    return chr(cp)


def _atom_needs_quotes(name):
    """Whether erl prints the atom in single quotes."""
    if not name:
        return True
    first = ord(name[0])
    if not (ord("a") <= first <= ord("z") or
            (223 <= first <= 255 and first != 247)):
        return True
    for ch in name[1:]:
        cp = ord(ch)
        if not (ch.isascii() and (ch.isalnum() or ch in "_@")) and \
                not (192 <= cp <= 255 and cp not in (215, 247)):
            return True
    return str(name) in RESERVED_WORDS


def render_atom(name):
    """An atom, bare or quoted with escapes."""
    if not _atom_needs_quotes(name):
        return str(name)
    return "'" + "".join(_atom_char(ord(c)) for c in name) + "'"


def _render_binary(data):
    """<<"text">>, <<"héllo"/utf8>>, <<1,2,3>> or <<>>, as erl chooses."""
    if not data:
        return "<<>>"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        if not all(_is_printable(ord(c)) for c in text):
            return "<<" + ",".join(str(b) for b in data) + ">>"
        body = "".join(_string_char(ord(c)) for c in text)
        return '<<"' + body + ('"/utf8>>' if not text.isascii() else '">>')
    if all(_is_printable(b) for b in data):
        return '<<"' + "".join(_string_char(b) for b in data) + '">>'
    return "<<" + ",".join(str(b) for b in data) + ">>"


def _render_float(value):
    """A float as erl's ~p prints it (shortest round-trip digits)."""
    if value == 0.0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign = "-" if value < 0 else ""
    mantissa, _, exponent = repr(abs(value)).partition("e")
    int_part, _, frac_part = mantissa.partition(".")
    digits = int_part + frac_part
    point = len(int_part) + (int(exponent) if exponent else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    return sign + _format_digits(digits, point, abs(value))


def _format_digits(digits, point, magnitude):
    """Plain notation if no longer than scientific and below 2^53."""
    n = len(digits)
    sci = digits[0] + "." + (digits[1:] or "0") + "e%d" % (point - 1)
    if point <= 0:
        plain = "0." + "0" * (-point) + digits
    elif point < n:
        plain = digits[:point] + "." + digits[point:]
    else:
        plain = digits + "0" * (point - n) + ".0"
    if magnitude < 9007199254740992.0 and len(plain) <= len(sci):
        return plain
    return sci


def _render_list(out, items, tail):
    """A list: a "string" if every element is a printable code point."""
    if tail is None and items and all(
            type(i) is int and _is_printable(i) for i in items):
        out.append('"' + "".join(_string_char(i) for i in items) + '"')
        return
    if not items:
        if tail is None:
            out.append("[]")
        else:
            _render(out, tail)
        return
    out.append("[")
    for i, item in enumerate(items):
        if i:
            out.append(",")
        _render(out, item)
    if tail is not None:
        out.append("|")
        _render(out, tail)
    out.append("]")


def _render(out, term):
    """Appends the Erlang syntax of term to the list out."""
    if isinstance(term, bool):
        out.append("true" if term else "false")
    elif isinstance(term, Atom):
        out.append(render_atom(term))
    elif isinstance(term, (bytes, bytearray)):
        out.append(_render_binary(bytes(term)))
    elif isinstance(term, int):
        out.append(str(term))
    elif isinstance(term, float):
        out.append(_render_float(term))
    elif isinstance(term, tuple):
        out.append("{")
        for i, item in enumerate(term):
            if i:
                out.append(",")
            _render(out, item)
        out.append("}")
    elif isinstance(term, str):
        _render_list(out, [ord(c) for c in term], None)
    elif isinstance(term, list):
        _render_list(out, term, None)
    elif isinstance(term, ImproperList):
        _render_list(out, term.items, term.tail)
    elif isinstance(term, dict):
        out.append("#{")
        for i, key in enumerate(sorted(term, key=term_sort_key)):
            if i:
                out.append(",")
            _render(out, key)
            out.append(" => ")
            _render(out, term[key])
        out.append("}")
    elif isinstance(term, Pid):
        out.append("#Pid<%s.%d.%d>"
                   % (render_atom(term.node), term.id, term.serial))
    elif isinstance(term, Opaque):
        out.append("#Opaque<%d>" % term.raw[0])
    else:
        raise TypeError("cannot render %r" % (term,))


if __name__ == "__main__":
    import os
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import test_etf_py
    sys.exit(test_etf_py.main())
