/*-------------------------------------------------------------------------
 *
 * amqp_conn.c
 *	  The worker's connection to RabbitMQ (see amqp_conn.h).
 *
 * rabbitmq-c has no thread of its own: it reads, decodes and keeps
 * heartbeats only while called.  The worker therefore calls kz_amqp_pump
 * whenever the socket is readable and at least every half heartbeat, and
 * does not sleep while the library still holds frames or bytes.  Message
 * content (method, header, body frames) is reassembled here without the
 * library's readers, which would wait for missing frames without bound.
 *
 * On any error the connection is torn down with amqp_destroy_connection
 * alone: closing politely is a synchronous RPC that may hang on a broken
 * socket.  Only a worker that leaves a healthy connection (the server shuts
 * down, the URI was emptied) closes it politely, with a short time limit.
 *
 * IDENTIFICATION
 *	  src/conn/amqp_conn.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "lib/stringinfo.h"
#include "storage/fd.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "amqp_conn.h"
#include "kz_types.h"
#include "rabbitmq_c.h"

/*
 * Two channels.  KZ_CHANNEL consumes and publishes what needs the broker's
 * confirm (sends, calls, replies: a backend waits to hear they were
 * routed); it is in confirm mode.  KZ_CHANNEL_FAST publishes the rest
 * (registry broadcasts, claim answers, heartbeats, syncs), which nobody
 * waits on: no confirm means one frame less per message from the broker
 * and one wake-up less of the worker.  Events about one name all take the
 * fast channel, so they keep their order (SPEC section 5, fix 6).
 */
#define KZ_CHANNEL			1
#define KZ_CHANNEL_FAST		2

/*
 * A third channel declares kz_globals' own exchange for process groups and
 * binds and unbinds our queue on it: a broker account without permission
 * for that exchange (an older recipe) gets only this channel closed, and
 * the connection goes on without process groups.
 */
#define KZ_CHANNEL_GROUPS	3
#define KZ_FRAME_MAX		131072

/* Consumer tags, and the name of the queue our full queue overflows to. */
#define KZ_MAIN_TAG			"kz-main"
#define KZ_OVERFLOW_TAG		"kz-overflow"
#define KZ_OVERFLOW_SUFFIX	".overflow"

/* What the reassembly of an incoming message waits for. */
typedef enum ContentState
{
	CONTENT_IDLE,				/* a method frame */
	CONTENT_HEADER,				/* the header frame of a deliver or return */
	CONTENT_BODY				/* body frames */
} ContentState;

static amqp_connection_state_t conn = NULL;
static bool fd_reserved = false;
static bool blocked = false;
static uint64 next_tag = 0;
static size_t max_body = 0;
static char app_id[KZ_SHORTSTR_MAX + 1];
static char login_user[KZ_SHORTSTR_MAX + 1];
static bool groups_usable = false;
static char groups_why[256];

/* reassembly of the message being received */
static ContentState content_state = CONTENT_IDLE;
static KzAmqpEventKind content_kind;
static int	content_reply_code;
static uint64 content_size;
static bool content_discard;
static bool content_own;		/* our own broadcast coming back */
static bool content_targeted;	/* delivered through the targeted exchange */
static StringInfoData content_body;
static char content_message_id[KZ_SHORTSTR_MAX + 1];
static bool content_has_message_id;
/* what a signature covers: the deliver's exchange and routing key, and
 * the header's app-id, user-id and signature (NULL: absent) */
static char content_exchange[KZ_SHORTSTR_MAX + 1];
static char content_routing_key[KZ_SHORTSTR_MAX + 1];
static char content_app_id[KZ_SHORTSTR_MAX + 1];
static char content_user_id[KZ_SHORTSTR_MAX + 1];
static char content_auth[KZ_SHORTSTR_MAX + 1];
static bool content_has_app_id;
static bool content_has_user_id;
static bool content_has_auth;

static void
set_error(char *err, size_t errlen, const char *fmt,...) pg_attribute_printf(3, 4);

