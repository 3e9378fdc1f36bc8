"""Checks test/py/etf.py against the Erlang runtime (erl).

For each case (an Erlang term written in Erlang syntax, and the Python value
that stands for it) it asks ``erl`` for term_to_binary of the term and for
its ``~tp`` rendering, then checks that:

* etf.encode of the Python value (atoms as ATOM_EXT, as OTP 25 writes them)
  gives erl's bytes;
* etf.decode of erl's bytes gives back a value that encodes the same;
* erl's binary_to_term of etf.encode with SMALL_ATOM_UTF8_EXT atoms (the
  default) is the original term;
* etf.render gives erl's rendering (one line, unicode printable range).

Also checks the decoder on atoms written with tags 115 and 118 and on
malformed buffers.  Prints ``N passed, M failed``; exits 1 on failure.
Run with /usr/bin/python3 test/py/test_etf_py.py (needs erl on PATH).
"""

import base64
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import etf  # noqa: E402
from etf import Atom, ImproperList  # noqa: E402

# (Erlang syntax, Python value).  Written in file:consult syntax.
CASES = [
    ("abc", Atom("abc")),
    ("'Abc'", Atom("Abc")),
    ("'with space'", Atom("with space")),
    ("''", Atom("")),
    ("'after'", Atom("after")),
    ("'a@b.c'", Atom("a@b.c")),
    ("fax_1@host", Atom("fax_1@host")),
    ("'é'", Atom("é")),
    ("'quo\\'te'", Atom("quo'te")),
    ("'tab\\tnl\\n'", Atom("tab\tnl\n")),
    ("'日本'", Atom("日本")),
    ("true", True),
    ("0", 0),
    ("255", 255),
    ("256", 256),
    ("-1", -1),
    ("2147483647", 2 ** 31 - 1),
    ("2147483648", 2 ** 31),
    ("-2147483648", -2 ** 31),
    ("-2147483649", -2 ** 31 - 1),
    ("18446744073709551616", 2 ** 64),
    ("-" + str(2 ** 200), -2 ** 200),
    (str(2 ** 2100), 2 ** 2100),
    ("1.0", 1.0),
    ("0.1", 0.1),
    ("-2.5", -2.5),
    ("100.0", 100.0),
    ("1000.0", 1000.0),
    ("0.0001", 0.0001),
    ("0.00001", 0.00001),
    ("123456789.0", 123456789.0),
    ("9007199254740992.0", 9007199254740992.0),
    ("1.0e300", 1.0e300),
    ("5.0e-324", 5.0e-324),
    ("3.141592653589793", 3.141592653589793),
    ("<<>>", b""),
    ("<<\"abc\">>", b"abc"),
    ("<<\"binary for name\">>", b"binary for name"),
    ("<<1,2,3>>", b"\x01\x02\x03"),
    ("<<\"h\\x{e9}llo\"/utf8>>", "héllo".encode("utf-8")),
    ("<<233,97>>", b"\xe9a"),
    ("<<\"a\\nb\\\"c\\\\\">>", b"a\nb\"c\\"),
    ("<<\"job1\">>", b"job1"),
    ("\"abc\"", "abc"),
    ("\"\"", []),
    ("[1,2,3]", [1, 2, 3]),
    ("[256,300]", [256, 300]),
    ("\"with\\ttab\"", "with\ttab"),
    ("{}", ()),
    ("{fax,<<\"job1\">>}", (Atom("fax"), b"job1")),
    ("{a,{b,[1,2]},\"s\"}", (Atom("a"), (Atom("b"), [1, 2]), "s")),
    ("[a,b]", [Atom("a"), Atom("b")]),
    ("[a|b]", ImproperList([Atom("a")], Atom("b"))),
    ("[<<\"x\">>,1,2.5]", [b"x", 1, 2.5]),
    ("#{}", {}),
    ("#{a => 1,<<\"b\">> => [1]}", {Atom("a"): 1, b"b": [1]}),
    ("#{1 => a,2.5 => b,z => {},\"s\" => x}",
     {1: Atom("a"), 2.5: Atom("b"), Atom("z"): (), "s": Atom("x")}),
    ("{'$gen_cast',{job,<<\"x\">>,[{k,v}]}}",
     (Atom("$gen_cast"), (Atom("job"), b"x", [(Atom("k"), Atom("v"))]))),
    ("{error,timeout}", (Atom("error"), Atom("timeout"))),
]



