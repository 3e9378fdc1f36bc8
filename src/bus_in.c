/*-------------------------------------------------------------------------
 *
 * bus_in.c
 *	  What the worker does with each message from the bus.
 *
 * A delivery is decoded (a malformed one is dropped, counted and logged
 * once per kind), our own broadcasts are ignored, and the rest is
 * dispatched by event.  This file handles the events about registrations;
 * relay.c handles messages for owners, membership.c heartbeats and syncs,
 * inflight.c the replies to our own claims and queries.
 *
 * Kazoo's defects fixed here (SPEC section 5):
 *	1. a claim's own Timestamp is compared with ours when we answer
 *	   "pending", and if it wins our claim loses at once;
 *	4. an unregister is obeyed only from the node that owns the row;
 *	5. an advertisement that conflicts with a local row is decided by the
 *	   same rule on every node; the losing backend is told (and terminated
 *	   with on_conflict = terminate) and no superseded row is kept.
 *
 * IDENTIFICATION
 *	  src/bus_in.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "utils/json.h"
#include "utils/timestamp.h"

#include "bus.h"
#include "claims.h"
#include "conflict.h"
#include "guc.h"
#include "mailbox.h"
#include "names.h"
#include "nodes.h"
#include "shmem.h"

static bool logged_malformed[KZ_PROTO_NUM_ERRORS];

void
kz_in_malformed(KzProtoError err, const char *detail)
{
	KZ_STAT_INC(bus_malformed);
	if (err <= KZ_PROTO_OK || err >= KZ_PROTO_NUM_ERRORS || logged_malformed[err])
		return;
	logged_malformed[err] = true;
	ereport(LOG,
			(errmsg("kz_globals dropped a malformed message from the bus: %s",
					kz_proto_error_name(err)),
			 detail ? errdetail_internal("%s", detail) : 0,
			 errhint("Later messages refused for the same reason are only counted, in kz_globals.stats.bus_malformed.")));
}

/* The name of node index node, into buf. */
static const char *
node_name(int node, char *buf)
{
	if (node == KZ_SELF_NODE)
		return kz_node_name;
	kz_node_name_copy(node, buf);
	return buf;
}

static void
copy_name(const uint8 *data, size_t len, KzName *name)
{
	name->len = (uint16) len;
	memcpy(name->data, data, len);
}

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

/* What applying a remote registration left to do once the lock is released. */
typedef struct ApplyOutcome
{
	uint64		lost_claim;		/* our claim that lost, 0 if none */
	int			loser_procno;	/* a local owner that lost, -1 if none */
	int			loser_pid;
	bool		readvertise;	/* ours won: tell the others again */
	int64		our_ts;
	int32		our_pid;
} ApplyOutcome;

/*
 * A pending claim of ours beat a registration by another node: keep the
 * one of its rivals that the rule prefers (the same node again replaces
 * its own), so that the name goes to it if our claim does not win.
 */
static void
hold_rival(KzRow *row, int node, const char *who, int64 ts, int32 pid,
		   bool kazoo, uint32 sync_gen)
{
	char		held[KZ_NODE_NAME_MAX];

	if ((row->flags & KZ_ROW_RIVAL) && row->rival_node != node &&
		!kz_claim_beats(ts, who, row->rival_ts, node_name(row->rival_node, held)))
		return;
	kz_row_hold_rival(row, node, ts, pid, kazoo, sync_gen);
}

/*
 * Decides between a row of ours (local or pending) and a registration by
 * another node.  Caller holds reg_lock exclusively.
 */
static void
resolve_with_ours(KzRow *row, int node, const char *who, int64 ts, int32 pid,
				  bool kazoo, uint32 sync_gen, ApplyOutcome *out)
{
	if (!kz_claim_beats(ts, who, row->timestamp, kz_node_name))
	{
		/* ours is older: keep it, and make sure the other side hears so */
		if (row->state == KZ_ROW_LOCAL)
		{
			out->readvertise = true;
			out->our_ts = row->timestamp;
			out->our_pid = row->pid;
			KZ_STAT_INC(conflicts);
		}
		else
			hold_rival(row, node, who, ts, pid, kazoo, sync_gen);
		return;
	}
	if (row->state == KZ_ROW_PENDING)
		out->lost_claim = row->claim_id;
	else
	{
		out->loser_procno = row->procno;
		out->loser_pid = row->pid;
		KZ_STAT_INC(conflicts);
	}
	kz_row_make_remote(row, node, ts, pid, kazoo);
}

