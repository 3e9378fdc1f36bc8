#!/usr/bin/python3
"""A simulated Kazoo node for testing kz_globals over a real RabbitMQ.

``KazooNode`` is a real AMQP client (pika) that behaves on the bus the way
Kazoo's ``kz_globals`` and ``kz_nodes`` do (see
``shared/research/kz_globals.md``), with Kazoo's registry semantics:

* topology: exchanges ``globals`` (topic), ``targeted`` (direct) and
  ``nodes`` (fanout), non-durable; a kz_globals queue named like Kazoo's
  (``<node>-kz_globals-<0.N.0>-<8 hex>``, auto-delete; exclusive, where
  Kazoo's is not, see ``_connect``) bound to ``globals`` with
  ``globals.*.*`` and to ``targeted`` with its own name; a second queue,
  like kz_nodes' own (``<node>-kz_nodes-...``), bound to ``nodes`` (and to
  ``targeted``);
* messages as real Kazoo writes them (captured from Kazoo's own nodes, see
  test/fixtures/kazoo): Msg-ID 16 hex digits (32 on heartbeats);
  System-Log-ID (the Msg-ID) on claims, queries and calls; Server-ID on
  claims, advertisements, queries, calls and answers that name an owner,
  not on answers with State=none, sends, unregisters or replies; Name in
  replies; atoms as ATOM_EXT (tag 100, OTP 25); AMQP properties
  content_type and timestamp (Gregorian microseconds);
* heartbeats (``nodes``/``advertise`` from ``kz_nodes``, no Server-ID,
  ``Expires`` an integer of milliseconds, ``Globals`` = counts of the table
  by state, and the VM figures Kazoo sends),
  expiry of peers after ``Expires`` x 1.25, checked every second, which
  drops the expired node's remote rows;
* claims (``register`` with ``State=pending``, by default without a
  ``Timestamp`` as Kazoo sends them), answered with ``register_resp`` by
  Kazoo's rules; advertisements (``State=registered``) resolved by "older
  timestamp wins, ties to the smaller node name"; queries; unregisters
  (obeyed only from the owner node: a well-behaved peer, unlike Kazoo);
  ``send``/``call`` delivered into an inbox for names owned here, calls
  answered with ``reply``;
* as a client: ``register``, ``whereis``, ``unregister``, ``send``,
  ``call`` as Kazoo's API and proxies do them.

Where it differs from Kazoo, on purpose:

* an ``unregister`` is obeyed only from the owner node (Kazoo obeys any);
* a failed claim removes its pending row (Kazoo leaves it while the
  registrant lives: ``keep_failed_pending=True`` mimics that);
* deliveries are handled one at a time, in order (Kazoo spawns a process
  per delivery), and a claim reply with an unknown State denies the claim
  (Kazoo's claim worker crashes and its caller waits a day);
* the heartbeat period is fixed (Kazoo draws 5-15 s) and Expires equals
  it, so peers expire the node 1.25 periods after its last heartbeat;
* requests collect their replies on the kz_globals queue (Kazoo's use the
  queue of a kz_amqp_worker, ``<node>-kz_amqp_worker-<pid>-<8 hex>``);
* ``heartbeat_server_id=True`` puts kz_nodes' queue in heartbeats as
  Server-ID, which real Kazoo does not;
* expiry always reaches the registry (Kazoo may lose that subscription,
  defect 7.8); ``expire_names=False`` keeps an expired node's rows;
* routing keys are cut to 255 bytes (Kazoo would fail to publish);
* there is no federation, and only one kind of proxy state: a remote row.

It can be used as a library (one I/O thread owns the connection; every
public method is safe to call from any other thread) or as a subprocess
driven by JSON lines on stdin (the protocol is in ``USAGE`` below and in
``--help``).  Only the Python 3 standard library and Debian's python3-pika
are needed.
"""

import argparse
import base64
import json
import os
import random
import sys
import threading
import time

import pika

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import etf  # noqa: E402
from etf import Atom  # noqa: E402

APP_NAME = "kazoo_globals"
NODES_APP_NAME = "kz_nodes"
APP_VERSION = "4.0.0"
EXCHANGE_GLOBALS = "globals"
EXCHANGE_TARGETED = "targeted"
EXCHANGE_NODES = "nodes"

# Microseconds between year 0 of the Gregorian calendar and 1970.
GREGORIAN_OFFSET_US = 62167219200 * 10 ** 6

# Kazoo's start-up grace: for 2 minutes a request waits for 10 replies/10 s.
GRACE_SECONDS = 120
GRACE_REPLIES = 10
GRACE_TIMEOUT_MS = 10000

# How long a Kazoo proxy waits for the reply to a call.
PROXY_CALL_TIMEOUT_MS = 2000


def now_us():
    """Kazoo's kz_time:now_us(): microseconds since Gregorian year 0."""
    return time.time_ns() // 1000 + GREGORIAN_OFFSET_US


def random_hex(nbytes):
    """Lower-case hex of random bytes, as kz_binary:rand_hex/1."""
    return os.urandom(nbytes).hex()


def globals_msg_id():
    """A Msg-ID as Kazoo's kz_globals messages carry: 16 hex digits."""
    return random_hex(8)


def beats(ts_a, node_a, ts_b, node_b):
    """Whether registration A wins over B: the older timestamp, then the
    smaller node name.  A missing timestamp (undefined in Erlang) sorts
    after every integer, as atoms do after numbers."""
    key_a = (ts_a is None, ts_a or 0)
    key_b = (ts_b is None, ts_b or 0)
    if key_a != key_b:
        return key_a < key_b
    return node_a.encode("utf-8") < node_b.encode("utf-8")


# ---------------------------------------------------------------------------
# Routing keys (kapi_globals:routing_key/2 and kz_amqp_util:encode/1)
# ---------------------------------------------------------------------------

_KEEP = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  b"0123456789-~_*#")


def escape_binary_key(data):
    """The AMQP escaping of a binary name: kept, '+', %2E or %XX."""
    parts = []
    for byte in data:
        if byte in _KEEP:
            parts.append(chr(byte))
        elif byte == 0x20:
            parts.append("+")
        else:
            parts.append("%%%02X" % byte)
    return parts


