/*-------------------------------------------------------------------------
 *
 * membership.c
 *	  Heartbeats, node expiry, and bringing nodes up to date in bulk.
 *
 * Every node heartbeats on the nodes fanout, kz_nodes style.  A node is up
 * while its heartbeats come; it expires after Expires x 1.25 without one
 * (three periods for kz_globals nodes, which set Expires accordingly).
 *
 * SPEC section 5:
 *	3. a node that has just connected waits (1.25 heartbeat periods) to hear
 *	   its peers before deciding claims; peers answer a new node's first
 *	   heartbeat with their own, at once;
 *	7. a peer that expires, or comes back with a new incarnation (it
 *	   crash-restarted), loses all its remote rows at once; a Kazoo node has
 *	   no incarnation, but a new kz_nodes queue in its heartbeat tells the
 *	   same;
 *	8. a kz_globals node that joins, or reconnects (new session), gets every
 *	   peer's registrations in a few sync messages instead of one query per
 *	   name; a sync is the sender's full state, so whatever the receiver
 *	   still held of the sender's and the sync lacks is dropped.  A node
 *	   that sees a peer come back (even one that only stalled and was
 *	   expired) asks it for its sync (Sync-Request), so names dropped on a
 *	   false expiry return.  Process-group members travel the same way
 *	   (group_sync.c): synced with the names, dropped with the node.
 *
 * While this node is disconnected it hears nobody, so expiry pauses; on
 * reconnection every peer gets a fresh period to heartbeat again.
 *
 * IDENTIFICATION
 *	  src/worker/membership.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>

#include "common/hashfn.h"
#include "utils/timestamp.h"

#include "bus.h"
#include "group_sync.h"
#include "guc.h"
#include "inflight.h"
#include "membership.h"
#include "nodes.h"
#include "peers.h"
#include "remote.h"
#include "rules_apply.h"
#include "shmem.h"


/*
 * The schedule of heartbeats, expiry checks and the start-up wait, and the
 * time since a peer was last heard, are measured on the monotonic clock:
 * a step of the wall clock (backwards, or forwards) must neither stop our
 * heartbeats nor expire a peer that is talking.
 */
static int64 next_heartbeat = 0;
static int64 next_expiry_check = 0;
static int64 ready_at = 0;
static bool warned_name_clash = false;
static bool was_blocked = false;	/* the broker blocked us (resource alarm) */

/* How often expiry is checked, at most. */
#define KZ_EXPIRY_CHECK_MS		100

/* The longest a node is kept without a heartbeat, whatever it says. */
#define KZ_MAX_EXPIRES_MS		(10 * 60 * 1000)

/* Rows looked at, at most, per hold of reg_lock while dropping a node's. */
#define KZ_DROP_PAGE_ROWS		16384

/*
 * Drops the node's remote rows, all of them or (with only_unsynced) those
 * whose sync generation is not gen; returns how many.  Pending claims of
 * ours forget the node as their held-back rival likewise.
 *
 * A node can own a million names: reg_lock is held exclusively for one
 * page of KZ_DROP_PAGE_ROWS rows at a time, so that a claim or a lookup
 * waits for a page, not the whole table.  Between pages only backends
 * change rows, and none of their changes makes a row the rule would drop
 * escape it: the node's rows are added or refreshed by the worker alone;
 * a backend turns a pending row whose claim ends into its held-back
 * rival's remote row, with the rival's sync generation (rules_apply.c,
 * kz_row_end_claim), so a row behind the scan had its rival judged
 * already and one ahead is judged as a remote row.
 */
static int
drop_rows(int node, bool only_unsynced, uint32 gen)
{
	KzRegScan	scan;
	KzRow	   *row;
	int			dropped = 0;
	bool		done = false;

	kz_reg_scan_begin(&scan, KZ_ROWS_OF(KZ_ROW_REMOTE) | KZ_ROWS_OF(KZ_ROW_PENDING));
	while (!done)
	{
		LWLockAcquire(kz_shared->reg_lock, LW_EXCLUSIVE);
		kz_reg_scan_page(&scan, KZ_DROP_PAGE_ROWS);
		while ((row = kz_reg_scan_next(&scan)) != NULL)
		{
			KzRuleRow	r;

			/* only the rows the rule can change: few, and no name lookups */
			if (!(row->state == KZ_ROW_REMOTE && row->node == node) &&
				!(row->state == KZ_ROW_PENDING && (row->flags & KZ_ROW_RIVAL) &&
				  row->rival_node == node))
				continue;
			kz_rules_read(row, &r, NULL);
			kz_rule_node_gone(&r, node, only_unsynced, gen, &r);
			if (kz_rules_write(row, &row->name, &r, NULL) == NULL)
				dropped++;
		}
		done = kz_reg_scan_done(&scan);
		LWLockRelease(kz_shared->reg_lock);
	}
	if (dropped > 0)
		KZ_STAT_ADD(names_expired, dropped);
	return dropped;
}

