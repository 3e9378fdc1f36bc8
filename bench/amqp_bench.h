/*
 * amqp_bench.h - what the AMQP baseline programs (amqp_ping.c,
 * amqp_fanout.c) share: error exits, a blocking take, a monotonic clock in
 * microseconds, and the summary of the samples.  Header-only: each program
 * is one file compiled on its own by bench/bench.sh.
 */
#ifndef AMQP_BENCH_H
#define AMQP_BENCH_H

#include <amqp.h>
#include <amqp_framing.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Samples discarded before measuring. */
#define WARMUP 200

static const char *bench_program = "amqp_bench";

static void
die(const char *what)
{
	fprintf(stderr, "%s: %s\n", bench_program, what);
	exit(1);
}

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

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/* Prints "median_us p99_us mean_us" of count samples (sorts them). */
static void
print_summary(double *samples, int count)
{
	double		sum = 0;
	int			i;

	for (i = 0; i < count; i++)
		sum += samples[i];
	qsort(samples, count, sizeof(double), cmp_double);
	printf("%.1f %.1f %.1f\n", samples[count / 2], samples[(int) (count * 0.99)], sum / count);
}

#endif							/* AMQP_BENCH_H */
