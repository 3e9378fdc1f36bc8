/*-------------------------------------------------------------------------
 *
 * protocol.h
 *	  Kazoo's kz_globals and kz_nodes messages: the types the codec shares
 *	  with its callers (events, states, a decoded message).
 *
 * Every message on the bus is a JSON object with Kazoo's envelope
 * (App-Name, App-Version, Event-Category, Event-Name, Msg-ID, Node,
 * Server-ID) and event-specific fields.  Name, Message, Reply and Reason are
 * base64 of an Erlang external term.  kz_globals adds a few fields of its
 * own, which Kazoo nodes ignore: Pid (owner backend), Sender-Pid, Timeout
 * (ms a caller waits), Incarnation, Session and Sync-Request (node identity
 * and resync in heartbeats), PG-Globals-Version, the sync event
 * (Sync-ID, Part, Last, Names) that brings a node up to date in bulk, and
 * registration metadata: Meta on an advertisement, Metas beside the Names
 * of a sync or registry_batch (one element per entry, null for none).
 * Metadata goes as a JSON string holding the JSON text of an object or
 * array (at most KZ_META_MAX_BYTES), so that Kazoo sees a plain string
 * field it ignores and kz_globals nodes of 1.0, which refuse a Names entry
 * of more than six elements, ignore it too.
 *
 * The codec is one file per concern, all in src/wire, all pure (no shared
 * memory, no I/O, no ereport; they run in the worker and, with -DFRONTEND,
 * in the unit tests):
 *
 *	protocol.c	the names of events, states and errors (this header's types)
 *	json.c		JSON text: a body's clean-up before parsing, writing strings
 *	decode.c	decoding a body into a KzBusMsg (decode.h)
 *	encode.c	the body of every message kz_globals sends (encode.h)
 *	routing.c	routing keys, message ids, queue names (routing.h)
 *
 * Batches between kz_globals nodes (registry_batch, claim_batch_resp,
 * send_batch) carry their events in Names, one entry each:
 *
 *	registry_batch		[name, ts, pid, state, claim]: state pending (a
 *						claim), registered (an advertisement) or none (an
 *						unregister); claim is the claim's Msg-ID (as its
 *						single register message would carry it) or "" (other
 *						events, and every entry from kz_globals 1.0)
 *	claim_batch_resp	[name, ts, pid, state, server, claim]: the answer to
 *						each claim, claim echoing the claim's; an answer to a
 *						claim that came without one has five elements, the
 *						form older nodes expect
 *	send_batch			[name, 0, sender pid, "", message]
 *	group_members		[group, joined at, pid, state, ""]: state
 *						registered (joined) or none (left)
 *	group_sync			[group, joined at, pid, "registered", ""]; with
 *						Sync-ID, Part and Last as a sync
 *
 * A group_publish carries the group in Name and the message in Message,
 * as a send does.  Process-group events travel on KZ_EXCHANGE_GROUPS (and a
 * group_sync for one node on the targeted exchange, to its queue), which
 * Kazoo nodes never bind: they never see them.
 *
 * IDENTIFICATION
 *	  src/wire/protocol.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_PROTOCOL_H
#define KZ_PROTOCOL_H

#include "lib/stringinfo.h"

#include "kz_types.h"

/* Envelope values kz_globals puts on the wire, as Kazoo's nodes do. */
#define KZ_APP_NAME_GLOBALS		"kazoo_globals"
#define KZ_APP_NAME_NODES		"kz_nodes"
#define KZ_APP_VERSION			"4.0.0"

/* Version of kz_globals' own extensions, sent in heartbeats. */
#define KZ_PG_PROTOCOL_VERSION	1

/*
 * Sender-Role and Sender-Database: a role or database name, at most
 * NAMEDATALEN - 1 bytes (the same on every server of a build).
 */
#define KZ_IDENTITY_MAX			(NAMEDATALEN - 1)

typedef enum KzEvent
{
	KZ_EV_UNKNOWN = 0,
	KZ_EV_REGISTER,				/* globals/register: a claim (State pending)
								 * or an advertisement (State registered) */
	KZ_EV_REGISTER_RESP,		/* globals/register_resp */
	KZ_EV_QUERY,				/* globals/query */
	KZ_EV_QUERY_RESP,			/* globals/query_resp */
	KZ_EV_UNREGISTER,			/* globals/unregister */
	KZ_EV_SEND,					/* globals/send */
	KZ_EV_CALL,					/* globals/call */
	KZ_EV_REPLY,				/* globals/reply */
	KZ_EV_SYNC,					/* globals/sync (kz_globals extension) */
	KZ_EV_ADVERTISE,			/* nodes/advertise: a heartbeat */
	/* batches between kz_globals nodes (extensions; entries in Names) */
	KZ_EV_REGISTRY_BATCH,		/* claims, advertisements and unregisters */
	KZ_EV_CLAIM_BATCH_RESP,		/* answers to a registry_batch's claims */
	KZ_EV_SEND_BATCH,			/* sends to one owner node */
	/* process groups, on kz_globals' own exchange (entries in Names) */
	KZ_EV_GROUP_MEMBERS,		/* joins and leaves of the sender's members */
	KZ_EV_GROUP_SYNC,			/* all the sender's members (a sync's parts) */
	KZ_EV_GROUP_PUBLISH			/* a message for a group's members */
} KzEvent;

