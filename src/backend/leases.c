/*-------------------------------------------------------------------------
 *
 * leases.c
 *	  renew_lease() and release_lease() (see leases.h).  Runs in backends.
 *
 * Both first read the name's row under reg_lock shared, check the caller's
 * role with the lock released (a catalog lookup), then take reg_lock
 * exclusively and act only if the row is still the same lease.  What the
 * caller is told when the lease is not there (README, "Leases"):
 *
 *	55000	no lease with this token is held here: it expired, was released,
 *			or the name is held with another token (a newer holder);
 *	42809	the name is held by a session (register_name), not a lease;
 *	0A000	the lease with this token is held by another server: leases
 *			are renewed and released where they were acquired;
 *	42501	the caller is not a member of the lease's role (nor
 *			kz_globals_admin): tokens are not secret, token() shows them;
 *	08006	(renew only) this server is configured for a cluster but not
 *			connected to the broker: the rest of the cluster may already
 *			have expired this node and granted the name again, so the lease
 *			is left to run out rather than extended blind.
 *
 * IDENTIFICATION
 *	  src/backend/leases.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"

#include "lease_rows.h"
#include "claims.h"
#include "guc.h"
#include "leases.h"
#include "names.h"
#include "nodes.h"
#include "rules_apply.h"
#include "shmem.h"

typedef enum LeaseState
{
	LEASE_HELD,					/* a lease here, with this token */
	LEASE_NONE,					/* nothing holds the name */
	LEASE_OTHER_TOKEN,			/* held, but not with this token */
	LEASE_SESSION,				/* held here by a session, with this token */
	LEASE_ELSEWHERE				/* held by another node, with this token */
} LeaseState;

/* What holds name, as seen from token (caller holds reg_lock). */
static LeaseState
lease_state_locked(KzRow *row, int64 token)
{
	if (row == NULL || !kz_row_alive(row))
		return LEASE_NONE;
	if (row->state == KZ_ROW_PENDING || row->timestamp != token)
		return LEASE_OTHER_TOKEN;
	if (row->state == KZ_ROW_REMOTE)
		return LEASE_ELSEWHERE;
	return KZ_ROW_IS_LEASE(row) ? LEASE_HELD : LEASE_SESSION;
}

/* The lease's state, its role and the holding node's index. */
static LeaseState
look(const KzName *name, int64 token, Oid *roleid, int *node)
{
	KzRow	   *row;
	LeaseState	st;

	LWLockAcquire(kz_shared->reg_lock, LW_SHARED);
	row = kz_reg_lookup(name);
	st = lease_state_locked(row, token);
	if (st != LEASE_NONE)
	{
		*roleid = row->roleid;
		*node = row->node;
	}
	LWLockRelease(kz_shared->reg_lock);
	return st;
}

static void
report_not_held(const KzName *name, int64 token, const char *verb)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("no lease on \"%s\" with token " INT64_FORMAT " is held",
					kz_name_to_cstring(name), token),
			 errdetail("The lease expired or was released, or the name is held with another token."),
			 errhint("Do not %s on its behalf: acquire_lease() again.", verb)));
}

/*
 * Errors out unless st is LEASE_HELD by a role the caller may act for;
 * returns quietly for LEASE_NONE (the callers decide).
 */
static void
check_held(const KzName *name, int64 token, LeaseState st, Oid roleid, int node,
		   const char *what)
{
	char		node_name[KZ_NODE_NAME_MAX];

	switch (st)
	{
		case LEASE_HELD:
			if (!kz_may_act_for_role(roleid))
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("permission denied to %s the lease on \"%s\"",
								what, kz_name_to_cstring(name)),
						 errdetail("Only members of the role that acquired it, members of kz_globals_admin and superusers may.")));
			return;
		case LEASE_NONE:
			return;
		case LEASE_OTHER_TOKEN:
			report_not_held(name, token, "act");
			break;
		case LEASE_SESSION:
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("the name \"%s\" is held by a session, not by a lease",
							kz_name_to_cstring(name)),
					 errhint("unregister_name() releases a session's name.")));
			break;
		case LEASE_ELSEWHERE:
			kz_node_name_copy(node, node_name);
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("the lease on \"%s\" is held by node \"%s\", not by this server",
							kz_name_to_cstring(name), node_name),
					 errhint("Renew and release a lease on the server that acquired it.")));
			break;
	}
}

/*
 * Takes reg_lock exclusively and returns name's row if it is still the
 * lease with this token, else NULL with the lock released.
 */
static KzRow *
lock_lease(const KzName *name, int64 token)
{
	KzRow	   *row;

	LWLockAcquire(kz_shared->reg_lock, LW_EXCLUSIVE);
	row = kz_reg_lookup(name);
	if (lease_state_locked(row, token) == LEASE_HELD)
		return row;
	LWLockRelease(kz_shared->reg_lock);
	return NULL;
}

/*
 * In a cluster, a lease is extended only while the worker is connected to
 * the broker (its node is then heartbeating, so peers keep its names).
 */
static void
check_connected(const KzName *name)
{
	if (!kz_cluster_configured() ||
		pg_atomic_read_u32(&kz_shared->broker_state) == KZ_BROKER_CONNECTED)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_CONNECTION_FAILURE),
			 errmsg("kz_globals cannot renew the lease on \"%s\" while the message broker is unreachable",
					kz_name_to_cstring(name)),
			 errdetail("Other servers may expire this node and grant the name again meanwhile; the lease runs out at its deadline unless renewed after the connection is back."),
			 errhint("Stop acting on the lease unless a renewal succeeds before it expires.")));
}

void
kz_renew_lease(const KzName *name, int64 token, int32 ttl_ms)
{
	Oid			roleid = InvalidOid;
	int			node = 0;
	LeaseState	st = look(name, token, &roleid, &node);
	KzRow	   *row;
	bool		wake;

	check_held(name, token, st, roleid, node, "renew");
	if (st == LEASE_NONE)
		report_not_held(name, token, "act");
	check_connected(name);
	if ((row = lock_lease(name, token)) == NULL)
		report_not_held(name, token, "act");
	wake = kz_lease_extend(row, ttl_ms);
	LWLockRelease(kz_shared->reg_lock);
	/* a shorter TTL than any before: the worker must look earlier */
	if (wake)
		kz_wake_worker();
}

bool
kz_release_lease(const KzName *name, int64 token)
{
	Oid			roleid = InvalidOid;
	int			node = 0;
	LeaseState	st = look(name, token, &roleid, &node);
	KzRow	   *row;

	check_held(name, token, st, roleid, node, "release");
	if (st == LEASE_NONE || (row = lock_lease(name, token)) == NULL)
		return false;
	kz_drop_row(row, true);
	LWLockRelease(kz_shared->reg_lock);
	return true;
}
