/*-------------------------------------------------------------------------
 *
 * claims.h
 *	  Registering, releasing and finding names, as a backend does it.
 *
 * A lease's claim (acquire_lease) is one of these too (src/shared/lease_rows.h).
 * In single-server mode (no kz_globals.amqp_uri) everything happens here,
 * under reg_lock.  In cluster mode a claim first puts a pending row in the
 * table and hands the decision to the worker, which asks the other nodes.
 *
 * IDENTIFICATION
 *	  src/backend/claims.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_CLAIMS_H
#define KZ_CLAIMS_H

#include "kz_types.h"
#include "registry.h"

/* The owner of a name, as read from the table. */
typedef struct KzOwner
{
	uint8		state;			/* KZ_ROW_LOCAL or KZ_ROW_REMOTE */
	int			node;			/* node index */
	int32		pid;			/* 0 if unknown (Kazoo owner) */
	int32		procno;			/* local owner's PGPROC number */
	Oid			roleid;			/* local owner's role */
	int64		token;			/* claim timestamp */
	bool		lease;			/* held by a lease (no backend, no mailbox) */
	char		node_name[KZ_NODE_NAME_MAX];
} KzOwner;

/*
 * True when names are decided by the cluster.  With raise, errors out with
 * the SQLSTATEs of SPEC section 3 when the cluster cannot be asked (worker
 * not running: 55000; broker unreachable: 08006); without, returns false in
 * those cases so that callers serve the local table.
 */
extern bool kz_cluster_ready(bool raise);

/*
 * Registers backend (procno, pid) of database dbid and role roleid under
 * name.  False if the name is taken anywhere or another claim won.
 */
extern bool kz_claim_name(const KzName *name, int procno, int pid,
						  Oid dbid, Oid roleid);

/*
 * Registration metadata: the JSON text of a jsonb object or array, already
 * checked against kz_globals.max_meta_size; text NULL (len 0) for none.
 */
typedef struct KzMetaArg
{
	const char *text;
	int32		len;
} KzMetaArg;

/*
 * kz_claim_name with metadata (meta NULL: none).  Errors out with 53200,
 * nothing changed, if the metadata pool cannot hold it.
 */
extern bool kz_claim_name_meta(const KzName *name, int procno, int pid,
							   Oid dbid, Oid roleid, const KzMetaArg *meta);

/*
 * set_meta(): replaces the metadata of a name this session holds and
 * advertises it again.  Errors, nothing changed: 42704 if no live process
 * holds the name (or its claim is still under way), 42501 if another
 * session does, 53200 if the pool cannot hold the new metadata.
 */
extern void kz_set_meta(const KzName *name, const KzMetaArg *meta);

/*
 * meta(): false if the name is not registered (as whereis_name finds it in
 * the local table); else *text is a palloc'd copy of its metadata, or NULL
 * if it has none (always, for a name a Kazoo node owns).
 */
extern bool kz_name_meta(const KzName *name, char **text);

/*
 * unregister_name(): removes a local registration, checking that the caller
 * may.  False if this node does not hold the name as local.
 */
extern bool kz_unregister_name(const KzName *name);

/* Reads the owner from the local table; false on a miss. */
extern bool kz_find_owner(const KzName *name, KzOwner *owner);

/*
 * Reads the owner, asking the cluster on a local miss when
 * kz_globals.query_on_miss is on and the cluster can be asked.
 */
extern bool kz_whereis(const KzName *name, KzOwner *owner);

/*
 * register_name_wait(): a standby for name.  Sleeps until the name is free
 * anywhere, then claims it; repeats if another standby won.  False after
 * timeout_ms (-1: no limit).
 */
extern bool kz_claim_name_wait(const KzName *name, int timeout_ms);

/*
 * acquire_lease(): claims name for a lease of ttl_ms held by no backend
 * (src/shared/lease_rows.h), as the calling backend's role; with timeout_ms
 * other than 0 waits for the name as register_name_wait() does.  True and
 * the lease's token in *token if it was won.
 */
extern bool kz_claim_lease(const KzName *name, int32 ttl_ms, int timeout_ms,
						   int64 *token);

/*
 * May the current user act for a name of role roleid: unregister it, or
 * renew and release a lease of it?  A member of the role, kz_globals_admin
 * or a superuser.
 */
extern bool kz_may_act_for_role(Oid roleid);

/* The fencing token of name's current registration; false if none. */
extern bool kz_name_token(const KzName *name, int64 *token);

/*
 * True if this backend owns name with the given token, or the name is held
 * here by a lease with that token that the current user may act for.
 */
extern bool kz_owns_with_token(const KzName *name, int64 token);

#endif							/* KZ_CLAIMS_H */
