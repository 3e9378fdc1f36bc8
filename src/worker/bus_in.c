/*-------------------------------------------------------------------------
 *
 * bus_in.c
 *	  What the worker does with each message from the bus.
 *
 * A delivery is decoded (a malformed one is dropped, counted and logged
 * once per kind), checked by bus authentication (peer_auth.c: a refused one
 * is dropped, counted and logged), our own broadcasts are ignored, and the
 * rest is dispatched by event.  This file handles claims, unregisters and queries
 * from other nodes; an advertisement goes to remote.c, messages for owners
 * to relay.c, heartbeats and syncs to membership.c, process groups to
 * group_sync.c, the replies to our own
 * claims and queries to inflight.c (all below it).
 *
 * What a registration event does to a row is decided by the rules
 * (rules.c: Kazoo's defects 1, 2, 4 and 5 fixed there) and applied by
 * rules_apply.c under reg_lock; this file carries out what must follow once
 * the lock is released: answer the claimant, decide a claim of ours that
 * lost, advertise ours again.
 *
 * Runs in the worker only; takes reg_lock (exclusive) and nodes_lock
 * (shared) through rules_apply.c and nodes.c, never across a publish.
 *
 * IDENTIFICATION
 *	  src/worker/bus_in.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/timestamp.h"

#include "bus.h"
#include "bus_in.h"
#include "decode.h"
#include "group_sync.h"
#include "guc.h"
#include "inflight.h"
#include "log_limit.h"
#include "membership.h"
#include "names.h"
#include "nodes.h"
#include "outbox.h"
#include "peer_auth.h"
#include "peers.h"
#include "relay.h"
#include "remote.h"
#include "rules_apply.h"
#include "shmem.h"

static bool logged_malformed[KZ_PROTO_NUM_ERRORS];

/*
 * The broker dropped a message from our full queue (kz_globals.
 * queue_max_length): counted, and logged once a minute at most with the
 * number dropped since, so that a flood cannot fill the log either.
 */
void
kz_in_overflow(void)
{
	static KzLogLimit limit;
	int64		held;

	KZ_STAT_INC(bus_overflow);
	if (!kz_log_due(&limit, &held))
		return;
	ereport(LOG,
			(errmsg("kz_globals: the broker dropped %llu message(s) from this node's full queue",
					(unsigned long long) (held + 1)),
			 errhint("The worker did not keep up, or a peer floods the bus; kz_globals.stats.bus_overflow counts them, kz_globals.queue_max_length bounds the queue.")));
}

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

/* An advertisement, with its metadata: applied, a claim it beats decided. */
static void
apply_advert(const uint8 *name, size_t len, int node, int64 ts, int32 pid,
			 bool kazoo, const char *meta)
{
	uint64		lost = kz_remote_apply_advert(name, len, node, ts, pid, kazoo, meta);

	if (lost != 0)
		kz_inflight_claim_lost(lost);
}

