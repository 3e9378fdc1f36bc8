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
 *	  src/shared/registry.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_REGISTRY_H
#define KZ_REGISTRY_H

#include "kz_types.h"
#include "row.h"

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
 * The one way to visit the table's rows: those in the states of mask
 * (KZ_ROWS_OF(state) | ...), in table order.  The scan ends once it has
 * returned as many rows as those states held when it began, so it is
 * cheap on a big table with few names.  The caller holds reg_lock for the
 * whole scan (exclusively if it changes rows) and may change or drop the
 * row it was just given, but no other.
 *
 * A scan of a big table can instead hold the lock a page at a time, so
 * that writers wait for one page, not the whole table: right after taking
 * reg_lock, kz_reg_scan_page lets the next kz_reg_scan_next calls look at
 * no more than rows rows, after which they return NULL until the next
 * page; the caller releases the lock between pages.  Rows never move, so
 * the scan goes on at the row it had reached.  While the lock was free,
 * rows may have entered or left the mask's states anywhere: one that did
 * behind the scan is not seen, one ahead is seen as it is when the scan
 * reaches it.  So each page counts the rows to return anew from the
 * table's counts (never fewer than can be ahead, whatever changed), and
 * kz_reg_scan_done says when nothing is left.
 */
#define KZ_ROWS_OF(state)	(1u << (state))

typedef struct KzRegScan
{
	uint32		mask;
	int32		next;			/* index of the next row to look at */
	int32		left;			/* rows in the mask's states not yet returned */
	int32		stop;			/* index at which this page ends */
} KzRegScan;

extern void kz_reg_scan_begin(KzRegScan *scan, uint32 mask);
extern KzRow *kz_reg_scan_next(KzRegScan *scan);
extern void kz_reg_scan_page(KzRegScan *scan, int32 rows);
extern bool kz_reg_scan_done(const KzRegScan *scan);

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
 * their backend, and a lease's when it expires, even before anyone removes
 * them, so every reader checks.
 */
extern bool kz_row_alive(const KzRow *row);

/* Hash of an encoded name, as stored in KzRow.hash. */
extern uint32 kz_name_hash(const KzName *name);
extern bool kz_name_equal(const KzName *a, const KzName *b);

#endif							/* KZ_REGISTRY_H */
