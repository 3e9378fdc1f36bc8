/*-------------------------------------------------------------------------
 *
 * claims.c
 *	  Registering, releasing and finding names from a backend.
 *
 * Registrations are session-scoped and not transactional: nothing here is
 * undone by ROLLBACK, as with session-level advisory locks.
 *
 * A claim in cluster mode inserts a pending row carrying a fresh claim id
 * and the claim's timestamp, and hands a CLAIM job to the worker.  The
 * worker decides (flipping the row to local, or removing it) and reports
 * to the waiting backend.  If the backend stops waiting (cancel, timeout,
 * error) it removes whatever row still carries its claim id, so a failed
 * register_name() never leaves a registration behind.
 *
 * A lease (acquire_lease) is won by the same claim, made by the calling
 * backend for a row flagged KZ_ROW_LEASE; when it wins, the row leaves the
 * backend and lives until its TTL passes (src/shared/lease_rows.h).
 *
 * IDENTIFICATION
 *	  src/backend/claims.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/timestamp.h"

#include "claims.h"
#include "guc.h"
#include "lease_rows.h"
#include "meta.h"
#include "names.h"
#include "nodes.h"
#include "privileges.h"
#include "request.h"
#include "rules_apply.h"
#include "shmem.h"

/* How often a backend re-reads the broker state while waiting for it. */
#define KZ_STATE_POLL_MS		10

/* A standby that lost a claim looks again after this long at the latest. */
#define KZ_STANDBY_NAP_MS		100

static void
report_worker_down(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("kz_globals background worker is not running"),
			 errhint("The postmaster restarts it within seconds; see the server log.")));
}

static void
report_broker_down(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_CONNECTION_FAILURE),
			 errmsg("kz_globals cannot reach the message broker"),
			 errhint("Check kz_globals.amqp_uri and that RabbitMQ is running; whereis_name still answers from the local table.")));
}

/* True once the worker is connected and knows the other nodes. */
static bool
cluster_up(void)
{
	return pg_atomic_read_u32(&kz_shared->broker_state) == KZ_BROKER_CONNECTED &&
		pg_atomic_read_u32(&kz_shared->membership_ready) != 0;
}

/*
 * Waits for the worker's first connection and its first view of the
 * membership (which takes 1.25 heartbeat periods after connecting), up to
 * request_timeout beyond that; a worker that has already failed to connect
 * is reported at once instead.
 */
static bool
wait_cluster_up(void)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   kz_request_timeout +
													   kz_heartbeat_interval * 5 / 4);

	while (!cluster_up())
	{
		if (pg_atomic_read_u32(&kz_shared->worker_pid) == 0)
			return false;
		if (pg_atomic_read_u32(&kz_shared->broker_state) != KZ_BROKER_CONNECTED &&
			pg_atomic_read_u32(&kz_shared->broker_failures) > 0)
			return false;
		if (!kz_sleep_until(deadline, KZ_STATE_POLL_MS, KZ_WAIT_CLUSTER_UP))
			return false;
	}
	return true;
}

bool
kz_cluster_ready(bool raise)
{
	if (!kz_cluster_configured())
		return false;
	if (cluster_up() || wait_cluster_up())
		return true;
	if (!raise)
		return false;
	if (pg_atomic_read_u32(&kz_shared->worker_pid) == 0)
		report_worker_down();
	report_broker_down();
	return false;				/* keep compiler quiet */
}

static void
report_role_limit(Oid roleid, int32 held)
{
	ereport(ERROR,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("role \"%s\" holds %d names, the most kz_globals.max_names_per_role allows",
					GetUserNameFromId(roleid, true) ? GetUserNameFromId(roleid, true) : "?", held),
			 errhint("Unregister names, or raise kz_globals.max_names_per_role.")));
}

static void
report_table_full(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("kz_globals name table is full"),
			 errdetail("The table holds %d names.", kz_max_names),
			 errhint("Increase kz_globals.max_names and restart the server.")));
}

