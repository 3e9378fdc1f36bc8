/*-------------------------------------------------------------------------
 *
 * request.h
 *	  Handing work from backends to the background worker.
 *
 * A backend that needs the bus (a claim, a query, a send or call to a
 * remote owner, a reply to a remote caller, telling the cluster a name is
 * gone) allocates a KzJob in the DSA area and appends it to one FIFO in
 * shared memory, then sets the worker's latch.  One FIFO keeps the events
 * about a name in the order they happened, which the worker preserves on
 * the wire (SPEC section 5, fix 6).
 *
 * A backend that needs an answer marks its slot's request QUEUED with a
 * fresh id before submitting and sleeps on its latch until the worker sets
 * the result and state DONE for that id.  Waits are bounded, interruptible,
 * and a result for an id nobody waits for any more is ignored.
 *
 * IDENTIFICATION
 *	  src/shared/request.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_REQUEST_H
#define KZ_REQUEST_H

#include "utils/dsa.h"

#include "kz_types.h"
#include "shmem.h"

typedef enum KzJobKind
{
	KZ_JOB_CLAIM,				/* claim a pending row's name */
	KZ_JOB_QUERY,				/* ask the cluster who owns a name */
	KZ_JOB_SEND,				/* deliver a message to a remote owner */
	KZ_JOB_CALL,				/* forward a call to a remote owner */
	KZ_JOB_REPLY,				/* answer a call from another node */
	KZ_JOB_UNREGISTER,			/* a local name is gone: tell the cluster */
	KZ_JOB_ADVERTISE,			/* a local name's metadata changed:
								 * advertise it again */
	KZ_JOB_OWNER_GONE,			/* a call from another node will never be
								 * answered: tell its caller */
	KZ_JOB_GROUP_PUBLISH		/* a message for a group's members on other
								 * nodes (name: the group's term) */
} KzJobKind;

typedef struct KzJob
{
	dsa_pointer next;			/* next job in the FIFO */
	uint8		kind;			/* KzJobKind */
	int32		procno;			/* requesting backend, -1 if nobody waits */
	int32		pid;			/* its pid; for unregister, the owner's */
	uint64		req_id;			/* the request id the requester waits for */
	uint64		ref;			/* claim id (claims) or call id (calls) */
	int64		timestamp;		/* claim timestamp */
	int32		timeout_ms;		/* calls: how long the caller waits */
	int32		node;			/* owner node index (send, call) */
	uint16		name_len;
	uint16		target_len;		/* queue to publish to (reply), or the
								 * message id to answer */
	uint32		body_len;
	uint8		role_len;		/* send, call: the sender's role, UTF-8 */
	uint8		db_len;			/* ... and database; 0 if not told */
	char		data[FLEXIBLE_ARRAY_MEMBER];	/* name, target, body, role,
												 * database */
} KzJob;

#define KZ_JOB_NAME(j)		((const uint8 *) (j)->data)
#define KZ_JOB_TARGET(j)	((j)->data + (j)->name_len)
#define KZ_JOB_BODY(j)		((j)->data + (j)->name_len + (j)->target_len)
#define KZ_JOB_ROLE(j)		(KZ_JOB_BODY(j) + (j)->body_len)
#define KZ_JOB_DB(j)		(KZ_JOB_ROLE(j) + (j)->role_len)
#define KZ_JOB_SIZE(j)		(offsetof(KzJob, data) + (j)->name_len + \
							 (j)->target_len + (j)->body_len + \
							 (j)->role_len + (j)->db_len)

/* What a job is made from; fields as in KzJob. */
typedef struct KzJobSpec
{
	KzJobKind	kind;
	int32		procno;
	int32		pid;
	uint64		req_id;
	uint64		ref;
	int64		timestamp;
	int32		timeout_ms;
	int32		node;
	const KzName *name;
	const char *target;
	size_t		target_len;
	const char *body;
	size_t		body_len;
	const char *role;			/* NULL or < NAMEDATALEN bytes */
	const char *db;				/* likewise */
} KzJobSpec;

/*
 * Queues a job and wakes the worker.  With no_oom, returns false instead of
 * raising an error when no memory is left (exit callbacks must not fail).
 */
extern bool kz_job_submit(const KzJobSpec *spec, bool no_oom);

/* Worker side: take every queued job (a chain in FIFO order). */
extern dsa_pointer kz_job_take_all(void);
extern KzJob *kz_job_get(dsa_pointer job);
extern void kz_job_free(dsa_pointer job);

/*
 * What a backend or the worker is waiting for.  From PostgreSQL 17 on,
 * pg_stat_activity shows each as a wait event of its own (type
 * "Extension", names in request.c); before, all are "Extension".
 */
typedef enum KzWait
{
	KZ_WAIT_CLAIM,				/* the worker's verdict on a claim */
	KZ_WAIT_REQUEST,			/* the worker, on any other request */
	KZ_WAIT_CLUSTER_UP,			/* the worker's first view of the cluster */
	KZ_WAIT_REGISTER,			/* register_name_wait: the name to be free */
	KZ_WAIT_RECEIVE,			/* receive(): a message */
	KZ_WAIT_CALL,				/* call(): the reply */
	KZ_WAIT_WORKER				/* the worker's main loop */
} KzWait;

/* The wait event id of a KzWait, to pass to WaitLatch and friends. */
extern uint32 kz_wait_event(KzWait wait);

/*
 * Backend side: every wait of a backend on its latch.  kz_deadline_in
 * turns a timeout in milliseconds into a deadline (negative: none, 0).
 * kz_sleep_until sleeps, as wait event "wait", until the latch is set,
 * the deadline passes or cap_ms elapse (-1: no cap), serving interrupts on
 * waking; it returns false at once, without sleeping, if the deadline has
 * passed.
 */
extern TimestampTz kz_deadline_in(int timeout_ms);
extern bool kz_sleep_until(TimestampTz deadline, long cap_ms, KzWait wait);

/* Backend side: start a request (returns its id) and wait for its result. */
extern uint64 kz_request_start(void);

/*
 * Waits, as wait event "wait", until the worker finishes request req_id or
 * timeout_ms pass (-1: no limit).  Returns true with *result set when
 * finished.  Interruptible; an error thrown out of the wait leaves the
 * request abandoned.
 */
extern bool kz_request_wait(uint64 req_id, int timeout_ms, KzWait wait,
							KzReqResult *result);

/* Forget the outstanding request (a late result will be ignored). */
extern void kz_request_abandon(void);

/*
 * The whole round trip: fills in the requester (this backend) and a fresh
 * request id in *spec, submits it and waits up to timeout_ms.  Returns
 * false if the worker did not answer in time.  The request is abandoned on
 * the way out, normally or by error.
 */
/*
 * Extra time a backend gives the worker beyond kz_globals.request_timeout
 * before it stops waiting for a job's answer.
 */
#define KZ_WORKER_GRACE_MS		5000

extern bool kz_request_run(KzJobSpec *spec, int timeout_ms, KzReqResult *result);

/* Worker side: report a result to the backend waiting for req_id. */
extern void kz_request_finish(int procno, int pid, uint64 req_id, KzReqResult result);

#endif							/* KZ_REQUEST_H */
