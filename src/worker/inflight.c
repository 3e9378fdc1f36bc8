/*-------------------------------------------------------------------------
 *
 * inflight.c
 *	  Claims and queries under way, and their verdicts.
 *
 * The worker runs any number of claims and queries at once: each is an
 * entry in a hash table keyed by its id, which is also the sequence part of
 * its Msg-ID, so that a reply finds its request directly.  A claim sent in
 * a registry_batch carries that Msg-ID in its entry, and the answer in the
 * claim_batch_resp carries it back (an older node's answer does not: then
 * the claim is found by its pending row).
 *
 * A claim (SPEC section 5, fixes 1-3):
 *	- waits, if the worker has just connected, until the membership is
 *	  known (fix 3, at start-up);
 *	- expects a reply from every node that is up and runs a registry, and
 *	  is decided as soon as all have answered, not at the timeout (fix 3);
 *	- loses at once on any reply that shows an owner (local, registered,
 *	  remote) or an older rival claim (pending, by the conflict rule, fix 1);
 *	- wins when everyone expected approved, or when request_timeout passes
 *	  without a denial (a node that does not answer cannot block the cluster;
 *	  a duplicate this lets through is resolved later by fix 5);
 *	- either way leaves no pending row behind (fix 2).
 * A query completes on the first "local" reply (the owner's), or with no
 * owner when every expected node has answered or the timeout passes.
 *
 * IDENTIFICATION
 *	  src/worker/inflight.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "nodes/pg_list.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "bus.h"
#include "conflict.h"
#include "guc.h"
#include "inflight.h"
#include "nodes.h"
#include "outbox.h"
#include "peers.h"
#include "remote.h"
#include "rules_apply.h"
#include "shmem.h"


typedef struct Inflight
{
	uint64		id;				/* hash key: claim id or query id */
	bool		is_claim;
	bool		started;		/* published (claims wait for membership) */
	KzName		name;
	int64		ts;				/* claims: the claim's timestamp */
	int32		procno;			/* the requesting backend */
	int32		pid;
	uint64		req_id;
	bool		expected[KZ_MAX_NODES]; /* nodes whose reply is awaited */
	int			awaited;		/* how many of them */
	TimestampTz deadline;
} Inflight;

static HTAB *inflight = NULL;

/* No entry's deadline is before this; scans for overdue ones wait for it. */
static TimestampTz earliest_deadline = 0;

void
kz_inflight_init(void)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(Inflight);
	ctl.hcxt = TopMemoryContext;
	inflight = hash_create("kz_globals in-flight requests", 256, &ctl,
						   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

static Inflight *
lookup(uint64 id)
{
	return (Inflight *) hash_search(inflight, &id, HASH_FIND, NULL);
}

/* Drops the entry; a claim's event still queued in the outbox goes too. */
static void
forget(Inflight *entry)
{
	if (entry->is_claim)
		kz_outbox_claim_done(entry->id);
	(void) hash_search(inflight, &entry->id, HASH_REMOVE, NULL);
}

/* Reports to the requester and drops the entry. */
static void
finish(Inflight *entry, KzReqResult result)
{
	int			procno = entry->procno;
	int			pid = entry->pid;
	uint64		req_id = entry->req_id;

	forget(entry);
	kz_request_finish(procno, pid, req_id, result);
}

/*
 * The verdict on a claim.  A win makes the pending row local and advertises
 * it; a loss (or a row that changed meanwhile) removes the pending row, so
 * that a failed claim never leaves one behind, or turns it into the row of
 * the rival whose advertisement it held back.  The backend is woken before
 * the advertisement goes out, to overlap the two: anything it does next
 * about the name is a job, served after this advertisement is published.
 */
static void
decide_claim(Inflight *entry, bool win)
{
	KzRow	   *row;
	KzRuleRow	r;
	KzRuleEffects eff;
	KzName		name = entry->name;
	uint64		claim_id = entry->id;
	int			procno = entry->procno;
	int			pid = entry->pid;
	uint64		req_id = entry->req_id;
	int32		owner_pid;

	forget(entry);
	LWLockAcquire(kz_shared->reg_lock, LW_EXCLUSIVE);
	row = kz_reg_lookup(&name);
	kz_rules_read(row, &r, NULL);
	kz_rule_verdict(&r, claim_id, win, &r, &eff);
	row = kz_rules_write(row, &name, &r, &eff);
	/* a won lease has left its claimant: it is advertised without a pid */
	owner_pid = row != NULL ? row->pid : r.pid;
	LWLockRelease(kz_shared->reg_lock);

	kz_request_finish(procno, pid, req_id, eff.won ? KZ_RES_OK : KZ_RES_NO);
	if (eff.won)
	{
		KZ_STAT_INC(claims_won);
		kz_outbox_advert(&name, r.ts, owner_pid);
	}
	else
		KZ_STAT_INC(claims_lost);
}

/* Marks every node whose reply a request needs: up, running a registry. */
static void
expect_replies(Inflight *entry)
{
	int			i;

	entry->awaited = 0;
	LWLockAcquire(kz_shared->nodes_lock, LW_SHARED);
	for (i = 0; i < KZ_MAX_NODES; i++)
	{
		KzNode	   *n = kz_node(i);

		entry->expected[i] = i != KZ_SELF_NODE && n->state == KZ_NODE_UP && n->answers;
		if (entry->expected[i])
			entry->awaited++;
	}
	LWLockRelease(kz_shared->nodes_lock);
	entry->deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), kz_request_timeout);
	if (earliest_deadline == 0 || entry->deadline < earliest_deadline)
		earliest_deadline = entry->deadline;
}