static void
report_meta_pool_full(int32 len)
{
	ereport(ERROR,
			(errcode(ERRCODE_OUT_OF_MEMORY),
			 errmsg("kz_globals metadata pool is full"),
			 errdetail("The metadata takes %d bytes; the pool (kz_globals.meta_pool_size) has %d bytes free.",
					   len, kz_meta_free_blocks() * KZ_META_BLOCK_DATA),
			 errhint("Use less metadata, or increase kz_globals.meta_pool_size and restart the server.")));
}

/*
 * Makes pid the owner of its PGPROC slot's names.  Rows a previous process
 * of the slot left (it can only have died without releasing them) go first.
 * Caller holds reg_lock exclusively.
 */
static void
own_slot_locked(int procno, int pid)
{
	KzBackend  *slot = &kz_backends[procno];

	if (slot->names_owned > 0 && slot->owner_pid != pid)
		kz_release_slot_locked(procno, slot->owner_pid);
	slot->owner_pid = pid;
}

/*
 * Inserts a row for name in the given state for backend (procno, pid), or
 * returns NULL if a live row exists; with lease_ttl_ms > 0, the row of a
 * lease claim; with meta (NULL: none), its registration metadata.  Caller
 * holds reg_lock exclusively; errors out (after releasing nothing: the
 * caller's lock is released by error cleanup) if the table or the metadata
 * pool is full.
 */
static KzRow *
insert_owned_row(const KzName *name, KzRowState state, int procno, int pid,
				 Oid dbid, Oid roleid, int32 role_limit, int32 lease_ttl_ms,
				 const KzMetaArg *meta)
{
	KzRow	   *row = kz_reg_lookup(name);
	int32		held;

	if (row != NULL)
	{
		if (kz_row_alive(row))
			return NULL;
		if (kz_row_clear_dead(row) != NULL)
			return NULL;		/* a dead claim's rival holds the name */
	}
	own_slot_locked(procno, pid);
	if (role_limit > 0 && (held = kz_reg_role_names(roleid)) >= role_limit)
	{
		LWLockRelease(kz_shared->reg_lock);
		report_role_limit(roleid, held);
	}
	if (meta != NULL && meta->len > 0 && kz_meta_blocks(meta->len) > kz_meta_free_blocks())
	{
		LWLockRelease(kz_shared->reg_lock);
		report_meta_pool_full(meta->len);
	}
	row = kz_reg_insert(name);
	if (row == NULL)
	{
		LWLockRelease(kz_shared->reg_lock);
		report_table_full();
	}
	row->node = KZ_SELF_NODE;
	row->pid = pid;
	row->procno = procno;
	row->dbid = dbid;
	row->roleid = roleid;
	row->timestamp = kz_hlc_now();
	row->claim_id = kz_next_id();
	if (meta != NULL)
		(void) kz_meta_set_row(row, meta->text, meta->len);	/* room checked above */
	if (lease_ttl_ms > 0)
	{
		row->flags |= KZ_ROW_LEASE;
		row->lease_ttl_ms = lease_ttl_ms;
	}
	kz_reg_set_state(row, state);
	kz_backends[procno].names_owned++;
	kz_reg_role_add(roleid, 1);
	return row;
}

/* What a claim is for: who, and whether it is a lease's. */
typedef struct ClaimFor
{
	int			procno;
	int			pid;
	Oid			dbid;
	Oid			roleid;
	int32		role_limit;		/* 0: none */
	int32		lease_ttl_ms;	/* > 0: a lease claim */
	const KzMetaArg *meta;		/* registration metadata, NULL: none */
} ClaimFor;

