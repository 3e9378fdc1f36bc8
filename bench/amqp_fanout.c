/*
 * amqp_fanout.c - the floor under a claim: one broadcast through the broker
 * answered by every peer, measured with rabbitmq-c.
 *
 * A claim is a message on a topic exchange that reaches every node's queue
 * (the claimant's own too), and is decided when every peer's answer is
 * back.  This program does exactly that with no registry work at all: node
 * A and PEERS responder threads, each with its own connection and exclusive
 * queue bound to one fanout exchange.  A publishes to the exchange; each
 * responder takes its copy and publishes an answer to A's queue through the
 * default exchange; A takes its own copy and all the answers.  The time
 * from A's publish to the last answer is the physical floor of a claim on
 * this broker and machine, to set beside one plain round trip (amqp_ping).
 *
 * With MODE "protocol", the same exchange of messages as kz_globals' own
 * claim makes, still with no registry work: a topic exchange bound with
 * the globals binding key, queues bounded by x-max-length (drop-head) as
 * kz_globals.queue_max_length declares them, the properties every
 * kz_globals publish carries (content type, transient mode, app-id,
 * timestamp, user-id, which the broker checks), and after the answers the
 * advertisement of the won name: a second broadcast that every queue gets
 * and nobody answers (A takes its own copy on the next round).  The time
 * measured is still from the claim's publish to its last answer: the
 * advertisement costs the broker work, not waiting.
 *
 * Usage: amqp_fanout HOST PORT COUNT PEERS [MODE]   (MODE: claim, protocol)
 * Prints: "median_us p99_us mean_us" after discarding a warm-up.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "amqp_bench.h"

#define MAX_PEERS 16

static const char *host;
static int	port;
static char exchange[64];
static char queue_a[256];
static bool protocol;			/* MODE "protocol" */

/* Routing keys of the protocol mode: a claim and an advertisement. */
#define CLAIM_KEY	"globals.register.claim"
#define ADVERT_KEY	"globals.register.advert"

/* A claim-sized JSON body, published to the exchange or to one queue. */
static void
publish(amqp_connection_state_t conn, const char *ex, const char *key)
{
	static const char body[] =
		"{\"App-Name\":\"kazoo_globals\",\"Event-Category\":\"globals\",\"Event-Name\":\"register\","
		"\"Msg-ID\":\"0123456789abcdef0123456789abcdef\",\"Node\":\"pg1@127.0.0.1\","
		"\"Name\":\"g2gCbQAAAARiZW5jaGEB\",\"State\":\"pending\",\"Timestamp\":63962488111734068}";
	amqp_bytes_t b = {sizeof(body) - 1, (void *) body};
	amqp_basic_properties_t props;

	/* what kz_globals' amqp_conn.c sets on every publish */
	memset(&props, 0, sizeof(props));
	props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
		AMQP_BASIC_APP_ID_FLAG | AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_USER_ID_FLAG;
	props.content_type = amqp_cstring_bytes("application/json");
	props.delivery_mode = 1;
	props.app_id = amqp_cstring_bytes("kz_bench_fanout");
	props.timestamp = (uint64_t) now_us();
	props.user_id = amqp_cstring_bytes("guest");
	if (amqp_basic_publish(conn, 1, amqp_cstring_bytes(ex), amqp_cstring_bytes(key),
						   0, 0, protocol ? &props : NULL, b) != AMQP_STATUS_OK)
		die("publish");
}

/*
 * Takes the next message; true if it is a claim (in claim mode every
 * broadcast is one).
 */
static bool
take_key(amqp_connection_state_t conn, const char *key)
{
	amqp_envelope_t env;
	bool		match;

	amqp_maybe_release_buffers(conn);
	if (amqp_consume_message(conn, &env, NULL, 0).reply_type != AMQP_RESPONSE_NORMAL)
		die("consume");
	match = !protocol || (env.routing_key.len == strlen(key) &&
						  memcmp(env.routing_key.bytes, key, env.routing_key.len) == 0);
	amqp_destroy_envelope(&env);
	return match;
}

/*
 * A node's connection: in claim mode a fanout exchange and a plain queue;
 * in protocol mode a topic exchange, the globals binding key and a queue
 * bounded as kz_globals bounds its own (100000, drop-head).
 */
static amqp_connection_state_t
connect_peer(char *queue, size_t qlen)
{
	amqp_table_entry_t args[2];

	if (!protocol)
		return bench_connect(host, port, exchange, "fanout", "", amqp_empty_table,
							 queue, qlen);
	return bench_connect(host, port, exchange, "topic", "globals.*.*",
						 bench_bounded(args, 100000), queue, qlen);
}

/* A peer: answers every claim it gets, until the process exits. */
static void *
responder(void *arg)
{
	amqp_connection_state_t conn = arg;

	for (;;)
	{
		/* in protocol mode, advertisements are only taken */
		if (take_key(conn, CLAIM_KEY))
			publish(conn, "", queue_a);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	amqp_connection_state_t a;
	amqp_connection_state_t peers[MAX_PEERS];
	pthread_t	threads[MAX_PEERS];
	char		queue[256];
	int			count;
	int			npeers;
	double	   *samples;
	int			i;
	int			j;

	bench_program = "amqp_fanout";
	if (argc != 5 && argc != 6)
		die("usage: amqp_fanout HOST PORT COUNT PEERS [claim|protocol]");
	protocol = argc == 6 && strcmp(argv[5], "protocol") == 0;
	if (argc == 6 && !protocol && strcmp(argv[5], "claim") != 0)
		die("MODE must be claim or protocol");
	host = argv[1];
	port = atoi(argv[2]);
	count = atoi(argv[3]);
	npeers = atoi(argv[4]);
	if (count <= 0 || npeers <= 0 || npeers > MAX_PEERS)
		die("COUNT must be positive and PEERS between 1 and 16");
	snprintf(exchange, sizeof(exchange), "kz_bench_fanout_%d", (int) getpid());
	samples = calloc(count, sizeof(double));
	a = connect_peer(queue_a, sizeof(queue_a));
	for (j = 0; j < npeers; j++)
	{
		peers[j] = connect_peer(queue, sizeof(queue));
		if (pthread_create(&threads[j], NULL, responder, peers[j]) != 0)
			die("pthread_create");
	}
	for (i = -WARMUP; i < count; i++)
	{
		double		t0 = now_us();

		publish(a, exchange, CLAIM_KEY);
		/* own copy and every answer, and the last advertisement's copy */
		for (j = 0; j < npeers + 1 + (protocol && i > -WARMUP); j++)
			take(a);
		if (i >= 0)
			samples[i] = now_us() - t0;
		if (protocol)
			publish(a, exchange, ADVERT_KEY);
	}
	print_summary(samples, count);
	/* the responders block in the library; exiting closes every connection */
	return 0;
}
