/*-------------------------------------------------------------------------
 *
 * lease_api.c
 *	  The SQL functions of leases: acquire_lease, renew_lease,
 *	  release_lease, and the set behind the view leases.
 *
 * A lease holds a name for no session: acquire_lease() claims it like
 * register_name() and returns its fencing token; any session of the same
 * role that presents the token renews or releases it, in any transaction
 * (through a transaction-mode pooler); the server expires it when it is not
 * renewed in time.  Arguments are checked here (22023) before anything
 * shared is touched; the rest is backend/claims.c and backend/leases.c.
 * Runs in backends.
 *
 * IDENTIFICATION
 *	  src/sql/lease_api.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/dbcommands.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "backend_exit.h"
#include "claims.h"
#include "lease_rows.h"
#include "leases.h"
#include "names.h"
#include "privileges.h"
#include "registry.h"
#include "shmem.h"
#include "sql_args.h"

PG_FUNCTION_INFO_V1(kz_acquire_lease);
PG_FUNCTION_INFO_V1(kz_renew_lease_sql);
PG_FUNCTION_INFO_V1(kz_release_lease_sql);
PG_FUNCTION_INFO_V1(kz_leases_data);

#define LEASES_COLS 6

/* A TTL argument: not NULL, within the bounds of lease_rows.h. */
static int32
ttl_arg(FunctionCallInfo fcinfo, int argno)
{
	int32		ttl;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ttl_ms must not be null")));
	ttl = PG_GETARG_INT32(argno);
	if (ttl < KZ_LEASE_TTL_MIN_MS || ttl > KZ_LEASE_TTL_MAX_MS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ttl_ms must be between %d and %d", KZ_LEASE_TTL_MIN_MS,
						KZ_LEASE_TTL_MAX_MS),
				 errdetail("A lease lives from 100 milliseconds to one day between renewals; %d was given.", ttl)));
	return ttl;
}

static int64
token_arg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("token must not be null")));
	return PG_GETARG_INT64(argno);
}

/*
 * acquire_lease(name, ttl_ms, timeout_ms DEFAULT 0): the token of the new
 * lease, or NULL if the name is taken (after waiting timeout_ms for it).
 */
Datum
kz_acquire_lease(PG_FUNCTION_ARGS)
{
	KzName		name;
	int32		ttl;
	int			timeout_ms;
	int64		token;
	text	   *t;

	kz_session_attach();
	kz_require_privilege(KZ_PRIV_USE);
	kz_name_from_arg(fcinfo, 0, &name);
	t = PG_GETARG_TEXT_PP(0);
	kz_check_name_reserved(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	ttl = ttl_arg(fcinfo, 1);
	timeout_ms = kz_timeout_arg(fcinfo, 2,
								"Pass 0 not to wait, a number of milliseconds, or NULL to wait without limit.");
	if (!kz_claim_lease(&name, ttl, timeout_ms, &token))
		PG_RETURN_NULL();
	PG_RETURN_INT64(token);
}

/* renew_lease(name, token, ttl_ms): true, or an error (leases.c). */
Datum
kz_renew_lease_sql(PG_FUNCTION_ARGS)
{
	KzName		name;
	int64		token;
	int32		ttl;

	kz_session_attach();
	kz_require_privilege(KZ_PRIV_USE);
	kz_name_from_arg(fcinfo, 0, &name);
	token = token_arg(fcinfo, 1);
	ttl = ttl_arg(fcinfo, 2);
	kz_renew_lease(&name, token, ttl);
	PG_RETURN_BOOL(true);
}

/* release_lease(name, token): true, false if nothing holds the name. */
Datum
kz_release_lease_sql(PG_FUNCTION_ARGS)
{
	KzName		name;
	int64		token;

	kz_session_attach();
	kz_require_privilege(KZ_PRIV_USE);
	kz_name_from_arg(fcinfo, 0, &name);
	token = token_arg(fcinfo, 1);
	PG_RETURN_BOOL(kz_release_lease(&name, token));
}

/* One lease as copied from the table. */
typedef struct LeaseCopy
{
	KzName		name;
	int64		token;
	int32		ttl_ms;
	int64		left_us;		/* until it expires */
	Oid			roleid;
	Oid			dbid;
} LeaseCopy;

static int
snapshot_leases(LeaseCopy **out)
{
	KzRegistryCounts c;
	KzRegScan	scan;
	KzRow	   *row;
	LeaseCopy  *copy;
	int			n = 0;
	int64		now;

	LWLockAcquire(kz_shared->reg_lock, LW_SHARED);
	c = kz_reg_counts();
	copy = palloc(sizeof(LeaseCopy) * Max(1, c.local));
	now = kz_mono_us();
	kz_reg_scan_begin(&scan, KZ_ROWS_OF(KZ_ROW_LOCAL));
	while ((row = kz_reg_scan_next(&scan)) != NULL)
	{
		if (!KZ_ROW_IS_LEASE(row) || !kz_row_alive(row))
			continue;
		copy[n].name = row->name;
		copy[n].token = row->timestamp;
		copy[n].ttl_ms = row->lease_ttl_ms;
		copy[n].left_us = row->lease_expires - now;
		copy[n].roleid = row->roleid;
		copy[n].dbid = row->dbid;
		n++;
	}
	LWLockRelease(kz_shared->reg_lock);
	*out = copy;
	return n;
}

/*
 * kz_globals.leases: the leases this server holds.  expires_at is the
 * monotonic deadline shown on the wall clock of this moment.  Role and
 * database are shown as registrations shows them.
 */
Datum
kz_leases_data(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	LeaseCopy  *leases;
	bool		see_all;
	TimestampTz now;
	int			n;
	int			i;

	kz_session_attach();
	kz_require_privilege(KZ_PRIV_READ);
	see_all = kz_may_see_all_owners();
	InitMaterializedSRF(fcinfo, 0);
	n = snapshot_leases(&leases);
	now = GetCurrentTimestamp();
	for (i = 0; i < n; i++)
	{
		LeaseCopy  *l = &leases[i];
		Datum		values[LEASES_COLS];
		bool		nulls[LEASES_COLS];
		bool		visible = see_all || kz_may_see_owner(l->roleid);
		char	   *rolename = visible ? GetUserNameFromId(l->roleid, true) : NULL;
		char	   *dbname = visible ? get_database_name(l->dbid) : NULL;

		memset(nulls, 0, sizeof(nulls));
		values[0] = CStringGetTextDatum(kz_name_to_cstring(&l->name));
		values[1] = Int64GetDatum(l->token);
		values[2] = Int32GetDatum(l->ttl_ms);
		values[3] = TimestampTzGetDatum(now + l->left_us);
		values[4] = rolename ? CStringGetTextDatum(rolename) : (Datum) 0;
		nulls[4] = rolename == NULL;
		values[5] = dbname ? CStringGetTextDatum(dbname) : (Datum) 0;
		nulls[5] = dbname == NULL;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
