/*-------------------------------------------------------------------------
 *
 * bus_out.c
 *	  Publishing every message kz_globals sends.
 *
 * Each kz_out_* function fills in the encoders' context (our node name,
 * queue, zone, session, incarnation, the message's Msg-ID) and what the
 * message is about, calls its encoder (src/wire/encode.c: the body is
 * composed there, nowhere else) and publishes the result.
 *
 * Messages about names go to the globals topic exchange with Kazoo's routing
 * key; answers and point-to-point traffic go to the targeted direct
 * exchange with the recipient's queue as routing key; heartbeats go to the
 * nodes fanout.  What a backend waits to hear was routed (sends, calls, replies)
 * leaves on the confirm-mode channel; registry broadcasts, answers,
 * heartbeats and syncs on the channel without confirms (src/conn/amqp_conn.c).
 * All events about one name take that one channel, in the order they are
 * published here, so they reach every peer in the order they happened
 * (SPEC section 5, fix 6).
 *
 * Publishing that fails means the connection is gone: the state is marked
 * broken, every later publish fails at once, and each caller learns it from
 * the return value (0 or false).  The worker's loop tears the connection
 * down at its top (kz_conn_teardown_if_broken), so no handler's state
 * changes under it.
 *
 * IDENTIFICATION
 *	  src/worker/bus_out.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "amqp_conn.h"
#include "bus.h"
#include "bus_keys.h"
#include "encode.h"
#include "etf.h"
#include "guc.h"
#include "mailbox.h"
#include "meta.h"
#include "nodes.h"
#include "routing.h"
#include "shmem.h"

/* Names per sync message: keeps bodies well under a frame or two. */
#define KZ_SYNC_CHUNK			256

void
kz_bus_next_msg_id(char *out)
{
	kz_proto_msg_id(out, kz_bus.session, ++kz_bus.seq);
}

/* The connection failed: remember why, for the loop's teardown. */
void
kz_bus_mark_broken(const char *why)
{
	if (!kz_bus.up || kz_bus.broken)
		return;
	kz_bus.broken = true;
	strlcpy(kz_bus.broken_why, why, sizeof(kz_bus.broken_why));
}

/* True if a message published now can go out (and is not held back). */
bool
kz_bus_usable(void)
{
	return kz_bus.up && !kz_bus.broken && !kz_amqp_blocked();
}

/*
 * True while the broker blocks the connection (connection.blocked, under a
 * resource alarm): it would not read what we publish, so nothing is.
 */
bool
kz_bus_blocked(void)
{
	return kz_bus.up && kz_amqp_blocked();
}

/*
 * Publishes body; returns its delivery tag (with confirm: a backend waits to
 * hear that the broker routed it), or 0 when it could not be sent (the
 * connection is then marked broken, if that was the reason).  A mandatory
 * publish always asks for a confirm: a return is only known with it.
 */
static uint64
publish_on(const char *exchange, const char *routing_key, StringInfo body,
		   bool confirm, bool mandatory, const char *property_id)
{
	char		err[512];
	char		auth[KZ_AUTH_HEADER_MAX];
	bool		signed_;
	uint64		tag;

	if (!kz_bus_usable())
		return 0;				/* broken, or held while the broker blocks us */
	if (strlen(routing_key) > KZ_SHORTSTR_MAX)
		return 0;				/* a Server-ID no queue can have: nowhere to go */
	/* with kz_globals.bus_key_file, every message is signed (bus_keys.c) */
	signed_ = kz_bus_keys_sign(exchange, routing_key, property_id, body->data,
							   body->len, auth);
	tag = kz_amqp_publish(exchange, routing_key, body->data, body->len,
						  confirm || mandatory, mandatory, property_id,
						  signed_ ? auth : NULL, err, sizeof(err));
	if (tag == 0)
	{
		kz_bus_mark_broken(err);
		return 0;
	}
	KZ_STAT_INC(bus_sent);
	KZ_STAT_ADD(bus_sent_bytes, body->len);
	return tag;
}

/* Publishes body, with a confirm exactly when mandatory. */
static uint64
publish(const char *exchange, const char *routing_key, StringInfo body,
		bool mandatory, const char *property_id)
{
	return publish_on(exchange, routing_key, body, mandatory, mandatory, property_id);
}

