/*-------------------------------------------------------------------------
 *
 * outbox.h
 *	  The ordered outbox of registry broadcasts.
 *
 * Runs in the worker only.
 *
 * IDENTIFICATION
 *	  src/worker/outbox.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_OUTBOX_H
#define KZ_OUTBOX_H

#include "datatype/timestamp.h"

#include "kz_types.h"

extern void kz_outbox_claim(const KzName *name, int64 ts, uint64 claim_id);
extern void kz_outbox_advert(const KzName *name, int64 ts, int32 pid);
extern void kz_outbox_unregister(const uint8 *name, size_t len, int64 ts);
extern TimestampTz kz_outbox_flush(TimestampTz now);
extern void kz_outbox_reset(void);
extern void kz_outbox_claim_done(uint64 claim_id);

#endif							/* KZ_OUTBOX_H */
