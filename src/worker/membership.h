/*-------------------------------------------------------------------------
 *
 * membership.h
 *	  Heartbeats, node expiry, sync on join.
 *
 * Runs in the worker only.
 *
 * IDENTIFICATION
 *	  src/worker/membership.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_MEMBERSHIP_H
#define KZ_MEMBERSHIP_H

#include "datatype/timestamp.h"

#include "protocol.h"

extern void kz_member_heartbeat_in(const KzBusMsg *msg);
extern void kz_member_sync_in(const KzBusMsg *msg, int node);
extern TimestampTz kz_member_service(TimestampTz now);
extern void kz_member_connected(void);
extern void kz_member_disconnected(void);

#endif							/* KZ_MEMBERSHIP_H */