/*
 * Broadcasts an event about a name on the globals exchange; 0 on failure.
 * With confirm (a send or call to an owner whose queue is unknown), on the
 * confirm channel.
 */
static uint64
broadcast(const char *event, const uint8 *name, size_t name_len, StringInfo body,
		  bool confirm)
{
	StringInfoData key;
	uint64		tag;

	initStringInfo(&key);
	kz_proto_routing_key(&key, event, name, name_len);
	tag = publish_on(KZ_EXCHANGE_GLOBALS, key.data, body, confirm, false, NULL);
	pfree(key.data);
	return tag;
}

static uint64
publish_globals(const char *event, const uint8 *name, size_t name_len, StringInfo body)
{
	return broadcast(event, name, name_len, body, false);
}

/*
 * A message for the owner of a name: to its node's queue, mandatory, or,
 * when that queue is not known, broadcast by name as Kazoo's proxies do.
 */
static uint64
publish_to_owner(const char *queue, const char *event, const uint8 *name,
				 size_t name_len, StringInfo body, const char *property_id)
{
	if (queue == NULL)
		return broadcast(event, name, name_len, body, true);
	return publish(KZ_EXCHANGE_TARGETED, queue, body, true, property_id);
}

/*
 * Us, and the Msg-ID of the message being built, for the encoders of
 * encode.c.
 */
static KzEncodeCtx
context(const char *msg_id)
{
	KzEncodeCtx ctx;

	ctx.node = kz_node_name;
	ctx.queue = kz_bus.queue;
	ctx.zone = kz_zone;
	ctx.session = kz_bus.session;
	ctx.incarnation = kz_shared->started_at;
	ctx.msg_id = msg_id;
	ctx.sender_role = NULL;
	ctx.sender_db = NULL;
	return ctx;
}

/*
 * The Msg-ID of the answer to a request (register_resp, query_resp,
 * claim_batch_resp): the request's, or a fresh one in fresh if it had none.
 */
static const char *
answer_msg_id(const char *req_msg_id, char *fresh)
{
	if (req_msg_id != NULL)
		return req_msg_id;
	kz_bus_next_msg_id(fresh);
	return fresh;
}

/*
 * Broadcasts a batch or sync on the globals exchange, under a routing key
 * with our node name in place of a name.
 */
static uint64
publish_as_node(const char *event, StringInfo body)
{
	StringInfoData key;
	uint64		tag;

	initStringInfo(&key);
	kz_proto_routing_key_node(&key, event, kz_node_name);
	tag = publish_on(KZ_EXCHANGE_GLOBALS, key.data, body, false, false, NULL);
	pfree(key.data);
	return tag;
}

/* A claim's Msg-ID carries its id, so that the answers find it. */
bool
kz_out_claim(const KzName *name, int64 ts, uint64 claim_id)
{
	StringInfoData buf;
	char		msg_id[KZ_MSG_ID_LEN + 1];
	KzEncodeCtx ctx = context(msg_id);

	kz_proto_msg_id(msg_id, kz_bus.session, claim_id);
	initStringInfo(&buf);
	kz_enc_claim(&buf, &ctx, name->data, name->len, ts);
	return publish_globals("register", name->data, name->len, &buf) != 0;
}

bool
kz_out_advert(const KzName *name, int64 ts, int32 pid)
{
	StringInfoData buf;
	char		msg_id[KZ_MSG_ID_LEN + 1];
	KzEncodeCtx ctx = context(msg_id);
	char	   *meta = kz_meta_of_local(name, ts);	/* what it is now */

	kz_bus_next_msg_id(msg_id);
	initStringInfo(&buf);
	kz_enc_advert(&buf, &ctx, name->data, name->len, ts, pid, meta);
	if (meta != NULL)
		pfree(meta);
	return publish_globals("register", name->data, name->len, &buf) != 0;
}

/*
 * Answers a claim.  As Kazoo does: State is the answering node's view of
 * the name, with its timestamp, and Server-ID the owner's queue.
 */
