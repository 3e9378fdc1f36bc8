/*-------------------------------------------------------------------------
 *
 * peers.h
 *	  What the worker knows of its peers.
 *
 * Runs in the worker only.
 *
 * IDENTIFICATION
 *	  src/worker/peers.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_PEERS_H
#define KZ_PEERS_H

#include "kz_types.h"
#include "nodes.h"

/* A node first heard of other than by heartbeat expires after this long. */
#define KZ_UNHEARD_EXPIRES_MS	20000

extern int64 kz_peer_mono_ms(void);
extern void kz_peer_mark_heard(KzNode *n);
extern int	kz_peer_node(const char *name, bool create);
extern void kz_peer_set_server(int node, const char *server);
extern bool kz_peer_owner_up(const char *server);
extern bool kz_peer_batching_ok(void);
extern bool kz_peer_is_pg(int node);

#endif							/* KZ_PEERS_H */
