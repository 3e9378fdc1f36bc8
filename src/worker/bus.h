/*-------------------------------------------------------------------------
 *
 * bus.h
 *	  The worker's side of the kz_globals protocol: what its modules share.
 *
 *	worker.c		lifecycle, main loop, job dispatch
 *	worker_conn.c	connecting, reconnecting with backoff, URI failover
 *	bus_out.c		publishing every message (bodies by src/wire/encode.c)
 *	outbox.c		the ordered outbox of registry broadcasts, batched
 *					between kz_globals nodes
 *	bus_in.c		decoding deliveries; registry events (adverts, claims,
 *					unregister, queries, sync)
 *	inflight.c		claims and queries under way, and their verdicts
 *	relay.c			send, call and reply between backends and remote owners
 *	membership.c	heartbeats, node expiry, sync on join
 *
 * All of it runs in the worker process only; the state below is that
 * process's memory, not shared memory.
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
} KzBusState;

extern KzBusState kz_bus;

/* AMQP heartbeat and the bound on every broker operation. */
#define KZ_AMQP_HEARTBEAT_S		2
#define KZ_AMQP_TIMEOUT_MS		2000
/* How long a worker leaving the broker waits for its close-ok. */
#define KZ_AMQP_CLOSE_MS		1000

/* Largest message body accepted from the bus. */
#define KZ_MAX_BODY(max_message) ((size_t) (max_message) * 2 + 65536)

/* A node first heard of other than by heartbeat expires after this long. */
#define KZ_UNHEARD_EXPIRES_MS	20000

/* worker_conn.c */
extern void kz_conn_service(TimestampTz now);
extern void kz_conn_lost(const char *why);
extern void kz_conn_shutdown(void);
extern void kz_conn_reset_backoff(void);
extern TimestampTz kz_conn_next_attempt(void);
extern bool kz_conn_usable(void);

/* Entries per batch message at most. */
#define KZ_BATCH_MAX			256

/* bus_out.c */
extern void kz_bus_next_msg_id(char *out);
extern bool kz_out_claim(const KzName *name, int64 ts, uint64 claim_id);
extern bool kz_out_advert(const KzName *name, int64 ts, int32 pid);
extern bool kz_out_registry_batch(const KzOutEntry *entries, int n);
extern bool kz_out_claim_batch_resp(const KzBusMsg *req, const KzOutEntry *entries, int n);
extern uint64 kz_out_send_batch(const char *queue, const KzJob *const *jobs, int n,
								char *msg_id);
extern bool kz_out_register_resp(const KzBusMsg *req, KzWireState state, int64 ts,
								 const char *server, int32 pid);
extern bool kz_out_query(const KzName *name, uint64 query_id);
extern bool kz_out_query_resp(const KzBusMsg *req, bool owned, int64 ts, int32 pid);
extern bool kz_out_unregister(const uint8 *name, size_t len, int64 ts);
extern uint64 kz_out_send(const char *queue, const uint8 *name, size_t name_len,
						  const char *body, size_t len, int32 sender_pid, char *msg_id);
extern uint64 kz_out_call(const char *queue, const uint8 *name, size_t name_len,
						  const char *body, size_t len, int32 sender_pid,
						  int32 timeout_ms, uint64 call_id, char *msg_id);
extern uint64 kz_out_reply(const char *queue, const char *req_msg_id,
						   const char *body, size_t len, bool owner_exited,
						   char *msg_id);
extern bool kz_out_heartbeat(const char *queue, bool sync_request);
extern bool kz_out_sync(const char *queue);

/* outbox.c */
extern void kz_outbox_claim(const KzName *name, int64 ts, uint64 claim_id);
extern void kz_outbox_advert(const KzName *name, int64 ts, int32 pid);
extern void kz_outbox_unregister(const uint8 *name, size_t len, int64 ts);
extern TimestampTz kz_outbox_flush(TimestampTz now);
extern void kz_outbox_reset(void);

/* bus_in.c */
extern void kz_in_delivery(const char *body, size_t len, bool targeted);
extern void kz_in_malformed(KzProtoError err, const char *detail);

/*
 * Applies a registration of name by node (from an advertisement, a query
 * reply or a sync) with the conflict rule, and returns the resulting row's
 * state as seen by the caller.  Caller holds nothing.
 */
extern void kz_in_apply_remote(const uint8 *name, size_t name_len, int node,
							   int64 ts, int32 pid, bool kazoo);

/* inflight.c */
extern void kz_inflight_init(void);
extern void kz_claim_start(const KzJob *job);
extern void kz_query_start(const KzJob *job);
extern void kz_inflight_register_resp(const KzBusMsg *msg, int node);
extern void kz_inflight_claim_batch_resp(const KzBusMsg *msg, int node);
extern void kz_inflight_query_resp(const KzBusMsg *msg, int node);
extern void kz_inflight_claim_lost(uint64 claim_id);
extern bool kz_inflight_claim_pending(uint64 claim_id);
extern void kz_inflight_node_gone(int node);
extern void kz_inflight_start_deferred(void);
extern TimestampTz kz_inflight_expire(TimestampTz now);
extern void kz_inflight_fail_all(void);

/* relay.c */
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

/* membership.c */
extern int	kz_member_node(const char *name, bool create);
extern void kz_member_heartbeat_in(const KzBusMsg *msg);
extern void kz_member_sync_in(const KzBusMsg *msg, int node);
extern TimestampTz kz_member_service(TimestampTz now);
extern void kz_member_connected(void);
extern void kz_member_disconnected(void);
extern int	kz_member_drop_node_rows(int node);
extern void kz_member_set_server(int node, const char *server);
extern bool kz_member_owner_up(const char *server);
extern bool kz_member_batching_ok(void);
extern bool kz_member_is_pg(int node);

#endif							/* KZ_BUS_H */
