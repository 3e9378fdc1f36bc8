/*-------------------------------------------------------------------------
 *
 * shmem.h
 *	  The shared state of kz_globals on one server.
 *
 * Shared memory holds plain data only: numbers, fixed-size strings and
 * dsa_pointers into kz_globals' own DSA area.  Nothing in it is a pointer or
 * a file descriptor private to one process.
 *
 *	KzShared		one struct: locks, the node's incarnation, the worker's
 *					identity and broker state, the job queue, counters.
 *	KzBackend[]		one slot per PGPROC (MaxBackends): the mailbox, the
 *					call() waiting for a reply, the request handed to the
 *					worker.
 *	registry		the name table (registry.h), under reg_lock.
 *	nodes			the node table (nodes.h), under nodes_lock.
 *	groups			the process-group table (groups.h), under groups_lock.
 *	meta pool		registration metadata (meta.h), under reg_lock.
 *	DSA area		variable-sized data: messages and jobs.
 *
 * Lock order: reg_lock, then nodes_lock, then groups_lock, then a
 * KzBackend's lock or job_lock; the DSA area's own locks come last.  The slot and job locks are
 * LWLocks rather than spinlocks because resolving a dsa_pointer may map a
 * DSM segment.  No lock is held across I/O or a wait.
 *
 * IDENTIFICATION
 *	  src/shared/shmem.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_SHMEM_H
#define KZ_SHMEM_H

#include "port/atomics.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "utils/dsa.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "kz_types.h"

typedef enum KzBrokerState
{
	KZ_BROKER_DISABLED = 0,		/* no kz_globals.amqp_uri: single-server mode */
	KZ_BROKER_CONNECTING,		/* configured, not connected (yet) */
	KZ_BROKER_CONNECTED			/* connected, topology declared */
} KzBrokerState;

/* Counters of kz_globals.stats, since the server started. */
typedef struct KzStats
{
	pg_atomic_uint64 claims_won;
	pg_atomic_uint64 claims_lost;
	pg_atomic_uint64 conflicts;
	pg_atomic_uint64 names_expired;
	pg_atomic_uint64 messages_sent;
	pg_atomic_uint64 messages_received;
	pg_atomic_uint64 messages_dropped;
	pg_atomic_uint64 calls;
	pg_atomic_uint64 broker_connects;
	pg_atomic_uint64 broker_disconnects;
	pg_atomic_uint64 bus_malformed;
	pg_atomic_uint64 bus_rejected;	/* not authentic (bus keys) */
	pg_atomic_uint64 bus_overflow;	/* dropped from our full queue */
	pg_atomic_uint64 bus_sent;		/* messages published */
	pg_atomic_uint64 bus_sent_bytes;	/* ... their bodies' bytes */
	pg_atomic_uint64 bus_received;	/* deliveries taken, before any check */
	pg_atomic_uint64 bus_received_bytes;	/* ... their bodies' bytes */
} KzStats;

#define KZ_STAT_INC(field) pg_atomic_fetch_add_u64(&kz_shared->stats.field, 1)
#define KZ_STAT_ADD(field, n) pg_atomic_fetch_add_u64(&kz_shared->stats.field, (n))

/* State of a backend's request to the worker. */
typedef enum KzReqState
{
	KZ_REQ_IDLE = 0,			/* nothing outstanding */
	KZ_REQ_QUEUED,				/* job submitted, worker not done */
	KZ_REQ_DONE					/* worker wrote the result */
} KzReqState;

/* Outcome of a request, written by the worker. */
typedef enum KzReqResult
{
	KZ_RES_OK = 0,				/* claim won, message routed, reply sent */
	KZ_RES_NO,					/* claim lost, name unknown, caller gone */
	KZ_RES_BROKER_DOWN,			/* could not reach the broker */
	KZ_RES_UNROUTABLE,			/* owner node's queue is gone */
	KZ_RES_WORKER_RESTART,		/* the worker restarted; outcome unknown */
	KZ_RES_TOO_LARGE			/* refused by a size limit */
} KzReqResult;

