/*-------------------------------------------------------------------------
 *
 * bus.h
 *	  The bottom of the worker: the connection's state as the handlers see
 *	  it, and what leaves for the bus (bus_out.c).
 *
 * The worker's files, top to bottom (each calls only files below it;
 * test/suites/layers.sh checks their includes):
 *
 *	worker.c		lifecycle, the loop, job dispatch; tears a broken
 *					connection down at the loop's top
 *	worker_conn.c	connecting, reconnecting with backoff, URI failover,
 *					teardown (fails what waited on the connection)
 *	bus_in.c		decoding deliveries, dispatch; registry events (claims,
 *					unregister, queries)
 *	peer_auth.c		bus authentication: whether a delivery may be acted on
 *	relay.c			send, call and reply between backends and remote owners
 *	membership.c	heartbeats, node expiry, sync on join
 *	group_sync.c	process groups: our members announced, bound and
 *					synced; the other nodes' applied; messages delivered
 *	inflight.c		claims and queries under way, and their verdicts
 *	remote.c		a registration by another node applied to the table
 *	outbox.c		the ordered outbox of registry broadcasts, batched
 *					between kz_globals nodes
 *	peers.c			what the worker knows of its peers
 *	bus_out.c		publishing every message, its body by src/wire/encode.c
 *					(this header)
 *	bus_keys.c		the keys of kz_globals.bus_key_file: signing what
 *					leaves, checking a signature
 *	log_limit.c		one log line a minute at most for events a peer
 *					can repeat at will
 *
 * A failed publish or read marks the connection broken and is reported by
 * return value; nothing below the loop tears anything down.  All of it
 * runs in the worker process only; the state below is that process's
 * memory, not shared memory.
 *
 * IDENTIFICATION
 *	  src/worker/bus.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_BUS_H
#define KZ_BUS_H

#include "datatype/timestamp.h"

#include "encode.h"
#include "kz_types.h"
#include "protocol.h"
#include "registry.h"
#include "routing.h"
#include "request.h"

typedef struct KzBusState
{
	bool		up;				/* connected, topology declared */
	uint64		session;		/* this connection: Msg-ID prefix, Session */
	uint64		seq;			/* last Msg-ID sequence number used */
	char		queue[KZ_SERVER_MAX];	/* our queue = our Server-ID */
	TimestampTz connected_at;
	bool		ready;
	int64		sync_id;		/* last Sync-ID sent */

	/*
	 * The connection failed under a handler (a publish or a read): from then
	 * on every publish fails at once, and the loop tears the connection down
	 * at its top (kz_conn_lost), not the handler that saw it fail.
	 */
	bool		broken;
	char		broken_why[256];
} KzBusState;

extern KzBusState kz_bus;

/* AMQP heartbeat and the bound on every broker operation. */
#define KZ_AMQP_HEARTBEAT_S		2
#define KZ_AMQP_TIMEOUT_MS		2000
/* How long a worker leaving the broker waits for its close-ok. */
#define KZ_AMQP_CLOSE_MS		1000

/*
 * Largest message body accepted from the bus: room for a message (base64
 * and escaping), for registration metadata (escaping can double its
 * text), and for the rest of the body.
 */
#define KZ_MAX_BODY(max_message) \
	((size_t) (max_message) * 2 + (size_t) KZ_META_MAX_BYTES * 2 + 65536)

/*
 * Largest batch or sync part we send: what every node accepts, kz_globals
 * 1.0 nodes included (their KZ_MAX_BODY had no room for metadata).  A part
 * over it is split (bus_out.c); a single entry goes alone whatever its
 * size.
 */
#define KZ_BATCH_BODY_MAX(max_message) ((size_t) (max_message) * 2 + 65536)


/* Entries per batch message at most. */
#define KZ_BATCH_MAX			256

/* bus_out.c */
extern void kz_bus_next_msg_id(char *out);
extern void kz_bus_mark_broken(const char *why);
extern bool kz_bus_usable(void);
extern bool kz_bus_blocked(void);
extern bool kz_out_claim(const KzName *name, int64 ts, uint64 claim_id);
extern bool kz_out_advert(const KzName *name, int64 ts, int32 pid);
extern bool kz_out_registry_batch(const KzOutEntry *entries, int n);
extern bool kz_out_claim_batch_resp(const KzBusMsg *req, const KzOutEntry *entries, int n);
extern uint64 kz_out_send_batch(const char *queue, const KzJob *const *jobs, int n,
								char *msg_id);
extern bool kz_job_same_sender(const KzJob *a, const KzJob *b);
extern bool kz_out_register_resp(const KzBusMsg *req, KzWireState state, int64 ts,
								 const char *server, int32 pid);
extern bool kz_out_query(const KzName *name, uint64 query_id);
extern bool kz_out_query_resp(const KzBusMsg *req, bool owned, int64 ts, int32 pid);
extern bool kz_out_unregister(const uint8 *name, size_t len, int64 ts);
extern uint64 kz_out_send(const char *queue, const KzJob *job, bool pg_owner,
						  char *msg_id);
extern uint64 kz_out_call(const char *queue, const KzJob *job, bool pg_owner,
						  char *msg_id);
extern uint64 kz_out_reply(const char *queue, const char *req_msg_id,
						   const char *body, size_t len, bool owner_exited,
						   char *msg_id);
extern bool kz_out_heartbeat(const char *queue, bool sync_request);
extern bool kz_out_sync(const char *queue);
extern bool kz_out_group_members(const KzOutEntry *entries, int n);
extern bool kz_out_group_sync(const char *queue, const KzOutEntry *entries, int count);
extern uint64 kz_out_group_publish(const KzJob *job, char *msg_id);

#endif							/* KZ_BUS_H */
