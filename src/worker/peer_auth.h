/*-------------------------------------------------------------------------
 *
 * peer_auth.h
 *	  Bus authentication of what arrives: whether a delivery may be acted
 *	  on, before it touches the registry.
 *
 * Runs in the worker only.  Takes nodes_lock (shared) to ask whether a
 * node is a kz_globals node.
 *
 * IDENTIFICATION
 *	  src/worker/peer_auth.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_PEER_AUTH_H
#define KZ_PEER_AUTH_H

#include "amqp_conn.h"
#include "protocol.h"

/*
 * Whether a decoded delivery may be acted on.  A refused one is counted in
 * kz_globals.stats.bus_rejected and logged once per peer and reason.  An
 * accepted one has msg->verified set if a key of the bus key file signed it.
 */
extern bool kz_peer_auth_accept(const KzAmqpEvent *ev, KzBusMsg *msg);

#endif							/* KZ_PEER_AUTH_H */
