/*-------------------------------------------------------------------------
 *
 * encode.h
 *	  The bodies of the messages kz_globals sends, one encoder per kind.
 *
 * Each encoder writes a whole JSON body from its arguments and a context
 * (who sends, under which ids) that the worker fills in: no encoder reads a
 * setting, shared memory or the connection's state, so the unit tests run
 * the very encoders the worker publishes with, against the decoder (round
 * trips) and against what real Kazoo puts on the wire (the golden messages
 * of test/fixtures/kazoo).  Pure code: no shared memory, no I/O, no
 * ereport; it runs in the worker and, with -DFRONTEND, in the unit tests.
 *
 * The messages Kazoo also sends have exactly the fields real Kazoo puts in
 * the same message (as captured from Kazoo's own nodes), plus kz_globals'
 * own fields, which Kazoo ignores:
 * - Msg-ID: 16 hex digits on globals messages, 32 on heartbeats (the
 *   caller makes them, see routing.h);
 * - System-Log-ID equal to the Msg-ID on requests that collect replies
 *   (claims, queries, calls);
 * - Server-ID (the queue to answer to, or the owner's queue) on claims,
 *   advertisements, queries, calls and answers that name an owner, but not
 *   on answers with State=none, sends, unregisters or replies;
 * - atoms written as ATOM_EXT (tag 100), as term_to_binary/1 does on OTP 25.
 * Batches and syncs are kz_globals' own (their entries: protocol.h).
 *
 * IDENTIFICATION
 *	  src/wire/encode.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_ENCODE_H
#define KZ_ENCODE_H

#include "lib/stringinfo.h"

#include "kz_types.h"
#include "protocol.h"
#include "routing.h"

/* Who sends, and under which ids; the worker fills it in per message. */
typedef struct KzEncodeCtx
{
	const char *node;			/* our node name: Node */
	const char *queue;			/* our queue: Server-ID */
	const char *zone;			/* our zone (advertisements, heartbeats) */
	uint64		session;		/* this connection's session (KZ_SESSION_BITS
								 * wide): Session, the claim ids of batches */
	int64		incarnation;	/* when this server started (heartbeats) */
	const char *msg_id;			/* this message's Msg-ID; an answer's is its
								 * request's */
	const char *sender_role;	/* sends, calls, send_batch to a kz_globals
								 * node: Sender-Role, or NULL */
	const char *sender_db;		/* likewise: Sender-Database, or NULL */
} KzEncodeCtx;

/* What a heartbeat says besides the envelope and the context. */
typedef struct KzHeartbeat
{
	int64		expires_ms;
	const char *version;
	int64		local;			/* Globals: rows by state */
	int64		remote;
	int64		pending;
	bool		sync_request;
} KzHeartbeat;

/* One entry of a registry_batch or a claim_batch_resp. */
typedef struct KzOutEntry
{
	KzName		name;
	int64		ts;
	int32		pid;
	KzWireState state;			/* registry_batch: the event; claim_batch_resp:
								 * the answer */
	uint64		claim_id;		/* registry_batch, a claim: its id, the
								 * sequence part of its Msg-ID (0: none) */
	char		claim[KZ_MSG_ID_LEN + 1];	/* claim_batch_resp: the claim's
											 * Msg-ID as the request gave it,
											 * or "" (an older node's) */
	char		server[KZ_SERVER_MAX];	/* claim_batch_resp: the owner's queue */
	const char *meta;			/* registry_batch, an advertisement: its
								 * registration metadata, or NULL */
} KzOutEntry;

/* One registration of a sync. */
typedef struct KzNameEntry
{
	KzName		name;
	int64		ts;
	int32		pid;
	const char *meta;			/* registration metadata, or NULL */
} KzNameEntry;

/* One send of a send_batch: the message text goes as a binary. */
typedef struct KzSendEntry
{
	const uint8 *name;
	size_t		name_len;
	int32		sender_pid;
	const char *body;
	size_t		body_len;
} KzSendEntry;

/*
 * The encoders.  Each appends one whole body to out.  Message texts (body,
 * body_len) go on the wire as an Erlang binary; a NULL body is empty.
 */
