/*-------------------------------------------------------------------------
 *
 * amqp_conn.h
 *	  The worker's one connection to RabbitMQ, through rabbitmq-c.
 *
 * Every rabbitmq-c call lives behind this header.  Nothing here blocks
 * without a bound: connect, login and every synchronous method have a
 * timeout, incoming frames are drained without waiting, and message content
 * is reassembled here frame by frame rather than with the library's blocking
 * readers (see research/rabbitmq_c.md section 1).
 *
 * One channel does everything: it consumes the node's queue without acks
 * and publishes in confirm mode, so that messages leave in the order they
 * were published and every publish gets a delivery tag.
 *
 * Process-local state only (the worker's); nothing here is in shared memory.
 *
 * IDENTIFICATION
 *	  src/conn/amqp_conn.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_AMQP_CONN_H
#define KZ_AMQP_CONN_H


typedef enum KzVerify
{
	KZ_VERIFY_NONE,				/* no certificate checks */
	KZ_VERIFY_PEER,				/* certificate chain only */
	KZ_VERIFY_FULL				/* chain and host name (or IP address) */
} KzVerify;

typedef struct KzAmqpConfig
{
	const char *uri;			/* one amqp:// or amqps:// URI */
	const char *password;		/* if not NULL: instead of the URI's */
	const char *cacert;			/* TLS files; "" for none */
	const char *cert;
	const char *key;
	int			verify;			/* KzVerify */
	int			heartbeat_s;	/* AMQP heartbeat */
	int			timeout_ms;		/* connect, handshake and each RPC */
	size_t		max_body;		/* larger message bodies are discarded */
	const char *connection_name;	/* shown by rabbitmqctl list_connections */
	const char *app_id;			/* unique per connection, set on every
								 * publish; deliveries that carry it are
								 * our own broadcasts and are skipped */
} KzAmqpConfig;

typedef enum KzAmqpEventKind
{
	KZ_AMQP_DELIVERY,			/* a message from our queue */
	KZ_AMQP_RETURN,				/* a mandatory publish was unroutable */
	KZ_AMQP_ACK,				/* publishes up to delivery_tag confirmed */
	KZ_AMQP_NACK,				/* publishes up to delivery_tag refused */
	KZ_AMQP_OVERSIZE,			/* a delivery over max_body, discarded */
	KZ_AMQP_OVERFLOW			/* a message the broker dropped from our full
								 * queue (body discarded) */
} KzAmqpEventKind;

typedef struct KzAmqpEvent
{
	KzAmqpEventKind kind;
	uint64		delivery_tag;	/* ACK, NACK */
	bool		multiple;		/* ACK, NACK: all tags up to delivery_tag */
	const char *message_id;		/* DELIVERY, RETURN: property, or NULL */
	int			reply_code;		/* RETURN */
	const char *body;			/* DELIVERY, RETURN */
	size_t		body_len;
	bool		targeted;		/* DELIVERY: addressed to our queue through
								 * the targeted exchange (not a broadcast) */
	/* DELIVERY: what a signature covers (NULL when absent) */
	const char *exchange;
	const char *routing_key;
	const char *app_id;
	const char *user_id;		/* RabbitMQ checked it is the publisher's */
	const char *auth;			/* the KZ_AUTH_HEADER header, if a string */
} KzAmqpEvent;

typedef void (*KzAmqpHandler) (const KzAmqpEvent *event, void *arg);

/*
 * Connects, logs in and opens the channel.  On failure returns false with
 * a message in err (no password in it) and leaves nothing open.
 */
extern bool kz_amqp_connect(const KzAmqpConfig *config, char *err, size_t errlen);

/*
 * Declares Kazoo's exchanges, this node's exclusive queue (named queue),
 * its bindings (globals.*.* on globals, the queue's name on targeted, all
 * of nodes), consumes it and turns on publisher confirms; then, on a
 * channel of its own, kz_globals' exchange for process groups
 * (KZ_EXCHANGE_GROUPS) with our queue bound under KZ_GROUPS_MEMBERS_KEY.
 * A broker account that may not do the latter leaves the connection up
 * without process groups (kz_amqp_groups_usable).  With
 * max_length > 0 the queue holds at most that many messages: the broker
 * drops the oldest beyond it (x-overflow drop-head) into "<queue>.overflow",
 * which is consumed too, so that each drop is reported (KZ_AMQP_OVERFLOW)
 * and nothing grows the broker's memory without bound.
 */
extern bool kz_amqp_declare(const char *queue, int max_length, char *err,
							size_t errlen);

/*
 * True if this connection has kz_globals' exchange for process groups; if
 * not, *why (when why is not NULL) says why (the broker's refusal).
 */
extern bool kz_amqp_groups_usable(const char **why);

/*
 * Binds (or, with bind false, unbinds) queue to exchange under key on the
 * process-groups channel, and waits for the broker's answer (bounded like
 * every operation).  On failure returns false with err set, the connection
 * torn down.  Frames that arrive meanwhile are kept for the next
 * kz_amqp_pump.
 */
extern bool kz_amqp_bind(const char *queue, const char *exchange, const char *key,
						 bool bind, char *err, size_t errlen);

extern bool kz_amqp_is_open(void);

/* The socket to wait on, or -1. */
extern int	kz_amqp_socket(void);

/* True if decoded frames or undecoded bytes are waiting in the library. */
extern bool kz_amqp_has_buffered(void);

/* True while the broker has blocked publishing (resource alarm). */
extern bool kz_amqp_blocked(void);

/*
 * Reads what has arrived, without waiting, handing each complete message or
 * confirm to handler; stops after max_frames frames.  Returns the number of
 * frames read, or -1 if the connection is lost (err says why; the
 * connection is then already torn down).
 */
extern int	kz_amqp_pump(KzAmqpHandler handler, void *arg, int max_frames,
						 char *err, size_t errlen);

/*
 * Publishes a JSON body.  With confirm, on the channel in confirm mode:
 * returns its delivery tag, which a later KZ_AMQP_ACK or NACK event names.
 * Without, on the other channel: returns KZ_AMQP_UNCONFIRMED.  Returns 0 if
 * the connection is lost (then torn down).  Every message carries the
 * app-id of the connection and, as user-id, the user it logged in as
 * (RabbitMQ refuses a user-id that is not the connection's); auth, if not
 * NULL, goes into the KZ_AUTH_HEADER header.
 */
#define KZ_AMQP_UNCONFIRMED		PG_UINT64_MAX
extern uint64 kz_amqp_publish(const char *exchange, const char *routing_key,
							  const char *body, size_t len, bool confirm,
							  bool mandatory, const char *message_id,
							  const char *auth, char *err, size_t errlen);

/*
 * The app-id and user-id properties kz_amqp_publish puts on messages of
 * the current connection ("" when not connected).
 */
extern const char *kz_amqp_app_id(void);
extern const char *kz_amqp_user_id(void);

/* Tears the connection down without waiting for the broker. */
extern void kz_amqp_close(void);

/*
 * Closes the connection as AMQP asks (connection.close, the broker's
 * close-ok), waiting timeout_ms at most, then tears it down.  RabbitMQ
 * logs a connection dropped without it as a client that "unexpectedly
 * closed TCP connection".
 */
extern void kz_amqp_close_gracefully(int timeout_ms);

#endif							/* KZ_AMQP_CONN_H */
