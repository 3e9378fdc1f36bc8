/*-------------------------------------------------------------------------
 *
 * worker_conn.h
 *	  The broker connection's life: connect, back off, tear down.
 *
 * Runs in the worker only; called from the loop (worker.c), the top of
 * the worker's call graph: tearing down calls down into every handler.
 *
 * IDENTIFICATION
 *	  src/worker/worker_conn.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_WORKER_CONN_H
#define KZ_WORKER_CONN_H

#include "datatype/timestamp.h"

extern void kz_conn_service(TimestampTz now);
extern void kz_conn_lost(const char *why);
extern void kz_conn_shutdown(void);
extern void kz_conn_reset_backoff(void);
extern TimestampTz kz_conn_next_attempt(void);
extern void kz_conn_teardown_if_broken(void);

#endif							/* KZ_WORKER_CONN_H */
