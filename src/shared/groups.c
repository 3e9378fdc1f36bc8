/*-------------------------------------------------------------------------
 *
 * groups.c
 *	  The process-group table (see groups.h).
 *
 * Runs in client backends (join, leave, publish, members, the groups view,
 * exit) and in the worker (remote rows, syncs, expiry, the sweep).
 *
 * Layout, all in the main shared memory segment, sized at start by
 * kz_globals.max_group_members (N):
 *	KzGroupsShared	the free list head, the count, the "local membership
 *					changed" flag and each node's sync generation;
 *	Member[N]		rows, chained per group (next) or on the free list;
 *	group hash		dynahash of N KzGroupEntry at most (a group has at
 *					least one member), preallocated (HASH_FIXED_SIZE).
 *
 * Locks: groups_lock only, taken and released inside every function here
 * (exclusive to change, shared to read).  It comes after reg_lock and
 * nodes_lock and before a slot lock or job_lock (shmem.h); nothing here
 * takes another lock, allocates shared memory or raises while holding it
 * (snapshots palloc under it, as registered() does under reg_lock, and an
 * out-of-memory error there releases it like any LWLock at abort).
 *
 * IDENTIFICATION
 *	  src/shared/groups.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"

#include "groups.h"
#include "guc.h"
#include "shmem.h"

/* One member row; node -1 marks a free row. */
typedef struct Member
{
	int32		next;			/* next member of its group, or next free */
	int32		node;
	int32		procno;
	int32		pid;
	Oid			roleid;
	uint32		gen;			/* remote: the sync generation that named it */
	int64		joined_at;
	KzGroupKey	group;
} Member;

typedef struct KzGroupEntry
{
	KzGroupKey	key;			/* hash key: must be first */
	int32		head;			/* first member, -1 none */
	int32		members;		/* all of its members */
	int32		local;			/* those of this node */
} KzGroupEntry;

typedef struct KzGroupsShared
{
	int32		capacity;
	int32		free_head;
	int32		used;
	int32		local_used;		/* rows of this node */
	pg_atomic_uint32 dirty;
	uint32		sync_gen[KZ_MAX_NODES];
	Member		rows[FLEXIBLE_ARRAY_MEMBER];
} KzGroupsShared;

static KzGroupsShared *gs = NULL;
static HTAB *group_hash = NULL;

static Size
rows_size(void)
{
	return add_size(offsetof(KzGroupsShared, rows),
					mul_size(kz_max_group_members, sizeof(Member)));
}

Size
kz_groups_shmem_size(void)
{
	return add_size(MAXALIGN(rows_size()),
					hash_estimate_size(kz_max_group_members, sizeof(KzGroupEntry)));
}

