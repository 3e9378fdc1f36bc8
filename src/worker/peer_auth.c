/*-------------------------------------------------------------------------
 *
 * peer_auth.c
 *	  Bus authentication in the worker (see peer_auth.h; the signature's
 *	  form and what it covers: src/wire/bus_auth.h).
 *
 * With kz_globals.bus_key_file set, every message this node publishes is
 * signed, and a delivery is acted on only if:
 *	- it carries a valid signature by a key of the file, made within
 *	  KZ_AUTH_MAX_AGE_MS of our clock, not seen before from its Node; or
 *	- it is unsigned, kz_globals.bus_require_signature is off, and it is
 *	  shaped like a Kazoo node's: none of kz_globals' own events or fields,
 *	  and from a node that has never been a kz_globals node to us (one that
 *	  signed, or heartbeat as one).  Kazoo nodes cannot sign, so this is
 *	  all a mixed cluster can check.
 * With bus_require_signature on, only the first kind is accepted (no keys:
 * nothing is).  Without either setting, everything is accepted, as before.
 *
 * Runs in the worker only, between bus_in.c and peers.c; its state (what
 * was logged) is the worker's memory.  Takes nodes_lock (shared), through
 * peers.c.  The keys and the signatures are bus_keys.c's.
 *
 * IDENTIFICATION
 *	  src/worker/peer_auth.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/timestamp.h"

#include "bus_keys.h"
#include "guc.h"
#include "peer_auth.h"
#include "peers.h"
#include "shmem.h"

/* Refusals logged, by peer and reason; beyond that, one line a minute. */
#define KZ_AUTH_LOGGED_PEERS	64

typedef struct LoggedRefusal
{
	char		node[KZ_NODE_NAME_MAX];
	const char *why;			/* one of a few static strings */
} LoggedRefusal;

static LoggedRefusal logged[KZ_AUTH_LOGGED_PEERS];
static int	nlogged = 0;
static TimestampTz others_logged_at = 0;
static int	others_unlogged = 0;

/*
 * Logs a refusal: once per peer name and reason (the first
 * KZ_AUTH_LOGGED_PEERS of them), for the others one line a minute with how
 * many were not logged.  Names the peer, its broker user and the reason;
 * never a key or a MAC.
 */
static void
log_refusal(const KzBusMsg *msg, const KzAmqpEvent *ev, const char *why)
{
	TimestampTz now;
	int			i;

	for (i = 0; i < nlogged; i++)
	{
		if (logged[i].why == why && strcmp(logged[i].node, msg->node) == 0)
			return;
	}
	if (nlogged < KZ_AUTH_LOGGED_PEERS)
	{
		strlcpy(logged[nlogged].node, msg->node, KZ_NODE_NAME_MAX);
		logged[nlogged++].why = why;
	}
	else
	{
		now = GetCurrentTimestamp();
		if (others_logged_at != 0 &&
			!TimestampDifferenceExceeds(others_logged_at, now, 60 * 1000))
		{
			others_unlogged++;
			return;
		}
		others_logged_at = now;
	}
	ereport(LOG,
			(errmsg("kz_globals refused a message from the bus claiming to be from node \"%s\": %s",
					msg->node, why),
			 errdetail("Event %s on exchange \"%s\", published by broker user \"%s\".%s",
					   kz_proto_event_name(msg->event),
					   ev->exchange ? ev->exchange : "",
					   ev->user_id ? ev->user_id : "(not given)",
					   others_unlogged > 0 ? psprintf(" %d more refusals from other peers were not logged.", others_unlogged) : ""),
			 errhint("Later refusals of this peer for this reason are only counted, in kz_globals.stats.bus_rejected.")));
	others_unlogged = 0;
}

static bool
reject(const KzBusMsg *msg, const KzAmqpEvent *ev, const char *why)
{
	KZ_STAT_INC(bus_rejected);
	log_refusal(msg, ev, why);
	return false;
}

/*
 * Would a kz_globals node have sent this?  Its own events and fields, our
 * own node name, or a node known to be a kz_globals node: one that signed
 * before, or heartbeat as one.
 */
static bool
from_pg_node(const KzBusMsg *msg)
{
	int			idx;

	switch (msg->event)
	{
		case KZ_EV_SYNC:
		case KZ_EV_REGISTRY_BATCH:
		case KZ_EV_CLAIM_BATCH_RESP:
		case KZ_EV_SEND_BATCH:
		case KZ_EV_GROUP_MEMBERS:
		case KZ_EV_GROUP_SYNC:
		case KZ_EV_GROUP_PUBLISH:
			return true;
		default:
			break;
	}
	if (msg->pg_version > 0 || msg->incarnation != 0 || msg->session != NULL ||
		msg->pid != 0 || msg->sender_pid != 0 || msg->timeout_ms != 0 ||
		msg->owner_exited || msg->sync_request ||
		msg->sender_role != NULL || msg->sender_db != NULL || msg->meta != NULL)
		return true;
	if (strcmp(msg->node, kz_node_name) == 0 || kz_bus_keys_signed_before(msg->node))
		return true;
	idx = kz_peer_node(msg->node, false);
	return idx >= 0 && kz_peer_is_pg(idx);
}

bool
kz_peer_auth_accept(const KzAmqpEvent *ev, KzBusMsg *msg)
{
	KzAuthResult r;

	msg->verified = false;
	if (!kz_bus_keys_configured() && !kz_bus_require_signature)
		return true;
	if (ev->auth == NULL)
	{
		if (kz_bus_require_signature)
			return reject(msg, ev, "no signature, and kz_globals.bus_require_signature is on");
		if (from_pg_node(msg))
			return reject(msg, ev, "no signature on a message of a kz_globals node");
		return true;			/* a Kazoo node's, as far as anyone can tell */
	}
	if (!kz_bus_keys_usable())
		return reject(msg, ev, "signed, but this server has no usable key (kz_globals.bus_key_file)");
	r = kz_bus_keys_verify(ev, msg->node);
	if (r != KZ_AUTH_OK)
		return reject(msg, ev, kz_auth_result_name(r));
	msg->verified = true;
	return true;
}
