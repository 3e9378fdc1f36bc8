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

#include "amqp_conn.h"
#include "protocol.h"

extern void kz_in_delivery(const KzAmqpEvent *ev);
extern void kz_in_malformed(KzProtoError err, const char *detail);
extern void kz_in_overflow(void);

#endif							/* KZ_BUS_IN_H */
