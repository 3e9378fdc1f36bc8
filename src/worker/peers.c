/*-------------------------------------------------------------------------
 *
 * peers.c
 *	  What the worker knows of its peers, as the handlers ask it.
 *
 * The node table (src/shared/nodes.c) holds every peer; these functions
 * find or add one by name, record the queue it uses, and answer the
 * questions the handlers ask about peers (is an owner up, may batches be
 * used, is this a kz_globals node).  Also the monotonic clock that
 * heartbeats and expiry are measured on.
 *
 * Runs in the worker only.  Each function takes nodes_lock itself (shared
 * to read, exclusive to change; callers hold no lock, but
 * kz_peer_mark_heard, whose caller holds nodes_lock exclusively) and logs
 * only after releasing it.
 *
 * IDENTIFICATION
 *	  src/worker/peers.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>

#include "utils/timestamp.h"

#include "nodes.h"
#include "peers.h"
#include "routing.h"
#include "shmem.h"


static bool warned_table_full = false;

/* Milliseconds on the monotonic clock (shared by every process here). */
int64
kz_peer_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Marks node n as heard now; caller holds nodes_lock exclusively. */
void
kz_peer_mark_heard(KzNode *n)
{
	n->last_heartbeat = GetCurrentTimestamp();
	n->heard_mono_ms = kz_peer_mono_ms();
}

/*
 * The index of a node, adding it if asked.  A node heard of other than by
 * heartbeat is kept as "up" for KZ_UNHEARD_EXPIRES_MS, so that its names
 * are not dropped before its first heartbeat (Kazoo's come every 5-15 s);
 * it is not expected to answer claims until it heartbeats.
 */
int
kz_peer_node(const char *name, bool create)
{
	int			idx;
	KzNode	   *n;

	LWLockAcquire(kz_shared->nodes_lock, LW_SHARED);
	idx = kz_node_find(name);
	n = idx >= 0 ? kz_node(idx) : NULL;
	LWLockRelease(kz_shared->nodes_lock);
	if ((n != NULL && n->state == KZ_NODE_UP) || !create)
		return idx;

	n = NULL;
	LWLockAcquire(kz_shared->nodes_lock, LW_EXCLUSIVE);
	idx = kz_node_find(name);
	if (idx < 0)
		idx = kz_node_add(name);
	else if (kz_node(idx)->state == KZ_NODE_UP)
		n = kz_node(idx);		/* another path brought it up meanwhile */
	if (idx >= 0 && n == NULL)
	{
		/* new, or back after expiring: up, but not heard from yet */
		n = kz_node(idx);
		n->state = KZ_NODE_UP;
		n->heard = false;
		n->answers = false;
		n->is_kazoo = true;
		kz_peer_mark_heard(n);
		n->expires_ms = KZ_UNHEARD_EXPIRES_MS;
	}
	LWLockRelease(kz_shared->nodes_lock);
	if (idx < 0 && !warned_table_full)
	{
		warned_table_full = true;
		ereport(LOG,
				(errmsg("kz_globals node table is full (%d nodes); messages from node \"%s\" are ignored",
						KZ_MAX_NODES, name)));
	}
	return idx;
}

void
kz_peer_set_server(int node, const char *server)
{
	if (server == NULL || server[0] == '\0' || strlen(server) >= KZ_SERVER_MAX)
		return;
	LWLockAcquire(kz_shared->nodes_lock, LW_EXCLUSIVE);
	strlcpy(kz_node(node)->server, server, KZ_SERVER_MAX);
	LWLockRelease(kz_shared->nodes_lock);
}

/*
 * Is the owner behind kz_globals queue server up, as far as this node
 * knows?  Its node is found by the queue it last used, else by the node name
 * that begins every kz_globals queue name.  An owner on a node that has
 * expired, on a node this node has never heard of, or on an earlier session
 * of this very node, is not up: a peer's row naming it is stale (Kazoo
 * keeps such rows, with live proxies, after a node dies hard).
 */
bool
kz_peer_owner_up(const char *server)
{
	char		name[KZ_NODE_NAME_MAX];
	int			idx = -1;
	int			i;
	bool		up;

	LWLockAcquire(kz_shared->nodes_lock, LW_SHARED);
	for (i = 0; i < KZ_MAX_NODES && idx < 0; i++)
	{
		if (kz_node(i)->name[0] != '\0' && strcmp(kz_node(i)->server, server) == 0)
			idx = i;
	}
	if (idx < 0 && kz_proto_queue_node(server, name, sizeof(name)))
		idx = kz_node_find(name);
	up = idx >= 0 && idx != KZ_SELF_NODE && kz_node(idx)->state == KZ_NODE_UP;
	LWLockRelease(kz_shared->nodes_lock);
	return up;
}

/*
 * True while batches may be used: no Kazoo node is up, since Kazoo nodes
 * understand only one message per event.
 */
bool
kz_peer_batching_ok(void)
{
	bool		ok = true;
	int			i;

	LWLockAcquire(kz_shared->nodes_lock, LW_SHARED);
	for (i = 0; i < KZ_MAX_NODES && ok; i++)
	{
		KzNode	   *n = kz_node(i);

		if (i != KZ_SELF_NODE && n->state == KZ_NODE_UP && n->is_kazoo)
			ok = false;
	}
	LWLockRelease(kz_shared->nodes_lock);
	return ok;
}

/* True if node is a kz_globals node that has heartbeat (batches welcome). */
bool
kz_peer_is_pg(int node)
{
	bool		pg;

	LWLockAcquire(kz_shared->nodes_lock, LW_SHARED);
	pg = kz_node(node)->heard && !kz_node(node)->is_kazoo;
	LWLockRelease(kz_shared->nodes_lock);
	return pg;
}