static void
set_error(char *err, size_t errlen, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Describes a failed RPC for the log. */
static void
describe_reply(amqp_rpc_reply_t reply, const char *what, char *err, size_t errlen)
{
	switch (reply.reply_type)
	{
		case AMQP_RESPONSE_NORMAL:
			set_error(err, errlen, "%s: ok", what);
			break;
		case AMQP_RESPONSE_NONE:
			set_error(err, errlen, "%s: no reply from the broker", what);
			break;
		case AMQP_RESPONSE_LIBRARY_EXCEPTION:
			set_error(err, errlen, "%s: %s", what, amqp_error_string2(reply.library_error));
			break;
		case AMQP_RESPONSE_SERVER_EXCEPTION:
			if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD ||
				reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD)
			{
				/* both methods start with reply_code and reply_text */
				amqp_channel_close_t *m = (amqp_channel_close_t *) reply.reply.decoded;

				set_error(err, errlen, "%s: broker refused: %d %.*s", what,
						  m->reply_code, (int) m->reply_text.len,
						  (const char *) m->reply_text.bytes);
			}
			else
				set_error(err, errlen, "%s: broker error", what);
			break;
	}
}

static bool
rpc_ok(const char *what, char *err, size_t errlen)
{
	amqp_rpc_reply_t reply = amqp_get_rpc_reply(conn);

	if (reply.reply_type == AMQP_RESPONSE_NORMAL)
		return true;
	describe_reply(reply, what, err, errlen);
	return false;
}

void
kz_amqp_close(void)
{
	if (conn != NULL)
	{
		amqp_destroy_connection(conn);
		conn = NULL;
	}
	if (fd_reserved)
	{
		ReleaseExternalFD();
		fd_reserved = false;
	}
	blocked = false;
	groups_usable = false;
	content_state = CONTENT_IDLE;
}

bool
kz_amqp_is_open(void)
{
	return conn != NULL;
}

int
kz_amqp_socket(void)
{
	return conn ? amqp_get_sockfd(conn) : -1;
}

bool
kz_amqp_has_buffered(void)
{
	return conn != NULL &&
		(amqp_frames_enqueued(conn) || amqp_data_in_buffer(conn));
}

bool
kz_amqp_blocked(void)
{
	return blocked;
}

static struct timeval
ms_to_timeval(int ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}

void
kz_amqp_close_gracefully(int timeout_ms)
{
	struct timeval tv = ms_to_timeval(timeout_ms);

	if (conn == NULL)
		return;
	/* a broken socket or a silent broker cost at most timeout_ms */
	amqp_set_rpc_timeout(conn, &tv);
	(void) amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
	kz_amqp_close();
}

static bool
is_ip_literal(const char *host)
{
	struct in6_addr addr;

	return inet_pton(AF_INET, host, &addr) == 1 || inet_pton(AF_INET6, host, &addr) == 1;
}

/*
 * TLS settings for an amqps:// broker.  rabbitmq-c 0.11 checks only DNS
 * names against the certificate, so a broker given by IP address is checked
 * by OpenSSL against the certificate's IP addresses instead.
 */
static bool
setup_tls(amqp_socket_t *sock, const KzAmqpConfig *config, const char *host,
		  char *err, size_t errlen)
{
	SSL_CTX    *ctx = amqp_ssl_socket_get_context(sock);
	bool		check_name = config->verify == KZ_VERIFY_FULL;

	amqp_ssl_socket_set_ssl_versions(sock, AMQP_TLSv1_2, AMQP_TLSvLATEST);
	if (config->cacert && config->cacert[0])
	{
		if (amqp_ssl_socket_set_cacert(sock, config->cacert) != AMQP_STATUS_OK)
		{
			set_error(err, errlen, "cannot load kz_globals.amqp_cacert \"%s\"", config->cacert);
			return false;
		}
	}
	else
		SSL_CTX_set_default_verify_paths(ctx);
	if (config->cert && config->cert[0])
	{
		if (amqp_ssl_socket_set_key(sock, config->cert, config->key) != AMQP_STATUS_OK)
		{
			set_error(err, errlen, "cannot load kz_globals.amqp_cert \"%s\" or its key", config->cert);
			return false;
		}
	}
	amqp_ssl_socket_set_verify_peer(sock, config->verify != KZ_VERIFY_NONE);
	if (check_name && is_ip_literal(host))
	{
		amqp_ssl_socket_set_verify_hostname(sock, 0);
		X509_VERIFY_PARAM_set1_ip_asc(SSL_CTX_get0_param(ctx), host);
	}
	else
		amqp_ssl_socket_set_verify_hostname(sock, check_name);
	return true;
}

