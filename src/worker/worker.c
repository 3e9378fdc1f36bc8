/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The kz_globals background worker: lifecycle and main loop.
 *
 * One static worker per server, started after recovery and restarted by
 * the postmaster a second after it exits (it exits with status 1 on
 * SIGTERM through die(), never 0, so it is always restarted).  It does all
 * bus traffic: connecting (worker_conn.c), reading the broker (bus_in.c,
 * relay.c, membership.c), serving the jobs backends queue (inflight.c,
 * relay.c), heartbeats and expiry (membership.c).  In single-server mode it
 * only answers leftover jobs.  In both modes it sweeps names whose owner
 * died without releasing them, and removes leases not renewed in time
 * (waking for the earliest expiry).
 *
 * Each round of the loop: reconnect if due, read a bounded batch of frames,
 * serve every queued job in order, run the timed duties, and sleep on the
 * latch (set by backends that queue jobs), the broker socket and a timeout
 * covering the next duty.  It never sleeps while rabbitmq-c still holds
 * frames, and never blocks anywhere else: every broker operation is
 * bounded.  Allocations of a round go in a context reset after it.
 *
 * IDENTIFICATION
 *	  src/worker/worker.c
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
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "amqp_conn.h"
#include "bus.h"
#include "bus_keys.h"
#include "bus_in.h"
#include "group_sync.h"
#include "guc.h"
#include "inflight.h"
#include "lease_rows.h"
#include "membership.h"
#include "outbox.h"
#include "registry.h"
#include "relay.h"
#include "request.h"
#include "rules_apply.h"
#include "shmem.h"
#include "worker.h"
#include "worker_conn.h"


/* Seconds the postmaster waits before restarting the worker. */
#define KZ_WORKER_RESTART_S		1

/* How often dead owners are swept, in milliseconds. */
#define KZ_SWEEP_INTERVAL_MS	1000

/* Frames read per round before queued jobs get their turn. */
#define KZ_PUMP_BATCH			256

/* Longest sleep while connected: well under the AMQP heartbeat. */
#define KZ_SERVICE_MS			500

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

/* Runs before worker_detach (callbacks run last-registered first). */
static void
worker_leave_broker(int code, Datum arg)
{
	kz_conn_shutdown();
}

static void
worker_attach(void)
{
	(void) kz_dsa();
	kz_shared->worker_procno = KZ_MY_PROCNO;
	before_shmem_exit(worker_detach, (Datum) 0);
	before_shmem_exit(worker_leave_broker, (Datum) 0);
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

	if (job->kind == KZ_JOB_UNREGISTER || job->kind == KZ_JOB_OWNER_GONE ||
		job->kind == KZ_JOB_ADVERTISE)
		return;
	if (job->kind == KZ_JOB_CLAIM)
	{
		KzName		name;
		KzRow	   *row;
		KzRuleRow	r;
		KzRuleEffects eff;

		/* no other node to ask: the claim wins unless it already lost */
		name.len = job->name_len;
		memcpy(name.data, KZ_JOB_NAME(job), job->name_len);
		LWLockAcquire(kz_shared->reg_lock, LW_EXCLUSIVE);
		row = kz_reg_lookup(&name);
		kz_rules_read(row, &r, NULL);
		kz_rule_verdict(&r, job->ref, true, &r, &eff);
		(void) kz_rules_write(row, &name, &r, &eff);
		LWLockRelease(kz_shared->reg_lock);
		result = eff.won ? KZ_RES_OK : KZ_RES_NO;
		if (eff.won)
			KZ_STAT_INC(claims_won);
	}
	kz_request_finish(job->procno, job->pid, job->req_id, result);
}

