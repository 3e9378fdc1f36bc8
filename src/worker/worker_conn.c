/*-------------------------------------------------------------------------
 *
 * worker_conn.c
 *	  Connecting the worker to the broker, and reconnecting with backoff.
 *
 * States: disabled (no kz_globals.amqp_uri), connecting (waiting for the
 * next attempt), connected.  An attempt tries every URI of the list in
 * order and keeps the first that connects and declares the topology.  The
 * first retry after a loss comes within a second; later ones back off
 * exponentially to a few seconds, with jitter so that several servers do
 * not reconnect in step.  Every broker operation is bounded
 * (KZ_AMQP_TIMEOUT_MS), so an attempt never blocks the worker for long.
 *
 * Each connection gets a fresh random session id and a fresh exclusive
 * queue; peers that see the new session in our heartbeat send us their
 * registrations again (sync), and we send ours, so nothing missed during an
 * outage stays wrong.
 *
 * IDENTIFICATION
 *	  src/worker/worker_conn.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/pg_prng.h"
#include "storage/fd.h"
#include "utils/timestamp.h"

#include "amqp_conn.h"
#include "broker_uri.h"
#include "bus.h"
#include "guc.h"
#include "inflight.h"
#include "membership.h"
#include "outbox.h"
#include "relay.h"
#include "shmem.h"
#include "worker_conn.h"


/* Backoff: first retry after this, doubling up to the cap. */
#define KZ_BACKOFF_FIRST_MS		200
#define KZ_BACKOFF_CAP_MS		5000

/* After a streak of failures only every Nth is logged. */
#define KZ_LOG_EVERY_FAILURES	10

KzBusState	kz_bus;

static int	failures = 0;
static TimestampTz next_attempt = 0;

TimestampTz
kz_conn_next_attempt(void)
{
	return next_attempt;
}

/*
 * The top of the worker's loop: a connection that failed under a handler
 * during the last round is torn down here, once.
 */
void
kz_conn_teardown_if_broken(void)
{
	if (kz_bus.broken)
		kz_conn_lost(kz_bus.broken_why);
}

void
kz_conn_reset_backoff(void)
{
	failures = 0;
	next_attempt = 0;
}

/* The delay before the next attempt: exponential, capped, +/- 20%. */
static int
backoff_ms(void)
{
	int			shift = Min(failures, 10);
	int			ms = Min(KZ_BACKOFF_CAP_MS, KZ_BACKOFF_FIRST_MS << shift);
	int			jitter = ms / 5;

	return ms - jitter + (int) (pg_prng_uint64(&pg_global_prng_state) % (2 * jitter + 1));
}

/*
 * The i-th URI of kz_globals.amqp_uri, trimmed, as the setting holds it
 * (password masked, for log lines) into *shown, and with its password put
 * back into *real; false past the end.
 */
static bool
uri_at(int i, char **shown, char **real)
{
	const char *pos = kz_amqp_uri ? kz_amqp_uri : "";
	const char *start;
	const char *end;
	StringInfoData buf;
	int			n;

	for (n = 0; kz_uri_next(&pos, &start, &end); n++)
	{
		if (n < i)
			continue;
		*shown = pnstrdup(start, end - start);
		initStringInfo(&buf);
		kz_uri_unmask(start, end, kz_amqp_uri_secret(i), &buf);
		*real = buf.data;
		return true;
	}
	return false;
}

/*
 * The first line of kz_globals.amqp_password_file, for a URI without a
 * password (NULL: use the URI's); false, with err set, if it cannot be
 * read.  The password itself never goes into err.
 */
static bool
password_from_file(const char *shown, char **password, char *err, size_t errlen)
{
	FILE	   *f;
	char		line[1024];

	*password = NULL;
	if (kz_amqp_password_file == NULL || kz_amqp_password_file[0] == '\0' ||
		strstr(shown, ":" KZ_URI_MASK "@") != NULL)
		return true;
	f = AllocateFile(kz_amqp_password_file, "r");
	if (f == NULL)
	{
		snprintf(err, errlen, "cannot open kz_globals.amqp_password_file \"%s\": %m",
				 kz_amqp_password_file);
		return false;
	}
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	FreeFile(f);
	line[strcspn(line, "\r\n")] = '\0';
	*password = pstrdup(line);
	explicit_bzero(line, sizeof(line));
	return true;
}

/* Our queue: the node name (cut to fit) and the session. */
static void
make_queue_name(void)
{
	char		node[KZ_SHORTSTR_MAX - 40];

	strlcpy(node, kz_node_name, sizeof(node));
	snprintf(kz_bus.queue, sizeof(kz_bus.queue), "%s-kz_globals-%016" PRIx64,
			 node, kz_bus.session);
}

