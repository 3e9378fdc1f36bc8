/*-------------------------------------------------------------------------
 *
 * messaging.c
 *	  send(), call(), receive() and reply() from a backend (messaging.h).
 *
 * Every wait here sleeps on the backend's latch: a sender sets the owner's
 * latch when it queues a message, an owner sets the caller's latch when it
 * replies, the worker sets them for traffic from other nodes.  Waits are
 * interruptible (statement_timeout, cancel, terminate).
 *
 * IDENTIFICATION
 *	  src/backend/messaging.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "common/string.h"
#include "mb/pg_wchar.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "mailbox.h"
#include "messaging.h"
#include "names.h"
#include "reply_tag.h"
#include "request.h"
#include "shmem.h"

void
kz_check_payload(const char *what, bool isnull, size_t len)
{
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be null", what)));
	if (len > (size_t) kz_max_message_size)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s is too long", what),
				 errdetail("The limit is %d bytes (kz_globals.max_message_size); this one has %zu bytes.",
						   kz_max_message_size, len)));
}

static void
report_no_owner(const KzName *name, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("no process is registered under the name \"%s\"",
					kz_name_to_cstring(name)),
			 detail ? errdetail_internal("%s", detail) : 0));
}

static void
report_mailbox_full(const KzName *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("mailbox of the owner of \"%s\" is full", kz_name_to_cstring(name)),
			 errdetail("A mailbox holds %d messages (kz_globals.mailbox_size); nothing was queued.",
					   kz_mailbox_size)));
}

/*
 * A name held by a lease has no process and no mailbox: a send or call to
 * it is refused (42809) rather than lost.
 */
static void
check_not_lease(const KzName *name, const KzOwner *owner)
{
	if (owner->lease)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("the name \"%s\" is held by a lease, which has no mailbox",
						kz_name_to_cstring(name)),
				 errdetail("Node %s holds it for acquire_lease(), not for a session.",
						   owner->node_name),
				 errhint("Send to a name registered with register_name().")));
}

/* Puts a message into a local owner's mailbox, or reports why it cannot. */
static void
deliver_local(const KzName *name, const KzOwner *owner, const KzMessageSpec *spec)
{
	dsa_pointer msg = kz_message_create(spec, false);

	switch (kz_mailbox_put(owner->procno, owner->pid, msg))
	{
		case KZ_DELIVER_OK:
			KZ_STAT_INC(messages_received);
			return;
		case KZ_DELIVER_FULL:
			kz_message_free(msg);
			report_mailbox_full(name);
			break;
		case KZ_DELIVER_GONE:
			kz_message_free(msg);
			report_no_owner(name, NULL);
			break;
	}
}

/*
 * This backend's database name, looked up once: a database cannot be
 * renamed while anyone is connected to it.
 */
static const char *
my_database_name(void)
{
	static char *name = NULL;

	if (name == NULL)
	{
		char	   *found = get_database_name(MyDatabaseId);

		name = MemoryContextStrdup(TopMemoryContext, found ? found : "");
	}
	return name[0] ? name : NULL;
}

/*
 * A role or database name as the bus carries it (UTF-8, as all of a
 * message's text): as it is when the server encoding is UTF-8 or the name
 * is ASCII, otherwise not told (NULL), rather than converted.
 */
static const char *
wire_identity(const char *s)
{
	if (s == NULL || strlen(s) >= NAMEDATALEN)
		return NULL;
	if (GetDatabaseEncoding() == PG_UTF8 || pg_is_ascii(s))
		return s;
	return NULL;
}

/*
 * Who sends a message or call to another server: the current role and
 * database, which the owner's receive() shows when the message reached it
 * signed (kz_globals.bus_key_file), since only then does its server know
 * they came from us.
 */
void
kz_wire_sender(const char **role, const char **db)
{
	*role = wire_identity(GetUserNameFromId(GetUserId(), true));
	*db = wire_identity(my_database_name());
}

/*
 * Hands a send or call for a remote owner to the worker and waits until
 * the broker has routed it to the owner node's queue.
 */