/* Applies the registration to the table.  Caller holds reg_lock exclusively. */
static void
apply_locked(const KzName *name, int node, const char *who, int64 ts, int32 pid,
			 bool kazoo, uint32 sync_gen, ApplyOutcome *out)
{
	KzRow	   *row = kz_reg_lookup(name);
	char		other[KZ_NODE_NAME_MAX];

	if (row != NULL && !kz_row_alive(row))
		row = kz_row_clear_dead(row);
	if (row == NULL)
	{
		row = kz_reg_insert(name);
		if (row == NULL)
		{
			ereport(LOG,
					(errmsg("kz_globals name table is full; a registration by node \"%s\" is not recorded", who),
					 errhint("Increase kz_globals.max_names and restart the server.")));
			return;
		}
		kz_row_make_remote(row, node, ts, pid, kazoo);
	}
	else if (row->state == KZ_ROW_REMOTE)
	{
		/* the same owner again, or an older claim by another node */
		if (row->node == node ||
			kz_claim_beats(ts, who, row->timestamp, node_name(row->node, other)))
			kz_row_make_remote(row, node, ts, pid, kazoo);
	}
	else
		resolve_with_ours(row, node, who, ts, pid, kazoo, sync_gen, out);

	if (row->state == KZ_ROW_REMOTE && row->node == node)
		row->sync_gen = sync_gen;
}

void
kz_in_apply_remote(const uint8 *data, size_t len, int node, int64 ts,
				   int32 pid, bool kazoo)
{
	KzName		name;
	ApplyOutcome out;
	char		who[KZ_NODE_NAME_MAX];
	uint32		sync_gen;

	copy_name(data, len, &name);
	memset(&out, 0, sizeof(out));
	out.loser_procno = -1;
	LWLockAcquire(kz_shared->reg_lock, LW_EXCLUSIVE);
	LWLockAcquire(kz_shared->nodes_lock, LW_SHARED);
	strlcpy(who, kz_node(node)->name, sizeof(who));
	sync_gen = kz_node(node)->sync_gen;
	LWLockRelease(kz_shared->nodes_lock);
	apply_locked(&name, node, who, ts, pid, kazoo, sync_gen, &out);
	LWLockRelease(kz_shared->reg_lock);

	if (out.lost_claim)
		kz_inflight_claim_lost(out.lost_claim);
	if (out.loser_procno >= 0)
		notify_loser(out.loser_procno, out.loser_pid, &name, who);
	if (out.readvertise)
		kz_outbox_advert(&name, out.our_ts, out.our_pid);
}

/* An advertisement: somebody owns the name. */
static void
on_advert(const KzBusMsg *msg, int node)
{
	int64		ts = msg->has_timestamp ? msg->timestamp : kz_hlc_now();

	kz_member_set_server(node, msg->server_id);
	kz_in_apply_remote(msg->name, msg->name_len, node, ts, msg->pid, msg->pid == 0);
}

/* What our table says about a claimed name, to answer the claimant. */
typedef struct ClaimAnswer
{
	KzWireState state;
	int64		ts;
	int32		pid;
	char		server[KZ_SERVER_MAX];
	uint64		lost_claim;		/* our pending claim the rival beats */
	bool		readvertise;
} ClaimAnswer;


/*
 * Reads the table for a claim by node (caller holds reg_lock exclusively):
 * claimant is its node name, and the claim's timestamp is ts if has_ts.  A
 * remote row naming the claimant itself is stale (a node does not claim a
 * name it holds) and is dropped.
 */
static void
answer_claim_locked(const KzName *name, int node, const char *claimant,
					bool has_ts, int64 ts, ClaimAnswer *ans)
{
	KzRow	   *row = kz_reg_lookup(name);

	memset(ans, 0, sizeof(*ans));
	if (row != NULL && !kz_row_alive(row))
		row = kz_row_clear_dead(row);
	if (row != NULL && row->state == KZ_ROW_REMOTE && row->node == node)
	{
		kz_drop_row(row, false);
		row = NULL;
	}
	if (row == NULL)
	{
		ans->state = KZ_WS_NONE;
		return;
	}
	ans->ts = row->timestamp;
	ans->pid = row->pid;
	if (row->state == KZ_ROW_LOCAL)
	{
		ans->state = KZ_WS_LOCAL;
		ans->readvertise = true;
	}
	else if (row->state == KZ_ROW_REMOTE)
	{
		ans->state = KZ_WS_REMOTE;
		LWLockAcquire(kz_shared->nodes_lock, LW_SHARED);
		strlcpy(ans->server, kz_node(row->node)->server, sizeof(ans->server));
		LWLockRelease(kz_shared->nodes_lock);
	}
	else
	{
		/* fix 1: the rival's claim carries its timestamp; the rule decides */
		ans->state = KZ_WS_PENDING;
		if (has_ts && kz_claim_beats(ts, claimant, row->timestamp, kz_node_name))
		{
			row->flags |= KZ_ROW_LOST;
			ans->lost_claim = row->claim_id;
		}
	}
}

