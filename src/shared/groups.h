/*-------------------------------------------------------------------------
 *
 * groups.h
 *	  The process-group table: which backends, here and on other nodes,
 *	  are members of which group.
 *
 * A group is a name of 1 to KZ_GROUP_MAX_BYTES bytes (SQL text) with any
 * number of members; a member is a backend, named by its node and pid.  The
 * table is bounded (kz_globals.max_group_members rows, local and remote
 * together) and lives in the main shared memory segment:
 *
 *	a hash of groups (dynahash, fixed size): per group, the head of its
 *	member chain and how many members it has, here and in all;
 *	an array of member rows, chained per group and through a free list.
 *
 * Membership is eventually consistent (as Erlang's pg): this node's own
 * rows are changed by its backends (join, leave, exit) and the worker
 * (sweep of members that died); remote rows only by the worker, from the
 * other nodes' announcements and syncs.  Every local change sets a flag the
 * worker reads to announce it (src/worker/group_sync.c).
 *
 * Locks: groups_lock (KzShared), shared to read, exclusive to change; every
 * function here takes and releases it itself, and none is called with
 * another kz_globals lock held except as the order in shmem.h allows
 * (groups_lock after reg_lock and nodes_lock, before a slot lock or
 * job_lock).  Nothing here raises an error under the lock.
 *
 * IDENTIFICATION
 *	  src/shared/groups.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_GROUPS_H
#define KZ_GROUPS_H

#include "kz_types.h"

/* A group's name, zero-padded: the key of the group hash. */
typedef struct KzGroupKey
{
	uint16		len;
	char		data[KZ_GROUP_MAX_BYTES];
} KzGroupKey;

/* One member as the readers of the table get it. */
typedef struct KzGroupMemberInfo
{
	KzGroupKey	group;
	int32		node;			/* node index; KZ_SELF_NODE: this node */
	int32		procno;			/* local members only */
	int32		pid;
	Oid			roleid;			/* local members only */
	int64		joined_at;		/* Gregorian microseconds */
} KzGroupMemberInfo;

typedef enum KzGroupResult
{
	KZ_GROUP_OK,				/* joined (or left) */
	KZ_GROUP_ALREADY,			/* already a member (or not a member) */
	KZ_GROUP_FULL				/* no free row: nothing changed */
} KzGroupResult;

extern Size kz_groups_shmem_size(void);
extern void kz_groups_shmem_init(void);

/* Fills key from len bytes of data (at most KZ_GROUP_MAX_BYTES). */
extern void kz_group_key_set(KzGroupKey *key, const char *data, size_t len);

/* Backends: join and leave as (procno, pid) of this node. */
extern KzGroupResult kz_groups_join(const KzGroupKey *group, int procno, int pid,
									Oid roleid);
extern KzGroupResult kz_groups_leave(const KzGroupKey *group, int pid);

/*
 * Removes every local membership of pid (its exit); never raises.
 * Returns how many.
 */
extern int	kz_groups_release(int pid);

/* Where a message for a local member goes. */
typedef struct KzGroupTarget
{
	int32		procno;
	int32		pid;
} KzGroupTarget;

/*
 * The local members of a group (*out palloc'd) and the number of its
 * members on other nodes; returns the number of local members.
 */
extern int	kz_groups_targets(const KzGroupKey *group, KzGroupTarget **out,
							  int *remote);

/*
 * A copy of the table's rows (those of one group, or with group NULL all);
 * with local_only, only this node's.  Returns how many, *out palloc'd.
 */
extern int	kz_groups_snapshot(const KzGroupKey *group, bool local_only,
							   KzGroupMemberInfo **out);

/* How many local members of a group (0 when none). */
extern int	kz_groups_local_count(const KzGroupKey *group);

/* The worker: remote rows, the sync generation of a node, the sweep. */
extern KzGroupResult kz_groups_remote_join(const KzGroupKey *group, int node,
										   int pid, int64 joined_at);
extern void kz_groups_remote_leave(const KzGroupKey *group, int node, int pid);
extern void kz_groups_sync_begin(int node);

/* Drops a node's rows (only_unsynced: those its last sync did not name). */
extern int	kz_groups_drop_node(int node, bool only_unsynced);

/* Drops local rows whose backend is gone; returns how many. */
extern int	kz_groups_sweep_dead(void);

/*
 * Local membership changed since the last call (which clears the flag):
 * the worker announces the difference.
 */
extern bool kz_groups_take_dirty(void);

#endif							/* KZ_GROUPS_H */
