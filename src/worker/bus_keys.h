/*-------------------------------------------------------------------------
 *
 * bus_keys.h
 *	  The keys of kz_globals.bus_key_file: signing and checking messages
 *	  between kz_globals nodes, in the worker.
 *
 * Runs in the worker only; takes no locks.
 *
 * IDENTIFICATION
 *	  src/worker/bus_keys.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_BUS_KEYS_H
#define KZ_BUS_KEYS_H

#include "amqp_conn.h"
#include "bus_auth.h"

/* Reads kz_globals.bus_key_file (done at the first use; call on reload). */
extern void kz_bus_keys_reload(void);

/* A key file is set (whether or not it could be used). */
extern bool kz_bus_keys_configured(void);

/* At least one key was read. */
extern bool kz_bus_keys_usable(void);

/*
 * The signature of a message about to be published, into header
 * (KZ_AUTH_HEADER_MAX bytes); false when there is no key (publish it
 * unsigned).
 */
extern bool kz_bus_keys_sign(const char *exchange, const char *routing_key,
							 const char *message_id, const char *body,
							 size_t len, char *header);

/*
 * Checks the signature of a delivery (ev->auth not NULL) whose body names
 * node as its sender: KZ_AUTH_OK once per signing time and node.
 */
extern KzAuthResult kz_bus_keys_verify(const KzAmqpEvent *ev, const char *node);

/* Has node's signature been found valid since the worker started? */
extern bool kz_bus_keys_signed_before(const char *node);

#endif							/* KZ_BUS_KEYS_H */