bool
kz_out_register_resp(const KzBusMsg *req, KzWireState state, int64 ts,
					 const char *server, int32 pid)
{
	StringInfoData buf;
	char		fresh[KZ_MSG_ID_LEN + 1];
	KzEncodeCtx ctx;

	if (req->server_id == NULL || req->server_id[0] == '\0')
		return true;			/* nowhere to answer */
	ctx = context(answer_msg_id(req->msg_id, fresh));
	initStringInfo(&buf);
	kz_enc_register_resp(&buf, &ctx, server, req->name, req->name_len, state,
						 ts, pid);
	return publish(KZ_EXCHANGE_TARGETED, req->server_id, &buf, false, NULL) != 0;
}

/* A query's Msg-ID carries its id, so that the answers find it. */
bool
kz_out_query(const KzName *name, uint64 query_id)
{
	StringInfoData buf;
	char		msg_id[KZ_MSG_ID_LEN + 1];
	KzEncodeCtx ctx = context(msg_id);

	kz_proto_msg_id(msg_id, kz_bus.session, query_id);
	initStringInfo(&buf);
	kz_enc_query(&buf, &ctx, name->data, name->len);
	return publish_globals("query", name->data, name->len, &buf) != 0;
}

bool
kz_out_query_resp(const KzBusMsg *req, bool owned, int64 ts, int32 pid)
{
	StringInfoData buf;
	char		fresh[KZ_MSG_ID_LEN + 1];
	KzEncodeCtx ctx;

	if (req->server_id == NULL || req->server_id[0] == '\0')
		return true;			/* nowhere to answer */
	ctx = context(answer_msg_id(req->msg_id, fresh));
	initStringInfo(&buf);
	kz_enc_query_resp(&buf, &ctx, req->name, req->name_len, owned, ts, pid);
	return publish(KZ_EXCHANGE_TARGETED, req->server_id, &buf, false, NULL) != 0;
}

/* Tells everyone a local name is gone; the reason is the atom normal. */
bool
kz_out_unregister(const uint8 *name, size_t len, int64 ts)
{
	StringInfoData buf;
	char		msg_id[KZ_MSG_ID_LEN + 1];
	KzEncodeCtx ctx = context(msg_id);

	kz_bus_next_msg_id(msg_id);
	initStringInfo(&buf);
	kz_enc_unregister(&buf, &ctx, name, len, ts);
	return publish_globals("unregister", name, len, &buf) != 0;
}

/*
 * The sending session's role and database from a send or call job, for a
 * kz_globals owner (pg_owner) only: Kazoo has no use for them.
 */
static void
set_sender(KzEncodeCtx *ctx, const KzJob *job, bool pg_owner)
{
	if (!pg_owner)
		return;
	if (job->role_len > 0)
		ctx->sender_role = pnstrdup(KZ_JOB_ROLE(job), job->role_len);
	if (job->db_len > 0)
		ctx->sender_db = pnstrdup(KZ_JOB_DB(job), job->db_len);
}

/* Whether two send jobs have the same sender role and database. */
bool
kz_job_same_sender(const KzJob *a, const KzJob *b)
{
	return a->role_len == b->role_len && a->db_len == b->db_len &&
		memcmp(KZ_JOB_ROLE(a), KZ_JOB_ROLE(b), a->role_len + a->db_len) == 0;
}

/*
 * A send to the owner node's queue, mandatory, so that the broker returns
 * it if that queue is gone.  msg_id receives the AMQP message-id property
 * by which a return is recognised.  Returns the delivery tag or 0.
 */
uint64
kz_out_send(const char *queue, const KzJob *job, bool pg_owner, char *msg_id)
{
	StringInfoData buf;
	KzEncodeCtx ctx = context(msg_id);

	set_sender(&ctx, job, pg_owner);
	kz_bus_next_msg_id(msg_id);
	initStringInfo(&buf);
	kz_enc_send(&buf, &ctx, KZ_JOB_NAME(job), job->name_len, KZ_JOB_BODY(job),
				job->body_len, job->pid);
	return publish_to_owner(queue, "send", KZ_JOB_NAME(job), job->name_len,
							&buf, msg_id);
}

/*
 * A call to the owner node's queue.  Its Msg-ID carries the call's id
 * (job->ref), so that the owner's reply finds the caller; the property id
 * is a fresh one.
 */
