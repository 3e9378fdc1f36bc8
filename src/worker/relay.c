/*-------------------------------------------------------------------------
 *
 * relay.c
 *	  send, call and reply between local backends and remote owners.
 *
 * Outgoing (SPEC section 5, fix 9): a send or call for a name owned on
 * another node is published to that node's queue on the targeted exchange,
 * as mandatory, on the confirm-mode channel.  The broker returns it if the
 * queue is gone (the owner node vanished) and then confirms it; the waiting
 * backend learns "routed" or "unroutable" from that, one round trip after
 * the publish, instead of the message being silently lost.  A call then
 * waits for the owner's reply, which carries the call's Msg-ID.
 *
 * A publish to a process group's members on other nodes goes out the same
 * way, once, on kz_globals' groups exchange (group_sync.c delivers it on
 * arrival); a return means no node had bound the group's key.
 *
 * Incoming: a send or call for a name owned here goes into the owner's
 * mailbox (a call with a reply tag that routes the answer back to the
 * caller's queue); a reply goes to the waiting caller's slot.
 *
 * A call whose owner exits before answering it (queued in the owner's
 * mailbox, or arriving just after) gets a reply marked Owner-Exited when
 * the caller is a kz_globals node, so that call() fails at once instead of
 * at its timeout.
 *
 * IDENTIFICATION
 *	  src/worker/relay.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/ilist.h"
#include "nodes/pg_list.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "bus.h"
#include "bus_keys.h"
#include "mailbox.h"
#include "names.h"
#include "nodes.h"
#include "outbox.h"
#include "peers.h"
#include "relay.h"
#include "reply_tag.h"
#include "shmem.h"


/* How long a Kazoo caller (a kz_global_proxy) waits for a reply. */
#define KZ_KAZOO_CALL_TIMEOUT_MS	2000

/* A backend waiting for the confirm of what it sent. */
typedef struct Requester
{
	int32		procno;
	int32		pid;
	uint64		req_id;
} Requester;

/* A publish waiting for its confirm, in delivery-tag order. */
typedef struct Confirm
{
	dlist_node	link;
	uint64		tag;
	KzJobKind	kind;
	uint64		call_id;		/* calls */
	bool		returned;		/* the broker could not route it */
	char		property_id[KZ_MSG_ID_LEN + 1];
	int			nreq;			/* backends it answers (several: a batch) */
	Requester	req[FLEXIBLE_ARRAY_MEMBER];
} Confirm;

/* Sends queued this round, to be flushed batched by destination. */
typedef struct PendingSend
{
	KzJob	   *job;			/* a copy in the round's memory */
	char		queue[KZ_SERVER_MAX];	/* owner node's queue, "" if unknown */
	bool		pg_owner;		/* the owner node is a kz_globals node */
	bool		done;			/* flushed */
} PendingSend;

/* A call routed to a remote owner, waiting for its reply. */
typedef struct Awaiting
{
	uint64		call_id;		/* hash key */
	int32		procno;
	int32		pid;
	int32		node;			/* the owner node the call went to */
	TimestampTz deadline;
} Awaiting;

static dlist_head confirms = DLIST_STATIC_INIT(confirms);
static HTAB *awaiting = NULL;
static List *pending_sends = NIL;	/* of PendingSend, in the round's memory */

/* A send batch holds at most this many bytes of messages. */
#define KZ_SEND_BATCH_BYTES		48000

/* No awaited reply's deadline is before this (0: none awaited). */
static TimestampTz earliest_deadline = 0;

void
kz_relay_init(void)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(Awaiting);
	ctl.hcxt = TopMemoryContext;
	awaiting = hash_create("kz_globals calls awaiting replies", 256, &ctl,
						   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/* Waits for the confirm of tag on behalf of the requesters of n jobs. */
static void
track(uint64 tag, const KzJob *const *jobs, int n, const char *property_id)
{
	Confirm    *c = MemoryContextAllocZero(TopMemoryContext,
										   offsetof(Confirm, req) + n * sizeof(Requester));
	int			i;

	c->tag = tag;
	c->kind = jobs[0]->kind;
	c->call_id = jobs[0]->ref;
	strlcpy(c->property_id, property_id, sizeof(c->property_id));
	c->nreq = n;
	for (i = 0; i < n; i++)
	{
		c->req[i].procno = jobs[i]->procno;
		c->req[i].pid = jobs[i]->pid;
		c->req[i].req_id = jobs[i]->req_id;
	}
	dlist_push_tail(&confirms, &c->link);
}

static void
fail_requests(const KzJob *const *jobs, int n, KzReqResult result)
{
	int			i;

	for (i = 0; i < n; i++)
		kz_request_finish(jobs[i]->procno, jobs[i]->pid, jobs[i]->req_id, result);
}

static void
await_reply(const KzJob *job)
{
	Awaiting   *a;
	bool		found;

	a = (Awaiting *) hash_search(awaiting, &job->ref, HASH_ENTER, &found);
	a->procno = job->procno;
	a->pid = job->pid;
	a->node = job->node;
	a->deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), job->timeout_ms);
	if (earliest_deadline == 0 || a->deadline < earliest_deadline)
		earliest_deadline = a->deadline;
}

