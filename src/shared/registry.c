/*-------------------------------------------------------------------------
 *
 * registry.c
 *	  The shared name table: hashing, insertion, removal, liveness.
 *
 * The table lives in one ShmemInitStruct: a header, a power-of-two array of
 * bucket heads and max_names rows.  Buckets and free rows are chained through
 * KzRow.next by index (-1 ends a chain), so rows never move and a reader can
 * keep a row's index for as long as it holds the lock.  The bucket array is
 * at most twice max_names, so a name slot costs sizeof(KzRow) plus at most
 * 8 bytes of buckets; the static assertion below keeps that within the
 * 512-byte budget of SPEC section 8.
 *
 * Locking: see registry.h.  Nothing here takes or releases a lock.
 *
 * IDENTIFICATION
 *	  src/shared/registry.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "lease_rows.h"
#include "meta.h"
#include "registry.h"
#include "shmem.h"

StaticAssertDecl(sizeof(KzRow) + 2 * sizeof(int32) <= 512,
				 "a name slot must fit in 512 bytes of shared memory");

typedef struct KzRegistry
{
	uint64		seed;			/* of the name hash, random per server start */
	int32		capacity;		/* number of rows */
	int32		nbuckets;		/* power of two */
	int32		free_head;		/* first free row, -1 if none */
	int32		counts[4];		/* rows per KzRowState */
	int32		buckets[FLEXIBLE_ARRAY_MEMBER];
} KzRegistry;

/*
 * Local and pending rows per owner role, for kz_globals.max_names_per_role.
 * Each owner is a backend, or a lease that a backend of the role took, so
 * MaxBackends entries suffice unless the leases of more roles than that
 * outlive their backends: a role that finds no free entry is not counted
 * (nor limited) until one frees.  An entry with count 0 is free.
 */
typedef struct KzRoleCount
{
	Oid			role;
	int32		count;
} KzRoleCount;

static KzRegistry *registry = NULL;
static KzRow *rows = NULL;
static KzRoleCount *role_counts = NULL;

/* Smallest power of two >= n. */
static int32
bucket_count(int32 n)
{
	int32		b = 16;

	while (b < n)
		b <<= 1;
	return b;
}

static Size
header_size(int32 nbuckets)
{
	return MAXALIGN(add_size(offsetof(KzRegistry, buckets),
							 mul_size(nbuckets, sizeof(int32))));
}

static Size
rows_size(void)
{
	return MAXALIGN(mul_size(kz_max_names, sizeof(KzRow)));
}

Size
kz_registry_shmem_size(void)
{
	return add_size(add_size(header_size(bucket_count(kz_max_names)), rows_size()),
					mul_size(MaxBackends, sizeof(KzRoleCount)));
}

/*
 * Attaches to the table, creating it empty on first call after (re)start of
 * shared memory.  Caller holds AddinShmemInitLock.
 */
void
kz_registry_shmem_init(void)
{
	bool		found;
	int32		nbuckets = bucket_count(kz_max_names);
	int32		i;

	registry = ShmemInitStruct("kz_globals registry",
							   kz_registry_shmem_size(), &found);
	rows = (KzRow *) ((char *) registry + header_size(nbuckets));
	role_counts = (KzRoleCount *) ((char *) rows + rows_size());
	if (found)
		return;

	/* a seed nobody outside can know, so that names cannot be chosen to collide */
	if (!pg_strong_random(&registry->seed, sizeof(registry->seed)))
		registry->seed = (uint64) GetCurrentTimestamp() ^ (uint64) MyProcPid;
	memset(role_counts, 0, mul_size(MaxBackends, sizeof(KzRoleCount)));
	registry->capacity = kz_max_names;
	registry->nbuckets = nbuckets;
	memset(registry->counts, 0, sizeof(registry->counts));
	for (i = 0; i < nbuckets; i++)
		registry->buckets[i] = -1;
	for (i = 0; i < kz_max_names; i++)
	{
		memset(&rows[i], 0, offsetof(KzRow, name) + sizeof(uint16));
		rows[i].next = (i + 1 < kz_max_names) ? i + 1 : -1;
	}
	registry->free_head = 0;
}

uint32
kz_name_hash(const KzName *name)
{
	return (uint32) hash_bytes_extended(name->data, name->len, registry->seed);
}