static bool
try_uri(const char *shown, const char *uri, char *err, size_t errlen)
{
	KzAmqpConfig config;
	char	   *name = psprintf("kz_globals %s", kz_node_name);
	char		app_id[17];
	char	   *password;
	bool		ok;

	if (!password_from_file(shown, &password, err, errlen))
		return false;

	/*
	 * A fresh session per connection: Msg-ID prefix, queue, app-id.  It is
	 * KZ_SESSION_BITS wide, so that it fits Kazoo's 16-digit Msg-IDs with a
	 * sequence number.
	 */
	do
	{
		kz_bus.session = pg_prng_uint64(&pg_global_prng_state) & KZ_SESSION_MASK;
	} while (kz_bus.session == 0);
	snprintf(app_id, sizeof(app_id), "%016" PRIx64, kz_bus.session);
	make_queue_name();

	memset(&config, 0, sizeof(config));
	config.uri = uri;
	config.password = password;
	config.cacert = kz_amqp_cacert;
	config.cert = kz_amqp_cert;
	config.key = kz_amqp_key;
	config.verify = kz_amqp_verify;
	config.heartbeat_s = KZ_AMQP_HEARTBEAT_S;
	config.timeout_ms = KZ_AMQP_TIMEOUT_MS;
	config.max_body = KZ_MAX_BODY(kz_max_message_size);
	config.connection_name = name;
	config.app_id = app_id;
	ok = kz_amqp_connect(&config, err, errlen) &&
		kz_amqp_declare(kz_bus.queue, kz_queue_max_length, err, errlen);
	if (password != NULL)
	{
		explicit_bzero(password, strlen(password));
		pfree(password);
	}
	return ok;
}

static void
on_connected(const char *uri, TimestampTz now)
{
	char		masked[1024];

	kz_mask_uri(uri, masked, sizeof(masked));
	ereport(LOG,
			(errmsg("kz_globals connected to %s as node \"%s\"", masked, kz_node_name)));
	kz_bus.up = true;
	kz_bus.connected_at = now;
	failures = 0;
	pg_atomic_write_u32(&kz_shared->broker_failures, 0);
	pg_atomic_write_u32(&kz_shared->broker_state, KZ_BROKER_CONNECTED);
	KZ_STAT_INC(broker_connects);
	kz_member_connected();
}

static void
on_failed(const char *uri, const char *err, TimestampTz now)
{
	char		masked[1024];
	int			delay;

	failures++;
	pg_atomic_write_u32(&kz_shared->broker_failures, (uint32) failures);
	delay = backoff_ms();
	next_attempt = TimestampTzPlusMilliseconds(now, delay);
	kz_mask_uri(uri, masked, sizeof(masked));
	if (failures == 1 || failures % KZ_LOG_EVERY_FAILURES == 0)
		ereport(LOG,
				(errmsg("kz_globals cannot connect to the broker: %s", err),
				 errdetail("Tried %s; attempt %d, next in %d ms.", masked, failures, delay)));
}

/* One attempt: every URI of the list, in order. */
static void
connect_now(TimestampTz now)
{
	char		err[512] = "no broker URI";
	char	   *last = NULL;
	char	   *shown;
	char	   *uri;
	int			i;

	for (i = 0; uri_at(i, &shown, &uri); i++)
	{
		bool		ok = try_uri(shown, uri, err, sizeof(err));

		explicit_bzero(uri, strlen(uri));
		pfree(uri);
		if (ok)
		{
			on_connected(shown, now);
			return;
		}
		last = shown;
	}
	on_failed(last ? last : "", err, now);
}

void
kz_conn_service(TimestampTz now)
{
	if (!kz_cluster_configured())
	{
		if (kz_bus.up)
		{
			kz_amqp_close_gracefully(KZ_AMQP_CLOSE_MS);
			kz_conn_lost("kz_globals.amqp_uri was emptied");
		}
		pg_atomic_write_u32(&kz_shared->broker_state, KZ_BROKER_DISABLED);
		return;
	}
	if (kz_bus.up)
		return;
	pg_atomic_write_u32(&kz_shared->broker_state, KZ_BROKER_CONNECTING);
	if (now >= next_attempt)
		connect_now(now);
}

void
kz_conn_lost(const char *why)
{
	if (!kz_bus.up)
		return;
	kz_amqp_close();
	kz_bus.up = false;
	kz_bus.ready = false;
	kz_bus.broken = false;
	pg_atomic_write_u32(&kz_shared->membership_ready, 0);
	pg_atomic_write_u32(&kz_shared->broker_state,
						kz_cluster_configured() ? KZ_BROKER_CONNECTING : KZ_BROKER_DISABLED);
	KZ_STAT_INC(broker_disconnects);
	ereport(LOG,
			(errmsg("kz_globals lost its broker connection: %s", why)));
	kz_outbox_reset();
	kz_inflight_fail_all();
	kz_relay_fail_all();
	kz_member_disconnected();
	failures = 0;
	next_attempt = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), backoff_ms());
}

/*
 * The worker is exiting (server shutdown, or an error that ends it): leave
 * the broker with connection.close rather than a dropped socket.  Runs in
 * a before_shmem_exit callback: touches nothing but the connection.
 */
void
kz_conn_shutdown(void)
{
	if (!kz_bus.up)
		return;
	kz_bus.up = false;
	kz_bus.ready = false;
	kz_amqp_close_gracefully(KZ_AMQP_CLOSE_MS);
}
