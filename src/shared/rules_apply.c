/*-------------------------------------------------------------------------
 *
 * rules_apply.c
 *	  Between the name table and the rules (see rules_apply.h).  Runs in the
 *	  worker and in backends, under reg_lock held exclusively by the caller.
 *
 * IDENTIFICATION
 *	  src/shared/rules_apply.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"

#include "guc.h"
#include "lease_rows.h"
#include "meta.h"
#include "nodes.h"
#include "request.h"
#include "rules_apply.h"
#include "shmem.h"

static const char *
name_of(int node, char *buf)
{
	if (node == KZ_SELF_NODE)
		return kz_node_name;
	kz_node_name_copy(node, buf);
	return buf;
}

void
kz_rules_read(const KzRow *row, KzRuleRow *r, KzRuleNames *names)
{
	memset(r, 0, sizeof(*r));
	if (row == NULL || row->state == KZ_ROW_FREE)
	{
		r->state = KZ_ROW_FREE;
		return;
	}
	r->state = (KzRowState) row->state;
	r->alive = kz_row_alive(row);
	r->lost = (row->flags & KZ_ROW_LOST) != 0;
	r->kazoo = (row->flags & KZ_ROW_KAZOO) != 0;
	r->node = row->node;
	r->ts = row->timestamp;
	r->pid = row->pid;
	r->procno = row->procno;
	r->claim_id = row->claim_id;
	if (row->state == KZ_ROW_REMOTE)
	{
		r->sync_gen = row->sync_gen;
		if (names != NULL)
			r->node_name = name_of(row->node, names->owner);
	}
	if (row->state == KZ_ROW_PENDING && (row->flags & KZ_ROW_RIVAL))
	{
		r->has_rival = true;
		r->rival_kazoo = (row->flags & KZ_ROW_RIVAL_KAZOO) != 0;
		r->rival_node = row->rival_node;
		r->rival_ts = row->rival_ts;
		r->rival_pid = row->rival_pid;
		r->rival_sync_gen = row->sync_gen;
		if (names != NULL)
			r->rival_name = name_of(row->rival_node, names->rival);
	}
}

/* A pending row's flags and held-back rival, as r says. */
static void
write_pending(KzRow *row, const KzRuleRow *r)
{
	/* a lease claim stays one */
	row->flags = (row->flags & KZ_ROW_LEASE) | (r->lost ? KZ_ROW_LOST : 0);
	if (!r->has_rival)
		return;
	row->flags |= KZ_ROW_RIVAL | (r->rival_kazoo ? KZ_ROW_RIVAL_KAZOO : 0);
	row->rival_node = (uint16) r->rival_node;
	row->rival_ts = r->rival_ts;
	row->rival_pid = r->rival_pid;
	row->sync_gen = r->rival_sync_gen;
}

static KzRow *
write_row(KzRow *row, const KzName *name, const KzRuleRow *r,
		  const KzRuleEffects *eff)
{
	if (eff != NULL && eff->unregister)
		kz_tell_unregister(name, eff->gone_ts, eff->gone_pid);
	if (r->state == KZ_ROW_FREE)
	{
		if (row != NULL)
			kz_drop_row(row, false);
		return NULL;
	}
	if (row == NULL && (row = kz_reg_insert(name)) == NULL)
		return NULL;
	switch (r->state)
	{
		case KZ_ROW_REMOTE:
			kz_row_make_remote(row, r->node, r->ts, r->pid, r->kazoo);
			row->sync_gen = r->sync_gen;
			break;
		case KZ_ROW_PENDING:
			write_pending(row, r);
			break;
		case KZ_ROW_LOCAL:
			if (row->state == KZ_ROW_PENDING)
			{
				row->flags &= ~(KZ_ROW_LOST | KZ_ROW_RIVAL | KZ_ROW_RIVAL_KAZOO);
				kz_reg_set_state(row, KZ_ROW_LOCAL);
				/* a won lease claim leaves its backend */
				if (row->flags & KZ_ROW_LEASE)
					(void) kz_row_make_lease(row);
			}
			break;
		case KZ_ROW_FREE:
			break;
	}
	return row;
}

