/*-------------------------------------------------------------------------
 *
 * guc.c
 *	  Definitions, defaults and checks of the kz_globals.* parameters.
 *
 * Parameters that size shared memory or identify the node on the bus are
 * PGC_POSTMASTER and exist only when the library is preloaded; the others
 * are defined in every process that loads the library.  The broker URI and
 * the TLS files are superuser-only, and the URI is shown with its password
 * masked (SHOW, pg_settings) because it is never to appear in a view.
 *
 * IDENTIFICATION
 *	  src/guc.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "lib/stringinfo.h"
#include "postmaster/postmaster.h"
#include "utils/guc.h"

#include "guc.h"
#include "kz_globals.h"

char	   *kz_amqp_uri = NULL;
char	   *kz_node_name = NULL;
char	   *kz_zone = NULL;
int			kz_max_names = 10000;
int			kz_request_timeout = 2000;
int			kz_heartbeat_interval = 1000;
bool		kz_query_on_miss = true;
int			kz_mailbox_size = 256;
int			kz_max_message_size = 8192;
int			kz_on_conflict = KZ_ON_CONFLICT_NOTIFY;
char	   *kz_amqp_cacert = NULL;
char	   *kz_amqp_cert = NULL;
char	   *kz_amqp_key = NULL;
int			kz_amqp_verify = KZ_VERIFY_FULL;

static const struct config_enum_entry on_conflict_options[] = {
	{"notify", KZ_ON_CONFLICT_NOTIFY, false},
	{"terminate", KZ_ON_CONFLICT_TERMINATE, false},
	{NULL, 0, false}
};

static const struct config_enum_entry verify_options[] = {
	{"full", KZ_VERIFY_FULL, false},
	{"peer", KZ_VERIFY_PEER, false},
	{"none", KZ_VERIFY_NONE, false},
	{"on", KZ_VERIFY_FULL, true},
	{"true", KZ_VERIFY_FULL, true},
	{"off", KZ_VERIFY_NONE, true},
	{"false", KZ_VERIFY_NONE, true},
	{NULL, 0, false}
};

/*
 * Masks the password of every URI in a comma-separated list: the part of the
 * authority between the first ':' and the last '@' before the host.
 */
void
kz_mask_uri(const char *uri, char *buf, size_t bufsize)
{
	StringInfoData out;
	const char *p = uri ? uri : "";

	initStringInfo(&out);
	while (*p)
	{
		const char *end = strchr(p, ',');
		const char *auth;
		const char *slash;
		const char *at = NULL;
		const char *colon = NULL;
		const char *q;

		if (end == NULL)
			end = p + strlen(p);
		auth = strstr(p, "://");
		auth = (auth && auth < end) ? auth + 3 : p;
		slash = auth;
		while (slash < end && *slash != '/')
			slash++;
		for (q = auth; q < slash; q++)
		{
			if (*q == '@')
				at = q;
		}
		if (at)
		{
			for (q = auth; q < at; q++)
			{
				if (*q == ':')
				{
					colon = q;
					break;
				}
			}
		}
		if (colon)
		{
			appendBinaryStringInfo(&out, p, colon + 1 - p);
			appendStringInfoString(&out, "********");
			appendBinaryStringInfo(&out, at, end - at);
		}
		else
			appendBinaryStringInfo(&out, p, end - p);
		p = end;
		if (*p == ',')
		{
			appendStringInfoChar(&out, ',');
			p++;
		}
	}
	strlcpy(buf, out.data, bufsize);
	pfree(out.data);
}

/* SHOW and pg_settings display the URI list without passwords. */
static const char *
show_amqp_uri(void)
{
	static char buf[1024];

	kz_mask_uri(kz_amqp_uri, buf, sizeof(buf));
	return buf;
}

/*
 * Every element of the list must be an amqp:// or amqps:// URI.  Whitespace
 * around commas is allowed.
 */
static bool
check_amqp_uri(char **newval, void **extra, GucSource source)
{
	const char *p = *newval ? *newval : "";

	while (*p)
	{
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		if (strncmp(p, "amqp://", 7) != 0 && strncmp(p, "amqps://", 8) != 0)
		{
			GUC_check_errdetail("Each broker must be an amqp:// or amqps:// URI.");
			return false;
		}
		while (*p && *p != ',')
			p++;
	}
	return true;
}

/* Node names go into JSON and AMQP short strings: printable ASCII only. */
static bool
check_node_name(char **newval, void **extra, GucSource source)
{
	const char *p;

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;			/* replaced by the default in kz_guc_init */
	if (strlen(*newval) >= KZ_NODE_NAME_MAX - 1)
	{
		GUC_check_errdetail("A node name is at most %d bytes.", KZ_NODE_NAME_MAX - 2);
		return false;
	}
	for (p = *newval; *p; p++)
	{
		if (*p <= ' ' || *p > '~' || *p == '"' || *p == '\\')
		{
			GUC_check_errdetail("A node name is printable ASCII without spaces, quotes or backslashes.");
			return false;
		}
	}
	return true;
}