/*
 * Queues a claim for publishing at the end of this round, or decides it at
 * once when no other node is up.
 */
static void
begin_claim(Inflight *entry)
{
	expect_replies(entry);
	entry->started = true;
	if (entry->awaited == 0)
	{
		decide_claim(entry, true);
		return;
	}
	kz_outbox_claim(&entry->name, entry->ts, entry->id);
}

static Inflight *
enter(const KzJob *job, uint64 id, bool is_claim)
{
	Inflight   *entry;
	bool		found;

	entry = (Inflight *) hash_search(inflight, &id, HASH_ENTER, &found);
	entry->is_claim = is_claim;
	entry->started = false;
	entry->name.len = job->name_len;
	memcpy(entry->name.data, KZ_JOB_NAME(job), job->name_len);
	entry->ts = job->timestamp;
	entry->procno = job->procno;
	entry->pid = job->pid;
	entry->req_id = job->req_id;
	entry->awaited = 0;
	return entry;
}

/* True if the pending row of this claim is still there and has not lost. */
static bool
claim_still_wanted(const KzJob *job)
{
	KzName		name;
	KzRow	   *row;
	bool		wanted;

	name.len = job->name_len;
	memcpy(name.data, KZ_JOB_NAME(job), job->name_len);
	LWLockAcquire(kz_shared->reg_lock, LW_EXCLUSIVE);
	row = kz_reg_lookup(&name);
	wanted = row != NULL && row->state == KZ_ROW_PENDING &&
		row->claim_id == job->ref && kz_row_alive(row);
	if (wanted && (row->flags & KZ_ROW_LOST))
	{
		/* a rival's claim beat it before the worker even started it */
		(void) kz_row_end_claim(row);
		wanted = false;
	}
	LWLockRelease(kz_shared->reg_lock);
	return wanted;
}

void
kz_claim_start(const KzJob *job)
{
	Inflight   *entry;

	if (!kz_bus_usable())
	{
		kz_request_finish(job->procno, job->pid, job->req_id, KZ_RES_BROKER_DOWN);
		return;
	}
	if (!claim_still_wanted(job))
	{
		KZ_STAT_INC(claims_lost);
		kz_request_finish(job->procno, job->pid, job->req_id, KZ_RES_NO);
		return;
	}
	entry = enter(job, job->ref, true);
	if (kz_bus.ready)
		begin_claim(entry);
}

void
kz_query_start(const KzJob *job)
{
	Inflight   *entry;

	if (!kz_bus_usable() || !kz_bus.ready)
	{
		kz_request_finish(job->procno, job->pid, job->req_id, KZ_RES_NO);
		return;
	}
	entry = enter(job, kz_next_id(), false);
	expect_replies(entry);
	entry->started = true;
	if (entry->awaited == 0)
	{
		finish(entry, KZ_RES_NO);
		return;
	}
	kz_out_query(&entry->name, entry->id);
}