/* The rival's metadata of a pending row, replaced by text (NULL: none). */
static bool
set_rival_meta(KzRow *row, const char *text, int32 len)
{
	kz_meta_free(row->rival_meta);
	row->rival_meta = text != NULL && len > 0 ? kz_meta_store(text, len) : 0;
	row->rival_meta_len = row->rival_meta != 0 ? len : 0;
	return row->rival_meta != 0 || text == NULL || len <= 0;
}

/*
 * Carries out kz_rule_meta's plan on a row just written; false if the
 * advertisement's metadata did not fit in the pool (the row then has
 * none).
 */
static bool
write_meta(KzRow *row, KzMetaPlan plan, const char *text, int32 len)
{
	bool		stored = true;

	switch (plan.own)
	{
		case KZ_META_KEEP:
			break;
		case KZ_META_DROP:
			kz_meta_free(row->meta);
			row->meta = row->meta_len = 0;
			break;
		case KZ_META_RIVAL:
			kz_meta_free(row->meta);
			row->meta = row->rival_meta;
			row->meta_len = row->rival_meta_len;
			row->rival_meta = row->rival_meta_len = 0;
			break;
		case KZ_META_EVENT:
			if (!kz_meta_set_row(row, text, len))
			{
				(void) kz_meta_set_row(row, NULL, 0);
				stored = false;
			}
			break;
	}
	switch (plan.rival)
	{
		case KZ_META_KEEP:
		case KZ_META_RIVAL:
			break;
		case KZ_META_DROP:
			(void) set_rival_meta(row, NULL, 0);
			break;
		case KZ_META_EVENT:
			stored = set_rival_meta(row, text, len);
			break;
	}
	return stored;
}

KzRow *
kz_rules_write_advert(KzRow *row, const KzName *name, const KzRuleRow *r,
					  const KzRuleEffects *eff, const KzRuleRemote *ev,
					  const char *meta, int32 meta_len, bool *meta_stored)
{
	KzRuleRow	before;
	KzMetaPlan	plan;

	kz_rules_read(row, &before, NULL);
	if (meta_stored != NULL)
		*meta_stored = true;
	row = write_row(row, name, r, eff);
	if (row == NULL)
		return NULL;
	plan = kz_rule_meta(&before, r, ev);
	if (!write_meta(row, plan, meta, meta_len) && meta_stored != NULL)
		*meta_stored = false;
	return row;
}

KzRow *
kz_rules_write(KzRow *row, const KzName *name, const KzRuleRow *r,
			   const KzRuleEffects *eff)
{
	return kz_rules_write_advert(row, name, r, eff, NULL, NULL, 0, NULL);
}

/* Row primitives: the table, the owners' slots and the standbys. */

void
kz_wake_standbys(uint32 hash)
{
	int			i;

	if (pg_atomic_read_u32(&kz_shared->waiters) == 0)
		return;
	pg_memory_barrier();
	for (i = 0; i < MaxBackends; i++)
	{
		if (kz_backends[i].wait_hash == hash)
			SetLatch(kz_proc_latch(i));
	}
}


/*
 * Queues the unregister event for a local name that is going away.  Used
 * from exit callbacks too, so it never raises: if memory is short the event
 * is lost and the peers correct themselves at the next full sync.
 */
void
kz_tell_unregister(const KzName *name, int64 ts, int32 pid)
{
	KzJobSpec	spec;

	if (!kz_cluster_configured() &&
		pg_atomic_read_u32(&kz_shared->broker_state) == KZ_BROKER_DISABLED)
		return;
	memset(&spec, 0, sizeof(spec));
	spec.kind = KZ_JOB_UNREGISTER;
	spec.procno = -1;
	spec.pid = pid;
	spec.timestamp = ts;
	spec.name = name;
	(void) kz_job_submit(&spec, true);
}

/*
 * A local or pending row stops counting for its owner: its backend's slot
 * (a lease has none) and its role.
 */
static void
disown_row(KzRow *row)
{
	if (row->state != KZ_ROW_LOCAL && row->state != KZ_ROW_PENDING)
		return;
	if (row->procno >= 0 && row->procno < MaxBackends)
	{
		kz_backends[row->procno].names_owned--;
		kz_reg_role_add(row->roleid, -1);
	}
	else if (KZ_ROW_IS_LEASE(row))
		kz_reg_role_add(row->roleid, -1);
}

