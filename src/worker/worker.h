/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  The kz_globals background worker: one per server.
 *
 * IDENTIFICATION
 *	  src/worker/worker.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_WORKER_H
#define KZ_WORKER_H

/* Registers the worker with the postmaster; called from _PG_init. */
extern void kz_worker_register(void);

extern PGDLLEXPORT void kz_worker_main(Datum main_arg);

#endif							/* KZ_WORKER_H */
