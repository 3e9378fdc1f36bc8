/*-------------------------------------------------------------------------
 *
 * sql_api.c
 *	  The SQL-callable functions of schema kz_globals (SPEC section 3).
 *
 * Each function checks its arguments (every bad input is an error with its
 * SQLSTATE before anything shared is touched) and calls claims.c or
 * messaging.c.  None is STRICT: a NULL name is an error, not a NULL result.
 *
 * IDENTIFICATION
 *	  src/sql/sql_api.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

#include "backend_exit.h"
#include "claims.h"
#include "decode.h"
#include "guc.h"
#include "messaging.h"
#include "names.h"
#include "privileges.h"
#include "shmem.h"
#include "sql_args.h"

PG_FUNCTION_INFO_V1(kz_register_name);
PG_FUNCTION_INFO_V1(kz_register_name_pid);
PG_FUNCTION_INFO_V1(kz_unregister_name_sql);
PG_FUNCTION_INFO_V1(kz_whereis_name);
PG_FUNCTION_INFO_V1(kz_registered);
PG_FUNCTION_INFO_V1(kz_send_sql);
PG_FUNCTION_INFO_V1(kz_call_sql);
PG_FUNCTION_INFO_V1(kz_receive_sql);
PG_FUNCTION_INFO_V1(kz_reply_sql);
PG_FUNCTION_INFO_V1(kz_register_name_wait);
PG_FUNCTION_INFO_V1(kz_token);
PG_FUNCTION_INFO_V1(kz_assert_owner);
PG_FUNCTION_INFO_V1(kz_register_name_meta);
PG_FUNCTION_INFO_V1(kz_set_meta_sql);
PG_FUNCTION_INFO_V1(kz_meta_sql);

#define RECEIVE_COLS 9

/* What to pass as a call's or a wait's timeout_ms. */
#define TIMEOUT_HINT "Pass a number of milliseconds, or NULL to wait without limit."

/* A text argument that must not be NULL, checked against the size limit. */
static text *
payload_arg(FunctionCallInfo fcinfo, int argno, const char *what)
{
	text	   *t;

	if (PG_ARGISNULL(argno))
		kz_check_payload(what, true, 0);
	t = PG_GETARG_TEXT_PP(argno);
	kz_check_payload(what, false, VARSIZE_ANY_EXHDR(t));
	return t;
}

/*
 * The kz_globals.owner composite for an owner.  The tuple descriptor is
 * looked up once per backend and again only if the type changes (the
 * extension was dropped and created again).
 */
static Datum
owner_datum(FunctionCallInfo fcinfo, const KzOwner *owner)
{
	static TupleDesc desc = NULL;
	static Oid	desc_type = InvalidOid;
	Oid			type = get_fn_expr_rettype(fcinfo->flinfo);
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (desc == NULL || type != desc_type)
	{
		TupleDesc	d;
		MemoryContext old;

		if (get_call_result_type(fcinfo, NULL, &d) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "kz_globals: return type must be a row type");
		old = MemoryContextSwitchTo(TopMemoryContext);
		if (desc)
			FreeTupleDesc(desc);
		desc = BlessTupleDesc(CreateTupleDescCopy(d));
		MemoryContextSwitchTo(old);
		desc_type = type;
	}
	values[0] = CStringGetTextDatum(owner->node_name);
	values[1] = Int32GetDatum(owner->pid);
	nulls[1] = owner->pid == 0;
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

/* A name whose prefix kz_globals.reserved_prefixes reserves for a role. */
static void
check_reserved(FunctionCallInfo fcinfo)
{
	text	   *t = PG_GETARG_TEXT_PP(0);

	kz_check_name_reserved(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

Datum
kz_register_name(PG_FUNCTION_ARGS)
{
	KzName		name;

	kz_session_attach();
	kz_require_privilege(KZ_PRIV_USE);
	kz_name_from_arg(fcinfo, 0, &name);
	check_reserved(fcinfo);
	PG_RETURN_BOOL(kz_claim_name(&name, KZ_MY_PROCNO, MyProcPid,
								 MyDatabaseId, GetSessionUserId()));
}

/*
 * register_name(name, pid): for another backend of this server, which the
 * caller must be allowed to signal (superuser or member of its role).
 */
Datum
kz_register_name_pid(PG_FUNCTION_ARGS)
{
	KzName		name;
	int32		pid;
	PGPROC	   *proc;

	kz_session_attach();
	kz_require_privilege(KZ_PRIV_USE);
	kz_name_from_arg(fcinfo, 0, &name);
	check_reserved(fcinfo);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pid must not be null")));
	pid = PG_GETARG_INT32(1);
	proc = BackendPidGetProc(pid);
	if (proc == NULL || KZ_PROCNO(proc) >= MaxBackends ||
		pid == (int32) pg_atomic_read_u32(&kz_shared->worker_pid))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("PID %d is not a PostgreSQL backend process", pid)));
	if (!superuser() && !has_privs_of_role(GetUserId(), proc->roleId))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to register a name for PID %d", pid),
				 errdetail("Only a superuser or a member of the backend's role may do that.")));
	PG_RETURN_BOOL(kz_claim_name(&name, KZ_PROCNO(proc), pid,
								 proc->databaseId, proc->roleId));
}

