/*-------------------------------------------------------------------------
 *
 * relay.h
 *	  Send, call and reply between backends and remote owners.
 *
 * Runs in the worker only.
 *
 * IDENTIFICATION
 *	  src/worker/relay.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_RELAY_H
#define KZ_RELAY_H

#include "datatype/timestamp.h"

#include "protocol.h"
#include "request.h"

extern void kz_relay_init(void);
extern void kz_relay_job(const KzJob *job);
extern void kz_relay_confirm(bool ack, uint64 tag, bool multiple);
extern void kz_relay_returned(const char *msg_id);
extern void kz_relay_flush(void);
extern void kz_relay_in_send(const KzBusMsg *msg);
extern void kz_relay_in_send_batch(const KzBusMsg *msg);
extern void kz_relay_in_call(const KzBusMsg *msg);
extern void kz_relay_in_reply(const KzBusMsg *msg);
extern TimestampTz kz_relay_expire(TimestampTz now);
extern void kz_relay_fail_all(void);

#endif							/* KZ_RELAY_H */