/* A job while connected (or meant to be): the cluster decides. */
static void
serve_job_online(const KzJob *job)
{
	switch ((KzJobKind) job->kind)
	{
		case KZ_JOB_CLAIM:
			kz_claim_start(job);
			break;
		case KZ_JOB_QUERY:
			kz_query_start(job);
			break;
		case KZ_JOB_SEND:
		case KZ_JOB_CALL:
		case KZ_JOB_REPLY:
		case KZ_JOB_UNREGISTER:
		case KZ_JOB_ADVERTISE:
		case KZ_JOB_OWNER_GONE:
		case KZ_JOB_GROUP_PUBLISH:
			kz_relay_job(job);
			break;
	}
}

/* Serves every queued job, in the order the backends queued them. */
static void
serve_jobs(void)
{
	dsa_pointer dp = kz_job_take_all();
	bool		cluster = kz_cluster_configured();

	while (DsaPointerIsValid(dp))
	{
		KzJob	   *job = kz_job_get(dp);
		dsa_pointer next = job->next;

		if (cluster)
			serve_job_online(job);
		else
			serve_job_offline(job);
		kz_job_free(dp);
		dp = next;
	}
}

/* Hands one event from the broker to the module it concerns. */
static void
on_broker_event(const KzAmqpEvent *ev, void *arg)
{
	switch (ev->kind)
	{
		case KZ_AMQP_DELIVERY:
			kz_in_delivery(ev);
			break;
		case KZ_AMQP_OVERSIZE:
			kz_in_malformed(KZ_PROTO_TOO_LARGE, "a message body over the size limit");
			break;
		case KZ_AMQP_OVERFLOW:
			kz_in_overflow();
			break;
		case KZ_AMQP_RETURN:
			kz_relay_returned(ev->message_id);
			break;
		case KZ_AMQP_ACK:
			kz_relay_confirm(true, ev->delivery_tag, ev->multiple);
			break;
		case KZ_AMQP_NACK:
			kz_relay_confirm(false, ev->delivery_tag, ev->multiple);
			break;
	}
}

/* Reads what the broker sent; a bounded batch, so jobs are not starved. */
static void
pump_broker(void)
{
	char		err[512];

	if (kz_bus.up && !kz_bus.broken &&
		kz_amqp_pump(on_broker_event, NULL, KZ_PUMP_BATCH, err, sizeof(err)) < 0)
		kz_bus_mark_broken(err);
}

/* Everything the broker connection depends on, to see whether it changed. */
static char *
connection_settings(void)
{
	return psprintf("%s|%016" PRIx64 "|%s|%s|%s|%s|%d|%d",
					kz_amqp_uri ? kz_amqp_uri : "", kz_amqp_secrets_hash(),
					kz_amqp_password_file ? kz_amqp_password_file : "",
					kz_amqp_cacert ? kz_amqp_cacert : "",
					kz_amqp_cert ? kz_amqp_cert : "",
					kz_amqp_key ? kz_amqp_key : "", kz_amqp_verify,
					kz_queue_max_length);
}

/* SIGHUP: reread the configuration; reconnect if the connection changed. */
static void
reload_config(void)
{
	char	   *before = connection_settings();
	char	   *after;

	ConfigReloadPending = false;
	ProcessConfigFile(PGC_SIGHUP);
	kz_bus_keys_reload();		/* the key file, rotated or not */
	after = connection_settings();
	if (strcmp(before, after) != 0)
	{
		kz_conn_lost("the broker settings changed");
		kz_conn_reset_backoff();
	}
	if (!kz_cluster_configured())
		pg_atomic_write_u32(&kz_shared->broker_state, KZ_BROKER_DISABLED);
	pfree(before);
	pfree(after);
}

static TimestampTz
earliest(TimestampTz a, TimestampTz b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return Min(a, b);
}