def routing_key(event, name_buf):
    """``globals.<event>.<name>`` for a name's term buffer.

    A binary name is its escaped bytes, any other term the lower-case hex of
    the base64 of its term buffer.  Cut to 255 bytes (never inside an
    escape), the longest key AMQP allows, as kz_globals does.
    """
    prefix = "globals.%s." % event
    term = etf.decode(name_buf)
    if isinstance(term, bytes):
        parts = escape_binary_key(term)
    else:
        parts = list(base64.b64encode(name_buf).hex())
    key = prefix
    for part in parts:
        if len(key) + len(part) > 255:
            break
        key += part
    return key


# ---------------------------------------------------------------------------
# Table rows
# ---------------------------------------------------------------------------

class Row:
    """One entry of the node's name table, like Kazoo's #kz_global{}."""

    __slots__ = ("name", "state", "node", "timestamp", "server", "zone")

    def __init__(self, name, state, node, timestamp, server, zone):
        self.name = name
        self.state = state
        self.node = node
        self.timestamp = timestamp
        self.server = server
        self.zone = zone

    def as_dict(self):
        """The row as plain data (name as a Python term)."""
        return {"name": self.name, "state": self.state, "node": self.node,
                "timestamp": self.timestamp, "server": self.server,
                "zone": self.zone}


class NotRegistered(Exception):
    """send/call to a name this node does not know (Kazoo's badarg)."""


class _Collector:
    """Replies gathered for one request, matched by its Msg-ID."""

    def __init__(self, expected):
        self.expected = expected
        self.replies = []


# ---------------------------------------------------------------------------
# The simulated node
# ---------------------------------------------------------------------------

