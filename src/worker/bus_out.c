/*-------------------------------------------------------------------------
 *
 * bus_out.c
 *	  Building and publishing every message kz_globals sends.
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
#include "etf.h"
#include "guc.h"
#include "mailbox.h"
#include "nodes.h"
#include "shmem.h"
#include "wire.h"


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
		kz_bus_mark_broken(err);
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

/* Opens a batch or sync body (kz_globals' own events) with our envelope. */
static void
begin(StringInfo buf, const char *app, const char *category, const char *event,
	  const char *msg_id)
{
	KzEnvelope env;

	env.app_name = app;
	env.category = category;
	env.event = event;
	env.msg_id = msg_id;
	env.node = kz_node_name;
	env.server_id = kz_bus.queue;
	initStringInfo(buf);
	kz_proto_begin(buf, &env);
}

/* Us, for the builders of wire.c. */
static KzSender
sender(void)
{
	KzSender	me;

	me.node = kz_node_name;
	me.queue = kz_bus.queue;
	me.zone = kz_zone;
	return me;
}

/*
 * The Msg-ID of the answer to req (register_resp, query_resp): the
 * request's, or a fresh one in fresh if it had none.
 */
static const char *
answer_msg_id(const KzBusMsg *req, char *fresh)
{
	if (req->msg_id != NULL)
		return req->msg_id;
	kz_bus_next_msg_id(fresh);
	return fresh;
}

/* A term buffer holding the binary text[0..len). */
static StringInfo
binary_term(const char *text, size_t len)
{
	StringInfo	term = makeStringInfo();

	etf_encode_binary(term, text, len);
	return term;
}

bool
kz_out_claim(const KzName *name, int64 ts, uint64 claim_id)
{
	StringInfoData buf;
	char		msg_id[KZ_MSG_ID_LEN + 1];
	KzSender	me = sender();

	kz_proto_msg_id(msg_id, kz_bus.session, claim_id);
	initStringInfo(&buf);
	kz_wire_claim(&buf, &me, msg_id, name->data, name->len, ts);
	return publish_globals("register", name->data, name->len, &buf) != 0;
}

bool
kz_out_advert(const KzName *name, int64 ts, int32 pid)
{
	StringInfoData buf;
	char		msg_id[KZ_MSG_ID_LEN + 1];
	KzSender	me = sender();

	kz_bus_next_msg_id(msg_id);
	initStringInfo(&buf);
	kz_wire_advert(&buf, &me, msg_id, name->data, name->len, ts, pid);
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
	KzSender	me = sender();

	if (req->server_id == NULL || req->server_id[0] == '\0')
		return true;			/* nowhere to answer */
	initStringInfo(&buf);
	kz_wire_register_resp(&buf, &me, answer_msg_id(req, fresh), server,
						  req->name, req->name_len, state, ts, pid);
	return publish(KZ_EXCHANGE_TARGETED, req->server_id, &buf, false, NULL) != 0;
}

bool
kz_out_query(const KzName *name, uint64 query_id)
{
	StringInfoData buf;
	char		msg_id[KZ_MSG_ID_LEN + 1];
	KzSender	me = sender();

	kz_proto_msg_id(msg_id, kz_bus.session, query_id);
	initStringInfo(&buf);
	kz_wire_query(&buf, &me, msg_id, name->data, name->len);
	return publish_globals("query", name->data, name->len, &buf) != 0;
}

bool
kz_out_query_resp(const KzBusMsg *req, bool owned, int64 ts, int32 pid)
{
	StringInfoData buf;
	char		fresh[KZ_MSG_ID_LEN + 1];
	KzSender	me = sender();

	if (req->server_id == NULL || req->server_id[0] == '\0')
		return true;			/* nowhere to answer */
	initStringInfo(&buf);
	kz_wire_query_resp(&buf, &me, answer_msg_id(req, fresh), req->name,
					   req->name_len, owned, ts, pid);
	return publish(KZ_EXCHANGE_TARGETED, req->server_id, &buf, false, NULL) != 0;
}

/* Tells everyone a local name is gone; the reason is the atom normal. */
bool
kz_out_unregister(const uint8 *name, size_t len, int64 ts)
{
	StringInfoData buf;
	char		msg_id[KZ_MSG_ID_LEN + 1];
	KzSender	me = sender();

	kz_bus_next_msg_id(msg_id);
	initStringInfo(&buf);
	kz_wire_unregister(&buf, &me, msg_id, name, len, ts);
	return publish_globals("unregister", name, len, &buf) != 0;
}

/*
 * A send to the owner node's queue, mandatory, so that the broker returns
 * it if that queue is gone.  msg_id receives the AMQP message-id property
 * by which a return is recognised.  Returns the delivery tag or 0.
 */