uint64
kz_out_call(const char *queue, const KzJob *job, bool pg_owner, char *msg_id)
{
	StringInfoData buf;
	char		call_msg_id[KZ_MSG_ID_LEN + 1];
	KzEncodeCtx ctx = context(call_msg_id);

	StaticAssertStmt(KZ_CALL_ID_MASK == KZ_SEQ_MASK,
					 "a call id must fit a Msg-ID's sequence part");
	set_sender(&ctx, job, pg_owner);
	kz_proto_msg_id(call_msg_id, kz_bus.session, job->ref);
	kz_bus_next_msg_id(msg_id);
	initStringInfo(&buf);
	kz_enc_call(&buf, &ctx, KZ_JOB_NAME(job), job->name_len, KZ_JOB_BODY(job),
				job->body_len, job->pid, job->timeout_ms);
	return publish_to_owner(queue, "call", KZ_JOB_NAME(job), job->name_len,
							&buf, msg_id);
}

/*
 * The reply to a call from another node, with the call's Msg-ID.  With
 * owner_exited (sent to kz_globals callers only), Reply is empty and the
 * caller learns that no answer will come.
 */
uint64
kz_out_reply(const char *queue, const char *req_msg_id, const char *body,
			 size_t len, bool owner_exited, char *msg_id)
{
	StringInfoData buf;
	KzEncodeCtx ctx = context(req_msg_id);

	kz_bus_next_msg_id(msg_id);
	initStringInfo(&buf);
	kz_enc_reply(&buf, &ctx, body, len, owner_exited);
	return publish(KZ_EXCHANGE_TARGETED, queue, &buf, true, msg_id);
}

/*
 * A heartbeat, kz_nodes style: Expires is set so that Expires x 1.25, the
 * expiry every node applies, is three heartbeat periods.  With
 * sync_request (only to one queue), the receiver answers with its sync.
 */
bool
kz_out_heartbeat(const char *queue, bool sync_request)
{
	StringInfoData buf;
	char		msg_id[KZ_NODES_MSG_ID_LEN + 1];
	KzRegistryCounts counts;
	KzHeartbeat hb;
	KzEncodeCtx ctx = context(msg_id);

	LWLockAcquire(kz_shared->reg_lock, LW_SHARED);
	counts = kz_reg_counts();
	LWLockRelease(kz_shared->reg_lock);
	hb.expires_ms = (int64) kz_heartbeat_interval * 12 / 5;
	hb.version = "kz_globals 1.0 (PostgreSQL " PG_MAJORVERSION ")";
	hb.local = counts.local;
	hb.remote = counts.remote;
	hb.pending = counts.pending;
	hb.sync_request = sync_request;

	kz_proto_nodes_msg_id(msg_id, kz_bus.session, ++kz_bus.seq);
	initStringInfo(&buf);
	kz_enc_heartbeat(&buf, &ctx, &hb);
	if (queue)
		return publish(KZ_EXCHANGE_TARGETED, queue, &buf, false, NULL) != 0;
	return publish(KZ_EXCHANGE_NODES, "", &buf, false, NULL) != 0;
}

/*
 * Registry events, in order: claims (with their ids), advertisements and
 * unregisters.  The claims' answers come back as one claim_batch_resp.
 */
bool
kz_out_registry_batch(const KzOutEntry *entries, int n)
{
	StringInfoData buf;
	char		msg_id[KZ_MSG_ID_LEN + 1];
	KzEncodeCtx ctx = context(msg_id);
	bool		ok;

	kz_bus_next_msg_id(msg_id);
	initStringInfo(&buf);
	kz_enc_registry_batch(&buf, &ctx, entries, n);
	/* too large for every node to take (metadata): two batches, in order */
	if (n > 1 && (size_t) buf.len > KZ_BATCH_BODY_MAX(kz_max_message_size))
	{
		pfree(buf.data);
		return kz_out_registry_batch(entries, n / 2) &&
			kz_out_registry_batch(entries + n / 2, n - n / 2);
	}
	ok = publish_as_node("registry_batch", &buf) != 0;
	pfree(buf.data);
	return ok;
}

