/*-------------------------------------------------------------------------
 *
 * views.c
 *	  Set-returning functions behind the views registrations, nodes and
 *	  stats.
 *
 * Each function copies what it needs out of shared memory under the lock
 * and releases it before building tuples, so that catalog lookups (database
 * and role names) and allocation never happen under a kz_globals lock.
 *
 * IDENTIFICATION
 *	  src/sql/views.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/dbcommands.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "backend_exit.h"
#include "guc.h"
#include "meta.h"
#include "names.h"
#include "nodes.h"
#include "privileges.h"
#include "registry.h"
#include "shmem.h"

PG_FUNCTION_INFO_V1(kz_registrations_data);
PG_FUNCTION_INFO_V1(kz_nodes_data);
PG_FUNCTION_INFO_V1(kz_stats_data);

#define REGISTRATIONS_COLS	11
#define NODES_COLS			10
#define STATS_COLS			18

static const char *
row_state_name(uint8 state)
{
	switch ((KzRowState) state)
	{
		case KZ_ROW_PENDING:
			return "pending";
		case KZ_ROW_LOCAL:
			return "local";
		case KZ_ROW_REMOTE:
			return "remote";
		case KZ_ROW_FREE:
			break;
	}
	return "free";
}

/*
 * Copies the live rows of the name table, and their metadata texts (NULL
 * for none); returns how many.
 */
static int
snapshot_rows(KzRow **out, char ***metas)
{
	int			count = 0;
	KzRow	   *copy;
	char	  **meta;

	LWLockAcquire(kz_shared->reg_lock, LW_SHARED);
	{
		KzRegistryCounts c = kz_reg_counts();
		KzRegScan	scan;
		KzRow	   *row;

		copy = palloc(sizeof(KzRow) * Max(1, c.pending + c.local + c.remote));
		meta = palloc(sizeof(char *) * Max(1, c.pending + c.local + c.remote));
		kz_reg_scan_begin(&scan, KZ_ROWS_OF(KZ_ROW_PENDING) | KZ_ROWS_OF(KZ_ROW_LOCAL) |
						  KZ_ROWS_OF(KZ_ROW_REMOTE));
		while ((row = kz_reg_scan_next(&scan)) != NULL)
		{
			if (kz_row_alive(row))
			{
				meta[count] = kz_meta_copy(row->meta, row->meta_len);
				memcpy(&copy[count++], row, sizeof(KzRow));
			}
		}
	}
	LWLockRelease(kz_shared->reg_lock);
	*out = copy;
	*metas = meta;
	return count;
}

/* Copies the node table. */
static KzNode *
snapshot_nodes(void)
{
	KzNode	   *copy = palloc(sizeof(KzNode) * KZ_MAX_NODES);
	int			i;

	LWLockAcquire(kz_shared->nodes_lock, LW_SHARED);
	for (i = 0; i < KZ_MAX_NODES; i++)
		memcpy(&copy[i], kz_node(i), sizeof(KzNode));
	LWLockRelease(kz_shared->nodes_lock);
	return copy;
}

/*
 * One row of the view.  The metadata (the last column, which the 1.0 view
 * does not have: the tuple is built for the caller's descriptor) is shown
 * to every reader, as meta() is: a registration's metadata is broadcast to
 * every node, where any reader sees it on the remote row, so hiding it on
 * the owner's node would hide nothing.
 */
