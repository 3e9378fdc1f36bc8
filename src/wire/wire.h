/*-------------------------------------------------------------------------
 *
 * wire.h
 *	  The bodies of the messages kz_globals sends, one builder per kind.
 *
 * Each builder writes a whole JSON body with exactly the fields real Kazoo
 * puts in the same message (as captured from Kazoo's own nodes, see
 * test/fixtures/kazoo), plus kz_globals' own fields, which Kazoo ignores.
 * bus_out.c publishes what these build; the unit tests compare it with the
 * captured fixtures.  Pure code: no shared state, no ereport.
 *
 * What Kazoo does and these builders therefore do:
 * - Msg-ID: 16 hex digits on globals messages, 32 on heartbeats (the
 *   caller makes them, see kz_proto_msg_id);
 * - System-Log-ID equal to the Msg-ID on requests that collect replies
 *   (claims, queries, calls);
 * - Server-ID (the queue to answer to, or the owner's queue) on claims,
 *   advertisements, queries, calls and answers that name an owner, but not
 *   on answers with State=none, sends, unregisters or replies;
 * - atoms written as ATOM_EXT (tag 100), as term_to_binary/1 does on OTP 25.
 *
 * IDENTIFICATION
 *	  src/wire/wire.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_WIRE_H
#define KZ_WIRE_H

#include "lib/stringinfo.h"

#include "protocol.h"

/* Who sends: our node name, our queue (Server-ID) and zone. */
typedef struct KzSender
{
	const char *node;
	const char *queue;
	const char *zone;
} KzSender;

/* What a heartbeat says besides the envelope. */
typedef struct KzHeartbeat
{
	int64		expires_ms;
	const char *version;
	int64		local;			/* Globals: rows by state */
	int64		remote;
	int64		pending;
	int64		incarnation;
	uint64		session;
	bool		sync_request;
} KzHeartbeat;

extern void kz_wire_claim(StringInfo out, const KzSender *me, const char *msg_id,
						  const uint8 *name, size_t len, int64 ts);
extern void kz_wire_advert(StringInfo out, const KzSender *me, const char *msg_id,
						   const uint8 *name, size_t len, int64 ts, int32 pid);
extern void kz_wire_register_resp(StringInfo out, const KzSender *me,
								  const char *msg_id, const char *server,
								  const uint8 *name, size_t len,
								  KzWireState state, int64 ts, int32 pid);
extern void kz_wire_query(StringInfo out, const KzSender *me, const char *msg_id,
						  const uint8 *name, size_t len);
extern void kz_wire_query_resp(StringInfo out, const KzSender *me,
							   const char *msg_id, const uint8 *name, size_t len,
							   bool owned, int64 ts, int32 pid);
extern void kz_wire_unregister(StringInfo out, const KzSender *me,
							   const char *msg_id, const uint8 *name, size_t len,
							   int64 ts);
extern void kz_wire_send(StringInfo out, const KzSender *me, const char *msg_id,
						 const uint8 *name, size_t len, const uint8 *message,
						 size_t message_len, int32 sender_pid);
extern void kz_wire_call(StringInfo out, const KzSender *me, const char *msg_id,
						 const uint8 *name, size_t len, const uint8 *message,
						 size_t message_len, int32 sender_pid, int32 timeout_ms);
extern void kz_wire_reply(StringInfo out, const KzSender *me, const char *msg_id,
						  const uint8 *reply, size_t reply_len, bool owner_exited);
extern void kz_wire_heartbeat(StringInfo out, const KzSender *me,
							  const char *msg_id, const KzHeartbeat *hb);

#endif							/* KZ_WIRE_H */