/* Answers to a registry_batch's claims, to the sender's queue. */
bool
kz_out_claim_batch_resp(const KzBusMsg *req, const KzOutEntry *entries, int n)
{
	StringInfoData buf;
	char		fresh[KZ_MSG_ID_LEN + 1];
	KzEncodeCtx ctx;

	if (req->server_id == NULL || req->server_id[0] == '\0')
		return true;
	ctx = context(answer_msg_id(req->msg_id, fresh));
	initStringInfo(&buf);
	kz_enc_claim_batch_resp(&buf, &ctx, entries, n);
	return publish(KZ_EXCHANGE_TARGETED, req->server_id, &buf, false, NULL) != 0;
}

/*
 * Sends for owners on one node, as one mandatory message to its queue: it
 * is routed (or returned) as a whole.  The jobs have one sender role and
 * database (kz_job_same_sender).  Returns the delivery tag or 0.
 */
uint64
kz_out_send_batch(const char *queue, const KzJob *const *jobs, int n, char *msg_id)
{
	StringInfoData buf;
	KzSendEntry *entries = palloc(Max(n, 1) * sizeof(KzSendEntry));
	KzEncodeCtx ctx = context(msg_id);
	int			i;

	if (n > 0)
		set_sender(&ctx, jobs[0], true);
	for (i = 0; i < n; i++)
	{
		Assert(kz_job_same_sender(jobs[0], jobs[i]));
		entries[i].name = KZ_JOB_NAME(jobs[i]);
		entries[i].name_len = jobs[i]->name_len;
		entries[i].sender_pid = jobs[i]->pid;
		entries[i].body = KZ_JOB_BODY(jobs[i]);
		entries[i].body_len = jobs[i]->body_len;
	}
	kz_bus_next_msg_id(msg_id);
	initStringInfo(&buf);
	kz_enc_send_batch(&buf, &ctx, entries, n);
	pfree(entries);
	return publish(KZ_EXCHANGE_TARGETED, queue, &buf, true, msg_id);
}

/*
 * A sync, copied out of the name table a page at a time.
 *
 * reg_lock is held (shared) for one page: at most KZ_SYNC_CHUNK + 1 live
 * local names and at most KZ_SYNC_PAGE_ROWS rows looked at, whichever
 * comes first; it is released before the part is encoded and published.
 * So a claim, an unregister, a backend's exit or a remote registration
 * waits for one page at most, not a copy of every local name, and the
 * worker holds one page of names, not all of them.  The page holds one
 * name more than a part takes: the part before knows that it is the last
 * only when the scan has reached the table's end with nothing left over,
 * so no empty part trails (a node with no name sends one empty part,
 * marked last).
 *
 * The parts no longer show the table at one instant: each name is as it
 * was when its page was copied.  The receiver still ends with exactly our
 * names (membership.c: every part refreshes the sync generation of the
 * names it carries; the last drops our names that the round did not
 * mention), because of who can change local rows while the worker is in
 * here:
 *
 *	- A row becomes local only in the worker: a claim's verdict
 *	  (inflight.c, decide_claim), which also queues its advertisement.  The
 *	  worker is busy sending this sync, so no row becomes local during it;
 *	  a verdict given before it and not yet advertised is in the table, so
 *	  in the sync, and its advertisement follows.  (A backend's claim in
 *	  single-server mode makes a local row itself, but that mode has no
 *	  bus and no sync; a backend that has not yet read a reload giving the
 *	  server a broker could still do so.)  Were a row to become local
 *	  during the sync all the same, a page ahead of it would see it (each
 *	  page counts the local rows anew: kz_reg_scan_page), and a page behind
 *	  would miss it only as one snapshot taken before it would have.
 *	- Backends only take local rows away: unregister_name, release_lease,
 *	  their exit (backend_exit.c), a dead claim's row cleared on the next
 *	  claim of the name, the worker's sweep of dead owners and expired
 *	  leases (lease_rows.c, worker only).  Each queues the unregister as a
 *	  job (kz_tell_unregister), which the worker publishes after this sync,
 *	  on the same channel.  A name dropped from a page already sent is
 *	  unregistered after it at the receiver; one dropped from a page not
 *	  yet copied is not in the sync, and the receiver drops it at the last
 *	  part if it held it; its unregister then finds nothing.  A lease or a
 *	  backend that dies between pages has the row skipped if its page comes
 *	  after (kz_row_alive), or unregistered by the sweep if before, as a
 *	  death right after one snapshot would.  A lease once expired cannot be
 *	  renewed (leases.c), nor a dead backend's row revived.
 *	- Metadata that a backend changes on its local row (kz_set_meta) is
 *	  queued as an advertisement, published after the sync, so the
 *	  receiver ends with the new metadata whichever the page carried.
 *	- Rows never move, and a row freed and taken again is a pending claim
 *	  until the worker decides it, so a page never carries a name twice
 *	  nor a name the table never held as local.
 *
 * Any change during the sync is thus either seen by its page or published
 * after the sync, and the receiver applies the sync's parts and what
 * follows in the order they were published.
 */

