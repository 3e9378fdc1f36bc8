/*-------------------------------------------------------------------------
 *
 * shmem.c
 *	  Setting up and reaching kz_globals' shared memory.
 *
 * Sizes are requested in the shmem_request_hook (PostgreSQL 15: MaxBackends
 * is known there) and the structures are made in the shmem_startup_hook,
 * which runs again after a crash-restart: the name table then starts empty
 * and the node gets a new incarnation (started_at), which is how peers learn
 * to drop the names it owned before (SPEC section 6).
 *
 * Variable-sized data (messages, jobs for the worker) lives in a DSA area
 * created in place in the main segment, as the cumulative statistics system
 * does.  It grows into DSM segments when the in-place part is full; every
 * process attaches to it on first use.
 *
 * See shmem.h for the layout and the lock order.
 *
 * IDENTIFICATION
 *	  src/shared/shmem.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "groups.h"
#include "guc.h"
#include "meta.h"
#include "nodes.h"
#include "registry.h"
#include "shmem.h"

/* Size of the in-place part of the DSA area. */
#define KZ_DSA_INPLACE_SIZE		(4 * 1024 * 1024)

/* Timestamps further ahead than this are not adopted by the clock. */
#define KZ_HLC_MAX_AHEAD_US		(INT64CONST(5) * 60 * 1000000)

KzShared   *kz_shared = NULL;
KzBackend  *kz_backends = NULL;

static void *dsa_place = NULL;
static dsa_area *dsa = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size
backends_size(void)
{
	return mul_size(MaxBackends, sizeof(KzBackend));
}

static void
kz_shmem_request(void)
{
	Size		size;

	if (prev_shmem_request_hook)
		prev_shmem_request_hook();

	size = MAXALIGN(sizeof(KzShared));
	size = add_size(size, MAXALIGN(backends_size()));
	size = add_size(size, MAXALIGN(kz_registry_shmem_size()));
	size = add_size(size, MAXALIGN(kz_nodes_shmem_size()));
	size = add_size(size, MAXALIGN(kz_groups_shmem_size()));
	size = add_size(size, MAXALIGN(kz_meta_shmem_size()));
	size = add_size(size, KZ_DSA_INPLACE_SIZE);
	RequestAddinShmemSpace(size);
	RequestNamedLWLockTranche("kz_globals", 4);
}

/* Fills a freshly made KzShared. */
static void
init_shared(void)
{
	LWLockPadded *locks = GetNamedLWLockTranche("kz_globals");
	dsa_area   *area;

	memset(kz_shared, 0, sizeof(KzShared));
	kz_shared->reg_lock = &locks[0].lock;
	kz_shared->nodes_lock = &locks[1].lock;
	kz_shared->job_lock = &locks[2].lock;
	kz_shared->groups_lock = &locks[3].lock;
	kz_shared->started_at = kz_gregorian_now();
	pg_atomic_init_u64(&kz_shared->hlc, kz_shared->started_at);
	pg_atomic_init_u64(&kz_shared->next_id, 1);
	pg_atomic_init_u32(&kz_shared->worker_pid, 0);
	kz_shared->worker_procno = -1;
	pg_atomic_init_u32(&kz_shared->broker_state,
					   kz_cluster_configured() ? KZ_BROKER_CONNECTING : KZ_BROKER_DISABLED);
	pg_atomic_init_u32(&kz_shared->broker_failures, 0);
	pg_atomic_init_u32(&kz_shared->membership_ready, 0);
	pg_atomic_init_u32(&kz_shared->waiters, 0);
	pg_atomic_init_u64(&kz_shared->lease_next_expiry, 0);
	kz_shared->job_head = InvalidDsaPointer;
	kz_shared->job_tail = InvalidDsaPointer;
	pg_atomic_init_u64(&kz_shared->stats.claims_won, 0);
	pg_atomic_init_u64(&kz_shared->stats.claims_lost, 0);
	pg_atomic_init_u64(&kz_shared->stats.conflicts, 0);
	pg_atomic_init_u64(&kz_shared->stats.names_expired, 0);
	pg_atomic_init_u64(&kz_shared->stats.messages_sent, 0);
	pg_atomic_init_u64(&kz_shared->stats.messages_received, 0);
	pg_atomic_init_u64(&kz_shared->stats.messages_dropped, 0);
	pg_atomic_init_u64(&kz_shared->stats.calls, 0);
	pg_atomic_init_u64(&kz_shared->stats.broker_connects, 0);
	pg_atomic_init_u64(&kz_shared->stats.broker_disconnects, 0);
	pg_atomic_init_u64(&kz_shared->stats.bus_malformed, 0);
	pg_atomic_init_u64(&kz_shared->stats.bus_rejected, 0);
	pg_atomic_init_u64(&kz_shared->stats.bus_overflow, 0);

	kz_shared->dsa_tranche = LWLockNewTrancheId();
	area = dsa_create_in_place(dsa_place, KZ_DSA_INPLACE_SIZE,
							   kz_shared->dsa_tranche, NULL);
	dsa_pin(area);
	dsa_detach(area);
}