static void
forward_remote(KzJobKind kind, const KzName *name, const KzOwner *owner,
			   const char *body, size_t len, uint64 call_id, int timeout_ms)
{
	KzJobSpec	spec;
	KzReqResult result;
	bool		answered;

	memset(&spec, 0, sizeof(spec));
	spec.kind = kind;
	spec.ref = call_id;
	spec.node = owner->node;
	spec.timeout_ms = timeout_ms;
	spec.name = name;
	spec.body = body;
	spec.body_len = len;
	kz_wire_sender(&spec.role, &spec.db);
	answered = kz_request_run(&spec, kz_request_timeout + KZ_WORKER_GRACE_MS, &result);

	if (!answered || result == KZ_RES_WORKER_RESTART)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("kz_globals background worker did not forward the message"),
				 errhint("The worker may have restarted; the message may or may not have been delivered.")));
	if (result == KZ_RES_UNROUTABLE)
		report_no_owner(name, psprintf("The owner node %s is no longer connected to the bus.",
									   owner->node_name));
	if (result != KZ_RES_OK)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("kz_globals cannot reach the message broker"),
				 errhint("Check kz_globals.amqp_uri and that RabbitMQ is running.")));
}

/*
 * The sender of a message to an owner on this server: the current role and
 * database, which receive() shows.
 */
static void
set_sender(KzMessageSpec *spec)
{
	spec->role = GetUserNameFromId(GetUserId(), true);
	spec->db = my_database_name();
}

void
kz_send(const KzName *name, const char *message, size_t len, KzOwner *owner)
{
	KzMessageSpec spec;

	if (!kz_whereis(name, owner))
		report_no_owner(name, NULL);
	check_not_lease(name, owner);
	if (owner->state == KZ_ROW_REMOTE)
		forward_remote(KZ_JOB_SEND, name, owner, message, len, 0, -1);
	else
	{
		memset(&spec, 0, sizeof(spec));
		spec.kind = KZ_MSG_SEND;
		spec.sender_pid = MyProcPid;
		spec.sent_at = GetCurrentTimestamp();
		spec.name = name;
		spec.node = kz_node_name;
		set_sender(&spec);
		spec.body = message;
		spec.body_len = len;
		deliver_local(name, owner, &spec);
	}
	KZ_STAT_INC(messages_sent);
}

/*
 * The text of a reply or message body, copied once out of shared memory
 * into the text datum that SQL returns.
 */
static text *
body_text(const KzMessage *m)
{
	if (m->flags & KZ_MSG_BODY_ETF)
		return kz_term_to_text((const uint8 *) KZ_MSG_BODY(m), m->body_len);
	return cstring_to_text_with_len(KZ_MSG_BODY(m), (int) m->body_len);
}

/*
 * Waits for the reply to call_id until deadline (0: none); the reply
 * message, or InvalidDsaPointer on timeout.
 */
static dsa_pointer
await_reply(uint64 call_id, TimestampTz deadline)
{
	for (;;)
	{
		dsa_pointer reply = kz_call_take_reply(call_id);

		if (DsaPointerIsValid(reply))
			return reply;
		if (!kz_sleep_until(deadline, -1, KZ_WAIT_CALL))
			return InvalidDsaPointer;
	}
}

/* Sends the call itself: into a local mailbox, or through the worker. */
static void
send_call(const KzName *name, const KzOwner *owner, const char *request,
		  size_t len, uint64 call_id, int timeout_ms)
{
	KzMessageSpec spec;
	char		tag[KZ_TAG_LOCAL_SIZE];

	if (owner->state == KZ_ROW_REMOTE)
	{
		forward_remote(KZ_JOB_CALL, name, owner, request, len, call_id, timeout_ms);
		return;
	}
	kz_tag_local(tag, KZ_MY_PROCNO, MyProcPid, call_id);
	memset(&spec, 0, sizeof(spec));
	spec.kind = KZ_MSG_CALL;
	spec.sender_pid = MyProcPid;
	spec.sent_at = GetCurrentTimestamp();
	spec.name = name;
	spec.node = kz_node_name;
	spec.tag = tag;
	set_sender(&spec);
	spec.body = request;
	spec.body_len = len;
	deliver_local(name, owner, &spec);
}

text *
kz_call(const KzName *name, const char *request, size_t len, int timeout_ms)
{
	KzOwner		owner;
	uint64		call_id;
	volatile TimestampTz deadline = 0;
	volatile dsa_pointer reply = InvalidDsaPointer;
	KzMessage  *m;
	text	   *result;

	if (!kz_whereis(name, &owner))
		report_no_owner(name, NULL);
	check_not_lease(name, &owner);
	deadline = kz_deadline_in(timeout_ms);

	KZ_STAT_INC(calls);
	call_id = kz_call_begin();
	PG_TRY();
	{
		send_call(name, &owner, request, len, call_id, timeout_ms < 0 ? INT_MAX : timeout_ms);
		reply = await_reply(call_id, deadline);
	}
	PG_FINALLY();
	{
		kz_call_end();
	}
	PG_END_TRY();

	if (!DsaPointerIsValid(reply))
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("call to \"%s\" timed out after %d ms",
						kz_name_to_cstring(name), timeout_ms)));
	m = kz_message_get(reply);
	if (m->flags & KZ_MSG_OWNER_GONE)
	{
		kz_message_free(reply);
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the owner of \"%s\" exited without answering the call",
						kz_name_to_cstring(name)),
				 errdetail("The request may or may not have been acted on.")));
	}
	result = body_text(m);
	kz_message_free(reply);
	return result;
}

