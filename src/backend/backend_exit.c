/*-------------------------------------------------------------------------
 *
 * backend_exit.c
 *	  A backend's attachment to kz_globals, and its release at exit.
 *
 * A name's lifetime is its owner's.  Every client backend arms a
 * before_shmem_exit callback as it authenticates (so that a backend
 * registered by another one through register_name(name, pid) releases its
 * names too), and any other process does so the first time it calls a
 * kz_globals function.  The callback runs on normal exit, on FATAL and on
 * pg_terminate_backend, while shared memory is still attached: it removes
 * the backend's names and its group memberships (the worker tells the
 * cluster), queues their unregister events for the worker and
 * empties its mailbox, telling the callers of the calls still in it that
 * no answer will come.  A SIGKILLed backend runs no callback, but then the
 * postmaster reinitializes all shared memory.  The worker also sweeps rows
 * whose owner is gone, for processes that never armed the callback.
 *
 * IDENTIFICATION
 *	  src/backend/backend_exit.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/proc.h"

#include "backend_exit.h"
#include "claims.h"
#include "group_ops.h"
#include "mailbox.h"
#include "messaging.h"
#include "rules_apply.h"
#include "shmem.h"

/*
 * libpq/auth.h cannot be included without the GSSAPI headers, which a
 * server-dev installation need not have; this is its declaration of the one
 * hook used here (PostgreSQL 15).
 */
struct Port;
typedef void (*ClientAuthentication_hook_type) (struct Port *, int);
extern PGDLLIMPORT ClientAuthentication_hook_type ClientAuthentication_hook;

static bool exit_armed = false;
static ClientAuthentication_hook_type prev_client_auth_hook = NULL;

/* True if this process has a slot (regular backends and bgworkers). */
static bool
has_slot(void)
{
	return MyProc != NULL && KZ_MY_PROCNO >= 0 &&
		KZ_MY_PROCNO < MaxBackends;
}

static void
kz_backend_exit(int code, Datum arg)
{
	int			procno;

	if (kz_shared == NULL || !has_slot())
		return;
	procno = KZ_MY_PROCNO;

	/* a FATAL may have left a lock of ours held */
	LWLockReleaseAll();
	kz_release_backend(procno, MyProcPid);
	kz_group_exit();
	if (kz_backends[procno].pid == MyProcPid)
	{
		kz_fail_queued_calls();
		kz_slot_claim(procno, 0);
	}
}

static void
arm_exit_callback(void)
{
	if (!exit_armed && has_slot())
	{
		before_shmem_exit(kz_backend_exit, (Datum) 0);
		exit_armed = true;
	}
}

static void
kz_client_auth(struct Port *port, int status)
{
	if (prev_client_auth_hook)
		prev_client_auth_hook(port, status);
	if (status == STATUS_OK && kz_shared != NULL)
		arm_exit_callback();
}

void
kz_backend_exit_init(void)
{
	prev_client_auth_hook = ClientAuthentication_hook;
	ClientAuthentication_hook = kz_client_auth;
}

void
kz_session_attach(void)
{
	kz_require_shmem();
	if (!has_slot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("kz_globals functions cannot be used in this kind of process")));
	(void) kz_dsa();
	arm_exit_callback();
	if (kz_backends[KZ_MY_PROCNO].pid != MyProcPid)
		kz_slot_claim(KZ_MY_PROCNO, MyProcPid);
}
