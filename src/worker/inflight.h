/*-------------------------------------------------------------------------
 *
 * inflight.h
 *	  Claims and queries under way, and their verdicts.
 *
 * Runs in the worker only.
 *
 * IDENTIFICATION
 *	  src/worker/inflight.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_INFLIGHT_H
#define KZ_INFLIGHT_H

#include "datatype/timestamp.h"

#include "protocol.h"
#include "request.h"

extern void kz_inflight_init(void);
extern void kz_claim_start(const KzJob *job);
extern void kz_query_start(const KzJob *job);
extern void kz_inflight_register_resp(const KzBusMsg *msg, int node);
extern void kz_inflight_claim_batch_resp(const KzBusMsg *msg, int node);
extern void kz_inflight_query_resp(const KzBusMsg *msg, int node);
extern void kz_inflight_claim_lost(uint64 claim_id);
extern void kz_inflight_node_gone(int node);
extern void kz_inflight_start_deferred(void);
extern TimestampTz kz_inflight_expire(TimestampTz now);
extern void kz_inflight_fail_all(void);

#endif							/* KZ_INFLIGHT_H */
