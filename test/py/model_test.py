#!/usr/bin/python3
"""Model-based tests of kz_globals, in the spirit of Kazoo's kz_globals_pqc.

Runs against a live cluster started by test/perl/kz_cluster.pl (a RabbitMQ
broker and N PostgreSQL servers with the extension) plus simulated Kazoo
nodes (test/py/kazoo_sim.py) that this program starts on the same broker.
test/suites/model.sh starts the cluster and runs this program; by hand:

    model_test.py --cluster DIR [--variants sequential,parallel,parallel_ts]

The oracle: where an expectation is what the registry rules decide, the
model asks the C rules the worker runs (src/rules/rules.c, conflict.c),
built into test/py/librules_oracle.so by test/py/rules_oracle.c and
loaded with ctypes: what each node answers a claim (kz_rule_claim, so
whether a register says yes), and which of several registrations that
said yes must own the name (kz_rule_advert, kz_claim_beats).  At start-up
the C rule is checked against kazoo_sim.beats(), the simulated Kazoo
nodes' own copy of it, on random claims (one test; a mismatch fails).

Three variants, each a Hypothesis test whose examples count as tests:

sequential
    A RuleBasedStateMachine.  The model holds every node's registry (each
    PostgreSQL server and each simulated Kazoo node: name -> state, owner
    node, owner pid, token), as kz_globals_pqc does.  Commands on the
    PostgreSQL servers, each registration owned by a long-lived psycopg2
    session (three per server, under two non-superuser roles):
    register_name, register_name(name, pid), two claims back to back on
    two nodes, a claim then at once a lookup and a send from another node,
    unregister_name, whereis_name, registered, send, call, owner exit
    (closing or terminating the owning session, which also leaves its
    process groups), and the process groups' join, leave, members and
    publish (each member, on every server, receives a publish once, and
    publish() counts them).  Commands on the
    simulated Kazoo nodes: remote_register, remote_unregister,
    remote_whereis, remote_send, remote_call, with names that are
    binaries, atoms, tuples and Erlang strings (shown by PostgreSQL in
    Erlang syntax).  Postconditions of every command: uniqueness (a
    register says no exactly when the name is in some registry of the
    model), lookup (exactly the owner node and pid), delivery (a message
    reaches exactly the owner's mailbox, unchanged), privileges (42501,
    22023), fencing tokens (a new owner's token is above its
    predecessors'); after every command, propagation: the
    kz_globals.registrations view (name, state, node, pid, kazoo, token),
    registered() and the kz_globals.groups view on every server and every simulated node's table
    equal the model, waited for with a bounded poll; at the end of each
    example, every mailbox is empty and no message was malformed.

parallel, parallel_ts
    Concurrent claims for the same names from sessions on every server
    and from the simulated nodes at once (threads, with random start
    offsets and a random clock skew for each simulated node; in about half
    of the rounds a further simulated node is up but deaf, so that claims
    wait request_timeout for it and race for longer).  Kazoo's own claims
    carry no timestamp (parallel), so a Kazoo claim racing a PostgreSQL
    claim may let both say yes; the conflict rule then decides.  Checked
    once things settle: at least one claim won each name; two PostgreSQL
    claims never both won; exactly one owner remains, it is one of the
    claims that said yes, and every node agrees on it (same node, pid and
    token; a simulated node that holds no row must find it with whereis,
    see settle()); it is the claim the C rules prefer among the claims
    that said yes whose timestamps are known (the simulated nodes', the
    tokens of PostgreSQL claims still local just after their yes, the
    owner's) and beats each of the others by kz_claim_beats;
    every other claim that said yes was told (a name_lost
    system message naming a node of another winning claim, in the
    session's mailbox; a name_lost event on a simulated node) and nobody
    else was.  With claim timestamps (parallel_ts) no PostgreSQL claim
    may share its yes with any other claim, whatever the clocks say (two
    simulated Kazoo nodes may still both win against each other: they
    answer "pending" without applying the rule to their own claim, as
    Kazoo does; the conflict rule must still leave one owner).

Environment:
    KZ_MODEL_SEED          seed (default: random; printed at the start).
                           Rerun a failure with the same seed (and the same
                           counts) to replay the same examples.
    KZ_MODEL_EXAMPLES      sequential examples (default 200)
    KZ_MODEL_STEPS         steps per sequential example (default 50)
    KZ_MODEL_PAR_EXAMPLES  examples of each parallel variant (default 60)
    KZ_MODEL_VARIANTS      comma-separated variants (default: all three)
    KZ_MODEL_SESSIONS      owner sessions per server (default 3, at least 2)
    KZ_MODEL_SIMS          simulated Kazoo nodes (default 2)
    KZ_MODEL_CONVERGE_S    how long propagation may take (default 10 s)
    KZ_MODEL_MAX_SHRINKS   successful shrinks at most (default 200;
                           Hypothesis also stops shrinking after 5 min)
    KZ_MODEL_VERBOSE=1     print every step of every example
    KZ_MODEL_ORACLE        the rules oracle library (default
                           test/py/librules_oracle.so next to this file)

The last line printed is "N passed, M failed": each example that passed
counts as one test passed (until the first failure of a variant), each
variant that failed as one test failed (after shrinking, Hypothesis prints
the minimal failing command sequence, with the seed to replay it).
"""

import argparse
import collections
import ctypes
import functools
import json
import os
import random
import sys
import threading
import time
import traceback

import psycopg2

import hypothesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st
from hypothesis.errors import StopTest
from hypothesis.stateful import (RuleBasedStateMachine, invariant, rule,
                                 run_state_machine_as_test)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import etf  # noqa: E402
from etf import Atom  # noqa: E402
import kazoo_sim  # noqa: E402
from kazoo_sim import KazooNode, NotRegistered, now_us  # noqa: E402


def env_int(name, default):
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


SEED = env_int("KZ_MODEL_SEED", random.SystemRandom().randrange(10 ** 9))
EXAMPLES = env_int("KZ_MODEL_EXAMPLES", 200)
STEPS = env_int("KZ_MODEL_STEPS", 50)
PAR_EXAMPLES = env_int("KZ_MODEL_PAR_EXAMPLES", 60)
SESSIONS_PER_SERVER = env_int("KZ_MODEL_SESSIONS", 3)
SIMS = env_int("KZ_MODEL_SIMS", 2)
CONVERGE_S = float(os.environ.get("KZ_MODEL_CONVERGE_S") or 10)
MAX_SHRINKS = env_int("KZ_MODEL_MAX_SHRINKS", 200)
VERBOSE = os.environ.get("KZ_MODEL_VERBOSE", "") not in ("", "0")
VARIANTS = ("sequential", "parallel", "parallel_ts")

# request_timeout during the parallel variants (a deaf peer makes every
# claim wait this long).
SLOW_TIMEOUT_MS = 1000
# How long an expected message may take to arrive (it returns at once).
RECV_MS = int(CONVERGE_S * 1000)
# Every statement is bounded, so a hang is a failure, not a stuck suite.
STATEMENT_TIMEOUT_MS = 120000
# Two non-superuser roles own the names: a session may unregister a name
# held by a session of its own role, not one of the other's (42501).
ROLES = ("kzm_a", "kzm_b")

try:  # bound the shrinking of slow examples (an internal knob)
    import hypothesis.internal.conjecture.engine as _engine
    _engine.MAX_SHRINKS = MAX_SHRINKS
except (ImportError, AttributeError):
    pass


# ---------------------------------------------------------------------------
# The oracle: the registry rules the extension runs, in C
# ---------------------------------------------------------------------------

