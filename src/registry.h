/*-------------------------------------------------------------------------
 *
 * registry.h
 *	  The shared name table: one row per name this node knows.
 *
 * A row is local (owned by a backend of this node), remote (owned by
 * another node; this node's proxy for it) or pending (a claim by a local
 * backend is under way).  The table is a fixed array of rows sized by
 * kz_globals.max_names, with chained hashing through row indexes, so that
 * no row ever moves and the memory per name is known.
 *
 * Locking: kz_shared->reg_lock, shared to read, exclusive to change.  Every
 * function below expects the caller to hold it as stated.
 *
 * IDENTIFICATION
 *	  src/registry.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_REGISTRY_H
#define KZ_REGISTRY_H

#include "kz_globals.h"

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
	 * Pending rows: the registration of another node whose advertisement
	 * arrived while our claim was under way and lost to it by the conflict
	 * rule (flag KZ_ROW_RIVAL).  If our claim does not win after all, the
	 * row becomes the rival's instead of going: nobody advertises it again.
	 */
	int64		rival_ts;
	int32		rival_pid;
	uint16		rival_node;
	KzName		name;
} KzRow;

/* Counts of rows per state, for the heartbeat and the views. */
typedef struct KzRegistryCounts
{
	int32		pending;
	int32		local;
	int32		remote;
} KzRegistryCounts;

extern Size kz_registry_shmem_size(void);
extern void kz_registry_shmem_init(void);

/* Caller holds reg_lock (any mode). */
extern KzRow *kz_reg_lookup(const KzName *name);
extern KzRow *kz_reg_row(int32 index);
extern int32 kz_reg_index(const KzRow *row);
extern int32 kz_reg_capacity(void);
extern KzRegistryCounts kz_reg_counts(void);

/*
 * Local and pending rows owned by backends of role (kept by whoever adds or
 * removes such a row; caller holds reg_lock, exclusively to change).
 */
extern int32 kz_reg_role_names(Oid role);
extern void kz_reg_role_add(Oid role, int delta);

/*
 * Caller holds reg_lock exclusively.  kz_reg_insert returns a zeroed row
 * already keyed by name (state FREE: the caller sets it), or NULL when the
 * table is full; the name must not be in the table.
 */
extern KzRow *kz_reg_insert(const KzName *name);
extern void kz_reg_delete(KzRow *row);
extern void kz_reg_set_state(KzRow *row, KzRowState state);

/*
 * True if a row stands for a live owner.  Local and pending rows die with
 * their backend even before anyone removes them, so every reader checks.
 */
extern bool kz_row_alive(const KzRow *row);

/* Hash of an encoded name, as stored in KzRow.hash. */
extern uint32 kz_name_hash(const KzName *name);
extern bool kz_name_equal(const KzName *a, const KzName *b);

#endif							/* KZ_REGISTRY_H */
