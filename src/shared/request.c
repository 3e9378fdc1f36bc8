/*-------------------------------------------------------------------------
 *
 * request.c
 *	  The job FIFO and the backend's wait for the worker (see request.h).
 *
 * IDENTIFICATION
 *	  src/shared/request.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/timestamp.h"

#include "request.h"

bool
kz_job_submit(const KzJobSpec *spec, bool no_oom)
{
	size_t		name_len = spec->name ? spec->name->len : 0;
	size_t		role_len = spec->role ? strlen(spec->role) : 0;
	size_t		db_len = spec->db ? strlen(spec->db) : 0;
	size_t		size;
	dsa_pointer dp;
	KzJob	   *job;
	char	   *p;

	Assert(role_len < NAMEDATALEN && db_len < NAMEDATALEN);
	size = offsetof(KzJob, data) + name_len + spec->target_len +
		spec->body_len + role_len + db_len;
	dp = dsa_allocate_extended(kz_dsa(), size, no_oom ? DSA_ALLOC_NO_OOM : 0);
	if (!DsaPointerIsValid(dp))
		return false;
	job = dsa_get_address(kz_dsa(), dp);
	job->next = InvalidDsaPointer;
	job->kind = spec->kind;
	job->procno = spec->procno;
	job->pid = spec->pid;
	job->req_id = spec->req_id;
	job->ref = spec->ref;
	job->timestamp = spec->timestamp;
	job->timeout_ms = spec->timeout_ms;
	job->node = spec->node;
	job->name_len = name_len;
	job->target_len = spec->target_len;
	job->body_len = spec->body_len;
	job->role_len = role_len;
	job->db_len = db_len;
	p = job->data;
	if (name_len)
		memcpy(p, spec->name->data, name_len);
	p += name_len;
	if (spec->target_len)
		memcpy(p, spec->target, spec->target_len);
	p += spec->target_len;
	if (spec->body_len)
		memcpy(p, spec->body, spec->body_len);
	p += spec->body_len;
	if (role_len)
		memcpy(p, spec->role, role_len);
	p += role_len;
	if (db_len)
		memcpy(p, spec->db, db_len);

	LWLockAcquire(kz_shared->job_lock, LW_EXCLUSIVE);
	if (DsaPointerIsValid(kz_shared->job_tail))
		kz_job_get(kz_shared->job_tail)->next = dp;
	else
		kz_shared->job_head = dp;
	kz_shared->job_tail = dp;
	LWLockRelease(kz_shared->job_lock);

	kz_wake_worker();
	return true;
}

dsa_pointer
kz_job_take_all(void)
{
	dsa_pointer head;

	LWLockAcquire(kz_shared->job_lock, LW_EXCLUSIVE);
	head = kz_shared->job_head;
	kz_shared->job_head = InvalidDsaPointer;
	kz_shared->job_tail = InvalidDsaPointer;
	LWLockRelease(kz_shared->job_lock);
	return head;
}

KzJob *
kz_job_get(dsa_pointer job)
{
	return (KzJob *) dsa_get_address(kz_dsa(), job);
}

void
kz_job_free(dsa_pointer job)
{
	dsa_free(kz_dsa(), job);
}

uint64
kz_request_start(void)
{
	KzBackend  *slot = kz_backend(KZ_MY_PROCNO);
	uint64		id = kz_next_id();

	LWLockAcquire(&slot->lock, LW_EXCLUSIVE);
	slot->req_id = id;
	slot->req_state = KZ_REQ_QUEUED;
	LWLockRelease(&slot->lock);
	return id;
}

/* Reads the request's state; true and *result if the worker is done. */
static bool
request_done(uint64 req_id, KzReqResult *result)
{
	KzBackend  *slot = kz_backend(KZ_MY_PROCNO);
	bool		done = false;

	LWLockAcquire(&slot->lock, LW_SHARED);
	if (slot->req_id == req_id && slot->req_state == KZ_REQ_DONE)
	{
		*result = (KzReqResult) slot->req_result;
		done = true;
	}
	LWLockRelease(&slot->lock);
	return done;
}

