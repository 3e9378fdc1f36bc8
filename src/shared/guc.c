/*-------------------------------------------------------------------------
 *
 * guc.c
 *	  Definitions, defaults and checks of the kz_globals.* parameters.
 *
 * Parameters that size shared memory or identify the node on the bus are
 * PGC_POSTMASTER and exist only when the library is preloaded; the others
 * are defined in every process that loads the library.  The broker URI,
 * the password file and the TLS files are superuser-only.  A password in
 * the broker URI never becomes part of the setting's value: the check hook
 * moves it aside (see KzUriSecrets), so SHOW, every column of pg_settings,
 * PostgreSQL's own log lines about the setting (in any language) and its
 * errors only ever see "********".
 *
 * IDENTIFICATION
 *	  src/shared/guc.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "postmaster/postmaster.h"
#include "utils/guc.h"

#include "amqp_conn.h"
#include "broker_uri.h"
#include "compat.h"
#include "guc.h"
#include "kz_types.h"
#include "kz_types.h"



char	   *kz_amqp_uri = NULL;
char	   *kz_amqp_password_file = NULL;
char	   *kz_node_name = NULL;
char	   *kz_zone = NULL;
int			kz_max_names = 10000;
int			kz_max_names_per_role = 0;
int			kz_max_group_members = 10000;
char	   *kz_reserved_prefixes = NULL;
int			kz_request_timeout = 2000;
int			kz_heartbeat_interval = 1000;
bool		kz_query_on_miss = true;
int			kz_mailbox_size = 256;
int			kz_max_message_size = 8192;
int			kz_max_meta_size = 1024;
int			kz_meta_pool_size = 1024;
int			kz_queue_max_length = 100000;
int			kz_on_conflict = KZ_ON_CONFLICT_NOTIFY;
char	   *kz_amqp_cacert = NULL;
char	   *kz_amqp_cert = NULL;
char	   *kz_amqp_key = NULL;
int			kz_amqp_verify = KZ_VERIFY_FULL;
char	   *kz_bus_key_file = NULL;
bool		kz_bus_require_signature = false;

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
 * The passwords of kz_globals.amqp_uri's elements, in order ("" for an
 * element without one), as the check hook took them out of the value: the
 * setting itself only ever holds the URIs with their passwords masked, so
 * that no view, log line or error can show them.  A GUC "extra" block:
 * the count, then the passwords, each NUL-terminated.
 */
typedef struct KzUriSecrets
{
	int			n;
	char		data[FLEXIBLE_ARRAY_MEMBER];
} KzUriSecrets;

static const KzUriSecrets *uri_secrets = NULL;

void
kz_mask_uri(const char *uri, char *buf, size_t bufsize)
{
	StringInfoData out;

	initStringInfo(&out);
	kz_uri_mask_list(uri, &out);
	strlcpy(buf, out.data, bufsize);
	pfree(out.data);
}

const char *
kz_amqp_uri_secret(int i)
{
	const char *p;

	if (uri_secrets == NULL || i < 0 || i >= uri_secrets->n)
		return "";
	for (p = uri_secrets->data; i > 0; i--)
		p += strlen(p) + 1;
	return p;
}

uint64
kz_amqp_secrets_hash(void)
{
	const char *end;
	int			i;

	if (uri_secrets == NULL)
		return 0;
	end = uri_secrets->data;
	for (i = 0; i < uri_secrets->n; i++)
		end += strlen(end) + 1;
	return hash_bytes_extended((const unsigned char *) uri_secrets->data,
							   end - uri_secrets->data, uri_secrets->n);
}

/* Replaces a GUC string value (malloc'd by the GUC machinery) with s. */
static bool
replace_guc_string(char **value, const char *s)
{
	char	   *copy = KZ_GUC_MALLOC(strlen(s) + 1);

	if (copy == NULL)
		return false;
	strcpy(copy, s);
	KZ_GUC_FREE(*value);
	*value = copy;
	return true;
}

