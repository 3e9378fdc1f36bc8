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
 * Runs in the worker only; the state below is its memory.  Takes
 * nodes_lock (shared), through membership.c.
 *
 * IDENTIFICATION
 *	  src/worker/peer_auth.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datatype/timestamp.h"
#include "storage/fd.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "bus.h"
#include "guc.h"
#include "peer_auth.h"
#include "shmem.h"

/* Microseconds between 1970-01-01 and 2000-01-01, PostgreSQL's epoch. */
#define KZ_UNIX_PG_EPOCH_US \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * USECS_PER_SEC)

/* Peers whose refusal was logged; beyond that, one line a minute. */
#define KZ_AUTH_LOGGED_PEERS	64

static bool loaded = false;
static bool configured = false; /* a key file is set */
static KzAuthKeys keys;			/* n == 0: none usable */
static int64 last_signed = 0;

/* The replay window of each node that signed validly, by node name. */
typedef struct SenderWindow
{
	char		node[KZ_NODE_NAME_MAX];
	KzAuthWindow window;
} SenderWindow;

static HTAB *windows = NULL;

typedef struct LoggedRefusal
{
	char		node[KZ_NODE_NAME_MAX];
	const char *why;			/* one of a few static strings */
} LoggedRefusal;

static LoggedRefusal logged[KZ_AUTH_LOGGED_PEERS];
static int	nlogged = 0;
static TimestampTz others_logged_at = 0;
static int	others_unlogged = 0;

static int64
now_unix_us(void)
{
	return GetCurrentTimestamp() + KZ_UNIX_PG_EPOCH_US;
}

/*
 * The key file must be a regular file that only the server can read: owned
 * by the server's user with no group or other access, or owned by root
 * with group read at most (the rules of PostgreSQL's ssl_key_file).
 */
static bool
check_file_mode(int fd, char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
	{
		snprintf(err, errlen, "cannot stat it: %m");
		return false;
	}
	if (!S_ISREG(st.st_mode))
	{
		snprintf(err, errlen, "it is not a regular file");
		return false;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0)
	{
		snprintf(err, errlen, "it must be owned by the database user or root");
		return false;
	}
	if ((st.st_uid == geteuid() && (st.st_mode & (S_IRWXG | S_IRWXO))) ||
		(st.st_uid == 0 && (st.st_mode & (S_IWGRP | S_IXGRP | S_IRWXO))))
	{
		snprintf(err, errlen, "it has group or world access (it must be u=rw (0600) or less if owned by the database user, or u=rw,g=r (0640) or less if owned by root)");
		return false;
	}
	return true;
}

/* Reads and parses the key file into *out; false with err (no secret in it). */
static bool
read_key_file(const char *path, KzAuthKeys *out, char *err, size_t errlen)
{
	char		buf[KZ_AUTH_FILE_MAX + 1];
	int			fd;
	ssize_t		n;
	bool		ok;

	fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	if (fd < 0)
	{
		snprintf(err, errlen, "cannot open it: %m");
		return false;
	}
	if (!check_file_mode(fd, err, errlen))
	{
		CloseTransientFile(fd);
		return false;
	}
	n = read(fd, buf, sizeof(buf));
	CloseTransientFile(fd);
	if (n < 0 || n > KZ_AUTH_FILE_MAX)
	{
		if (n < 0)
			snprintf(err, errlen, "cannot read it: %m");
		else
			snprintf(err, errlen, "it is longer than %d bytes", KZ_AUTH_FILE_MAX);
		explicit_bzero(buf, sizeof(buf));
		return false;
	}
	ok = kz_auth_parse_keys(buf, (size_t) n, out, err, errlen);
	explicit_bzero(buf, sizeof(buf));
	return ok;
}

/* "k2 (signs), k1" for the log: key ids only. */
static char *
describe_keys(const KzAuthKeys *k)
{
	return k->n > 1 ? psprintf("\"%s\" (signs), \"%s\"", k->key[0].id, k->key[1].id) :
		psprintf("\"%s\"", k->key[0].id);
}

