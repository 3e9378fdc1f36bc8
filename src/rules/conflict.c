/*-------------------------------------------------------------------------
 *
 * conflict.c
 *	  The claim precedence rule (see conflict.h).
 *
 * IDENTIFICATION
 *	  src/rules/conflict.c
 *
 *-------------------------------------------------------------------------
 */
#ifndef FRONTEND
#include "postgres.h"
#else
#include "postgres_fe.h"
#endif

#include "conflict.h"

/*
 * Oldest timestamp first; on a tie the bytewise smaller node name.  Node
 * names compare as Erlang compares atoms made of ASCII, which is strcmp.
 */
bool
kz_claim_beats(int64 ts_a, const char *node_a, int64 ts_b, const char *node_b)
{
	if (ts_a != ts_b)
		return ts_a < ts_b;
	return strcmp(node_a, node_b) < 0;
}
