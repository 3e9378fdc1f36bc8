/*-------------------------------------------------------------------------
 *
 * peer_auth.h
 *	  Bus authentication in the worker: the keys of kz_globals.bus_key_file,
 *	  the signature on what this node publishes, and the check of what
 *	  arrives, before it touches the registry.
 *
 * Worker process only; its state (keys, replay windows, what was logged)
 * is the worker's memory.  Takes nodes_lock (shared) to ask whether a node
 * is a kz_globals node.
 *
 * IDENTIFICATION
 *	  src/worker/peer_auth.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_PEER_AUTH_H
#define KZ_PEER_AUTH_H

#include "amqp_conn.h"
#include "bus_auth.h"
#include "protocol.h"

/*
 * Reads kz_globals.bus_key_file (at the first use, and on every reload).
 * A file that cannot be used is logged without its content; a node that
 * had keys keeps them, one that had none refuses signed traffic.
 */
extern void kz_peer_auth_reload(void);

/*
 * The signature of a message about to be published, into header
 * (KZ_AUTH_HEADER_MAX bytes); false when this node has no key (publish
 * unsigned).
 */
extern bool kz_peer_auth_sign(const char *exchange, const char *routing_key,
							  const char *message_id, const char *body,
							  size_t len, char *header);

/*
 * Whether a decoded delivery may be acted on.  A refused one is counted in
 * kz_globals.stats.bus_rejected and logged once per peer.
 */
extern bool kz_peer_auth_accept(const KzAmqpEvent *ev, const KzBusMsg *msg);

#endif							/* KZ_PEER_AUTH_H */
