/*-------------------------------------------------------------------------
 *
 * log_limit.c
 *	  One log line a minute at most per kind of event (log_limit.h).
 *
 * Runs in the worker only; process-local state, no locks.
 *
 * IDENTIFICATION
 *	  src/worker/log_limit.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/timestamp.h"

#include "log_limit.h"

#define KZ_LOG_EVERY_MS		(60 * 1000)

/*
 * An event happened: true if its line may be written now, with *held the
 * number of events since the last line that wrote none (this one not
 * counted); false if it is held back (and counted).
 */
bool
kz_log_due(KzLogLimit *limit, int64 *held)
{
	TimestampTz now = GetCurrentTimestamp();

	if (limit->last != 0 && !TimestampDifferenceExceeds(limit->last, now, KZ_LOG_EVERY_MS))
	{
		limit->held++;
		return false;
	}
	*held = limit->held;
	limit->held = 0;
	limit->last = now;
	return true;
}
