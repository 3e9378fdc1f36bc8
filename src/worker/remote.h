/*-------------------------------------------------------------------------
 *
 * remote.h
 *	  A registration by another node, applied to the name table.
 *
 * Runs in the worker only.
 *
 * IDENTIFICATION
 *	  src/worker/remote.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_REMOTE_H
#define KZ_REMOTE_H

#include "kz_types.h"

/*
 * Applies a registration of name by node (from an advertisement, a query
 * reply or a sync) by the rules; returns the id of a claim of ours that it
 * beats (the caller decides that claim), or 0.  Caller holds no lock.
 */
extern uint64 kz_remote_apply(const uint8 *name, size_t name_len, int node,
							  int64 ts, int32 pid, bool kazoo);

/*
 * The same for an advertisement or a sync entry, which also says what the
 * registration's metadata is now: meta, a JSON text the decoder checked
 * (NULL: none; always none for a Kazoo node).  The answers to queries and
 * claims carry no metadata: kz_remote_apply keeps what the row had.
 */
extern uint64 kz_remote_apply_advert(const uint8 *name, size_t name_len,
									 int node, int64 ts, int32 pid, bool kazoo,
									 const char *meta);

#endif							/* KZ_REMOTE_H */