def random_cases(seed=20241121, count=40):
    """Floats of every magnitude and integers of every size, reproducibly."""
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        value = rng.uniform(-1, 1) * 10.0 ** rng.randint(-30, 30)
        cases.append(("%.16e" % value, value))
        low, high = rng.randint(1, 300), rng.randint(1, 300)
        number = rng.randint(-2 ** low, 2 ** high)
        cases.append((str(number), number))
    return cases


CASES += random_cases()

ERL_SCRIPT = r"""
{ok, L} = file:consult(os:getenv("ETF_CASES")),
io:setopts([{encoding, unicode}]),
lists:foreach(
  fun({T, Ours}) ->
      R = io_lib_pretty:print(T, [{line_length, 1000000},
                                  {encoding, unicode}]),
      Back = (catch binary_to_term(base64:decode(Ours))),
      io:format("~s\t~ts\t~w~n",
                [base64:encode(term_to_binary(T)),
                 base64:encode(unicode:characters_to_binary(R)),
                 Back =:= T])
  end, L),
halt().
"""


def run_erl(cases):
    """Asks erl for term_to_binary, the rendering and the round trip."""
    with tempfile.NamedTemporaryFile("w", suffix=".erl", delete=False,
                                     encoding="utf-8") as f:
        f.write("%% -*- coding: utf-8 -*-\n")
        for source, value in cases:
            ours = etf.to_b64(value)
            f.write("{%s, <<\"%s\">>}.\n" % (source, ours))
        path = f.name
    try:
        env = dict(os.environ, ETF_CASES=path)
        out = subprocess.run(
            ["erl", "+pc", "unicode", "-noshell", "-eval", ERL_SCRIPT],
            env=env, capture_output=True, check=True, timeout=120).stdout
    finally:
        os.unlink(path)
    lines = out.decode("utf-8").splitlines()
    if len(lines) != len(cases):
        raise RuntimeError("erl printed %d lines for %d cases:\n%s"
                           % (len(lines), len(cases), out.decode()))
    return [line.split("\t") for line in lines]


class Tally:
    """Counts checks and prints failures."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL: " + what)


def check_against_erl(tally):
    """The four checks of the module docstring, for every case."""
    for (source, value), (b64, rendered, back) in zip(CASES, run_erl(CASES)):
        erl_bytes = base64.b64decode(b64)
        ours = etf.encode(value, atom_tag=etf.ATOM_EXT)
        tally.check(ours == erl_bytes, "encode %s: %r != erl %r"
                    % (source, ours, erl_bytes))
        again = etf.encode(etf.decode(erl_bytes), atom_tag=etf.ATOM_EXT)
        tally.check(again == erl_bytes, "decode %s: re-encodes as %r"
                    % (source, again))
        tally.check(back == "true",
                    "erl binary_to_term of ours for %s" % source)
        erl_text = base64.b64decode(rendered).decode("utf-8")
        tally.check(etf.render(value) == erl_text, "render %s: %r != erl %r"
                    % (source, etf.render(value), erl_text))


def check_decoder(tally):
    """Atom tags 115/118, canonical form, and malformed buffers."""
    small_latin1 = bytes([131, 115, 2]) + b"ok"
    utf8 = bytes([131, 118, 0, 3]) + "é!".encode("utf-8")
    tally.check(etf.decode(small_latin1) == Atom("ok"), "SMALL_ATOM_EXT")
    tally.check(etf.decode(utf8) == Atom("é!"), "ATOM_UTF8_EXT")
    tally.check(etf.canonical(bytes([131, 100, 0, 2]) + b"ok") ==
                etf.encode(Atom("ok")), "canonical atom")
    list_ext = bytes([131, 108, 0, 0, 0, 2, 97, 104, 97, 105, 106])
    tally.check(etf.canonical(list_ext) == etf.encode("hi"),
                "canonical string")
    for bad in (b"", b"\x83", b"\x82a\x01", b"\x83a\x01\x00",
                b"\x83m\x00\x00\x00\x05ab", b"\x83\x50",
                bytes([131, 104, 200])):
        try:
            etf.decode(bad)
            tally.check(False, "decode accepted %r" % bad)
        except etf.EtfError:
            tally.check(True, "")
    try:
        etf.encode(float("nan"))
        tally.check(False, "encode accepted NaN")
    except etf.EtfError:
        tally.check(True, "")


def main():
    """Runs every check; returns the exit status."""
    tally = Tally()
    check_decoder(tally)
    check_against_erl(tally)
    print("%d passed, %d failed" % (tally.passed, tally.failed))
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
