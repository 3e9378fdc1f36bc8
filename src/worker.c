/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The kz_globals background worker: lifecycle and main loop.
 *
 * One static worker per server, started after recovery and restarted by
 * the postmaster a second after it exits (it exits with status 1 on
 * SIGTERM through die(), never 0, so it is always restarted).  It owns all
 * bus traffic; in single-server mode it only answers leftover jobs and
 * sweeps names whose owner died without releasing them.
 *
 * The loop sleeps on its latch (set by backends that queue jobs), on the
 * broker socket when connected, and on a timeout that covers the next
 * scheduled duty.  It never blocks elsewhere.
 *
 * IDENTIFICATION
 *	  src/worker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/timestamp.h"

#include "claims.h"
#include "guc.h"
#include "registry.h"
#include "request.h"
#include "shmem.h"
#include "worker.h"

/* Seconds the postmaster waits before restarting the worker. */
#define KZ_WORKER_RESTART_S		1

/* How often dead owners are swept, in milliseconds. */
#define KZ_SWEEP_INTERVAL_MS	1000

void
kz_worker_register(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = KZ_WORKER_RESTART_S;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "kz_globals");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "kz_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "kz_globals worker");
	snprintf(worker.bgw_type, BGW_MAXLEN, "kz_globals worker");
	worker.bgw_notify_pid = 0;
	RegisterBackgroundWorker(&worker);
}

static void
worker_detach(int code, Datum arg)
{
	pg_atomic_write_u32(&kz_shared->broker_state,
						kz_cluster_configured() ? KZ_BROKER_CONNECTING : KZ_BROKER_DISABLED);
	pg_atomic_write_u32(&kz_shared->membership_ready, 0);
	pg_atomic_write_u32(&kz_shared->worker_pid, 0);
}

/* True if req_id is among the jobs still queued (not yet taken). */
static bool
job_queued(dsa_pointer head, uint64 req_id)
{
	while (DsaPointerIsValid(head))
	{
		KzJob	   *job = kz_job_get(head);

		if (job->req_id == req_id)
			return true;
		head = job->next;
	}
	return false;
}

/*
 * Fails the requests a previous worker took from the queue and never
 * finished: their backends would otherwise wait out their timeout.
 */
static void
fail_orphaned_requests(void)
{
	dsa_pointer head;
	int			i;

	LWLockAcquire(kz_shared->job_lock, LW_SHARED);
	head = kz_shared->job_head;
	for (i = 0; i < MaxBackends; i++)
	{
		KzBackend  *slot = &kz_backends[i];
		uint64		req_id = 0;
		int			pid = 0;

		LWLockAcquire(&slot->lock, LW_SHARED);
		if (slot->req_state == KZ_REQ_QUEUED && !job_queued(head, slot->req_id))
		{
			req_id = slot->req_id;
			pid = slot->pid;
		}
		LWLockRelease(&slot->lock);
		if (req_id != 0)
			kz_request_finish(i, pid, req_id, KZ_RES_WORKER_RESTART);
	}
	LWLockRelease(kz_shared->job_lock);
}

static void
worker_attach(void)
{
	(void) kz_dsa();
	kz_shared->worker_procno = MyProc->pgprocno;
	before_shmem_exit(worker_detach, (Datum) 0);
	pg_atomic_write_u32(&kz_shared->worker_pid, (uint32) MyProcPid);
	fail_orphaned_requests();
}

/*
 * A job while there is no bus: single-server mode, or a backend that saw a
 * different configuration than the worker.  Claims are decided by the
 * table alone; everything else reports that the broker is out of reach.
 */
static void
serve_job_offline(KzJob *job)
{
	KzReqResult result = KZ_RES_BROKER_DOWN;

	if (job->kind == KZ_JOB_UNREGISTER)
		return;
	if (job->kind == KZ_JOB_CLAIM)
	{
		KzName		name;
		KzRow	   *row;

		name.len = job->name_len;
		memcpy(name.data, KZ_JOB_NAME(job), job->name_len);
		LWLockAcquire(kz_shared->reg_lock, LW_EXCLUSIVE);
		row = kz_reg_lookup(&name);
		if (row != NULL && row->state == KZ_ROW_PENDING && row->claim_id == job->ref)
		{
			kz_reg_set_state(row, KZ_ROW_LOCAL);
			result = KZ_RES_OK;
			KZ_STAT_INC(claims_won);
		}
		else
			result = KZ_RES_NO;
		LWLockRelease(kz_shared->reg_lock);
	}
	kz_request_finish(job->procno, job->pid, job->req_id, result);
}

/* Serves every queued job in order. */
static void
serve_jobs(void)
{
	dsa_pointer dp = kz_job_take_all();

	while (DsaPointerIsValid(dp))
	{
		KzJob	   *job = kz_job_get(dp);
		dsa_pointer next = job->next;

		serve_job_offline(job);
		kz_job_free(dp);
		dp = next;
	}
}

static void
reload_config(void)
{
	ConfigReloadPending = false;
	ProcessConfigFile(PGC_SIGHUP);
	if (!kz_cluster_configured())
		pg_atomic_write_u32(&kz_shared->broker_state, KZ_BROKER_DISABLED);
}

void
kz_worker_main(Datum main_arg)
{
	TimestampTz next_sweep = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("kz_globals worker");
	worker_attach();

	for (;;)
	{
		TimestampTz now;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
			reload_config();
		serve_jobs();

		now = GetCurrentTimestamp();
		if (now >= next_sweep)
		{
			kz_sweep_dead_owners();
			next_sweep = TimestampTzPlusMilliseconds(now, KZ_SWEEP_INTERVAL_MS);
		}

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 KZ_SWEEP_INTERVAL_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
