/*-------------------------------------------------------------------------
 *
 * wall_clock_shift.c
 *	  A test tool: an LD_PRELOAD library that shifts the wall clock of the
 *	  processes it is loaded into, and only the wall clock.
 *
 * Built and used by test/t/044_clock_step.pl.  The shift, in seconds, is
 * the first 8 bytes (an int64, host order) of the file named by
 * KZ_WALL_CLOCK_FILE, mapped shared when the library loads (in the
 * postmaster, before it forks), so that a write to the file moves the
 * wall clock of every process of the server at once, as a step of the
 * system clock would.  CLOCK_REALTIME (and its coarse variant),
 * gettimeofday() and time() are shifted; CLOCK_MONOTONIC and the other
 * clocks are not, as with a real step.
 *
 * (libfaketime, which does the same through a file it re-reads, was not
 * reliable here: long-lived PostgreSQL processes stopped following the
 * file, so a test with it could not fail.)
 *
 * IDENTIFICATION
 *	  test/clock/wall_clock_shift.c
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile const int64_t *shift_s = NULL;

typedef int (*clock_gettime_fn) (clockid_t, struct timespec *);
typedef int (*gettimeofday_fn) (struct timeval *, void *);

static clock_gettime_fn real_clock_gettime = NULL;
static gettimeofday_fn real_gettimeofday = NULL;

__attribute__((constructor))
static void
load(void)
{
	const char *path = getenv("KZ_WALL_CLOCK_FILE");
	int			fd;
	void	   *p;

	real_clock_gettime = (clock_gettime_fn) dlsym(RTLD_NEXT, "clock_gettime");
	real_gettimeofday = (gettimeofday_fn) dlsym(RTLD_NEXT, "gettimeofday");
	if (path == NULL || (fd = open(path, O_RDONLY)) < 0)
		return;
	p = mmap(NULL, sizeof(int64_t), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p != MAP_FAILED)
		shift_s = p;
}

static int64_t
shift(void)
{
	return shift_s ? *shift_s : 0;
}

int
clock_gettime(clockid_t clk, struct timespec *ts)
{
	int			rc = real_clock_gettime(clk, ts);

	if (rc == 0 && (clk == CLOCK_REALTIME || clk == CLOCK_REALTIME_COARSE))
		ts->tv_sec += shift();
	return rc;
}

int
gettimeofday(struct timeval *tv, void *tz)
{
	int			rc = real_gettimeofday(tv, tz);

	if (rc == 0)
		tv->tv_sec += shift();
	return rc;
}

time_t
time(time_t *out)
{
	struct timespec ts;
	time_t		t;

	clock_gettime(CLOCK_REALTIME, &ts);
	t = ts.tv_sec;
	if (out)
		*out = t;
	return t;
}
