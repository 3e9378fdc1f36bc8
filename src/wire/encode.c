/*-------------------------------------------------------------------------
 *
 * encode.c
 *	  The bodies of the messages kz_globals sends (see encode.h).
 *
 * First the pieces (envelope, fields, Names entries), then one encoder per
 * kind of message: Kazoo's events, then kz_globals' own (heartbeat, the
 * batches, sync).  Pure code: no shared memory, no I/O, no ereport; it runs
 * in the worker and, with -DFRONTEND, in the unit tests.
 *
 * IDENTIFICATION
 *	  src/wire/encode.c
 *
 *-------------------------------------------------------------------------
 */
#ifndef FRONTEND
#include "postgres.h"
#else
#include "postgres_fe.h"
#endif

#include <inttypes.h>
#include <stdio.h>
#include <string.h>


#include "compat.h"
#include "encode.h"
#include "etf.h"
#include "json.h"


/* ---------------------------------------------------------------------
 * The pieces
 * ---------------------------------------------------------------------
 */

/* Appends ,"key": (or "key": right after the opening brace). */
static void
append_key(StringInfo out, const char *key)
{
	if (out->len > 0 && out->data[out->len - 1] != '{')
		appendStringInfoChar(out, ',');
	kz_json_append_string(out, key);
	appendStringInfoChar(out, ':');
}