/* What answering a claim leaves to do once reg_lock is released. */
static void
after_answer(const KzName *name, const ClaimAnswer *ans)
{
	if (ans->readvertise)
		kz_outbox_advert(name, ans->ts, ans->pid);
	if (ans->lost_claim)
		kz_inflight_claim_lost(ans->lost_claim);
}

/* A claim by another node. */
static void
on_claim(const KzBusMsg *msg, int node)
{
	KzName		name;
	ClaimAnswer ans;

	copy_name(msg->name, msg->name_len, &name);
	LWLockAcquire(kz_shared->reg_lock, LW_EXCLUSIVE);
	answer_claim_locked(&name, node, msg->node, msg->has_timestamp, msg->timestamp, &ans);
	LWLockRelease(kz_shared->reg_lock);

	kz_out_register_resp(msg, ans.state, ans.ts,
						 ans.state == KZ_WS_REMOTE ? ans.server : NULL, ans.pid);
	after_answer(&name, &ans);
}

/*
 * Fix 4: only the owner node can unregister a name; and only the
 * registration it names, when it says which.  The same goes for a rival
 * held back by a pending claim of ours.  Caller holds reg_lock
 * exclusively.
 */
static void
unregister_locked(const KzName *name, int node, bool has_ts, int64 ts)
{
	KzRow	   *row = kz_reg_lookup(name);

	if (row == NULL)
		return;
	if (row->state == KZ_ROW_REMOTE && row->node == node &&
		(!has_ts || ts == row->timestamp))
		kz_drop_row(row, false);
	else if (row->state == KZ_ROW_PENDING && (row->flags & KZ_ROW_RIVAL) &&
			 row->rival_node == node && (!has_ts || ts == row->rival_ts))
		kz_row_forget_rival(row);
}

static void
on_unregister(const KzBusMsg *msg, int node)
{
	KzName		name;

	copy_name(msg->name, msg->name_len, &name);
	LWLockAcquire(kz_shared->reg_lock, LW_EXCLUSIVE);
	unregister_locked(&name, node, msg->has_timestamp, msg->timestamp);
	LWLockRelease(kz_shared->reg_lock);
}

/*
 * Claims answered for a registry_batch, collected so that they go back as
 * one claim_batch_resp; their after-effects run once reg_lock is released.
 */
typedef struct BatchAnswers
{
	KzOutEntry *out;
	ClaimAnswer *ans;
	int			n;
} BatchAnswers;

static void
batch_claim(const KzBusMsg *msg, int node, const KzSyncEntry *e, BatchAnswers *b)
{
	KzOutEntry *o = &b->out[b->n];
	ClaimAnswer *a = &b->ans[b->n++];

	copy_name(e->name, e->name_len, &o->name);
	LWLockAcquire(kz_shared->reg_lock, LW_EXCLUSIVE);
	answer_claim_locked(&o->name, node, msg->node, true, e->timestamp, a);
	LWLockRelease(kz_shared->reg_lock);
	o->ts = a->ts;
	o->pid = a->pid;
	o->state = a->state;
	strlcpy(o->server, a->server, sizeof(o->server));
	after_answer(&o->name, a);
}

static void
batch_unregister(int node, const KzSyncEntry *e)
{
	KzName		name;

	copy_name(e->name, e->name_len, &name);
	LWLockAcquire(kz_shared->reg_lock, LW_EXCLUSIVE);
	unregister_locked(&name, node, true, e->timestamp);
	LWLockRelease(kz_shared->reg_lock);
}

/*
 * Claims, advertisements and unregisters by another kz_globals node, each
 * handled in order as its single event would be; the claims are answered
 * with one message.  Entries of any other state are ignored.
 */
static void
on_registry_batch(const KzBusMsg *msg, int node)
{
	BatchAnswers b;
	int			i;

	b.out = palloc0(Max(msg->nentries, 1) * sizeof(KzOutEntry));
	b.ans = palloc0(Max(msg->nentries, 1) * sizeof(ClaimAnswer));
	b.n = 0;
	kz_member_set_server(node, msg->server_id);
	for (i = 0; i < msg->nentries; i++)
	{
		const KzSyncEntry *e = &msg->entries[i];

		switch (e->state)
		{
			case KZ_WS_PENDING:
				batch_claim(msg, node, e, &b);
				break;
			case KZ_WS_REGISTERED:
				kz_in_apply_remote(e->name, e->name_len, node, e->timestamp, e->pid, false);
				break;
			case KZ_WS_NONE:
				batch_unregister(node, e);
				break;
			default:
				break;
		}
	}
	if (b.n > 0)
		kz_out_claim_batch_resp(msg, b.out, b.n);
}

