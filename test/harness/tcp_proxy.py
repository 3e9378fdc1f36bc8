#!/usr/bin/python3
"""tcp_proxy.py - a controllable TCP proxy for network-partition tests.

Listens on LISTEN_HOST:LISTEN_PORT and forwards every connection to
TARGET_HOST:TARGET_PORT.  A second, line-based control port switches the
link between three modes:

    open       forward bytes both ways (the initial mode)
    reset      every proxied connection is closed with a TCP RST on both
               sides, and the listening socket is closed, so new connection
               attempts are refused: a crashed host or a REJECT firewall.
    blackhole  sockets stay open but no byte moves in either direction and
               new connections are left unaccepted in the listen backlog
               (the kernel completes their handshake): a silent partition.
               Only heartbeats/timeouts can detect it.

Control commands (one per line; the reply is one line "ok ..." or
"error ..."; several commands may share one control connection):

    status          ok mode=<mode> conns=<open pairs> accepted=<total>
    cut reset       switch to reset
    cut blackhole   switch to blackhole
    heal            back to open: data held back by a blackhole flows again
                    and queued connections are accepted; after a reset the
                    port listens again
    quit            exit (sockets close normally)

The proxy exits when its parent process goes away (--parent-pid), so a
crashed test cannot leave it behind.  Only the Python standard library is
used.  Log lines go to stderr.
"""

import argparse
import errno
import os
import select
import socket
import struct
import sys
import time

BUF_MAX = 256 * 1024
CHUNK = 65536


def log(msg):
    sys.stderr.write("%s tcp_proxy[%d]: %s\n"
                     % (time.strftime("%H:%M:%S"), os.getpid(), msg))
    sys.stderr.flush()


def close_rst(sock):
    """Close sock so that the peer sees a reset rather than a FIN."""
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class Pair:
    """One proxied connection: the accepted client socket and ours to the
    target, with a bounded buffer per direction."""

    def __init__(self, client, peer, target):
        self.client = client
        self.peer = peer
        self.client.setblocking(False)
        self.upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.upstream.setblocking(False)
        # forward small AMQP frames at once (Nagle would add ~40 ms each)
        for sock in (self.client, self.upstream):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connecting = True
        self.c2u = bytearray()
        self.u2c = bytearray()
        self.client_eof = False    # client sent FIN
        self.upstream_eof = False  # target sent FIN
        self.c2u_shut = False      # we passed the client's FIN on
        self.u2c_shut = False
        err = self.upstream.connect_ex(target)
        if err not in (0, errno.EINPROGRESS):
            raise OSError(err, os.strerror(err))

    def close(self, rst):
        if rst:
            close_rst(self.client)
            close_rst(self.upstream)
        else:
            self.client.close()
            self.upstream.close()

    def done(self):
        return (self.c2u_shut and self.u2c_shut)


