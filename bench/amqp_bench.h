/*
 * amqp_bench.h - what the AMQP baseline programs (amqp_ping.c,
 * amqp_fanout.c) share besides bench_util.h: an RPC check, a blocking
 * take, and the printed summary of the samples.  Header-only: each program
 * is one file compiled on its own by bench/bench.sh.
 */
#ifndef AMQP_BENCH_H
#define AMQP_BENCH_H

#include <amqp.h>
#include <amqp_framing.h>

#include "bench_util.h"

/* Samples discarded before measuring. */
#define WARMUP 200

static void
check(amqp_connection_state_t conn, const char *what)
{
	if (amqp_get_rpc_reply(conn).reply_type != AMQP_RESPONSE_NORMAL)
		die(what);
}

/* Waits for the next message on the connection's consumer and drops it. */
static void
take(amqp_connection_state_t conn)
{
	amqp_envelope_t env;

	amqp_maybe_release_buffers(conn);
	if (amqp_consume_message(conn, &env, NULL, 0).reply_type != AMQP_RESPONSE_NORMAL)
		die("consume");
	amqp_destroy_envelope(&env);
}

/* Prints "median_us p99_us mean_us" of count samples (sorts them). */
static void
print_summary(double *samples, int count)
{
	double		sum = 0;
	double		median;
	double		p99;
	int			i;

	for (i = 0; i < count; i++)
		sum += samples[i];
	median = median_p99(samples, count, &p99);
	printf("%.1f %.1f %.1f\n", median, p99, sum / count);
}

#endif							/* AMQP_BENCH_H */
