/*-------------------------------------------------------------------------
 *
 * log_limit.h
 *	  At most one log line a minute for a kind of event that a peer can
 *	  repeat at will (a full name table, a full queue), with the number of
 *	  events held back since the last line.
 *
 * Runs in the worker only; process-local state, no locks.
 *
 * IDENTIFICATION
 *	  src/worker/log_limit.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_LOG_LIMIT_H
#define KZ_LOG_LIMIT_H

#include "datatype/timestamp.h"

typedef struct KzLogLimit
{
	TimestampTz last;			/* when a line was last written; 0: never */
	int64		held;			/* events since then that wrote none */
} KzLogLimit;

extern bool kz_log_due(KzLogLimit *limit, int64 *held);

#endif							/* KZ_LOG_LIMIT_H */
