/*-------------------------------------------------------------------------
 *
 * nodes.h
 *	  The node table: this node and every peer seen on the bus.
 *
 * Entry KZ_SELF_NODE is this node.  Peers are added when they first speak
 * and are kept, state "expired", after they stop heartbeating, until their
 * slot is needed again.  Rows of the name table refer to their owner node
 * by index; the worker removes a node's rows before its slot is reused.
 *
 * Locking: kz_shared->nodes_lock, shared to read, exclusive to change.
 * Only the worker changes peers; this node's entry is set up with shared
 * memory and then updated by the worker as well.
 *
 * IDENTIFICATION
 *	  src/shared/nodes.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_NODES_H
#define KZ_NODES_H

#include "datatype/timestamp.h"

#include "kz_types.h"

typedef enum KzNodeState
{
	KZ_NODE_UNUSED = 0,
	KZ_NODE_UP,
	KZ_NODE_EXPIRED
} KzNodeState;

typedef struct KzNode
{
	uint8		state;			/* KzNodeState */
	bool		is_kazoo;		/* an Erlang node, not a PostgreSQL one */
	bool		answers;		/* runs a registry: claims wait for it */
	bool		heard;			/* a heartbeat has arrived since it came up */
	uint32		sync_gen;		/* its current full-state sync round */
	int32		expires_ms;		/* expired after this long without heartbeat */
	int32		names;			/* local names it advertises */
	int64		started_at;		/* its incarnation, Gregorian us; 0 unknown */
	uint64		session;		/* its current broker session; 0 unknown */
	TimestampTz last_heartbeat; /* 0 if never heard (wall clock, shown) */
	int64		heard_mono_ms;	/* the same on the worker's monotonic clock:
								 * expiry is measured on it */
	uint8		empty_beats;	/* Kazoo: heartbeats in a row saying it owns
								 * no name, since we last heard it own one
								 * (the worker alone reads and writes it) */
	char		name[KZ_NODE_NAME_MAX];
	char		zone[KZ_ZONE_MAX];
	char		server[KZ_SERVER_MAX];	/* its kz_globals queue */
} KzNode;

extern Size kz_nodes_shmem_size(void);
extern void kz_nodes_shmem_init(int64 started_at);

/* Caller holds nodes_lock (any mode). */
extern KzNode *kz_node(int index);
extern int	kz_node_find(const char *name);

/* Caller holds nodes_lock exclusively.  Returns -1 if the table is full. */
extern int	kz_node_add(const char *name);

/* Copies a node's name into buf (takes nodes_lock shared). */
extern void kz_node_name_copy(int index, char *buf);

#endif							/* KZ_NODES_H */