/* An advertisement: somebody owns the name. */
static void
on_advert(const KzBusMsg *msg, int node)
{
	int64		ts = msg->has_timestamp ? msg->timestamp : kz_hlc_now();

	kz_peer_set_server(node, msg->server_id);
	apply_advert(msg->name, msg->name_len, node, ts, msg->pid, msg->pid == 0,
				 msg->meta);
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
 * Answers a claim by node from the table, by the rules (caller holds
 * reg_lock exclusively): claimant is its node name, and the claim's
 * timestamp is ts if has_ts.
 */
static void
answer_claim_locked(const KzName *name, int node, const char *claimant,
					bool has_ts, int64 ts, ClaimAnswer *ans)
{
	KzRow	   *row = kz_reg_lookup(name);
	KzRuleRow	r;
	KzRuleNames names;
	KzRuleAnswer answer;
	KzRuleEffects eff;

	memset(ans, 0, sizeof(*ans));
	kz_rules_read(row, &r, &names);
	kz_rule_claim(&r, node, claimant, has_ts, ts, kz_node_name, &r, &answer, &eff);
	(void) kz_rules_write(row, name, &r, &eff);
	ans->state = answer.state;
	ans->ts = answer.ts;
	ans->pid = answer.pid;
	ans->lost_claim = eff.lost_claim;
	ans->readvertise = eff.readvertise;
	if (answer.state == KZ_WS_REMOTE)
	{
		LWLockAcquire(kz_shared->nodes_lock, LW_SHARED);
		strlcpy(ans->server, kz_node(answer.owner_node)->server, sizeof(ans->server));
		LWLockRelease(kz_shared->nodes_lock);
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

	kz_name_set(&name, msg->name, msg->name_len);
	LWLockAcquire(kz_shared->reg_lock, LW_EXCLUSIVE);
	answer_claim_locked(&name, node, msg->node, msg->has_timestamp, msg->timestamp, &ans);
	LWLockRelease(kz_shared->reg_lock);

	kz_out_register_resp(msg, ans.state, ans.ts,
						 ans.state == KZ_WS_REMOTE ? ans.server : NULL, ans.pid);
	after_answer(&name, &ans);
}

/*
 * Fix 4: only the owner node can unregister a name (or the rival a claim
 * of ours held back), by the rules.  Caller holds reg_lock exclusively.
 */
static void
unregister_locked(const KzName *name, int node, bool has_ts, int64 ts)
{
	KzRow	   *row = kz_reg_lookup(name);
	KzRuleRow	r;

	if (row == NULL)
		return;
	kz_rules_read(row, &r, NULL);
	kz_rule_unregister(&r, node, has_ts, ts, &r);
	(void) kz_rules_write(row, name, &r, NULL);
}

static void
on_unregister(const KzBusMsg *msg, int node)
{
	KzName		name;

	kz_name_set(&name, msg->name, msg->name_len);
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

	kz_name_set(&o->name, e->name, e->name_len);
	LWLockAcquire(kz_shared->reg_lock, LW_EXCLUSIVE);
	answer_claim_locked(&o->name, node, msg->node, true, e->timestamp, a);
	LWLockRelease(kz_shared->reg_lock);
	o->ts = a->ts;
	o->pid = a->pid;
	o->state = a->state;
	strlcpy(o->server, a->server, sizeof(o->server));
	/* the claim's id goes back with its answer, when it came with one */
	strlcpy(o->claim, e->claim ? e->claim : "", sizeof(o->claim));
	after_answer(&o->name, a);
}

static void
batch_unregister(int node, const KzSyncEntry *e)
{
	KzName		name;

	kz_name_set(&name, e->name, e->name_len);
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
	kz_peer_set_server(node, msg->server_id);
	for (i = 0; i < msg->nentries; i++)
	{
		const KzSyncEntry *e = &msg->entries[i];

		switch (e->state)
		{
			case KZ_WS_PENDING:
				batch_claim(msg, node, e, &b);
				break;
			case KZ_WS_REGISTERED:
				apply_advert(e->name, e->name_len, node, e->timestamp, e->pid,
							 false, e->meta);
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

	kz_name_set(&name, msg->name, msg->name_len);
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
		case KZ_EV_GROUP_MEMBERS:
			kz_group_in_members(msg, node);
			break;
		case KZ_EV_GROUP_SYNC:
			kz_group_in_sync(msg, node);
			break;
		case KZ_EV_GROUP_PUBLISH:	/* needs the routing key: see below */
		case KZ_EV_ADVERTISE:
		case KZ_EV_UNKNOWN:
			break;
	}
}

/*
 * Registration metadata over this node's kz_globals.max_meta_size is
 * dropped (counted and logged as a malformed field); the registration
 * itself is still recorded, without it.
 */
static void
drop_oversized_meta(KzBusMsg *msg)
{
	int			i;

	if (msg->meta != NULL && strlen(msg->meta) > (size_t) kz_max_meta_size)
	{
		kz_in_malformed(KZ_PROTO_TOO_LARGE, "Meta is over kz_globals.max_meta_size");
		pfree(msg->meta);
		msg->meta = NULL;
	}
	for (i = 0; i < msg->nentries; i++)
	{
		KzSyncEntry *e = &msg->entries[i];

		if (e->meta != NULL && strlen(e->meta) > (size_t) kz_max_meta_size)
		{
			kz_in_malformed(KZ_PROTO_TOO_LARGE, "a Metas element is over kz_globals.max_meta_size");
			pfree(e->meta);
			e->meta = NULL;
		}
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
kz_in_delivery(const KzAmqpEvent *ev)
{
	KzBusMsg	msg;
	const char *detail = NULL;
	KzProtoError err;
	int			node;

	KZ_STAT_INC(bus_received);
	KZ_STAT_ADD(bus_received_bytes, ev->body_len);
	err = kz_proto_decode(ev->body, ev->body_len, KZ_MAX_BODY(kz_max_message_size),
						  KZ_KEY_MAX, &msg, &detail);
	if (err != KZ_PROTO_OK)
	{
		kz_in_malformed(err, detail);
		return;
	}
	/* bus authentication: nothing below runs for a refused message */
	if (!kz_peer_auth_accept(ev, &msg))
		return;
	msg.targeted = ev->targeted;
	if (!timestamps_valid(&msg))
	{
		kz_in_malformed(KZ_PROTO_BAD_FIELD, "a Timestamp before year 0 or after year 9999");
		return;
	}
	if (msg.has_timestamp)
		kz_hlc_observe(msg.timestamp);
	drop_oversized_meta(&msg);
	if (msg.event == KZ_EV_ADVERTISE)
	{
		kz_member_heartbeat_in(&msg);
		return;
	}
	if (strcmp(msg.node, kz_node_name) == 0)
		return;					/* our own broadcast */
	if (msg.event == KZ_EV_GROUP_PUBLISH)
	{
		kz_group_in_publish(&msg, ev->routing_key);
		return;
	}
	node = kz_peer_node(msg.node, true);
	if (node < 0)
		return;
	dispatch(&msg, node);
}