/* Single-server mode: the table alone decides.  *ts: the token. */
static bool
claim_single(const KzName *name, const ClaimFor *c, int64 *ts)
{
	KzRow	   *row;
	bool		wake = false;

	LWLockAcquire(kz_shared->reg_lock, LW_EXCLUSIVE);
	row = insert_owned_row(name, KZ_ROW_LOCAL, c->procno, c->pid, c->dbid,
						   c->roleid, c->role_limit, c->lease_ttl_ms, c->meta);
	if (row != NULL)
	{
		*ts = row->timestamp;
		if (c->lease_ttl_ms > 0)
			wake = kz_row_make_lease(row);
	}
	LWLockRelease(kz_shared->reg_lock);
	if (row == NULL)
	{
		KZ_STAT_INC(claims_lost);
		return false;
	}
	/* the worker expires leases: it must know of an earlier expiry */
	if (wake)
		kz_wake_worker();
	KZ_STAT_INC(claims_won);
	return true;
}

/*
 * Removes the row of a claim the backend no longer waits for: a pending row
 * silently (or hands it to the rival it held back), a row the worker
 * already made local with an unregister event.
 */
static void
abandon_claim(const KzName *name, uint64 claim_id)
{
	KzRow	   *row;

	LWLockAcquire(kz_shared->reg_lock, LW_EXCLUSIVE);
	row = kz_reg_lookup(name);
	if (row != NULL && row->claim_id == claim_id)
	{
		if (row->state == KZ_ROW_PENDING)
			(void) kz_row_end_claim(row);
		else if (row->state == KZ_ROW_LOCAL)
			kz_drop_row(row, true);
	}
	LWLockRelease(kz_shared->reg_lock);
}

/*
 * Hands a pending row's claim to the worker and waits for the verdict.  No
 * verdict in time counts as a worker restart.
 */