class Oracle:
    """src/rules/rules.c and conflict.c through test/py/rules_oracle.c
    (test/py/librules_oracle.so, which test/suites/model.sh builds; by
    hand: make PG_CONFIG=... test/py/librules_oracle.so).  The model asks
    it wherever its expectation is what the rules decide, so that the
    cluster is checked against the worker's own code."""

    # KzRowState and KzWireState (src/rules/row.h, src/wire/protocol.h)
    ROW_STATES = {0: "none", 1: "pending", 2: "local", 3: "remote"}
    WIRE_STATES = {1: "none", 2: "pending", 4: "local", 5: "remote"}
    ROW_CODES = {v: k for k, v in ROW_STATES.items()}
    # the effect bits of rules_oracle.c
    LOST_CLAIM, NOTIFY_LOSER, READVERTISE, CONFLICT = 1, 2, 4, 8

    def __init__(self, path):
        lib = ctypes.CDLL(path)
        ll, s, i = ctypes.c_longlong, ctypes.c_char_p, ctypes.c_int
        lib.kz_oracle_claim_beats.argtypes = [ll, s, ll, s]
        lib.kz_oracle_claim_beats.restype = i
        lib.kz_oracle_advert.argtypes = [
            i, i, s, ll, i, s, ll, s, ctypes.POINTER(i), ctypes.POINTER(ll),
            ctypes.POINTER(i)]
        lib.kz_oracle_advert.restype = i
        lib.kz_oracle_claim.argtypes = [
            i, i, s, ll, i, s, i, ll, s, ctypes.POINTER(i), ctypes.POINTER(i)]
        lib.kz_oracle_claim.restype = i
        self.lib = lib

    @staticmethod
    def _b(node):
        return node.encode("utf-8")

    def beats(self, ts_a, node_a, ts_b, node_b):
        """kz_claim_beats: claim A (timestamp, node) beats claim B."""
        return bool(self.lib.kz_oracle_claim_beats(
            ts_a, self._b(node_a), ts_b, self._b(node_b)))

    def advert(self, row, ev, self_node, nodes):
        """kz_rule_advert on node self_node holding row (state, owner
        node, timestamp; None: no row) when owner node ev[0] advertises
        its registration of timestamp ev[1].  nodes: every node's name,
        in the order of their indexes.  Returns the new row (or None)
        and the effect bits."""
        state, rnode, rts = row if row else ("none", self_node, 0)
        out_node, out_ts, eff = (ctypes.c_int(), ctypes.c_longlong(),
                                 ctypes.c_int())
        new = self.lib.kz_oracle_advert(
            self.ROW_CODES[state], nodes.index(rnode), self._b(rnode), rts,
            nodes.index(ev[0]), self._b(ev[0]), ev[1], self._b(self_node),
            ctypes.byref(out_node), ctypes.byref(out_ts), ctypes.byref(eff))
        new = self.ROW_STATES[new]
        if new == "none":
            return None, eff.value
        return (new, nodes[out_node.value], out_ts.value), eff.value

    def claim_answer(self, row, claimant, self_node, nodes, ts=None):
        """kz_rule_claim: what node self_node, holding row (as in
        advert), answers a claim by node claimant (with timestamp ts if
        not None): "none", "pending", "local" or "remote"."""
        state, rnode, rts = row if row else ("none", self_node, 0)
        out_state, eff = ctypes.c_int(), ctypes.c_int()
        answer = self.lib.kz_oracle_claim(
            self.ROW_CODES[state], nodes.index(rnode), self._b(rnode), rts,
            nodes.index(claimant), self._b(claimant), ts is not None,
            ts or 0, self._b(self_node), ctypes.byref(out_state),
            ctypes.byref(eff))
        return self.WIRE_STATES[answer]

    def preferred(self, claims, nodes):
        """The claim (node, timestamp) a bystander keeps when every claim
        is advertised to it in turn (kz_rule_advert on a row that is
        remote after the first)."""
        bystander = "oracle@bystander"
        nodes = list(nodes) + [bystander]
        row = None
        for node, ts in claims:
            row, _ = self.advert(row, (node, ts), bystander, nodes)
        return None if row is None else (row[1], row[2])


ORACLE = None                   # the Oracle, loaded by main()
ORACLE_LIB = os.environ.get("KZ_MODEL_ORACLE") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "librules_oracle.so")


