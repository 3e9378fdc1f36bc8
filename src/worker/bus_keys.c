/*-------------------------------------------------------------------------
 *
 * bus_keys.c
 *	  The keys of kz_globals.bus_key_file in the worker: reading them,
 *	  signing what this node publishes, and checking a signature (with the
 *	  replay window of each signer).  What is signed and how:
 *	  src/wire/bus_auth.h; what is accepted: peer_auth.c.
 *
 * The key file is read at the worker's start and on every reload.  A file
 * that cannot be used is logged without its content; a node that had keys
 * keeps them (as PostgreSQL keeps its SSL files when a reload fails), one
 * that had none has no key: it publishes unsigned and refuses signed
 * messages.
 *
 * Runs in the worker only, at the bottom of its files (called by bus_out.c
 * for every publish); the keys and windows are the worker's memory.  Takes
 * no locks.
 *
 * IDENTIFICATION
 *	  src/worker/bus_keys.c
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

#include "bus_keys.h"
#include "guc.h"

/* Microseconds between 1970-01-01 and 2000-01-01, PostgreSQL's epoch. */
#define KZ_UNIX_PG_EPOCH_US \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * USECS_PER_SEC)

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
kz_bus_keys_reload(void)
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
kz_bus_keys_configured(void)
{
	if (!loaded)
		kz_bus_keys_reload();
	return configured;
}

bool
kz_bus_keys_usable(void)
{
	if (!loaded)
		kz_bus_keys_reload();
	return keys.n > 0;
}

bool
kz_bus_keys_sign(const char *exchange, const char *routing_key,
				  const char *message_id, const char *body, size_t len,
				  char *header)
{
	KzAuthFields f;
	int64		ts;

	if (!loaded)
		kz_bus_keys_reload();
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
bool
kz_bus_keys_signed_before(const char *node)
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

KzAuthResult
kz_bus_keys_verify(const KzAmqpEvent *ev, const char *node)
{
	KzAuthFields f;
	KzAuthResult r;
	int64		ts = 0;

	f.exchange = ev->exchange;
	f.routing_key = ev->routing_key;
	f.message_id = ev->message_id;
	f.app_id = ev->app_id;
	f.user_id = ev->user_id;
	f.body = ev->body;
	f.body_len = ev->body_len;
	r = kz_auth_verify(&keys, ev->auth, &f, now_unix_us(),
					   (int64) KZ_AUTH_MAX_AGE_MS * 1000, &ts);
	if (r == KZ_AUTH_OK && !fresh_from(node, ts))
		r = KZ_AUTH_REPLAYED;
	return r;
}
