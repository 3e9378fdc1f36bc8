/*-------------------------------------------------------------------------
 *
 * bus_in.h
 *	  What arrives from the bus, dispatched to its handler.
 *
 * Runs in the worker only, called from the loop.
 *
 * IDENTIFICATION
 *	  src/worker/bus_in.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_BUS_IN_H
#define KZ_BUS_IN_H

#include "protocol.h"

extern void kz_in_delivery(const char *body, size_t len, bool targeted);
extern void kz_in_malformed(KzProtoError err, const char *detail);
extern void kz_in_overflow(void);

#endif							/* KZ_BUS_IN_H */
