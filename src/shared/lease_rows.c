/*-------------------------------------------------------------------------
 *
 * lease_rows.c
 *	  Lease rows of the name table (see lease_rows.h).  Runs in backends and
 *	  in the worker, under reg_lock (kz_leases_expire takes it itself,
 *	  exclusively, only when a lease may have expired).
 *
 * The clock is CLOCK_MONOTONIC: a lease's life does not change when the
 * wall clock is stepped.  It is this server's clock alone that decides;
 * other servers see the lease go when its unregister arrives, or with this
 * node when they expire it.
 *
 * IDENTIFICATION
 *	  src/shared/lease_rows.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>

#include "miscadmin.h"

#include "lease_rows.h"
#include "registry.h"
#include "rules_apply.h"
#include "shmem.h"

int64
kz_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

bool
kz_lease_row_alive(const KzRow *row)
{
	return kz_mono_us() < row->lease_expires;
}

/*
 * Lowers the hint the worker reads to expires if that is earlier; true if
 * it did.  Caller holds reg_lock exclusively (every writer of the hint does).
 */
static bool
note_expiry(int64 expires)
{
	uint64		hint = pg_atomic_read_u64(&kz_shared->lease_next_expiry);

	if (hint != 0 && (int64) hint <= expires)
		return false;
	pg_atomic_write_u64(&kz_shared->lease_next_expiry, (uint64) expires);
	return true;
}

bool
kz_row_make_lease(KzRow *row)
{
	if (row->procno >= 0 && row->procno < MaxBackends)
		kz_backends[row->procno].names_owned--;
	row->procno = -1;
	row->pid = 0;
	row->flags |= KZ_ROW_LEASE;
	row->lease_expires = kz_mono_us() + (int64) row->lease_ttl_ms * 1000;
	return note_expiry(row->lease_expires);
}

bool
kz_lease_extend(KzRow *row, int32 ttl_ms)
{
	row->lease_ttl_ms = ttl_ms;
	row->lease_expires = kz_mono_us() + (int64) ttl_ms * 1000;
	return note_expiry(row->lease_expires);
}

int64
kz_leases_expire(void)
{
	uint64		hint = pg_atomic_read_u64(&kz_shared->lease_next_expiry);
	int64		now = kz_mono_us();
	int64		next = 0;
	KzRegScan	scan;
	KzRow	   *row;

	if (hint == 0)
		return -1;
	if ((int64) hint > now)
		return ((int64) hint - now + 999) / 1000;

	LWLockAcquire(kz_shared->reg_lock, LW_EXCLUSIVE);
	kz_reg_scan_begin(&scan, KZ_ROWS_OF(KZ_ROW_LOCAL));
	while ((row = kz_reg_scan_next(&scan)) != NULL)
	{
		if (!(row->flags & KZ_ROW_LEASE))
			continue;
		if (row->lease_expires <= now)
			(void) kz_row_clear_dead(row);	/* goes, and the cluster is told */
		else if (next == 0 || row->lease_expires < next)
			next = row->lease_expires;
	}
	pg_atomic_write_u64(&kz_shared->lease_next_expiry, (uint64) next);
	LWLockRelease(kz_shared->reg_lock);
	return next == 0 ? -1 : (next - now + 999) / 1000;
}