/* The queue of the node that owns a name, or "" if not known. */
static void
owner_queue(int node, char *queue)
{
	LWLockAcquire(kz_shared->nodes_lock, LW_SHARED);
	strlcpy(queue, kz_node(node)->server, KZ_SERVER_MAX);
	LWLockRelease(kz_shared->nodes_lock);
}

/* A call for a remote owner: published at once, its reply awaited. */
static void
relay_call(const KzJob *job)
{
	char		queue[KZ_SERVER_MAX];
	char		property_id[KZ_MSG_ID_LEN + 1];
	uint64		tag;

	if (!kz_bus_usable())
	{
		kz_request_finish(job->procno, job->pid, job->req_id, KZ_RES_BROKER_DOWN);
		return;
	}
	owner_queue(job->node, queue);
	await_reply(job);
	tag = kz_out_call(queue[0] ? queue : NULL, job, kz_peer_is_pg(job->node),
					  property_id);
	if (tag == 0)
		fail_requests(&job, 1, KZ_RES_BROKER_DOWN);
	else
		track(tag, &job, 1, property_id);
}

/*
 * A send for a remote owner: queued until the end of the round, when the
 * sends for one kz_globals node go out as one batch.
 */
static void
relay_send(const KzJob *job)
{
	size_t		size = KZ_JOB_SIZE(job);
	PendingSend *p;

	if (!kz_bus_usable())
	{
		kz_request_finish(job->procno, job->pid, job->req_id, KZ_RES_BROKER_DOWN);
		return;
	}
	p = palloc0(sizeof(PendingSend));
	p->job = palloc(size);
	memcpy(p->job, job, size);
	owner_queue(job->node, p->queue);
	p->pg_owner = kz_peer_is_pg(job->node);
	pending_sends = lappend(pending_sends, p);
}

/* Publishes one send; tracks its confirm. */
static void
flush_one(PendingSend *p)
{
	char		property_id[KZ_MSG_ID_LEN + 1];
	const KzJob *job = p->job;
	uint64		tag;

	p->done = true;
	tag = kz_out_send(p->queue[0] ? p->queue : NULL, job, p->pg_owner, property_id);
	if (tag == 0)
		fail_requests(&job, 1, KZ_RES_BROKER_DOWN);
	else
		track(tag, &job, 1, property_id);
}

/*
 * Publishes the sends still pending for p's destination, from p on, in
 * batches of one sender role and database each (a batch names them once);
 * tracks each batch's confirm for all its requesters.
 */
static void
flush_batch(ListCell *from)
{
	const char *queue = ((PendingSend *) lfirst(from))->queue;
	const KzJob **jobs = palloc(KZ_BATCH_MAX * sizeof(KzJob *));
	char		property_id[KZ_MSG_ID_LEN + 1];
	ListCell   *lc = from;

	for (;;)
	{
		int			n = 0;
		size_t		bytes = 0;
		uint64		tag;

		for (lc = from; lc != NULL && n < KZ_BATCH_MAX && bytes < KZ_SEND_BATCH_BYTES;
			 lc = lnext(pending_sends, lc))
		{
			PendingSend *p = lfirst(lc);

			if (p->done || strcmp(p->queue, queue) != 0 ||
				(n > 0 && !kz_job_same_sender(jobs[0], p->job)))
				continue;
			p->done = true;
			jobs[n++] = p->job;
			bytes += p->job->body_len + p->job->name_len;
		}
		if (n == 0)
			break;
		tag = kz_out_send_batch(queue, jobs, n, property_id);
		if (tag == 0)
			fail_requests(jobs, n, KZ_RES_BROKER_DOWN);
		else
			track(tag, jobs, n, property_id);
	}
	pfree(jobs);
}

