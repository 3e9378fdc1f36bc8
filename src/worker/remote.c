/*-------------------------------------------------------------------------
 *
 * remote.c
 *	  A registration by another node, applied to this node's name table.
 *
 * An advertisement, the answer to one of our queries or claims, and a sync
 * entry all say "node N owns this name since T".  The rules (rules.c)
 * decide what the row becomes; rules_apply.c writes it under reg_lock;
 * this file carries out what must follow once the lock is released: tell a
 * losing backend (and terminate it with on_conflict = terminate), advertise
 * ours again.  An advertisement also sets the registration's metadata (the
 * row keeps it as kz_rule_meta says).  A claim of ours that the registration beats is returned to
 * the caller, which decides it (inflight.c is above this file).
 *
 * Runs in the worker only.  Takes reg_lock exclusively, then nodes_lock
 * shared, and logs only after releasing both.
 *
 * IDENTIFICATION
 *	  src/worker/remote.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "utils/json.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "log_limit.h"
#include "mailbox.h"
#include "names.h"
#include "nodes.h"
#include "outbox.h"
#include "remote.h"
#include "rules_apply.h"
#include "shmem.h"


/*
 * Tells a backend that lost a name in a conflict, and terminates it with
 * kz_globals.on_conflict = terminate, as Erlang global's default resolver
 * does.
 */
static void
notify_loser(int procno, int pid, const KzName *name, const char *winner)
{
	StringInfoData json;
	KzMessageSpec spec;
	dsa_pointer msg;
	char	   *text = kz_name_to_cstring(name);

	initStringInfo(&json);
	appendStringInfoString(&json, "{\"event\": \"name_lost\", \"name\": ");
	escape_json(&json, text);
	appendStringInfoString(&json, ", \"winner_node\": ");
	escape_json(&json, winner);
	appendStringInfoChar(&json, '}');

	memset(&spec, 0, sizeof(spec));
	spec.kind = KZ_MSG_SYSTEM;
	spec.sent_at = GetCurrentTimestamp();
	spec.name = name;
	spec.node = winner;
	spec.body = json.data;
	spec.body_len = json.len;
	msg = kz_message_create(&spec, true);
	if (DsaPointerIsValid(msg) && kz_mailbox_put(procno, pid, msg) != KZ_DELIVER_OK)
	{
		kz_message_free(msg);
		KZ_STAT_INC(messages_dropped);
	}
	ereport(LOG,
			(errmsg("kz_globals: backend %d lost the name \"%s\" to node \"%s\"",
					pid, text, winner)));
	if (kz_on_conflict == KZ_ON_CONFLICT_TERMINATE && kz_proc_alive(procno, pid))
		(void) kill(pid, SIGTERM);
}

/*
 * A registration by another node that the full table could not record:
 * logged once a minute at most, with the number not recorded since, so
 * that a sync or a flood of advertisements cannot fill the log.
 */
static void
table_full(const char *who)
{
	static KzLogLimit limit;
	int64		unlogged;

	if (!kz_log_due(&limit, &unlogged))
		return;
	ereport(LOG,
			(errmsg("kz_globals name table is full; a registration by node \"%s\" is not recorded", who),
			 unlogged > 0 ? errdetail("%d more were not recorded since the last such message.", (int) unlogged) : 0,
			 errhint("Increase kz_globals.max_names and restart the server.")));
}

/*
 * Advertised metadata the full pool could not hold: logged once a minute
 * at most, like table_full.
 */
static void
meta_pool_full(const char *who)
{
	static KzLogLimit limit;
	int64		unlogged;

	if (!kz_log_due(&limit, &unlogged))
		return;
	ereport(LOG,
			(errmsg("kz_globals metadata pool is full; a registration by node \"%s\" is recorded without its metadata", who),
			 unlogged > 0 ? errdetail("%d more were not recorded since the last such message.", (int) unlogged) : 0,
			 errhint("Increase kz_globals.meta_pool_size and restart the server.")));
}

/*
 * Applies a registration by another node to name's row (caller holds
 * reg_lock exclusively).  False if it needed a new row and the table is
 * full.  With advert, the row's metadata follows it (meta: its text, NULL
 * for none); *meta_stored says whether the pool could hold it.
 */
static bool
apply_locked(const KzName *name, const KzRuleRemote *ev, KzRuleEffects *eff,
			 bool advert, const char *meta, bool *meta_stored)
{
	KzRow	   *row = kz_reg_lookup(name);
	KzRuleRow	r;
	KzRuleNames names;

	kz_rules_read(row, &r, &names);
	kz_rule_advert(&r, ev, kz_node_name, &r, eff);
	return kz_rules_write_advert(row, name, &r, eff, advert ? ev : NULL, meta,
								 meta ? (int32) strlen(meta) : 0,
								 meta_stored) != NULL ||
		r.state == KZ_ROW_FREE;
}

static uint64
apply(const uint8 *data, size_t len, int node, int64 ts, int32 pid,
	  bool kazoo, bool advert, const char *meta)
{
	KzName		name;
	KzRuleRemote ev;
	KzRuleEffects eff;
	char		who[KZ_NODE_NAME_MAX];
	bool		recorded;
	bool		meta_stored;

	kz_name_set(&name, data, len);
	ev.node = node;
	ev.node_name = who;
	ev.ts = ts;
	ev.pid = pid;
	ev.kazoo = kazoo;
	LWLockAcquire(kz_shared->reg_lock, LW_EXCLUSIVE);
	LWLockAcquire(kz_shared->nodes_lock, LW_SHARED);
	strlcpy(who, kz_node(node)->name, sizeof(who));
	ev.sync_gen = kz_node(node)->sync_gen;
	/* a kz_globals node advertises no pid for a lease only */
	if (kz_node(node)->heard && !kz_node(node)->is_kazoo)
		ev.kazoo = false;
	/* it owns a name: its heartbeats' count of none starts again */
	kz_node(node)->empty_beats = 0;
	LWLockRelease(kz_shared->nodes_lock);
	recorded = apply_locked(&name, &ev, &eff, advert, kazoo ? NULL : meta,
							&meta_stored);
	LWLockRelease(kz_shared->reg_lock);

	if (!recorded)
		table_full(who);
	else if (!meta_stored)
		meta_pool_full(who);
	if (eff.conflict)
		KZ_STAT_INC(conflicts);
	/* a lease that lost has nobody to tell (rules' log line only) */
	if (eff.notify_loser && eff.loser_pid == 0)
		ereport(LOG,
				(errmsg("kz_globals: a lease lost the name \"%s\" to node \"%s\"",
						kz_name_to_cstring(&name), who)));
	else if (eff.notify_loser)
		notify_loser(eff.loser_procno, eff.loser_pid, &name, who);
	if (eff.readvertise)
		kz_outbox_advert(&name, eff.our_ts, eff.our_pid);
	return eff.lost_claim;
}


uint64
kz_remote_apply(const uint8 *data, size_t len, int node, int64 ts,
				int32 pid, bool kazoo)
{
	return apply(data, len, node, ts, pid, kazoo, false, NULL);
}

uint64
kz_remote_apply_advert(const uint8 *data, size_t len, int node, int64 ts,
					   int32 pid, bool kazoo, const char *meta)
{
	return apply(data, len, node, ts, pid, kazoo, true, meta);
}