def oracle_self_check(oracle, seed, rounds=20000):
    """The C rule and kazoo_sim.beats() (the simulated Kazoo nodes' copy
    of Kazoo's rule) must agree, on random claims with ties of timestamp
    and of node name, including non-ASCII names; and the bystander fold
    must keep the claim that beats every other.  Returns the mismatches."""
    rnd = random.Random(seed)
    names = ["kazoo1@sim", "kazoo2@sim", "pg1@localhost", "pg2@localhost",
             "a", "b", "ab", "\u00e9@x", "z\u00e9@x"]
    bad = []
    for _ in range(rounds):
        ts_a = rnd.choice([rnd.randrange(5), rnd.randrange(1 << 62)])
        ts_b = rnd.choice([ts_a, rnd.randrange(5), rnd.randrange(1 << 62)])
        na, nb = rnd.choice(names), rnd.choice(names)
        c, py = oracle.beats(ts_a, na, ts_b, nb), kazoo_sim.beats(
            ts_a, na, ts_b, nb)
        if c != py:
            bad.append("beats(%d, %r, %d, %r): C %s, kazoo_sim %s"
                       % (ts_a, na, ts_b, nb, c, py))
    for _ in range(rounds // 20):
        claims = [(n, rnd.randrange(4)) for n in rnd.sample(names, 4)]
        best = oracle.preferred(claims, names)
        want = [c for c in claims if not any(
            kazoo_sim.beats(o[1], o[0], c[1], c[0]) for o in claims)]
        if [best] != want:
            bad.append("claims %r: the rules keep %r, kazoo_sim's rule %r"
                       % (claims, best, want))
    return bad


def log(fmt, *args):
    sys.stdout.write((fmt % args if args else fmt) + "\n")
    sys.stdout.flush()


# ---------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------

class Name(collections.namedtuple("Name", "label term text render")):
    """A name of the pool: its label (Erlang syntax, how steps print it),
    the Python term, its SQL text (binaries that SQL can name, else None)
    and how PostgreSQL shows it in registered() and the views."""

    __slots__ = ()

    @property
    def key(self):
        """The term buffer: names are compared by it, as kz_globals does."""
        return etf.encode(self.term)

    @property
    def sql(self):
        return self.text is not None


def _bin(text, label=None):
    return Name(label or '<<"%s">>' % text, text.encode("utf-8"), text, text)


NAMES = [
    _bin("job 1"),
    _bin("fax"),                        # shown like the atom fax
    _bin("ünï ✓"),
    _bin("a.b#c*%+"),                   # routing-key escaping
    _bin("é" * 127 + "z", "<<\"é\"x127 ++ \"z\">>"),   # 255 bytes, the limit
    Name("fax", Atom("fax"), None, "fax"),
    Name("'Job 1'", Atom("Job 1"), None, "'Job 1'"),
    Name('{fax,<<"job1">>}', (Atom("fax"), b"job1"), None,
         '{fax,<<"job1">>}'),
    Name('{kz,3,<<"call id">>}', (Atom("kz"), 3, b"call id"), None,
         '{kz,3,<<"call id">>}'),
    Name('"job 1"', "job 1", None, '"job 1"'),          # an Erlang string
    Name("<<255,0,1>>", b"\xff\x00\x01", None, "<<255,0,1>>"),
]
NAME_BY_LABEL = {n.label: n for n in NAMES}
NAME_BY_KEY = {n.key: n for n in NAMES}
SQL_NAMES = [n for n in NAMES if n.sql]
assert len(NAME_BY_KEY) == len(NAMES)

PAR_NAMES = [_bin("race-%d" % i) for i in range(1, 4)] + [_bin("ünï ✓")]
for _n in PAR_NAMES:
    NAME_BY_KEY.setdefault(_n.key, _n)
    NAME_BY_LABEL.setdefault(_n.label, _n)


def key_label(key):
    name = NAME_BY_KEY.get(key)
    if name is not None:
        return name.label
    try:
        return etf.render_buffer(key)
    except Exception:  # noqa: BLE001 - for messages only
        return repr(key)


# Process groups: plain, multibyte, 255 bytes (a hashed routing key).
GROUPS = ["room", "ünï ✓ grp", "é" * 127 + "z"]

# Messages: any text PostgreSQL can hold (no NUL), empty included.
MESSAGES = st.text(st.characters(blacklist_categories=("Cs",),
                                 blacklist_characters="\x00"),
                   max_size=12)


# ---------------------------------------------------------------------------
# Failures and counting
# ---------------------------------------------------------------------------

class Tally:
    passed = 0
    failed = 0
    example_failed = False
    variant_failed = False


def tracked(fn):
    """Marks the current example failed when fn raises (for the count)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except BaseException:
            Tally.example_failed = True
            raise
    return wrapper


def example_done(ok):
    """Counts one example: passed until the variant's first failure."""
    if not ok:
        Tally.variant_failed = True
    elif not Tally.variant_failed:
        Tally.passed += 1


# What the examples exercised (printed after each variant).
COVERAGE = collections.Counter()


def cover(*what):
    COVERAGE[" ".join(str(w) for w in what)] += 1


def where(owner, node):
    """How an owner relates to the node that acts: for the coverage."""
    if owner is None:
        return "unknown"
    if owner.kazoo:
        return "Kazoo-owned"
    return "owned on this server" if owner.node == node else \
        "owned on another server"


def kind_of(name):
    t = name.term
    return ("binary" if isinstance(t, bytes) else "atom" if
            isinstance(t, Atom) else "tuple" if isinstance(t, tuple) else
            "string")


def check(cond, fmt, *args):
    if not cond:
        raise AssertionError(fmt % args if args else fmt)


def check_eq(actual, expected, what):
    if actual != expected:
        raise AssertionError("%s:\n  expected %r\n  actual   %r"
                             % (what, expected, actual))


# ---------------------------------------------------------------------------
# The cluster
# ---------------------------------------------------------------------------

def connect(host, port, user=None):
    conn = psycopg2.connect(
        host=host, port=port, dbname="postgres", user=user,
        options="-c statement_timeout=%d" % STATEMENT_TIMEOUT_MS)
    conn.autocommit = True
    return conn


def run_sql(conn, sql, args=()):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall() if cur.description else None


class Outcome(collections.namedtuple("Outcome", "rows code error")):
    """A statement's result: rows, or the SQLSTATE and message of its
    error."""

    __slots__ = ()

    def __repr__(self):
        if self.code is None:
            return "rows %r" % (self.rows,)
        return "error %s (%s)" % (self.code, self.error)


def ok(rows):
    return Outcome(rows, None, None)


class Session:
    """A long-lived connection to one server: an owner of names."""

    def __init__(self, cluster, server, slot):
        self.cluster = cluster
        self.server = server
        self.slot = slot
        self.label = "pg%d.s%d" % (server + 1, slot)
        self.role = ROLES[slot % len(ROLES)]
        self.node = cluster.pg_nodes[server]
        self.conn = connect(cluster.host, cluster.ports[server], self.role)
        self.pid = run_sql(self.conn, "SELECT pg_backend_pid()")[0][0]

    def __repr__(self):
        return "%s(pid %d, %s)" % (self.label, self.pid, self.role)

    def q(self, sql, args=()):
        return run_sql(self.conn, sql, args)

    def attempt(self, sql, args=()):
        try:
            return ok(self.q(sql, args))
        except psycopg2.Error as exc:
            if self.conn.closed:
                raise
            return Outcome(None, exc.pgcode,
                           (exc.pgerror or str(exc)).strip().splitlines()[0])

    def receive(self, timeout_ms):
        rows = self.q("SELECT name, kind, message, sender_node, sender_pid, "
                      "reply_tag FROM kz_globals.receive(%s)", (timeout_ms,))
        return rows[0] if rows else None

    def close(self):
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001
            pass


class Cluster:
    """The servers of kz_cluster.pl's DIR and the simulated Kazoo nodes."""

    def __init__(self, cluster_dir):
        self.dir = cluster_dir
        env = {}
        with open(os.path.join(cluster_dir, "cluster.env")) as f:
            for line in f:
                if "=" in line:
                    k, v = line.strip().split("=", 1)
                    env[k] = v
        self.uri = env["BROKER_URI"]
        self.host = env["PGHOST"]
        first, n = int(env["FIRST"]), int(env["NODES"])
        self.ports = [int(env["PORT_%d" % i]) for i in range(first, first + n)]
        self.admins = [connect(self.host, p) for p in self.ports]
        self.pg_nodes = [run_sql(a, "SHOW kz_globals.node_name")[0][0]
                         for a in self.admins]
        for admin in self.admins:
            for role in ROLES:
                run_sql(admin, "DO $$ BEGIN CREATE ROLE %s LOGIN; "
                        "EXCEPTION WHEN duplicate_object THEN NULL; END $$; "
                        "GRANT kz_globals_user TO %s" % (role, role))
        self.slow = None
        self.sims = []
        for i in range(SIMS):
            # Peers expire a Kazoo node after Expires x 1.25: generous, so
            # that a busy machine does not expire it by mistake.
            sim = KazooNode(self.uri, "kazoo%d@sim.local" % (i + 1),
                            heartbeat_ms=500, expires_ms=4000)
            self.sims.append(sim.start())
            sim.auto_reply("echo")
        self.sim_nodes = [s.node for s in self.sims]
        self.all_nodes = self.pg_nodes + self.sim_nodes
        self.session_labels = ["pg%d.s%d" % (i + 1, j) for i in range(n)
                               for j in range(SESSIONS_PER_SERVER)]
        self.sim_labels = ["kazoo%d" % (i + 1) for i in range(SIMS)]
        self.wait_membership()

    def close(self):
        for sim in self.sims:
            sim.close()
        if self.slow is not None:
            self.slow.close()
        for admin in self.admins:
            admin.close()

    def sim(self, label):
        return self.sims[int(label[len("kazoo"):]) - 1]

    def open_session(self, label):
        server, slot = label[2:].split(".s")
        return Session(self, int(server) - 1, int(slot))

    def wait_membership(self, timeout=60):
        """Until every node sees every other node up."""
        want = set(self.all_nodes)
        deadline = time.monotonic() + timeout
        while True:
            missing = []
            for node, admin in zip(self.pg_nodes, self.admins):
                up = {r[0] for r in run_sql(
                    admin, "SELECT node FROM kz_globals.nodes "
                    "WHERE state = 'up'")}
                if up != want:
                    missing.append("%s sees %s" % (node, sorted(up)))
            for sim in self.sims:
                up = {n["node"] for n in sim.nodes()} | {sim.node}
                if up != want:
                    missing.append("%s sees %s" % (sim.node, sorted(up)))
            if not missing:
                return
            if time.monotonic() > deadline:
                raise AssertionError("the cluster did not form: "
                                     + "; ".join(missing))
            time.sleep(0.1)

    # -- what the nodes hold ----------------------------------------------

    def pg_rows(self, server):
        return collections.Counter(run_sql(
            self.admins[server], "SELECT name, state, node, pid, kazoo, "
            "token FROM kz_globals.registrations"))

    def pg_groups(self, server):
        return collections.Counter(run_sql(
            self.admins[server], 'SELECT "group", node, pid '
            "FROM kz_globals.groups"))

    def pg_registered(self, server):
        return collections.Counter(r[0] for r in run_sql(
            self.admins[server], "SELECT kz_globals.registered()"))

    def sim_rows(self, sim):
        return collections.Counter((key_label(etf.encode(r["name"])),
                                    r["state"], r["node"], r["timestamp"])
                                   for r in sim.table())

    def sim_registered(self, sim):
        return collections.Counter(key_label(etf.encode(n))
                                   for n in sim.registered())

    def snapshot(self):
        """Every node's table, in the form expected_state() builds."""
        snap = {}
        for i, node in enumerate(self.pg_nodes):
            snap[(node, "registrations")] = self.pg_rows(i)
            snap[(node, "registered()")] = self.pg_registered(i)
            snap[(node, "groups")] = self.pg_groups(i)
        for sim in self.sims:
            snap[(sim.node, "table")] = self.sim_rows(sim)
            snap[(sim.node, "registered()")] = self.sim_registered(sim)
        return snap

    def empty_state(self):
        snap = {}
        for node in self.pg_nodes:
            snap[(node, "registrations")] = collections.Counter()
            snap[(node, "registered()")] = collections.Counter()
            snap[(node, "groups")] = collections.Counter()
        for node in self.sim_nodes:
            snap[(node, "table")] = collections.Counter()
            snap[(node, "registered()")] = collections.Counter()
        return snap

    def await_state(self, expected, what, timeout=CONVERGE_S):
        """Polls until every node's table equals expected; fails with the
        differences when it does not within timeout."""
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            snap = self.snapshot()
            if snap == expected:
                return
            if time.monotonic() > deadline:
                raise AssertionError("%s: the nodes did not converge to the "
                                     "model within %.1f s:\n%s\n%s"
                                     % (what, timeout,
                                        describe_diff(expected, snap),
                                        self.membership()))
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def membership(self):
        """Who sees whom, and expiry counters: to tell an overloaded
        machine (spurious expiry) from a bug."""
        lines = ["membership:"]
        for node, admin in zip(self.pg_nodes, self.admins):
            rows = run_sql(admin, "SELECT node, state FROM kz_globals.nodes "
                           "ORDER BY node")
            stats = run_sql(admin, "SELECT names_expired, conflicts, "
                            "bus_malformed FROM kz_globals.stats")[0]
            lines.append("  %s: %s; names_expired %d, conflicts %d, "
                         "bus_malformed %d"
                         % (node, ", ".join("%s %s" % r for r in rows),
                            *stats))
        for sim in self.sims:
            expired = [e for e in sim.events(clear=False)
                       if e.get("event") == "expired"]
            lines.append("  %s: up %s; expired events %r"
                         % (sim.node, sorted(n["node"] for n in sim.nodes()),
                            expired))
        return "\n".join(lines)

    def malformed(self):
        counts = [run_sql(a, "SELECT bus_malformed FROM kz_globals.stats")
                  [0][0] for a in self.admins]
        counts += [s.counters["malformed"] + s.counters["crashed_handlers"]
                   for s in self.sims]
        return counts

    def reset(self, sessions):
        """Ends an example: closes the sessions (their names go), makes the
        simulated nodes unregister theirs, waits until every table is
        empty and clears the simulated nodes' inboxes and events."""
        for s in sessions:
            s.close()
        for sim in self.sims:
            for row in sim.table():
                if row["state"] == "local" and row["node"] == sim.node:
                    sim.unregister(row["name"])
        self.await_state(self.empty_state(), "reset between examples")
        if self.slow is not None:
            # the slow peer hears unregisters too, unless it is deaf
            deadline = time.monotonic() + CONVERGE_S
            while self.slow.table() and time.monotonic() < deadline:
                time.sleep(0.02)
            check_eq(self.slow.table(), [], "%s's table after the reset"
                     % self.slow.node)
        for sim in self.sims:
            sim.inbox()
            sim.events()

    # -- the slow peer of the parallel variants ----------------------------

    def add_slow_peer(self):
        """A simulated Kazoo node that never claims and, in some rounds,
        never answers (a busy node that is up): a claim then waits
        request_timeout for it, which widens the window in which claims
        race.  request_timeout is lowered meanwhile, on every server and
        simulated node."""
        self.set_request_timeout(SLOW_TIMEOUT_MS)
        self.slow = KazooNode(self.uri, "kazoo-slow@sim.local",
                              heartbeat_ms=500, expires_ms=4000).start()
        want = set(self.all_nodes) | {self.slow.node}
        deadline = time.monotonic() + 60
        while True:
            seen = [{r[0] for r in run_sql(
                a, "SELECT node FROM kz_globals.nodes WHERE state = 'up'")}
                for a in self.admins]
            seen += [{n["node"] for n in s.nodes()} | {s.node}
                     for s in self.sims]
            if all(v == want for v in seen):
                break
            check(time.monotonic() < deadline, "the slow peer is not seen: "
                  "%r", seen)
            time.sleep(0.1)

    def remove_slow_peer(self):
        if self.slow is not None:
            self.slow.close()
            self.slow = None
        self.set_request_timeout(None)

    def set_request_timeout(self, ms):
        for admin in self.admins:
            if ms is None:
                run_sql(admin, "ALTER SYSTEM RESET kz_globals.request_timeout")
            else:
                run_sql(admin, "ALTER SYSTEM SET kz_globals.request_timeout "
                        "= %s", ("%dms" % ms,))
            run_sql(admin, "SELECT pg_reload_conf()")
        for sim in self.sims:
            sim.request_timeout_ms = ms or 2000
        # let the workers read the new setting
        time.sleep(0.5)


def describe_diff(expected, actual):
    lines = []
    for where in sorted(set(expected) | set(actual)):
        exp = expected.get(where, collections.Counter())
        act = actual.get(where, collections.Counter())
        if exp == act:
            continue
        lines.append("  %s %s:" % where)
        for row in sorted((exp - act).elements(), key=repr):
            lines.append("    missing    %r" % (row,))
        for row in sorted((act - exp).elements(), key=repr):
            lines.append("    unexpected %r" % (row,))
    return "\n".join(lines) or "  (no difference)"


# ---------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------

class Owner(collections.namedtuple("Owner",
                                   "node pid holder kazoo role token")):
    """Who owns a name: node, backend pid (None for Kazoo), the session
    or simulated node label, whether a Kazoo node owns it, the owning
    session's role, and the registration's timestamp (its fencing token,
    which every node must show for it)."""

    __slots__ = ()


class Model:
    """Every node's registry: node -> {name key -> (state, Owner)}, as in
    kz_globals_pqc (index 0 there is the real node, here every node is)."""

    def __init__(self, nodes):
        self.reg = {node: {} for node in nodes}
        self.last_token = {}        # name key -> token of its last owner
        self.groups = {}            # group -> {label: (node, pid, role)}

    def members(self, group):
        return self.groups.get(group, {})

    def join(self, group, s):
        self.groups.setdefault(group, {})[s.label] = (s.node, s.pid, s.role)

    def leave(self, group, label):
        members = self.groups.get(group, {})
        members.pop(label, None)
        if not members:
            self.groups.pop(group, None)

    def leave_all(self, label):
        for group in list(self.groups):
            self.leave(group, label)

    def exists(self, key):
        return any(key in r for r in self.reg.values())

    def claim_wins(self, key, claimant):
        """Whether a claim of key by node claimant says yes: the claimant
        holds no row (else it says no at once) and every other node
        answers "none" from its row in the model, as the C rules
        (kz_rule_claim) answer.  Every node holds the same rows here, so
        the others answer "none" exactly when the name is free or held by
        the claimant itself (a row naming the claimant as the owner of a
        name it claims is stale)."""
        nodes = list(self.reg)
        answers = {}
        for node, r in self.reg.items():
            if node == claimant:
                continue
            row = None
            if key in r:
                row = (r[key][0], r[key][1].node, r[key][1].token)
            answers[node] = ORACLE.claim_answer(row, claimant, node, nodes)
        own = self.reg[claimant].get(key)
        none = all(a == "none" for a in answers.values())
        check(none == (own is None or own[0] == "local"), "the C rules "
              "answer a claim of %s by %s with %r, but the model's row there "
              "is %r", key_label(key), claimant, answers, own)
        return own is None and none

    def owner(self, key):
        for node, r in self.reg.items():
            if key in r and r[key][0] == "local":
                return r[key][1]
        return None

    def register(self, key, owner):
        """A successful register: local at the owner, remote elsewhere."""
        assert not self.exists(key)
        for node, r in self.reg.items():
            r[key] = ("local" if node == owner.node else "remote", owner)

    def unregister(self, key):
        for r in self.reg.values():
            r.pop(key, None)

    def owned_by(self, holder):
        return sorted({k for r in self.reg.values()
                       for k, (_, o) in r.items() if o.holder == holder})

    def expected_state(self, cluster):
        exp = cluster.empty_state()
        for node in cluster.pg_nodes:
            for key, (state, o) in self.reg[node].items():
                name = NAME_BY_KEY[key]
                exp[(node, "registrations")][
                    (name.render, state, o.node, o.pid, o.kazoo, o.token)] += 1
                exp[(node, "registered()")][name.render] += 1
            for group, members in self.groups.items():
                for member_node, pid, _ in members.values():
                    exp[(node, "groups")][(group, member_node, pid)] += 1
        for node in cluster.sim_nodes:
            for key, (state, o) in self.reg[node].items():
                exp[(node, "table")][(key_label(key), state, o.node,
                                      o.token)] += 1
                exp[(node, "registered()")][key_label(key)] += 1
        return exp


# ---------------------------------------------------------------------------
# Variant 1: the state machine
# ---------------------------------------------------------------------------

def make_machine(C):
    """The state machine class for cluster C (its sessions and nodes)."""

    sessions = st.sampled_from(C.session_labels)
    sims = st.sampled_from(C.sim_labels)
    claimants = st.sampled_from(C.session_labels + C.sim_labels)
    sql_names = st.sampled_from([n.label for n in SQL_NAMES])
    any_names = st.sampled_from([n.label for n in NAMES])
    nodes = st.sampled_from(C.all_nodes)
    groups = st.sampled_from(GROUPS)

    class KzGlobalsModel(RuleBasedStateMachine):
        """kz_globals_pqc, on every node of a real cluster."""

        def __init__(self):
            super().__init__()
            Tally.example_failed = False
            self.C = C
            self.model = Model(C.all_nodes)
            self.sessions = {}
            try:
                C.await_state(C.empty_state(),
                              "start of an example (state left over by the "
                              "previous one)")
                for label in C.session_labels:
                    self.sessions[label] = C.open_session(label)
                self.malformed = C.malformed()
            except BaseException:
                Tally.example_failed = True
                for s in self.sessions.values():
                    s.close()
                example_done(False)
                raise

        # -- helpers ------------------------------------------------------

        def owner_of_session(self, s, name):
            """The new owner s of name, with its token, which must be
            above the token of every earlier owner of the name (SPEC 3:
            tokens strictly increase across successive owners)."""
            token = s.q("SELECT kz_globals.token(%s)", (name.text,))[0][0]
            last = self.model.last_token.get(name.key)
            check(token is not None and (last is None or token > last),
                  "token(%s) of its new owner %s is %r, the previous owner's "
                  "was %r", name.label, s, token, last)
            self.model.last_token[name.key] = token
            return Owner(s.node, s.pid, s.label, False, s.role, token)

        def owner_of_sim(self, sim, name):
            token = sim.lookup(name.term)["timestamp"]
            self.model.last_token[name.key] = token
            return Owner(sim.node, None, "kazoo%d" % (C.sims.index(sim) + 1),
                         True, None, token)

        def expect_message(self, owner, name, message, sender_node,
                           sender_pid, kind="send"):
            """The owner got exactly this message; returns its reply tag."""
            if owner.kazoo:
                sim = C.sim(owner.holder)
                got = sim.inbox(wait_ms=RECV_MS)
                want = [(kind, name.key, message.encode("utf-8"), sender_node,
                         sender_pid)]
                check_eq([(m["kind"], etf.encode(m["name"]), m["message"],
                           m["node"], m["sender_pid"]) for m in got],
                         want, "%s's inbox after a %s to %s"
                         % (sim.node, kind, name.label))
                return got[0]["msg_id"]
            s = self.sessions[owner.holder]
            got = s.receive(RECV_MS)
            check(got is not None, "%s: no %s to %s arrived in %d ms",
                  s, kind, name.label, RECV_MS)
            check_eq(got[:5], (name.render, kind, message, sender_node,
                               sender_pid),
                     "%s's mailbox after a %s to %s" % (s, kind, name.label))
            check(got[5] is not None if kind == "call" else got[5] is None,
                  "%s: reply_tag %r for a %s", s, got[5], kind)
            return got[5]

        def claim(self, label, name):
            if label.startswith("kazoo"):
                return C.sim(label).register(name.term)
            s = self.sessions[label]
            out = s.attempt("SELECT kz_globals.register_name(%s)",
                            (name.text,))
            check(out.code is None, "register_name(%r) from %s: %r",
                  name.text, s, out)
            return out.rows[0][0]

        def node_of(self, label):
            if label.startswith("kazoo"):
                return C.sim(label).node
            return self.sessions[label].node

        def claim_owner(self, label, name):
            if label.startswith("kazoo"):
                return self.owner_of_sim(C.sim(label), name)
            return self.owner_of_session(self.sessions[label], name)

        # -- commands on the PostgreSQL servers ---------------------------

        @rule(session=sessions, name=sql_names)
        @tracked
        def register_name(self, session, name):
            name = NAME_BY_LABEL[name]
            s = self.sessions[session]
            exists = not self.model.claim_wins(name.key, s.node)
            out = s.attempt("SELECT kz_globals.register_name(%s)",
                            (name.text,))
            check_eq(out, ok([(not exists,)]),
                     "register_name(%s) from %s (%s)"
                     % (name.label, s, "taken by %s" % (
                         self.model.owner(name.key),) if exists else "free"))
            cover("register_name", "no" if exists else "yes")
            if not exists:
                self.model.register(name.key, self.owner_of_session(s, name))

        @rule(session=sessions, other=sessions, name=sql_names)
        @tracked
        def register_for(self, session, other, name):
            """register_name(name, pid) for another backend: of this
            server (22023 otherwise) and of a role the caller has the
            privileges of (42501 otherwise)."""
            name = NAME_BY_LABEL[name]
            s, o = self.sessions[session], self.sessions[other]
            exists = not self.model.claim_wins(name.key, o.node)
            out = s.attempt("SELECT kz_globals.register_name(%s, %s)",
                            (name.text, o.pid))
            what = "register_name(%s, %d) from %s for %s" % (
                name.label, o.pid, s, o)
            if o.server != s.server:
                check_eq(out.code, "22023", what)
                cover("register_name(name, pid) 22023 (not a backend here)")
            elif o.role != s.role:
                check_eq(out.code, "42501", what)
                cover("register_name(name, pid) 42501 (another role)")
            else:
                check_eq(out, ok([(not exists,)]), what)
                cover("register_name(name, pid)", "no" if exists else "yes")
                if not exists:
                    self.model.register(name.key,
                                        self.owner_of_session(o, name))

        @rule(first=claimants, second=claimants, name=sql_names)
        @tracked
        def register_back_to_back(self, first, second, name):
            """Two claims, the second right after the first returned, with
            no wait for propagation: once a claim said yes, a claim on any
            node must say no."""
            name = NAME_BY_LABEL[name]
            exists = not self.model.claim_wins(name.key,
                                               self.node_of(first))
            r1 = self.claim(first, name)
            check_eq(r1, not exists, "register %s by %s" % (name.label,
                                                            first))
            if r1:
                self.model.register(name.key, self.claim_owner(first, name))
            r2 = self.claim(second, name)
            check_eq(r2, False, "register %s by %s right after %s's %s"
                     % (name.label, second, first, "yes" if r1 else "no"))
            cover("register back to back:", "Kazoo" if first[0] == "k"
                  else "PG", "yes" if r1 else "no", "then", "Kazoo" if
                  second[0] == "k" else "PG", "no")

        @rule(first=claimants, finder=claimants, name=sql_names,
              message=MESSAGES)
        @tracked
        def register_then_find(self, first, finder, name, message):
            """A claim, then at once (no wait for propagation) a lookup and
            a send from another node: once register said yes, whereis
            anywhere finds the owner (from its table or by asking the
            cluster) and a send reaches it."""
            name = NAME_BY_LABEL[name]
            exists = not self.model.claim_wins(name.key,
                                               self.node_of(first))
            r1 = self.claim(first, name)
            check_eq(r1, not exists, "register %s by %s" % (name.label,
                                                            first))
            if r1:
                self.model.register(name.key, self.claim_owner(first, name))
            owner = self.model.owner(name.key)
            if finder.startswith("kazoo"):
                k = C.sim(finder)
                row = k.whereis(name.term)
                got = None if row is None else (row["state"], row["node"])
                check_eq(got, ("local" if owner.node == k.node else "remote",
                               owner.node),
                         "%s whereis %s right after %s registered it"
                         % (k.node, name.label, first))
                if owner.node != k.node:
                    check_eq(k.send(name.term, message.encode("utf-8")),
                             "sent", "%s sends to %s" % (k.node, name.label))
                    self.expect_message(owner, name, message, k.node, None)
            else:
                s = self.sessions[finder]
                check_eq(s.attempt("SELECT node, pid FROM "
                                   "kz_globals.whereis_name(%s)",
                                   (name.text,)),
                         ok([(owner.node, owner.pid)]),
                         "whereis_name(%s) from %s right after %s's "
                         "register" % (name.label, s, first))
                check_eq(s.attempt("SELECT node, pid FROM kz_globals.send("
                                   "%s, %s)", (name.text, message)),
                         ok([(owner.node, owner.pid)]),
                         "send(%s, %r) from %s right after %s's register"
                         % (name.label, message, s, first))
                self.expect_message(owner, name, message, s.node, s.pid)
            cover("register then find at once:", "Kazoo" if first[0] == "k"
                  else "PG", "yes" if r1 else "no", "then", "Kazoo" if
                  finder[0] == "k" else "PG", "whereis and send")

        @rule(session=sessions, name=sql_names)
        @tracked
        def unregister_name(self, session, name):
            name = NAME_BY_LABEL[name]
            s = self.sessions[session]
            owner = self.model.owner(name.key)
            out = s.attempt("SELECT kz_globals.unregister_name(%s)",
                            (name.text,))
            what = "unregister_name(%s) from %s, owner %s" % (
                name.label, s, owner)
            if owner is None or owner.kazoo or owner.node != s.node:
                check_eq(out, ok([(False,)]), what)
                cover("unregister_name false,", where(owner, s.node))
            elif owner.role == s.role:
                check_eq(out, ok([(True,)]), what)
                self.model.unregister(name.key)
                cover("unregister_name true,", "by the owner" if
                      owner.holder == s.label else "by its role")
            else:
                check_eq(out.code, "42501", what)
                cover("unregister_name 42501 (another role)")

        @rule(session=sessions, name=sql_names)
        @tracked
        def whereis_name(self, session, name):
            name = NAME_BY_LABEL[name]
            s = self.sessions[session]
            owner = self.model.owner(name.key)
            out = s.attempt("SELECT node, pid FROM "
                            "kz_globals.whereis_name(%s)", (name.text,))
            want = [(owner.node, owner.pid)] if owner else [(None, None)]
            check_eq(out, ok(want), "whereis_name(%s) from %s"
                     % (name.label, s))
            cover("whereis_name,", where(owner, s.node))

        @rule(node=nodes)
        @tracked
        def registered(self, node):
            """registered() right now (the last step has converged)."""
            exp = self.model.expected_state(C)
            if node in C.pg_nodes:
                got = C.pg_registered(C.pg_nodes.index(node))
            else:
                got = C.sim_registered(C.sims[C.sim_nodes.index(node)])
            check_eq(sorted(got.elements()),
                     sorted(exp[(node, "registered()")].elements()),
                     "registered() on %s" % node)

        @rule(session=sessions, name=sql_names, message=MESSAGES)
        @tracked
        def send(self, session, name, message):
            name = NAME_BY_LABEL[name]
            s = self.sessions[session]
            owner = self.model.owner(name.key)
            out = s.attempt("SELECT node, pid FROM kz_globals.send(%s, %s)",
                            (name.text, message))
            what = "send(%s, %r) from %s" % (name.label, message, s)
            cover("send,", where(owner, s.node))
            if owner is None:
                check_eq(out.code, "42704", what)
                return
            check_eq(out, ok([(owner.node, owner.pid)]), what)
            self.expect_message(owner, name, message, s.node, s.pid)

        @rule(session=sessions, name=sql_names, message=MESSAGES)
        @tracked
        def call(self, session, name, message):
            name = NAME_BY_LABEL[name]
            s = self.sessions[session]
            owner = self.model.owner(name.key)
            what = "call(%s, %r) from %s" % (name.label, message, s)
            sql = "SELECT kz_globals.call(%s, %s, %s)"
            cover("call,", "to itself (timeout)" if owner is not None and
                  owner.holder == session else where(owner, s.node))
            if owner is None:
                check_eq(s.attempt(sql, (name.text, message, 10000)).code,
                         "42704", what)
                return
            if owner.holder == session:
                # nobody can answer: a timeout, and the request stays
                out = s.attempt(sql, (name.text, message, 200))
                check_eq(out.code, "57014", what)
                tag = self.expect_message(owner, name, message, s.node,
                                          s.pid, "call")
                check_eq(s.q("SELECT kz_globals.reply(%s, 'late')", (tag,)),
                         [(False,)], "reply to a call that timed out")
                return
            if owner.kazoo:         # the simulated node echoes
                check_eq(s.attempt(sql, (name.text, message, 10000)),
                         ok([(message,)]), what)
                return
            result = {}

            def caller():
                result["out"] = s.attempt(sql, (name.text, message, 30000))

            t = threading.Thread(target=caller, daemon=True)
            t.start()
            try:
                tag = self.expect_message(owner, name, message, s.node, s.pid,
                                          "call")
                o = self.sessions[owner.holder]
                check_eq(o.q("SELECT kz_globals.reply(%s, %s)",
                             (tag, "re: " + message)), [(True,)],
                         "reply() by %s" % o)
            except BaseException:
                s.conn.cancel()     # do not wait for the call's timeout
                raise
            finally:
                t.join(40)
            check_eq(result.get("out"), ok([("re: " + message,)]), what)

        @rule(session=sessions, how=st.sampled_from(["close", "terminate"]))
        @tracked
        def owner_exit(self, session, how):
            """The owning session ends: its names go everywhere."""
            s = self.sessions[session]
            if how == "terminate":
                check_eq(run_sql(C.admins[s.server],
                                 "SELECT pg_terminate_backend(%s, 10000)",
                                 (s.pid,)),
                         [(True,)], "pg_terminate_backend(%d)" % s.pid)
            s.close()
            owned = self.model.owned_by(session)
            if how == "terminate":
                # the backend is gone: its names are gone locally at once
                for key in owned:
                    name = NAME_BY_KEY[key]
                    check_eq(run_sql(C.admins[s.server], "SELECT node, pid "
                                     "FROM kz_globals.whereis_name(%s)",
                                     (name.text,)), [(None, None)],
                             "whereis_name(%s) on %s right after its owner "
                             "%s was terminated" % (name.label, s.node, s))
            for key in owned:
                self.model.unregister(key)
            self.model.leave_all(session)
            cover("owner exit by", how, "releasing", len(owned) or "no",
                  "names" if len(owned) != 1 else "name")
            self.sessions[session] = C.open_session(session)

        # -- process groups (eventually consistent: the propagation
        # -- invariant waits for every server's groups view) -------------

        @rule(session=sessions, group=groups)
        @tracked
        def join(self, session, group):
            s = self.sessions[session]
            member = session in self.model.members(group)
            check_eq(s.attempt("SELECT kz_globals.join(%s)", (group,)),
                     ok([(not member,)]), "join(%r) from %s" % (group, s))
            cover("join", "again" if member else "new")
            self.model.join(group, s)

        @rule(session=sessions, group=groups)
        @tracked
        def leave(self, session, group):
            s = self.sessions[session]
            member = session in self.model.members(group)
            check_eq(s.attempt("SELECT kz_globals.leave(%s)", (group,)),
                     ok([(member,)]), "leave(%r) from %s" % (group, s))
            cover("leave", "a member" if member else "not a member")
            self.model.leave(group, session)

        @rule(session=sessions, group=groups)
        @tracked
        def members(self, session, group):
            s = self.sessions[session]
            got = s.attempt("SELECT node, pid FROM kz_globals.members(%s)",
                            (group,))
            check(got.code is None, "members(%r) from %s: %r", group, s, got)
            # a local member of another role: its pid is hidden
            want = [(node, pid if node != s.node or role == s.role else None)
                    for node, pid, role in self.model.members(group).values()]
            check_eq(sorted(got.rows, key=repr), sorted(want, key=repr),
                     "members(%r) from %s" % (group, s))
            cover("members,", len(self.model.members(group)), "members")

        @rule(session=sessions, group=groups, message=MESSAGES)
        @tracked
        def publish(self, session, group, message):
            """Every member, on every server, gets it once; publish()
            counts them."""
            s = self.sessions[session]
            members = self.model.members(group)
            check_eq(s.attempt("SELECT kz_globals.publish(%s, %s)",
                               (group, message)), ok([(len(members),)]),
                     "publish(%r, %r) from %s to %d members"
                     % (group, message, s, len(members)))
            for label in sorted(members):
                m = self.sessions[label]
                got = m.receive(RECV_MS)
                check_eq(got, (group, "group", message, s.node, s.pid, None),
                         "%s's mailbox after a publish to %r by %s"
                         % (m, group, s))
            cover("publish to", len(members) or "no", "members,",
                  "remote ones too" if any(m[0] != s.node for m in
                                           members.values()) else "local")

        # -- commands on the simulated Kazoo nodes ------------------------

        @rule(sim=sims, name=any_names)
        @tracked
        def remote_register(self, sim, name):
            name = NAME_BY_LABEL[name]
            k = C.sim(sim)
            exists = not self.model.claim_wins(name.key, k.node)
            check_eq(k.register(name.term), not exists,
                     "%s registers %s (%s)" % (k.node, name.label,
                                              "taken by %s" % (
                                                  self.model.owner(name.key),)
                                              if exists else "free"))
            cover("remote_register", kind_of(name), "no" if exists else "yes")
            if not exists:
                self.model.register(name.key, self.owner_of_sim(k, name))

        @rule(sim=sims, name=any_names)
        @tracked
        def remote_unregister(self, sim, name):
            name = NAME_BY_LABEL[name]
            k = C.sim(sim)
            owner = self.model.owner(name.key)
            mine = owner is not None and owner.node == k.node
            check_eq(k.unregister(name.term), mine,
                     "%s unregisters %s (owner %s)" % (k.node, name.label,
                                                      owner))
            cover("remote_unregister", "true" if mine else "false")
            if mine:
                self.model.unregister(name.key)

        @rule(sim=sims, name=any_names)
        @tracked
        def remote_whereis(self, sim, name):
            name = NAME_BY_LABEL[name]
            k = C.sim(sim)
            owner = self.model.owner(name.key)
            row = k.whereis(name.term)
            got = None if row is None else (row["state"], row["node"])
            want = None if owner is None else (
                "local" if owner.node == k.node else "remote", owner.node)
            check_eq(got, want, "%s whereis %s" % (k.node, name.label))
            cover("remote_whereis", want[0] if want else "none")

        @rule(sim=sims, name=any_names, message=MESSAGES)
        @tracked
        def remote_send(self, sim, name, message):
            name = NAME_BY_LABEL[name]
            k = C.sim(sim)
            owner = self.model.owner(name.key)
            what = "%s sends %r to %s" % (k.node, message, name.label)
            try:
                r = k.send(name.term, message.encode("utf-8"))
            except NotRegistered:
                r = "badarg"
            cover("remote_send to", "its own name" if owner and owner.node ==
                  k.node else "another Kazoo node" if owner and owner.kazoo
                  else "a PG owner" if owner else "an unknown name")
            if owner is None:
                check_eq(r, "badarg", what)
                return
            check_eq(r, "local" if owner.node == k.node else "sent", what)
            self.expect_message(owner, name, message, k.node, None)

        @rule(sim=sims, name=any_names, message=MESSAGES)
        @tracked
        def remote_call(self, sim, name, message):
            name = NAME_BY_LABEL[name]
            k = C.sim(sim)
            owner = self.model.owner(name.key)
            what = "%s calls %s with %r" % (k.node, name.label, message)
            cover("remote_call to", "its own name (skipped)" if owner and
                  owner.node == k.node else "another Kazoo node" if owner and
                  owner.kazoo else "a PG owner" if owner else
                  "an unknown name")
            if owner is None:
                try:
                    r = k.call(name.term, message.encode("utf-8"),
                               timeout_ms=10000)
                except NotRegistered:
                    r = "badarg"
                check_eq(r, "badarg", what)
                return
            if owner.node == k.node:
                return          # a call to itself: the simulator's business
            if owner.kazoo:     # another simulated node echoes
                check_eq(k.call(name.term, message.encode("utf-8"),
                                timeout_ms=10000),
                         message.encode("utf-8"), what)
                return
            result = {}

            def caller():
                result["reply"] = k.call(name.term, message.encode("utf-8"),
                                         timeout_ms=15000)

            t = threading.Thread(target=caller, daemon=True)
            t.start()
            try:
                tag = self.expect_message(owner, name, message, k.node, None,
                                          "call")
                o = self.sessions[owner.holder]
                check_eq(o.q("SELECT kz_globals.reply(%s, %s)",
                             (tag, "re: " + message)), [(True,)],
                         "reply() by %s to %s" % (o, k.node))
            finally:
                t.join(40)
            check_eq(result.get("reply"), ("re: " + message).encode("utf-8"),
                     what)

        # -- after every step ---------------------------------------------

        @invariant()
        @tracked
        def propagation(self):
            """Every node's table equals the model, within the bound."""
            C.await_state(self.model.expected_state(C), "after the step")

        def teardown(self):
            # An example Hypothesis abandons because its data ran out
            # (StopTest, on its way through here) is not a test case.
            abandoned = isinstance(sys.exc_info()[1], StopTest)
            ok_ = not Tally.example_failed
            try:
                if ok_:
                    self.check_quiet()
            except BaseException:
                ok_ = False
                raise
            finally:
                try:
                    C.reset(self.sessions.values())
                except BaseException:
                    ok_ = False
                    if not Tally.example_failed:
                        raise
                finally:
                    if not abandoned:
                        example_done(ok_)

        def check_quiet(self):
            """Nothing was left in a mailbox, no name was lost in a
            conflict, no node expired, no message was malformed."""
            for s in self.sessions.values():
                check_eq(s.receive(0), None, "%s's mailbox at the end" % s)
            for sim in C.sims:
                check_eq(sim.inbox(), [], "%s's inbox at the end" % sim.node)
                # (a pending claim that lost to an advertisement is fine)
                events = [e for e in sim.events(clear=False)
                          if e["event"] == "expired" or
                          (e["event"] == "name_lost" and
                           e["state"] == "local")]
                check_eq(events, [], "%s's events" % sim.node)
            check_eq(C.malformed(), self.malformed,
                     "malformed messages (bus_malformed on each server, "
                     "malformed + crashed handlers on each simulated node)")

    return KzGlobalsModel


def run_sequential(C):
    machine = make_machine(C)
    hypothesis.seed(SEED)(machine)
    run_state_machine_as_test(machine, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
        database=None, print_blob=True, derandomize=False,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.debug if VERBOSE else Verbosity.normal,
        phases=[Phase.explicit, Phase.generate, Phase.shrink]))