static const char b64_alphabet[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/*
 * Appends the base64 of data[0..len), as Erlang's base64:encode (and
 * pg_b64_encode) write it: standard alphabet, padded.  Three bytes at a
 * time, straight into out's buffer, enlarged once.
 */
static void
append_base64(StringInfo out, const uint8 *data, size_t len)
{
	size_t		enc_len = (len + 2) / 3 * 4;
	size_t		i;
	char	   *p;

	enlargeStringInfo(out, (int) enc_len);
	p = out->data + out->len;
	for (i = 0; i + 3 <= len; i += 3)
	{
		uint32		w = ((uint32) data[i] << 16) | ((uint32) data[i + 1] << 8) |
			(uint32) data[i + 2];

		*p++ = b64_alphabet[w >> 18];
		*p++ = b64_alphabet[(w >> 12) & 63];
		*p++ = b64_alphabet[(w >> 6) & 63];
		*p++ = b64_alphabet[w & 63];
	}
	if (i < len)
	{
		uint32		w = (uint32) data[i] << 16;

		if (i + 1 < len)
			w |= (uint32) data[i + 1] << 8;
		*p++ = b64_alphabet[w >> 18];
		*p++ = b64_alphabet[(w >> 12) & 63];
		*p++ = i + 1 < len ? b64_alphabet[(w >> 6) & 63] : '=';
		*p++ = '=';
	}
	out->len += (int) enc_len;
	out->data[out->len] = '\0';
}

/*
 * Appends the base64 of the term buffer of the binary text[0..len) (a
 * message's text), as etf_encode_binary writes it, without building that
 * buffer: its prefix is a whole number of base64 groups, so the base64 of
 * the prefix followed by that of the text is the base64 of the buffer.
 */
static void
append_binary_base64(StringInfo out, const char *text, size_t len)
{
	uint8		prefix[ETF_BINARY_PREFIX_LEN];

	StaticAssertStmt(ETF_BINARY_PREFIX_LEN % 3 == 0,
					 "the binary's prefix ends on a base64 group");
	if (text == NULL)
		len = 0;
	append_base64(out, prefix, etf_binary_prefix(prefix, len));
	append_base64(out, (const uint8 *) text, len);
}

/*
 * Opens a message with Kazoo's envelope.  Server-ID is left out when NULL,
 * as is any other NULL member (a caller's mistake: the result would lack a
 * required field).
 */
void
kz_proto_begin(StringInfo out, const KzEnvelope *env)
{
	appendStringInfoChar(out, '{');
	kz_proto_add_str(out, "App-Name", env->app_name);
	kz_proto_add_str(out, "App-Version", KZ_APP_VERSION);
	kz_proto_add_str(out, "Event-Category", env->category);
	kz_proto_add_str(out, "Event-Name", env->event);
	kz_proto_add_str(out, "Msg-ID", env->msg_id);
	kz_proto_add_str(out, "Node", env->node);
	kz_proto_add_str(out, "Server-ID", env->server_id);
}

/* Adds a string field; a NULL value leaves the field out. */
void
kz_proto_add_str(StringInfo out, const char *key, const char *value)
{
	if (value == NULL)
		return;
	append_key(out, key);
	kz_json_append_string(out, value);
}

void
kz_proto_add_int(StringInfo out, const char *key, int64 value)
{
	append_key(out, key);
	appendStringInfo(out, INT64_FORMAT, value);
}

void
kz_proto_add_bool(StringInfo out, const char *key, bool value)
{
	append_key(out, key);
	appendStringInfoString(out, value ? "true" : "false");
}

/* Adds a term field: base64 of the term buffer. */
void
kz_proto_add_term(StringInfo out, const char *key, const uint8 *term,
				  size_t len)
{
	append_key(out, key);
	appendStringInfoChar(out, '"');
	append_base64(out, term, len);
	appendStringInfoChar(out, '"');
}

void
kz_proto_end(StringInfo out)
{
	appendStringInfoChar(out, '}');
}

/* Adds a JSON object of string keys and integer values (Globals). */
static void
add_counts(StringInfo out, const char *key, const char *const *names,
		   const int64 *values, int n)
{
	int			i;

	append_key(out, key);
	appendStringInfoChar(out, '{');
	for (i = 0; i < n; i++)
		kz_proto_add_int(out, names[i], values[i]);
	appendStringInfoChar(out, '}');
}

/* Adds a term field holding the binary text[0..len) (a message's text). */
static void
add_binary(StringInfo out, const char *key, const char *text, size_t len)
{
	append_key(out, key);
	appendStringInfoChar(out, '"');
	append_binary_base64(out, text, len);
	appendStringInfoChar(out, '"');
}

/* Names: open the array, add entries, close it. */
static void
begin_names(StringInfo out)
{
	append_key(out, "Names");
	appendStringInfoChar(out, '[');
}

/* Opens an entry of Names with its name's base64. */
static void
begin_entry(StringInfo out, const uint8 *term, size_t len)
{
	if (out->data[out->len - 1] != '[')
		appendStringInfoChar(out, ',');
	appendStringInfoString(out, "[\"");
	append_base64(out, term, len);
	appendStringInfoChar(out, '"');
}

static void
end_names(StringInfo out)
{
	appendStringInfoChar(out, ']');
}

/*
 * Metas, beside Names: each entry's registration metadata (a JSON string),
 * null for none; left out when no entry has any, as 1.0 nodes send it.
 */
static void
add_metas(StringInfo out, const char *const *metas, int n)
{
	int			i;
	bool		any = false;

	for (i = 0; i < n && !any; i++)
		any = metas[i] != NULL;
	if (!any)
		return;
	append_key(out, "Metas");
	appendStringInfoChar(out, '[');
	for (i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoChar(out, ',');
		if (metas[i] != NULL)
			kz_json_append_string(out, metas[i]);
		else
			appendStringInfoString(out, "null");
	}
	appendStringInfoChar(out, ']');
}

/* A sync's entry: [name, timestamp, pid]. */
static void
add_name_entry(StringInfo out, const uint8 *term, size_t len, int64 timestamp,
			   int32 pid)
{
	begin_entry(out, term, len);
	appendStringInfo(out, "," INT64_FORMAT ",%d]", timestamp, pid);
}

/*
 * A batch's registry entry: [name, timestamp, pid, state, text], and the
 * claim as a sixth element when it is not NULL.
 */
static void
add_entry(StringInfo out, const uint8 *term, size_t len, int64 timestamp,
		  int32 pid, const char *state, const char *text, const char *claim)
{
	begin_entry(out, term, len);
	appendStringInfo(out, "," INT64_FORMAT ",%d,", timestamp, pid);
	kz_json_append_string(out, state);
	appendStringInfoChar(out, ',');
	kz_json_append_string(out, text);
	if (claim != NULL)
	{
		appendStringInfoChar(out, ',');
		kz_json_append_string(out, claim);
	}
	appendStringInfoChar(out, ']');
}

/* A send_batch entry: [name, 0, sender pid, "", message]. */
static void
add_message_entry(StringInfo out, const KzSendEntry *e)
{
	begin_entry(out, e->name, e->name_len);
	appendStringInfo(out, ",0,%d,\"\",\"", e->sender_pid);
	append_binary_base64(out, e->body, e->body_len);
	appendStringInfoString(out, "\"]");
}

/* Opens a body: the envelope, with Server-ID only when server is given. */
static void
open_body(StringInfo out, const KzEncodeCtx *ctx, const char *app,
		  const char *category, const char *event, const char *server)
{
	KzEnvelope	env;

	env.app_name = app;
	env.category = category;
	env.event = event;
	env.msg_id = ctx->msg_id;
	env.node = ctx->node;
	env.server_id = server;
	kz_proto_begin(out, &env);
}

static void
open_globals(StringInfo out, const KzEncodeCtx *ctx, const char *event,
			 const char *server)
{
	open_body(out, ctx, KZ_APP_NAME_GLOBALS, "globals", event, server);
}

/*
 * Kazoo's request worker (kz_amqp_worker) tags every request whose replies
 * it collects with System-Log-ID, the Msg-ID.
 */
static void
add_log_id(StringInfo out, const KzEncodeCtx *ctx)
{
	kz_proto_add_str(out, "System-Log-ID", ctx->msg_id);
}


/* ---------------------------------------------------------------------
 * Kazoo's events
 * ---------------------------------------------------------------------
 */

/* A claim: Kazoo sends no Timestamp; ours carries the claim's (rule 1). */
void
kz_enc_claim(StringInfo out, const KzEncodeCtx *ctx, const uint8 *name,
			 size_t len, int64 ts)
{
	open_globals(out, ctx, "register", ctx->queue);
	kz_proto_add_term(out, "Name", name, len);
	kz_proto_add_str(out, "State", "pending");
	add_log_id(out, ctx);
	kz_proto_add_int(out, "Timestamp", ts);
	kz_proto_end(out);
}

/* An advertisement; Zone, Pid and Meta (when there is any) are ours. */
void
kz_enc_advert(StringInfo out, const KzEncodeCtx *ctx, const uint8 *name,
			  size_t len, int64 ts, int32 pid, const char *meta)
{
	open_globals(out, ctx, "register", ctx->queue);
	kz_proto_add_term(out, "Name", name, len);
	kz_proto_add_str(out, "State", "registered");
	kz_proto_add_int(out, "Timestamp", ts);
	kz_proto_add_str(out, "Zone", ctx->zone);
	if (pid > 0)
		kz_proto_add_int(out, "Pid", pid);
	if (meta != NULL)
		kz_proto_add_str(out, "Meta", meta);
	kz_proto_end(out);
}

/*
 * The answer to a claim: the answering node's view of the name.  As Kazoo:
 * State=none alone; any other State with the row's timestamp and, as
 * Server-ID, the owner's queue (server, or ours when empty).
 */
void
kz_enc_register_resp(StringInfo out, const KzEncodeCtx *ctx, const char *server,
					 const uint8 *name, size_t len, KzWireState state,
					 int64 ts, int32 pid)
{
	const char *owner_queue = NULL;

	if (state != KZ_WS_NONE)
		owner_queue = (server && server[0]) ? server : ctx->queue;
	open_globals(out, ctx, "register_resp", owner_queue);
	kz_proto_add_term(out, "Name", name, len);
	kz_proto_add_str(out, "State", kz_proto_state_name(state));
	if (state != KZ_WS_NONE)
		kz_proto_add_int(out, "Timestamp", ts);
	if (pid > 0)
		kz_proto_add_int(out, "Pid", pid);
	kz_proto_end(out);
}

void
kz_enc_query(StringInfo out, const KzEncodeCtx *ctx, const uint8 *name,
			 size_t len)
{
	open_globals(out, ctx, "query", ctx->queue);
	kz_proto_add_term(out, "Name", name, len);
	add_log_id(out, ctx);
	kz_proto_end(out);
}

/* The answer to a query: State=none alone, or local with our queue. */
void
kz_enc_query_resp(StringInfo out, const KzEncodeCtx *ctx, const uint8 *name,
				  size_t len, bool owned, int64 ts, int32 pid)
{
	open_globals(out, ctx, "query_resp", owned ? ctx->queue : NULL);
	kz_proto_add_term(out, "Name", name, len);
	kz_proto_add_str(out, "State", owned ? "local" : "none");
	if (owned)
	{
		kz_proto_add_int(out, "Timestamp", ts);
		if (pid > 0)
			kz_proto_add_int(out, "Pid", pid);
	}
	kz_proto_end(out);
}

/*
 * A name is gone.  The reason is the atom normal, written as Kazoo's OTP 25
 * nodes write it; Timestamp (which registration ended) is ours.
 */
void
kz_enc_unregister(StringInfo out, const KzEncodeCtx *ctx, const uint8 *name,
				  size_t len, int64 ts)
{
	StringInfoData reason;

	initStringInfo(&reason);
	etf_put_version(&reason);
	etf_put_atom_latin1(&reason, "normal", 6);
	open_globals(out, ctx, "unregister", NULL);
	kz_proto_add_term(out, "Name", name, len);
	kz_proto_add_term(out, "Reason", (const uint8 *) reason.data, reason.len);
	kz_proto_add_int(out, "Timestamp", ts);
	kz_proto_end(out);
	pfree(reason.data);
}

/*
 * The sending session's role and database (ours), when the context has
 * them: only for kz_globals owners.
 */
static void
add_sender(StringInfo out, const KzEncodeCtx *ctx)
{
	if (ctx->sender_role != NULL)
		kz_proto_add_str(out, "Sender-Role", ctx->sender_role);
	if (ctx->sender_db != NULL)
		kz_proto_add_str(out, "Sender-Database", ctx->sender_db);
}

/* A message for an owner; Sender-Pid (and the sender's role) are ours. */
void
kz_enc_send(StringInfo out, const KzEncodeCtx *ctx, const uint8 *name,
			size_t len, const char *body, size_t body_len, int32 sender_pid)
{
	open_globals(out, ctx, "send", NULL);
	kz_proto_add_term(out, "Name", name, len);
	add_binary(out, "Message", body, body_len);
	kz_proto_add_int(out, "Sender-Pid", sender_pid);
	add_sender(out, ctx);
	kz_proto_end(out);
}

/*
 * A call, answered to our queue; Sender-Pid and Timeout are ours.  The
 * Msg-ID carries the call's id, so that the reply finds the caller.
 */
void
kz_enc_call(StringInfo out, const KzEncodeCtx *ctx, const uint8 *name,
			size_t len, const char *body, size_t body_len, int32 sender_pid,
			int32 timeout_ms)
{
	open_globals(out, ctx, "call", ctx->queue);
	kz_proto_add_term(out, "Name", name, len);
	add_binary(out, "Message", body, body_len);
	add_log_id(out, ctx);
	kz_proto_add_int(out, "Sender-Pid", sender_pid);
	kz_proto_add_int(out, "Timeout", timeout_ms);
	add_sender(out, ctx);
	kz_proto_end(out);
}

/*
 * The reply to a call, under the call's Msg-ID.  Kazoo also writes the
 * (optional) Name, which our reply tags do not keep.  Owner-Exited is ours:
 * the owner ended without answering, and Reply is then empty.
 */
void
kz_enc_reply(StringInfo out, const KzEncodeCtx *ctx, const char *body,
			 size_t body_len, bool owner_exited)
{
	open_globals(out, ctx, "reply", NULL);
	add_binary(out, "Reply", body, body_len);
	if (owner_exited)
		kz_proto_add_bool(out, "Owner-Exited", true);
	kz_proto_end(out);
}

/*
 * A heartbeat, kz_nodes style.  Globals is never empty, so that Kazoo
 * nodes count us as a registry peer.  Server-ID, Incarnation, Session,
 * PG-Globals-Version and Sync-Request are ours (Kazoo's own heartbeats
 * carry instead its VM's figures, which we have no use for).
 */
void
kz_enc_heartbeat(StringInfo out, const KzEncodeCtx *ctx, const KzHeartbeat *hb)
{
	static const char *const state_names[] = {"local", "remote", "pending"};
	int64		values[3];
	char		session[17];

	values[0] = hb->local;
	values[1] = hb->remote;
	values[2] = hb->pending;
	snprintf(session, sizeof(session), "%016" PRIx64, ctx->session);
	open_body(out, ctx, KZ_APP_NAME_NODES, "nodes", "advertise", ctx->queue);
	kz_proto_add_int(out, "Expires", hb->expires_ms);
	kz_proto_add_str(out, "Zone", ctx->zone);
	add_counts(out, "Globals", state_names, values, 3);
	kz_proto_add_str(out, "Version", hb->version);
	kz_proto_add_int(out, "Incarnation", ctx->incarnation);
	kz_proto_add_str(out, "Session", session);
	kz_proto_add_int(out, "PG-Globals-Version", KZ_PG_PROTOCOL_VERSION);
	if (hb->sync_request)
		kz_proto_add_bool(out, "Sync-Request", true);
	kz_proto_end(out);
}


/* ---------------------------------------------------------------------
 * kz_globals' own: batches and sync (entries: protocol.h)
 * ---------------------------------------------------------------------
 */

/*
 * Claims, advertisements and unregisters, in order, each [name, ts, pid,
 * state, claim]: a claim's is its Msg-ID (our session and its id), as its
 * single register message would carry it; "" for the other events.  The
 * advertisements' metadata goes in Metas.
 */
void
kz_enc_registry_batch(StringInfo out, const KzEncodeCtx *ctx,
					  const KzOutEntry *entries, int n)
{
	int			i;
	const char **metas;

	open_globals(out, ctx, "registry_batch", ctx->queue);
	begin_names(out);
	for (i = 0; i < n; i++)
	{
		const KzOutEntry *e = &entries[i];
		char		claim[KZ_MSG_ID_LEN + 1] = "";

		if (e->state == KZ_WS_PENDING && e->claim_id != 0)
			kz_proto_msg_id(claim, ctx->session, e->claim_id);
		add_entry(out, e->name.data, e->name.len, e->ts, e->pid,
				  kz_proto_state_name(e->state), claim, NULL);
	}
	end_names(out);
	metas = palloc(Max(n, 1) * sizeof(char *));
	for (i = 0; i < n; i++)
		metas[i] = entries[i].meta;
	add_metas(out, metas, n);
	pfree(metas);
	kz_proto_end(out);
}

/*
 * Answers to a registry_batch's claims, under its Msg-ID: [name, ts, pid,
 * state, server, claim], or without claim for a claim that came without
 * one (an older node's, whose decoder takes five elements at most).
 */
void
kz_enc_claim_batch_resp(StringInfo out, const KzEncodeCtx *ctx,
						const KzOutEntry *entries, int n)
{
	int			i;

	open_globals(out, ctx, "claim_batch_resp", ctx->queue);
	begin_names(out);
	for (i = 0; i < n; i++)
	{
		const KzOutEntry *e = &entries[i];

		add_entry(out, e->name.data, e->name.len, e->ts, e->pid,
				  kz_proto_state_name(e->state), e->server,
				  e->claim[0] != '\0' ? e->claim : NULL);
	}
	end_names(out);
	kz_proto_end(out);
}

/*
 * Sends for owners on one node: [name, 0, sender pid, "", message].  The
 * sender's role and database, when given, are those of every entry.
 */
void
kz_enc_send_batch(StringInfo out, const KzEncodeCtx *ctx,
				  const KzSendEntry *entries, int n)
{
	int			i;

	open_globals(out, ctx, "send_batch", ctx->queue);
	add_sender(out, ctx);
	begin_names(out);
	for (i = 0; i < n; i++)
		add_message_entry(out, &entries[i]);
	end_names(out);
	kz_proto_end(out);
}

/*
 * Part part of a sync (Sync-ID sync_id; Last on the last part): this node's
 * local registrations, each [name, ts, pid], their metadata in Metas.
 */
void
kz_enc_sync(StringInfo out, const KzEncodeCtx *ctx, int64 sync_id, int part,
			bool last, const KzNameEntry *names, int n)
{
	int			i;
	const char **metas;

	open_globals(out, ctx, "sync", ctx->queue);
	kz_proto_add_int(out, "Sync-ID", sync_id);
	kz_proto_add_int(out, "Part", part);
	kz_proto_add_bool(out, "Last", last);
	begin_names(out);
	for (i = 0; i < n; i++)
		add_name_entry(out, names[i].name.data, names[i].name.len, names[i].ts,
					   names[i].pid);
	end_names(out);
	metas = palloc(Max(n, 1) * sizeof(char *));
	for (i = 0; i < n; i++)
		metas[i] = names[i].meta;
	add_metas(out, metas, n);
	pfree(metas);
	kz_proto_end(out);
}


/* ---------------------------------------------------------------------
 * kz_globals' own: process groups (entries: protocol.h)
 * ---------------------------------------------------------------------
 */

static void
add_group_entries(StringInfo out, const KzOutEntry *entries, int n)
{
	int			i;

	begin_names(out);
	for (i = 0; i < n; i++)
	{
		const KzOutEntry *e = &entries[i];

		add_entry(out, e->name.data, e->name.len, e->ts, e->pid,
				  kz_proto_state_name(e->state), "", NULL);
	}
	end_names(out);
}

void
kz_enc_group_members(StringInfo out, const KzEncodeCtx *ctx,
					 const KzOutEntry *entries, int n)
{
	open_globals(out, ctx, "group_members", ctx->queue);
	add_group_entries(out, entries, n);
	kz_proto_end(out);
}

void
kz_enc_group_sync(StringInfo out, const KzEncodeCtx *ctx, int64 sync_id, int part,
				  bool last, const KzOutEntry *entries, int n)
{
	open_globals(out, ctx, "group_sync", ctx->queue);
	kz_proto_add_int(out, "Sync-ID", sync_id);
	kz_proto_add_int(out, "Part", part);
	kz_proto_add_bool(out, "Last", last);
	add_group_entries(out, entries, n);
	kz_proto_end(out);
}

void
kz_enc_group_publish(StringInfo out, const KzEncodeCtx *ctx, const uint8 *group,
					 size_t len, const char *body, size_t body_len, int32 sender_pid)
{
	open_globals(out, ctx, "group_publish", NULL);
	kz_proto_add_term(out, "Name", group, len);
	add_binary(out, "Message", body, body_len);
	kz_proto_add_int(out, "Sender-Pid", sender_pid);
	add_sender(out, ctx);
	kz_proto_end(out);
}