/* Finds the entry a reply belongs to, by the sequence part of its Msg-ID. */
static Inflight *
entry_for_reply(const KzBusMsg *msg, bool is_claim)
{
	uint64		session;
	uint64		seq;
	Inflight   *entry;

	if (msg->msg_id == NULL || !kz_proto_parse_msg_id(msg->msg_id, &session, &seq) ||
		session != kz_bus.session)
		return NULL;
	entry = lookup(seq);
	if (entry == NULL || entry->is_claim != is_claim || !entry->started)
		return NULL;
	return entry;
}

/* Counts a reply from node; true when nobody else is awaited. */
static bool
count_reply(Inflight *entry, int node)
{
	if (node >= 0 && node < KZ_MAX_NODES && entry->expected[node])
	{
		entry->expected[node] = false;
		entry->awaited--;
	}
	return entry->awaited <= 0;
}

/*
 * Whether an answer to our claim denies it.  "remote" denies too (unlike
 * Kazoo, which lets only the owner deny), unless the owner it names is not
 * up as far as we know: us (server is our queue), a node we have expired or
 * never heard of.  Then the answering node's row is stale: a Kazoo node
 * keeps the rows of a node that died hard for as long as it runs, and would
 * otherwise deny the name forever.
 */
static bool
answer_denies(const Inflight *entry, KzWireState state, bool has_ts, int64 ts,
			  const char *server, const char *replier)
{
	switch (state)
	{
		case KZ_WS_LOCAL:
		case KZ_WS_REGISTERED:
			return true;
		case KZ_WS_REMOTE:
			if (server == NULL || server[0] == '\0')
				return true;
			return strcmp(server, kz_bus.queue) != 0 && kz_peer_owner_up(server);
		case KZ_WS_PENDING:
			return has_ts && kz_claim_beats(ts, replier, entry->ts, kz_node_name);
		default:
			return false;
	}
}

/* Applies one node's answer to a claim. */
static void
claim_answered(Inflight *entry, int node, KzWireState state, bool has_ts,
			   int64 ts, const char *server, const char *replier)
{
	if (answer_denies(entry, state, has_ts, ts, server, replier))
		decide_claim(entry, false);
	else if (count_reply(entry, node))
		decide_claim(entry, true);
}

void
kz_inflight_register_resp(const KzBusMsg *msg, int node)
{
	Inflight   *entry = entry_for_reply(msg, true);

	if (entry != NULL)
		claim_answered(entry, node, msg->state, msg->has_timestamp, msg->timestamp,
					   msg->server_id, msg->node);
}

/* Is this claim's name name[0..len)? */
static bool
claim_names(const Inflight *entry, const uint8 *name, size_t len)
{
	return entry->name.len == len && memcmp(entry->name.data, name, len) == 0;
}

/*
 * The claim under way an answer of a claim_batch_resp is for.  An answer
 * from a current node carries the claim's Msg-ID: its sequence part is the
 * claim's id, and the name must match too (a safety check: an answer for
 * another name is ignored).  An older node's answer carries none; a claim
 * has at most one pending row, so the name finds the claim.
 */
static Inflight *
claim_of_answer(const KzSyncEntry *e)
{
	KzName		name;
	KzRow	   *row;
	uint64		session;
	uint64		claim_id = 0;
	Inflight   *entry;

	if (e->claim != NULL)
	{
		if (!kz_proto_parse_msg_id(e->claim, &session, &claim_id) ||
			session != kz_bus.session)
			return NULL;
	}
	else
	{
		name.len = (uint16) e->name_len;
		memcpy(name.data, e->name, e->name_len);
		LWLockAcquire(kz_shared->reg_lock, LW_SHARED);
		row = kz_reg_lookup(&name);
		if (row != NULL && row->state == KZ_ROW_PENDING)
			claim_id = row->claim_id;
		LWLockRelease(kz_shared->reg_lock);
	}
	if (claim_id == 0)
		return NULL;
	entry = lookup(claim_id);
	if (entry == NULL || !entry->is_claim || !entry->started ||
		!claim_names(entry, e->name, e->name_len))
		return NULL;
	return entry;
}

/* Answers to the claims of a registry_batch, one entry per claim. */
void
kz_inflight_claim_batch_resp(const KzBusMsg *msg, int node)
{
	uint64		session;
	uint64		seq;
	int			i;

	if (msg->msg_id == NULL || !kz_proto_parse_msg_id(msg->msg_id, &session, &seq) ||
		session != kz_bus.session)
		return;
	for (i = 0; i < msg->nentries; i++)
	{
		KzSyncEntry *e = &msg->entries[i];
		Inflight   *entry = claim_of_answer(e);

		if (entry != NULL)
			claim_answered(entry, node, e->state, e->state != KZ_WS_NONE, e->timestamp,
						   e->text, msg->node);
	}
}