/* The client properties: capabilities rabbitmq-c 0.11 does not announce. */
static amqp_rpc_reply_t
login(const KzAmqpConfig *config, struct amqp_connection_info *info)
{
	amqp_table_entry_t caps[2];
	amqp_table_entry_t props[2];
	amqp_table_t caps_table;
	amqp_table_t props_table;

	caps[0].key = amqp_cstring_bytes("connection.blocked");
	caps[0].value.kind = AMQP_FIELD_KIND_BOOLEAN;
	caps[0].value.value.boolean = 1;
	caps[1].key = amqp_cstring_bytes("consumer_cancel_notify");
	caps[1].value.kind = AMQP_FIELD_KIND_BOOLEAN;
	caps[1].value.value.boolean = 1;
	caps_table.num_entries = 2;
	caps_table.entries = caps;

	props[0].key = amqp_cstring_bytes("capabilities");
	props[0].value.kind = AMQP_FIELD_KIND_TABLE;
	props[0].value.value.table = caps_table;
	props[1].key = amqp_cstring_bytes("connection_name");
	props[1].value.kind = AMQP_FIELD_KIND_UTF8;
	props[1].value.value.bytes = amqp_cstring_bytes(config->connection_name);
	props_table.num_entries = 2;
	props_table.entries = props;

	return amqp_login_with_properties(conn, info->vhost, 0, KZ_FRAME_MAX,
									  config->heartbeat_s, &props_table,
									  AMQP_SASL_METHOD_PLAIN, info->user,
									  config->password ? config->password : info->password);
}

/*
 * Every write to the broker gives up after timeout_ms: a broker that stops
 * reading (a blocked connection under a resource alarm, a stalled peer)
 * fills the socket's buffer, and rabbitmq-c writes without a deadline.  A
 * write that times out fails the publish, and the worker drops the
 * connection and reconnects, instead of hanging where SIGTERM cannot reach.
 */