static KzReqResult
run_claim(const KzName *name, uint64 claim_id, int64 ts)
{
	KzJobSpec	spec;
	volatile KzReqResult result = KZ_RES_WORKER_RESTART;

	memset(&spec, 0, sizeof(spec));
	spec.kind = KZ_JOB_CLAIM;
	spec.ref = claim_id;
	spec.timestamp = ts;
	spec.name = name;
	PG_TRY();
	{
		KzReqResult r;

		if (kz_request_run(&spec, kz_request_timeout + KZ_WORKER_GRACE_MS, &r))
			result = r;
	}
	PG_CATCH();
	{
		abandon_claim(name, claim_id);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return result;
}

/* Cluster mode: a pending row, then the worker's verdict. */
static bool
claim_cluster(const KzName *name, const ClaimFor *c, int64 *token)
{
	int			attempt;

	for (attempt = 0; attempt < 2; attempt++)
	{
		KzRow	   *row;
		uint64		claim_id;
		int64		ts;
		KzReqResult result;

		LWLockAcquire(kz_shared->reg_lock, LW_EXCLUSIVE);
		row = insert_owned_row(name, KZ_ROW_PENDING, c->procno, c->pid, c->dbid,
							   c->roleid, c->role_limit, c->lease_ttl_ms, c->meta);
		if (row != NULL)
		{
			claim_id = row->claim_id;
			ts = row->timestamp;
		}
		LWLockRelease(kz_shared->reg_lock);
		if (row == NULL)
		{
			KZ_STAT_INC(claims_lost);
			return false;
		}

		result = run_claim(name, claim_id, ts);
		switch (result)
		{
			case KZ_RES_OK:
				*token = ts;
				return true;
			case KZ_RES_NO:
				return false;
			case KZ_RES_WORKER_RESTART:
				/* the worker died with the claim: clean up and try again */
				abandon_claim(name, claim_id);
				continue;
			default:
				abandon_claim(name, claim_id);
				report_broker_down();
		}
	}
	report_worker_down();
	return false;				/* keep compiler quiet */
}

static bool
claim_for(const KzName *name, ClaimFor *c, int64 *token)
{
	/* superusers are not limited; decided before reg_lock is taken */
	c->role_limit = kz_max_names_per_role > 0 && !superuser_arg(c->roleid) ?
		kz_max_names_per_role : 0;
	if (kz_cluster_ready(true))
		return claim_cluster(name, c, token);
	return claim_single(name, c, token);
}

bool
kz_claim_name_meta(const KzName *name, int procno, int pid, Oid dbid,
				   Oid roleid, const KzMetaArg *meta)
{
	ClaimFor	c;
	int64		token;

	memset(&c, 0, sizeof(c));
	c.procno = procno;
	c.pid = pid;
	c.dbid = dbid;
	c.roleid = roleid;
	c.meta = meta;
	return claim_for(name, &c, &token);
}

bool
kz_claim_name(const KzName *name, int procno, int pid, Oid dbid, Oid roleid)
{
	return kz_claim_name_meta(name, procno, pid, dbid, roleid, NULL);
}

/* A claim by the calling backend: for itself, or for a lease. */
static bool
claim_mine(const KzName *name, int32 lease_ttl_ms, int64 *token)
{
	ClaimFor	c;

	memset(&c, 0, sizeof(c));
	c.procno = KZ_MY_PROCNO;
	c.pid = MyProcPid;
	c.dbid = MyDatabaseId;

	/*
	 * A lease counts against the current role (current_user), whose
	 * members may renew and release it; a session's name against the
	 * session's role, as the backend's own role.
	 */
	c.roleid = lease_ttl_ms > 0 ? GetUserId() : GetSessionUserId();
	c.lease_ttl_ms = lease_ttl_ms;
	return claim_for(name, &c, token);
}

/* Copies a live owner row into *owner. */
static void
copy_owner(const KzRow *row, KzOwner *owner)
{
	owner->state = row->state;
	owner->node = row->node;
	owner->pid = row->pid;
	owner->procno = row->procno;
	owner->roleid = row->roleid;
	owner->token = row->timestamp;

	/*
	 * A lease here, or one elsewhere: a kz_globals node advertises a pid
	 * for every name but a lease's (a Kazoo node never does, KZ_ROW_KAZOO).
	 */
	owner->lease = KZ_ROW_IS_LEASE(row) ||
		(row->state == KZ_ROW_REMOTE && row->pid == 0 &&
		 (row->flags & KZ_ROW_KAZOO) == 0);
}

bool
kz_find_owner(const KzName *name, KzOwner *owner)
{
	KzRow	   *row;
	bool		found = false;

	LWLockAcquire(kz_shared->reg_lock, LW_SHARED);
	row = kz_reg_lookup(name);
	if (row != NULL && (row->state == KZ_ROW_LOCAL || row->state == KZ_ROW_REMOTE) &&
		kz_row_alive(row))
	{
		copy_owner(row, owner);
		found = true;
	}
	LWLockRelease(kz_shared->reg_lock);

	if (!found)
		return false;
	if (owner->node == KZ_SELF_NODE)
		strlcpy(owner->node_name, kz_node_name, sizeof(owner->node_name));
	else
		kz_node_name_copy(owner->node, owner->node_name);
	return true;
}

/* Asks the cluster who owns name; the worker records the answer. */
static void
query_cluster(const KzName *name)
{
	KzJobSpec	spec;
	KzReqResult result;

	memset(&spec, 0, sizeof(spec));
	spec.kind = KZ_JOB_QUERY;
	spec.name = name;
	(void) kz_request_run(&spec, kz_request_timeout + KZ_WORKER_GRACE_MS, &result);
}

bool
kz_whereis(const KzName *name, KzOwner *owner)
{
	if (kz_find_owner(name, owner))
		return true;
	if (!kz_query_on_miss || !kz_cluster_ready(false))
		return false;
	query_cluster(name);
	return kz_find_owner(name, owner);
}

/*
 * May the current user remove a registration owned by a backend of this
 * role?  The owner itself, a member of the owner's role, kz_globals_admin
 * or a superuser.
 */
static bool
may_unregister(const KzOwner *owner)
{
	if (!owner->lease && owner->procno == KZ_MY_PROCNO && owner->pid == MyProcPid)
		return true;
	return kz_may_act_for_role(owner->roleid);
}

bool
kz_may_act_for_role(Oid roleid)
{
	return has_privs_of_role(GetUserId(), roleid) ||
		kz_has_privilege(KZ_PRIV_ADMIN);
}

bool
kz_unregister_name(const KzName *name)
{
	KzOwner		owner;
	KzRow	   *row;
	bool		removed = false;

	if (!kz_find_owner(name, &owner) || owner.state != KZ_ROW_LOCAL)
		return false;
	if (!may_unregister(&owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to unregister name \"%s\"",
						kz_name_to_cstring(name)),
				 errdetail("Only the owner, a member of the owner's role or a superuser may unregister a name.")));

	/* the row may have changed hands while the privileges were checked */
	LWLockAcquire(kz_shared->reg_lock, LW_EXCLUSIVE);
	row = kz_reg_lookup(name);
	if (row != NULL && row->state == KZ_ROW_LOCAL && row->pid == owner.pid &&
		row->timestamp == owner.token)
	{
		kz_drop_row(row, true);
		removed = true;
	}
	LWLockRelease(kz_shared->reg_lock);
	return removed;
}