/* Rows looked at, at most, per hold of reg_lock while a sync is copied. */
#define KZ_SYNC_PAGE_ROWS		65536

typedef struct SyncPager
{
	KzRegScan	scan;
	bool		started;
	bool		at_end;			/* the scan has looked at every row */
	int			count;			/* names copied, not yet published */
	KzNameEntry names[KZ_SYNC_CHUNK + 1];
} SyncPager;

/* Copies live local names into the pager, one page under reg_lock. */
static void
copy_page(SyncPager *p)
{
	KzRow	   *row;

	LWLockAcquire(kz_shared->reg_lock, LW_SHARED);
	if (!p->started)
		kz_reg_scan_begin(&p->scan, KZ_ROWS_OF(KZ_ROW_LOCAL));
	p->started = true;
	kz_reg_scan_page(&p->scan, KZ_SYNC_PAGE_ROWS);
	while (p->count < (int) lengthof(p->names) &&
		   (row = kz_reg_scan_next(&p->scan)) != NULL)
	{
		KzNameEntry *e = &p->names[p->count];

		if (!kz_row_alive(row))
			continue;
		memcpy(&e->name, &row->name, offsetof(KzName, data) + row->name.len);
		e->ts = row->timestamp;
		e->pid = row->pid;
		e->meta = kz_meta_copy(row->meta, row->meta_len);
		p->count++;
	}
	p->at_end = kz_reg_scan_done(&p->scan);
	LWLockRelease(kz_shared->reg_lock);
}

/* Forgets the first n names of the pager, published. */
static void
shift_out(SyncPager *p, int n)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		if (p->names[i].meta != NULL)
			pfree((char *) p->names[i].meta);
	}
	p->count -= n;
	memmove(p->names, p->names + n, p->count * sizeof(KzNameEntry));
}

/*
 * Publishes part 'part' of a sync: the first names of the pager, as many as
 * fit (at most KZ_SYNC_CHUNK, fewer if their metadata makes the body larger
 * than every node takes, at least one); the last part if the scan is at
 * the table's end and no name is left over.  Returns how many, or -1 if
 * publishing failed.
 */
static int
publish_sync_part(const char *queue, const SyncPager *p, int part)
{
	StringInfoData buf;
	char		msg_id[KZ_MSG_ID_LEN + 1];
	KzEncodeCtx ctx = context(msg_id);
	int			n = Min(KZ_SYNC_CHUNK, p->count);
	bool		ok;

	kz_bus_next_msg_id(msg_id);
	initStringInfo(&buf);
	for (;;)
	{
		kz_enc_sync(&buf, &ctx, kz_bus.sync_id, part, p->at_end && n == p->count,
					p->names, n);
		if (n <= 1 || (size_t) buf.len <= KZ_BATCH_BODY_MAX(kz_max_message_size))
			break;
		n /= 2;
		resetStringInfo(&buf);
	}
	if (queue)
		ok = publish(KZ_EXCHANGE_TARGETED, queue, &buf, false, NULL) != 0;
	else
		ok = publish_as_node("sync", &buf) != 0;
	pfree(buf.data);
	return ok ? n : -1;
}

/*
 * Sends every local registration, as the full state of this node: to one
 * peer's queue (a node that joined) or to everyone (after we reconnected).
 * The receiver replaces what it knew of our names with this.  Copied and
 * published a page at a time (see above).
 */