static void
put_registration(ReturnSetInfo *rsinfo, const KzRow *row, const char *meta,
				 const KzNode *nodes, bool see_all)
{
	Datum		values[REGISTRATIONS_COLS];
	bool		nulls[REGISTRATIONS_COLS];
	const KzNode *node = &nodes[row->node];
	bool		local = row->state != KZ_ROW_REMOTE;

	/* who owns it, as pg_stat_activity shows other roles' sessions */
	bool		visible = !local || see_all || kz_may_see_owner(row->roleid);
	char	   *dbname = local && visible ? get_database_name(row->dbid) : NULL;
	char	   *rolename = local && visible ? GetUserNameFromId(row->roleid, true) : NULL;

	memset(nulls, 0, sizeof(nulls));
	values[0] = CStringGetTextDatum(kz_name_to_cstring(&row->name));
	values[1] = CStringGetTextDatum(row_state_name(row->state));
	values[2] = CStringGetTextDatum(local ? kz_node_name : node->name);
	values[3] = Int32GetDatum(row->pid);
	nulls[3] = row->pid == 0 || !visible;
	values[4] = dbname ? CStringGetTextDatum(dbname) : (Datum) 0;
	nulls[4] = dbname == NULL;
	values[5] = rolename ? CStringGetTextDatum(rolename) : (Datum) 0;
	nulls[5] = rolename == NULL;
	values[6] = TimestampTzGetDatum(kz_gregorian_to_timestamptz(row->timestamp));
	values[7] = CStringGetTextDatum(local ? nodes[KZ_SELF_NODE].server : node->server);
	nulls[7] = (local ? nodes[KZ_SELF_NODE].server : node->server)[0] == '\0';
	values[8] = BoolGetDatum((row->flags & KZ_ROW_KAZOO) != 0);
	values[9] = Int64GetDatum(row->timestamp);
	values[10] = meta ? DirectFunctionCall1(jsonb_in, CStringGetDatum(meta)) : (Datum) 0;
	nulls[10] = meta == NULL;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* kz_globals.registrations: every live row of this node's table. */
Datum
kz_registrations_data(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	KzRow	   *rows;
	char	  **metas;
	bool		see_all;
	KzNode	   *nodes;
	int			n;
	int			i;

	kz_session_attach();
	kz_require_privilege(KZ_PRIV_READ);
	see_all = kz_may_see_all_owners();
	InitMaterializedSRF(fcinfo, 0);
	n = snapshot_rows(&rows, &metas);
	nodes = snapshot_nodes();
	for (i = 0; i < n; i++)
		put_registration(rsinfo, &rows[i], metas[i], nodes, see_all);
	return (Datum) 0;
}

static const char *
node_state_name(uint8 state)
{
	switch ((KzNodeState) state)
	{
		case KZ_NODE_UP:
			return "up";
		case KZ_NODE_EXPIRED:
			return "expired";
		case KZ_NODE_UNUSED:
			break;
	}
	return "unused";
}

static void
put_node(ReturnSetInfo *rsinfo, const KzNode *node, bool is_self, int32 local_names)
{
	Datum		values[NODES_COLS];
	bool		nulls[NODES_COLS];

	memset(nulls, 0, sizeof(nulls));
	values[0] = CStringGetTextDatum(node->name);
	values[1] = CStringGetTextDatum(node->zone);
	nulls[1] = node->zone[0] == '\0';
	values[2] = CStringGetTextDatum(node_state_name(node->state));
	values[3] = TimestampTzGetDatum(node->last_heartbeat);
	nulls[3] = node->last_heartbeat == 0;
	values[4] = Int32GetDatum(node->expires_ms);
	values[5] = Int32GetDatum(is_self ? local_names : node->names);
	values[6] = BoolGetDatum(is_self);
	values[7] = TimestampTzGetDatum(kz_gregorian_to_timestamptz(node->started_at));
	nulls[7] = node->started_at == 0;
	values[8] = BoolGetDatum(node->is_kazoo);
	values[9] = CStringGetTextDatum(node->server);
	nulls[9] = node->server[0] == '\0';
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* kz_globals.nodes: this node and every peer it has heard of. */
Datum
kz_nodes_data(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	KzNode	   *nodes;
	KzRegistryCounts counts;
	int			i;

	kz_session_attach();
	kz_require_privilege(KZ_PRIV_READ);
	InitMaterializedSRF(fcinfo, 0);
	LWLockAcquire(kz_shared->reg_lock, LW_SHARED);
	counts = kz_reg_counts();
	LWLockRelease(kz_shared->reg_lock);
	nodes = snapshot_nodes();
	for (i = 0; i < KZ_MAX_NODES; i++)
	{
		if (nodes[i].state != KZ_NODE_UNUSED)
			put_node(rsinfo, &nodes[i], i == KZ_SELF_NODE, counts.local);
	}
	return (Datum) 0;
}

static const char *
broker_state_name(uint32 state)
{
	switch ((KzBrokerState) state)
	{
		case KZ_BROKER_DISABLED:
			return "disabled";
		case KZ_BROKER_CONNECTING:
			return "connecting";
		case KZ_BROKER_CONNECTED:
			return "connected";
	}
	return "unknown";
}

#define STAT_DATUM(field) \
	Int64GetDatum((int64) pg_atomic_read_u64(&kz_shared->stats.field))

/* kz_globals.stats: one row of counters since the server started. */
Datum
kz_stats_data(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[STATS_COLS];
	bool		nulls[STATS_COLS];
	uint32		state;

	kz_session_attach();
	kz_require_privilege(KZ_PRIV_READ);
	InitMaterializedSRF(fcinfo, 0);
	state = pg_atomic_read_u32(&kz_shared->broker_state);
	memset(nulls, 0, sizeof(nulls));
	if (!kz_cluster_configured())
		state = KZ_BROKER_DISABLED;
	values[0] = CStringGetTextDatum(broker_state_name(state));
	values[1] = STAT_DATUM(claims_won);
	values[2] = STAT_DATUM(claims_lost);
	values[3] = STAT_DATUM(conflicts);
	values[4] = STAT_DATUM(names_expired);
	values[5] = STAT_DATUM(messages_sent);
	values[6] = STAT_DATUM(messages_received);
	values[7] = STAT_DATUM(messages_dropped);
	values[8] = STAT_DATUM(calls);
	values[9] = STAT_DATUM(broker_connects);
	values[10] = STAT_DATUM(broker_disconnects);
	values[11] = STAT_DATUM(bus_malformed);
	values[12] = STAT_DATUM(bus_rejected);
	values[13] = STAT_DATUM(bus_overflow);
	values[14] = STAT_DATUM(bus_sent);
	values[15] = STAT_DATUM(bus_sent_bytes);
	values[16] = STAT_DATUM(bus_received);
	values[17] = STAT_DATUM(bus_received_bytes);
	/* 1.0's function has 12 columns: fill what the caller's shape has */
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}
