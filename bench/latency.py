#!/usr/bin/python3
"""Visibility latency: how long after register_name() starts on one node
the name is in another node's table.

Usage: latency.py SOCKET_DIR PORT_A PORT_B COUNT
Prints "median_us p99_us" of the time from the start of register_name on A
until a poller on B (its own connection, polling the registrations view,
with query_on_miss off, so never asking the cluster) sees the row.
"""

import sys
import threading
import time

import psycopg2


def connect(host, port):
    conn = psycopg2.connect(host=host, port=port, dbname="postgres")
    conn.autocommit = True
    return conn


def poll_until_seen(cur, name, seen):
    """Polls B's table for name; records the time it first appears.  A
    local lookup (query_on_miss is off on this connection) is the cheapest
    poll, so that the probe adds little to what it measures."""
    while True:
        cur.execute("SELECT kz_globals.whereis_name(%s) IS NOT NULL", (name,))
        if cur.fetchone()[0]:
            seen.append(time.perf_counter())
            return


def main():
    host, port_a, port_b, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    a = connect(host, port_a).cursor()
    b = connect(host, port_b).cursor()
    b.execute("SET kz_globals.query_on_miss = off")
    samples = []
    for i in range(count):
        name = "vis-%d-%d" % (i, int(time.time() * 1e6))
        seen = []
        poller = threading.Thread(target=poll_until_seen, args=(b, name, seen))
        poller.start()
        t0 = time.perf_counter()
        a.execute("SELECT kz_globals.register_name(%s)", (name,))
        poller.join(10)
        if seen:
            samples.append((seen[0] - t0) * 1e6)
        a.execute("SELECT kz_globals.unregister_name(%s)", (name,))
    samples.sort()
    print("%.1f %.1f" % (samples[len(samples) // 2], samples[int(len(samples) * 0.99)]))


if __name__ == "__main__":
    main()
