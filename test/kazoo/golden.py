#!/usr/bin/python3
"""Golden messages: pick one message of each kind that real Kazoo published
from a firehose capture (test/kazoo/firehose.py, written by
test/t/070_kazoo_interop.pl to tmp_check/firehose.jsonl), and write it as a
fixture of test/fixtures/kazoo, with where it came from.

    golden.py CAPTURE.jsonl OUTDIR          write the fixtures
    golden.py --compare CAPTURE.jsonl       Kazoo's messages next to ours
    golden.py --check-properties CAPTURE.jsonl
                        every AMQP property Kazoo sets, ours set too

A fixture is a JSON object: kind, the Kazoo commit and version, the OTP
release and RabbitMQ version it was captured with, the date, the exchange,
routing key and AMQP properties of the publish, and body: the published
JSON text, byte for byte.  test/unit/test_kazoo_fixtures.c decodes every
fixture and compares it with what our encoder writes for the same event.

Kinds: register_claim, register_advert, register_resp_<State>, query,
query_resp_<State>, unregister_<reason>, send, call, reply,
nodes_advertise.  A message is Kazoo's when its Node is one of the Kazoo
nodes of the capture (Node names starting with "kz").
"""

import argparse
import base64
import json
import os
import sys


def reason_atom(b64):
    """The atom of an unregister's Reason (ATOM_EXT or SMALL_ATOM_UTF8_EXT)."""
    try:
        term = base64.b64decode(b64)
    except ValueError:
        return "other"
    if len(term) >= 4 and term[0] == 131 and term[1] == 100:
        n = int.from_bytes(term[2:4], "big")
        return term[4:4 + n].decode("latin-1")
    if len(term) >= 3 and term[0] == 131 and term[1] == 119:
        return term[3:3 + term[2]].decode("utf-8")
    return "other"


def kind_of(body):
    category = body.get("Event-Category")
    event = body.get("Event-Name")
    state = body.get("State")
    if category == "nodes" and event == "advertise":
        return "nodes_advertise"
    if category != "globals":
        return None
    if event == "register":
        return {"pending": "register_claim", "registered": "register_advert"}.get(state)
    if event in ("register_resp", "query_resp"):
        return "%s_%s" % (event, state)
    if event == "unregister":
        return "unregister_" + reason_atom(body.get("Reason", ""))
    if event in ("query", "send", "call", "reply"):
        return event
    return None


def read_capture(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            try:
                body = json.loads(rec["body"])
            except ValueError:
                continue
            if not isinstance(body, dict):
                continue
            kind = kind_of(body)
            if kind is None:
                continue
            keys = rec.get("routing_keys") or [""]
            yield kind, body, rec, keys[0]


def is_kazoo(body):
    return str(body.get("Node", "")).startswith("kz")


def json_type(v):
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


def write_fixtures(capture, outdir):
    with open(capture + ".meta", encoding="utf-8") as f:
        meta = json.load(f)
    seen = {}
    for kind, body, rec, key in read_capture(capture):
        if is_kazoo(body) and kind not in seen:
            seen[kind] = (rec, key)
    os.makedirs(outdir, exist_ok=True)
    for kind, (rec, key) in sorted(seen.items()):
        fixture = {
            "kind": kind,
            "source": "captured on the wire (RabbitMQ firehose) from real Kazoo "
                      "nodes by test/t/070_kazoo_interop.pl; test/kazoo/golden.py",
            "kazoo_commit": meta["kazoo_commit"],
            "kazoo_version": meta["kazoo_version"],
            "otp_release": meta["otp_release"],
            "rabbitmq": meta["rabbitmq"],
            "captured": meta["captured"],
            "exchange": rec["exchange"],
            "routing_key": key,
            "properties": rec["properties"],
            "body": rec["body"],
        }
        path = os.path.join(outdir, kind + ".json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(fixture, f, indent=1, sort_keys=True)
            f.write("\n")
        print("wrote", path)
    return 0


def compare(capture):
    """For each kind, Kazoo's fields and types next to ours."""
    kazoo, ours = {}, {}
    for kind, body, rec, key in read_capture(capture):
        side = kazoo if is_kazoo(body) else ours
        if kind not in side:
            side[kind] = (body, rec)
    for kind in sorted(set(kazoo) | set(ours)):
        print("==", kind)
        kb, krec = kazoo.get(kind, ({}, {}))
        ob, orec = ours.get(kind, ({}, {}))
        for field in sorted(set(kb) | set(ob)):
            kt = json_type(kb[field]) if field in kb else "-"
            ot = json_type(ob[field]) if field in ob else "-"
            mark = "" if kt == ot else "   <-- differs"
            print("  %-20s kazoo %-8s ours %-8s%s" % (field, kt, ot, mark))
        kp = krec.get("properties", {}) if krec else {}
        op = orec.get("properties", {}) if orec else {}
        print("  properties kazoo %s" % json.dumps(kp, sort_keys=True))
        print("  properties ours  %s" % json.dumps(op, sort_keys=True))
        if "Msg-ID" in kb or "Msg-ID" in ob:
            print("  Msg-ID kazoo %r ours %r" % (kb.get("Msg-ID"), ob.get("Msg-ID")))
    return 0


def check_properties(capture):
    """Exit status 0 if, for every kind both sides published, our
    messages carry every AMQP property Kazoo's carry."""
    kazoo, ours = {}, {}
    for kind, body, rec, key in read_capture(capture):
        side = kazoo if is_kazoo(body) else ours
        side.setdefault(kind, set()).update(rec.get("properties", {}).keys())
    bad = 0
    for kind in sorted(set(kazoo) & set(ours)):
        missing = kazoo[kind] - ours[kind]
        if missing:
            print("%s: Kazoo sets %s, we do not" % (kind, ", ".join(sorted(missing))))
            bad += 1
    print("%d kinds compared, %d with missing properties"
          % (len(set(kazoo) & set(ours)), bad))
    return 1 if bad else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", action="store_true")
    parser.add_argument("--check-properties", action="store_true")
    parser.add_argument("capture")
    parser.add_argument("outdir", nargs="?")
    args = parser.parse_args()
    if args.compare:
        return compare(args.capture)
    if args.check_properties:
        return check_properties(args.capture)
    if not args.outdir:
        parser.error("OUTDIR is required")
    return write_fixtures(args.capture, args.outdir)


if __name__ == "__main__":
    sys.exit(main())
