/*-------------------------------------------------------------------------
 *
 * wire.c
 *	  The bodies of the messages kz_globals sends (see wire.h).
 *
 * IDENTIFICATION
 *	  src/wire/wire.c
 *
 *-------------------------------------------------------------------------
 */
#ifndef FRONTEND
#include "postgres.h"
#else
#include "postgres_fe.h"
#endif

#include <inttypes.h>

#include "etf.h"
#include "wire.h"

/* Opens a body: the envelope, with Server-ID only when server is given. */
static void
open_body(StringInfo out, const KzSender *me, const char *app,
		  const char *category, const char *event, const char *msg_id,
		  const char *server)
{
	KzEnvelope	env;

	env.app_name = app;
	env.category = category;
	env.event = event;
	env.msg_id = msg_id;
	env.node = me->node;
	env.server_id = server;
	kz_proto_begin(out, &env);
}

static void
open_globals(StringInfo out, const KzSender *me, const char *event,
			 const char *msg_id, const char *server)
{
	open_body(out, me, KZ_APP_NAME_GLOBALS, "globals", event, msg_id, server);
}

/*
 * Kazoo's request worker (kz_amqp_worker) tags every request whose replies
 * it collects with System-Log-ID, the Msg-ID.
 */
static void
add_log_id(StringInfo out, const char *msg_id)
{
	kz_proto_add_str(out, "System-Log-ID", msg_id);
}

/* A claim: Kazoo sends no Timestamp; ours carries the claim's (rule 1). */
void
kz_wire_claim(StringInfo out, const KzSender *me, const char *msg_id,
			  const uint8 *name, size_t len, int64 ts)
{
	open_globals(out, me, "register", msg_id, me->queue);
	kz_proto_add_term(out, "Name", name, len);
	kz_proto_add_str(out, "State", "pending");
	add_log_id(out, msg_id);
	kz_proto_add_int(out, "Timestamp", ts);
	kz_proto_end(out);
}

/* An advertisement; Zone and Pid are ours. */
void
kz_wire_advert(StringInfo out, const KzSender *me, const char *msg_id,
			   const uint8 *name, size_t len, int64 ts, int32 pid)
{
	open_globals(out, me, "register", msg_id, me->queue);
	kz_proto_add_term(out, "Name", name, len);
	kz_proto_add_str(out, "State", "registered");
	kz_proto_add_int(out, "Timestamp", ts);
	kz_proto_add_str(out, "Zone", me->zone);
	if (pid > 0)
		kz_proto_add_int(out, "Pid", pid);
	kz_proto_end(out);
}

/*
 * The answer to a claim: the answering node's view of the name.  As Kazoo:
 * State=none alone; any other State with the row's timestamp and, as
 * Server-ID, the owner's queue (server, or ours when empty).
 */
void
kz_wire_register_resp(StringInfo out, const KzSender *me, const char *msg_id,
					  const char *server, const uint8 *name, size_t len,
					  KzWireState state, int64 ts, int32 pid)
{
	const char *owner_queue = NULL;

	if (state != KZ_WS_NONE)
		owner_queue = (server && server[0]) ? server : me->queue;
	open_globals(out, me, "register_resp", msg_id, owner_queue);
	kz_proto_add_term(out, "Name", name, len);
	kz_proto_add_str(out, "State", kz_proto_state_name(state));
	if (state != KZ_WS_NONE)
		kz_proto_add_int(out, "Timestamp", ts);
	if (pid > 0)
		kz_proto_add_int(out, "Pid", pid);
	kz_proto_end(out);
}

void
kz_wire_query(StringInfo out, const KzSender *me, const char *msg_id,
			  const uint8 *name, size_t len)
{
	open_globals(out, me, "query", msg_id, me->queue);
	kz_proto_add_term(out, "Name", name, len);
	add_log_id(out, msg_id);
	kz_proto_end(out);
}

/* The answer to a query: State=none alone, or local with our queue. */
void
kz_wire_query_resp(StringInfo out, const KzSender *me, const char *msg_id,
				   const uint8 *name, size_t len, bool owned, int64 ts,
				   int32 pid)
{
	open_globals(out, me, "query_resp", msg_id, owned ? me->queue : NULL);
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
kz_wire_unregister(StringInfo out, const KzSender *me, const char *msg_id,
				   const uint8 *name, size_t len, int64 ts)
{
	StringInfoData reason;

	initStringInfo(&reason);
	etf_put_version(&reason);
	etf_put_atom_latin1(&reason, "normal", 6);
	open_globals(out, me, "unregister", msg_id, NULL);
	kz_proto_add_term(out, "Name", name, len);
	kz_proto_add_term(out, "Reason", (const uint8 *) reason.data, reason.len);
	kz_proto_add_int(out, "Timestamp", ts);
	kz_proto_end(out);
	pfree(reason.data);
}

/* A message for an owner; Sender-Pid is ours. */
void
kz_wire_send(StringInfo out, const KzSender *me, const char *msg_id,
			 const uint8 *name, size_t len, const uint8 *message,
			 size_t message_len, int32 sender_pid)
{
	open_globals(out, me, "send", msg_id, NULL);
	kz_proto_add_term(out, "Name", name, len);
	kz_proto_add_term(out, "Message", message, message_len);
	kz_proto_add_int(out, "Sender-Pid", sender_pid);
	kz_proto_end(out);
}

/* A call, answered to our queue; Sender-Pid and Timeout are ours. */
void
kz_wire_call(StringInfo out, const KzSender *me, const char *msg_id,
			 const uint8 *name, size_t len, const uint8 *message,
			 size_t message_len, int32 sender_pid, int32 timeout_ms)
{
	open_globals(out, me, "call", msg_id, me->queue);
	kz_proto_add_term(out, "Name", name, len);
	kz_proto_add_term(out, "Message", message, message_len);
	add_log_id(out, msg_id);
	kz_proto_add_int(out, "Sender-Pid", sender_pid);
	kz_proto_add_int(out, "Timeout", timeout_ms);
	kz_proto_end(out);
}

/*
 * The reply to a call, under the call's Msg-ID.  Kazoo also writes the
 * (optional) Name, which our reply tags do not keep.  Owner-Exited is ours.
 */
void
kz_wire_reply(StringInfo out, const KzSender *me, const char *msg_id,
			  const uint8 *reply, size_t reply_len, bool owner_exited)
{
	open_globals(out, me, "reply", msg_id, NULL);
	kz_proto_add_term(out, "Reply", reply, reply_len);
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
kz_wire_heartbeat(StringInfo out, const KzSender *me, const char *msg_id,
				  const KzHeartbeat *hb)
{
	static const char *const state_names[] = {"local", "remote", "pending"};
	int64		values[3];
	char		session[17];

	values[0] = hb->local;
	values[1] = hb->remote;
	values[2] = hb->pending;
	snprintf(session, sizeof(session), "%016" PRIx64, hb->session);
	open_body(out, me, KZ_APP_NAME_NODES, "nodes", "advertise", msg_id, me->queue);
	kz_proto_add_int(out, "Expires", hb->expires_ms);
	kz_proto_add_str(out, "Zone", me->zone);
	kz_proto_add_counts(out, "Globals", state_names, values, 3);
	kz_proto_add_str(out, "Version", hb->version);
	kz_proto_add_int(out, "Incarnation", hb->incarnation);
	kz_proto_add_str(out, "Session", session);
	kz_proto_add_int(out, "PG-Globals-Version", KZ_PG_PROTOCOL_VERSION);
	if (hb->sync_request)
		kz_proto_add_bool(out, "Sync-Request", true);
	kz_proto_end(out);
}
