#!/usr/bin/python3
"""bus_fuzz.py - a bounded hostile-input run against kz_globals servers.

Publishes, with a fixed seed, a few thousand messages into a real broker
through every path a kz_globals server reads: the ``globals`` topic exchange
(``globals.*.*`` keys; every server gets them), the ``targeted`` direct
exchange with one server's queue name as routing key (only that server),
and the ``nodes`` fanout (every server).  Then it prints, as one JSON
object on stdout, what each server must have done with them, so that the
TAP test (test/t/050_bus_fuzz.pl) can check its counters.

Categories (each message is listed with its category in --list):

* crafted: invalid JSON, non-object JSON, missing required fields per
  event, wrong-typed fields, bad base64, truncated and bogus term
  encodings, huge bodies (over the limit 2 x max_message_size + 64 KiB,
  up to a few MB), unknown events, out-of-range Timestamps, deep nesting,
  binary garbage, duplicated keys, null fields, unicode escapes; each
  labelled by hand and cross-checked with the oracle below;
* forged: well-formed messages with forged Node fields (the server's own
  name, a real peer's name, nodes claiming names they do not own);
* garbage: random bytes, never starting with "{";
* random_json: random objects of known and unknown keys with values drawn
  from typed pools;
* mutation: valid messages of every globals event with random byte-level
  and structural mutations;
* flood: advertisements from many distinct forged nodes (more than the
  128 slots of the node table);
* marker: last, one send per server to a name a session of that server
  owns, so the test knows when everything before has been consumed.

What a server does with a message is decided by ``Oracle.classify``, a
model of the decoder (src/wire/decode.c) and of kz_in_delivery
(src/worker/bus_in.c): "malformed" (counted in kz_globals.stats.bus_malformed),
"ok" (not counted), or "unknown" where the model cannot tell (a term
changed by a mutation: the model does not re-implement the term codec).

Usage (see --help):
  bus_fuzz.py --uri URI --seed N --self1 n1@127.0.0.1 --queue1 Q1
              --self2 n2@127.0.0.1 [--queue2 Q2] --max-message-size 8192
              [--count 1500] [--mark1 NAME --mark2 NAME] [--list FILE]
  bus_fuzz.py --uri URI --expire-forged   (heartbeats with Expires 1 for
              every forged node, so they expire at once)
  bus_fuzz.py --uri URI --advert NODE NAME   (one advertisement of NAME by
              NODE, which never heartbeats)
  bus_fuzz.py --uri URI --heartbeat EXPIRES   (one heartbeat of
              fz-expires@fuzz with that Expires)

Only the standard library, python3-pika and test/py/etf.py are used.
"""

import argparse
import base64
import json
import os
import random
import string
import sys
import time

import pika

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import etf  # noqa: E402
from etf import Atom  # noqa: E402

if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(0)

GREGORIAN_OFFSET_US = 62167219200 * 10 ** 6
TS_MAX_US = 315537897600000000          # KZ_TIMESTAMP_MAX_US (year 10000)
INT64_MAX = 2 ** 63 - 1
INT64_MIN = -2 ** 63
INT32_MAX = 2 ** 31 - 1
KEY_MAX = 320                           # KZ_KEY_MAX: longest name term
JSON_MAX_DEPTH = 64
B64_ALPHABET = frozenset(string.ascii_letters + string.digits + "+/")

# Forged node names.  The pool is small on purpose: every distinct name a
# server hears takes a slot of its 128-slot node table for 20 s.
POOL = ["fz-node-%d@fuzz" % i for i in range(8)]
FORGER = "fz-forger@fuzz"           # heartbeats (Kazoo-like, long Expires)
EXPIRES_NODE = "fz-expires@fuzz"    # one heartbeat with a huge Expires

EVENTS = {
    ("globals", "register"), ("globals", "register_resp"),
    ("globals", "query"), ("globals", "query_resp"),
    ("globals", "unregister"), ("globals", "send"), ("globals", "call"),
    ("globals", "reply"), ("globals", "sync"), ("nodes", "advertise"),
    ("globals", "registry_batch"), ("globals", "claim_batch_resp"),
    ("globals", "send_batch"),
}
NAMES_EVENTS = {"sync", "registry_batch", "claim_batch_resp", "send_batch"}
STATES = {"none", "pending", "registered", "local", "remote"}

STRING_FIELDS = ["App-Name", "Msg-ID", "Server-ID", "Session", "State"]
INT_FIELDS = {  # field: (min, max)
    "Timestamp": (INT64_MIN, INT64_MAX), "Pid": (0, INT32_MAX),
    "Sender-Pid": (0, INT32_MAX), "Timeout": (0, INT32_MAX),
    "Incarnation": (INT64_MIN, INT64_MAX),
    "PG-Globals-Version": (0, INT32_MAX),
    "Sync-ID": (INT64_MIN, INT64_MAX), "Part": (0, INT32_MAX),
}
BOOL_FIELDS = ["Last", "Sync-Request", "Owner-Exited"]
TERM_FIELDS = ["Name", "Message", "Reply", "Reason"]


def now_us():
    return time.time_ns() // 1000 + GREGORIAN_OFFSET_US


def b64(data):
    return base64.b64encode(data).decode("ascii")


def term(value):
    """The term buffer of a Python value (see etf.py); remembered as valid."""
    buf = etf.encode(value)
    TERM_VALIDITY[buf] = True
    return buf


# ---------------------------------------------------------------------------
# Terms whose validity is known (the oracle only trusts these)
# ---------------------------------------------------------------------------

# Term buffers whose validity is known: the oracle trusts only these.
TERM_VALIDITY = {}