bool
kz_name_equal(const KzName *a, const KzName *b)
{
	return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

KzRow *
kz_reg_row(int32 index)
{
	Assert(index >= 0 && index < registry->capacity);
	return &rows[index];
}

int32
kz_reg_index(const KzRow *row)
{
	return (int32) (row - rows);
}

int32
kz_reg_capacity(void)
{
	return registry->capacity;
}

/* Rows in the states of mask, now. */
static int32
rows_in(uint32 mask)
{
	int32		n = 0;
	int			state;

	for (state = KZ_ROW_PENDING; state <= KZ_ROW_REMOTE; state++)
	{
		if (mask & KZ_ROWS_OF(state))
			n += registry->counts[state];
	}
	return n;
}

void
kz_reg_scan_begin(KzRegScan *scan, uint32 mask)
{
	scan->mask = mask;
	scan->next = 0;
	scan->left = rows_in(mask);
	scan->stop = registry->capacity;
}

void
kz_reg_scan_page(KzRegScan *scan, int32 rows)
{
	scan->left = rows_in(scan->mask);
	scan->stop = registry->capacity - scan->next <= rows ?
		registry->capacity : scan->next + rows;
}

bool
kz_reg_scan_done(const KzRegScan *scan)
{
	return scan->left <= 0 || scan->next >= registry->capacity;
}

KzRow *
kz_reg_scan_next(KzRegScan *scan)
{
	while (scan->left > 0 && scan->next < scan->stop)
	{
		KzRow	   *row = &rows[scan->next++];

		if (scan->mask & KZ_ROWS_OF(row->state))
		{
			scan->left--;
			return row;
		}
	}
	return NULL;
}

KzRegistryCounts
kz_reg_counts(void)
{
	KzRegistryCounts c;

	c.pending = registry->counts[KZ_ROW_PENDING];
	c.local = registry->counts[KZ_ROW_LOCAL];
	c.remote = registry->counts[KZ_ROW_REMOTE];
	return c;
}

KzRow *
kz_reg_lookup(const KzName *name)
{
	uint32		hash = kz_name_hash(name);
	int32		i = registry->buckets[hash & (registry->nbuckets - 1)];

	while (i >= 0)
	{
		KzRow	   *row = &rows[i];

		if (row->hash == hash && kz_name_equal(&row->name, name))
			return row;
		i = row->next;
	}
	return NULL;
}

/*
 * Takes a row off the free list and links it into its bucket.  The row
 * stays in state FREE (and is counted so) until the caller gives it a state
 * with kz_reg_set_state.
 */
KzRow *
kz_reg_insert(const KzName *name)
{
	int32		i = registry->free_head;
	uint32		hash;
	int32	   *bucket;
	KzRow	   *row;

	if (i < 0)
		return NULL;
	row = &rows[i];
	registry->free_head = row->next;

	hash = kz_name_hash(name);
	bucket = &registry->buckets[hash & (registry->nbuckets - 1)];
	memset(row, 0, offsetof(KzRow, name));
	row->hash = hash;
	row->procno = -1;
	row->name.len = name->len;
	memcpy(row->name.data, name->data, name->len);
	row->next = *bucket;
	*bucket = i;
	registry->counts[KZ_ROW_FREE]++;
	return row;
}

/* Unlinks a row from its bucket and puts it on the free list. */
void
kz_reg_delete(KzRow *row)
{
	int32		index = kz_reg_index(row);
	int32	   *link = &registry->buckets[row->hash & (registry->nbuckets - 1)];

	while (*link >= 0 && *link != index)
		link = &rows[*link].next;
	Assert(*link == index);
	if (*link == index)
		*link = row->next;
	registry->counts[row->state]--;
	kz_meta_release(row);
	row->state = KZ_ROW_FREE;
	row->next = registry->free_head;
	registry->free_head = index;
}

/*
 * Moves a row to a new state, keeping the per-state counts right.  All state
 * changes go through here.
 */
void
kz_reg_set_state(KzRow *row, KzRowState state)
{
	registry->counts[row->state]--;
	registry->counts[state]++;
	row->state = state;
}

bool
kz_row_alive(const KzRow *row)
{
	switch ((KzRowState) row->state)
	{
		case KZ_ROW_LOCAL:
			if (row->flags & KZ_ROW_LEASE)
				return kz_lease_row_alive(row);
			return kz_proc_alive(row->procno, row->pid);
		case KZ_ROW_PENDING:
			return kz_proc_alive(row->procno, row->pid);
		case KZ_ROW_REMOTE:
			return true;
		case KZ_ROW_FREE:
			break;
	}
	return false;
}

/*
 * The entry of role, or -1.  A process looks up the same role again and
 * again (a backend for its own names), so the entry it found last is tried
 * first: only a hint, checked like any other entry, since every process
 * changes the array (under reg_lock).
 */
static int
role_entry(Oid role)
{
	static int	hint = 0;
	int			i;

	if (hint < MaxBackends && role_counts[hint].count > 0 && role_counts[hint].role == role)
		return hint;
	for (i = 0; i < MaxBackends; i++)
	{
		if (role_counts[i].count > 0 && role_counts[i].role == role)
			return hint = i;
	}
	return -1;
}

int32
kz_reg_role_names(Oid role)
{
	int			i = role_entry(role);

	return i >= 0 ? role_counts[i].count : 0;
}

void
kz_reg_role_add(Oid role, int delta)
{
	int			i = role_entry(role);

	if (i >= 0)
	{
		role_counts[i].count += delta;
		return;
	}
	if (delta <= 0)
		return;
	for (i = 0; i < MaxBackends; i++)
	{
		if (role_counts[i].count <= 0)
		{
			role_counts[i].role = role;
			role_counts[i].count = delta;
			return;
		}
	}
}