/*
 * Every element of the list must be an amqp:// or amqps:// URI.  Passwords
 * are moved out of the value into *extra (see KzUriSecrets); the value,
 * even a rejected one (which PostgreSQL logs), keeps them masked.
 */
static bool
check_amqp_uri(char **newval, void **extra, GucSource source)
{
	const char *pos = *newval ? *newval : "";
	const char *start;
	const char *end;
	StringInfoData masked;
	StringInfoData secrets;
	KzUriSecrets *block;
	bool		ok = true;
	int			n = 0;

	initStringInfo(&masked);
	initStringInfo(&secrets);
	while (kz_uri_next(&pos, &start, &end))
	{
		if (!kz_uri_scheme_ok(start, end))
			ok = false;
		if (n++ > 0)
			appendStringInfoChar(&masked, ',');
		(void) kz_uri_split(start, end, &masked, &secrets);
		appendStringInfoChar(&secrets, '\0');
	}
	if (!replace_guc_string(newval, masked.data))
		ok = false;
	else if (!ok)
		GUC_check_errdetail("Each broker must be an amqp:// or amqps:// URI.");
	block = ok ? KZ_GUC_MALLOC(offsetof(KzUriSecrets, data) + secrets.len + 1) : NULL;
	if (block != NULL)
	{
		block->n = n;
		memcpy(block->data, secrets.data, secrets.len);
		block->data[secrets.len] = '\0';
		*extra = block;
	}
	explicit_bzero(secrets.data, secrets.maxlen);
	pfree(secrets.data);
	pfree(masked.data);
	return ok && block != NULL;
}

static void
assign_amqp_uri(const char *newval, void *extra)
{
	uri_secrets = (const KzUriSecrets *) extra;
}

/*
 * kz_globals.reserved_prefixes: comma-separated "prefix=role" entries, each
 * with a non-empty prefix (without commas) and a role name.
 */