GOOD_TERMS = [
    term(b"fz-bin"), term(Atom("fz_atom")), term((Atom("fax"), b"job1")),
    term([1, 2, 3]), term(42), term(-7), term(2 ** 70), term(1.5),
    term({b"k": Atom("v")}), b"\x83j", b"\x83k\x00\x02hi",
    b"\x83" + b"h\x01" * 10 + b"j",     # 10 nested tuples
    b"\x83t\x00\x00\x00\x00",           # #{}
]
BAD_TERMS = [
    b"\x83",                            # version byte only
    b"\x84j",                           # wrong version
    b"\x83m\x00\x00\x00\x05ab",         # binary cut short
    b"\x83jj",                          # trailing bytes
    b"\x83\xff",                        # unknown tag
    b"\x83P\x00\x00\x00\x05x\x9c\x01",  # compressed (refused)
    b"\x83R\x00",                       # atom cache ref (distribution only)
    b"\x83" + b"h\x01" * 70 + b"j",     # nested deeper than 64
    b"\x83w\x02\xff\xfe",               # atom that is not UTF-8
    b"\x83v\x01\x2c" + b"a" * 300,      # atom of 300 characters
    b"\x83a",                           # small integer cut short
    b"\x83l\xff\xff\xff\xffj",          # list longer than its buffer
    b"\x83h\xff",                       # tuple longer than its buffer
    b"\x83F\x7f\xf8\x00\x00\x00\x00\x00\x00",   # NaN
    b"\x83t\xff\xff\xff\xff",           # map larger than its buffer
    b"\x83k\x00\x05ab",                 # string cut short
]
TERM_VALIDITY.update({t: True for t in GOOD_TERMS})
TERM_VALIDITY.update({t: False for t in BAD_TERMS})


def known_term(buf, valid):
    TERM_VALIDITY[buf] = valid
    return buf


# ---------------------------------------------------------------------------
# The oracle: what a server does with a body
# ---------------------------------------------------------------------------

class _Reject(Exception):
    pass


def _reject_constant(name):
    raise _Reject(name)


class Oracle:
    """A model of kz_proto_decode and kz_in_delivery for one receiver."""

    def __init__(self, self_name, max_body, app_id=None):
        self.self_name = self_name
        self.max_body = max_body
        self.app_id = app_id

    # -- step 2 of the decoder: UTF-8, depth, \u escapes ------------------

    @staticmethod
    def _normalize_ok(text):
        i, n, depth, in_string = 0, len(text), 0, False
        hexd = set(string.hexdigits)
        while i < n:
            c = text[i]
            if in_string and c == "\\" and i + 1 < n and text[i + 1] == "u":
                h = text[i + 2:i + 6]
                if len(h) < 4 or not set(h) <= hexd:
                    return False
                cp = int(h, 16)
                i += 6
                if 0xDC00 <= cp <= 0xDFFF:
                    return False
                if 0xD800 <= cp <= 0xDBFF:
                    low = text[i + 2:i + 6]
                    if (text[i:i + 2] != "\\u" or len(low) < 4
                            or not set(low) <= hexd
                            or not 0xDC00 <= int(low, 16) <= 0xDFFF):
                        return False
                    i += 6
                continue
            if in_string and c == "\\" and i + 1 < n:
                i += 2
                continue
            if c == '"':
                in_string = not in_string
            elif not in_string and c in "{[":
                depth += 1
                if depth > JSON_MAX_DEPTH:
                    return False
            elif not in_string and c in "}]" and depth > 0:
                depth -= 1
            i += 1
        return True

    # -- step 4 helpers ----------------------------------------------------

    @staticmethod
    def _is_int(v, lo, hi):
        return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi

    @staticmethod
    def _bad_string(v):
        return not isinstance(v, str) or "\x00" in v

    def _decode_term(self, text, max_len):
        """(status, kind) of a base64 term field; status ok/malformed/unknown."""
        raw = text.encode("utf-8", "surrogatepass")
        n = len(raw)
        if n % 4:
            return "malformed", "bad_base64"
        pad = 0
        if n > 0 and text.endswith("="):
            pad = 2 if text[-2] == "=" else 1
        body = text[:len(text) - pad]
        if any(ch not in B64_ALPHABET for ch in body):
            return "malformed", "bad_base64"
        dlen = n // 4 * 3 - pad
        if dlen > max_len:
            return "malformed", "too_large"
        if dlen == 0:
            return "malformed", "bad_term"
        buf = base64.b64decode(text)
        valid = TERM_VALIDITY.get(buf)
        if valid is None:
            return "unknown", None
        return ("ok", None) if valid else ("malformed", "bad_term")

    @staticmethod
    def _names_ok(names):
        for e in names:
            if not isinstance(e, list) or len(e) < 2 or len(e) > 5:
                return False
            for i, item in enumerate(e):
                if isinstance(item, (list, dict)):
                    return False
                if i == 0 and not isinstance(item, str):
                    return False
                if i == 1 and not Oracle._is_int(item, INT64_MIN, INT64_MAX):
                    return False
                if i == 2 and item is not None and not Oracle._is_int(item, 0, INT32_MAX):
                    return False
                if i >= 3 and item is not None and Oracle._bad_string(item):
                    return False
        return True

    # -- the whole decision ------------------------------------------------

    def classify(self, body, props=None):
        """("malformed", kind) | ("ok", why) | ("unknown", None)."""
        props = props or {}
        if self.app_id and props.get("app_id") == self.app_id:
            return "ok", "own app-id: skipped unread"
        if len(body) > self.max_body:
            return "malformed", "too_large"
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return "malformed", "bad_json"
        if not self._normalize_ok(text):
            return "malformed", "bad_json"
        try:
            obj = json.loads(text, parse_constant=_reject_constant)
        except (ValueError, _Reject, RecursionError):
            return "malformed", "bad_json"
        if not isinstance(obj, dict):
            return "malformed", "bad_json"

        def present(k):
            return obj.get(k) is not None

        # envelope
        for k in ("Event-Category", "Event-Name", "Node"):
            if present(k) and self._bad_string(obj[k]):
                return "malformed", "bad_field"
        for k in ("Event-Category", "Event-Name", "Node"):
            if not present(k):
                return "malformed", "missing_field"
        node = obj["Node"]
        if node == "" or len(node.encode("utf-8")) > 255:
            return "malformed", "bad_field"
        cat, ev = obj["Event-Category"], obj["Event-Name"]
        if (cat, ev) not in EVENTS:
            return "malformed", "unknown_event"
        # fields, in the decoder's order (the kind is the same for all)
        zone_keys = ["Zone"] if present("Zone") else ["Zone", "AMQP-Broker-Zone"]
        for k in STRING_FIELDS[:3] + zone_keys + STRING_FIELDS[3:]:
            if present(k) and self._bad_string(obj[k]):
                return "malformed", "bad_field"
        for k, (lo, hi) in INT_FIELDS.items():
            if present(k) and not self._is_int(obj[k], lo, hi):
                return "malformed", "bad_field"
        if present("Expires"):
            v = obj["Expires"]
            if isinstance(v, str):
                if not (v and all(ch in "0123456789" for ch in v) and int(v) <= INT64_MAX):
                    return "malformed", "bad_field"
            elif not self._is_int(v, 0, INT64_MAX):
                return "malformed", "bad_field"
        if present("Globals"):
            g = obj["Globals"]
            if not (isinstance(g, dict) or (isinstance(g, list) and not g)):
                return "malformed", "bad_field"
        for k in BOOL_FIELDS:
            if present(k) and not isinstance(obj[k], bool):
                return "malformed", "bad_field"
        for k in TERM_FIELDS:
            if present(k) and not isinstance(obj[k], str):
                return "malformed", "bad_field"
        if present("Names"):
            if not isinstance(obj["Names"], list) or not self._names_ok(obj["Names"]):
                return "malformed", "bad_field"
        # required fields
        need = []
        if ev in ("register", "register_resp", "query", "query_resp", "unregister"):
            need = ["Name"]
        elif ev in ("send", "call"):
            need = ["Name", "Message"]
        elif ev == "reply":
            need = ["Reply"]
        elif ev in NAMES_EVENTS:
            need = ["Names"]
        elif ev == "advertise":
            need = ["Expires"]
        for k in need:
            if not present(k):
                return "malformed", "missing_field"
        # term fields
        unknown = False
        for k, limit in (("Name", KEY_MAX), ("Message", self.max_body),
                         ("Reply", self.max_body), ("Reason", self.max_body)):
            if present(k):
                st, kind = self._decode_term(obj[k], limit)
                if st == "malformed":
                    return st, kind
                unknown |= st == "unknown"
        for e in obj.get("Names") or []:
            st, kind = self._decode_term(e[0], KEY_MAX)
            if st == "malformed":
                return st, kind
            unknown |= st == "unknown"
            if ev == "send_batch":
                if len(e) < 5 or e[4] is None:
                    return "malformed", "missing_field"
                st, kind = self._decode_term(e[4], self.max_body)
                if st == "malformed":
                    return st, kind
                unknown |= st == "unknown"
        if unknown:
            return "unknown", None
        # kz_in_delivery
        stamps = [obj["Timestamp"]] if present("Timestamp") else []
        stamps += [e[1] for e in obj.get("Names") or []]
        if any(not 0 < ts < TS_MAX_US for ts in stamps):
            return "malformed", "bad_field"
        if ev == "advertise":
            return "ok", "heartbeat"
        if node == self.self_name:
            return "ok", "own node name: ignored"
        if ev == "register":
            st = obj.get("State")
            if st not in ("pending", "registered"):
                return "malformed", "bad_field"
        return "ok", "dispatched"

    def creates_node(self, body):
        """The node name a well-formed message makes the receiver record."""
        try:
            obj = json.loads(body.decode("utf-8"))
            node = obj["Node"]
        except Exception:   # noqa: BLE001 - anything undecodable creates none
            return None
        return None if node == self.self_name else node