/* How many sends still pending go to p's destination, p included. */
static int
pending_for(ListCell *from)
{
	PendingSend *first = lfirst(from);
	ListCell   *lc;
	int			n = 0;

	for (lc = from; lc != NULL; lc = lnext(pending_sends, lc))
	{
		PendingSend *p = lfirst(lc);

		if (!p->done && strcmp(p->queue, first->queue) == 0)
			n++;
	}
	return n;
}

/*
 * Publishes the sends queued this round: batched per kz_globals owner node
 * (a batch is routed, or returned, as a whole), one by one to Kazoo owners
 * and to owners whose queue is not known.
 */
void
kz_relay_flush(void)
{
	ListCell   *lc;

	foreach(lc, pending_sends)
	{
		PendingSend *p = lfirst(lc);

		if (p->done)
			continue;
		if (p->pg_owner && p->queue[0] && pending_for(lc) > 1)
			flush_batch(lc);
		else
			flush_one(p);
	}
	pending_sends = NIL;		/* the round's memory is reset afterwards */
}

/* The Msg-ID and queue of a remote caller's reply tag (reply_tag.h). */
static bool
split_remote_tag(const char *tag, char **msg_id, char **queue)
{
	int64		deadline;

	*queue = NULL;
	return kz_tag_parse_remote(tag, &deadline, msg_id, queue);
}

/* The answer to a call from another node, to where its tag says. */
static void
relay_reply(const KzJob *job)
{
	char	   *tag = pnstrdup(KZ_JOB_TARGET(job), job->target_len);
	char	   *msg_id;
	char	   *queue;
	char		property_id[KZ_MSG_ID_LEN + 1];
	uint64		dtag;

	if (!split_remote_tag(tag, &msg_id, &queue) || !kz_bus_usable())
	{
		kz_request_finish(job->procno, job->pid, job->req_id,
						  queue == NULL ? KZ_RES_NO : KZ_RES_BROKER_DOWN);
		return;
	}
	dtag = kz_out_reply(queue, msg_id, KZ_JOB_BODY(job), job->body_len, false,
						property_id);
	if (dtag == 0)
		fail_requests(&job, 1, KZ_RES_BROKER_DOWN);
	else
		track(dtag, &job, 1, property_id);
}

/*
 * A call from caller_node that its owner will never answer (the owner
 * exited with it queued, or before it arrived): a kz_globals caller is told
 * at once, so that it fails now rather than at its timeout.  A Kazoo caller
 * would take any reply for the owner's answer, so it is left to time out,
 * as it would with a Kazoo owner.  Nobody waits for this publish.
 */
static void
tell_owner_gone(const char *reply_tag, const char *caller_node)
{
	const char *tag = reply_tag;
	char	   *msg_id;
	char	   *queue;
	char		property_id[KZ_MSG_ID_LEN + 1];
	int			index;

	if (!kz_bus_usable() || !split_remote_tag(tag, &msg_id, &queue))
		return;
	index = caller_node ? kz_peer_node(caller_node, false) : -1;
	if (index < 0 || !kz_peer_is_pg(index))
		return;
	(void) kz_out_reply(queue, msg_id, NULL, 0, true, property_id);
}

/*
 * A message for a group's members on other nodes: published at once, its
 * confirm awaited (a return means no node had bound the group's key).
 */
static void
relay_group_publish(const KzJob *job)
{
	char		property_id[KZ_MSG_ID_LEN + 1];
	uint64		tag;

	if (!kz_bus_usable())
	{
		kz_request_finish(job->procno, job->pid, job->req_id, KZ_RES_BROKER_DOWN);
		return;
	}
	tag = kz_out_group_publish(job, property_id);
	if (tag == 0)
		fail_requests(&job, 1, KZ_RES_BROKER_DOWN);
	else
		track(tag, &job, 1, property_id);
}

void
kz_relay_job(const KzJob *job)
{
	switch ((KzJobKind) job->kind)
	{
		case KZ_JOB_SEND:
			relay_send(job);
			break;
		case KZ_JOB_CALL:
			relay_call(job);
			break;
		case KZ_JOB_REPLY:
			relay_reply(job);
			break;
		case KZ_JOB_OWNER_GONE:
			{
				char	   *tag = pnstrdup(KZ_JOB_TARGET(job), job->target_len);
				char	   *node = pnstrdup(KZ_JOB_BODY(job), job->body_len);

				tell_owner_gone(tag, node);
			}
			break;
		case KZ_JOB_UNREGISTER:
			/* while disconnected it is dropped: the next sync corrects peers */
			if (kz_bus_usable())
				kz_outbox_unregister(KZ_JOB_NAME(job), job->name_len, job->timestamp);
			break;
		case KZ_JOB_GROUP_PUBLISH:
			relay_group_publish(job);
			break;
		case KZ_JOB_ADVERTISE:
			/* set_meta(): the advertisement carries the metadata as it is now */
			if (kz_bus_usable())
			{
				KzName		name;

				kz_name_set(&name, KZ_JOB_NAME(job), job->name_len);
				kz_outbox_advert(&name, job->timestamp, job->pid);
			}
			break;
		case KZ_JOB_CLAIM:
		case KZ_JOB_QUERY:
			break;
	}
}