/* One round of duties; returns when the loop must wake at the latest. */
static TimestampTz
do_work(TimestampTz now, TimestampTz *next_sweep)
{
	TimestampTz wake = TimestampTzPlusMilliseconds(now, KZ_SWEEP_INTERVAL_MS);
	int64		lease_ms;

	kz_conn_service(now);
	pump_broker();
	serve_jobs();
	if (kz_bus.up && !kz_bus.broken)
	{
		kz_group_service();
		wake = earliest(wake, kz_member_service(now));
		wake = earliest(wake, kz_inflight_expire(now));
		wake = earliest(wake, kz_relay_expire(now));
		/* rabbitmq-c keeps heartbeats only while called */
		wake = earliest(wake, TimestampTzPlusMilliseconds(now, KZ_SERVICE_MS));
	}
	else if (kz_cluster_configured())
		wake = earliest(wake, kz_conn_next_attempt());
	if (now >= *next_sweep)
	{
		kz_sweep_dead_owners();
		kz_group_sweep();
		*next_sweep = TimestampTzPlusMilliseconds(now, KZ_SWEEP_INTERVAL_MS);
	}
	/* leases not renewed in time go, and the cluster is told */
	lease_ms = kz_leases_expire();
	if (lease_ms >= 0)
		wake = earliest(wake, TimestampTzPlusMilliseconds(now, lease_ms));
	/*
	 * What this round produced goes out now, batched where it can (a send
	 * that cannot go out fails back to its backend at once).
	 */
	kz_relay_flush();
	wake = earliest(wake, kz_outbox_flush(now));
	if (kz_bus.broken)
		return now;				/* tear it down at the loop's top, at once */
	return earliest(wake, *next_sweep);
}

/*
 * The set the loop sleeps on: latch, postmaster death and, while connected,
 * the broker socket.  It is kept across rounds (WaitLatchOrSocket would
 * build and tear down an epoll set on every wait, five system calls per
 * round) and rebuilt only when the connection changes: a new connection
 * may reuse the old descriptor number, which epoll forgot when it closed.
 */
static WaitEventSet *wait_set = NULL;
static pgsocket wait_sock = PGINVALID_SOCKET;
static uint64 wait_conn = 0;

static void
ensure_wait_set(pgsocket sock)
{
	uint64		conn = pg_atomic_read_u64(&kz_shared->stats.broker_connects);

	if (wait_set != NULL && sock == wait_sock && conn == wait_conn)
		return;
	if (wait_set != NULL)
		FreeWaitEventSet(wait_set);
	wait_set = KZ_CREATE_PROCESS_WAIT_SET(3);
	AddWaitEventToSet(wait_set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(wait_set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	if (sock != PGINVALID_SOCKET)
		AddWaitEventToSet(wait_set, WL_SOCKET_READABLE, sock, NULL, NULL);
	wait_sock = sock;
	wait_conn = conn;
}

/* Sleeps until the latch, the broker socket, or the wake time. */
static void
wait_for_work(TimestampTz wake)
{
	long		timeout;
	WaitEvent	event;
	pgsocket	sock = kz_amqp_socket();

	/* frames already read by the library would never wake the socket */
	if (kz_amqp_has_buffered())
		return;
	timeout = Max(0, TimestampDifferenceMilliseconds(GetCurrentTimestamp(), wake));
	ensure_wait_set(kz_bus.up && sock >= 0 ? sock : PGINVALID_SOCKET);
	(void) WaitEventSetWait(wait_set, timeout, &event, 1,
							 kz_wait_event(KZ_WAIT_WORKER));
	ResetLatch(MyLatch);
}

void
kz_worker_main(Datum main_arg)
{
	TimestampTz next_sweep = 0;
	MemoryContext loop_ctx;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("kz_globals worker");
	worker_attach();
	kz_inflight_init();
	kz_relay_init();
	kz_bus_keys_reload();
	loop_ctx = AllocSetContextCreate(TopMemoryContext, "kz_globals worker loop",
									 ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		TimestampTz wake;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
			reload_config();
		/* a connection that failed under last round's handlers goes now */
		kz_conn_teardown_if_broken();
		MemoryContextSwitchTo(loop_ctx);
		wake = do_work(GetCurrentTimestamp(), &next_sweep);
		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(loop_ctx);
		wait_for_work(wake);
	}
}