typedef struct KzBackend
{
	LWLock		lock;			/* protects every field below */
	int32		pid;			/* process using this slot, 0 = none */
	/* mailbox: a FIFO of KzMessage in the DSA area */
	dsa_pointer mb_head;
	dsa_pointer mb_tail;
	int32		mb_count;
	/* a call() of this backend waiting for its reply */
	uint64		call_id;		/* 0 = not waiting */
	dsa_pointer call_reply;		/* KzMessage holding the reply, once answered */
	/* the request this backend handed to the worker */
	uint64		req_id;
	uint8		req_state;		/* KzReqState */
	uint8		req_result;		/* KzReqResult */
	/* register_name_wait(): hash of the awaited name, 0 = not waiting */
	uint32		wait_hash;
	/*
	 * Names (local or pending rows) of this PGPROC slot, and the process
	 * that owns them; both under reg_lock.  One slot holds one process at a
	 * time, so all its rows have one owner.
	 */
	int32		names_owned;
	int32		owner_pid;
} KzBackend;

typedef struct KzShared
{
	LWLock	   *reg_lock;		/* the name table */
	LWLock	   *nodes_lock;		/* the node table */
	LWLock	   *job_lock;		/* the job queue */
	LWLock	   *groups_lock;	/* the process-group table */
	int			dsa_tranche;	/* LWLock tranche of the DSA area */
	int			slot_tranche;	/* LWLock tranche of the KzBackend locks */
	int64		started_at;		/* Gregorian us when shared memory was made */
	pg_atomic_uint64 hlc;		/* last claim timestamp handed out */
	pg_atomic_uint64 next_id;	/* ids for requests, calls and claims */

	/* the background worker (written by the worker) */
	pg_atomic_uint32 worker_pid;	/* 0 when not running */
	int			worker_procno;
	pg_atomic_uint32 broker_state;	/* KzBrokerState */
	pg_atomic_uint32 broker_failures;	/* failed connects since the last
										 * success */
	pg_atomic_uint32 membership_ready;	/* peers known: claims may start */
	pg_atomic_uint32 waiters;	/* backends in register_name_wait() */

	/*
	 * Leases (leases.h): no local lease expires before this (monotonic us;
	 * 0: there is none).  Written under reg_lock held exclusively, read
	 * without it by the worker to know when to look.
	 */
	pg_atomic_uint64 lease_next_expiry;

	/* jobs for the worker: a FIFO of KzJob in the DSA area (job_lock) */
	dsa_pointer job_head;
	dsa_pointer job_tail;

	KzStats		stats;
} KzShared;

/* Pointers into shared memory, valid in every process once attached. */
extern KzShared *kz_shared;
extern KzBackend *kz_backends;

extern void kz_shmem_init(void);

/* Raises the "not preloaded" error unless shared memory is set up. */
extern void kz_require_shmem(void);

/* This process's attachment to the DSA area (attaches on first use). */
extern dsa_area *kz_dsa(void);

/* The slot of a PGPROC number, and its latch. */
extern KzBackend *kz_backend(int procno);
extern Latch *kz_proc_latch(int procno);

/* True if the backend with this PGPROC number and pid is still running. */
extern bool kz_proc_alive(int procno, int pid);

/*
 * Claim timestamps: Gregorian microseconds from the wall clock, but never
 * less than one more than any timestamp handed out or seen on the bus (a
 * hybrid logical clock), so that they strictly increase on this node and
 * follow causality across nodes.
 */
extern int64 kz_hlc_now(void);
extern void kz_hlc_observe(int64 ts);

extern int64 kz_gregorian_now(void);
extern TimestampTz kz_gregorian_to_timestamptz(int64 greg_us);

/* A fresh id for requests, claims and calls (never 0). */
extern uint64 kz_next_id(void);

/* Wakes the worker, if it runs. */
extern void kz_wake_worker(void);

#endif							/* KZ_SHMEM_H */