extern void kz_enc_claim(StringInfo out, const KzEncodeCtx *ctx,
						 const uint8 *name, size_t len, int64 ts);
extern void kz_enc_advert(StringInfo out, const KzEncodeCtx *ctx,
						  const uint8 *name, size_t len, int64 ts, int32 pid,
						  const char *meta);
extern void kz_enc_register_resp(StringInfo out, const KzEncodeCtx *ctx,
								 const char *server, const uint8 *name,
								 size_t len, KzWireState state, int64 ts,
								 int32 pid);
extern void kz_enc_query(StringInfo out, const KzEncodeCtx *ctx,
						 const uint8 *name, size_t len);
extern void kz_enc_query_resp(StringInfo out, const KzEncodeCtx *ctx,
							  const uint8 *name, size_t len, bool owned,
							  int64 ts, int32 pid);
extern void kz_enc_unregister(StringInfo out, const KzEncodeCtx *ctx,
							  const uint8 *name, size_t len, int64 ts);
extern void kz_enc_send(StringInfo out, const KzEncodeCtx *ctx,
						const uint8 *name, size_t len, const char *body,
						size_t body_len, int32 sender_pid);
extern void kz_enc_call(StringInfo out, const KzEncodeCtx *ctx,
						const uint8 *name, size_t len, const char *body,
						size_t body_len, int32 sender_pid, int32 timeout_ms);
extern void kz_enc_reply(StringInfo out, const KzEncodeCtx *ctx,
						 const char *body, size_t body_len, bool owner_exited);
extern void kz_enc_heartbeat(StringInfo out, const KzEncodeCtx *ctx,
							 const KzHeartbeat *hb);
extern void kz_enc_registry_batch(StringInfo out, const KzEncodeCtx *ctx,
								  const KzOutEntry *entries, int n);
extern void kz_enc_claim_batch_resp(StringInfo out, const KzEncodeCtx *ctx,
									const KzOutEntry *entries, int n);
extern void kz_enc_send_batch(StringInfo out, const KzEncodeCtx *ctx,
							  const KzSendEntry *entries, int n);
extern void kz_enc_sync(StringInfo out, const KzEncodeCtx *ctx, int64 sync_id,
						int part, bool last, const KzNameEntry *names, int n);

/*
 * Process groups: joins and leaves of our members ([group, joined at, pid,
 * state, ""], state registered or none), a part of the sync of all of them
 * (state registered), a message for a group (group is its term).
 */
extern void kz_enc_group_members(StringInfo out, const KzEncodeCtx *ctx,
								 const KzOutEntry *entries, int n);
extern void kz_enc_group_sync(StringInfo out, const KzEncodeCtx *ctx, int64 sync_id,
							  int part, bool last, const KzOutEntry *entries, int n);
extern void kz_enc_group_publish(StringInfo out, const KzEncodeCtx *ctx,
								 const uint8 *group, size_t len, const char *body,
								 size_t body_len, int32 sender_pid);

/*
 * The pieces the encoders are made of: kz_proto_begin (the opening brace
 * and the envelope), any number of kz_proto_add_* calls, and kz_proto_end.
 * Strings are escaped as JSON requires; term fields are base64-encoded.
 * Only the encoders above compose what kz_globals sends; the unit tests use
 * the pieces for bodies no encoder writes (a field missing, of the wrong
 * type, ...).
 */
typedef struct KzEnvelope
{
	const char *app_name;		/* KZ_APP_NAME_GLOBALS or KZ_APP_NAME_NODES */
	const char *category;		/* "globals" or "nodes" */
	const char *event;			/* e.g. "register" */
	const char *msg_id;
	const char *node;
	const char *server_id;		/* NULL to leave out */
} KzEnvelope;

extern void kz_proto_begin(StringInfo out, const KzEnvelope *env);
extern void kz_proto_add_str(StringInfo out, const char *key, const char *value);
extern void kz_proto_add_int(StringInfo out, const char *key, int64 value);
extern void kz_proto_add_bool(StringInfo out, const char *key, bool value);
extern void kz_proto_add_term(StringInfo out, const char *key,
							  const uint8 *term, size_t len);
extern void kz_proto_end(StringInfo out);

#endif							/* KZ_ENCODE_H */
