/*-------------------------------------------------------------------------
 *
 * leases.h
 *	  renew_lease() and release_lease() from a backend: a lease is held by
 *	  no session, so any session of its role that presents the token may
 *	  renew or release it (acquire_lease() is a claim: claims.h).
 *
 * Runs in backends.  Takes reg_lock, shared to look and exclusively to
 * change, never across a catalog lookup.
 *
 * IDENTIFICATION
 *	  src/backend/leases.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_BACKEND_LEASES_H
#define KZ_BACKEND_LEASES_H

#include "kz_types.h"

/*
 * Extends the lease on name with this token to ttl_ms from now.  Errors
 * out, changing nothing, unless this server holds that lease, the current
 * user may act for its role and, in a cluster, the broker is connected
 * (SQLSTATEs in leases.c).
 */
extern void kz_renew_lease(const KzName *name, int64 token, int32 ttl_ms);

/*
 * Releases the lease on name with this token, telling the cluster.  False
 * if the name is held by nothing any more (the lease expired or was
 * released); errors out as kz_renew_lease when it is held otherwise.
 */
extern bool kz_release_lease(const KzName *name, int64 token);

#endif							/* KZ_BACKEND_LEASES_H */