/*
 * Does the calling backend own name (with any token when token is NULL)?
 * With leases, a lease held here with the token, if the caller may act for
 * its role.
 */
static bool
owned_by_me(const KzName *name, const int64 *token, bool leases)
{
	KzOwner		owner;

	if (!kz_find_owner(name, &owner) || owner.state != KZ_ROW_LOCAL)
		return false;
	if (token != NULL && owner.token != *token)
		return false;
	if (owner.lease)
		return leases && kz_may_act_for_role(owner.roleid);
	return owner.procno == KZ_MY_PROCNO && owner.pid == MyProcPid;
}

/* True while some live row (pending, local or remote) holds name. */
static bool
name_taken(const KzName *name)
{
	KzRow	   *row;
	bool		taken;

	LWLockAcquire(kz_shared->reg_lock, LW_SHARED);
	row = kz_reg_lookup(name);
	taken = row != NULL && kz_row_alive(row);
	LWLockRelease(kz_shared->reg_lock);
	return taken;
}

static void
set_wait_hash(uint32 hash)
{
	kz_backends[KZ_MY_PROCNO].wait_hash = hash;
	pg_memory_barrier();
}

/*
 * Sleeps until name is free or the deadline (0: none) passes; false on
 * timeout.  A claim can be lost before the winner's row arrives here, so
 * even a free-looking name is re-checked after a short nap.
 */
static bool
await_free(const KzName *name, TimestampTz deadline, bool after_loss)
{
	bool		napped = false;

	for (;;)
	{
		long		cap_ms = -1;

		if (!name_taken(name) && (!after_loss || napped))
			return true;
		if (after_loss && !napped)
		{
			cap_ms = KZ_STANDBY_NAP_MS;
			napped = true;
		}
		if (!kz_sleep_until(deadline, cap_ms, KZ_WAIT_REGISTER))
			return false;
	}
}

/*
 * A standby's claim by the calling backend (for a lease if lease_ttl_ms >
 * 0): waits until name is free, claims it, and again if another standby
 * won, until timeout_ms (-1: no limit) has passed.
 */
static bool
claim_wait(const KzName *name, int timeout_ms, int32 lease_ttl_ms, int64 *token)
{
	volatile TimestampTz deadline = 0;
	volatile bool won = false;

	if (timeout_ms >= 0)
		deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), Max(timeout_ms, 1));
	pg_atomic_fetch_add_u32(&kz_shared->waiters, 1);
	PG_TRY();
	{
		bool		lost = false;

		set_wait_hash(kz_name_hash(name));
		while (await_free(name, deadline, lost))
		{
			if (claim_mine(name, lease_ttl_ms, token))
			{
				won = true;
				break;
			}
			lost = true;
		}
	}
	PG_FINALLY();
	{
		set_wait_hash(0);
		pg_atomic_fetch_sub_u32(&kz_shared->waiters, 1);
	}
	PG_END_TRY();
	return won;
}

