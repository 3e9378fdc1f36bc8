#!/usr/bin/python3
"""Visibility latency: how long until a name registered on one node is in
another node's table.

Usage: latency.py SOCKET_DIR PORT_A PORT_B COUNT
Prints "lag_median_us lag_p99_us total_median_us total_p99_us":
  lag    from the moment register_name returns true on A (the name exists)
         until B has the row: the replication lag of a registration;
  total  from the moment register_name is called on A (the claim included).
B is watched by a poller on its own connection, with query_on_miss off (so
a poll never asks the cluster), pausing 50 us between polls: busy polling
would take a whole core of a small machine away from what it measures.
The poll interval bounds the error (the first poll that sees the row may
come up to one interval late).
"""

import sys
import threading
import time

import psycopg2

POLL_PAUSE_S = 0.00005


def connect(host, port):
    conn = psycopg2.connect(host=host, port=port, dbname="postgres")
    conn.autocommit = True
    return conn


def poll_until_seen(cur, name, seen, stop):
    """Polls B's table for name; records the time it first appears."""
    while not stop.is_set():
        cur.execute("SELECT kz_globals.whereis_name(%s) IS NOT NULL", (name,))
        if cur.fetchone()[0]:
            seen.append(time.perf_counter())
            return
        time.sleep(POLL_PAUSE_S)


def median_p99(samples):
    samples = sorted(samples)
    return samples[len(samples) // 2], samples[int(len(samples) * 0.99)]


def main():
    host, port_a, port_b, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    a = connect(host, port_a).cursor()
    b = connect(host, port_b).cursor()
    b.execute("SET kz_globals.query_on_miss = off")
    lags, totals = [], []
    for i in range(count):
        name = "vis-%d-%d" % (i, int(time.time() * 1e6))
        seen, stop = [], threading.Event()
        poller = threading.Thread(target=poll_until_seen, args=(b, name, seen, stop))
        poller.start()
        t0 = time.perf_counter()
        a.execute("SELECT kz_globals.register_name(%s)", (name,))
        t1 = time.perf_counter()
        poller.join(10)
        stop.set()
        poller.join()
        if seen:
            totals.append((seen[0] - t0) * 1e6)
            lags.append(max(0.0, seen[0] - t1) * 1e6)
        a.execute("SELECT kz_globals.unregister_name(%s)", (name,))
        time.sleep(0.002)
    if not lags:
        sys.exit("latency.py: the name was never seen on the other node")
    print("%.1f %.1f %.1f %.1f" % (median_p99(lags) + median_p99(totals)))


if __name__ == "__main__":
    main()