class KazooNode:
    """A simulated Kazoo node (kz_globals + kz_nodes) on a real broker.

    Parameters:
      uri            AMQP URI, e.g. amqp://guest:guest@127.0.0.1:5672/%2f
      node           the Erlang node name, e.g. kazoo1@sim.local
      heartbeat_ms   kz_nodes heartbeat period (Kazoo: 5-15 s; default 1 s)
      expires_ms     the Expires it advertises (default: heartbeat_ms, as
                     Kazoo does; peers expire it after 1.25 x this)
      zone           its zone
      request_timeout_ms  how long a claim or query collects (Kazoo: 2000)
      claim_timestamp     put the claim's Timestamp in claims (Kazoo: no)
      keep_failed_pending leave a failed claim's pending row (Kazoo defect
                          7.1, when the registrant lives on)
      startup_grace  use Kazoo's 2-minute grace (10 replies, 10 s)
      expire_names   drop an expired node's rows (Kazoo: yes, when kz_nodes
                     notifies kz_globals)
      atom_tag       100 to write atoms as OTP 25 does (the default, as
                     the Kazoo measured), 119 as OTP 26+
      heartbeat_server_id  put kz_nodes' queue in heartbeats (Kazoo: no)
      log            a callable for debug lines, or None
    """

    def __init__(self, uri, node, heartbeat_ms=1000, expires_ms=None,
                 zone="local", request_timeout_ms=2000,
                 claim_timestamp=False, keep_failed_pending=False,
                 startup_grace=False, expire_names=True,
                 atom_tag=etf.ATOM_EXT, heartbeat_server_id=False, log=None):
        self.uri = uri
        self.node = node
        self.zone = zone
        self.heartbeat_ms = heartbeat_ms
        self.expires_ms = heartbeat_ms if expires_ms is None else expires_ms
        self.request_timeout_ms = request_timeout_ms
        self.claim_timestamp = claim_timestamp
        self.keep_failed_pending = keep_failed_pending
        self.startup_grace = startup_grace
        self.expire_names = expire_names
        self.atom_tag = atom_tag
        self.heartbeat_server_id = heartbeat_server_id
        self._log = log
        self.queue = self._queue_name("kz_globals")
        self.nodes_queue = self._queue_name("kz_nodes")
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._table = {}
        self._nodes = {}
        self._collectors = {}
        self._inbox = []
        self._calls = {}
        self._events = []
        self._auto_reply = None
        self._heartbeating = True
        self._deaf = False
        self._mute = False
        self._stopping = False
        self._started_at = time.monotonic()
        self._conn = None
        self._channel = None
        self._thread = None
        self._ready = threading.Event()
        self._error = None
        self.counters = {"malformed": 0, "crashed_handlers": 0,
                         "received": 0, "published": 0}

    # -- lifecycle --------------------------------------------------------

    def _queue_name(self, module):
        """A queue name as Kazoo builds it: <node>-<module>-<pid>-<8 hex>."""
        return "%s-%s-<0.%d.0>-%s" % (self.node, module,
                                      random.randint(100, 99999), random_hex(4))

    def start(self, timeout=30):
        """Connects, declares the topology, starts consuming; returns self."""
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="kazoo-sim-" + self.node)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("simulated node %s did not connect" % self.node)
        if self._error is not None:
            raise self._error
        return self

    def close(self):
        """Stops the I/O thread and closes the connection (queues go)."""
        self._stopping = True
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self):
        if self._thread is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def debug(self, fmt, *args):
        if self._log is not None:
            self._log("[%s] %s" % (self.node, fmt % args))

    # -- the I/O thread ---------------------------------------------------

    def _run(self):
        """Owns the connection: declares, consumes and runs timers."""
        try:
            self._connect()
        except Exception as exc:  # reported to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        next_heartbeat = 0.0
        next_sweep = time.monotonic() + 1.0
        try:
            while not self._stopping:
                self._conn.process_data_events(time_limit=0.02)
                now = time.monotonic()
                if now >= next_heartbeat:
                    if self._heartbeating:
                        self._publish_heartbeat()
                    next_heartbeat = now + self.heartbeat_ms / 1000.0
                if now >= next_sweep:
                    self._expire_nodes(now)
                    next_sweep = now + 1.0
        except Exception as exc:
            self._error = exc
            self.debug("I/O thread failed: %r", exc)
        finally:
            try:
                self._conn.close()
            except Exception:
                pass
            with self._cond:
                self._stopping = True
                self._cond.notify_all()

    def _connect(self):
        params = pika.URLParameters(self.uri)
        self._conn = pika.BlockingConnection(params)
        ch = self._conn.channel()
        self._channel = ch
        ch.exchange_declare(EXCHANGE_GLOBALS, "topic", durable=False,
                            auto_delete=False)
        ch.exchange_declare(EXCHANGE_TARGETED, "direct", durable=False,
                            auto_delete=False)
        ch.exchange_declare(EXCHANGE_NODES, "fanout", durable=False,
                            auto_delete=False)
        for q in (self.queue, self.nodes_queue):
            # Kazoo itself declares these non-durable, auto-delete and not
            # exclusive: a transient non-exclusive queue, which RabbitMQ 4
            # deprecates (transient_nonexcl_queues, a warning in its log;
            # refused once the feature is denied).  Exclusive is what the
            # queues are in effect (one consumer, this connection, gone
            # with it), and what a Kazoo node should declare to share a
            # RabbitMQ 4 broker; see the README's platform notes.
            ch.queue_declare(q, durable=False, auto_delete=True,
                             exclusive=True)
            ch.queue_bind(q, EXCHANGE_TARGETED, routing_key=q)
        ch.queue_bind(self.queue, EXCHANGE_GLOBALS, routing_key="globals.*.*")
        ch.queue_bind(self.nodes_queue, EXCHANGE_NODES, routing_key="")
        ch.basic_consume(self.queue, self._on_delivery, auto_ack=True)
        ch.basic_consume(self.nodes_queue, self._on_delivery, auto_ack=True)

    def _in_io(self, fn, wait=True):
        """Runs fn in the I/O thread; waits for it unless wait is False."""
        if threading.current_thread() is self._thread:
            return fn()
        if self._stopping or self._conn is None:
            raise ConnectionError("simulated node %s is stopped" % self.node)
        done = threading.Event()
        box = {}

        def call():
            try:
                box["value"] = fn()
            except Exception as exc:
                box["error"] = exc
            done.set()

        self._conn.add_callback_threadsafe(call)
        if not wait:
            return None
        while not done.wait(0.5):
            if self._stopping:
                raise ConnectionError("simulated node %s stopped" % self.node)
        if "error" in box:
            raise box["error"]
        return box.get("value")

    # -- publishing -------------------------------------------------------

    def _basic_publish(self, exchange, key, body, properties=None):
        """Publishes in the I/O thread (call only from there)."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        props = properties or pika.BasicProperties(
            content_type="application/json", timestamp=now_us())
        self._channel.basic_publish(exchange, key, body, properties=props)
        self.counters["published"] += 1

    def publish_raw(self, exchange, routing_key, body, **props):
        """Publishes any body with any AMQP properties (for forging/fuzzing).

        ``body`` is bytes, a str, or a dict/list (sent as JSON).  ``props``
        are pika.BasicProperties fields (content_type defaults to
        application/json).
        """
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        props.setdefault("content_type", "application/json")
        properties = pika.BasicProperties(**props)
        self._in_io(lambda: self._basic_publish(exchange, routing_key, body,
                                                properties))

    def envelope(self, event, category="globals", app_name=APP_NAME,
                 msg_id=None, node=None, server_id=None):
        """Kazoo's envelope fields for a message (any Node may be forged).
        Server-ID is our queue unless given; False leaves it out."""
        body = {"App-Name": app_name, "App-Version": APP_VERSION,
                "Event-Category": category, "Event-Name": event,
                "Msg-ID": msg_id or globals_msg_id(),
                "Node": node or self.node}
        if server_id is not False:
            body["Server-ID"] = self.queue if server_id is None else server_id
        return body

    def _encode_name(self, name):
        return etf.encode(name, self.atom_tag)

    def _globals_msg(self, event, name, fields, msg_id=None, server_id=None):
        """A globals message about a name: envelope, Name, fields."""
        body = self.envelope(event, msg_id=msg_id, server_id=server_id)
        body["Name"] = base64.b64encode(self._encode_name(name)).decode()
        body.update(fields)
        return body

    def _broadcast(self, event, name, fields, msg_id=None, server_id=None):
        """Publishes an event about a name on globals (in the I/O thread).
        Requests that collect replies carry System-Log-ID, as Kazoo's
        kz_amqp_worker sets it."""
        body = self._globals_msg(event, name, fields, msg_id=msg_id,
                                 server_id=server_id)
        if event in ("query", "call") or fields.get("State") == "pending":
            body["System-Log-ID"] = body["Msg-ID"]
        key = routing_key(event, self._encode_name(name))
        self._basic_publish(EXCHANGE_GLOBALS, key, json.dumps(body))

    def _targeted(self, queue_name, body):
        """Publishes a message to one queue (in the I/O thread)."""
        self._basic_publish(EXCHANGE_TARGETED, queue_name, json.dumps(body))

    def _advertise(self, row):
        """Broadcasts State=registered for a row owned here."""
        self._broadcast("register", row.name, {
            "State": "registered", "Timestamp": row.timestamp})

    # -- heartbeats and expiry (kz_nodes) ---------------------------------

    def stats(self):
        """kz_globals:stats(): count per state, or {"total": 0}."""
        with self._lock:
            counts = {}
            for row in self._table.values():
                counts[row.state] = counts.get(row.state, 0) + 1
        return counts or {"total": 0}

    def _publish_heartbeat(self):
        body = self.envelope("advertise", category="nodes",
                             app_name=NODES_APP_NAME, msg_id=random_hex(16),
                             server_id=(self.nodes_queue
                                        if self.heartbeat_server_id else False))
        body.update({
            "Expires": self.expires_ms,
            "Zone": self.zone,
            "Globals": self.stats(),
            "Version": "5.0 - 25",
            "Used-Memory": 0, "Processes": threading.active_count(),
            "Ports": 0, "Channels": 0, "Conferences": 0, "Registrations": 0,
            "Node-Info": {}, "WhApps": {}, "md5": random_hex(8),
        })
        self._basic_publish(EXCHANGE_NODES, "", json.dumps(body))

    def heartbeat_stop(self, deaf=False):
        """Stops heartbeating (peers will expire this node).  With deaf, also
        ignores every delivery, as a node cut off by a partition would."""
        with self._lock:
            self._heartbeating = False
            self._deaf = deaf

    def deafen(self, deaf=True):
        """Ignores (or hears again) all kz_globals traffic while heartbeats
        go on both ways: a node that peers count as up but that never
        answers (its table and its view of the peers stay as they are)."""
        with self._lock:
            self._mute = deaf

    def heartbeat_start(self):
        """Resumes heartbeats (at once) and hearing deliveries."""
        with self._lock:
            self._heartbeating = True
            self._deaf = False
            self._mute = False
        self._in_io(self._publish_heartbeat)

    def _on_heartbeat(self, msg):
        node = msg.get("Node")
        if not isinstance(node, str) or node == self.node:
            return
        try:
            expires = int(msg.get("Expires", 0))
        except (TypeError, ValueError):
            expires = 0
        globals_ = msg.get("Globals")
        with self._lock:
            known = node in self._nodes
            self._nodes[node] = {
                "node": node, "expires_ms": int(expires * 1.25),
                "last": time.monotonic(), "zone": msg.get("Zone"),
                "globals": globals_ if isinstance(globals_, dict) else {},
                "pg": "PG-Globals-Version" in msg}
        if not known:
            self.debug("node %s is up", node)

    def _expire_nodes(self, now):
        """kz_nodes' sweep: forget silent nodes and, like kz_globals on
        expire, delete the rows they owned."""
        with self._lock:
            gone = [n for n, info in self._nodes.items()
                    if now > info["last"] + info["expires_ms"] / 1000.0]
            for node in gone:
                del self._nodes[node]
                dropped = 0
                if self.expire_names:
                    for key in [k for k, r in self._table.items()
                                if r.node == node and r.state == "remote"]:
                        del self._table[key]
                        dropped += 1
                self._events.append({"event": "expired", "node": node,
                                     "dropped": dropped})
                self.debug("node %s expired, %d names dropped", node, dropped)

    def _expected_replies(self):
        """How many replies a request waits for, and for how long."""
        if self.startup_grace and \
                time.monotonic() - self._started_at < GRACE_SECONDS:
            return GRACE_REPLIES, GRACE_TIMEOUT_MS
        with self._lock:
            count = sum(1 for info in self._nodes.values() if info["globals"])
        return count, self.request_timeout_ms

    # -- deliveries -------------------------------------------------------

    def _on_delivery(self, channel, method, properties, body):
        """Every message from either queue, in the I/O thread."""
        self.counters["received"] += 1
        if self._deaf:
            return
        try:
            msg = json.loads(body)
            if not isinstance(msg, dict):
                raise ValueError("not an object")
        except ValueError:
            self.counters["malformed"] += 1
            return
        category, event = msg.get("Event-Category"), msg.get("Event-Name")
        if category == "nodes" and event == "advertise":
            self._on_heartbeat(msg)
            return
        if category != "globals" or msg.get("Node") == self.node or \
                self._mute:
            return
        handler = self._HANDLERS.get(event)
        if handler is None:
            return
        try:
            handler(self, msg)
        except (etf.EtfError, KeyError, TypeError, ValueError) as exc:
            # Kazoo runs each handler in its own process: a bad message
            # crashes that process and nothing else.
            self.counters["crashed_handlers"] += 1
            self.debug("handler for %s crashed: %r", event, exc)

    def _name_of(self, msg):
        """The decoded Name of a message, and its table key."""
        name = etf.from_b64(msg["Name"])
        return name, self._key(name)

    def _key(self, name):
        """Table key: the canonical term buffer (Erlang's term equality)."""
        return etf.encode(name)

    def _on_register(self, msg):
        state = msg.get("State")
        if state == "pending":
            self._answer_claim(msg)
        elif state == "registered":
            name, _ = self._name_of(msg)
            self._apply_remote(name, msg["Node"], msg.get("Timestamp"),
                               msg.get("Server-ID"),
                               msg.get("Zone") or msg.get("AMQP-Broker-Zone"))
        else:
            raise ValueError("register with State %r" % (state,))

    def _answer_claim(self, msg):
        """A peer's claim: reply with what the table says (Kazoo's rules)."""
        name, key = self._name_of(msg)
        reply = {"State": "none"}
        server = False          # State=none: no Server-ID, as Kazoo
        with self._lock:
            row = self._table.get(key)
            if row is not None:
                reply = {"State": row.state, "Timestamp": row.timestamp}
                server = row.server or self.queue
                if row.state == "local" and row.node == self.node:
                    self._advertise(row)
        if not msg.get("Server-ID"):
            return
        body = self._globals_msg("register_resp", name, reply,
                                 msg_id=msg.get("Msg-ID"), server_id=server)
        self._targeted(msg["Server-ID"], body)

    def _apply_remote(self, name, node, timestamp, server, zone):
        """register_remote: a registration by another node, resolved against
        the row we hold by the older-timestamp-then-smaller-node rule."""
        key = self._key(name)
        if not isinstance(timestamp, int) or isinstance(timestamp, bool):
            timestamp = None
        new = Row(name, "remote", node, timestamp, server or "",
                  zone or self.zone)
        with self._lock:
            row = self._table.get(key)
            if row is None:
                self._table[key] = new
            elif row.node == node:
                return row
            elif beats(timestamp, node, row.timestamp, row.node):
                if row.node == self.node:
                    self._events.append({"event": "name_lost", "name": name,
                                         "state": row.state, "winner": node})
                self._table[key] = new
            else:
                return row
            self._cond.notify_all()
            return new

    def _on_query(self, msg):
        name, key = self._name_of(msg)
        reply = {"State": "none"}
        with self._lock:
            row = self._table.get(key)
            if row is not None and row.state == "local" and \
                    row.node == self.node:
                self._advertise(row)
                reply = {"State": "local", "Timestamp": row.timestamp}
        if msg.get("Server-ID"):
            self._targeted(msg["Server-ID"], self._globals_msg(
                "query_resp", name, reply, msg_id=msg.get("Msg-ID"),
                server_id=None if reply["State"] == "local" else False))

    def _on_unregister(self, msg):
        """Obeyed only when it comes from the node that owns the row."""
        name, key = self._name_of(msg)
        with self._lock:
            row = self._table.get(key)
            if row is not None and row.state == "remote" and \
                    row.node == msg.get("Node"):
                del self._table[key]
                reason = msg.get("Reason")
                reason = etf.from_b64(reason) if reason else Atom("normal")
                self._events.append({"event": "unregistered", "name": name,
                                     "node": row.node, "reason": reason})

    def _on_reply(self, msg):
        """register_resp, query_resp and reply: to the waiting request."""
        with self._lock:
            collector = self._collectors.get(msg.get("Msg-ID"))
            if collector is not None:
                collector.replies.append(msg)
                self._cond.notify_all()

    def _on_send_or_call(self, msg):
        """Delivered only if the name is ours (local on this node)."""
        name, key = self._name_of(msg)
        message = etf.from_b64(msg["Message"])
        kind = msg["Event-Name"]
        entry = {"kind": kind, "name": name, "message": message,
                 "node": msg.get("Node"), "msg_id": msg.get("Msg-ID"),
                 "server_id": msg.get("Server-ID"),
                 "sender_pid": msg.get("Sender-Pid")}
        with self._lock:
            row = self._table.get(key)
            if row is None or row.state != "local" or row.node != self.node:
                return
            if kind == "call":
                self._calls[entry["msg_id"]] = entry
            auto = self._auto_reply
            if kind != "call" or auto is None:
                self._inbox.append(entry)
                self._cond.notify_all()
        if kind == "call" and auto is not None:
            self._send_reply(entry, message if auto == "echo" else auto[1])

    _HANDLERS = {
        "register": _on_register,
        "register_resp": _on_reply,
        "query": _on_query,
        "query_resp": _on_reply,
        "unregister": _on_unregister,
        "send": _on_send_or_call,
        "call": _on_send_or_call,
        "reply": _on_reply,
    }

    # -- requests that collect replies (kz_amqp_worker:call_collect) ------

    def _collect(self, event, name, fields, expected, timeout_ms):
        """Publishes a request and gathers replies with its Msg-ID until
        ``expected`` have come or the timeout passes."""
        msg_id = globals_msg_id()
        collector = _Collector(expected)
        with self._lock:
            self._collectors[msg_id] = collector
        try:
            self._in_io(lambda: self._broadcast(event, name, fields,
                                                msg_id=msg_id))
            deadline = time.monotonic() + timeout_ms / 1000.0
            with self._cond:
                while len(collector.replies) < expected and not self._stopping:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                return list(collector.replies)
        finally:
            with self._lock:
                self._collectors.pop(msg_id, None)

    def _claim_ok(self, replies, timestamp):
        """Kazoo's verdict on a claim's replies (kz_globals amqp_register)."""
        for reply in replies:
            state = reply.get("State")
            if state in ("none", "remote"):
                continue
            if state == "pending":
                node = reply.get("Node", "")
                ts = reply.get("Timestamp")
                if node == self.node or beats(ts, node, timestamp, self.node):
                    return False
                continue
            # local denies; anything else would crash Kazoo's claim worker
            if state != "local":
                self.counters["crashed_handlers"] += 1
            return False
        return True

    # -- the public API ---------------------------------------------------

    def register(self, name, timestamp=None, claim_timestamp=None,
                 timeout_ms=None):
        """kz_globals:register_name/2: True (yes) or False (no).

        ``timestamp`` forces the claim's timestamp (Gregorian µs; default
        now); ``claim_timestamp`` puts it in the claim (default: the
        node's setting, off as in Kazoo).
        """
        key = self._key(name)
        ts = timestamp if timestamp is not None else now_us()
        with self._lock:
            if key in self._table:
                return False
            row = Row(name, "pending", self.node, ts, self.queue, self.zone)
            self._table[key] = row
        expected, default_timeout = self._expected_replies()
        ok = True
        if expected > 0:
            fields = {"State": "pending"}
            send_ts = self.claim_timestamp if claim_timestamp is None \
                else claim_timestamp
            if send_ts:
                fields["Timestamp"] = ts
            replies = self._collect("register", name, fields, expected,
                                    timeout_ms or default_timeout)
            ok = self._claim_ok(replies, ts)
        with self._lock:
            current = self._table.get(key)
            if ok and current is row:
                row.state = "local"
            else:
                if current is row and not self.keep_failed_pending:
                    del self._table[key]
                ok = False
        if ok:
            self._in_io(lambda: self._advertise(row))
        return ok

    def readvertise(self, name):
        """Broadcasts the advertisement of a name owned here again, as Kazoo
        does when a claim or query for it arrives.  False if not ours."""
        with self._lock:
            row = self._table.get(self._key(name))
            if row is None or row.state != "local" or row.node != self.node:
                return False
        self._in_io(lambda: self._advertise(row))
        return True

    def unregister(self, name):
        """kz_globals:unregister_name/1: only a local name is removed and
        announced (Reason normal).  Returns True if it was removed (Kazoo
        always returns ok)."""
        key = self._key(name)
        with self._lock:
            row = self._table.get(key)
            if row is None or row.state != "local":
                return False
            del self._table[key]
        reason = etf.to_b64(Atom("normal"), self.atom_tag)
        self._in_io(lambda: self._broadcast("unregister", name,
                                            {"Reason": reason},
                                            server_id=False))
        return True

    def whereis(self, name, timeout_ms=None):
        """kz_globals:whereis_name/1: the row (a dict) or None.  A local
        miss asks the cluster with a query; the first owner's reply is
        recorded as a remote row, as Kazoo starts a proxy for it."""
        with self._lock:
            row = self._table.get(self._key(name))
            if row is not None:
                return row.as_dict()
        expected, default_timeout = self._expected_replies()
        if expected == 0:
            return None
        replies = self._collect("query", name, {}, expected,
                                timeout_ms or default_timeout)
        for reply in replies:
            if reply.get("State", "none") != "none":
                row = self._apply_remote(name, reply.get("Node"),
                                         reply.get("Timestamp"),
                                         reply.get("Server-ID"), None)
                return row.as_dict()
        return None

    def _route(self, name, lookup, force):
        """The row a send/call goes through, or None when forced."""
        with self._lock:
            row = self._table.get(self._key(name))
        if row is None and lookup:
            self.whereis(name)
            with self._lock:
                row = self._table.get(self._key(name))
        if row is None and not force:
            raise NotRegistered(name)
        return row

    def send(self, name, message, lookup=False, force=False):
        """kz_globals:send/2: "local" if the name is ours (into our inbox),
        "sent" if broadcast by name as a proxy does.  Raises NotRegistered
        for a name not in the table (Kazoo never queries on send) unless
        ``lookup`` (query first) or ``force`` (broadcast anyway)."""
        row = self._route(name, lookup, force)
        if row is not None and row.node == self.node:
            with self._lock:
                self._inbox.append({"kind": "send", "name": name,
                                    "message": message, "node": self.node,
                                    "msg_id": None, "server_id": None,
                                    "sender_pid": None})
                self._cond.notify_all()
            return "local"
        body = {"Message": etf.to_b64(message, self.atom_tag)}
        self._in_io(lambda: self._broadcast("send", name, body,
                                            server_id=False))
        return "sent"

    def call(self, name, message, timeout_ms=PROXY_CALL_TIMEOUT_MS,
             lookup=True, force=False):
        """gen_server:call through a proxy: broadcasts ``call`` and returns
        the decoded Reply, or the value {error, timeout} as the proxy does.
        Looks the name up first (whereis) unless ``lookup`` is False."""
        row = self._route(name, lookup, force)
        msg_id = globals_msg_id()
        collector = _Collector(1)
        with self._lock:
            self._collectors[msg_id] = collector
        try:
            if row is not None and row.node == self.node:
                self._deliver_own_call(name, message, msg_id)
            else:
                body = {"Message": etf.to_b64(message, self.atom_tag)}
                self._in_io(lambda: self._broadcast("call", name, body,
                                                    msg_id=msg_id))
            deadline = time.monotonic() + timeout_ms / 1000.0
            with self._cond:
                while not collector.replies and not self._stopping:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return (Atom("error"), Atom("timeout"))
                    self._cond.wait(left)
                if not collector.replies:
                    return (Atom("error"), Atom("timeout"))
                return etf.from_b64(collector.replies[0]["Reply"])
        finally:
            with self._lock:
                self._collectors.pop(msg_id, None)

    def _deliver_own_call(self, name, message, msg_id):
        """A call to a name we own ourselves goes straight to the inbox."""
        entry = {"kind": "call", "name": name, "message": message,
                 "node": self.node, "msg_id": msg_id,
                 "server_id": self.queue, "sender_pid": None}
        with self._lock:
            self._calls[msg_id] = entry
            self._inbox.append(entry)
            self._cond.notify_all()

    def reply(self, call_id, term):
        """Answers a call from the inbox (call_id = its Msg-ID).  False if
        no such call is waiting."""
        with self._lock:
            entry = self._calls.get(call_id)
        if entry is None:
            return False
        self._send_reply(entry, term)
        return True

    def _send_reply(self, entry, term):
        """Publishes a reply (or hands it over, for our own call)."""
        with self._lock:
            self._calls.pop(entry["msg_id"], None)
            if entry["node"] == self.node:
                collector = self._collectors.get(entry["msg_id"])
                if collector is not None:
                    collector.replies.append(
                        {"Reply": etf.to_b64(term, self.atom_tag)})
                    self._cond.notify_all()
                return
        if not entry.get("server_id"):
            return
        body = self.envelope("reply", msg_id=entry["msg_id"], server_id=False)
        body["Name"] = base64.b64encode(self._encode_name(entry["name"])).decode()
        body["Reply"] = etf.to_b64(term, self.atom_tag)
        self._in_io(lambda: self._targeted(entry["server_id"], body),
                    wait=threading.current_thread() is not self._thread)

    def auto_reply(self, mode):
        """Answers calls at once: None (off), "echo" (the request itself) or
        ("term", T) (always T)."""
        with self._lock:
            self._auto_reply = mode

    def inbox(self, wait_ms=0, clear=True):
        """Messages received for our names (oldest first).  Waits up to
        wait_ms for at least one; takes them out unless clear is False."""
        deadline = time.monotonic() + wait_ms / 1000.0
        with self._cond:
            while not self._inbox and not self._stopping:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            messages = list(self._inbox)
            if clear:
                self._inbox.clear()
        return messages

    def events(self, clear=True):
        """Things that happened to the table: names lost in a conflict,
        unregisters obeyed, nodes expired."""
        with self._lock:
            events = list(self._events)
            if clear:
                self._events.clear()
        return events

    def registered(self):
        """kz_globals:registered(): every name in the table, any state."""
        with self._lock:
            return [row.name for row in self._table.values()]

    def table(self):
        """Every row, as dicts."""
        with self._lock:
            return [row.as_dict() for row in self._table.values()]

    def lookup(self, name):
        """The row for a name (dict), local table only (where_is/1)."""
        with self._lock:
            row = self._table.get(self._key(name))
            return row.as_dict() if row is not None else None

    def nodes(self):
        """Peers known from heartbeats: node, zone, expires_ms (x 1.25),
        age_ms since the last heartbeat, globals."""
        now = time.monotonic()
        with self._lock:
            return [{"node": info["node"], "zone": info["zone"],
                     "expires_ms": info["expires_ms"],
                     "age_ms": int((now - info["last"]) * 1000),
                     "globals": info["globals"], "pg": info["pg"]}
                    for info in self._nodes.values()]

    def wait_for(self, predicate, timeout=10.0, interval=0.05):
        """Polls predicate() until it is true or the timeout passes."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value or time.monotonic() >= deadline:
                return value
            time.sleep(interval)


# ---------------------------------------------------------------------------
# JSON encoding of terms (for the line protocol)
# ---------------------------------------------------------------------------

def term_from_json(value):
    """A Python term from its JSON form.

    string -> binary (UTF-8); number -> integer/float; true/false -> atoms;
    null -> atom undefined; array -> list; objects with one key:
    {"atom": s}, {"tuple": [..]}, {"list": [..]}, {"int": n},
    {"float": x}, {"string": s} (an Erlang string), {"binary": s},
    {"b64": s} (binary from base64), {"map": [[k, v], ..]},
    {"improper": [..], "tail": t}, {"etf": s} (base64 of a term buffer).
    """
    if isinstance(value, bool):
        return Atom("true" if value else "false")
    if value is None:
        return Atom("undefined")
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, list):
        return [term_from_json(v) for v in value]
    if isinstance(value, dict):
        return _object_term(value)
    raise ValueError("not a JSON term: %r" % (value,))


def _object_term(obj):
    """The term of a one-key JSON object (see term_from_json)."""
    if "improper" in obj:
        return etf.ImproperList([term_from_json(v) for v in obj["improper"]],
                                term_from_json(obj["tail"]))
    if len(obj) != 1:
        raise ValueError("a term object has exactly one key: %r" % (obj,))
    (kind, arg), = obj.items()
    if kind == "atom":
        return Atom(arg)
    if kind == "tuple":
        return tuple(term_from_json(v) for v in arg)
    if kind == "list":
        return [term_from_json(v) for v in arg]
    if kind == "int":
        return int(arg)
    if kind == "float":
        return float(arg)
    if kind == "string":
        return str(arg)
    if kind == "binary":
        return arg.encode("utf-8")
    if kind == "b64":
        return base64.b64decode(arg)
    if kind == "map":
        return {term_from_json(k): term_from_json(v) for k, v in arg}
    if kind == "etf":
        return etf.decode(base64.b64decode(arg))
    raise ValueError("unknown term kind %r" % kind)


def term_to_json(term):
    """The JSON form of a term (the inverse of term_from_json)."""
    if isinstance(term, bool):
        return {"atom": "true" if term else "false"}
    if isinstance(term, Atom):
        return {"atom": str(term)}
    if isinstance(term, (bytes, bytearray)):
        try:
            return bytes(term).decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(bytes(term)).decode()}
    if isinstance(term, (int, float)):
        return term
    if isinstance(term, tuple):
        return {"tuple": [term_to_json(t) for t in term]}
    if isinstance(term, str):
        return {"string": term}
    if isinstance(term, list):
        return {"list": [term_to_json(t) for t in term]}
    if isinstance(term, dict):
        return {"map": [[term_to_json(k), term_to_json(v)]
                        for k, v in term.items()]}
    if isinstance(term, etf.ImproperList):
        return {"improper": [term_to_json(t) for t in term.items],
                "tail": term_to_json(term.tail)}
    return {"etf": base64.b64encode(etf.encode(term)).decode()}


def _row_json(row):
    """A table row for the line protocol: name as JSON and rendered."""
    if row is None:
        return None
    out = dict(row)
    out["render"] = etf.render(row["name"])
    out["name"] = term_to_json(row["name"])
    return out


def _message_json(entry):
    """An inbox entry for the line protocol."""
    out = dict(entry)
    out["name"] = term_to_json(entry["name"])
    out["name_render"] = etf.render(entry["name"])
    out["message"] = term_to_json(entry["message"])
    out["message_render"] = etf.render(entry["message"])
    return out


def _event_json(event):
    out = dict(event)
    for field in ("name", "reason"):
        if field in out:
            out[field + "_render"] = etf.render(out[field])
            out[field] = term_to_json(out[field])
    return out


def _substitute_terms(value):
    """In publish_raw's "json", replaces every {"term": T} object by the
    base64 of T's term buffer, so forged Names and Messages are easy."""
    if isinstance(value, dict):
        if set(value) == {"term"}:
            return etf.to_b64(term_from_json(value["term"]))
        return {k: _substitute_terms(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute_terms(v) for v in value]
    return value


# ---------------------------------------------------------------------------
# The line protocol
# ---------------------------------------------------------------------------

class LineServer:
    """Runs JSON commands against a KazooNode, one per line."""

    def __init__(self, node):
        self.node = node

    def handle(self, cmd):
        """Returns the result object of one command (a dict)."""
        name = cmd.get("cmd")
        method = getattr(self, "cmd_" + str(name), None)
        if method is None:
            return {"ok": False, "error": "unknown command %r" % (name,)}
        try:
            return {"ok": True, "result": method(cmd)}
        except NotRegistered:
            return {"ok": False, "error": "badarg",
                    "detail": "name not registered on this node"}
        except Exception as exc:
            return {"ok": False, "error": type(exc).__name__,
                    "detail": str(exc)}

    @staticmethod
    def _term(cmd, field):
        if field not in cmd:
            raise ValueError("missing %r" % field)
        return term_from_json(cmd[field])

    def cmd_ping(self, cmd):
        return "pong"

    def cmd_register(self, cmd):
        ok = self.node.register(self._term(cmd, "name"),
                                timestamp=cmd.get("timestamp"),
                                claim_timestamp=cmd.get("claim_timestamp"),
                                timeout_ms=cmd.get("timeout_ms"))
        return "yes" if ok else "no"

    def cmd_unregister(self, cmd):
        self.node.unregister(self._term(cmd, "name"))
        return "ok"

    def cmd_whereis(self, cmd):
        return _row_json(self.node.whereis(self._term(cmd, "name"),
                                           timeout_ms=cmd.get("timeout_ms")))

    def cmd_lookup(self, cmd):
        return _row_json(self.node.lookup(self._term(cmd, "name")))

    def cmd_registered(self, cmd):
        return [term_to_json(n) for n in self.node.registered()]

    def cmd_table(self, cmd):
        return [_row_json(r) for r in self.node.table()]

    def cmd_nodes(self, cmd):
        return self.node.nodes()

    def cmd_send(self, cmd):
        return self.node.send(self._term(cmd, "name"),
                              self._term(cmd, "message"),
                              lookup=cmd.get("lookup", False),
                              force=cmd.get("force", False))

    def cmd_call(self, cmd):
        result = self.node.call(self._term(cmd, "name"),
                                self._term(cmd, "message"),
                                timeout_ms=cmd.get("timeout_ms",
                                                   PROXY_CALL_TIMEOUT_MS),
                                lookup=cmd.get("lookup", True),
                                force=cmd.get("force", False))
        return {"reply": term_to_json(result), "render": etf.render(result)}

    def cmd_inbox(self, cmd):
        return [_message_json(m) for m in
                self.node.inbox(wait_ms=cmd.get("wait_ms", 0),
                                clear=cmd.get("clear", True))]

    def cmd_reply(self, cmd):
        return self.node.reply(cmd.get("id") or cmd.get("msg_id"),
                               self._term(cmd, "reply"))

    def cmd_auto_reply(self, cmd):
        mode = cmd.get("mode", "off")
        if mode == "off":
            self.node.auto_reply(None)
        elif mode == "echo":
            self.node.auto_reply("echo")
        elif mode == "term":
            self.node.auto_reply(("term", self._term(cmd, "reply")))
        else:
            raise ValueError("mode is off, echo or term")
        return mode

    def cmd_events(self, cmd):
        return [_event_json(e) for e in self.node.events()]

    def cmd_readvertise(self, cmd):
        return self.node.readvertise(self._term(cmd, "name"))

    def cmd_heartbeat_stop(self, cmd):
        self.node.heartbeat_stop(deaf=cmd.get("deaf", False))
        return "stopped"

    def cmd_deafen(self, cmd):
        self.node.deafen(cmd.get("deaf", True))
        return "deaf" if cmd.get("deaf", True) else "hearing"

    def cmd_heartbeat_start(self, cmd):
        self.node.heartbeat_start()
        return "started"

    def cmd_stats(self, cmd):
        return {"globals": self.node.stats(), "counters": self.node.counters}

    def cmd_publish_raw(self, cmd):
        if "json" in cmd:
            body = _substitute_terms(cmd["json"])
            if "envelope" in cmd:
                env = cmd["envelope"]
                full = self.node.envelope(
                    env["event"], category=env.get("category", "globals"),
                    app_name=env.get("app_name", APP_NAME),
                    node=env.get("node"), msg_id=env.get("msg_id"),
                    server_id=env.get("server_id"))
                full.update(body)
                body = full
            body = json.dumps(body)
        elif "body_b64" in cmd:
            body = base64.b64decode(cmd["body_b64"])
        else:
            body = cmd.get("body", "")
        # "count": the same message that many times, back to back (a flood)
        for _ in range(int(cmd.get("count", 1))):
            self.node.publish_raw(cmd.get("exchange", EXCHANGE_GLOBALS),
                                  cmd.get("routing_key", ""), body,
                                  **cmd.get("properties", {}))
        return "published"

    def cmd_routing_key(self, cmd):
        return routing_key(cmd.get("event", "register"),
                           etf.encode(self._term(cmd, "name")))


def _emit(obj):
    """Writes one JSON line to stdout at once."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


USAGE = """\
Line protocol: one JSON object per line on stdin, one JSON result per line
on stdout: {"ok": true, "result": ...} or {"ok": false, "error": ...}.  A
command's "tag", if given, is copied into its result.  First line printed:
{"ready": true, "node": ..., "queue": ..., "nodes_queue": ...}.

Terms: "text" = binary; {"atom":"a"}; {"tuple":[..]}; {"list":[..]} or a
JSON array; {"int":n} or a number; {"float":x}; {"string":"s"} (an Erlang
string); {"b64":"..."} (binary); {"map":[[k,v],..]}; {"etf":"<base64>"}.

Commands (cmd = ...):
  register {name, timestamp?, claim_timestamp?, timeout_ms?} -> "yes"|"no"
  unregister {name} -> "ok"
  whereis {name, timeout_ms?} -> row or null (queries on a local miss)
  lookup {name} -> row or null (local table only)
  registered -> [name]       table -> [row]       nodes -> [node]
  send {name, message, lookup?, force?} -> "sent"|"local" | error badarg
  call {name, message, timeout_ms?, lookup?, force?} -> {reply, render}
  inbox {wait_ms?, clear?} -> [{kind, name, message, node, msg_id, ...}]
  reply {id, reply} -> true|false      auto_reply {mode: off|echo|term, reply?}
  heartbeat_stop {deaf?}     heartbeat_start     deafen {deaf?: true|false}
  events     stats     ping
  readvertise {name}         routing_key {event, name}
  publish_raw {exchange, routing_key, body | body_b64 | json [+ envelope
               {event, node?, category?, msg_id?, server_id?}], properties?}
               ({"term": T} inside json becomes base64 of T's term buffer)
  quit
"""


def main(argv=None):
    """Runs the node and serves the line protocol until quit or EOF."""
    parser = argparse.ArgumentParser(
        description="A simulated Kazoo kz_globals node.", epilog=USAGE,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uri", required=True)
    parser.add_argument("--node", required=True)
    parser.add_argument("--heartbeat-ms", type=int, default=1000)
    parser.add_argument("--expires-ms", type=int, default=None)
    parser.add_argument("--zone", default="local")
    parser.add_argument("--request-timeout-ms", type=int, default=2000)
    parser.add_argument("--claim-timestamp", action="store_true",
                        help="put the Timestamp in claims (Kazoo does not)")
    parser.add_argument("--keep-failed-pending", action="store_true")
    parser.add_argument("--startup-grace", action="store_true",
                        help="Kazoo's first 2 minutes: 10 replies, 10 s")
    parser.add_argument("--no-expire-names", action="store_true",
                        help="keep an expired node's rows")
    parser.add_argument("--otp25-atoms", action="store_true",
                        help="write atoms as ATOM_EXT (tag 100; the default)")
    parser.add_argument("--otp26-atoms", action="store_true",
                        help="write atoms as SMALL_ATOM_UTF8_EXT (tag 119)")
    parser.add_argument("--heartbeat-server-id", action="store_true",
                        help="put kz_nodes' queue in heartbeats (Kazoo does not)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)

    def log(line):
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    node = KazooNode(
        args.uri, args.node, heartbeat_ms=args.heartbeat_ms,
        expires_ms=args.expires_ms, zone=args.zone,
        request_timeout_ms=args.request_timeout_ms,
        claim_timestamp=args.claim_timestamp,
        keep_failed_pending=args.keep_failed_pending,
        startup_grace=args.startup_grace,
        expire_names=not args.no_expire_names,
        atom_tag=etf.SMALL_ATOM_UTF8_EXT if args.otp26_atoms else etf.ATOM_EXT,
        heartbeat_server_id=args.heartbeat_server_id,
        log=log if args.verbose else None)
    try:
        node.start()
    except Exception as exc:
        _emit({"ready": False, "error": str(exc)})
        return 1
    _emit({"ready": True, "node": node.node, "queue": node.queue,
           "nodes_queue": node.nodes_queue})
    server = LineServer(node)
    try:
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            try:
                cmd = json.loads(line)
                if not isinstance(cmd, dict):
                    raise ValueError("a command is a JSON object")
            except ValueError as exc:
                _emit({"ok": False, "error": "bad command",
                       "detail": str(exc)})
                continue
            if cmd.get("cmd") == "quit":
                result = {"ok": True, "result": "bye"}
                if "tag" in cmd:
                    result["tag"] = cmd["tag"]
                _emit(result)
                break
            result = server.handle(cmd)
            if "tag" in cmd:
                result["tag"] = cmd["tag"]
            _emit(result)
    finally:
        node.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