void
kz_inflight_query_resp(const KzBusMsg *msg, int node)
{
	Inflight   *entry = entry_for_reply(msg, false);

	if (entry == NULL)
		return;
	if (msg->state == KZ_WS_LOCAL || msg->state == KZ_WS_REGISTERED)
	{
		uint64		lost;

		kz_peer_set_server(node, msg->server_id);
		lost = kz_remote_apply(msg->name, msg->name_len, node,
							   msg->has_timestamp ? msg->timestamp : kz_hlc_now(),
							   msg->pid, msg->pid == 0);
		if (lost != 0)
			kz_inflight_claim_lost(lost);
		finish(entry, KZ_RES_OK);
	}
	else if (count_reply(entry, node))
		finish(entry, KZ_RES_NO);
}

void
kz_inflight_claim_lost(uint64 claim_id)
{
	Inflight   *entry = lookup(claim_id);

	if (entry != NULL && entry->is_claim)
		decide_claim(entry, false);
}

/*
 * Collects the ids of entries matching a test, so that they can be acted on
 * after the scan: acting on one entry may finish others (a decided claim
 * applies its winner's row, which can decide another claim), and
 * hash_seq_search allows removing only the entry it returned last.
 */
static List *
collect(bool (*test) (Inflight *entry, void *arg), void *arg)
{
	HASH_SEQ_STATUS status;
	Inflight   *entry;
	List	   *ids = NIL;

	hash_seq_init(&status, inflight);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (test(entry, arg))
		{
			uint64	   *id = palloc(sizeof(uint64));

			*id = entry->id;
			ids = lappend(ids, id);
		}
	}
	return ids;
}

/* Completes an entry whose replies are all in (or no longer awaited). */
static void
complete(Inflight *entry)
{
	if (entry->is_claim)
		decide_claim(entry, true);
	else
		finish(entry, KZ_RES_NO);
}

static bool
awaits_node(Inflight *entry, void *arg)
{
	int			node = *(int *) arg;

	return entry->started && entry->expected[node];
}

void
kz_inflight_node_gone(int node)
{
	ListCell   *lc;
	List	   *ids = collect(awaits_node, &node);

	foreach(lc, ids)
	{
		Inflight   *entry = lookup(*(uint64 *) lfirst(lc));

		if (entry != NULL && count_reply(entry, node))
			complete(entry);
	}
}

static bool
not_started(Inflight *entry, void *arg)
{
	return !entry->started;
}

void
kz_inflight_start_deferred(void)
{
	ListCell   *lc;
	List	   *ids = collect(not_started, NULL);

	foreach(lc, ids)
	{
		Inflight   *entry = lookup(*(uint64 *) lfirst(lc));

		if (entry != NULL)
			begin_claim(entry);
	}
}

static bool
overdue(Inflight *entry, void *arg)
{
	return entry->started && entry->deadline <= *(TimestampTz *) arg;
}

TimestampTz
kz_inflight_expire(TimestampTz now)
{
	ListCell   *lc;
	List	   *ids;
	HASH_SEQ_STATUS status;
	Inflight   *entry;
	TimestampTz next = 0;

	if (earliest_deadline == 0 || now < earliest_deadline)
		return earliest_deadline;
	ids = collect(overdue, &now);
	foreach(lc, ids)
	{
		entry = lookup(*(uint64 *) lfirst(lc));
		if (entry != NULL)
			complete(entry);
	}
	hash_seq_init(&status, inflight);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (entry->started && (next == 0 || entry->deadline < next))
			next = entry->deadline;
	}
	earliest_deadline = next;
	return next;
}

static bool
any(Inflight *entry, void *arg)
{
	return true;
}

void
kz_inflight_fail_all(void)
{
	ListCell   *lc;
	List	   *ids = collect(any, NULL);

	foreach(lc, ids)
	{
		Inflight   *entry = lookup(*(uint64 *) lfirst(lc));

		if (entry != NULL)
			finish(entry, entry->is_claim ? KZ_RES_BROKER_DOWN : KZ_RES_NO);
	}
}
