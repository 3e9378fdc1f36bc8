/*-------------------------------------------------------------------------
 *
 * group_sync.h
 *	  Process groups in the worker (see group_sync.c).
 *
 * Runs in the worker only.
 *
 * IDENTIFICATION
 *	  src/worker/group_sync.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_GROUP_SYNC_H
#define KZ_GROUP_SYNC_H

#include "protocol.h"

/* Each round while connected: announce and bind what changed here. */
extern void kz_group_service(void);

/* The connection is up (rebind, sync to all) or gone. */
extern void kz_group_connected(void);
extern void kz_group_disconnected(void);

/* Our members, as a sync, to a kz_globals node's queue. */
extern void kz_group_sync_to(const char *queue);

/* A node expired or restarted: its members are gone. */
extern void kz_group_node_gone(int node);

/* Local members whose backend is gone are dropped. */
extern void kz_group_sweep(void);

/* From the bus: another node's joins and leaves, its sync, a message. */
extern void kz_group_in_members(const KzBusMsg *msg, int node);
extern void kz_group_in_sync(const KzBusMsg *msg, int node);
extern void kz_group_in_publish(const KzBusMsg *msg, const char *routing_key);

#endif							/* KZ_GROUP_SYNC_H */
