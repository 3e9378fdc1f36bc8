/*-------------------------------------------------------------------------
 *
 * row.h
 *	  One row of the name table, as the registry rules see it: plain data,
 *	  no pointers, the same in shared memory and in a unit test.
 *
 * The table that holds rows (hashing, free list, locking) is
 * src/shared/registry.h; the rules that change a row are rules.h.
 *
 * IDENTIFICATION
 *	  src/rules/row.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_ROW_H
#define KZ_ROW_H

#include "kz_types.h"

typedef enum KzRowState
{
	KZ_ROW_FREE = 0,
	KZ_ROW_PENDING,
	KZ_ROW_LOCAL,
	KZ_ROW_REMOTE
} KzRowState;

/* KzRow.flags */
#define KZ_ROW_LOST			0x01	/* a pending claim that has already lost */
#define KZ_ROW_KAZOO		0x02	/* owned by a Kazoo (Erlang) node */
#define KZ_ROW_RIVAL		0x04	/* pending: holds back a rival's advertisement */
#define KZ_ROW_RIVAL_KAZOO	0x08	/* ... and that rival is a Kazoo node */
#define KZ_ROW_LEASE		0x10	/* held by a lease, not a backend (below) */

typedef struct KzRow
{
	int32		next;			/* next row in the hash chain or free list */
	uint32		hash;			/* hash of name */
	uint8		state;			/* KzRowState */
	uint8		flags;			/* KZ_ROW_* */
	uint16		node;			/* owner's node index; KZ_SELF_NODE if local */
	int32		pid;			/* owner backend's pid; 0 if unknown (Kazoo) */
	int32		procno;			/* local owner's PGPROC number, else -1 */
	Oid			dbid;			/* local owner's database */
	Oid			roleid;			/* local owner's role */
	uint32		sync_gen;		/* remote rows: sync round that last saw it;
								 * pending rows with a rival: the rival's */
	int64		timestamp;		/* claim timestamp (Gregorian us) = token */
	uint64		claim_id;		/* pending rows: the claim under way */

	/*
	 * Registration metadata (src/shared/meta.h): the first block of a chain
	 * in the metadata pool and the JSON text's length, 0 when there is
	 * none.  meta is the registration's own; rival_meta that of the rival a
	 * pending row holds back.  Which one a row keeps when the rules change
	 * it: kz_rule_meta (rules.h).
	 */
	int32		meta;
	int32		meta_len;
	int32		rival_meta;
	int32		rival_meta_len;

	/*
	 * Pending rows: the registration of another node whose advertisement
	 * arrived while our claim was under way and lost to it by the conflict
	 * rule (flag KZ_ROW_RIVAL).  If our claim does not win after all, the
	 * row becomes the rival's instead of going: nobody advertises it again.
	 */
	int64		rival_ts;
	int32		rival_pid;
	uint16		rival_node;

	/*
	 * Leases (flag KZ_ROW_LEASE, src/shared/lease_rows.h).  A pending lease
	 * claim is owned by its claimant backend like any claim and carries the
	 * TTL asked for; once won, the local row is held by no backend (procno
	 * -1, pid 0, still counted against roleid) until lease_expires on this
	 * server's monotonic clock.
	 */
	int64		lease_expires;	/* local lease: CLOCK_MONOTONIC us */
	int32		lease_ttl_ms;	/* the TTL last asked for */

	KzName		name;
} KzRow;

#endif							/* KZ_ROW_H */