# ---------------------------------------------------------------------------
# Variants 2 and 3: concurrent claims
# ---------------------------------------------------------------------------

class Plan(collections.namedtuple(
        "Plan", "names contenders orders delays_us skews_ms slow_peer")):
    """One round: names, who claims (in which order, after which start
    offset), each simulated node's clock skew, and whether the slow peer
    is deaf during the round."""

    __slots__ = ()


def plans(C):
    everyone = C.session_labels + C.sim_labels

    @st.composite
    def plan(draw):
        names = draw(st.lists(st.sampled_from([n.label for n in PAR_NAMES]),
                              min_size=1, max_size=3, unique=True))
        contenders = draw(st.lists(st.sampled_from(everyone), min_size=2,
                                   max_size=len(everyone), unique=True))
        orders = {c: draw(st.permutations(names)) for c in contenders}
        delays = {c: draw(st.integers(0, 4000)) for c in contenders}
        skews = {c: draw(st.sampled_from([0, -20, -200, 20]))
                 for c in contenders if c.startswith("kazoo")}
        slow = draw(st.booleans())
        return Plan(names, contenders, orders, delays, skews, slow)

    return plan()


def parallel_round(C, plan, claim_ts):
    """Runs the claims of one plan at once and checks the outcome."""
    sessions = {}
    if plan.slow_peer:
        C.slow.deafen(True)
    try:
        for c in plan.contenders:
            if not c.startswith("kazoo"):
                sessions[c] = C.open_session(c)
        results = {}
        claim_times = {}            # (contender, name label) -> timestamp
        barrier = threading.Barrier(len(plan.contenders))

        def note_token(c, label, name):
            """A PostgreSQL claim that said yes: its timestamp (the token)
            while its row is still local here; a claim that lost before
            this look stays without a known timestamp."""
            t = sessions[c].attempt(
                "SELECT token FROM kz_globals.registrations WHERE name = %s "
                "AND state = 'local' AND pid = pg_backend_pid()",
                (name.text,))
            if t.code is None and len(t.rows) == 1:
                claim_times[(c, label)] = t.rows[0][0]

        def contender(c):
            try:
                barrier.wait(30)
                time.sleep(plan.delays_us[c] / 1e6)
                for label in plan.orders[c]:
                    name = NAME_BY_LABEL[label]
                    if c in sessions:
                        r = sessions[c].attempt(
                            "SELECT kz_globals.register_name(%s)",
                            (name.text,))
                        r = r.rows[0][0] if r.code is None else r
                        if r is True:
                            note_token(c, label, name)
                    else:
                        ts = now_us() + plan.skews_ms[c] * 1000
                        claim_times[(c, label)] = ts
                        r = C.sim(c).register(name.term, timestamp=ts,
                                              claim_timestamp=claim_ts)
                    results[(c, label)] = r
            except Exception as exc:  # noqa: BLE001 - reported below
                results[(c, "?")] = exc

        threads = [threading.Thread(target=contender, args=(c,), daemon=True)
                   for c in plan.contenders]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        check(not any(t.is_alive() for t in threads), "a claim hung")
        bad = {k: v for k, v in results.items() if not isinstance(v, bool)}
        check(not bad, "claims that failed: %r", bad)
        report = "claims: %s" % ", ".join(
            "%s %s %s" % (c, label, "yes" if results[(c, label)] else "no")
            for c in plan.contenders for label in plan.orders[c])

        def node_of(c):
            return C.sim(c).node if c.startswith("kazoo") else sessions[c].node

        def pid_of(c):
            return None if c.startswith("kazoo") else sessions[c].pid

        for label in plan.names:
            check(any(results[(c, label)] for c in plan.contenders),
                  "%s: every claim said no, so no claim won (%s):\n%s",
                  label, report, describe_views(C, plan.names)[0])
        owners = settle(C, plan.names, report)
        losses = {}
        for label in plan.names:
            name = NAME_BY_LABEL[label]
            yes = [c for c in plan.contenders if results[(c, label)]]
            pg_yes = [c for c in yes if c in sessions]
            cover("names claimed" + (" with a deaf peer" if plan.slow_peer
                                     else ""))
            if len(yes) > 1:
                cover("double yes:", " and ".join(sorted(
                    "PG" if c in sessions else "Kazoo" for c in yes)))
            if claim_ts:
                check(not pg_yes or len(yes) == 1,
                      "%s: a PostgreSQL claim and another claim both said "
                      "yes although every claim carried its timestamp (%s)",
                      label, report)
            else:
                check(len(pg_yes) <= 1, "%s: two PostgreSQL claims both "
                      "said yes (%s; request_timeout is %d ms, a node that "
                      "does not answer in time counts as approving)", label,
                      report, SLOW_TIMEOUT_MS)
            onode, opid, otoken = owners[label]
            winners = [c for c in yes if (node_of(c), pid_of(c)) ==
                       (onode, opid)]
            check(len(winners) == 1, "%s: the owner %s/%s is not one of the "
                  "claims that said yes (%s)", label, onode, opid, report)
            check_owner_by_rules(C, label, yes, winners[0], otoken,
                                 claim_times, node_of, report)
            for c in yes:
                if c == winners[0]:
                    continue
                others = {node_of(o) for o in yes if o != c}
                if c in sessions:
                    losses.setdefault(c, []).append((name, others))
                    cover("name_lost system message received by a PG loser")
                else:
                    expect_sim_name_lost(C.sim(c), name, others, report)
                    cover("name_lost event on a Kazoo loser")
        for c, lost in losses.items():
            expect_names_lost(sessions[c], lost, report)
        # nobody else was told anything
        for c, s in sessions.items():
            check_eq(s.receive(0), None, "%s's mailbox (%s)" % (c, report))
        for sim in C.sims:
            lost = [e for e in sim.events(clear=False)
                    if e["event"] == "name_lost" and e["state"] == "local"]
            check_eq(lost, [], "unexpected name_lost events on %s (%s)"
                     % (sim.node, report))
        if VERBOSE:
            log("  %s%s", report, ", slow peer" if plan.slow_peer else "")
    finally:
        try:
            C.reset(sessions.values())
        finally:
            C.slow.deafen(False)