/*
 * The reply tags of the calls this backend has taken from its mailbox,
 * newest last, in a ring of KZ_RECEIVED_CALLS_MAX (backend memory).  Only
 * these may be answered from here: a reply tag is bound to the session
 * that received the call, whoever else learns it.
 */
#define KZ_RECEIVED_CALLS_MAX	1024

static char *received_calls[KZ_RECEIVED_CALLS_MAX];
static int	received_next = 0;

static void
remember_call(const char *tag)
{
	char	   *copy = MemoryContextStrdup(TopMemoryContext, tag);

	if (received_calls[received_next] != NULL)
		pfree(received_calls[received_next]);
	received_calls[received_next] = copy;
	received_next = (received_next + 1) % KZ_RECEIVED_CALLS_MAX;
}

static bool
received_call(const char *tag)
{
	int			i;

	for (i = 0; i < KZ_RECEIVED_CALLS_MAX; i++)
	{
		if (received_calls[i] != NULL && strcmp(received_calls[i], tag) == 0)
			return true;
	}
	return false;
}

static const char *
kind_name(uint8 kind)
{
	switch ((KzMsgKind) kind)
	{
		case KZ_MSG_SEND:
			return "send";
		case KZ_MSG_CALL:
			return "call";
		case KZ_MSG_SYSTEM:
			return "system";
		case KZ_MSG_REPLY:
			return "reply";
		case KZ_MSG_GROUP:
			return "group";
	}
	return "unknown";
}

/*
 * A sender's role or database name as receive() shows it, or NULL.  A name
 * that came over the bus is UTF-8: shown as it is where that is the server
 * encoding or the name is ASCII, otherwise not shown.
 */
static char *
identity_text(const KzMessage *m, const char *data, size_t len)
{
	char	   *s;

	if (len == 0)
		return NULL;
	s = pnstrdup(data, len);
	if ((m->flags & KZ_MSG_IDENT_UTF8) && GetDatabaseEncoding() != PG_UTF8 &&
		!pg_is_ascii(s))
		return NULL;
	return s;
}

/* Copies a message out of shared memory into *out. */
static void
unpack_message(const KzMessage *m, KzReceived *out)
{
	out->name = NULL;
	if (m->name_len)
	{
		KzName		name;

		name.len = m->name_len;
		memcpy(name.data, KZ_MSG_NAME(m), m->name_len);
		out->name = kz_name_to_cstring(&name);
	}
	out->kind = kind_name(m->kind);
	out->message = body_text(m);
	out->sender_node = m->node_len ? pnstrdup(KZ_MSG_NODE(m), m->node_len) : NULL;
	out->sender_pid = m->sender_pid;
	out->reply_tag = m->tag_len ? pnstrdup(KZ_MSG_TAG(m), m->tag_len) : NULL;
	out->sender_role = identity_text(m, KZ_MSG_ROLE(m), m->role_len);
	out->sender_db = identity_text(m, KZ_MSG_DB(m), m->db_len);
	out->sent_at = m->sent_at;
}

bool
kz_receive(int timeout_ms, KzReceived *out)
{
	TimestampTz deadline = kz_deadline_in(timeout_ms);

	for (;;)
	{
		dsa_pointer msg = kz_mailbox_take();

		if (DsaPointerIsValid(msg))
		{
			unpack_message(kz_message_get(msg), out);
			kz_message_free(msg);
			if (out->reply_tag != NULL)
				remember_call(out->reply_tag);
			return true;
		}
		if (!kz_sleep_until(deadline, -1, KZ_WAIT_RECEIVE))
			return false;
	}
}

static void
report_bad_tag(const char *tag)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid reply tag \"%s\"", tag),
			 errhint("Pass the reply_tag column of a message of kind \"call\" returned by receive().")));
}

/* Parses a local caller's tag (reply_tag.h) naming a slot of this server. */
static bool
parse_local_tag(const char *tag, int *procno, int *pid, uint64 *call_id)
{
	return kz_tag_parse_local(tag, procno, pid, call_id) && *procno < MaxBackends;
}

/* Parses the deadline of a remote caller's tag (reply_tag.h). */
static bool
parse_remote_tag(const char *tag, TimestampTz *deadline)
{
	int64		value;

	if (!kz_tag_parse_remote(tag, &value, NULL, NULL))
		return false;
	*deadline = (TimestampTz) value;
	return true;
}