class Proxy:
    def __init__(self, args):
        self.args = args
        self.target = (args.target_host, args.target_port)
        self.mode = "open"
        self.pairs = []
        self.accepted = 0
        self.listener = None
        self.listen()
        self.control = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.control.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.control.bind((args.listen_host, args.control_port))
        self.control.listen(8)
        self.control_conns = {}   # socket -> pending input bytes
        self.running = True

    def listen(self):
        """(Re)open the proxy's listening socket.  After a reset the port may
        still have connections in TIME_WAIT; SO_REUSEADDR covers that, and a
        few retries cover a racing process."""
        for attempt in range(50):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((self.args.listen_host, self.args.listen_port))
                s.listen(128)
                s.setblocking(False)
                self.listener = s
                return
            except OSError as e:
                s.close()
                if attempt == 49:
                    raise
                log("bind failed (%s), retrying" % e)
                time.sleep(0.1)

    # -------------------------------------------------------------- control

    def command(self, line):
        words = line.split()
        if not words:
            return "error empty command"
        if words[0] == "status":
            return "ok mode=%s conns=%d accepted=%d" % (
                self.mode, len(self.pairs), self.accepted)
        if words[0] == "cut" and len(words) == 2 and words[1] in ("reset", "blackhole"):
            self.cut(words[1])
            return "ok mode=%s" % self.mode
        if words[0] == "heal":
            self.heal()
            return "ok mode=%s" % self.mode
        if words[0] == "quit":
            self.running = False
            return "ok bye"
        return "error unknown command: %s" % line.strip()

    def cut(self, how):
        log("cut %s (%d connections)" % (how, len(self.pairs)))
        if how == "reset":
            for p in self.pairs:
                p.close(rst=True)
            self.pairs = []
            if self.listener is not None:
                # Drain connections that completed in the backlog meanwhile,
                # so that they are reset rather than silently dropped.
                while True:
                    try:
                        c, _ = self.listener.accept()
                        close_rst(c)
                    except OSError:
                        break
                self.listener.close()
                self.listener = None
        self.mode = how

    def heal(self):
        log("heal (was %s)" % self.mode)
        if self.listener is None:
            self.listen()
        self.mode = "open"

    def serve_control(self, sock):
        try:
            data = sock.recv(4096)
        except OSError:
            data = b""
        if not data:
            del self.control_conns[sock]
            sock.close()
            return
        buf = self.control_conns[sock] + data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            reply = self.command(line.decode("utf-8", "replace"))
            try:
                sock.sendall((reply + "\n").encode())
            except OSError:
                pass
        self.control_conns[sock] = buf

    # -------------------------------------------------------------- proxying

    def accept(self):
        while True:
            try:
                c, peer = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                log("accept: %s" % e)
                return
            self.accepted += 1
            try:
                self.pairs.append(Pair(c, peer, self.target))
                log("accepted %s:%d" % peer)
            except OSError as e:
                log("connect to target failed: %s" % e)
                close_rst(c)

    def drop(self, p, why, rst=True):
        log("closing %s:%d: %s" % (p.peer + (why,)))
        p.close(rst)
        self.pairs.remove(p)

    def on_readable(self, p, sock):
        try:
            data = sock.recv(CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self.drop(p, "read error: %s" % e)
            return
        if sock is p.client:
            if data:
                p.c2u += data
            else:
                p.client_eof = True
        else:
            if data:
                p.u2c += data
            else:
                p.upstream_eof = True

    def on_writable(self, p, sock):
        if sock is p.upstream and p.connecting:
            err = p.upstream.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                # Refused by the target: refuse the client the same way.
                self.drop(p, "target: %s" % os.strerror(err))
                return
            p.connecting = False
            return
        buf = p.c2u if sock is p.upstream else p.u2c
        try:
            n = sock.send(buf)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self.drop(p, "write error: %s" % e)
            return
        del buf[:n]

    def half_close(self, p):
        """Pass a FIN on once everything before it has been written."""
        try:
            if p.client_eof and not p.c2u and not p.c2u_shut and not p.connecting:
                p.upstream.shutdown(socket.SHUT_WR)
                p.c2u_shut = True
            if p.upstream_eof and not p.u2c and not p.u2c_shut:
                p.client.shutdown(socket.SHUT_WR)
                p.u2c_shut = True
        except OSError:
            p.c2u_shut = p.u2c_shut = True
        if p.done():
            self.drop(p, "closed", rst=False)

    def run(self):
        log("forwarding %s:%d -> %s:%d, control on %d"
            % (self.args.listen_host, self.args.listen_port,
               self.target[0], self.target[1], self.args.control_port))
        while self.running:
            if self.args.parent_pid and os.getppid() != self.args.parent_pid:
                log("parent %d is gone, exiting" % self.args.parent_pid)
                break
            rlist = [self.control] + list(self.control_conns)
            wlist = []
            owner = {}
            if self.mode == "open":
                if self.listener is not None:
                    rlist.append(self.listener)
                for p in self.pairs:
                    owner[p.client] = owner[p.upstream] = p
                    if p.connecting:
                        wlist.append(p.upstream)
                        continue
                    if not p.client_eof and len(p.c2u) < BUF_MAX:
                        rlist.append(p.client)
                    if not p.upstream_eof and len(p.u2c) < BUF_MAX:
                        rlist.append(p.upstream)
                    if p.c2u:
                        wlist.append(p.upstream)
                    if p.u2c:
                        wlist.append(p.client)
            try:
                r, w, _ = select.select(rlist, wlist, [], 0.5)
            except InterruptedError:
                continue
            for s in r:
                if s is self.control:
                    c, _ = self.control.accept()
                    self.control_conns[c] = b""
                elif s in self.control_conns:
                    self.serve_control(s)
                elif s is self.listener:
                    if self.mode == "open":
                        self.accept()
                elif s in owner and owner[s] in self.pairs and self.mode == "open":
                    self.on_readable(owner[s], s)
            for s in w:
                if s in owner and owner[s] in self.pairs and self.mode == "open":
                    self.on_writable(owner[s], s)
            if self.mode == "open":
                for p in list(self.pairs):
                    self.half_close(p)
        for p in self.pairs:
            p.close(rst=False)
        for c in self.control_conns:
            c.close()
        if self.listener is not None:
            self.listener.close()
        self.control.close()
        log("exiting")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen-host", default="127.0.0.1")
    ap.add_argument("--listen-port", type=int, required=True)
    ap.add_argument("--target-host", default="127.0.0.1")
    ap.add_argument("--target-port", type=int, required=True)
    ap.add_argument("--control-port", type=int, required=True)
    ap.add_argument("--parent-pid", type=int, default=0,
                    help="exit when this process is no longer our parent")
    args = ap.parse_args()
    Proxy(args).run()


if __name__ == "__main__":
    main()
