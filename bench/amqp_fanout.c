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
 * Usage: amqp_fanout HOST PORT COUNT PEERS
 * Prints: "median_us p99_us mean_us" after discarding a warm-up.
 */
#include <pthread.h>
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

/* A claim-sized JSON body, published to the exchange or to one queue. */
static void
publish(amqp_connection_state_t conn, const char *ex, const char *key)
{
	static const char body[] =
		"{\"App-Name\":\"kazoo_globals\",\"Event-Category\":\"globals\",\"Event-Name\":\"register\","
		"\"Msg-ID\":\"0123456789abcdef0123456789abcdef\",\"Node\":\"pg1@127.0.0.1\","
		"\"Name\":\"g2gCbQAAAARiZW5jaGEB\",\"State\":\"pending\",\"Timestamp\":63962488111734068}";
	amqp_bytes_t b = {sizeof(body) - 1, (void *) body};

	if (amqp_basic_publish(conn, 1, amqp_cstring_bytes(ex), amqp_cstring_bytes(key),
						   0, 0, NULL, b) != AMQP_STATUS_OK)
		die("publish");
}

/* A peer: answers every broadcast it gets, until the process exits. */
static void *
responder(void *arg)
{
	amqp_connection_state_t conn = arg;

	for (;;)
	{
		take(conn);
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
	if (argc != 5)
		die("usage: amqp_fanout HOST PORT COUNT PEERS");
	host = argv[1];
	port = atoi(argv[2]);
	count = atoi(argv[3]);
	npeers = atoi(argv[4]);
	if (count <= 0 || npeers <= 0 || npeers > MAX_PEERS)
		die("COUNT must be positive and PEERS between 1 and 16");
	snprintf(exchange, sizeof(exchange), "kz_bench_fanout_%d", (int) getpid());
	samples = calloc(count, sizeof(double));
	a = bench_connect(host, port, exchange, queue_a, sizeof(queue_a));
	for (j = 0; j < npeers; j++)
	{
		peers[j] = bench_connect(host, port, exchange, queue, sizeof(queue));
		if (pthread_create(&threads[j], NULL, responder, peers[j]) != 0)
			die("pthread_create");
	}
	for (i = -WARMUP; i < count; i++)
	{
		double		t0 = now_us();

		publish(a, exchange, "");
		for (j = 0; j < npeers + 1; j++)	/* own copy and every answer */
			take(a);
		if (i >= 0)
			samples[i] = now_us() - t0;
	}
	print_summary(samples, count);
	/* the responders block in the library; exiting closes every connection */
	return 0;
}