Datum
kz_unregister_name_sql(PG_FUNCTION_ARGS)
{
	KzName		name;

	kz_session_attach();
	kz_require_privilege(KZ_PRIV_USE);
	kz_name_from_arg(fcinfo, 0, &name);
	PG_RETURN_BOOL(kz_unregister_name(&name));
}

Datum
kz_whereis_name(PG_FUNCTION_ARGS)
{
	KzName		name;
	KzOwner		owner;

	kz_session_attach();
	kz_require_privilege(KZ_PRIV_READ);
	kz_name_from_arg(fcinfo, 0, &name);
	if (!kz_whereis(&name, &owner))
		PG_RETURN_NULL();
	return owner_datum(fcinfo, &owner);
}

/* registered(): the local and remote names of this node's table. */
Datum
kz_registered(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	KzName	   *names;
	int			count = 0;
	int			i;

	kz_session_attach();
	kz_require_privilege(KZ_PRIV_READ);
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC | MAT_SRF_BLESS);

	LWLockAcquire(kz_shared->reg_lock, LW_SHARED);
	{
		KzRegistryCounts c = kz_reg_counts();

		KzRegScan	scan;
		KzRow	   *row;

		names = palloc(sizeof(KzName) * Max(1, c.local + c.remote));
		kz_reg_scan_begin(&scan, KZ_ROWS_OF(KZ_ROW_LOCAL) | KZ_ROWS_OF(KZ_ROW_REMOTE));
		while ((row = kz_reg_scan_next(&scan)) != NULL)
		{
			if (kz_row_alive(row))
				memcpy(&names[count++], &row->name, sizeof(KzName));
		}
	}
	LWLockRelease(kz_shared->reg_lock);

	for (i = 0; i < count; i++)
	{
		Datum		value = CStringGetTextDatum(kz_name_to_cstring(&names[i]));
		bool		isnull = false;

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
	}
	return (Datum) 0;
}

Datum
kz_send_sql(PG_FUNCTION_ARGS)
{
	KzName		name;
	KzOwner		owner;
	text	   *message;

	kz_session_attach();
	kz_require_privilege(KZ_PRIV_USE);
	kz_name_from_arg(fcinfo, 0, &name);
	message = payload_arg(fcinfo, 1, "message");
	kz_send(&name, VARDATA_ANY(message), VARSIZE_ANY_EXHDR(message), &owner);
	return owner_datum(fcinfo, &owner);
}

Datum
kz_call_sql(PG_FUNCTION_ARGS)
{
	KzName		name;
	text	   *request;
	int			timeout_ms;

	kz_session_attach();
	kz_require_privilege(KZ_PRIV_USE);
	kz_name_from_arg(fcinfo, 0, &name);
	request = payload_arg(fcinfo, 1, "request");
	timeout_ms = kz_timeout_arg(fcinfo, 2, TIMEOUT_HINT);
	PG_RETURN_TEXT_P(kz_call(&name, VARDATA_ANY(request),
							 VARSIZE_ANY_EXHDR(request), timeout_ms));
}

static Datum
nullable_text(const char *s, bool *isnull)
{
	*isnull = s == NULL;
	return s ? CStringGetTextDatum(s) : (Datum) 0;
}

/* receive(): one row for the next message, none on timeout. */
Datum
kz_receive_sql(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	KzReceived	msg;
	Datum		values[RECEIVE_COLS];
	bool		nulls[RECEIVE_COLS];
	int			timeout_ms;

	kz_session_attach();
	kz_require_privilege(KZ_PRIV_USE);
	timeout_ms = kz_timeout_arg(fcinfo, 0, TIMEOUT_HINT);
	InitMaterializedSRF(fcinfo, 0);
	if (!kz_receive(timeout_ms, &msg))
		return (Datum) 0;

	values[0] = nullable_text(msg.name, &nulls[0]);
	values[1] = CStringGetTextDatum(msg.kind);
	nulls[1] = false;
	values[2] = PointerGetDatum(msg.message);
	nulls[2] = msg.message == NULL;
	values[3] = nullable_text(msg.sender_node, &nulls[3]);
	values[4] = Int32GetDatum(msg.sender_pid);
	nulls[4] = msg.sender_pid == 0;
	values[5] = nullable_text(msg.reply_tag, &nulls[5]);
	values[6] = TimestampTzGetDatum(msg.sent_at);
	nulls[6] = msg.sent_at == 0;
	values[7] = nullable_text(msg.sender_role, &nulls[7]);
	values[8] = nullable_text(msg.sender_db, &nulls[8]);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

Datum
kz_reply_sql(PG_FUNCTION_ARGS)
{
	text	   *response;
	char	   *tag;

	kz_session_attach();
	kz_require_privilege(KZ_PRIV_USE);
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("reply_tag must not be null")));
	tag = text_to_cstring(PG_GETARG_TEXT_PP(0));
	response = payload_arg(fcinfo, 1, "response");
	PG_RETURN_BOOL(kz_reply(tag, VARDATA_ANY(response), VARSIZE_ANY_EXHDR(response)));
}