/* The names of the KzWait events, as pg_stat_activity shows them. */
static const char *const kz_wait_names[] = {
	[KZ_WAIT_CLAIM] = "KzGlobalsClaim",
	[KZ_WAIT_REQUEST] = "KzGlobalsRequest",
	[KZ_WAIT_CLUSTER_UP] = "KzGlobalsClusterUp",
	[KZ_WAIT_REGISTER] = "KzGlobalsRegisterWait",
	[KZ_WAIT_RECEIVE] = "KzGlobalsReceive",
	[KZ_WAIT_CALL] = "KzGlobalsCall",
	[KZ_WAIT_WORKER] = "KzGlobalsWorkerMain",
};

uint32
kz_wait_event(KzWait wait)
{
	/* looked up once per process: registering takes a lock */
	static uint32 ids[lengthof(kz_wait_names)];

	StaticAssertStmt(lengthof(kz_wait_names) == KZ_WAIT_WORKER + 1,
					 "a name for every KzWait");
	Assert(wait >= 0 && wait < lengthof(kz_wait_names));
	if (ids[wait] == 0)
		ids[wait] = KZ_WAIT_EVENT_NEW(kz_wait_names[wait]);
	return ids[wait];
}

TimestampTz
kz_deadline_in(int timeout_ms)
{
	return timeout_ms < 0 ? 0 :
		TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
}

bool
kz_sleep_until(TimestampTz deadline, long cap_ms, KzWait wait)
{
	int			events = WL_LATCH_SET | WL_EXIT_ON_PM_DEATH;
	long		wait_ms = cap_ms;

	if (deadline != 0)
	{
		long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);

		if (left <= 0)
			return false;
		wait_ms = wait_ms < 0 ? left : Min(wait_ms, left);
	}
	if (wait_ms >= 0)
		events |= WL_TIMEOUT;
	(void) WaitLatch(MyLatch, events, wait_ms, kz_wait_event(wait));
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
	return true;
}

bool
kz_request_wait(uint64 req_id, int timeout_ms, KzWait wait, KzReqResult *result)
{
	TimestampTz deadline = kz_deadline_in(timeout_ms);

	while (!request_done(req_id, result))
	{
		if (!kz_sleep_until(deadline, -1, wait))
			return false;
	}
	return true;
}

void
kz_request_abandon(void)
{
	KzBackend  *slot = kz_backend(KZ_MY_PROCNO);

	LWLockAcquire(&slot->lock, LW_EXCLUSIVE);
	slot->req_id = 0;
	slot->req_state = KZ_REQ_IDLE;
	LWLockRelease(&slot->lock);
}

void
kz_request_finish(int procno, int pid, uint64 req_id, KzReqResult result)
{
	KzBackend  *slot;
	bool		delivered = false;

	if (procno < 0 || !kz_proc_alive(procno, pid))
		return;
	slot = kz_backend(procno);
	LWLockAcquire(&slot->lock, LW_EXCLUSIVE);
	if (slot->pid == pid && slot->req_id == req_id && slot->req_state == KZ_REQ_QUEUED)
	{
		slot->req_result = result;
		slot->req_state = KZ_REQ_DONE;
		delivered = true;
	}
	LWLockRelease(&slot->lock);
	if (delivered)
		SetLatch(kz_proc_latch(procno));
}

bool
kz_request_run(KzJobSpec *spec, int timeout_ms, KzReqResult *result)
{
	volatile bool answered = false;
	volatile KzReqResult res = KZ_RES_WORKER_RESTART;
	KzWait		wait = spec->kind == KZ_JOB_CLAIM ? KZ_WAIT_CLAIM : KZ_WAIT_REQUEST;

	spec->procno = KZ_MY_PROCNO;
	spec->pid = MyProcPid;
	spec->req_id = kz_request_start();
	PG_TRY();
	{
		KzReqResult r;

		kz_job_submit(spec, false);
		if (kz_request_wait(spec->req_id, timeout_ms, wait, &r))
		{
			res = r;
			answered = true;
		}
	}
	PG_FINALLY();
	{
		kz_request_abandon();
	}
	PG_END_TRY();
	*result = res;
	return answered;
}