def check_owner_by_rules(C, label, yes, winner, otoken, claim_times, node_of,
                         report):
    """The owner is the claim the C rules prefer among the claims that
    said yes whose timestamps are known (each simulated node's, which
    this program chose; a PostgreSQL claim's token, read just after its
    yes if its row was still local; the owner's token), and it beats
    every other one of them: each of those was told it lost (checked by
    the caller for every claim that said yes)."""
    known = [(node_of(c), claim_times[(c, label)]) for c in yes
             if (c, label) in claim_times]
    owner = (node_of(winner), otoken)
    if (winner, label) in claim_times:
        check_eq(otoken, claim_times[(winner, label)], "%s: the token of "
                 "its owner %s, the timestamp of its claim (%s)"
                 % (label, winner, report))
    else:
        known.append(owner)
    if len(known) < 2:
        return
    best = ORACLE.preferred(known, C.all_nodes)
    check(best == owner, "%s: the owner is %r, but the C rules prefer %r "
          "among the claims that said yes %r (%s)", label, owner, best,
          known, report)
    for node, ts in known:
        if (node, ts) != owner:
            check(ORACLE.beats(otoken, owner[0], ts, node), "%s: the owner "
                  "%r does not beat the claim %r by the C rule, yet that "
                  "one lost (%s)", label, owner, (node, ts), report)
    cover("double yes: the owner is the claim the C rules prefer")


