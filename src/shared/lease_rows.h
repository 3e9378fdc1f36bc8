/*-------------------------------------------------------------------------
 *
 * lease_rows.h
 *	  Names held by a lease: a local row that no backend owns, kept alive
 *	  by renewals on this server's monotonic clock.
 *
 * A lease is won by an ordinary claim (claims.c): its pending row is owned
 * by the claimant backend and carries the TTL asked for (flag
 * KZ_ROW_LEASE).  When the claim wins, kz_rules_write() turns the row into
 * a lease: no procno, pid 0, still counted against the acquiring role, and
 * alive until lease_expires.  From then on any session of the role that
 * presents the token (the claim timestamp) may renew or release it; a
 * backend's exit does not touch it.  An expired lease is dead to every
 * reader at once (kz_row_alive), and the worker removes it and tells the
 * cluster, as an owner's exit would.
 *
 * Runs in backends and in the worker.  The caller holds reg_lock as each
 * function says; kz_leases_expire() takes it itself.
 *
 * IDENTIFICATION
 *	  src/shared/lease_rows.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_LEASE_ROWS_H
#define KZ_LEASE_ROWS_H

#include "row.h"

/* TTLs a lease may be given, in milliseconds. */
#define KZ_LEASE_TTL_MIN_MS		100
#define KZ_LEASE_TTL_MAX_MS		86400000

/* Microseconds on CLOCK_MONOTONIC, the same in every process of the host. */
extern int64 kz_mono_us(void);

/* True for a local lease row (whether or not it has expired). */
#define KZ_ROW_IS_LEASE(row) \
	((row)->state == KZ_ROW_LOCAL && ((row)->flags & KZ_ROW_LEASE) != 0)

/* A local lease row that has not expired (caller holds reg_lock). */
extern bool kz_lease_row_alive(const KzRow *row);

/*
 * Turns a local row that a lease claim has just won into the lease: it
 * leaves its claimant backend's slot and expires lease_ttl_ms from now.
 * Caller holds reg_lock exclusively.  True if no lease expired earlier,
 * so that a backend must wake the worker to watch it.
 */
extern bool kz_row_make_lease(KzRow *row);

/*
 * A lease's new expiry, ttl_ms from now (caller holds reg_lock
 * exclusively).  True if no lease expired earlier (a shorter TTL than
 * before): the worker must be woken, as for kz_row_make_lease.
 */
extern bool kz_lease_extend(KzRow *row, int32 ttl_ms);

/*
 * The worker: removes the expired leases (as their owner's exit would,
 * telling the cluster) once the earliest expiry has passed; returns the
 * milliseconds until it must look again, -1 if no lease is held.
 */
extern int64 kz_leases_expire(void);

#endif							/* KZ_LEASE_ROWS_H */
