/*-------------------------------------------------------------------------
 *
 * group_ops.c
 *	  join(), leave() and publish() of process groups (group_ops.h).
 *
 * A member is a backend of this server, as (procno, pid).  Joining and
 * leaving change the shared table at once (the worker announces the
 * change to the other nodes within its next round); a member's exit
 * leaves everything it joined.
 *
 * publish() puts the message into the mailbox of every local member
 * (kind "group", name the group), then, if the table knows members on
 * other nodes, hands it to the worker, which publishes it once on the
 * kz_globals.groups exchange under the group's routing key: the broker
 * copies it to each node that has bound that key (a node binds it while it
 * has a member), and each node's worker delivers it to its own members.
 * What it returns: the local members whose mailbox took the message, plus,
 * if the broker confirmed it without returning it (a mandatory publish
 * that no binding matches comes back), the members on other nodes that
 * this server's table knows at publish time.  A remote mailbox that is
 * full drops it there (counted in that node's stats.messages_dropped); a
 * broker that is not connected, or that routes it nowhere, adds nothing,
 * and is no error: the local members have it.  Remote members get the
 * sender's role and database as with send() (shown when signed).
 *
 * Takes groups_lock (through groups.c) and slot locks (through mailbox.c),
 * never together; job_lock through request.c.
 *
 * IDENTIFICATION
 *	  src/backend/group_ops.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/timestamp.h"

#include "group_ops.h"
#include "guc.h"
#include "mailbox.h"
#include "messaging.h"
#include "names.h"
#include "request.h"
#include "shmem.h"

/* This backend has joined a group since it started: its exit must look. */
static bool joined_any = false;

static char *
group_cstring(const KzGroupKey *group)
{
	return pnstrdup(group->data, group->len);
}

bool
kz_group_join(const KzGroupKey *group)
{
	switch (kz_groups_join(group, KZ_MY_PROCNO, MyProcPid, GetSessionUserId()))
	{
		case KZ_GROUP_OK:
			joined_any = true;
			return true;
		case KZ_GROUP_ALREADY:
			return false;
		case KZ_GROUP_FULL:
			break;
	}
	ereport(ERROR,
			(errcode(ERRCODE_OUT_OF_MEMORY),
			 errmsg("kz_globals process-group table is full"),
			 errdetail("It holds %d memberships on this server and the others (kz_globals.max_group_members); \"%s\" was not joined.",
					   kz_max_group_members, group_cstring(group)),
			 errhint("Increase kz_globals.max_group_members and restart the server.")));
	return false;
}

bool
kz_group_leave(const KzGroupKey *group)
{
	return kz_groups_leave(group, MyProcPid) == KZ_GROUP_OK;
}

void
kz_group_exit(void)
{
	if (joined_any && kz_shared != NULL)
		(void) kz_groups_release(MyProcPid);
	joined_any = false;
}

/* Puts the message into each local member's mailbox; returns how many took it. */
static int64
deliver_local(const KzGroupKey *group, const KzGroupTarget *targets, int n,
			  const char *message, size_t len)
{
	KzMessageSpec spec;
	KzName		name;
	int64		delivered = 0;
	int			i;

	if (n == 0)
		return 0;
	if (!kz_name_from_bytes(group->data, group->len, &name))
		elog(ERROR, "kz_globals: group name does not fit");	/* checked before */
	memset(&spec, 0, sizeof(spec));
	spec.kind = KZ_MSG_GROUP;
	spec.sender_pid = MyProcPid;
	spec.sent_at = GetCurrentTimestamp();
	spec.name = &name;
	spec.node = kz_node_name;
	spec.role = GetUserNameFromId(GetUserId(), true);
	spec.db = get_database_name(MyDatabaseId);
	spec.body = message;
	spec.body_len = len;
	for (i = 0; i < n; i++)
	{
		dsa_pointer msg = kz_message_create(&spec, false);

		switch (kz_mailbox_put(targets[i].procno, targets[i].pid, msg))
		{
			case KZ_DELIVER_OK:
				KZ_STAT_INC(messages_received);
				delivered++;
				continue;
			case KZ_DELIVER_FULL:
				KZ_STAT_INC(messages_dropped);
				break;
			case KZ_DELIVER_GONE:
				break;
		}
		kz_message_free(msg);
	}
	return delivered;
}

/*
 * Hands the message to the worker for the other nodes and waits until the
 * broker has routed it; true if it reached at least one node.
 */
static bool
forward_remote(const KzGroupKey *group, const char *message, size_t len)
{
	KzJobSpec	spec;
	KzName		term;
	KzReqResult result;

	/* not connected: nothing to wait for (the worker would only say so) */
	if (pg_atomic_read_u32(&kz_shared->broker_state) != KZ_BROKER_CONNECTED ||
		!kz_name_from_bytes(group->data, group->len, &term))
		return false;
	memset(&spec, 0, sizeof(spec));
	spec.kind = KZ_JOB_GROUP_PUBLISH;
	spec.name = &term;
	spec.body = message;
	spec.body_len = len;
	kz_wire_sender(&spec.role, &spec.db);
	if (!kz_request_run(&spec, kz_request_timeout + KZ_WORKER_GRACE_MS, &result))
		return false;
	return result == KZ_RES_OK;
}

int64
kz_group_publish(const KzGroupKey *group, const char *message, size_t len)
{
	KzGroupTarget *targets;
	int			remote;
	int			n = kz_groups_targets(group, &targets, &remote);
	int64		delivered = deliver_local(group, targets, n, message, len);

	if (remote > 0 && forward_remote(group, message, len))
		delivered += remote;
	KZ_STAT_INC(messages_sent);
	pfree(targets);
	return delivered;
}
