/*-------------------------------------------------------------------------
 *
 * groups_sql.c
 *	  The SQL functions of process groups: join(), leave(), members(),
 *	  publish(), and groups_data() behind the groups view.
 *
 * Each checks its arguments (a group is 1 to KZ_GROUP_MAX_BYTES bytes of
 * text, never NULL: SQLSTATE 22023 otherwise) and the caller's role
 * (privileges.c) before anything shared is touched, then calls
 * backend/group_ops.c or copies the table (shared/groups.c).  Rows are
 * built after every lock is released; a member's pid is shown as in
 * registrations (as pg_stat_activity shows other roles' sessions).
 *
 * IDENTIFICATION
 *	  src/sql/groups_sql.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "backend_exit.h"
#include "group_ops.h"
#include "groups.h"
#include "guc.h"
#include "messaging.h"
#include "nodes.h"
#include "privileges.h"
#include "shmem.h"

PG_FUNCTION_INFO_V1(kz_join_sql);
PG_FUNCTION_INFO_V1(kz_leave_sql);
PG_FUNCTION_INFO_V1(kz_members_sql);
PG_FUNCTION_INFO_V1(kz_publish_sql);
PG_FUNCTION_INFO_V1(kz_groups_data);

#define MEMBERS_COLS	3
#define GROUPS_COLS		4

/* Checks and copies the group argument (argument argno). */
static void
group_arg(FunctionCallInfo fcinfo, int argno, KzGroupKey *group)
{
	text	   *t;
	int			len;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("group must not be null")));
	t = PG_GETARG_TEXT_PP(argno);
	len = VARSIZE_ANY_EXHDR(t);
	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("group must not be empty"),
				 errdetail("A group name is 1 to %d bytes long.", KZ_GROUP_MAX_BYTES)));
	if (len > KZ_GROUP_MAX_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("group is too long"),
				 errdetail("A group name is 1 to %d bytes long; this one has %d bytes.",
						   KZ_GROUP_MAX_BYTES, len)));
	kz_group_key_set(group, VARDATA_ANY(t), len);
}

Datum
kz_join_sql(PG_FUNCTION_ARGS)
{
	KzGroupKey	group;

	kz_session_attach();
	kz_require_privilege(KZ_PRIV_USE);
	group_arg(fcinfo, 0, &group);
	PG_RETURN_BOOL(kz_group_join(&group));
}

Datum
kz_leave_sql(PG_FUNCTION_ARGS)
{
	KzGroupKey	group;

	kz_session_attach();
	kz_require_privilege(KZ_PRIV_USE);
	group_arg(fcinfo, 0, &group);
	PG_RETURN_BOOL(kz_group_leave(&group));
}

Datum
kz_publish_sql(PG_FUNCTION_ARGS)
{
	KzGroupKey	group;
	text	   *message;

	kz_session_attach();
	kz_require_privilege(KZ_PRIV_USE);
	group_arg(fcinfo, 0, &group);
	if (PG_ARGISNULL(1))
		kz_check_payload("message", true, 0);
	message = PG_GETARG_TEXT_PP(1);
	kz_check_payload("message", false, VARSIZE_ANY_EXHDR(message));
	PG_RETURN_INT64(kz_group_publish(&group, VARDATA_ANY(message),
									 VARSIZE_ANY_EXHDR(message)));
}

/* The names of the nodes, by index (copied under nodes_lock). */
static char **
node_names(void)
{
	char	  **names = palloc0(sizeof(char *) * KZ_MAX_NODES);
	int			i;

	LWLockAcquire(kz_shared->nodes_lock, LW_SHARED);
	for (i = 0; i < KZ_MAX_NODES; i++)
	{
		if (kz_node(i)->name[0] != '\0')
			names[i] = pstrdup(kz_node(i)->name);
	}
	LWLockRelease(kz_shared->nodes_lock);
	return names;
}

/*
 * One row: [group,] node, pid, joined_at.  A local member's pid only if
 * the caller may see its role's sessions.
 */
static void
put_member(ReturnSetInfo *rsinfo, const KzGroupMemberInfo *m, char **names,
		   bool see_all, bool with_group)
{
	Datum		values[GROUPS_COLS];
	bool		nulls[GROUPS_COLS];
	bool		local = m->node == KZ_SELF_NODE;
	const char *node = local ? kz_node_name : names[m->node];
	int			c = 0;

	memset(nulls, 0, sizeof(nulls));
	if (with_group)
		values[c++] = PointerGetDatum(cstring_to_text_with_len(m->group.data, m->group.len));
	values[c] = node ? CStringGetTextDatum(node) : (Datum) 0;
	nulls[c++] = node == NULL;
	values[c] = Int32GetDatum(m->pid);
	nulls[c++] = local && !see_all && !kz_may_see_owner(m->roleid);
	values[c++] = TimestampTzGetDatum(kz_gregorian_to_timestamptz(m->joined_at));
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

static Datum
member_rows(FunctionCallInfo fcinfo, const KzGroupKey *group)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	KzGroupMemberInfo *rows;
	char	  **names;
	bool		see_all = kz_may_see_all_owners();
	int			n;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	n = kz_groups_snapshot(group, false, &rows);
	names = node_names();
	for (i = 0; i < n; i++)
		put_member(rsinfo, &rows[i], names, see_all, group == NULL);
	return (Datum) 0;
}

/* members(group): node, pid and joined_at of each member, here and elsewhere. */
Datum
kz_members_sql(PG_FUNCTION_ARGS)
{
	KzGroupKey	group;

	kz_session_attach();
	kz_require_privilege(KZ_PRIV_READ);
	group_arg(fcinfo, 0, &group);
	return member_rows(fcinfo, &group);
}

/* kz_globals.groups: every membership this server knows. */
Datum
kz_groups_data(PG_FUNCTION_ARGS)
{
	kz_session_attach();
	kz_require_privilege(KZ_PRIV_READ);
	return member_rows(fcinfo, NULL);
}
