/*-------------------------------------------------------------------------
 *
 * nodes.c
 *	  The node table (see nodes.h).
 *
 * IDENTIFICATION
 *	  src/shared/nodes.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "storage/shmem.h"

#include "guc.h"
#include "nodes.h"
#include "shmem.h"

static KzNode *nodes = NULL;

Size
kz_nodes_shmem_size(void)
{
	return mul_size(KZ_MAX_NODES, sizeof(KzNode));
}

/*
 * Attaches to the node table, creating it with this node as its only entry
 * on first call after (re)start of shared memory.  Caller holds
 * AddinShmemInitLock.
 */
void
kz_nodes_shmem_init(int64 started_at)
{
	bool		found;
	KzNode	   *self;

	nodes = ShmemInitStruct("kz_globals nodes", kz_nodes_shmem_size(), &found);
	if (found)
		return;

	memset(nodes, 0, kz_nodes_shmem_size());
	self = &nodes[KZ_SELF_NODE];
	self->state = KZ_NODE_UP;
	self->answers = true;
	self->started_at = started_at;
	self->expires_ms = 3 * kz_heartbeat_interval;
	strlcpy(self->name, kz_node_name, sizeof(self->name));
	strlcpy(self->zone, kz_zone, sizeof(self->zone));
}

KzNode *
kz_node(int index)
{
	Assert(index >= 0 && index < KZ_MAX_NODES);
	return &nodes[index];
}

int
kz_node_find(const char *name)
{
	int			i;

	for (i = 0; i < KZ_MAX_NODES; i++)
	{
		if (nodes[i].state != KZ_NODE_UNUSED && strcmp(nodes[i].name, name) == 0)
			return i;
	}
	return -1;
}

/*
 * Takes an unused slot, or else the expired node heard from longest ago.
 * The caller (the worker) has already removed every row of an expired node.
 */
int
kz_node_add(const char *name)
{
	int			i;
	int			victim = -1;

	for (i = 1; i < KZ_MAX_NODES; i++)
	{
		if (nodes[i].state == KZ_NODE_UNUSED)
		{
			victim = i;
			break;
		}
		if (nodes[i].state == KZ_NODE_EXPIRED &&
			(victim < 0 || nodes[i].last_heartbeat < nodes[victim].last_heartbeat))
			victim = i;
	}
	if (victim < 0)
		return -1;
	memset(&nodes[victim], 0, sizeof(KzNode));
	nodes[victim].state = KZ_NODE_UP;
	strlcpy(nodes[victim].name, name, sizeof(nodes[victim].name));
	return victim;
}

void
kz_node_name_copy(int index, char *buf)
{
	LWLockAcquire(kz_shared->nodes_lock, LW_SHARED);
	strlcpy(buf, nodes[index].name, KZ_NODE_NAME_MAX);
	LWLockRelease(kz_shared->nodes_lock);
}