def settle(C, labels, report):
    """Waits until, for each name, every node agrees on one owner (local
    on the owner's node, remote with that owner everywhere else, no
    pending row) and that stays so.

    A simulated Kazoo node may hold no row at all: as Kazoo does, it
    ignores an advertisement younger than its own pending claim, and then
    drops that claim when it loses (see the research notes, 3.6.2 and
    5.1), so it learns the owner only when it asks.  Such a node must then
    find the agreed owner with whereis (a query), and hold it afterwards.
    Returns {label: (node, pid, token)}.
    """
    deadline = time.monotonic() + CONVERGE_S
    stable_since = None
    asked = set()
    while True:
        views, owners, agreed, absent = describe_views(C, labels)
        if agreed and absent:
            for label, node in absent:
                sim = C.sims[C.sim_nodes.index(node)]
                row = sim.whereis(NAME_BY_LABEL[label].term)
                got = None if row is None else (row["state"], row["node"])
                check_eq(got, ("remote", owners[label][0]),
                         "%s does not hold %s; whereis asked the cluster "
                         "(%s):\n%s" % (node, label, report, views))
                asked.add((label, node))
                cover("Kazoo node without a row found the owner by whereis")
            stable_since = None
        elif agreed:
            if stable_since is None:
                stable_since = time.monotonic()
            elif time.monotonic() - stable_since > 0.3:
                if VERBOSE and asked:
                    log("  learnt by whereis: %s", sorted(asked))
                return owners
        else:
            stable_since = None
        if time.monotonic() > deadline:
            raise AssertionError("the nodes do not agree on one owner per "
                                 "name within %.1f s (%s):\n%s\n%s\n%s"
                                 % (CONVERGE_S, report,
                                    disagreement(C, labels), views,
                                    C.membership()))
        time.sleep(0.02)