/* A query: the owner answers "local" and advertises; others answer "none". */
static void
on_query(const KzBusMsg *msg, int node)
{
	KzName		name;
	KzRow	   *row;
	bool		owned = false;
	int64		ts = 0;
	int32		pid = 0;

	copy_name(msg->name, msg->name_len, &name);
	LWLockAcquire(kz_shared->reg_lock, LW_SHARED);
	row = kz_reg_lookup(&name);
	if (row != NULL && row->state == KZ_ROW_LOCAL && kz_row_alive(row))
	{
		owned = true;
		ts = row->timestamp;
		pid = row->pid;
	}
	LWLockRelease(kz_shared->reg_lock);

	if (owned)
		kz_outbox_advert(&name, ts, pid);
	kz_out_query_resp(msg, owned, ts, pid);
}

static void
on_register(const KzBusMsg *msg, int node)
{
	switch (msg->state)
	{
		case KZ_WS_PENDING:
			on_claim(msg, node);
			break;
		case KZ_WS_REGISTERED:
			on_advert(msg, node);
			break;
		default:
			kz_in_malformed(KZ_PROTO_BAD_FIELD, "a register event whose State is neither pending nor registered");
			break;
	}
}

static void
dispatch(const KzBusMsg *msg, int node)
{
	switch (msg->event)
	{
		case KZ_EV_REGISTER:
			on_register(msg, node);
			break;
		case KZ_EV_REGISTER_RESP:
			kz_inflight_register_resp(msg, node);
			break;
		case KZ_EV_QUERY:
			on_query(msg, node);
			break;
		case KZ_EV_QUERY_RESP:
			kz_inflight_query_resp(msg, node);
			break;
		case KZ_EV_UNREGISTER:
			on_unregister(msg, node);
			break;
		case KZ_EV_SEND:
			kz_relay_in_send(msg);
			break;
		case KZ_EV_CALL:
			kz_relay_in_call(msg);
			break;
		case KZ_EV_REPLY:
			kz_relay_in_reply(msg);
			break;
		case KZ_EV_SYNC:
			kz_member_sync_in(msg, node);
			break;
		case KZ_EV_REGISTRY_BATCH:
			on_registry_batch(msg, node);
			break;
		case KZ_EV_CLAIM_BATCH_RESP:
			kz_inflight_claim_batch_resp(msg, node);
			break;
		case KZ_EV_SEND_BATCH:
			kz_relay_in_send_batch(msg);
			break;
		case KZ_EV_ADVERTISE:
		case KZ_EV_UNKNOWN:
			break;
	}
}

/*
 * Every claim timestamp the message carries is one a view can show.  Batch
 * entries that carry none (a "none" answer, a send) hold 0 and are skipped.
 */
static bool
timestamps_valid(const KzBusMsg *msg)
{
	int			i;

	if (msg->has_timestamp && !KZ_TIMESTAMP_VALID(msg->timestamp))
		return false;
	if (msg->event == KZ_EV_SEND_BATCH)
		return true;
	for (i = 0; i < msg->nentries; i++)
	{
		const KzSyncEntry *e = &msg->entries[i];

		if (msg->event == KZ_EV_CLAIM_BATCH_RESP && e->state == KZ_WS_NONE)
			continue;
		if (!KZ_TIMESTAMP_VALID(e->timestamp))
			return false;
	}
	return true;
}

void
kz_in_delivery(const char *body, size_t len, bool targeted)
{
	KzBusMsg	msg;
	const char *detail = NULL;
	KzProtoError err;
	int			node;

	err = kz_proto_decode(body, len, KZ_MAX_BODY(kz_max_message_size), KZ_KEY_MAX,
						  &msg, &detail);
	if (err != KZ_PROTO_OK)
	{
		kz_in_malformed(err, detail);
		return;
	}
	msg.targeted = targeted;
	if (!timestamps_valid(&msg))
	{
		kz_in_malformed(KZ_PROTO_BAD_FIELD, "a Timestamp before year 0 or after year 9999");
		return;
	}
	if (msg.has_timestamp)
		kz_hlc_observe(msg.timestamp);
	if (msg.event == KZ_EV_ADVERTISE)
	{
		kz_member_heartbeat_in(&msg);
		return;
	}
	if (strcmp(msg.node, kz_node_name) == 0)
		return;					/* our own broadcast */
	node = kz_member_node(msg.node, true);
	if (node < 0)
		return;
	dispatch(&msg, node);
}