static void
settle(Confirm *c, KzReqResult result)
{
	int			i;

	if (c->kind == KZ_JOB_CALL && result != KZ_RES_OK)
		(void) hash_search(awaiting, &c->call_id, HASH_REMOVE, NULL);
	dlist_delete(&c->link);
	for (i = 0; i < c->nreq; i++)
		kz_request_finish(c->req[i].procno, c->req[i].pid, c->req[i].req_id, result);
	pfree(c);
}

/* Confirms (or refusals) of publishes up to tag, or of tag alone. */
void
kz_relay_confirm(bool ack, uint64 tag, bool multiple)
{
	dlist_mutable_iter iter;

	dlist_foreach_modify(iter, &confirms)
	{
		Confirm    *c = dlist_container(Confirm, link, iter.cur);

		if (c->tag > tag)
			break;
		if (!multiple && c->tag != tag)
			continue;
		settle(c, !ack ? KZ_RES_BROKER_DOWN :
			   c->returned ? KZ_RES_UNROUTABLE : KZ_RES_OK);
	}
}

/* A mandatory publish came back: its owner's queue no longer exists. */
void
kz_relay_returned(const char *property_id)
{
	dlist_iter	iter;

	if (property_id == NULL)
		return;
	dlist_foreach(iter, &confirms)
	{
		Confirm    *c = dlist_container(Confirm, link, iter.cur);

		if (strcmp(c->property_id, property_id) == 0)
		{
			c->returned = true;
			return;
		}
	}
}

/* The local owner of a name, if any (a lease has no mailbox: none). */
static bool
local_owner(const uint8 *data, size_t len, KzName *name, int *procno, int *pid)
{
	KzRow	   *row;
	bool		found = false;

	name->len = (uint16) len;
	memcpy(name->data, data, len);
	LWLockAcquire(kz_shared->reg_lock, LW_SHARED);
	row = kz_reg_lookup(name);
	if (row != NULL && row->state == KZ_ROW_LOCAL && kz_row_alive(row) &&
		!(row->flags & KZ_ROW_LEASE))
	{
		*procno = row->procno;
		*pid = row->pid;
		found = true;
	}
	LWLockRelease(kz_shared->reg_lock);
	return found;
}

/*
 * Puts a message from the bus into a local owner's mailbox: the message
 * term body for name, sent by sender_pid on from's node, with the sender's
 * role and database if from was signed (verified).  A call addressed to this
 * node (targeted, not broadcast) whose owner is no longer here was sent by
 * a caller that has not yet heard of the owner's exit: it is told at once,
 * as if the owner had exited with the call in its mailbox.
 */
static void
deliver(const uint8 *name_data, size_t name_len, const KzBusMsg *from,
		int32 sender_pid, const uint8 *body, size_t body_len, KzMsgKind kind,
		const char *tag)
{
	const char *node = from->node;
	KzName		name;
	KzMessageSpec spec;
	dsa_pointer dp;
	int			procno;
	int			pid;
	KzDeliver	result = KZ_DELIVER_FULL;

	if (!local_owner(name_data, name_len, &name, &procno, &pid))
	{
		/*
		 * Not ours.  A broadcast (Kazoo sends to every node) was for another
		 * node; a call addressed to us has lost its owner.
		 */
		if (kind == KZ_MSG_CALL && from->targeted)
		{
			KZ_STAT_INC(messages_dropped);
			tell_owner_gone(tag, node);
		}
		return;
	}
	memset(&spec, 0, sizeof(spec));
	spec.kind = kind;
	spec.flags = KZ_MSG_BODY_ETF | KZ_MSG_IDENT_UTF8;
	spec.sender_pid = sender_pid;
	if (from->verified)
	{
		/* only a signature says the role and database are the sender's */
		spec.role = from->sender_role;
		spec.db = from->sender_db;
	}
	spec.sent_at = GetCurrentTimestamp();
	spec.name = &name;
	spec.node = node;
	spec.tag = tag;
	spec.body = (const char *) body;
	spec.body_len = body_len;
	dp = kz_message_create(&spec, true);
	if (DsaPointerIsValid(dp))
		result = kz_mailbox_put(procno, pid, dp);
	if (result == KZ_DELIVER_OK)
	{
		KZ_STAT_INC(messages_received);
		return;
	}
	if (DsaPointerIsValid(dp))
		kz_message_free(dp);
	KZ_STAT_INC(messages_dropped);
	/* the owner has just exited: its caller need not wait */
	if (result == KZ_DELIVER_GONE && kind == KZ_MSG_CALL)
		tell_owner_gone(tag, node);
}