bool
kz_claim_name_wait(const KzName *name, int timeout_ms)
{
	int64		token;

	/* a standby that already owns the name has nothing to wait for */
	if (owned_by_me(name, NULL, false))
		return true;
	return claim_wait(name, timeout_ms, 0, &token);
}

bool
kz_claim_lease(const KzName *name, int32 ttl_ms, int timeout_ms, int64 *token)
{
	Assert(ttl_ms > 0);
	if (timeout_ms == 0)
		return claim_mine(name, ttl_ms, token);
	return claim_wait(name, timeout_ms, ttl_ms, token);
}

bool
kz_name_token(const KzName *name, int64 *token)
{
	KzOwner		owner;

	if (!kz_find_owner(name, &owner))
		return false;
	*token = owner.token;
	return true;
}

bool
kz_owns_with_token(const KzName *name, int64 token)
{
	return owned_by_me(name, &token, true);
}

/* Registration metadata (see claims.h). */

static void
report_not_registered(const KzName *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("no process is registered under the name \"%s\"",
					kz_name_to_cstring(name))));
}

/* Tells the cluster a local registration's new metadata (set_meta). */
static void
readvertise(const KzName *name, int64 ts, int32 pid)
{
	KzJobSpec	spec;

	if (!kz_cluster_configured())
		return;
	memset(&spec, 0, sizeof(spec));
	spec.kind = KZ_JOB_ADVERTISE;
	spec.procno = -1;
	spec.pid = pid;
	spec.timestamp = ts;
	spec.name = name;
	/* never raises: the metadata has changed already */
	if (!kz_job_submit(&spec, true))
		ereport(WARNING,
				(errmsg("kz_globals could not queue the advertisement of \"%s\"",
						kz_name_to_cstring(name)),
				 errdetail("The other nodes learn the new metadata at the next sync.")));
}

void
kz_set_meta(const KzName *name, const KzMetaArg *meta)
{
	KzRow	   *row;
	int64		ts;
	int32		pid;
	bool		stored;

	LWLockAcquire(kz_shared->reg_lock, LW_EXCLUSIVE);
	row = kz_reg_lookup(name);
	if (row == NULL || !kz_row_alive(row) || row->state == KZ_ROW_PENDING)
	{
		LWLockRelease(kz_shared->reg_lock);
		report_not_registered(name);
	}
	if (row->state != KZ_ROW_LOCAL || row->procno != KZ_MY_PROCNO ||
		row->pid != MyProcPid)
	{
		LWLockRelease(kz_shared->reg_lock);
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to set the metadata of name \"%s\"",
						kz_name_to_cstring(name)),
				 errdetail("Only the session that holds a name may change its metadata.")));
	}
	stored = kz_meta_set_row(row, meta->text, meta->len);
	ts = row->timestamp;
	pid = row->pid;
	LWLockRelease(kz_shared->reg_lock);
	if (!stored)
		report_meta_pool_full(meta->len);
	readvertise(name, ts, pid);
}

bool
kz_name_meta(const KzName *name, char **text)
{
	KzRow	   *row;
	bool		found = false;

	*text = NULL;
	LWLockAcquire(kz_shared->reg_lock, LW_SHARED);
	row = kz_reg_lookup(name);
	if (row != NULL && (row->state == KZ_ROW_LOCAL || row->state == KZ_ROW_REMOTE) &&
		kz_row_alive(row))
	{
		found = true;
		if (!(row->flags & KZ_ROW_KAZOO))
			*text = kz_meta_copy(row->meta, row->meta_len);
	}
	LWLockRelease(kz_shared->reg_lock);
	return found;
}