static int
drop_node_rows(int node)
{
	return drop_rows(node, false, 0);
}

static uint64
parse_session(const char *s)
{
	uint64		v = 0;

	if (s == NULL)
		return 0;
	for (; *s; s++)
	{
		int			d = (*s >= '0' && *s <= '9') ? *s - '0' :
			(*s >= 'a' && *s <= 'f') ? *s - 'a' + 10 : -1;

		if (d < 0)
			return 0;
		v = (v << 4) | (uint64) d;
	}
	return v;
}

/* What a heartbeat changed about a node. */
typedef struct HeartbeatChange
{
	bool		joined;			/* first heartbeat since it came up */
	bool		restarted;		/* new incarnation: a crash-restart */
	bool		new_session;	/* it reconnected to the broker */
	bool		pg_peer;		/* a kz_globals node */
	bool		owns_nothing;	/* a Kazoo node now says it owns no name */
	char		server[KZ_SERVER_MAX];
} HeartbeatChange;

/*
 * The session of a heartbeat.  A kz_globals node sends its own.  A Kazoo
 * node sends none, but its Server-ID is the queue of its kz_nodes process,
 * which gets a new name whenever that node restarts: a hash of it stands in
 * for an incarnation.
 */
static uint64
heartbeat_session(const KzBusMsg *msg)
{
	if (msg->pg_version > 0)
		return parse_session(msg->session);
	if (msg->server_id == NULL || msg->server_id[0] == '\0')
		return 0;
	return hash_bytes_extended((const unsigned char *) msg->server_id,
							   strlen(msg->server_id), 0) | 1;
}

/* Records a heartbeat in the node table.  Caller holds nodes_lock exclusively. */
static void
record_heartbeat(KzNode *n, const KzBusMsg *msg, HeartbeatChange *change)
{
	uint64		session = heartbeat_session(msg);

	change->pg_peer = msg->pg_version > 0;
	change->joined = n->state != KZ_NODE_UP || !n->heard;
	change->restarted = n->started_at != 0 && msg->incarnation != 0 &&
		msg->incarnation != n->started_at;
	change->new_session = session != 0 && session != n->session;
	/* a Kazoo node with a new kz_nodes queue has restarted */
	if (!change->pg_peer && change->new_session && n->session != 0)
		change->restarted = true;

	/*
	 * Real Kazoo's heartbeats carry no Server-ID, so a Kazoo node that
	 * restarts under the same name is seen only by what it says it owns:
	 * Globals counts its table by state.  Two heartbeats in a row with no
	 * local name since we last heard it own one (an advertisement, a sync
	 * entry or a query answer resets the count) mean that it owns none, and
	 * the names we hold for it are stale; one alone could have been built
	 * just before a registration whose advertisement overtook it.
	 */
	if (!change->pg_peer && msg->globals_nonempty && msg->globals_local == 0)
	{
		if (n->empty_beats < 2 && ++n->empty_beats == 2)
			change->owns_nothing = true;
	}
	else
		n->empty_beats = 0;

	n->state = KZ_NODE_UP;
	n->heard = true;
	kz_peer_mark_heard(n);
	/*
	 * Expires x 1.25, computed in 64 bits; at most KZ_MAX_EXPIRES_MS, so
	 * that a peer (or a forger) cannot keep a silent node, and its names,
	 * in the table for weeks.
	 */
	n->expires_ms = msg->has_expires && msg->expires_ms > 0 ?
		(int32) Min(Min(msg->expires_ms, (int64) KZ_MAX_EXPIRES_MS) * 5 / 4,
					(int64) KZ_MAX_EXPIRES_MS) :
		3 * kz_heartbeat_interval;
	n->is_kazoo = !change->pg_peer;
	n->answers = change->pg_peer || msg->globals_nonempty;
	n->names = msg->globals_local;
	if (msg->incarnation != 0)
		n->started_at = msg->incarnation;
	if (session != 0)
		n->session = session;
	if (msg->zone)
		strlcpy(n->zone, msg->zone, sizeof(n->zone));
	/* a Kazoo heartbeat's Server-ID is kz_nodes' queue, not kz_globals' */
	if (change->pg_peer && msg->server_id && strlen(msg->server_id) < KZ_SERVER_MAX)
		strlcpy(n->server, msg->server_id, sizeof(n->server));
	strlcpy(change->server, n->server, sizeof(change->server));
}