static bool
check_zone(char **newval, void **extra, GucSource source)
{
	if (*newval && strlen(*newval) >= KZ_ZONE_MAX)
	{
		GUC_check_errdetail("A zone is at most %d bytes.", KZ_ZONE_MAX - 1);
		return false;
	}
	return check_node_name(newval, extra, source);
}

/* The default node name: pg<port>@<hostname>, like an Erlang node name. */
static char *
default_node_name(void)
{
	char		host[256];
	char	   *dot;

	if (gethostname(host, sizeof(host)) != 0)
		strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	/* Erlang short names stop at the first dot; keep the name short too. */
	dot = strchr(host, '.');
	if (dot)
		*dot = '\0';
	return psprintf("pg%d@%s", PostPortNumber, host);
}

static void
define_sighup_gucs(void)
{
	DefineCustomStringVariable("kz_globals.amqp_uri",
							   "Broker URIs (amqp:// or amqps://, comma-separated); empty for single-server mode.",
							   NULL, &kz_amqp_uri, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   check_amqp_uri, NULL, show_amqp_uri);
	DefineCustomIntVariable("kz_globals.request_timeout",
							"How long a claim or query waits for replies from the other nodes.",
							NULL, &kz_request_timeout, 2000, 10, 600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("kz_globals.heartbeat_interval",
							"Period of this node's advertisements; peers expire it after three missed periods.",
							NULL, &kz_heartbeat_interval, 1000, 100, 60000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomEnumVariable("kz_globals.on_conflict",
							 "What a backend that loses a name in a conflict gets: notify or terminate.",
							 NULL, &kz_on_conflict, KZ_ON_CONFLICT_NOTIFY,
							 on_conflict_options, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("kz_globals.amqp_cacert",
							   "CA certificate file used to verify the broker (amqps://).",
							   NULL, &kz_amqp_cacert, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	DefineCustomStringVariable("kz_globals.amqp_cert",
							   "Client certificate file presented to the broker (amqps://).",
							   NULL, &kz_amqp_cert, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	DefineCustomStringVariable("kz_globals.amqp_key",
							   "Private key file of the client certificate (amqps://).",
							   NULL, &kz_amqp_key, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	DefineCustomEnumVariable("kz_globals.amqp_verify",
							 "Broker certificate checks for amqps://: full, peer or none.",
							 NULL, &kz_amqp_verify, KZ_VERIFY_FULL, verify_options,
							 PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
}

static void
define_postmaster_gucs(void)
{
	DefineCustomStringVariable("kz_globals.node_name",
							   "This node's name on the bus.",
							   NULL, &kz_node_name, default_node_name(),
							   PGC_POSTMASTER, 0, check_node_name, NULL, NULL);
	DefineCustomStringVariable("kz_globals.zone",
							   "The zone this node advertises.",
							   NULL, &kz_zone, "local",
							   PGC_POSTMASTER, 0, check_zone, NULL, NULL);
	DefineCustomIntVariable("kz_globals.max_names",
							"Size of the shared name table.",
							NULL, &kz_max_names, 10000, 16, 4000000,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("kz_globals.mailbox_size",
							"Messages each backend's mailbox holds.",
							NULL, &kz_mailbox_size, 256, 1, 1000000,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("kz_globals.max_message_size",
							"Largest message, request or reply accepted, in bytes.",
							NULL, &kz_max_message_size, 8192, 64, 1024 * 1024,
							PGC_POSTMASTER, GUC_UNIT_BYTE, NULL, NULL, NULL);
}

/*
 * Defines every parameter.  The PGC_POSTMASTER ones only while preloading:
 * they cannot be defined once the server runs, and nothing uses them when
 * the library is not preloaded.
 */
void
kz_guc_init(bool preloading)
{
	if (preloading)
		define_postmaster_gucs();
	define_sighup_gucs();
	DefineCustomBoolVariable("kz_globals.query_on_miss",
							 "Whether whereis_name asks the cluster when the local table has no entry.",
							 NULL, &kz_query_on_miss, true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	MarkGUCPrefixReserved("kz_globals");
}

static emit_log_hook_type prev_emit_log_hook = NULL;

/*
 * PostgreSQL logs every parameter a reload changes with its new value,
 * which for kz_globals.amqp_uri would show the password.  This hook
 * rewrites that one message with the password masked.
 */
static void
kz_mask_log(ErrorData *edata)
{
	static const char prefix[] = "parameter \"kz_globals.amqp_uri\" changed to \"";

	if (edata->message && strncmp(edata->message, prefix, sizeof(prefix) - 1) == 0)
	{
		const char *value = edata->message + sizeof(prefix) - 1;
		size_t		len = strlen(value);
		char	   *raw = pnstrdup(value, len > 0 ? len - 1 : 0);
		char		masked[1024];

		kz_mask_uri(raw, masked, sizeof(masked));
		edata->message = psprintf("%s%s\"", prefix, masked);
	}
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

void
kz_guc_mask_log_init(void)
{
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = kz_mask_log;
}

bool
kz_cluster_configured(void)
{
	const char *p = kz_amqp_uri ? kz_amqp_uri : "";

	while (*p == ' ' || *p == '\t' || *p == ',')
		p++;
	return *p != '\0';
}
