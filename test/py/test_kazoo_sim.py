#!/usr/bin/python3
"""Self-test of the simulated Kazoo node (test/py/kazoo_sim.py).

Starts a throwaway RabbitMQ with test/harness/rabbitmq.sh, runs two
simulated nodes against each other and checks Kazoo's registry semantics
between them: registrations seen and refused by the other node, queries,
unregister (and that a forged one is ignored), send, call and reply,
expiry after heartbeat_stop, the older-timestamp and smaller-node rules,
plus the pure parts (routing keys, claim verdicts, JSON terms) and the
line protocol of the subprocess.  Always stops the broker; prints
``N passed, M failed`` and exits non-zero on failure.

The broker refuses to run as root, so as root the test copies test/ to a
temporary directory owned by ``postgres`` and re-runs itself there as that
user (runuser).  Usage: /usr/bin/python3 test/py/test_kazoo_sim.py
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import etf  # noqa: E402
import kazoo_sim  # noqa: E402
from etf import Atom  # noqa: E402
from kazoo_sim import KazooNode  # noqa: E402

RABBITMQ_SH = os.path.join(HERE, "..", "harness", "rabbitmq.sh")
NODE_A = "kazoo1@sim.local"
NODE_B = "kazoo2@sim.local"


class Tally:
    """Counts checks; prints each failure with its description."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self, cond, what):
        if cond:
            self.passed += 1
            print("ok - " + what)
        else:
            self.failed += 1
            print("not ok - " + what)
        return cond

    def eq(self, got, want, what):
        if not self.ok(got == want, what):
            print("#   got:  %r\n#   want: %r" % (got, want))


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=10.0):
    """Polls predicate until true or timeout; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


# ---------------------------------------------------------------------------
# Checks without a broker
# ---------------------------------------------------------------------------

def check_pure(t):
    """Routing keys, the precedence rule, claim verdicts, JSON terms."""
    key = kazoo_sim.routing_key("register", etf.encode(b"binary for name"))
    t.eq(key, "globals.register.binary+for+name", "routing key of a binary")
    key = kazoo_sim.routing_key("query", etf.encode(b"a.b/c*#~"))
    t.eq(key, "globals.query.a%2Eb%2Fc*#~", "routing key escapes")
    otp25 = etf.encode(Atom("atom_for_name"), etf.ATOM_EXT)
    key = kazoo_sim.routing_key("register", otp25)
    t.ok(key.startswith("globals.register.6732514144"),
         "routing key of an atom (OTP 25) is hex of base64")
    t.ok(len(kazoo_sim.routing_key("send", etf.encode(b"%" * 300))) <= 255,
         "routing key cut to 255 bytes")

    t.ok(kazoo_sim.beats(1, "b@x", 2, "a@x"), "older timestamp wins")
    t.ok(kazoo_sim.beats(5, "a@x", 5, "b@x"), "tie: smaller node wins")
    t.ok(not kazoo_sim.beats(5, "b@x", 5, "a@x"), "tie: larger node loses")
    t.ok(kazoo_sim.beats(5, "b@x", None, "a@x"), "a missing timestamp loses")

    node = KazooNode("amqp://unused", "m@x")
    verdict = node._claim_ok
    t.ok(verdict([], 10), "claim with no replies wins")
    t.ok(verdict([{"State": "none"}, {"State": "remote"}], 10),
         "none and remote replies approve")
    t.ok(not verdict([{"State": "local", "Node": "o@x"}], 10),
         "a local reply denies")
    pending = {"State": "pending", "Node": "o@x"}
    t.ok(not verdict([dict(pending, Timestamp=9)], 10),
         "an older pending claim denies")
    t.ok(verdict([dict(pending, Timestamp=11)], 10),
         "a younger pending claim approves")
    t.ok(not verdict([dict(pending, Timestamp=10, Node="a@x")], 10),
         "a pending tie with a smaller node denies")
    t.ok(verdict([dict(pending, Timestamp=10, Node="z@x")], 10),
         "a pending tie with a larger node approves")
    t.ok(not verdict([dict(pending, Timestamp=11, Node="m@x")], 10),
         "a pending reply from ourselves denies")

    term = (Atom("fax"), b"job1", [1, "str", {Atom("k"): 2.5}],
            etf.ImproperList([Atom("a")], Atom("b")), b"\xff\x00")
    back = kazoo_sim.term_from_json(json.loads(json.dumps(
        kazoo_sim.term_to_json(term))))
    t.eq(back, term, "JSON term round trip")
    t.eq(kazoo_sim.term_from_json({"tuple": [{"atom": "a"}, "b", 1]}),
         (Atom("a"), b"b", 1), "JSON term syntax")


# ---------------------------------------------------------------------------
# Two simulated nodes on a broker
# ---------------------------------------------------------------------------

def check_membership(t, a, b):
    t.ok(wait_until(lambda: [n["node"] for n in a.nodes()] == [NODE_B]),
         "A hears B's heartbeat")
    t.ok(wait_until(lambda: [n["node"] for n in b.nodes()] == [NODE_A]),
         "B hears A's heartbeat")
    info = b.nodes()[0]
    t.eq(info["expires_ms"], 1250, "expiry is Expires x 1.25")
    t.eq(info["globals"], {"total": 0}, "Globals of an empty table")


def check_register(t, a, b):
    names = [b"fax-1", Atom("fax"), (Atom("fax"), b"job1"), "a string"]
    for name in names:
        what = etf.render(name)
        t.ok(a.register(name), "A registers %s" % what)
        row = wait_until(lambda: b.lookup(name))
        t.ok(row is not None and row["state"] == "remote" and
             row["node"] == NODE_A and row["server"] == a.queue,
             "B sees %s as remote, owned by A's queue" % what)
        t.ok(not b.register(name), "B is refused %s" % what)
    t.eq(a.stats(), {"local": 4}, "A's stats count its local names")
    t.ok(wait_until(lambda: any(n["globals"] == {"local": 4}
                                for n in b.nodes())),
         "A's heartbeat carries Globals {local: 4}")

    # a peer that is up but never answers: the claim waits out the timeout
    b.deafen(True)
    started = time.monotonic()
    t.ok(a.register(b"unanswered"), "a claim nobody answers succeeds")
    t.ok(time.monotonic() - started >= 1.9, "after the 2 s request timeout")
    b.deafen(False)
    t.ok(b.lookup(b"unanswered") is None and b.lookup(b"fax-1") is not None,
         "the deaf node missed the advertisement but kept its table")
    t.eq(len(b.nodes()), 1, "and its view of the peers")

    # a claim that goes over the bus: a node that joins later
    with joined_node(a, "kazoo9@sim.local", 2) as c:
        started = time.monotonic()
        t.ok(not c.register(b"fax-1"),
             "a new node's claim is denied by the owner")
        t.ok(time.monotonic() - started < 1.5, "the claim ends on all replies")
        row = wait_until(lambda: c.lookup(b"fax-1"))
        t.ok(row is not None and row["node"] == NODE_A,
             "the owner re-advertised on the claim")
        t.ok(row is not None and row["state"] == "remote",
             "the failed claim left no pending row")


def joined_node(a, node, peers):
    """A fresh simulated node that has heard `peers` heartbeats."""
    c = KazooNode(a.uri, node).start()
    wait_until(lambda: len(c.nodes()) == peers)
    return c


def check_query(t, a, b):
    t.eq(b.whereis(b"nobody"), None, "whereis of an unknown name is None")
    with joined_node(a, "kazoo9@sim.local", 2) as c:
        t.eq(c.lookup(Atom("fax")), None, "a new node does not know 'fax'")
        row = c.whereis(Atom("fax"))
        t.ok(row is not None and row["node"] == NODE_A and
             row["state"] == "remote", "its query finds A as the owner")
        t.eq((c.lookup(Atom("fax")) or {}).get("node"), NODE_A,
             "the answer is kept in its table")


def check_unregister(t, a, b):
    t.ok(a.register(b"temp"), "A registers temp")
    wait_until(lambda: b.lookup(b"temp"))
    forged = {"Name": etf.to_b64(b"temp"),
              "Reason": etf.to_b64(Atom("normal"))}
    body = a.envelope("unregister", node="evil@sim.local")
    body.update(forged)
    a.publish_raw("globals", "globals.unregister.temp", body)
    time.sleep(0.3)
    t.ok(b.lookup(b"temp") is not None,
         "an unregister from a node that does not own the name is ignored")
    t.ok(not b.unregister(b"temp"), "B cannot unregister A's name")
    t.ok(a.unregister(b"temp"), "A unregisters temp")
    t.ok(wait_until(lambda: b.lookup(b"temp") is None),
         "B drops temp on A's unregister")
    events = [e for e in b.events() if e["event"] == "unregistered"]
    t.ok(events and events[-1]["reason"] == Atom("normal"),
         "the unregister carried Reason normal")
    t.ok(b.register(b"temp"), "B can register the freed name")
    t.ok(wait_until(lambda: (a.lookup(b"temp") or {}).get("node") == NODE_B),
         "A sees B as the new owner")


def check_send_call(t, a, b):
    name = (Atom("fax"), b"job1")
    t.eq(b.send(name, (Atom("hello"), 1)), "sent", "B sends to A's name")
    msgs = a.inbox(wait_ms=3000)
    t.ok(len(msgs) == 1 and msgs[0]["message"] == (Atom("hello"), 1) and
         msgs[0]["node"] == NODE_B and msgs[0]["name"] == name,
         "A's inbox has the message, from B")
    t.eq(a.send(name, b"self"), "local", "a send to our own name is local")
    t.eq([m["message"] for m in a.inbox(wait_ms=1000)], [b"self"],
         "and lands in our own inbox")
    try:
        b.send(b"unknown-name", b"x")
        t.ok(False, "send to an unknown name raises")
    except kazoo_sim.NotRegistered:
        t.ok(True, "send to an unknown name raises (badarg)")

    result = {}
    caller = threading.Thread(target=lambda: result.update(
        reply=b.call(name, (Atom("get"), 42), timeout_ms=5000)))
    caller.start()
    calls = a.inbox(wait_ms=3000)
    t.ok(len(calls) == 1 and calls[0]["kind"] == "call" and
         calls[0]["message"] == (Atom("get"), 42), "A receives B's call")
    if calls:
        t.ok(a.reply(calls[0]["msg_id"], (Atom("ok"), b"answer")),
             "A replies")
    caller.join(10)
    t.eq(result.get("reply"), (Atom("ok"), b"answer"),
         "B's call returns A's reply")

    a.auto_reply("echo")
    t.ok(etf.term_equal(b.call(name, [1, 2, 3]), [1, 2, 3]),
         "auto-reply echo")
    a.auto_reply(None)
    started = time.monotonic()
    t.eq(b.call(b"owned-by-nobody", b"x", timeout_ms=500, force=True),
         (Atom("error"), Atom("timeout")), "a call nobody answers times out")
    t.ok(time.monotonic() - started < 2.0, "after its timeout")


def check_expiry(t, a, b):
    t.ok(any(r["node"] == NODE_A for r in b.table()), "B holds A's names")
    a.heartbeat_stop()
    gone = wait_until(lambda: not b.nodes(), timeout=5)
    t.ok(gone, "B expires A once its heartbeats stop")
    t.ok(not any(r["node"] == NODE_A for r in b.table()),
         "and drops every name A owned")
    t.ok(any(e["event"] == "expired" and e["node"] == NODE_A
             for e in b.events()), "expiry is reported as an event")
    a.heartbeat_start()
    t.ok(wait_until(lambda: b.nodes()), "B sees A again when it resumes")


def partition(a, b):
    """Cuts B off (no heartbeats, deaf) until each side expired the other."""
    b.heartbeat_stop(deaf=True)
    wait_until(lambda: not a.nodes() and not b.nodes(), timeout=6)


def heal(a, b):
    b.heartbeat_start()
    wait_until(lambda: a.nodes() and b.nodes(), timeout=6)


def check_conflicts(t, a, b):
    partition(a, b)
    t.ok(not a.nodes() and not b.nodes(),
         "partitioned: no peers on either side")
    base = kazoo_sim.now_us()
    # B's claim is older: when A hears B's advertisement, B wins at A
    t.ok(a.register(b"dup", timestamp=base + 100), "A registers dup alone")
    t.ok(b.register(b"dup", timestamp=base), "B registers dup alone (older)")
    t.ok(wait_until(lambda: (a.lookup(b"dup") or {}).get("node") == NODE_B),
         "at A the older registration (B's) replaces A's own")
    t.ok(any(e["event"] == "name_lost" for e in a.events()),
         "A records that it lost dup")
    # a tie: A (smaller node name) wins everywhere
    t.ok(a.register(b"tie", timestamp=base), "A registers tie alone")
    t.ok(b.register(b"tie", timestamp=base), "B registers tie alone")
    time.sleep(0.3)
    t.eq(a.lookup(b"tie")["state"], "local",
         "at A a tie with a larger node keeps A's row")
    heal(a, b)
    t.eq(b.lookup(b"tie")["state"], "local", "B still holds tie after heal")
    t.ok(a.readvertise(b"tie"), "A re-advertises tie")
    t.ok(wait_until(lambda: (b.lookup(b"tie") or {}).get("node") == NODE_A),
         "at B the tie goes to the smaller node name (A)")
    # and a younger advertisement never replaces an older row
    body = a.envelope("register")
    body.update({"Name": etf.to_b64(b"dup"), "State": "registered",
                 "Timestamp": base + 100, "Zone": "local"})
    a.publish_raw("globals", "globals.register.dup", body)
    time.sleep(0.3)
    t.eq(b.lookup(b"dup")["state"], "local",
         "B keeps its older dup against A's younger advertisement")


# ---------------------------------------------------------------------------
# The line protocol
# ---------------------------------------------------------------------------

def check_line_protocol(t, uri, a):
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "kazoo_sim.py"), "--uri", uri,
         "--node", "kazoo3@sim.local", "--heartbeat-ms", "500"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(cmd):
        proc.stdin.write(json.dumps(cmd) + "\n")
        proc.stdin.flush()
        return json.loads(proc.stdout.readline())

    try:
        ready = json.loads(proc.stdout.readline())
        t.ok(ready.get("ready") is True, "subprocess prints its ready line")
        wait_until(lambda: any(n["node"] == "kazoo3@sim.local"
                               for n in a.nodes()))
        wait_until(lambda: len(ask({"cmd": "nodes"})["result"]) == 2)
        t.eq(ask({"cmd": "register", "name": {"atom": "cli_fax"}, "tag": 7}),
             {"ok": True, "result": "yes", "tag": 7}, "register by line")
        t.eq(ask({"cmd": "register", "name": "fax-1"})["result"], "no",
             "a name A owns is refused by line")
        t.ok(wait_until(lambda: a.lookup(Atom("cli_fax"))),
             "A sees the name registered by line")
        rows = ask({"cmd": "table"})["result"]
        t.ok({"name": {"atom": "cli_fax"}, "render": "cli_fax",
              "state": "local"}.items() <= next(
                  (r for r in rows if r["render"] == "cli_fax"), {}).items(),
             "table by line shows the name and its rendering")
        a.send(Atom("cli_fax"), (Atom("job"), b"x"))
        inbox = ask({"cmd": "inbox", "wait_ms": 3000})["result"]
        t.ok(len(inbox) == 1 and inbox[0]["message"] ==
             {"tuple": [{"atom": "job"}, "x"]} and
             inbox[0]["message_render"] == '{job,<<"x">>}',
             "inbox by line")
        t.eq(ask({"cmd": "send", "name": "nope", "message": 1})["error"],
             "badarg", "send to an unknown name is badarg")
        t.eq(ask({"cmd": "auto_reply", "mode": "echo"})["result"], "echo",
             "auto_reply by line")
        t.eq(a.call(Atom("cli_fax"), b"ping"), b"ping", "call answered")
        t.eq(ask({"cmd": "bogus"})["ok"], False, "unknown command")
        t.eq(ask({"cmd": "quit"})["result"], "bye", "quit")
        t.eq(proc.wait(10), 0, "subprocess exits 0")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------

def run_with_broker(t):
    base = tempfile.mkdtemp(prefix="kzsim-")
    broker_dir = os.path.join(base, "rmq")
    port = free_port()
    nodes = []
    try:
        subprocess.run(["bash", RABBITMQ_SH, "start", broker_dir, str(port)],
                       check=True, timeout=180)
        uri = "amqp://guest:guest@127.0.0.1:%d/%%2f" % port
        a = KazooNode(uri, NODE_A).start()
        nodes.append(a)
        b = KazooNode(uri, NODE_B).start()
        nodes.append(b)
        for check in (check_membership, check_register, check_query,
                      check_unregister, check_send_call, check_expiry,
                      check_conflicts):
            try:
                check(t, a, b)
            except Exception:
                t.ok(False, "%s raised:\n%s" % (check.__name__,
                                                traceback.format_exc()))
        check_line_protocol(t, uri, a)
    finally:
        for node in nodes:
            node.close()
        subprocess.run(["bash", RABBITMQ_SH, "stop", broker_dir],
                       timeout=120)
        shutil.rmtree(base, ignore_errors=True)


def rerun_as_postgres():
    """As root: copy test/ for postgres and run this test there."""
    tmp = tempfile.mkdtemp(prefix="kzsim-root-")
    try:
        copy = os.path.join(tmp, "test")
        shutil.copytree(os.path.join(HERE, ".."), copy,
                        ignore=shutil.ignore_patterns("__pycache__", "tmp*"))
        subprocess.run(["chown", "-R", "postgres:", tmp], check=True)
        os.chmod(tmp, 0o755)
        script = os.path.join(copy, "py", os.path.basename(__file__))
        return subprocess.run(["runuser", "-u", "postgres", "--",
                               "/usr/bin/python3", script],
                              cwd=tmp).returncode
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if os.geteuid() == 0:
        return rerun_as_postgres()
    t = Tally()
    check_pure(t)
    try:
        run_with_broker(t)
    except Exception:
        t.ok(False, "broker run raised:\n" + traceback.format_exc())
    print("%d passed, %d failed" % (t.passed, t.failed))
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