/* A heartbeat with our own name but another session: two nodes, one name. */
static void
check_name_clash(const KzBusMsg *msg)
{
	if (msg->session && parse_session(msg->session) != kz_bus.session &&
		!warned_name_clash)
	{
		warned_name_clash = true;
		ereport(WARNING,
				(errmsg("kz_globals: another node on the bus uses this node's name \"%s\"",
						kz_node_name),
				 errhint("Give every server a distinct kz_globals.node_name.")));
	}
}

void
kz_member_heartbeat_in(const KzBusMsg *msg)
{
	HeartbeatChange change;
	int			idx;

	if (strcmp(msg->node, kz_node_name) == 0)
	{
		check_name_clash(msg);
		return;
	}
	idx = kz_peer_node(msg->node, true);
	if (idx < 0)
		return;
	memset(&change, 0, sizeof(change));
	LWLockAcquire(kz_shared->nodes_lock, LW_EXCLUSIVE);
	record_heartbeat(kz_node(idx), msg, &change);
	LWLockRelease(kz_shared->nodes_lock);

	if (change.restarted)
	{
		int			dropped = drop_node_rows(idx);

		ereport(LOG,
				(errmsg("kz_globals: node \"%s\" restarted; dropped %d of its names",
						msg->node, dropped)));
		kz_group_node_gone(idx);
	}
	else if (change.owns_nothing)
	{
		int			dropped = drop_node_rows(idx);

		if (dropped > 0)
			ereport(LOG,
					(errmsg("kz_globals: node \"%s\" says it owns no name; dropped %d of its names",
							msg->node, dropped),
					 errdetail("A Kazoo node that restarts under the same name announces it no other way.")));
	}
	if (change.joined)
		ereport(LOG, (errmsg("kz_globals: node \"%s\" is up", msg->node)));
	if (!change.pg_peer || change.server[0] == '\0')
		return;
	if (change.joined || change.restarted || change.new_session)
	{
		/*
		 * Tell it about us at once, with everything we own, and ask for
		 * everything it owns: whatever we dropped of its names while we
		 * thought it gone comes back.
		 */
		if (kz_out_heartbeat(change.server, true) && kz_out_sync(change.server))
			kz_group_sync_to(change.server);
	}
	else if (msg->sync_request && kz_out_sync(change.server))
		kz_group_sync_to(change.server);
}

/* The first part of a new sync round from a node: count from a fresh mark. */
static uint32
sync_generation(int node, const KzBusMsg *msg)
{
	uint32		gen;

	LWLockAcquire(kz_shared->nodes_lock, LW_EXCLUSIVE);
	if (msg->sync_part == 0)
		kz_node(node)->sync_gen++;
	gen = kz_node(node)->sync_gen;
	LWLockRelease(kz_shared->nodes_lock);
	return gen;
}

void
kz_member_sync_in(const KzBusMsg *msg, int node)
{
	uint32		gen = sync_generation(node, msg);
	int			i;

	kz_peer_set_server(node, msg->server_id);
	for (i = 0; i < msg->nentries; i++)
	{
		KzSyncEntry *e = &msg->entries[i];

		uint64		lost = kz_remote_apply_advert(e->name, e->name_len, node,
												  e->timestamp, e->pid,
												  e->pid == 0, e->meta);

		if (lost != 0)
			kz_inflight_claim_lost(lost);
	}
	if (msg->sync_last)
		(void) drop_rows(node, true, gen);	/* what the sync did not mention */
}