void
kz_peer_auth_reload(void)
{
	KzAuthKeys	fresh;
	char		err[256];
	const char *path = kz_bus_key_file ? kz_bus_key_file : "";
	bool		first = !loaded;

	loaded = true;
	configured = path[0] != '\0';
	if (!configured)
	{
		explicit_bzero(&keys, sizeof(keys));
		if (kz_bus_require_signature)
			ereport(WARNING,
					(errmsg("kz_globals.bus_require_signature is on but kz_globals.bus_key_file is not set: every message from the bus is refused")));
		return;
	}
	if (!read_key_file(path, &fresh, err, sizeof(err)))
	{
		ereport(first ? WARNING : LOG,
				(errmsg("kz_globals cannot use kz_globals.bus_key_file \"%s\": %s", path, err),
				 keys.n > 0 ? errdetail("The keys read before stay in use.") :
				 errdetail("Messages from kz_globals nodes are refused and this server's go out unsigned until the file is fixed and the configuration reloaded.")));
		return;
	}
	if (fresh.n != keys.n || strcmp(fresh.key[0].id, keys.key[0].id) != 0 ||
		(fresh.n > 1 && strcmp(fresh.key[1].id, keys.key[1].id) != 0))
		ereport(LOG,
				(errmsg("kz_globals signs bus messages; keys accepted: %s", describe_keys(&fresh))));
	keys = fresh;
	explicit_bzero(&fresh, sizeof(fresh));
}

bool
kz_peer_auth_sign(const char *exchange, const char *routing_key,
				  const char *message_id, const char *body, size_t len,
				  char *header)
{
	KzAuthFields f;
	int64		ts;

	if (!loaded)
		kz_peer_auth_reload();
	if (keys.n == 0)
		return false;
	/* strictly increasing, so that no two of our messages share a time */
	ts = Max(now_unix_us(), last_signed + 1);
	last_signed = ts;
	f.exchange = exchange;
	f.routing_key = routing_key;
	f.message_id = message_id;
	f.app_id = kz_amqp_app_id();
	f.user_id = kz_amqp_user_id();
	f.body = body;
	f.body_len = len;
	return kz_auth_sign(&keys, ts, &f, header);
}

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

static void
init_windows(void)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = KZ_NODE_NAME_MAX;
	ctl.entrysize = sizeof(SenderWindow);
	ctl.hcxt = TopMemoryContext;
	windows = hash_create("kz_globals signers", 16, &ctl,
						  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

/* Has node signed validly to us since the worker started? */
static bool
signed_before(const char *node)
{
	char		key[KZ_NODE_NAME_MAX];

	if (windows == NULL)
		return false;
	strlcpy(key, node, sizeof(key));
	return hash_search(windows, key, HASH_FIND, NULL) != NULL;
}

/*
 * A signature's time from node, not seen before (and, once the node's
 * window is full, not older than what it keeps).  Called only after the
 * signature was found genuine, so only key holders get an entry.
 */
static bool
fresh_from(const char *node, int64 ts)
{
	char		key[KZ_NODE_NAME_MAX];
	SenderWindow *w;
	bool		found;

	if (windows == NULL)
		init_windows();
	strlcpy(key, node, sizeof(key));
	w = hash_search(windows, key, HASH_ENTER, &found);
	if (!found)
		memset(&w->window, 0, sizeof(w->window));
	return kz_auth_window_accept(&w->window, ts);
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
			return true;
		default:
			break;
	}
	if (msg->pg_version > 0 || msg->incarnation != 0 || msg->session != NULL ||
		msg->pid != 0 || msg->sender_pid != 0 || msg->timeout_ms != 0 ||
		msg->owner_exited || msg->sync_request)
		return true;
	if (strcmp(msg->node, kz_node_name) == 0 || signed_before(msg->node))
		return true;
	idx = kz_member_node(msg->node, false);
	return idx >= 0 && kz_member_is_pg(idx);
}

bool
kz_peer_auth_accept(const KzAmqpEvent *ev, const KzBusMsg *msg)
{
	KzAuthFields f;
	KzAuthResult r;
	int64		ts = 0;

	if (!loaded)
		kz_peer_auth_reload();
	if (!configured && !kz_bus_require_signature)
		return true;
	if (ev->auth == NULL)
	{
		if (kz_bus_require_signature)
			return reject(msg, ev, "no signature, and kz_globals.bus_require_signature is on");
		if (from_pg_node(msg))
			return reject(msg, ev, "no signature on a message of a kz_globals node");
		return true;			/* a Kazoo node's, as far as anyone can tell */
	}
	if (keys.n == 0)
		return reject(msg, ev, "signed, but this server has no usable key (kz_globals.bus_key_file)");
	f.exchange = ev->exchange;
	f.routing_key = ev->routing_key;
	f.message_id = ev->message_id;
	f.app_id = ev->app_id;
	f.user_id = ev->user_id;
	f.body = ev->body;
	f.body_len = ev->body_len;
	r = kz_auth_verify(&keys, ev->auth, &f, now_unix_us(),
					   (int64) KZ_AUTH_MAX_AGE_MS * 1000, &ts);
	if (r == KZ_AUTH_OK && !fresh_from(msg->node, ts))
		r = KZ_AUTH_REPLAYED;
	if (r != KZ_AUTH_OK)
		return reject(msg, ev, kz_auth_result_name(r));
	return true;
}