/* The State field. */
typedef enum KzWireState
{
	KZ_WS_ABSENT = 0,			/* no State field */
	KZ_WS_NONE,					/* "none": the replier does not know the name */
	KZ_WS_PENDING,
	KZ_WS_REGISTERED,
	KZ_WS_LOCAL,
	KZ_WS_REMOTE,
	KZ_WS_OTHER					/* any other string */
} KzWireState;

/*
 * Why a message was refused.  The worker counts each refusal in
 * kz_globals.stats.bus_malformed and logs the first of each kind.
 */
typedef enum KzProtoError
{
	KZ_PROTO_OK = 0,
	KZ_PROTO_TOO_LARGE,			/* body over the size limit */
	KZ_PROTO_BAD_JSON,			/* not valid JSON, or not an object */
	KZ_PROTO_MISSING_FIELD,		/* a required field is absent */
	KZ_PROTO_BAD_FIELD,			/* a field has the wrong type or value */
	KZ_PROTO_BAD_BASE64,		/* a term field is not valid base64 */
	KZ_PROTO_BAD_TERM,			/* a term field is not a valid external term */
	KZ_PROTO_UNKNOWN_EVENT,		/* category/event not one of the above */
	KZ_PROTO_NUM_ERRORS
} KzProtoError;

/*
 * One entry of Names: [name, timestamp, pid, state, text, claim], the last
 * four optional (see the head comment for what each batch puts there).  In
 * a send_batch the text is base64 of the message's term, here decoded into
 * message.  claim is the Msg-ID of a claim, checked to be one: the text of a
 * registry_batch's claim, the sixth element of a claim_batch_resp's answer.
 */
typedef struct KzSyncEntry
{
	uint8	   *name;			/* term buffer */
	size_t		name_len;
	int64		timestamp;
	int32		pid;			/* 0 if absent */
	KzWireState state;			/* KZ_WS_ABSENT if absent */
	char	   *text;			/* NULL if absent */
	uint8	   *message;		/* send_batch: the message's term buffer */
	size_t		message_len;
	char	   *claim;			/* a claim's Msg-ID, or NULL */
	char	   *meta;			/* registration metadata (Metas), or NULL */
} KzSyncEntry;

/*
 * A decoded message.  Pointers are NULL (and lengths 0) when the field was
 * absent.  Term buffers (name, message, reply, reason) are the base64-decoded
 * bytes, already checked with etf_validate.
 */
typedef struct KzBusMsg
{
	KzEvent		event;
	char	   *app_name;
	char	   *msg_id;
	char	   *node;			/* required: the publishing node */
	char	   *server_id;
	char	   *zone;

	uint8	   *name;
	size_t		name_len;
	KzWireState state;
	bool		has_timestamp;
	int64		timestamp;		/* Gregorian microseconds */
	uint8	   *message;
	size_t		message_len;
	uint8	   *reply;
	size_t		reply_len;
	uint8	   *reason;
	size_t		reason_len;
	int32		pid;			/* Pid: the owner backend */
	int32		sender_pid;		/* Sender-Pid */
	int32		timeout_ms;		/* Timeout; 0 if absent */
	bool		owner_exited;	/* Owner-Exited (a kz_globals reply): the
								 * owner ended without answering the call */
	bool		targeted;		/* not decoded: set by the receiver when the
								 * message came addressed to its queue */
	char	   *sender_role;	/* Sender-Role (ours): the sending session's
								 * role, as its server says */
	char	   *sender_db;		/* Sender-Database (ours): likewise */
	bool		verified;		/* not decoded: set by the receiver when a
								 * key of its bus key file signed it */
	char	   *meta;			/* Meta: registration metadata, or NULL */

	/* heartbeats (nodes/advertise) */
	bool		has_expires;
	int64		expires_ms;		/* Expires: integer or decimal string */
	bool		globals_nonempty;	/* Globals is a non-empty object */
	int32		globals_local;	/* Globals.local, 0 if absent */
	int64		incarnation;	/* Incarnation, 0 if absent */
	char	   *session;		/* Session */
	int32		pg_version;		/* PG-Globals-Version, 0 if absent */
	bool		sync_request;	/* Sync-Request: the sender wants our sync */

	/* sync */
	int64		sync_id;		/* Sync-ID */
	int32		sync_part;		/* Part */
	bool		sync_last;		/* Last */
	KzSyncEntry *entries;		/* Names */
	int			nentries;
} KzBusMsg;

/* Names of the enums, for logs, and the other way round. */
extern const char *kz_proto_error_name(KzProtoError err);
extern const char *kz_proto_event_name(KzEvent event);
extern const char *kz_proto_state_name(KzWireState state);
extern KzEvent kz_proto_event_of(const char *category, const char *name);
extern KzWireState kz_proto_state_of(const char *s);

#endif							/* KZ_PROTOCOL_H */
