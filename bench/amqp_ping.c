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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp_bench.h"

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
	a = bench_connect(argv[1], atoi(argv[2]), NULL, NULL, NULL, amqp_empty_table, qa, sizeof(qa));
	b = bench_connect(argv[1], atoi(argv[2]), NULL, NULL, NULL, amqp_empty_table, qb, sizeof(qb));
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