void
kz_drop_row(KzRow *row, bool tell_cluster)
{
	uint32		hash = row->hash;

	disown_row(row);
	if (tell_cluster && row->state == KZ_ROW_LOCAL)
		kz_tell_unregister(&row->name, row->timestamp, row->pid);
	kz_reg_delete(row);
	kz_wake_standbys(hash);
}

void
kz_row_make_remote(KzRow *row, int node, int64 ts, int32 pid, bool kazoo)
{
	disown_row(row);
	row->node = node;
	row->timestamp = ts;
	row->pid = pid;
	row->procno = -1;
	row->dbid = InvalidOid;
	row->roleid = InvalidOid;
	row->claim_id = 0;
	row->flags = kazoo ? KZ_ROW_KAZOO : 0;
	kz_reg_set_state(row, KZ_ROW_REMOTE);
}

bool
kz_row_end_claim(KzRow *row)
{
	KzRuleRow	r;
	KzRuleEffects eff;
	KzName		name = row->name;

	kz_rules_read(row, &r, NULL);
	kz_rule_verdict(&r, r.claim_id, false, &r, &eff);
	return kz_rules_write(row, &name, &r, &eff) != NULL;
}

KzRow *
kz_row_clear_dead(KzRow *row)
{
	KzRuleRow	r;
	KzRuleEffects eff;
	KzName		name = row->name;

	kz_rules_read(row, &r, NULL);
	kz_rule_owner_gone(&r, &r, &eff);
	return kz_rules_write(row, &name, &r, &eff);
}


/* True for a row owned, or last owned, by a backend in PGPROC slot procno. */
static bool
owned_by_slot(const KzRow *row, int procno, int pid)
{
	if (row->state != KZ_ROW_LOCAL && row->state != KZ_ROW_PENDING)
		return false;
	if (row->procno != procno)
		return false;
	return row->pid == pid || !kz_row_alive(row);
}

/*
 * Drops the rows of slot procno owned by pid (or by a process that has
 * exited); a pending row that held back a rival becomes the rival's.
 * Caller holds reg_lock exclusively.  A scan of the table, but
 * only when the slot has names: once per exiting owner.
 */
void
kz_release_slot_locked(int procno, int pid)
{
	KzRegScan	scan;
	KzRow	   *row;

	kz_reg_scan_begin(&scan, KZ_ROWS_OF(KZ_ROW_LOCAL) | KZ_ROWS_OF(KZ_ROW_PENDING));
	while (kz_backends[procno].names_owned > 0 && (row = kz_reg_scan_next(&scan)) != NULL)
	{
		if (!owned_by_slot(row, procno, pid))
			continue;
		if (row->state == KZ_ROW_PENDING)
			(void) kz_row_end_claim(row);
		else
			kz_drop_row(row, true);
	}
}

void
kz_release_backend(int procno, int pid)
{
	if (kz_backends[procno].names_owned <= 0)
		return;
	LWLockAcquire(kz_shared->reg_lock, LW_EXCLUSIVE);
	kz_release_slot_locked(procno, pid);
	LWLockRelease(kz_shared->reg_lock);
}

/*
 * Releases the names of owners that exited without doing it themselves
 * (processes that never armed the exit callback).  Looks at the slots, not
 * the table, so it costs nothing while every owner lives.
 */
void
kz_sweep_dead_owners(void)
{
	int32	   *dead = palloc0(MaxBackends * sizeof(int32));
	int			i;

	LWLockAcquire(kz_shared->reg_lock, LW_SHARED);
	for (i = 0; i < MaxBackends; i++)
	{
		if (kz_backends[i].names_owned > 0 && !kz_proc_alive(i, kz_backends[i].owner_pid))
			dead[i] = kz_backends[i].owner_pid;
	}
	LWLockRelease(kz_shared->reg_lock);
	for (i = 0; i < MaxBackends; i++)
	{
		if (dead[i] != 0)
			kz_release_backend(i, dead[i]);
	}
	pfree(dead);
}
