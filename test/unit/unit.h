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

#endif							/* KZ_UNIT_H */