def disagreement(C, labels):
    """Says, for each name the nodes disagree on, which nodes are only
    behind (no row, or a pending one, where others name an owner) and which
    are wrong (they name another owner, or there is not exactly one local
    row).  Only for the report: agreement itself is decided by
    describe_views, whatever this says."""
    lines = []
    for label in labels:
        render = NAME_BY_LABEL[label].render
        held = {}
        for i, node in enumerate(C.pg_nodes):
            mine = [r for r in C.pg_rows(i).elements()
                    if r[0] in (render, label)]
            held[node] = [(r[1], r[2]) for r in mine]
        for sim in C.sims:
            held[sim.node] = [(r["state"], r["node"]) for r in sim.table()
                              if etf.encode(r["name"]) ==
                              NAME_BY_LABEL[label].key]
        owners = sorted({n for n, rows in held.items()
                         for st_, _ in rows if st_ == "local"})
        named = collections.Counter(o for rows in held.values()
                                    for st_, o in rows if st_ != "pending")
        behind = sorted(n for n, rows in held.items()
                        if not rows or all(r[0] == "pending" for r in rows))
        wrong = sorted(n for n, rows in held.items()
                       if len(rows) > 1 or any(
                           st_ != "pending" and len(owners) == 1 and
                           o != owners[0] for st_, o in rows))
        if len(owners) == 1 and not behind and not wrong:
            continue
        lines.append("  %s: owners (local rows) %s; named %s; behind (no "
                     "row or pending) %s; wrong (another owner) %s"
                     % (label, owners or "none", dict(named), behind or "-",
                        wrong or "-"))
    return "\n".join(lines) or "  (agreed when re-read)"