static bool
check_reserved_prefixes(char **newval, void **extra, GucSource source)
{
	char	   *list;
	char	   *entry;
	char	   *save = NULL;
	bool		ok = true;

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	list = pstrdup(*newval);
	for (entry = strtok_r(list, ",", &save); entry != NULL && ok;
		 entry = strtok_r(NULL, ",", &save))
	{
		char	   *eq = strrchr(entry, '=');
		char	   *p = entry;

		while (*p == ' ')
			p++;
		if (eq == NULL || eq == p || eq[1] == '\0' || strspn(eq + 1, " ") == strlen(eq + 1))
			ok = false;
	}
	pfree(list);
	if (!ok)
		GUC_check_errdetail("Each entry is prefix=role, separated by commas.");
	return ok;
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
							   check_amqp_uri, assign_amqp_uri, NULL);
	DefineCustomIntVariable("kz_globals.queue_max_length",
							"Messages this node's broker queue holds at most; the oldest beyond are dropped and counted (0: no limit).",
							"Takes effect at the next connection to the broker.",
							&kz_queue_max_length, 100000, 0, INT_MAX,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("kz_globals.request_timeout",
							"How long a claim or query waits for replies from the other nodes.",
							NULL, &kz_request_timeout, 2000, 10, 600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("kz_globals.heartbeat_interval",
							"Period of this node's advertisements; peers expire it after three missed periods.",
							NULL, &kz_heartbeat_interval, 1000, 100, 60000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("kz_globals.max_names_per_role",
							"Most local names (registered or being claimed) the backends of one role may hold; 0: no limit.",
							"Superusers are not limited.",
							&kz_max_names_per_role, 0, 0, INT_MAX,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("kz_globals.reserved_prefixes",
							   "Name prefixes reserved for roles: comma-separated prefix=role entries.",
							   "Only members of the role (and superusers) may register a name that starts with the prefix.",
							   &kz_reserved_prefixes, "",
							   PGC_SIGHUP, 0, check_reserved_prefixes, NULL, NULL);
	DefineCustomEnumVariable("kz_globals.on_conflict",
							 "What a backend that loses a name in a conflict gets: notify or terminate.",
							 NULL, &kz_on_conflict, KZ_ON_CONFLICT_NOTIFY,
							 on_conflict_options, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("kz_globals.amqp_password_file",
							   "File whose first line is the broker password, for URIs that give none.",
							   "Read by the background worker each time it connects.",
							   &kz_amqp_password_file, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
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
	DefineCustomStringVariable("kz_globals.bus_key_file",
							   "File of the keys that sign and check messages between kz_globals nodes.",
							   "One or two lines key_id:secret; the first signs, both are accepted.  Read by the background worker at start and on every reload.",
							   &kz_bus_key_file, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	DefineCustomIntVariable("kz_globals.max_meta_size",
							"Largest registration metadata accepted, in bytes of its JSON text.",
							"Larger metadata from SQL is refused; from the bus it is dropped and counted in stats.bus_malformed.",
							&kz_max_meta_size, 1024, 0, KZ_META_MAX_BYTES,
							PGC_SIGHUP, GUC_UNIT_BYTE, NULL, NULL, NULL);
	DefineCustomBoolVariable("kz_globals.bus_require_signature",
							 "Refuses every unsigned message from the bus, Kazoo nodes' included.",
							 NULL, &kz_bus_require_signature, false,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
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
	DefineCustomIntVariable("kz_globals.max_group_members",
							"Size of the shared process-group table: memberships here and on other nodes.",
							NULL, &kz_max_group_members, 10000, 16, 4000000,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("kz_globals.mailbox_size",
							"Messages each backend's mailbox holds.",
							NULL, &kz_mailbox_size, 256, 1, 1000000,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("kz_globals.max_message_size",
							"Largest message, request or reply accepted, in bytes.",
							NULL, &kz_max_message_size, 8192, 64, 1024 * 1024,
							PGC_POSTMASTER, GUC_UNIT_BYTE, NULL, NULL, NULL);
	DefineCustomIntVariable("kz_globals.meta_pool_size",
							"Shared memory for the metadata of every registration this node knows.",
							"Metadata is stored in 64-byte blocks of 60 bytes of text each.",
							&kz_meta_pool_size, 1024, 0, 1024 * 1024,
							PGC_POSTMASTER, GUC_UNIT_KB, NULL, NULL, NULL);
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
 * Masks the current broker passwords in *text wherever one stands as a
 * password does in a URI: after a ':' and before an '@' (so that a user
 * name equal to the password stays readable).
 */
static void
mask_secrets(char **text)
{
	int			i;

	if (*text == NULL || uri_secrets == NULL)
		return;
	for (i = 0; i < uri_secrets->n; i++)
	{
		const char *secret = kz_amqp_uri_secret(i);
		size_t		len = strlen(secret);
		StringInfoData out;
		const char *p;			/* copied up to here */
		const char *q;			/* searched from here */
		const char *hit;

		if (len == 0 || strstr(*text, secret) == NULL)
			continue;
		initStringInfo(&out);
		p = q = *text;
		while ((hit = strstr(q, secret)) != NULL)
		{
			if (hit > *text && hit[-1] == ':' && hit[len] == '@')
			{
				appendBinaryStringInfo(&out, p, hit - p);
				appendStringInfoString(&out, KZ_URI_MASK);
				p = q = hit + len;
			}
			else
				q = hit + 1;
		}
		appendStringInfoString(&out, p);
		*text = out.data;
	}
}

/*
 * PostgreSQL logs every parameter a reload changes with its new value as
 * written in the configuration file, which for kz_globals.amqp_uri holds
 * the password.  The setting's name is never translated, so any message
 * that names it, in any language, has the current passwords masked.
 */
static void
kz_mask_log(ErrorData *edata)
{
	if (edata->message != NULL && strstr(edata->message, "kz_globals.amqp_uri") != NULL)
	{
		mask_secrets(&edata->message);
		mask_secrets(&edata->detail);
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
	const char *pos = kz_amqp_uri ? kz_amqp_uri : "";
	const char *start;
	const char *end;

	return kz_uri_next(&pos, &start, &end);
}