bool
kz_out_sync(const char *queue)
{
	SyncPager  *p = palloc0(sizeof(SyncPager));
	int			part = 0;
	bool		ok = true;

	kz_bus.sync_id++;
	for (;;)
	{
		int			n;

		/* a part is the last only if no name is left over */
		while (p->count <= KZ_SYNC_CHUNK && !p->at_end)
			copy_page(p);
		n = publish_sync_part(queue, p, part++);
		if (n < 0)
		{
			ok = false;
			break;
		}
		shift_out(p, n);
		if (p->count == 0 && p->at_end)
			break;
	}
	shift_out(p, p->count);
	pfree(p);
	return ok;
}


/* ---------------------------------------------------------------------
 * Process groups: on kz_globals' own exchange (KZ_EXCHANGE_GROUPS), and
 * only on a connection that has it (nothing is sent otherwise)
 * ---------------------------------------------------------------------
 */

/* Joins and leaves of our members, to every kz_globals node. */
bool
kz_out_group_members(const KzOutEntry *entries, int n)
{
	StringInfoData buf;
	char		msg_id[KZ_MSG_ID_LEN + 1];
	KzEncodeCtx ctx = context(msg_id);

	if (!kz_amqp_groups_usable(NULL))
		return false;
	kz_bus_next_msg_id(msg_id);
	initStringInfo(&buf);
	kz_enc_group_members(&buf, &ctx, entries, n);
	return publish(KZ_EXCHANGE_GROUPS, KZ_GROUPS_MEMBERS_KEY, &buf, false, NULL) != 0;
}

/*
 * All our members as a sync (parts of KZ_SYNC_CHUNK): to one kz_globals
 * node's queue, or (queue NULL) to every one.
 */
bool
kz_out_group_sync(const char *queue, const KzOutEntry *entries, int count)
{
	static int64 group_sync_id = 0;
	int			part = 0;
	int			first = 0;

	if (!kz_amqp_groups_usable(NULL))
		return false;
	group_sync_id++;
	do
	{
		int			n = Min(KZ_SYNC_CHUNK, count - first);
		StringInfoData buf;
		char		msg_id[KZ_MSG_ID_LEN + 1];
		KzEncodeCtx ctx = context(msg_id);
		bool		ok;

		kz_bus_next_msg_id(msg_id);
		initStringInfo(&buf);
		kz_enc_group_sync(&buf, &ctx, group_sync_id, part, first + n >= count,
						  entries + first, n);
		if (queue)
			ok = publish(KZ_EXCHANGE_TARGETED, queue, &buf, false, NULL) != 0;
		else
			ok = publish(KZ_EXCHANGE_GROUPS, KZ_GROUPS_MEMBERS_KEY, &buf, false, NULL) != 0;
		pfree(buf.data);
		if (!ok)
			return false;
		first += n;
		part++;
	} while (first < count);
	return true;
}

/*
 * A message for a group's members on other nodes: once, under the group's
 * routing key, mandatory and confirmed (a return: no node has a member).
 * Returns the delivery tag (0: not sent); msg_id gets its Msg-ID.
 */
uint64
kz_out_group_publish(const KzJob *job, char *msg_id)
{
	StringInfoData buf;
	KzEncodeCtx ctx = context(msg_id);
	char		key[KZ_GROUP_KEY_SIZE];
	const char *data;
	size_t		dlen;

	if (!kz_amqp_groups_usable(NULL) ||
		!etf_decode_binary(KZ_JOB_NAME(job), job->name_len, &data, &dlen) ||
		dlen == 0 || dlen > KZ_GROUP_MAX_BYTES)
		return 0;
	kz_proto_group_key(key, data, dlen);
	set_sender(&ctx, job, true);
	kz_bus_next_msg_id(msg_id);
	initStringInfo(&buf);
	kz_enc_group_publish(&buf, &ctx, KZ_JOB_NAME(job), job->name_len, KZ_JOB_BODY(job),
						 job->body_len, job->pid);
	return publish(KZ_EXCHANGE_GROUPS, key, &buf, true, msg_id);
}