void
kz_relay_in_send(const KzBusMsg *msg)
{
	deliver(msg->name, msg->name_len, msg, msg->sender_pid,
			msg->message, msg->message_len, KZ_MSG_SEND, NULL);
}

void
kz_relay_in_send_batch(const KzBusMsg *msg)
{
	int			i;

	for (i = 0; i < msg->nentries; i++)
	{
		KzSyncEntry *e = &msg->entries[i];

		deliver(e->name, e->name_len, msg, e->pid, e->message, e->message_len,
				KZ_MSG_SEND, NULL);
	}
}

void
kz_relay_in_call(const KzBusMsg *msg)
{
	int			timeout = msg->timeout_ms > 0 ? msg->timeout_ms : KZ_KAZOO_CALL_TIMEOUT_MS;
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout);
	char	   *tag;

	if (msg->msg_id == NULL || msg->server_id == NULL || msg->server_id[0] == '\0')
	{
		KZ_STAT_INC(messages_dropped);
		return;					/* no way to answer it */
	}
	tag = kz_tag_remote(deadline, msg->msg_id, msg->server_id);
	deliver(msg->name, msg->name_len, msg, msg->sender_pid,
			msg->message, msg->message_len, KZ_MSG_CALL, tag);
}

void
kz_relay_in_reply(const KzBusMsg *msg)
{
	uint64		session;
	uint64		call_id;
	Awaiting   *a;
	KzMessageSpec spec;
	dsa_pointer dp;

	if (msg->msg_id == NULL || !kz_proto_parse_msg_id(msg->msg_id, &session, &call_id) ||
		session != kz_bus.session)
		return;
	a = (Awaiting *) hash_search(awaiting, &call_id, HASH_FIND, NULL);
	if (a == NULL)
		return;

	/*
	 * With bus keys, only the node the call went to may answer it: bus
	 * authentication keeps others from speaking for a kz_globals node, but
	 * not from posing as an unknown Kazoo node, whose reply would do as well
	 * (a forger learns the Msg-ID by binding a queue of its own to the
	 * owner's).
	 */
	if (kz_bus_keys_configured() && kz_peer_node(msg->node, false) != a->node)
	{
		KZ_STAT_INC(bus_rejected);
		return;
	}
	memset(&spec, 0, sizeof(spec));
	spec.kind = KZ_MSG_REPLY;
	spec.flags = msg->owner_exited ? KZ_MSG_OWNER_GONE : KZ_MSG_BODY_ETF;
	spec.sent_at = GetCurrentTimestamp();
	spec.node = msg->node;
	if (!msg->owner_exited)
	{
		spec.body = (const char *) msg->reply;
		spec.body_len = msg->reply_len;
	}
	dp = kz_message_create(&spec, true);
	if (DsaPointerIsValid(dp) && !kz_call_answer(a->procno, a->pid, call_id, dp))
		kz_message_free(dp);
	(void) hash_search(awaiting, &call_id, HASH_REMOVE, NULL);
}

TimestampTz
kz_relay_expire(TimestampTz now)
{
	HASH_SEQ_STATUS status;
	Awaiting   *a;
	TimestampTz next = 0;

	if (earliest_deadline == 0 || now < earliest_deadline)
		return earliest_deadline;
	hash_seq_init(&status, awaiting);
	while ((a = hash_seq_search(&status)) != NULL)
	{
		if (a->deadline <= now)
			(void) hash_search(awaiting, &a->call_id, HASH_REMOVE, NULL);
		else if (next == 0 || a->deadline < next)
			next = a->deadline;
	}
	earliest_deadline = next;
	return next;
}

void
kz_relay_fail_all(void)
{
	dlist_mutable_iter iter;

	dlist_foreach_modify(iter, &confirms)
		settle(dlist_container(Confirm, link, iter.cur), KZ_RES_BROKER_DOWN);
}
