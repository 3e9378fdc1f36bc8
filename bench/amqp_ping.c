/*
 * amqp_ping.c - the baseline of the latency benchmarks: one AMQP round trip
 * through the broker, measured with rabbitmq-c (the library the kz_globals
 * worker uses).
 *
 * Two connections, A and B, each with an exclusive queue.  A publishes a
 * small message to B's queue through the default exchange; B takes it and
 * publishes one to A's queue; A takes that.  The time from A's publish to
 * A's receipt is one round trip through the broker (two traversals), the
 * same path a claim and its reply take.
 *
 * Usage: amqp_ping HOST PORT COUNT
 * Prints: "median_us p99_us mean_us" after discarding a warm-up.
 */
#include <amqp_tcp_socket.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp_bench.h"

/* Connects, opens channel 1, declares an exclusive queue and consumes it. */
static amqp_connection_state_t
open_conn(const char *host, int port, char *queue, size_t qlen)
{
	amqp_connection_state_t conn = amqp_new_connection();
	amqp_socket_t *sock = amqp_tcp_socket_new(conn);
	amqp_queue_declare_ok_t *q;

	if (sock == NULL || amqp_socket_open(sock, host, port) != AMQP_STATUS_OK)
		die("cannot connect");
	if (amqp_login(conn, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN,
				   "guest", "guest").reply_type != AMQP_RESPONSE_NORMAL)
		die("cannot log in");
	amqp_channel_open(conn, 1);
	check(conn, "channel.open");
	q = amqp_queue_declare(conn, 1, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
	check(conn, "queue.declare");
	snprintf(queue, qlen, "%.*s", (int) q->queue.len, (char *) q->queue.bytes);
	amqp_basic_consume(conn, 1, amqp_cstring_bytes(queue), amqp_empty_bytes,
					   0, 1, 0, amqp_empty_table);
	check(conn, "basic.consume");
	return conn;
}

static void
publish(amqp_connection_state_t conn, const char *queue)
{
	static const char body[] = "{\"Event-Name\":\"ping\",\"Padding\":\"........................\"}";
	amqp_bytes_t b = {sizeof(body) - 1, (void *) body};

	if (amqp_basic_publish(conn, 1, amqp_empty_bytes, amqp_cstring_bytes(queue),
						   0, 0, NULL, b) != AMQP_STATUS_OK)
		die("publish");
}

int
main(int argc, char **argv)
{
	char		qa[256];
	char		qb[256];
	amqp_connection_state_t a;
	amqp_connection_state_t b;
	int			count;
	double	   *samples;
	int			i;

	bench_program = "amqp_ping";
	if (argc != 4)
		die("usage: amqp_ping HOST PORT COUNT");
	count = atoi(argv[3]);
	if (count <= 0)
		die("COUNT must be positive");
	samples = calloc(count, sizeof(double));
	a = open_conn(argv[1], atoi(argv[2]), qa, sizeof(qa));
	b = open_conn(argv[1], atoi(argv[2]), qb, sizeof(qb));
	for (i = -WARMUP; i < count; i++)
	{
		double		t0 = now_us();

		publish(a, qb);
		take(b);
		publish(b, qa);
		take(a);
		if (i >= 0)
			samples[i] = now_us() - t0;
	}
	print_summary(samples, count);
	return 0;
}