static void
bound_writes(int fd, int timeout_ms)
{
	struct timeval tv = ms_to_timeval(timeout_ms);

	if (fd >= 0)
		(void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Opens the socket, with TLS for amqps://. */
static bool
open_socket(const KzAmqpConfig *config, struct amqp_connection_info *info,
			char *err, size_t errlen)
{
	struct timeval tv = ms_to_timeval(config->timeout_ms);
	amqp_socket_t *sock;
	int			rc;

	sock = info->ssl ? amqp_ssl_socket_new(conn) : amqp_tcp_socket_new(conn);
	if (sock == NULL)
	{
		set_error(err, errlen, "cannot create a socket");
		return false;
	}
	if (info->ssl && !setup_tls(sock, config, info->host, err, errlen))
		return false;
	rc = amqp_socket_open_noblock(sock, info->host, info->port, &tv);
	if (rc != AMQP_STATUS_OK)
	{
		set_error(err, errlen, "cannot connect to %s:%d: %s",
				  info->host, info->port, amqp_error_string2(rc));
		return false;
	}
	bound_writes(amqp_socket_get_sockfd(sock), config->timeout_ms);
	return true;
}

bool
kz_amqp_connect(const KzAmqpConfig *config, char *err, size_t errlen)
{
	struct amqp_connection_info info;
	struct timeval tv = ms_to_timeval(config->timeout_ms);
	char	   *uri = pstrdup(config->uri);
	amqp_rpc_reply_t reply;

	kz_amqp_close();
	if (amqp_parse_url(uri, &info) != AMQP_STATUS_OK)
	{
		set_error(err, errlen, "cannot parse the broker URI");
		return false;
	}
	if (!AcquireExternalFD())
	{
		set_error(err, errlen, "no file descriptor available for the broker connection");
		return false;
	}
	fd_reserved = true;
	conn = amqp_new_connection();
	if (conn == NULL)
	{
		set_error(err, errlen, "out of memory");
		kz_amqp_close();
		return false;
	}
	amqp_set_handshake_timeout(conn, &tv);
	amqp_set_rpc_timeout(conn, &tv);
	max_body = config->max_body;
	strlcpy(app_id, config->app_id ? config->app_id : "", sizeof(app_id));
	strlcpy(login_user, info.user ? info.user : "", sizeof(login_user));
	next_tag = 0;

	if (!open_socket(config, &info, err, errlen))
	{
		kz_amqp_close();
		return false;
	}
	reply = login(config, &info);
	if (reply.reply_type != AMQP_RESPONSE_NORMAL)
	{
		describe_reply(reply, "login", err, errlen);
		kz_amqp_close();
		return false;
	}
	amqp_channel_open(conn, KZ_CHANNEL);
	if (!rpc_ok("channel.open", err, errlen))
	{
		kz_amqp_close();
		return false;
	}
	return true;
}

static bool
declare_exchange(const char *name, const char *type, char *err, size_t errlen)
{
	/* Kazoo's defaults: not durable, not auto-delete, not internal */
	amqp_exchange_declare(conn, KZ_CHANNEL, amqp_cstring_bytes(name),
						  amqp_cstring_bytes(type), 0, 0, 0, 0, amqp_empty_table);
	return rpc_ok("exchange.declare", err, errlen);
}

static bool
bind_on(int channel, const char *queue, const char *exchange, const char *key,
		char *err, size_t errlen)
{
	amqp_queue_bind(conn, channel, amqp_cstring_bytes(queue),
					amqp_cstring_bytes(exchange), amqp_cstring_bytes(key),
					amqp_empty_table);
	return rpc_ok("queue.bind", err, errlen);
}

static bool
bind_queue(const char *queue, const char *exchange, const char *key,
		   char *err, size_t errlen)
{
	return bind_on(KZ_CHANNEL, queue, exchange, key, err, errlen);
}

/*
 * The last RPC on the groups channel: true if it succeeded.  A refusal
 * that closed only that channel is acknowledged and noted in groups_why
 * (*fatal false); anything else ends the connection (*fatal true, err set).
 */
static bool
groups_rpc_ok(const char *what, bool *fatal, char *err, size_t errlen)
{
	amqp_rpc_reply_t reply = amqp_get_rpc_reply(conn);

	*fatal = false;
	if (reply.reply_type == AMQP_RESPONSE_NORMAL)
		return true;
	if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
		reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD)
	{
		amqp_channel_close_ok_t ok;

		describe_reply(reply, what, groups_why, sizeof(groups_why));
		amqp_send_method(conn, KZ_CHANNEL_GROUPS, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
		return false;
	}
	describe_reply(reply, what, err, errlen);
	*fatal = true;
	return false;
}

/*
 * Process groups: kz_globals' own direct exchange, and our queue bound
 * under KZ_GROUPS_MEMBERS_KEY, on the groups channel.  False only if the
 * connection failed; groups_usable says whether the broker allowed it.
 */
static bool
declare_groups(const char *queue, char *err, size_t errlen)
{
	bool		fatal;

	groups_usable = false;
	strlcpy(groups_why, "not declared", sizeof(groups_why));
	amqp_channel_open(conn, KZ_CHANNEL_GROUPS);
	if (!rpc_ok("channel.open", err, errlen))
		return false;
	amqp_exchange_declare(conn, KZ_CHANNEL_GROUPS, amqp_cstring_bytes(KZ_EXCHANGE_GROUPS),
						  amqp_cstring_bytes("direct"), 0, 0, 0, 0, amqp_empty_table);
	if (!groups_rpc_ok("exchange.declare " KZ_EXCHANGE_GROUPS, &fatal, err, errlen))
		return !fatal;
	amqp_queue_bind(conn, KZ_CHANNEL_GROUPS, amqp_cstring_bytes(queue),
					amqp_cstring_bytes(KZ_EXCHANGE_GROUPS),
					amqp_cstring_bytes(KZ_GROUPS_MEMBERS_KEY), amqp_empty_table);
	if (!groups_rpc_ok("queue.bind on " KZ_EXCHANGE_GROUPS, &fatal, err, errlen))
		return !fatal;
	groups_usable = true;
	groups_why[0] = '\0';
	return true;
}

/* Sets entry to a long-string (or, with str NULL, long-integer) argument. */
static void
queue_arg(amqp_table_entry_t *entry, const char *key, const char *str, int64 num)
{
	entry->key = amqp_cstring_bytes(key);
	if (str != NULL)
	{
		entry->value.kind = AMQP_FIELD_KIND_UTF8;
		entry->value.value.bytes = amqp_cstring_bytes(str);
	}
	else
	{
		entry->value.kind = AMQP_FIELD_KIND_I64;
		entry->value.value.i64 = num;
	}
}

/*
 * Declares queue (exclusive and auto-delete: it goes away with the
 * connection) and starts consuming it under consumer tag.  With max_length,
 * bounded; with dead_letter too, what the bound drops goes there.
 */
static bool
declare_queue(const char *queue, int max_length, const char *dead_letter,
			  const char *tag, char *err, size_t errlen)
{
	amqp_table_entry_t entries[4];
	amqp_table_t args = {0, entries};

	if (max_length > 0)
	{
		queue_arg(&entries[args.num_entries++], "x-max-length", NULL, max_length);
		queue_arg(&entries[args.num_entries++], "x-overflow", "drop-head", 0);
	}
	if (max_length > 0 && dead_letter != NULL)
	{
		queue_arg(&entries[args.num_entries++], "x-dead-letter-exchange", "", 0);
		queue_arg(&entries[args.num_entries++], "x-dead-letter-routing-key",
				  dead_letter, 0);
	}
	amqp_queue_declare(conn, KZ_CHANNEL, amqp_cstring_bytes(queue),
					   0, 0, 1, 1, args);
	if (!rpc_ok("queue.declare", err, errlen))
		return false;
	amqp_basic_consume(conn, KZ_CHANNEL, amqp_cstring_bytes(queue),
					   amqp_cstring_bytes(tag), 0, 1, 0, amqp_empty_table);
	return rpc_ok("basic.consume", err, errlen);
}

bool
kz_amqp_declare(const char *queue, int max_length, char *err, size_t errlen)
{
	char		overflow[KZ_SHORTSTR_MAX + 1];
	bool		ok;

	if (snprintf(overflow, sizeof(overflow), "%s%s", queue, KZ_OVERFLOW_SUFFIX) >=
		(int) sizeof(overflow))
	{
		set_error(err, errlen, "queue name too long");
		return false;
	}
	ok = declare_exchange(KZ_EXCHANGE_GLOBALS, "topic", err, errlen) &&
		declare_exchange(KZ_EXCHANGE_TARGETED, "direct", err, errlen) &&
		declare_exchange(KZ_EXCHANGE_NODES, "fanout", err, errlen);
	/* the overflow queue first: it must exist when the first drop happens */
	if (ok && max_length > 0)
		ok = declare_queue(overflow, max_length, NULL, KZ_OVERFLOW_TAG, err, errlen);
	ok = ok && declare_queue(queue, max_length, overflow, KZ_MAIN_TAG, err, errlen);
	ok = ok &&
		bind_queue(queue, KZ_EXCHANGE_GLOBALS, KZ_GLOBALS_BINDING, err, errlen) &&
		bind_queue(queue, KZ_EXCHANGE_TARGETED, queue, err, errlen) &&
		bind_queue(queue, KZ_EXCHANGE_NODES, "", err, errlen) &&
		declare_groups(queue, err, errlen);
	if (ok)
	{
		amqp_confirm_select(conn, KZ_CHANNEL);
		ok = rpc_ok("confirm.select", err, errlen);
	}
	if (ok)
	{
		amqp_channel_open(conn, KZ_CHANNEL_FAST);
		ok = rpc_ok("channel.open", err, errlen);
	}
	if (!ok)
		kz_amqp_close();
	return ok;
}

bool
kz_amqp_bind(const char *queue, const char *exchange, const char *key, bool bind,
			 char *err, size_t errlen)
{
	bool		ok;

	if (conn == NULL)
	{
		set_error(err, errlen, "not connected");
		return false;
	}
	if (!groups_usable)
	{
		set_error(err, errlen, "process groups are off on this connection");
		return false;
	}
	if (bind)
		ok = bind_on(KZ_CHANNEL_GROUPS, queue, exchange, key, err, errlen);
	else
	{
		amqp_queue_unbind(conn, KZ_CHANNEL_GROUPS, amqp_cstring_bytes(queue),
						  amqp_cstring_bytes(exchange), amqp_cstring_bytes(key),
						  amqp_empty_table);
		ok = rpc_ok("queue.unbind", err, errlen);
	}
	if (!ok)
		kz_amqp_close();
	return ok;
}

bool
kz_amqp_groups_usable(const char **why)
{
	if (why != NULL)
		*why = groups_why;
	return conn != NULL && groups_usable;
}

const char *
kz_amqp_app_id(void)
{
	return conn ? app_id : "";
}

const char *
kz_amqp_user_id(void)
{
	return conn ? login_user : "";
}

uint64
kz_amqp_publish(const char *exchange, const char *routing_key,
				const char *body, size_t len, bool confirm, bool mandatory,
				const char *message_id, const char *auth, char *err, size_t errlen)
{
	amqp_basic_properties_t props;
	amqp_table_entry_t header;
	amqp_bytes_t bytes;
	int			rc;

	if (conn == NULL)
	{
		set_error(err, errlen, "not connected");
		return 0;
	}
	memset(&props, 0, sizeof(props));
	props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
		AMQP_BASIC_APP_ID_FLAG | AMQP_BASIC_TIMESTAMP_FLAG;
	props.content_type = amqp_cstring_bytes("application/json");
	/* Kazoo stamps each publish with kz_time:now_us(): Gregorian µs. */
	props.timestamp = (uint64_t) (GetCurrentTimestamp() + KZ_GREGORIAN_PG_EPOCH_US);
	props.delivery_mode = 1;	/* transient */
	props.app_id = amqp_cstring_bytes(app_id);
	if (message_id)
	{
		props._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
		props.message_id = amqp_cstring_bytes(message_id);
	}
	/* RabbitMQ checks it: the account that published, for every receiver */
	if (login_user[0])
	{
		props._flags |= AMQP_BASIC_USER_ID_FLAG;
		props.user_id = amqp_cstring_bytes(login_user);
	}
	if (auth)
	{
		header.key = amqp_cstring_bytes(KZ_AUTH_HEADER);
		header.value.kind = AMQP_FIELD_KIND_UTF8;
		header.value.value.bytes = amqp_cstring_bytes(auth);
		props._flags |= AMQP_BASIC_HEADERS_FLAG;
		props.headers.num_entries = 1;
		props.headers.entries = &header;
	}
	bytes.bytes = (void *) body;
	bytes.len = len;
	rc = amqp_basic_publish(conn, confirm ? KZ_CHANNEL : KZ_CHANNEL_FAST,
							amqp_cstring_bytes(exchange),
							amqp_cstring_bytes(routing_key), mandatory, 0,
							&props, bytes);
	if (rc != AMQP_STATUS_OK)
	{
		set_error(err, errlen, "publish failed: %s", amqp_error_string2(rc));
		kz_amqp_close();
		return 0;
	}
	return confirm ? ++next_tag : KZ_AMQP_UNCONFIRMED;
}

/* Starts reassembling the content of a deliver or return. */
static void
content_begin(KzAmqpEventKind kind, int reply_code)
{
	content_state = CONTENT_HEADER;
	content_kind = kind;
	content_reply_code = reply_code;
	content_has_message_id = false;
	content_has_app_id = false;
	content_has_user_id = false;
	content_has_auth = false;
	content_own = false;
	if (content_body.data == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		initStringInfo(&content_body);
		MemoryContextSwitchTo(old);
	}
	resetStringInfo(&content_body);
}

/* Hands a complete message to the handler (our own broadcasts excepted). */
static void
content_end(KzAmqpHandler handler, void *arg)
{
	KzAmqpEvent ev;

	if (content_own)
	{
		content_state = CONTENT_IDLE;
		return;
	}

	memset(&ev, 0, sizeof(ev));
	ev.kind = content_discard && content_kind == KZ_AMQP_DELIVERY ?
		KZ_AMQP_OVERSIZE : content_kind;
	ev.reply_code = content_reply_code;
	ev.message_id = content_has_message_id ? content_message_id : NULL;
	ev.body = content_body.data;
	ev.body_len = content_discard ? 0 : content_body.len;
	ev.targeted = content_kind == KZ_AMQP_DELIVERY && content_targeted;
	if (content_kind == KZ_AMQP_DELIVERY)
	{
		ev.exchange = content_exchange;
		ev.routing_key = content_routing_key;
		ev.app_id = content_has_app_id ? content_app_id : NULL;
		ev.user_id = content_has_user_id ? content_user_id : NULL;
		ev.auth = content_has_auth ? content_auth : NULL;
	}
	content_state = CONTENT_IDLE;
	handler(&ev, arg);
}

/* Copies an AMQP string into buf (a short string's size); false if longer. */
static bool
copy_short(amqp_bytes_t b, char *buf)
{
	if (b.len > KZ_SHORTSTR_MAX)
		return false;
	if (b.len > 0)
		memcpy(buf, b.bytes, b.len);
	buf[b.len] = '\0';
	return true;
}

/*
 * The signature header, if it is a string (and no other header has its
 * name: a message with two is not taken as signed by either).
 */
static void
find_auth_header(const amqp_basic_properties_t *props)
{
	int			i;
	int			found = 0;

	if (!(props->_flags & AMQP_BASIC_HEADERS_FLAG))
		return;
	for (i = 0; i < props->headers.num_entries; i++)
	{
		const amqp_table_entry_t *e = &props->headers.entries[i];

		if (e->key.len != strlen(KZ_AUTH_HEADER) ||
			memcmp(e->key.bytes, KZ_AUTH_HEADER, e->key.len) != 0)
			continue;
		found++;
		/* anything but one plain string is kept as a malformed "?" */
		if (!((e->value.kind == AMQP_FIELD_KIND_UTF8 || e->value.kind == AMQP_FIELD_KIND_BYTES) &&
			  e->value.value.bytes.len > 0 &&
			  memchr(e->value.value.bytes.bytes, '\0', e->value.value.bytes.len) == NULL &&
			  copy_short(e->value.value.bytes, content_auth)))
			strlcpy(content_auth, "?", sizeof(content_auth));
		content_has_auth = true;
	}
	if (found > 1)
		strlcpy(content_auth, "?", sizeof(content_auth));
}

/* What a signature covers, from a delivery's header frame. */
static void
keep_signed_properties(const amqp_basic_properties_t *props)
{
	if (props == NULL || content_kind != KZ_AMQP_DELIVERY)
		return;
	if (props->_flags & AMQP_BASIC_APP_ID_FLAG)
		content_has_app_id = copy_short(props->app_id, content_app_id);
	if (props->_flags & AMQP_BASIC_USER_ID_FLAG)
		content_has_user_id = copy_short(props->user_id, content_user_id);
	find_auth_header(props);
}

static void
on_header(amqp_frame_t *frame, KzAmqpHandler handler, void *arg)
{
	amqp_basic_properties_t *props =
		(amqp_basic_properties_t *) frame->payload.properties.decoded;

	content_size = frame->payload.properties.body_size;
	/*
	 * RabbitMQ delivers a broadcast to our own queue too (it ignores
	 * no_local); recognise it by its app-id and skip it without decoding.
	 */
	content_own = (content_kind == KZ_AMQP_DELIVERY || content_kind == KZ_AMQP_OVERFLOW) &&
		props && app_id[0] &&
		(props->_flags & AMQP_BASIC_APP_ID_FLAG) &&
		props->app_id.len == strlen(app_id) &&
		memcmp(props->app_id.bytes, app_id, props->app_id.len) == 0;
	content_discard = content_own || content_size > max_body ||
		content_kind == KZ_AMQP_OVERFLOW;
	if (props && (props->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) &&
		props->message_id.len <= KZ_SHORTSTR_MAX)
	{
		memcpy(content_message_id, props->message_id.bytes, props->message_id.len);
		content_message_id[props->message_id.len] = '\0';
		content_has_message_id = true;
	}
	if (!content_own)
		keep_signed_properties(props);
	if (content_size == 0)
		content_end(handler, arg);
	else
		content_state = CONTENT_BODY;
}

static void
on_body(amqp_frame_t *frame, KzAmqpHandler handler, void *arg)
{
	amqp_bytes_t frag = frame->payload.body_fragment;

	if (!content_discard)
		appendBinaryStringInfo(&content_body, frag.bytes, frag.len);
	if (content_size <= frag.len)
		content_end(handler, arg);
	else
		content_size -= frag.len;
}

static void
emit_confirm(KzAmqpEventKind kind, uint64 tag, bool multiple,
			 KzAmqpHandler handler, void *arg)
{
	KzAmqpEvent ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	ev.delivery_tag = tag;
	ev.multiple = multiple;
	handler(&ev, arg);
}

/*
 * Acts on a method frame.  Returns false when the frame ends the connection
 * (err says why).
 */
static bool
on_method(amqp_frame_t *frame, KzAmqpHandler handler, void *arg,
		  char *err, size_t errlen)
{
	amqp_method_t *m = &frame->payload.method;

	switch (m->id)
	{
		case AMQP_BASIC_DELIVER_METHOD:
			{
				amqp_basic_deliver_t *d = (amqp_basic_deliver_t *) m->decoded;
				amqp_bytes_t ex = d->exchange;
				bool		overflow = d->consumer_tag.len == strlen(KZ_OVERFLOW_TAG) &&
					memcmp(d->consumer_tag.bytes, KZ_OVERFLOW_TAG, d->consumer_tag.len) == 0;

				content_begin(overflow ? KZ_AMQP_OVERFLOW : KZ_AMQP_DELIVERY, 0);
				content_targeted = ex.len == strlen(KZ_EXCHANGE_TARGETED) &&
					memcmp(ex.bytes, KZ_EXCHANGE_TARGETED, ex.len) == 0;
				/* both are short strings: they always fit */
				(void) copy_short(ex, content_exchange);
				(void) copy_short(d->routing_key, content_routing_key);
				return true;
			}
		case AMQP_BASIC_RETURN_METHOD:
			content_begin(KZ_AMQP_RETURN,
						  ((amqp_basic_return_t *) m->decoded)->reply_code);
			return true;
		case AMQP_BASIC_ACK_METHOD:
			{
				amqp_basic_ack_t *ack = (amqp_basic_ack_t *) m->decoded;

				emit_confirm(KZ_AMQP_ACK, ack->delivery_tag, ack->multiple, handler, arg);
				return true;
			}
		case AMQP_BASIC_NACK_METHOD:
			{
				amqp_basic_nack_t *nack = (amqp_basic_nack_t *) m->decoded;

				emit_confirm(KZ_AMQP_NACK, nack->delivery_tag, nack->multiple, handler, arg);
				return true;
			}
		case AMQP_CONNECTION_BLOCKED_METHOD:
			blocked = true;
			return true;
		case AMQP_CONNECTION_UNBLOCKED_METHOD:
			blocked = false;
			return true;
		case AMQP_CONNECTION_CLOSE_METHOD:
			{
				amqp_connection_close_t *c = (amqp_connection_close_t *) m->decoded;
				amqp_connection_close_ok_t ok;

				set_error(err, errlen, "broker closed the connection: %d %.*s",
						  c->reply_code, (int) c->reply_text.len,
						  (const char *) c->reply_text.bytes);
				/* best effort; the connection is torn down anyway */
				amqp_send_method(conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
				return false;
			}
		case AMQP_CHANNEL_CLOSE_METHOD:
			{
				amqp_channel_close_t *c = (amqp_channel_close_t *) m->decoded;

				set_error(err, errlen, "broker closed the channel: %d %.*s",
						  c->reply_code, (int) c->reply_text.len,
						  (const char *) c->reply_text.bytes);
				return false;
			}
		case AMQP_BASIC_CANCEL_METHOD:
			set_error(err, errlen, "broker cancelled the consumer (queue deleted?)");
			return false;
		default:
			return true;		/* nothing else matters here */
	}
}

/* Routes one frame to the reassembly state it belongs to. */
static bool
on_frame(amqp_frame_t *frame, KzAmqpHandler handler, void *arg,
		 char *err, size_t errlen)
{
	switch (frame->frame_type)
	{
		case AMQP_FRAME_METHOD:
			if (content_state != CONTENT_IDLE)
				break;
			return on_method(frame, handler, arg, err, errlen);
		case AMQP_FRAME_HEADER:
			if (content_state != CONTENT_HEADER)
				break;
			on_header(frame, handler, arg);
			return true;
		case AMQP_FRAME_BODY:
			if (content_state != CONTENT_BODY)
				break;
			on_body(frame, handler, arg);
			return true;
		case AMQP_FRAME_HEARTBEAT:
			return true;
		default:
			break;
	}
	set_error(err, errlen, "unexpected frame type %d from the broker", frame->frame_type);
	return false;
}

int
kz_amqp_pump(KzAmqpHandler handler, void *arg, int max_frames,
			 char *err, size_t errlen)
{
	int			n;

	if (conn == NULL)
	{
		set_error(err, errlen, "not connected");
		return -1;
	}
	/* no pointer into an earlier frame is held here: bodies are copied */
	if (content_state == CONTENT_IDLE)
		amqp_maybe_release_buffers(conn);
	for (n = 0; n < max_frames; n++)
	{
		struct timeval zero = {0, 0};
		amqp_frame_t frame;
		int			rc = amqp_simple_wait_frame_noblock(conn, &frame, &zero);

		if (rc == AMQP_STATUS_TIMEOUT)
			break;
		if (rc != AMQP_STATUS_OK)
		{
			set_error(err, errlen, "connection lost: %s", amqp_error_string2(rc));
			kz_amqp_close();
			return -1;
		}
		if (!on_frame(&frame, handler, arg, err, errlen))
		{
			kz_amqp_close();
			return -1;
		}
		/* a publish by the handler failed, and closed the connection */
		if (conn == NULL)
		{
			set_error(err, errlen, "connection lost while a message was handled");
			return -1;
		}
	}
	return n;
}