# ---------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------

class Msg:
    __slots__ = ("cat", "label", "path", "body", "props", "expect")

    def __init__(self, cat, label, path, body, props=None, expect=None):
        self.cat = cat
        self.label = label
        self.path = path            # globals | targeted | nodes
        self.body = body if isinstance(body, bytes) else body.encode("utf-8")
        self.props = props or {}
        self.expect = expect        # hand label: "malformed" | "ok" | None


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"))


class Generator:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        # KZ_MAX_BODY (src/worker/bus.h): room for a message, for 64 kB of
        # registration metadata escaped, and for the rest
        self.max_body = 2 * args.max_message_size + 2 * 65536 + 65536
        self.msgs = []
        self.seq = 0

    def hexid(self, n=32):
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def env(self, event, node=None, category="globals", app="kazoo_globals"):
        node = node or self.rng.choice(POOL)
        return {"App-Name": app, "App-Version": "4.0.0",
                "Event-Category": category, "Event-Name": event,
                "Msg-ID": self.hexid(), "Node": node,
                "Server-ID": "fz-queue-" + node}

    def fzname(self):
        self.seq += 1
        return b64(term(b"fz-%d" % self.seq))

    def template(self, event, node=None):
        """A valid message of an event, about a fuzz name."""
        m = self.env(event, node)
        ts = now_us() - self.rng.randrange(10 ** 9)
        if event == "register":
            m.update(Name=self.fzname(), State=self.rng.choice(["pending", "registered"]),
                     Timestamp=ts, Zone="local")
        elif event == "register_resp":
            m.update(Name=self.fzname(), State=self.rng.choice(sorted(STATES)))
        elif event in ("query", "query_resp"):
            m.update(Name=self.fzname())
            if event == "query_resp":
                m["State"] = "none"
        elif event == "unregister":
            m.update(Name=self.fzname(), Reason=b64(term(Atom("normal"))))
        elif event == "send":
            m.update(Name=self.fzname(), Message=b64(term(b"hello")), **{"Sender-Pid": 1})
        elif event == "call":
            m.update(Name=self.fzname(), Message=b64(term(b"ping")), Timeout=1000)
        elif event == "reply":
            m.update(Reply=b64(term(b"pong")))
        elif event == "sync":
            m.update(Names=[[self.fzname(), ts, 4242], [self.fzname(), ts + 1, None]],
                     **{"Sync-ID": 1, "Part": 0, "Last": False})
        elif event == "advertise":
            m.update(Expires=1000, Globals={}, Zone="local")
            m["App-Name"] = "kz_nodes"
            m["Event-Category"] = "nodes"
        return m

    def add(self, cat, label, path, body, props=None, expect=None):
        self.msgs.append(Msg(cat, label, path, body, props, expect))

    def add3(self, cat, label, body, expect=None, props=None):
        """On every path."""
        for path in ("globals", "targeted", "nodes"):
            self.add(cat, label, path, body, props, expect)

    # -- crafted -------------------------------------------------------------

    def crafted(self):
        M, OK = "malformed", "ok"
        a = self.args
        base = self.template("query", POOL[0])
        basej = dumps(base)

        # invalid JSON
        for label, body in [
                ("empty body", b""), ("whitespace", b"  \n\t "),
                ("open brace", b"{"), ("truncated object", basej[:-1].encode()),
                ("trailing garbage", (basej + "xyz").encode()),
                ("two objects", (basej + basej).encode()),
                ("trailing comma", (basej[:-1] + ",}").encode()),
                ("single quotes", b"{'Node': 'x'}"),
                ("unquoted key", b'{Node: "x"}'),
                ("NaN value", basej[:-1].encode() + b',"X":NaN}'),
                ("Infinity value", basej[:-1].encode() + b',"X":-Infinity}'),
                ("leading zero", basej[:-1].encode() + b',"X":01}'),
                ("raw control char", basej[:-1].encode() + b',"X":"a\x01b"}'),
                ("bad escape", basej[:-1].encode() + b',"X":"\\x41"}'),
                ("invalid utf-8", basej[:-1].encode() + b',"X":"\xff"}'),
                ("overlong utf-8", basej[:-1].encode() + b',"X":"\xc0\xaf"}'),
                ("utf-8 surrogate", basej[:-1].encode() + b',"X":"\xed\xa0\x80"}'),
                ("above U+10FFFF", basej[:-1].encode() + b',"X":"\xf4\x90\x80\x80"}'),
                ("BOM", b"\xef\xbb\xbf" + basej.encode()),
                ("NUL byte", basej.encode() + b"\x00"),
                ("comment", b"/* x */" + basej.encode())]:
            self.add3("invalid_json", label, body, M)
        # non-object JSON
        for label, body in [("array", "[]"), ("array of object", "[" + basej + "]"),
                            ("number", "1"), ("string", '"x"'), ("null", "null"),
                            ("true", "true")]:
            self.add3("non_object", label, body, M)

        # missing required fields, per event, and in the envelope
        required = {"register": ["Name"], "register_resp": ["Name"],
                    "query": ["Name"], "query_resp": ["Name"],
                    "unregister": ["Name"], "send": ["Name", "Message"],
                    "call": ["Name", "Message"], "reply": ["Reply"],
                    "sync": ["Names"], "advertise": ["Expires"]}
        for event, fields in required.items():
            for f in fields + ["Event-Category", "Event-Name", "Node"]:
                m = self.template(event)
                del m[f]
                self.add3("missing_field", "%s without %s" % (event, f), dumps(m), M)
                m[f] = None
                self.add3("null_field", "%s with %s null" % (event, f), dumps(m), M)
        for event in sorted(NAMES_EVENTS - {"sync"}):
            # unknown_event before the batches existed, missing_field since
            self.add3("missing_field", "%s without Names" % event,
                      dumps(self.env(event)), M)
        # null optional fields are absent: fine
        for f in ("Timestamp", "Pid", "Globals", "Zone", "Msg-ID", "X-Unknown"):
            if f == "Globals":
                m = self.template("advertise")
            else:
                m = self.template("register")
                m["State"] = "registered"
            m[f] = None
            self.add3("null_field", "optional %s null" % f, dumps(m), OK)
        # State null in a register: neither pending nor registered
        m = self.template("register")
        m["State"] = None
        self.add3("null_field", "register with State null", dumps(m), M)

        # wrong-typed fields
        wrong = {
            "Event-Category": [1, True, [], {}], "Event-Name": [1, False, ["register"]],
            "Node": [7, [], {"a": 1}], "App-Name": [1, []], "Msg-ID": [12, {}],
            "Server-ID": [1, [1]], "Zone": [{}, 3], "Session": [5],
            "State": [1, ["pending"]],
            "Timestamp": ["123", 1.5, 1e3, True, [1], INT64_MAX + 1, INT64_MIN - 1],
            "Pid": [-1, INT32_MAX + 1, "1", 1.0], "Sender-Pid": [-5, "x"],
            "Timeout": [-1, 2.5, "1000"], "Expires": [-1, "12a", "", "-5", 1.5, {}, "1e3"],
            "Globals": ["x", 1, [1], True], "Incarnation": ["1", 1.5],
            "PG-Globals-Version": [-1, "1"], "Sync-ID": [0.5, "1"],
            "Part": [-1, "0"], "Last": ["true", 1], "Sync-Request": [1, "yes"],
            "Name": [1, [], {}, True], "Message": [1, []], "Reply": [2], "Reason": [{}],
            "Names": ["x", {}, 1, [1], [[]], [["YQ=="]], [[1, 2]], [["g2o=", "1"]],
                      [["g2o=", 1, -1]], [["g2o=", 1, 1, 5]], [["g2o=", 1, 1, "s", 5]],
                      [["g2o=", 1, 1, "s", "t", 6]], [["g2o=", 1, [1]]], [{"a": 1}],
                      [["g2o=", 1, 1, "a\u0000b"]]],
        }
        for f, values in wrong.items():
            for v in values:
                event = {"Expires": "advertise", "Globals": "advertise",
                         "Message": "send", "Reply": "reply", "Reason": "unregister",
                         "Names": "sync", "Last": "sync", "Part": "sync",
                         "Sync-ID": "sync"}.get(f, "register")
                m = self.template(event)
                if event == "register":
                    m["State"] = "registered"
                m[f] = v
                self.add3("wrong_type", "%s = %s" % (f, json.dumps(v)[:30]), dumps(m), M)
        # right types that look odd but are accepted
        for f, v, event in [("Expires", "1000", "advertise"), ("Globals", [], "advertise"),
                            ("Globals", {"local": "x", "pending": []}, "advertise"),
                            ("Pid", 0, "register"), ("Timestamp", 1, "register"),
                            ("Names", [], "sync"), ("Names", [["g2o=", 1, None, None, None]], "sync"),
                            ("X-Unknown", {"deep": [1, {"x": None}]}, "register")]:
            m = self.template(event)
            if event == "register":
                m["State"] = "registered"
                m["Node"] = POOL[1]
            if f == "Names":
                m["Names"] = v
            else:
                m[f] = v
            self.add3("accepted_types", "%s = %s" % (f, json.dumps(v)[:30]), dumps(m), OK)

        # bad base64, in every term field and in Names
        bad_b64 = ["!!!!", "abc", "ab=c", "====", "A===", "g2E", "g2E=\n", " g2E=",
                   "g2E= ", "-_8=", "g2\u00e9=", "g2o=g2o=", "g\u0000o="]
        for s in bad_b64:
            for f, event in (("Name", "query"), ("Message", "send"), ("Reply", "reply"),
                             ("Reason", "unregister")):
                m = self.template(event)
                m[f] = s
                self.add3("bad_base64", "%s = %r" % (f, s), dumps(m), M)
            m = self.template("sync")
            m["Names"][0][0] = s
            self.add3("bad_base64", "Names entry = %r" % s, dumps(m), M)
        # bad terms (and Name "" decodes to nothing)
        for t in BAD_TERMS + [b""]:
            for f, event in (("Name", "query"), ("Message", "send")):
                m = self.template(event)
                m[f] = b64(t)
                self.add3("bad_term", "%s = %r" % (f, t[:12]), dumps(m), M)
            m = self.template("sync")
            m["Names"][1][0] = b64(t)
            self.add3("bad_term", "Names entry = %r" % t[:12], dumps(m), M)
        # good terms of every kind as names, from a forged node: accepted
        for t in GOOD_TERMS:
            m = self.template("query")
            m["Name"] = b64(t)
            self.add3("good_term", "Name = %r" % t[:12], dumps(m), OK)
        # names at the size limit
        name320 = known_term(term(b"x" * (KEY_MAX - 6)), True)
        name321 = known_term(term(b"x" * (KEY_MAX - 5)), True)
        assert len(name320) == KEY_MAX and len(name321) == KEY_MAX + 1
        m = self.template("query")
        m["Name"] = b64(name320)
        self.add3("size_limits", "Name of 320 bytes", dumps(m), OK)
        m["Name"] = b64(name321)
        self.add3("size_limits", "Name of 321 bytes", dumps(m), M)

        # huge bodies
        limit = self.max_body

        def padded(total, event="query"):
            m = self.template(event)
            m["Node"] = POOL[2]
            empty = dumps(dict(m, Pad=""))
            m["Pad"] = "p" * (total - len(empty.encode()))
            out = dumps(m).encode()
            assert len(out) == total
            return out
        big_msg = known_term(term(b"m" * ((limit - 600) // 4 * 3 - 6)), True)
        m = self.template("send")
        m["Message"] = b64(big_msg)
        m["Pad"] = ""
        m["Pad"] = "p" * (limit - len(dumps(m)))
        self.add3("huge", "send with a message term filling the limit", dumps(m), OK)
        self.add3("huge", "valid body of exactly the limit", padded(limit), OK)
        self.add3("huge", "valid body one byte over the limit", padded(limit + 1), M)
        for i, size in enumerate([1 << 20, 3 << 20, 5 << 20]):
            path = ("globals", "nodes", "targeted")[i]
            self.add("huge", "valid body of %d MB" % (size >> 20), path, padded(size), None, M)
            junk = bytes(self.rng.randrange(256) for _ in range(4096)) * (size // 4096)
            self.add("huge", "%d MB of garbage" % (size >> 20), ("targeted", "globals", "nodes")[i],
                     junk, None, M)

        # unknown events
        for cat, ev in [("globals", "frobnicate"), ("globals", "Register"),
                        ("nodes", "register"), ("kz_nodes", "advertise"),
                        ("globals", "advertise"), ("", ""), ("globals", "register "),
                        ("globals", "r" * 1000), ("GLOBALS", "query"), ("nodes", "")]:
            m = self.template("query")
            m["Event-Category"], m["Event-Name"] = cat, ev
            self.add3("unknown_event", "%s/%s" % (cat[:20], ev[:20]), dumps(m), M)

        # out-of-range timestamps (in range: accepted)
        for ts, exp in [(0, M), (-1, M), (TS_MAX_US, M), (TS_MAX_US - 1, OK), (INT64_MAX, M),
                        (INT64_MIN, M), (1, OK)]:
            m = self.template("register")
            m["State"] = "registered"
            m["Timestamp"] = ts
            self.add3("timestamps", "register Timestamp %d" % ts, dumps(m), exp)
            m = self.template("sync")
            m["Names"][1][1] = ts
            self.add3("timestamps", "sync entry timestamp %d" % ts, dumps(m), exp)
        m = self.template("advertise", POOL[3])
        m["Timestamp"] = 0
        self.add3("timestamps", "heartbeat with Timestamp 0", dumps(m), M)

        # deep nesting
        for depth, exp in [(63, OK), (64, M), (1000, M), (40000, M)]:
            m = self.template("query", POOL[4])
            j = dumps(m)
            body = j[:-1] + ',"Deep":' + "[" * depth + "]" * depth + "}"
            self.add3("deep_nesting", "arrays %d deep in a field" % depth, body, exp)
        for depth, exp in [(63, OK), (64, M)]:
            m = self.template("query", POOL[4])
            j = dumps(m)
            body = j[:-1] + ',"Deep":' + '{"a":' * depth + "1" + "}" * depth + "}"
            self.add3("deep_nesting", "objects %d deep" % depth, body, exp)
        m = self.template("query", POOL[4])
        m["NotDeep"] = "[" * 5000
        self.add3("deep_nesting", "brackets inside a string", dumps(m), OK)

        # duplicated keys: the last one wins
        good_name = b64(term(b"fz-dup"))
        q = self.template("query", POOL[5])
        del q["Name"]
        head = dumps(q)[:-1]
        for label, tail, exp in [
                ("Name bad then good", ',"Name":"!!!!","Name":"%s"}' % good_name, OK),
                ("Name good then bad", ',"Name":"%s","Name":"!!!!"}' % good_name, M),
                ("Name good then null", ',"Name":"%s","Name":null}' % good_name, M),
                ("Event-Name bogus then query",
                 ',"Name":"%s","Event-Name":"bogus","Event-Name":"query"}' % good_name, OK),
                ("Event-Name query then bogus", ',"Name":"%s","Event-Name":"bogus"}' % good_name, M),
                ("Node empty then set", ',"Name":"%s","Node":"","Node":"%s"}' % (good_name, POOL[5]), OK),
                ("Timestamp 0 then 1", ',"Name":"%s","Timestamp":0,"Timestamp":1}' % good_name, OK),
                ("Timestamp 1 then 0", ',"Name":"%s","Timestamp":1,"Timestamp":0}' % good_name, M),
                ("Pid string then int", ',"Name":"%s","Pid":"x","Pid":5}' % good_name, OK),
                ("same key 500 times", ',"Name":"%s"' % good_name + ',"X":1' * 500 + "}", OK)]:
            self.add3("duplicate_keys", label, head + tail, exp)
        s = self.template("sync", POOL[5])
        names_ok = json.dumps(s["Names"])
        sj = dumps(s)[:-1]
        self.add3("duplicate_keys", "Names bad then good", sj + ',"Names":[[1]],"Names":' + names_ok + "}", OK)
        self.add3("duplicate_keys", "Names good then bad", sj + ',"Names":[[1]]}', M)
        a_ = self.template("advertise", POOL[5])
        aj = dumps(a_)[:-1]
        self.add3("duplicate_keys", "Globals bad then good", aj + ',"Globals":"x","Globals":{}}', OK)
        self.add3("duplicate_keys", "Globals [] then [1]", aj + ',"Globals":[],"Globals":[1]}', M)

        # unicode escapes
        qn = self.template("query", POOL[6])
        qj = dumps(qn)[:-1]
        for label, tail, exp in [
                ("escaped event name", ',"Event-Name":"\\u0071uery"}', OK),
                ("escaped key", ',"\\u004eode":"%s"}' % POOL[6], OK),
                ("non-ASCII escape in a node name", ',"Node":"fz-\\u00e9@fuzz"}', OK),
                ("raw non-ASCII node name", ',"Node":"fz-\u00f1@fuzz"}', OK),
                ("surrogate pair", ',"Zone":"\\ud83d\\ude00"}', OK),
                ("lone high surrogate", ',"X":"\\ud800"}', M),
                ("lone low surrogate", ',"X":"\\udc00"}', M),
                ("high surrogate then letter", ',"X":"\\ud800x"}', M),
                ("two high surrogates", ',"X":"\\ud800\\ud800"}', M),
                ("short escape", ',"X":"\\u12"}', M),
                ("non-hex escape", ',"X":"\\uZZZZ"}', M),
                ("NUL in an unknown field", ',"X":"a\\u0000b"}', OK),
                ("NUL in an unknown key", ',"X\\u0000":1}', OK),
                ("NUL in Node", ',"Node":"fz\\u0000x"}', M),
                ("NUL in Zone", ',"Zone":"\\u0000"}', M),
                ("NUL in Msg-ID", ',"Msg-ID":"\\u0000"}', M),
                ("NUL in Event-Name", ',"Event-Name":"query\\u0000"}', M),
                ("escaped ASCII in base64", ',"Name":"\\u0067' + qn["Name"][1:] + '"}', OK),
                ("escaped slash", ',"Zone":"a\\/b"}', OK),
                ("U+FFFF", ',"Zone":"\\uffff"}', OK),
                ("escape of the last code point", ',"Zone":"\\udbff\\udfff"}', OK)]:
            self.add3("unicode", label, qj + tail, exp)
        for node, exp in [("n" * 255, OK), ("n" * 256, M), ("\u00e9" * 128, M), ("\u00e9" * 127, OK)]:
            m = self.template("query")
            m["Node"] = node
            self.add3("node_field", "Node of %d bytes" % len(node.encode()), dumps(m), exp)

        # the server's own app-id: n1 skips it unread, n2 decodes it
        if a.app_id1:
            self.add("own_app_id", "garbage carrying n1's app-id", "globals", b"{not json",
                     {"app_id": a.app_id1}, None)
        # odd AMQP properties do not matter
        self.add3("properties", "content type text/plain, headers", dumps(self.template("query")),
                  OK, {"content_type": "text/plain", "headers": {"x": 1},
                       "message_id": "m" * 200, "priority": 5})

    # -- forged Node fields (well-formed) ------------------------------------

    def forged(self):
        a = self.args
        OK = "ok"
        ts_now = now_us()
        # A Kazoo-like forger that heartbeats (long Expires, no Globals: it
        # is not expected to answer claims), then syncs and advertises names
        # it does not own.
        hb = self.env("advertise", FORGER, category="nodes", app="kz_nodes")
        hb.update(Expires=120000, Globals={}, Zone="local")
        self.add("forged", "forger heartbeat", "nodes", dumps(hb), None, OK)
        s = self.env("sync", FORGER)
        s.update(Names=[[b64(term(b"fz-sync-1")), ts_now, 4242],
                        [b64(term(b"fz-sync-2")), ts_now, 0]],
                 **{"Sync-ID": 7, "Part": 0, "Last": True})
        self.add("forged", "forger sync of two names", "globals", dumps(s), None, OK)
        adv = self.env("register", FORGER)
        adv.update(Name=b64(term(b"fz-legit-1")), State="registered", Timestamp=ts_now)
        self.add("forged", "forger advertises fz-legit-1", "globals", dumps(adv), None, OK)
        if a.base1_ts:
            # claims base-1 (owned on n1) with a younger timestamp: n1 keeps it
            adv = self.env("register", FORGER)
            adv.update(Name=b64(term(b"base-1")), State="registered",
                       Timestamp=a.base1_ts + 10 ** 7)
            self.add("forged", "forger advertises base-1, younger", "globals", dumps(adv), None, OK)
            cl = self.env("register", FORGER)
            cl.update(Name=b64(term(b"base-1")), State="pending", Timestamp=a.base1_ts + 10 ** 7)
            self.add("forged", "forger claims base-1", "targeted", dumps(cl), None, OK)
        # unregisters of real names from nodes that do not own them
        for name in (b"base-1", b"base-2"):
            u = self.env("unregister", FORGER)
            u.update(Name=b64(term(name)))
            self.add("forged", "forger unregisters %s" % name.decode(), "globals", dumps(u), None, OK)
        # n2's name: an unregister of its name with the wrong timestamp
        u = self.env("unregister", a.self2)
        u.update(Name=b64(term(b"base-2")), Timestamp=1)
        self.add("forged", "n2 (forged) unregisters base-2, wrong Timestamp", "targeted",
                 dumps(u), None, OK)
        # the server's own name, to it alone
        adv = self.env("register", a.self1)
        adv.update(Name=b64(term(b"fz-own-1")), State="registered", Timestamp=ts_now)
        self.add("forged", "n1's own name advertises fz-own-1", "targeted", dumps(adv), None, OK)
        u = self.env("unregister", a.self1)
        u.update(Name=b64(term(b"base-1")))
        self.add("forged", "n1's own name unregisters base-1", "targeted", dumps(u), None, OK)
        bad = self.env("register", a.self1)
        bad.update(Name=b64(term(b"fz-own-2")), State="bogus")
        self.add("forged", "n1's own name, register with a bogus State", "targeted",
                 dumps(bad), None, OK)
        hb = self.env("advertise", a.self1, category="nodes", app="kz_nodes")
        hb.update(Expires=1000, Globals={"local": 1}, Zone="local", Session="00000000deadbeef",
                  Incarnation=12345, **{"PG-Globals-Version": 1})
        self.add("forged", "heartbeat in n1's own name, another session", "targeted",
                 dumps(hb), None, OK)
        # replies and answers that match nothing
        for event in ("register_resp", "query_resp", "reply"):
            r = self.template(event, FORGER)
            r["Msg-ID"] = (a.session1 or "0" * 16) + self.hexid(16)
            if event != "reply":
                r["State"] = "local"
            self.add("forged", "%s with n1's session, unknown id" % event, "targeted",
                     dumps(r), None, OK)
        # a heartbeat in n2's name with a new incarnation: n1 thinks n2
        # restarted and drops its names, until n2's next real heartbeat
        hb = self.env("advertise", a.self2, category="nodes", app="kz_nodes")
        hb.update(Expires=1500, Globals={}, Zone="local", Session="00000000feedf00d",
                  Incarnation=424242, **{"PG-Globals-Version": 1})
        hb["Server-ID"] = "fz-bogus-queue"
        self.add("forged", "heartbeat in n2's name, new incarnation", "targeted",
                 dumps(hb), None, OK)

    # -- random categories ---------------------------------------------------

    def garbage(self, n):
        for i in range(n):
            size = self.rng.choice([1, 2, 7, 64, 300, 2000, 20000])
            data = bytearray(self.rng.randrange(256) for _ in range(size))
            while data[0] in b"{ \t\n\r":
                data[0] = self.rng.randrange(256)
            self.add("garbage", "random bytes %d" % i, self.rng.choice(["globals", "targeted", "nodes"]),
                     bytes(data), None, "malformed")

    def value_pool(self):
        r = self.rng
        return r.choice([
            None, True, False, 0, -1, 1, INT32_MAX, INT32_MAX + 1, INT64_MAX, INT64_MAX + 1,
            now_us(), 1.5, "", "x", "pending", "registered", "none", "local", "1000",
            self.rng.choice(POOL), b64(r.choice(GOOD_TERMS)), b64(r.choice(BAD_TERMS)),
            "!!!!", "\u00e9", "a\u0000b", [], [1], {}, {"local": 1},
            [[b64(r.choice(GOOD_TERMS)), now_us(), 1]], [[b64(r.choice(GOOD_TERMS))]],
        ])

    def random_json(self, n):
        keys = (["Event-Category", "Event-Name", "Node", "Name", "State", "Timestamp",
                 "Message", "Reply", "Reason", "Pid", "Sender-Pid", "Timeout", "Expires",
                 "Globals", "Names", "Msg-ID", "Server-ID", "Zone", "Last", "Part",
                 "Incarnation", "Session", "PG-Globals-Version", "Sync-Request"]
                + ["X-%d" % i for i in range(5)])
        events = sorted(e for e in EVENTS if e[0] == "globals" and e[1] not in NAMES_EVENTS - {"sync"})
        for i in range(n):
            cat, ev = self.rng.choice(events)
            m = {"Event-Category": cat, "Event-Name": ev, "Node": self.rng.choice(POOL)}
            for k in self.rng.sample(keys, self.rng.randrange(1, 8)):
                m[k] = self.value_pool()
            if self.rng.random() < 0.5:
                for k, v in self.template(ev).items():
                    m.setdefault(k, v)
            self.add("random_json", "random object %d" % i,
                     self.rng.choice(["globals", "targeted", "nodes"]), dumps(m), None, None)

    def mutate(self, text):
        r = self.rng
        body = bytearray(text.encode())
        for _ in range(r.randrange(1, 4)):
            op = r.randrange(9)
            if not body:
                body = bytearray(b"{")
            pos = r.randrange(len(body))
            if op == 0:
                body[pos] = r.randrange(256)
            elif op == 1:
                body[pos] = r.choice(b'{}[]",:\\0123456789aAzZ=+/ ')
            elif op == 2:
                del body[pos]
            elif op == 3:
                body.insert(pos, r.randrange(256))
            elif op == 4:
                del body[pos:]
            elif op == 5:
                end = min(len(body), pos + r.randrange(1, 40))
                body[pos:pos] = body[pos:end]
            else:
                try:
                    obj = json.loads(bytes(body))
                except Exception:       # noqa: BLE001
                    body[pos] = r.randrange(32, 127)
                    continue
                if not isinstance(obj, dict) or not obj:
                    continue
                k = r.choice(sorted(obj))
                if op == 6:
                    del obj[k]
                    body = bytearray(dumps(obj).encode())
                elif op == 7:
                    obj[k] = self.value_pool()
                    body = bytearray(dumps(obj).encode())
                else:   # a duplicate key with another value, appended
                    j = dumps(obj)
                    body = bytearray((j[:-1] + "," + json.dumps(k) + ":" + json.dumps(self.value_pool()) + "}").encode())
        return bytes(body)

    def mutations(self, n):
        events = ["register", "register_resp", "query", "query_resp", "unregister",
                  "send", "call", "reply", "sync"]
        for i in range(n):
            ev = self.rng.choice(events)
            body = self.mutate(dumps(self.template(ev)))
            self.add("mutation", "mutated %s %d" % (ev, i),
                     self.rng.choice(["globals", "targeted", "nodes"]), body, None, None)

    def flood(self, n):
        ts = now_us()
        for i in range(n):
            m = self.env("register", "fz-flood-%d@fuzz" % i)
            m.update(Name=b64(term(b"fz-flood-%d" % i)), State="registered", Timestamp=ts)
            self.add("flood", "flood node %d" % i, "globals", dumps(m), None, "ok")

    def markers(self):
        a = self.args
        for mark, node, path in ((a.mark1, a.self2, "targeted"), (a.mark2, a.self1, "globals")):
            if not mark:
                continue
            m = self.env("send", node)
            m.update(Name=b64(term(mark.encode())), Message=b64(term(b"MARKER")))
            self.add("marker", "marker %s" % mark, path, dumps(m), None, "ok")


# ---------------------------------------------------------------------------
# Publishing
# ---------------------------------------------------------------------------

def publish(uri, msgs, queue1):
    conn = pika.BlockingConnection(pika.URLParameters(uri))
    ch = conn.channel()
    ch.confirm_delivery()
    exchanges = {"globals": "globals", "targeted": "targeted", "nodes": "nodes"}
    for i, m in enumerate(msgs):
        key = {"globals": "globals.fuzz.m%d" % i, "targeted": queue1, "nodes": ""}[m.path]
        props = pika.BasicProperties(**m.props) if m.props else None
        ch.basic_publish(exchanges[m.path], key, m.body, properties=props)
    conn.close()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--uri", required=True)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--self1", default="n1@127.0.0.1")
    p.add_argument("--queue1", default="")
    p.add_argument("--self2", default="n2@127.0.0.1")
    p.add_argument("--max-message-size", type=int, default=8192)
    p.add_argument("--count", type=int, default=1500, help="random mutations")
    p.add_argument("--mark1", default="")
    p.add_argument("--mark2", default="")
    p.add_argument("--base1-ts", type=int, default=0)
    p.add_argument("--list", default="", help="write every message's label and verdicts here")
    p.add_argument("--expire-forged", action="store_true")
    p.add_argument("--heartbeat", type=int, metavar="EXPIRES",
                   help="publish one Kazoo-like heartbeat of %s with this Expires and exit"
                   % EXPIRES_NODE)
    p.add_argument("--advert", nargs=2, metavar=("NODE", "NAME"),
                   help="publish one advertisement of NAME by NODE (no heartbeat) and exit")
    p.add_argument("--dry-run", action="store_true", help="generate and classify only")
    args = p.parse_args(argv)

    if args.expire_forged:
        g = Generator(args)
        for node in POOL + [FORGER, EXPIRES_NODE]:
            hb = g.env("advertise", node, category="nodes", app="kz_nodes")
            hb.update(Expires=1, Globals={}, Zone="local")
            g.add("expire", node, "nodes", dumps(hb))
        publish(args.uri, g.msgs, args.queue1)
        print(json.dumps({"published": len(g.msgs)}))
        return 0

    if args.heartbeat is not None:
        g = Generator(args)
        hb = g.env("advertise", EXPIRES_NODE, category="nodes", app="kz_nodes")
        hb.update(Expires=args.heartbeat, Globals={}, Zone="local")
        g.add("heartbeat", EXPIRES_NODE, "nodes", dumps(hb))
        publish(args.uri, g.msgs, args.queue1)
        print(json.dumps({"published": 1}))
        return 0

    if args.advert:
        g = Generator(args)
        m = g.env("register", args.advert[0])
        m.update(Name=b64(term(args.advert[1].encode())), State="registered",
                 Timestamp=now_us())
        g.add("advert", args.advert[1], "globals", dumps(m))
        publish(args.uri, g.msgs, args.queue1)
        print(json.dumps({"published": 1}))
        return 0

    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 31)
    # the queue name ends with the session that is also n1's app-id
    args.session1 = args.queue1.rsplit("-", 1)[-1] if "-kz_globals-" in args.queue1 else ""
    args.app_id1 = args.session1
    g = Generator(args)
    g.crafted()
    g.forged()
    g.garbage(300)
    g.random_json(400)
    g.mutations(args.count)
    g.flood(150)
    g.markers()

    receivers = {"n1": Oracle(args.self1, g.max_body, args.app_id1),
                 "n2": Oracle(args.self2, g.max_body)}
    sees = {"globals": ("n1", "n2"), "nodes": ("n1", "n2"), "targeted": ("n1",)}
    summary = {"seed": args.seed, "max_body": g.max_body, "total": len(g.msgs),
               "paths": {}, "categories": {}, "oracle_disagrees": [],
               "n1": {"malformed": 0, "unknown": 0, "ok": 0, "kinds": {}},
               "n2": {"malformed": 0, "unknown": 0, "ok": 0, "kinds": {}},
               "nodes_created": {"n1": 0, "n2": 0}}
    created = {"n1": set(), "n2": set()}
    lines = []
    for m in g.msgs:
        summary["paths"][m.path] = summary["paths"].get(m.path, 0) + 1
        c = summary["categories"].setdefault(m.cat, {"messages": 0, "n1_malformed": 0,
                                                     "n1_unknown": 0, "n2_malformed": 0,
                                                     "n2_unknown": 0})
        c["messages"] += 1
        verdicts = []
        for r in ("n1", "n2"):
            if r not in sees[m.path]:
                continue
            status, kind = receivers[r].classify(m.body, m.props)
            verdicts.append("%s=%s%s" % (r, status, "/" + kind if status == "malformed" else ""))
            summary[r][status] += 1
            if status == "malformed":
                summary[r]["kinds"][kind] = summary[r]["kinds"].get(kind, 0) + 1
                c[r + "_malformed"] += 1
            elif status == "unknown":
                c[r + "_unknown"] += 1
            if status != "malformed" and m.cat not in ("flood", "marker"):
                node = receivers[r].creates_node(m.body)
                if node is not None:
                    created[r].add(node)
            # the hand label must agree with the model for n2, which sees
            # every message but the targeted ones as any peer would (for n1
            # the own-name and app-id cases differ on purpose)
            if (m.expect is not None and status != "unknown"
                    and m.cat not in ("forged", "own_app_id") and status != m.expect):
                summary["oracle_disagrees"].append("%s: %s %s (labelled %s)"
                                                   % (m.cat, m.label, r, m.expect))
        lines.append("%s\t%s\t%s\t%d bytes\t%s" % (m.cat, m.path, m.label, len(m.body),
                                                  " ".join(verdicts)))
    for r in ("n1", "n2"):
        summary["nodes_created"][r] = len(created[r])
    if args.list:
        with open(args.list, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    if not args.dry_run:
        t0 = time.time()
        publish(args.uri, g.msgs, args.queue1)
        summary["publish_seconds"] = round(time.time() - t0, 2)
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
