/*
 * bench_util.h - what the benchmark's small C programs share: an error
 * exit, a monotonic clock in microseconds, and the summary of samples.
 * Header-only: each program is one file compiled on its own by
 * bench/bench.sh.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const char *bench_program = "bench";

static void
die(const char *what)
{
	fprintf(stderr, "%s: %s\n", bench_program, what);
	exit(1);
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

/* Sorts count samples; returns the median and sets *p99. */
static double
median_p99(double *samples, int count, double *p99)
{
	qsort(samples, count, sizeof(double), cmp_double);
	*p99 = samples[(int) (count * 0.99)];
	return samples[count / 2];
}

#endif							/* BENCH_UTIL_H */