void
kz_groups_shmem_init(void)
{
	bool		found;
	HASHCTL		info;

	gs = ShmemInitStruct("kz_globals groups", rows_size(), &found);
	if (!found)
	{
		int			i;

		gs->capacity = kz_max_group_members;
		gs->used = 0;
		gs->local_used = 0;
		pg_atomic_init_u32(&gs->dirty, 0);
		memset(gs->sync_gen, 0, sizeof(gs->sync_gen));
		for (i = 0; i < gs->capacity; i++)
		{
			gs->rows[i].node = -1;
			gs->rows[i].next = i + 1 < gs->capacity ? i + 1 : -1;
		}
		gs->free_head = gs->capacity > 0 ? 0 : -1;
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(KzGroupKey);
	info.entrysize = sizeof(KzGroupEntry);
	group_hash = ShmemInitHash("kz_globals group hash",
							   kz_max_group_members, kz_max_group_members,
							   &info, HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
}

void
kz_group_key_set(KzGroupKey *key, const char *data, size_t len)
{
	Assert(len <= KZ_GROUP_MAX_BYTES);
	memset(key, 0, sizeof(*key));
	key->len = (uint16) len;
	memcpy(key->data, data, len);
}

static void
mark_dirty(void)
{
	pg_atomic_write_u32(&gs->dirty, 1);
}

bool
kz_groups_take_dirty(void)
{
	return pg_atomic_exchange_u32(&gs->dirty, 0) != 0;
}

/* The member (node, pid) of a group entry, or -1; *prev its predecessor. */
static int
find_member(const KzGroupEntry *g, int node, int pid, int *prev)
{
	int			i;

	*prev = -1;
	for (i = g->head; i >= 0; i = gs->rows[i].next)
	{
		if (gs->rows[i].node == node && gs->rows[i].pid == pid)
			return i;
		*prev = i;
	}
	return -1;
}

/*
 * Adds a member row (caller holds groups_lock exclusively).  The group's
 * entry is made when it has none: there is room for it whenever there is a
 * free row, since every group has at least one member.
 */
static KzGroupResult
add_locked(const KzGroupKey *group, int node, int procno, int pid, Oid roleid,
		   int64 joined_at)
{
	KzGroupEntry *g;
	bool		found;
	int			prev;
	int			i;

	g = hash_search(group_hash, group, HASH_FIND, NULL);
	if (g != NULL && (i = find_member(g, node, pid, &prev)) >= 0)
	{
		/* known: a remote rejoin refreshes the row and its generation */
		gs->rows[i].joined_at = node == KZ_SELF_NODE ? gs->rows[i].joined_at : joined_at;
		gs->rows[i].gen = gs->sync_gen[node];
		return KZ_GROUP_ALREADY;
	}
	if (gs->free_head < 0)
		return KZ_GROUP_FULL;
	if (g == NULL)
	{
		g = hash_search(group_hash, group, HASH_ENTER_NULL, &found);
		if (g == NULL)
			return KZ_GROUP_FULL;
		g->head = -1;
		g->members = 0;
		g->local = 0;
	}
	i = gs->free_head;
	gs->free_head = gs->rows[i].next;
	gs->rows[i].node = node;
	gs->rows[i].procno = procno;
	gs->rows[i].pid = pid;
	gs->rows[i].roleid = roleid;
	gs->rows[i].gen = gs->sync_gen[node];
	gs->rows[i].joined_at = joined_at;
	gs->rows[i].group = *group;
	gs->rows[i].next = g->head;
	g->head = i;
	g->members++;
	if (node == KZ_SELF_NODE)
	{
		g->local++;
		gs->local_used++;
	}
	gs->used++;
	return KZ_GROUP_OK;
}

/* Unlinks row i (after prev) from its group and frees it. */
static void
remove_row_locked(KzGroupEntry *g, int i, int prev)
{
	Member	   *m = &gs->rows[i];

	if (prev < 0)
		g->head = m->next;
	else
		gs->rows[prev].next = m->next;
	g->members--;
	if (m->node == KZ_SELF_NODE)
	{
		g->local--;
		gs->local_used--;
	}
	m->node = -1;
	m->pid = 0;
	m->next = gs->free_head;
	gs->free_head = i;
	gs->used--;
	if (g->members == 0)
		(void) hash_search(group_hash, &g->key, HASH_REMOVE, NULL);
}

/* Removes the member (node, pid) of a group; false if it was none. */
static bool
remove_locked(const KzGroupKey *group, int node, int pid)
{
	KzGroupEntry *g = hash_search(group_hash, group, HASH_FIND, NULL);
	int			prev;
	int			i;

	if (g == NULL || (i = find_member(g, node, pid, &prev)) < 0)
		return false;
	remove_row_locked(g, i, prev);
	return true;
}

/* Removes row i wherever it is in its group's chain. */
static void
remove_index_locked(int i)
{
	KzGroupEntry *g = hash_search(group_hash, &gs->rows[i].group, HASH_FIND, NULL);
	int			prev;

	if (g == NULL || find_member(g, gs->rows[i].node, gs->rows[i].pid, &prev) != i)
		return;					/* not reachable: the table is consistent */
	remove_row_locked(g, i, prev);
}

KzGroupResult
kz_groups_join(const KzGroupKey *group, int procno, int pid, Oid roleid)
{
	KzGroupResult r;

	LWLockAcquire(kz_shared->groups_lock, LW_EXCLUSIVE);
	r = add_locked(group, KZ_SELF_NODE, procno, pid, roleid, kz_gregorian_now());
	LWLockRelease(kz_shared->groups_lock);
	if (r == KZ_GROUP_OK)
	{
		mark_dirty();
		kz_wake_worker();
	}
	return r;
}

KzGroupResult
kz_groups_leave(const KzGroupKey *group, int pid)
{
	bool		removed;

	LWLockAcquire(kz_shared->groups_lock, LW_EXCLUSIVE);
	removed = remove_locked(group, KZ_SELF_NODE, pid);
	LWLockRelease(kz_shared->groups_lock);
	if (!removed)
		return KZ_GROUP_ALREADY;
	mark_dirty();
	kz_wake_worker();
	return KZ_GROUP_OK;
}

/* True if row m is a local member that matches: of pid, or (0) dead. */
static bool
matches(const Member *m, int pid)
{
	if (m->node != KZ_SELF_NODE)
		return false;
	return pid != 0 ? m->pid == pid : !kz_proc_alive(m->procno, m->pid);
}

/*
 * True if some local row matches; looked for under the shared lock, so
 * that the sweep of a table with no dead member never blocks joins.
 */
static bool
any_matching(int pid)
{
	bool		found = false;
	int			i;

	LWLockAcquire(kz_shared->groups_lock, LW_SHARED);
	for (i = 0; i < gs->capacity && gs->local_used > 0 && !found; i++)
		found = matches(&gs->rows[i], pid);
	LWLockRelease(kz_shared->groups_lock);
	return found;
}

/* Drops the local rows that match: of pid, or (pid 0) of dead backends. */
static int
release_matching(int pid)
{
	int			n = 0;
	int			i;

	if (!any_matching(pid))
		return 0;
	LWLockAcquire(kz_shared->groups_lock, LW_EXCLUSIVE);
	for (i = 0; i < gs->capacity && gs->local_used > 0; i++)
	{
		if (!matches(&gs->rows[i], pid))
			continue;
		remove_index_locked(i);
		n++;
	}
	LWLockRelease(kz_shared->groups_lock);
	if (n > 0)
	{
		mark_dirty();
		kz_wake_worker();
	}
	return n;
}

int
kz_groups_release(int pid)
{
	return pid != 0 ? release_matching(pid) : 0;
}

int
kz_groups_sweep_dead(void)
{
	return release_matching(0);
}

static void
copy_member(const Member *m, KzGroupMemberInfo *out)
{
	out->group = m->group;
	out->node = m->node;
	out->procno = m->procno;
	out->pid = m->pid;
	out->roleid = m->roleid;
	out->joined_at = m->joined_at;
}

int
kz_groups_targets(const KzGroupKey *group, KzGroupTarget **out, int *remote)
{
	KzGroupEntry *g;
	KzGroupTarget *t;
	int			n = 0;
	int			i;

	*remote = 0;
	LWLockAcquire(kz_shared->groups_lock, LW_SHARED);
	g = hash_search(group_hash, group, HASH_FIND, NULL);
	t = palloc(sizeof(KzGroupTarget) * Max(1, g ? g->local : 0));
	if (g != NULL)
	{
		*remote = g->members - g->local;
		for (i = g->head; i >= 0; i = gs->rows[i].next)
		{
			if (gs->rows[i].node != KZ_SELF_NODE)
				continue;
			t[n].procno = gs->rows[i].procno;
			t[n].pid = gs->rows[i].pid;
			n++;
		}
	}
	LWLockRelease(kz_shared->groups_lock);
	*out = t;
	return n;
}

int
kz_groups_local_count(const KzGroupKey *group)
{
	KzGroupEntry *g;
	int			n = 0;

	LWLockAcquire(kz_shared->groups_lock, LW_SHARED);
	g = hash_search(group_hash, group, HASH_FIND, NULL);
	if (g != NULL)
		n = g->local;
	LWLockRelease(kz_shared->groups_lock);
	return n;
}

int
kz_groups_snapshot(const KzGroupKey *group, bool local_only, KzGroupMemberInfo **out)
{
	KzGroupMemberInfo *copy;
	int			n = 0;
	int			i;

	LWLockAcquire(kz_shared->groups_lock, LW_SHARED);
	if (group != NULL)
	{
		KzGroupEntry *g = hash_search(group_hash, group, HASH_FIND, NULL);

		copy = palloc(sizeof(KzGroupMemberInfo) * Max(1, g ? g->members : 0));
		for (i = g ? g->head : -1; i >= 0; i = gs->rows[i].next)
		{
			if (!local_only || gs->rows[i].node == KZ_SELF_NODE)
				copy_member(&gs->rows[i], &copy[n++]);
		}
	}
	else
	{
		copy = palloc(sizeof(KzGroupMemberInfo) * Max(1, gs->used));
		for (i = 0; i < gs->capacity; i++)
		{
			if (gs->rows[i].node < 0 ||
				(local_only && gs->rows[i].node != KZ_SELF_NODE))
				continue;
			copy_member(&gs->rows[i], &copy[n++]);
		}
	}
	LWLockRelease(kz_shared->groups_lock);
	*out = copy;
	return n;
}

KzGroupResult
kz_groups_remote_join(const KzGroupKey *group, int node, int pid, int64 joined_at)
{
	KzGroupResult r;

	if (node <= KZ_SELF_NODE || node >= KZ_MAX_NODES)
		return KZ_GROUP_ALREADY;
	LWLockAcquire(kz_shared->groups_lock, LW_EXCLUSIVE);
	r = add_locked(group, node, -1, pid, InvalidOid, joined_at);
	LWLockRelease(kz_shared->groups_lock);
	return r;
}

void
kz_groups_remote_leave(const KzGroupKey *group, int node, int pid)
{
	if (node <= KZ_SELF_NODE || node >= KZ_MAX_NODES)
		return;
	LWLockAcquire(kz_shared->groups_lock, LW_EXCLUSIVE);
	(void) remove_locked(group, node, pid);
	LWLockRelease(kz_shared->groups_lock);
}

void
kz_groups_sync_begin(int node)
{
	if (node <= KZ_SELF_NODE || node >= KZ_MAX_NODES)
		return;
	LWLockAcquire(kz_shared->groups_lock, LW_EXCLUSIVE);
	gs->sync_gen[node]++;
	LWLockRelease(kz_shared->groups_lock);
}

int
kz_groups_drop_node(int node, bool only_unsynced)
{
	int			n = 0;
	int			i;

	if (node <= KZ_SELF_NODE || node >= KZ_MAX_NODES)
		return 0;
	LWLockAcquire(kz_shared->groups_lock, LW_EXCLUSIVE);
	for (i = 0; i < gs->capacity; i++)
	{
		Member	   *m = &gs->rows[i];

		if (m->node != node || (only_unsynced && m->gen == gs->sync_gen[node]))
			continue;
		remove_index_locked(i);
		n++;
	}
	LWLockRelease(kz_shared->groups_lock);
	return n;
}
