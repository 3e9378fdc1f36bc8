#!/usr/bin/python3
"""Record every message published on a RabbitMQ broker (its firehose).

    firehose.py --uri amqp://guest:guest@127.0.0.1:5672/%2f --out FILE

The broker must have tracing on (``rabbitmqctl trace_on``): it then copies
every publish to the exchange ``amq.rabbitmq.trace`` with routing key
``publish.<exchange>``.  We bind a private queue to it and write one JSON
object per message to FILE: exchange, routing_keys, properties (the AMQP
properties the publisher set, as the tracer reports them), body (the
published bytes as text) and the connection it came from.  Prints
``{"ready": true}`` once consuming, then runs until SIGTERM or SIGINT.

Used by test/t/070_kazoo_interop.pl to capture what real Kazoo nodes (and
our servers) put on the wire; test/kazoo/golden.py turns a capture into the
fixtures of test/fixtures/kazoo.  Only Debian's python3-pika is needed.
"""

import argparse
import json
import signal
import sys

import pika


def _plain(value):
    """AMQP table values as JSON: bytes as text, nested tables as dicts."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uri", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    conn = pika.BlockingConnection(pika.URLParameters(args.uri))
    channel = conn.channel()
    queue = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
    channel.queue_bind(queue, "amq.rabbitmq.trace", "publish.#")
    out = open(args.out, "a", encoding="utf-8")

    def on_message(ch, method, props, body):
        headers = props.headers or {}
        record = {
            "exchange": _plain(headers.get("exchange_name")),
            "routing_keys": _plain(headers.get("routing_keys")),
            "properties": _plain(headers.get("properties", {})),
            "connection": _plain(headers.get("connection")),
            "body": body.decode("utf-8", "replace"),
        }
        out.write(json.dumps(record, sort_keys=True) + "\n")
        out.flush()

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    channel.basic_consume(queue, on_message, auto_ack=True)
    print(json.dumps({"ready": True}), flush=True)
    try:
        channel.start_consuming()
    except (KeyboardInterrupt, pika.exceptions.AMQPError):
        pass
    out.close()
    try:
        conn.close()
    except pika.exceptions.AMQPError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