/* Expires peers not heard from in time (fix 7); mono is kz_peer_mono_ms(). */
static void
expire_nodes(int64 mono)
{
	int			i;

	for (i = 0; i < KZ_MAX_NODES; i++)
	{
		bool		expired = false;
		char		name[KZ_NODE_NAME_MAX];

		if (i == KZ_SELF_NODE)
			continue;
		LWLockAcquire(kz_shared->nodes_lock, LW_EXCLUSIVE);
		{
			KzNode	   *n = kz_node(i);

			if (n->state == KZ_NODE_UP && mono > n->heard_mono_ms + n->expires_ms)
			{
				n->state = KZ_NODE_EXPIRED;
				n->heard = false;
				strlcpy(name, n->name, sizeof(name));
				expired = true;
			}
		}
		LWLockRelease(kz_shared->nodes_lock);
		if (expired)
		{
			int			dropped = drop_node_rows(i);

			ereport(LOG,
					(errmsg("kz_globals: node \"%s\" expired; dropped %d of its names",
							name, dropped)));
			kz_inflight_node_gone(i);
			kz_group_node_gone(i);
		}
	}
}

/* Keeps this node's own entry current, for the nodes view. */
static void
refresh_self(TimestampTz now)
{
	LWLockAcquire(kz_shared->nodes_lock, LW_EXCLUSIVE);
	{
		KzNode	   *self = kz_node(KZ_SELF_NODE);

		self->last_heartbeat = now;
		self->expires_ms = 3 * kz_heartbeat_interval;
		self->session = kz_bus.session;
		strlcpy(self->server, kz_bus.queue, sizeof(self->server));
	}
	LWLockRelease(kz_shared->nodes_lock);
}

/*
 * Every peer that is up counts as heard now: after a time in which this
 * node could hear nobody (disconnected, or blocked by the broker), each
 * gets a fresh period to heartbeat again.
 */
static void
hear_everyone(void)
{
	int			i;

	LWLockAcquire(kz_shared->nodes_lock, LW_EXCLUSIVE);
	for (i = 0; i < KZ_MAX_NODES; i++)
	{
		if (i != KZ_SELF_NODE && kz_node(i)->state == KZ_NODE_UP)
			kz_peer_mark_heard(kz_node(i));
	}
	LWLockRelease(kz_shared->nodes_lock);
}

/*
 * Periodic duties while connected: heartbeat, expiry, and the end of the
 * start-up wait.  Returns when it next needs to run.
 */
TimestampTz
kz_member_service(TimestampTz now)
{
	int64		mono = kz_peer_mono_ms();
	int64		next;

	if (!kz_bus.up)
		return 0;
	if (kz_bus_blocked())
	{
		/*
		 * A resource alarm blocks every publisher, so nobody's heartbeat
		 * comes: expiry pauses, ours wait, and every peer gets a fresh
		 * period when the broker lets us go.
		 */
		was_blocked = true;
		return TimestampTzPlusMilliseconds(now, KZ_EXPIRY_CHECK_MS);
	}
	if (was_blocked)
	{
		was_blocked = false;
		hear_everyone();
	}
	if (mono >= next_heartbeat)
	{
		refresh_self(now);
		kz_out_heartbeat(NULL, false);
		next_heartbeat = mono + kz_heartbeat_interval;
	}
	if (mono >= next_expiry_check)
	{
		expire_nodes(mono);
		next_expiry_check = mono + KZ_EXPIRY_CHECK_MS;
	}
	if (!kz_bus.ready && kz_bus.up && mono >= ready_at)
	{
		kz_bus.ready = true;
		pg_atomic_write_u32(&kz_shared->membership_ready, 1);
		kz_inflight_start_deferred();
	}
	next = Min(next_heartbeat, kz_bus.ready ? next_expiry_check : ready_at);
	/* the loop sleeps by the wall clock: tell it how long from now */
	return TimestampTzPlusMilliseconds(now, Max(next - mono, 0));
}

/*
 * Just connected: heartbeat at once (peers answer with theirs and their
 * registrations), announce our own registrations to everyone, and give
 * every peer a fresh period, since we could not hear them while away.
 */
void
kz_member_connected(void)
{
	TimestampTz now = GetCurrentTimestamp();

	kz_bus.ready = false;
	was_blocked = false;
	ready_at = kz_peer_mono_ms() + kz_heartbeat_interval * 5 / 4;
	hear_everyone();
	refresh_self(now);
	next_heartbeat = kz_peer_mono_ms() + kz_heartbeat_interval;
	if (kz_out_heartbeat(NULL, false) && kz_out_sync(NULL))
		kz_group_connected();
}

void
kz_member_disconnected(void)
{
	kz_bus.ready = false;
	pg_atomic_write_u32(&kz_shared->membership_ready, 0);
	kz_group_disconnected();
}