uint64
kz_out_send(const char *queue, const uint8 *name, size_t name_len,
			const char *body, size_t len, int32 sender_pid, char *msg_id)
{
	StringInfoData buf;
	StringInfo	term = binary_term(body, len);
	KzSender	me = sender();

	kz_bus_next_msg_id(msg_id);
	initStringInfo(&buf);
	kz_wire_send(&buf, &me, msg_id, name, name_len, (const uint8 *) term->data,
				 term->len, sender_pid);
	return publish_to_owner(queue, "send", name, name_len, &buf, msg_id);
}

/*
 * A call to the owner node's queue.  Its Msg-ID carries call_id, so that
 * the owner's reply finds the caller; the property id is a fresh one.
 */
uint64
kz_out_call(const char *queue, const uint8 *name, size_t name_len,
			const char *body, size_t len, int32 sender_pid, int32 timeout_ms,
			uint64 call_id, char *msg_id)
{
	StringInfoData buf;
	StringInfo	term = binary_term(body, len);
	char		call_msg_id[KZ_MSG_ID_LEN + 1];
	KzSender	me = sender();

	StaticAssertStmt(KZ_CALL_ID_MASK == KZ_SEQ_MASK,
					 "a call id must fit a Msg-ID's sequence part");
	kz_proto_msg_id(call_msg_id, kz_bus.session, call_id);
	kz_bus_next_msg_id(msg_id);
	initStringInfo(&buf);
	kz_wire_call(&buf, &me, call_msg_id, name, name_len, (const uint8 *) term->data,
				 term->len, sender_pid, timeout_ms);
	return publish_to_owner(queue, "call", name, name_len, &buf, msg_id);
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
	StringInfo	term = binary_term(body, len);
	KzSender	me = sender();

	kz_bus_next_msg_id(msg_id);
	initStringInfo(&buf);
	kz_wire_reply(&buf, &me, req_msg_id, (const uint8 *) term->data, term->len,
				  owner_exited);
	return publish(KZ_EXCHANGE_TARGETED, queue, &buf, true, msg_id);
}

/*
 * A heartbeat, kz_nodes style: Expires is set so that Expires x 1.25, the
 * expiry every node applies, is three heartbeat periods.  Globals is never
 * empty, so that Kazoo nodes count us as a registry peer.  With
 * sync_request (only to one queue), the receiver answers with its sync.
 */
bool
kz_out_heartbeat(const char *queue, bool sync_request)
{
	StringInfoData buf;
	char		msg_id[KZ_NODES_MSG_ID_LEN + 1];
	KzRegistryCounts counts;
	KzHeartbeat hb;
	KzSender	me = sender();

	LWLockAcquire(kz_shared->reg_lock, LW_SHARED);
	counts = kz_reg_counts();
	LWLockRelease(kz_shared->reg_lock);
	hb.expires_ms = (int64) kz_heartbeat_interval * 12 / 5;
	hb.version = "kz_globals 1.0 (PostgreSQL " PG_MAJORVERSION ")";
	hb.local = counts.local;
	hb.remote = counts.remote;
	hb.pending = counts.pending;
	hb.incarnation = kz_shared->started_at;
	hb.session = kz_bus.session;
	hb.sync_request = sync_request;

	kz_proto_nodes_msg_id(msg_id, kz_bus.session, ++kz_bus.seq);
	initStringInfo(&buf);
	kz_wire_heartbeat(&buf, &me, msg_id, &hb);
	if (queue)
		return publish(KZ_EXCHANGE_TARGETED, queue, &buf, false, NULL) != 0;
	return publish(KZ_EXCHANGE_NODES, "", &buf, false, NULL) != 0;
}

/*
 * The routing key of a batch: like a name event's, with our node name in
 * place of a name (subscribers bind globals.*.*, so any one word will do).
 */
static uint64
publish_batch(const char *event, StringInfo body)
{
	StringInfo	self = binary_term(kz_node_name, strlen(kz_node_name));

	return publish_globals(event, (const uint8 *) self->data, self->len, body);
}

/* A batch message: the envelope, then Names with one entry each. */
static void
begin_batch(StringInfo buf, const char *event, const char *msg_id)
{
	char		fresh[KZ_MSG_ID_LEN + 1];

	if (msg_id == NULL)
	{
		kz_bus_next_msg_id(fresh);
		msg_id = fresh;
	}
	begin(buf, KZ_APP_NAME_GLOBALS, "globals", event, msg_id);
	kz_proto_begin_names(buf, "Names");
}

static void
end_batch(StringInfo buf)
{
	kz_proto_end_names(buf);
	kz_proto_end(buf);
}

/*
 * Registry events, in order, each [name, ts, pid, state, ""]: a claim
 * (state pending), an advertisement (registered) or an unregister (none).
 * The claims' answers come back as one claim_batch_resp.
 */
