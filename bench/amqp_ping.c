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
 * With MODE "confirm": the time from a publish to the broker's publisher
 * confirm of it, on a channel in confirm mode, the message mandatory and
 * routed to a queue (bounded to one message, with no consumer): what a
 * kz_globals send waits for once it is on the wire.
 *
 * Usage: amqp_ping HOST PORT COUNT [MODE]   (MODE: ping, confirm)
 * Prints: "median_us p99_us mean_us" after discarding a warm-up.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp_bench.h"

static void
publish(amqp_connection_state_t conn, const char *queue, int mandatory)
{
	static const char body[] = "{\"Event-Name\":\"ping\",\"Padding\":\"........................\"}";
	amqp_bytes_t b = {sizeof(body) - 1, (void *) body};

	if (amqp_basic_publish(conn, 1, amqp_empty_bytes, amqp_cstring_bytes(queue),
						   mandatory, 0, NULL, b) != AMQP_STATUS_OK)
		die("publish");
}

/*
 * A connection whose channel 1 is in confirm mode, with a queue of its own
 * that keeps one message (drop-head) and has no consumer: its name into
 * queue.
 */
static amqp_connection_state_t
confirm_connect(const char *host, int port, char *queue, size_t qlen)
{
	amqp_connection_state_t conn = bench_login(host, port);
	amqp_table_entry_t args[2];
	amqp_queue_declare_ok_t *q;

	amqp_confirm_select(conn, 1);
	check(conn, "confirm.select");
	q = amqp_queue_declare(conn, 1, amqp_empty_bytes, 0, 0, 1, 1, bench_bounded(args, 1));
	check(conn, "queue.declare");
	snprintf(queue, qlen, "%.*s", (int) q->queue.len, (char *) q->queue.bytes);
	return conn;
}

/* Waits for the broker's basic.ack of the last publish. */
static void
wait_confirm(amqp_connection_state_t conn)
{
	amqp_frame_t frame;

	for (;;)
	{
		amqp_maybe_release_buffers(conn);
		if (amqp_simple_wait_frame(conn, &frame) != AMQP_STATUS_OK)
			die("wait for the confirm");
		if (frame.frame_type != AMQP_FRAME_METHOD)
			continue;
		if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD)
			return;
		if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD ||
			frame.payload.method.id == AMQP_BASIC_RETURN_METHOD)
			die("the broker did not take the message");
	}
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
	if (argc != 4 && argc != 5)
		die("usage: amqp_ping HOST PORT COUNT [ping|confirm]");
	count = atoi(argv[3]);
	if (count <= 0)
		die("COUNT must be positive");
	if (argc == 5 && strcmp(argv[4], "ping") != 0 && strcmp(argv[4], "confirm") != 0)
		die("MODE must be ping or confirm");
	samples = calloc(count, sizeof(double));
	if (argc == 5 && strcmp(argv[4], "confirm") == 0)
	{
		a = confirm_connect(argv[1], atoi(argv[2]), qa, sizeof(qa));
		for (i = -WARMUP; i < count; i++)
		{
			double		t0 = now_us();

			publish(a, qa, 1);
			wait_confirm(a);
			if (i >= 0)
				samples[i] = now_us() - t0;
		}
		print_summary(samples, count);
		return 0;
	}
	a = bench_connect(argv[1], atoi(argv[2]), NULL, NULL, NULL, amqp_empty_table, qa, sizeof(qa));
	b = bench_connect(argv[1], atoi(argv[2]), NULL, NULL, NULL, amqp_empty_table, qb, sizeof(qb));
	for (i = -WARMUP; i < count; i++)
	{
		double		t0 = now_us();

		publish(a, qb, 0);
		take(b);
		publish(b, qa, 0);
		take(a);
		if (i >= 0)
			samples[i] = now_us() - t0;
	}
	print_summary(samples, count);
	return 0;
}
