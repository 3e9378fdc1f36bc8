/*-------------------------------------------------------------------------
 *
 * protocol.c
 *	  The names of events, states and errors of Kazoo's kz_globals and
 *	  kz_nodes messages (see protocol.h).
 *
 * Pure code: no shared memory, no I/O, no ereport; it runs in the worker
 * and, with -DFRONTEND, in the unit tests.
 *
 * IDENTIFICATION
 *	  src/wire/protocol.c
 *
 *-------------------------------------------------------------------------
 */
#ifndef FRONTEND
#include "postgres.h"
#else
#include "postgres_fe.h"
#endif

#include <string.h>

#include "protocol.h"

/* Event-Category and Event-Name of each event. */
typedef struct EventName
{
	const char *category;
	const char *name;
	KzEvent		event;
} EventName;

static const EventName event_names[] = {
	{"globals", "register", KZ_EV_REGISTER},
	{"globals", "register_resp", KZ_EV_REGISTER_RESP},
	{"globals", "query", KZ_EV_QUERY},
	{"globals", "query_resp", KZ_EV_QUERY_RESP},
	{"globals", "unregister", KZ_EV_UNREGISTER},
	{"globals", "send", KZ_EV_SEND},
	{"globals", "call", KZ_EV_CALL},
	{"globals", "reply", KZ_EV_REPLY},
	{"globals", "sync", KZ_EV_SYNC},
	{"nodes", "advertise", KZ_EV_ADVERTISE},
	{"globals", "registry_batch", KZ_EV_REGISTRY_BATCH},
	{"globals", "claim_batch_resp", KZ_EV_CLAIM_BATCH_RESP},
	{"globals", "send_batch", KZ_EV_SEND_BATCH},
	{"globals", "group_members", KZ_EV_GROUP_MEMBERS},
	{"globals", "group_sync", KZ_EV_GROUP_SYNC},
	{"globals", "group_publish", KZ_EV_GROUP_PUBLISH}
};

/* The State strings, indexed by KzWireState. */
static const char *const state_names[] = {
	"absent", "none", "pending", "registered", "local", "remote", "other"
};

const char *
kz_proto_error_name(KzProtoError err)
{
	static const char *const names[] = {
		"ok", "too_large", "bad_json", "missing_field", "bad_field",
		"bad_base64", "bad_term", "unknown_event"
	};

	StaticAssertStmt(lengthof(names) == KZ_PROTO_NUM_ERRORS,
					 "one name per KzProtoError");
	if ((int) err < 0 || (int) err >= KZ_PROTO_NUM_ERRORS)
		return "unknown_error";
	return names[err];
}

const char *
kz_proto_event_name(KzEvent event)
{
	int			i;

	for (i = 0; i < (int) lengthof(event_names); i++)
		if (event_names[i].event == event)
			return event_names[i].name;
	return "unknown";
}

const char *
kz_proto_state_name(KzWireState state)
{
	if ((int) state < 0 || (int) state >= (int) lengthof(state_names))
		return "other";
	return state_names[state];
}

/* The event of an Event-Category and Event-Name, or KZ_EV_UNKNOWN. */
KzEvent
kz_proto_event_of(const char *category, const char *name)
{
	int			i;

	for (i = 0; i < (int) lengthof(event_names); i++)
		if (strcmp(category, event_names[i].category) == 0 &&
			strcmp(name, event_names[i].name) == 0)
			return event_names[i].event;
	return KZ_EV_UNKNOWN;
}

/* One of Kazoo's state strings, anything else KZ_WS_OTHER. */
KzWireState
kz_proto_state_of(const char *s)
{
	int			i;

	for (i = KZ_WS_NONE; i < KZ_WS_OTHER; i++)
		if (strcmp(s, state_names[i]) == 0)
			return (KzWireState) i;
	return KZ_WS_OTHER;
}