bool
kz_out_registry_batch(const KzOutEntry *entries, int n)
{
	StringInfoData buf;
	int			i;

	begin_batch(&buf, "registry_batch", NULL);
	for (i = 0; i < n; i++)
		kz_proto_add_entry(&buf, entries[i].name.data, entries[i].name.len,
						   entries[i].ts, entries[i].pid,
						   kz_proto_state_name(entries[i].state), NULL);
	end_batch(&buf);
	return publish_batch("registry_batch", &buf) != 0;
}

/* Answers to a registry_batch's claims: [name, ts, pid, state, server]. */
bool
kz_out_claim_batch_resp(const KzBusMsg *req, const KzOutEntry *entries, int n)
{
	StringInfoData buf;
	int			i;

	if (req->server_id == NULL || req->server_id[0] == '\0')
		return true;
	begin_batch(&buf, "claim_batch_resp", req->msg_id);
	for (i = 0; i < n; i++)
		kz_proto_add_entry(&buf, entries[i].name.data, entries[i].name.len,
						   entries[i].ts, entries[i].pid,
						   kz_proto_state_name(entries[i].state), entries[i].server);
	end_batch(&buf);
	return publish(KZ_EXCHANGE_TARGETED, req->server_id, &buf, false, NULL) != 0;
}

/*
 * Sends for owners on one node, as one mandatory message to its queue: it
 * is routed (or returned) as a whole.  Returns the delivery tag or 0.
 */
uint64
kz_out_send_batch(const char *queue, const KzJob *const *jobs, int n, char *msg_id)
{
	StringInfoData buf;
	int			i;

	kz_bus_next_msg_id(msg_id);
	begin_batch(&buf, "send_batch", msg_id);
	for (i = 0; i < n; i++)
	{
		StringInfo	term = binary_term(KZ_JOB_BODY(jobs[i]), jobs[i]->body_len);

		kz_proto_add_message_entry(&buf, KZ_JOB_NAME(jobs[i]), jobs[i]->name_len,
								   jobs[i]->pid, (const uint8 *) term->data, term->len);
	}
	end_batch(&buf);
	return publish(KZ_EXCHANGE_TARGETED, queue, &buf, true, msg_id);
}

/* One local registration, as a sync carries it. */
typedef struct SyncName
{
	KzName		name;
	int64		timestamp;
	int32		pid;
} SyncName;

/* Copies this node's local registrations; returns how many. */
static int
snapshot_local(SyncName **out)
{
	int			n;
	int			i;
	int			count = 0;
	KzRegistryCounts c;
	SyncName   *names;

	LWLockAcquire(kz_shared->reg_lock, LW_SHARED);
	c = kz_reg_counts();
	names = palloc(sizeof(SyncName) * Max(1, c.local));
	n = kz_reg_capacity();
	for (i = 0; i < n && count < c.local; i++)
	{
		KzRow	   *row = kz_reg_row(i);

		if (row->state == KZ_ROW_LOCAL && kz_row_alive(row))
		{
			memcpy(&names[count].name, &row->name, sizeof(KzName));
			names[count].timestamp = row->timestamp;
			names[count].pid = row->pid;
			count++;
		}
	}
	LWLockRelease(kz_shared->reg_lock);
	*out = names;
	return count;
}

/* Publishes names[first..first+n) as part 'part' of a sync. */
static bool
publish_sync_part(const char *queue, const SyncName *names, int first, int n,
				  int part, bool last)
{
	StringInfoData buf;
	char		msg_id[KZ_MSG_ID_LEN + 1];
	int			i;

	kz_bus_next_msg_id(msg_id);
	begin(&buf, KZ_APP_NAME_GLOBALS, "globals", "sync", msg_id);
	kz_proto_add_int(&buf, "Sync-ID", kz_bus.sync_id);
	kz_proto_add_int(&buf, "Part", part);
	kz_proto_add_bool(&buf, "Last", last);
	kz_proto_begin_names(&buf, "Names");
	for (i = first; i < first + n; i++)
		kz_proto_add_name_entry(&buf, names[i].name.data, names[i].name.len,
								names[i].timestamp, names[i].pid);
	kz_proto_end_names(&buf);
	kz_proto_end(&buf);
	if (queue)
		return publish(KZ_EXCHANGE_TARGETED, queue, &buf, false, NULL) != 0;
	{
		StringInfo	self = binary_term(kz_node_name, strlen(kz_node_name));

		return publish_globals("sync", (const uint8 *) self->data, self->len, &buf) != 0;
	}
}

/*
 * Sends every local registration, as the full state of this node: to one
 * peer's queue (a node that joined) or to everyone (after we reconnected).
 * The receiver replaces what it knew of our names with this.
 */
bool
kz_out_sync(const char *queue)
{
	SyncName   *names;
	int			count = snapshot_local(&names);
	int			part = 0;
	int			first = 0;

	kz_bus.sync_id++;
	do
	{
		int			n = Min(KZ_SYNC_CHUNK, count - first);

		if (!publish_sync_part(queue, names, first, n, part, first + n >= count))
			return false;
		first += n;
		part++;
	} while (first < count);
	return true;
}