Datum
kz_register_name_wait(PG_FUNCTION_ARGS)
{
	KzName		name;
	int			timeout_ms;

	kz_session_attach();
	kz_require_privilege(KZ_PRIV_USE);
	kz_name_from_arg(fcinfo, 0, &name);
	check_reserved(fcinfo);
	timeout_ms = kz_timeout_arg(fcinfo, 1, TIMEOUT_HINT);
	PG_RETURN_BOOL(kz_claim_name_wait(&name, timeout_ms));
}

Datum
kz_token(PG_FUNCTION_ARGS)
{
	KzName		name;
	int64		token;

	kz_session_attach();
	kz_require_privilege(KZ_PRIV_READ);
	kz_name_from_arg(fcinfo, 0, &name);
	if (!kz_name_token(&name, &token))
		PG_RETURN_NULL();
	PG_RETURN_INT64(token);
}

/*
 * assert_owner(name, token): true, or an error that aborts the caller's
 * transaction, so that it can guard a write ("fencing").
 */
Datum
kz_assert_owner(PG_FUNCTION_ARGS)
{
	KzName		name;
	int64		token;

	kz_session_attach();
	kz_require_privilege(KZ_PRIV_USE);
	kz_name_from_arg(fcinfo, 0, &name);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("token must not be null")));
	token = PG_GETARG_INT64(1);
	if (!kz_owns_with_token(&name, token))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this session does not own the name \"%s\" with token " INT64_FORMAT,
						kz_name_to_cstring(&name), token),
				 errhint("The registration was lost or replaced; do not write on its behalf.")));
	PG_RETURN_BOOL(true);
}


/* ---------------------------------------------------------------------
 * Registration metadata: register_name(name, meta), set_meta, meta
 * ---------------------------------------------------------------------
 */

/*
 * A metadata argument: NULL for none, else a JSON object or array whose
 * text (as jsonb prints it) is at most kz_globals.max_meta_size bytes.
 */
static void
meta_arg(FunctionCallInfo fcinfo, int argno, KzMetaArg *meta)
{
	Jsonb	   *jb;
	char	   *text;
	size_t		len;
	const char *why;

	meta->text = NULL;
	meta->len = 0;
	if (PG_ARGISNULL(argno))
		return;
	jb = PG_GETARG_JSONB_P(argno);
	if (JB_ROOT_IS_SCALAR(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("meta must be a JSON object or array")));
	text = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	len = strlen(text);
	if (len > (size_t) kz_max_meta_size)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("meta is too long"),
				 errdetail("The limit is %d bytes of JSON text (kz_globals.max_meta_size); this one has %zu bytes.",
						   kz_max_meta_size, len)));
	/* what the other nodes would refuse, this one refuses too */
	if ((why = kz_proto_meta_problem(text)) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("meta %s", why),
				 errdetail("Other servers could not read it back as jsonb.")));
	meta->text = text;
	meta->len = (int32) len;
}

/* register_name(name, meta): register_name(name) with metadata. */
Datum
kz_register_name_meta(PG_FUNCTION_ARGS)
{
	KzName		name;
	KzMetaArg	meta;

	kz_session_attach();
	kz_require_privilege(KZ_PRIV_USE);
	kz_name_from_arg(fcinfo, 0, &name);
	check_reserved(fcinfo);
	meta_arg(fcinfo, 1, &meta);
	PG_RETURN_BOOL(kz_claim_name_meta(&name, KZ_MY_PROCNO, MyProcPid,
									  MyDatabaseId, GetSessionUserId(), &meta));
}

/* set_meta(name, meta): the owner session replaces its name's metadata. */
Datum
kz_set_meta_sql(PG_FUNCTION_ARGS)
{
	KzName		name;
	KzMetaArg	meta;

	kz_session_attach();
	kz_require_privilege(KZ_PRIV_USE);
	kz_name_from_arg(fcinfo, 0, &name);
	meta_arg(fcinfo, 1, &meta);
	kz_set_meta(&name, &meta);
	PG_RETURN_VOID();
}

/* meta(name): the metadata of a registered name; NULL if none or unknown. */
Datum
kz_meta_sql(PG_FUNCTION_ARGS)
{
	KzName		name;
	char	   *text;

	kz_session_attach();
	kz_require_privilege(KZ_PRIV_READ);
	kz_name_from_arg(fcinfo, 0, &name);
	if (!kz_name_meta(&name, &text) || text == NULL)
		PG_RETURN_NULL();
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(text));
}