static void
init_backends(void)
{
	int			i;

	memset(kz_backends, 0, backends_size());
	kz_shared->slot_tranche = LWLockNewTrancheId();
	for (i = 0; i < MaxBackends; i++)
	{
		KzBackend  *b = &kz_backends[i];

		LWLockInitialize(&b->lock, kz_shared->slot_tranche);
		b->mb_head = InvalidDsaPointer;
		b->mb_tail = InvalidDsaPointer;
		b->call_reply = InvalidDsaPointer;
	}
}

static void
kz_shmem_startup(void)
{
	bool		found;
	bool		found_backends;
	bool		found_dsa;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	/* Reset in case this is a restart within the postmaster. */
	kz_shared = NULL;
	kz_backends = NULL;
	dsa = NULL;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	kz_shared = ShmemInitStruct("kz_globals", sizeof(KzShared), &found);
	kz_backends = ShmemInitStruct("kz_globals backends", backends_size(),
								  &found_backends);
	dsa_place = ShmemInitStruct("kz_globals dsa", KZ_DSA_INPLACE_SIZE,
								&found_dsa);
	if (!found)
	{
		init_shared();
		init_backends();
	}
	kz_registry_shmem_init();
	kz_meta_shmem_init();
	kz_nodes_shmem_init(kz_shared->started_at);
	kz_groups_shmem_init();
	LWLockRelease(AddinShmemInitLock);
}

/* Installs the hooks; called from _PG_init while preloading. */
void
kz_shmem_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = kz_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = kz_shmem_startup;
}

void
kz_require_shmem(void)
{
	if (kz_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("kz_globals must be loaded via shared_preload_libraries"),
				 errhint("Add kz_globals to shared_preload_libraries in postgresql.conf and restart the server.")));
}

dsa_area *
kz_dsa(void)
{
	if (dsa == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		LWLockRegisterTranche(kz_shared->dsa_tranche, "kz_globals_dsa");
		LWLockRegisterTranche(kz_shared->slot_tranche, "kz_globals_slot");
		dsa = dsa_attach_in_place(dsa_place, NULL);
		dsa_pin_mapping(dsa);
		MemoryContextSwitchTo(old);
	}
	return dsa;
}

KzBackend *
kz_backend(int procno)
{
	Assert(procno >= 0 && procno < MaxBackends);
	return &kz_backends[procno];
}

Latch *
kz_proc_latch(int procno)
{
	return &ProcGlobal->allProcs[procno].procLatch;
}

bool
kz_proc_alive(int procno, int pid)
{
	if (procno < 0 || procno >= MaxBackends || pid <= 0)
		return false;
	return ProcGlobal->allProcs[procno].pid == pid;
}

int64
kz_gregorian_now(void)
{
	return GetCurrentTimestamp() + KZ_GREGORIAN_PG_EPOCH_US;
}

TimestampTz
kz_gregorian_to_timestamptz(int64 greg_us)
{
	return greg_us - KZ_GREGORIAN_PG_EPOCH_US;
}

int64
kz_hlc_now(void)
{
	uint64		old = pg_atomic_read_u64(&kz_shared->hlc);

	for (;;)
	{
		int64		now = kz_gregorian_now();
		uint64		next = Max((uint64) now, old + 1);

		if (pg_atomic_compare_exchange_u64(&kz_shared->hlc, &old, next))
			return (int64) next;
	}
}

/*
 * Lets a timestamp seen on the bus push the clock forward, so that a claim
 * made here after hearing of another is younger than it.  A timestamp far in
 * the future (a broken clock elsewhere) is not adopted.
 */
void
kz_hlc_observe(int64 ts)
{
	uint64		old = pg_atomic_read_u64(&kz_shared->hlc);

	if (ts <= 0 || ts > kz_gregorian_now() + KZ_HLC_MAX_AHEAD_US)
		return;
	while ((uint64) ts > old)
	{
		if (pg_atomic_compare_exchange_u64(&kz_shared->hlc, &old, (uint64) ts))
			break;
	}
}

uint64
kz_next_id(void)
{
	return pg_atomic_fetch_add_u64(&kz_shared->next_id, 1);
}

void
kz_wake_worker(void)
{
	int			procno = kz_shared->worker_procno;

	if (pg_atomic_read_u32(&kz_shared->worker_pid) != 0 && procno >= 0)
		SetLatch(kz_proc_latch(procno));
}