/*
 * Hands a reply to a caller on this server.  Without no_oom (the exit
 * path), allocation failure is an error.
 */
static bool
answer_local(int procno, int pid, uint64 call_id, const KzMessageSpec *spec, bool no_oom)
{
	dsa_pointer msg = kz_message_create(spec, no_oom);

	if (!DsaPointerIsValid(msg))
		return false;
	if (kz_call_answer(procno, pid, call_id, msg))
		return true;
	kz_message_free(msg);
	return false;
}

/* Answers a caller on this server ("l:" tags). */
static bool
reply_local(const char *tag, const char *response, size_t len)
{
	int			procno;
	int			pid;
	uint64		call_id;
	KzMessageSpec spec;

	if (!parse_local_tag(tag, &procno, &pid, &call_id))
		report_bad_tag(tag);

	memset(&spec, 0, sizeof(spec));
	spec.kind = KZ_MSG_REPLY;
	spec.sender_pid = MyProcPid;
	spec.sent_at = GetCurrentTimestamp();
	spec.node = kz_node_name;
	spec.body = response;
	spec.body_len = len;
	return answer_local(procno, pid, call_id, &spec, false);
}

/* Answers a caller on another node ("r:" tags) through the worker. */
static bool
reply_remote(const char *tag, const char *response, size_t len)
{
	KzJobSpec	spec;
	KzReqResult result;
	TimestampTz deadline;

	if (!parse_remote_tag(tag, &deadline))
		report_bad_tag(tag);
	if (GetCurrentTimestamp() > deadline)
		return false;

	memset(&spec, 0, sizeof(spec));
	spec.kind = KZ_JOB_REPLY;
	spec.target = tag;
	spec.target_len = strlen(tag);
	spec.body = response;
	spec.body_len = len;
	if (!kz_request_run(&spec, kz_request_timeout + KZ_WORKER_GRACE_MS, &result))
		return false;
	return result == KZ_RES_OK;
}

/* A well-formed tag of a call this backend did not receive. */
static void
report_foreign_tag(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to reply to this call"),
			 errdetail("Only the session that received a call with receive() may reply to it (one of its last %d calls).",
					   KZ_RECEIVED_CALLS_MAX)));
}

bool
kz_reply(const char *tag, const char *response, size_t len)
{
	int			procno;
	int			pid;
	uint64		call_id;
	TimestampTz deadline;
	bool		local = parse_local_tag(tag, &procno, &pid, &call_id);

	if (!local && !parse_remote_tag(tag, &deadline))
		report_bad_tag(tag);
	if (!received_call(tag))
		report_foreign_tag();
	return local ? reply_local(tag, response, len) : reply_remote(tag, response, len);
}

/*
 * Tells the caller of one call from this backend's mailbox that its owner
 * exited.  Never raises: it runs in an exit callback.
 */
static void
fail_call(const KzMessage *m)
{
	char		tag[1024];		/* longer (odd) tags: the caller times out */
	int			procno;
	int			pid;
	uint64		call_id;
	TimestampTz deadline;

	if (m->tag_len == 0 || m->tag_len >= sizeof(tag))
		return;
	memcpy(tag, KZ_MSG_TAG(m), m->tag_len);
	tag[m->tag_len] = '\0';

	if (parse_local_tag(tag, &procno, &pid, &call_id))
	{
		KzMessageSpec spec;

		memset(&spec, 0, sizeof(spec));
		spec.kind = KZ_MSG_REPLY;
		spec.flags = KZ_MSG_OWNER_GONE;
		spec.sender_pid = MyProcPid;
		spec.sent_at = GetCurrentTimestamp();
		spec.node = kz_node_name;
		(void) answer_local(procno, pid, call_id, &spec, true);
	}
	else if (parse_remote_tag(tag, &deadline) && GetCurrentTimestamp() <= deadline)
	{
		KzJobSpec	spec;

		memset(&spec, 0, sizeof(spec));
		spec.kind = KZ_JOB_OWNER_GONE;
		spec.procno = -1;
		spec.target = tag;
		spec.target_len = m->tag_len;
		spec.body = KZ_MSG_NODE(m);
		spec.body_len = m->node_len;
		(void) kz_job_submit(&spec, true);
	}
}

void
kz_fail_queued_calls(void)
{
	dsa_pointer msg;

	while (DsaPointerIsValid(msg = kz_mailbox_take()))
	{
		KzMessage  *m = kz_message_get(msg);

		if (m->kind == KZ_MSG_CALL)
			fail_call(m);
		kz_message_free(msg);
	}
}
