/*-------------------------------------------------------------------------
 *
 * unit.h
 *	  A tiny assertion harness for the unit tests of kz_globals' pure code.
 *
 * Each test program includes this header once, calls CHECK* as often as it
 * likes and ends main() with "return unit_summary(argv[0]);", which prints
 * "<program>: N passed, M failed" and returns non-zero on any failure.
 *
 * IDENTIFICATION
 *	  test/unit/unit.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_UNIT_H
#define KZ_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int	unit_passed = 0;
static int	unit_failed = 0;

#define CHECK(cond) \
	do { \
		if (cond) \
			unit_passed++; \
		else \
		{ \
			unit_failed++; \
			fprintf(stderr, "%s:%d: check failed: %s\n", \
					__FILE__, __LINE__, #cond); \
		} \
	} while (0)

#define CHECK_STR(got, want) \
	do { \
		const char *g_ = (got); \
		const char *w_ = (want); \
		if (g_ != NULL && strcmp(g_, w_) == 0) \
			unit_passed++; \
		else \
		{ \
			unit_failed++; \
			fprintf(stderr, "%s:%d: got \"%s\", want \"%s\"\n", \
					__FILE__, __LINE__, g_ ? g_ : "(null)", w_); \
		} \
	} while (0)

static inline int
unit_summary(const char *prog)
{
	printf("%s: %d passed, %d failed\n", prog, unit_passed, unit_failed);
	return unit_failed == 0 ? 0 : 1;
}

/*
 * For the fuzz loops: how many inputs each tries (20000, or
 * KZ_FUZZ_ITERATIONS for a longer run on demand; make sanitizecheck runs
 * them under ASan and UBSan), and a small deterministic generator
 * (xorshift64*) whose state a test sets to replay a sequence.
 */
static uint64 unit_rng_state = UINT64CONST(0x9E3779B97F4A7C15);

static inline int
unit_fuzz_iterations(void)
{
	const char *s = getenv("KZ_FUZZ_ITERATIONS");
	int			n = s ? atoi(s) : 0;

	return n > 0 ? n : 20000;
}

static inline uint64
unit_rng_next(void)
{
	unit_rng_state ^= unit_rng_state >> 12;
	unit_rng_state ^= unit_rng_state << 25;
	unit_rng_state ^= unit_rng_state >> 27;
	return unit_rng_state * UINT64CONST(0x2545F4914F6CDD1D);
}

#endif							/* KZ_UNIT_H */