def describe_views(C, labels):
    """Every node's rows; each name's owner (node, pid, token) if all
    nodes agree on one; the (name, simulated node) pairs where that node
    holds no row."""
    rows = {}
    for i, node in enumerate(C.pg_nodes):
        rows[node] = [r for r in C.pg_rows(i).elements()]
    for sim in C.sims:
        rows[sim.node] = [(key_label(etf.encode(r["name"])), r["state"],
                           r["node"], None, None, r["timestamp"])
                          for r in sim.table()]
    owners = {}
    absent = []
    agreed = True
    names = {NAME_BY_LABEL[label].render: label for label in labels}
    for node, rs in rows.items():
        for r in rs:
            if r[0] not in names and r[0] not in labels:
                agreed = False          # a name that is not in the round
    for label in labels:
        render = NAME_BY_LABEL[label].render
        seen = {}
        for node, rs in rows.items():
            mine = [r for r in rs if r[0] in (render, label)]
            if not mine and node in C.sim_nodes:
                absent.append((label, node))
            elif len(mine) != 1:
                agreed = False
            else:
                seen[node] = mine[0]
        locals_ = [n for n, r in seen.items() if r[1] == "local"]
        if len(locals_) != 1:
            agreed = False
            continue
        onode = locals_[0]
        opid = seen[onode][3] if onode in C.pg_nodes else None
        otoken = seen[onode][5]
        for node, r in seen.items():
            state_ok = r[1] == ("local" if node == onode else "remote")
            pid_ok = node in C.sim_nodes or r[3] == opid
            if not (state_ok and r[2] == onode and pid_ok and
                    r[5] == otoken):
                agreed = False
        owners[label] = (onode, opid, otoken)
    text = "\n".join("  %s: %s" % (node, sorted(map(repr, rs)))
                     for node, rs in rows.items())
    return text, owners, agreed, absent


def expect_names_lost(s, lost, report):
    """s said yes to every (name, winners) in lost and lost them all: one
    name_lost message for each, in the order the conflicts were decided
    (which need not be the plan's)."""
    pending = {name.render: (name, winners) for name, winners in lost}
    while pending:
        labels = ", ".join(sorted(n.label for n, _ in pending.values()))
        got = s.receive(RECV_MS)
        check(got is not None, "%s said yes to %s and lost, but got no "
              "name_lost message in %d ms (%s)", s, labels, RECV_MS, report)
        check_eq(got[1], "system", "%s's message kind (%s)" % (s, report))
        body = json.loads(got[2])
        check(body.get("event") == "name_lost" and
              body.get("name") == got[0] and got[0] in pending,
              "%s's system message %r is not the name_lost of one of %s "
              "(%s)", s, got, labels, report)
        name, winners = pending.pop(got[0])
        check(body.get("winner_node") in winners and
              got[3] == body["winner_node"],
              "%s lost %s to %r, not to one of the other claims that said "
              "yes %r (%s)", s, name.label, body.get("winner_node"),
              sorted(winners), report)


def expect_sim_name_lost(sim, name, winners, report):
    deadline = time.monotonic() + CONVERGE_S
    while True:
        events = sim.events(clear=False)
        lost = [e for e in events if e["event"] == "name_lost" and
                e["state"] == "local" and etf.encode(e["name"]) == name.key]
        if lost or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    check_eq(len(lost), 1, "name_lost events of %s for %s (%s)"
             % (sim.node, name.label, report))
    check(lost[0]["winner"] in winners, "%s lost %s to %r, not to one of the "
          "other claims that said yes %r (%s)", sim.node, name.label,
          lost[0]["winner"], sorted(winners), report)
    # consume it, so that the final check sees only unexpected ones
    with sim._lock:
        sim._events.remove(lost[0])


def run_parallel(C, claim_ts):
    @hypothesis.seed(SEED)
    @settings(max_examples=PAR_EXAMPLES, deadline=None, database=None,
              print_blob=True, suppress_health_check=list(HealthCheck),
              verbosity=Verbosity.verbose if VERBOSE else Verbosity.normal,
              phases=[Phase.explicit, Phase.generate, Phase.shrink])
    @given(plan=plans(C))
    def concurrent_claims(plan):
        Tally.example_failed = False
        good = False
        try:
            parallel_round(C, plan, claim_ts)
            good = True
        finally:
            example_done(good)

    concurrent_claims()


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cluster", required=True,
                        help="the directory of test/perl/kz_cluster.pl")
    parser.add_argument("--variants", default=os.environ.get(
        "KZ_MODEL_VARIANTS") or ",".join(VARIANTS))
    parser.add_argument("--result", help="also write 'N M' (passed, "
                        "failed) to this file")
    args = parser.parse_args()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    for v in variants:
        if v not in VARIANTS:
            parser.error("unknown variant %r (%s)" % (v, ", ".join(VARIANTS)))
    variants = [v for v in VARIANTS if v in variants]

    log("model: seed %d (replay: %s), hypothesis %s", SEED,
        replay_command(variants), hypothesis.__version__)
    global ORACLE
    try:
        ORACLE = Oracle(ORACLE_LIB)
    except OSError as exc:
        log("model: cannot load the rules oracle %s (%s); build it with "
            "make PG_CONFIG=... test/py/librules_oracle.so", ORACLE_LIB, exc)
        finish(args, 0, 1)
        return 1
    bad = oracle_self_check(ORACLE, SEED)
    if bad:
        log("model: the C rules (%s) and kazoo_sim.beats() disagree:\n  %s",
            ORACLE_LIB, "\n  ".join(bad[:10]))
        finish(args, 0, 1)
        return 1
    log("model: the C rules and kazoo_sim.beats() agree on random claims")
    Tally.passed += 1
    start = time.monotonic()
    try:
        C = Cluster(args.cluster)
    except Exception:  # noqa: BLE001
        traceback.print_exc(file=sys.stdout)
        log("model: could not set up the cluster and the simulated nodes")
        finish(args, 0, 1)
        return 1
    log("model: %d servers %s, %d simulated Kazoo nodes %s, %d owner "
        "sessions per server (%.1f s to set up)", len(C.pg_nodes),
        ", ".join(C.pg_nodes), len(C.sims), ", ".join(C.sim_nodes),
        SESSIONS_PER_SERVER, time.monotonic() - start)
    runs = {
        "sequential": (run_sequential, "state machine, %d examples x %d steps"
                       % (EXAMPLES, STEPS)),
        "parallel": (lambda c: run_parallel(c, False),
                     "concurrent claims, Kazoo claims without timestamps, "
                     "%d examples" % PAR_EXAMPLES),
        "parallel_ts": (lambda c: run_parallel(c, True),
                        "concurrent claims, Kazoo claims with timestamps, "
                        "%d examples" % PAR_EXAMPLES),
    }
    try:
        for v in variants:
            fn, what = runs[v]
            log("model: %s: %s (seed %d)", v, what, SEED)
            t0 = time.monotonic()
            p0 = Tally.passed
            Tally.variant_failed = False
            raised = False
            try:
                if v.startswith("parallel") and C.slow is None:
                    C.add_slow_peer()
                fn(C)
            except BaseException as exc:  # noqa: BLE001
                if isinstance(exc, KeyboardInterrupt):
                    raise
                raised = True
                log("model: %s FAILED (replay: %s):", v,
                    replay_command([v]))
                traceback.print_exc(file=sys.stdout)
            failed = 1 if raised or Tally.variant_failed else 0
            Tally.failed += failed
            if COVERAGE:
                log("model: %s exercised:\n%s", v, "\n".join(
                    "  %6d  %s" % (n, what)
                    for what, n in sorted(COVERAGE.items())))
                COVERAGE.clear()
            log("model: %s: %d passed, %d failed in %.0f s", v,
                Tally.passed - p0, failed, time.monotonic() - t0)
    finally:
        try:
            C.remove_slow_peer()
        finally:
            C.close()
    log("model: %.0f s in all, seed %d", time.monotonic() - start, SEED)
    finish(args, Tally.passed, Tally.failed)
    return 1 if Tally.failed else 0


def replay_command(variants):
    """The command that runs these variants again with this seed and these
    counts (test/run.sh passes every KZ_MODEL_* variable through)."""
    return ("KZ_MODEL_SEED=%d KZ_MODEL_EXAMPLES=%d KZ_MODEL_STEPS=%d "
            "KZ_MODEL_PAR_EXAMPLES=%d KZ_MODEL_VARIANTS=%s SUITES=model "
            "make test" % (SEED, EXAMPLES, STEPS, PAR_EXAMPLES,
                           ",".join(variants)))


def finish(args, passed, failed):
    if args.result:
        with open(args.result, "w") as f:
            f.write("%d %d\n" % (passed, failed))
    log("%d passed, %d failed", passed, failed)


if __name__ == "__main__":
    sys.exit(main())
