/*
 * amqp_bench.h - what the AMQP baseline programs (amqp_ping.c,
 * amqp_fanout.c) share besides bench_util.h: an RPC check, a blocking
 * take, the connection set-up, and the printed summary of the samples.  Header-only: each program
 * is one file compiled on its own by bench/bench.sh.
 */
#ifndef AMQP_BENCH_H
#define AMQP_BENCH_H

#include "rabbitmq_c.h"

#include "bench_util.h"

/* Samples discarded before measuring. */
#define WARMUP 200

static void
check(amqp_connection_state_t conn, const char *what)
{
	if (amqp_get_rpc_reply(conn).reply_type != AMQP_RESPONSE_NORMAL)
		die(what);
}

/* Waits for the next message on the connection's consumer and drops it. */
static void
take(amqp_connection_state_t conn)
{
	amqp_envelope_t env;

	amqp_maybe_release_buffers(conn);
	if (amqp_consume_message(conn, &env, NULL, 0).reply_type != AMQP_RESPONSE_NORMAL)
		die("consume");
	amqp_destroy_envelope(&env);
}

/* Connects as guest and opens channel 1. */
static amqp_connection_state_t
bench_login(const char *host, int port)
{
	amqp_connection_state_t conn = amqp_new_connection();
	amqp_socket_t *sock = amqp_tcp_socket_new(conn);

	if (sock == NULL || amqp_socket_open(sock, host, port) != AMQP_STATUS_OK)
		die("cannot connect");
	if (amqp_login(conn, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN,
				   "guest", "guest").reply_type != AMQP_RESPONSE_NORMAL)
		die("cannot log in");
	amqp_channel_open(conn, 1);
	check(conn, "channel.open");
	return conn;
}

/*
 * Queue arguments bounding a queue to max_length messages, dropping the
 * oldest (as kz_globals.queue_max_length declares its own): into args[2].
 */
static amqp_table_t
bench_bounded(amqp_table_entry_t *args, int max_length)
{
	amqp_table_t table = {2, args};

	args[0].key = amqp_cstring_bytes("x-max-length");
	args[0].value.kind = AMQP_FIELD_KIND_I32;
	args[0].value.value.i32 = max_length;
	args[1].key = amqp_cstring_bytes("x-overflow");
	args[1].value.kind = AMQP_FIELD_KIND_UTF8;
	args[1].value.value.bytes = amqp_cstring_bytes("drop-head");
	return table;
}

/*
 * Connects as guest, opens channel 1, declares an exclusive server-named
 * queue with args (its name into queue), binds it with binding to the
 * exchange if one is named (declaring it, of type ex_type), and consumes it.
 */
static amqp_connection_state_t
bench_connect(const char *host, int port, const char *exchange, const char *ex_type,
			  const char *binding, amqp_table_t args, char *queue, size_t qlen)
{
	amqp_connection_state_t conn = bench_login(host, port);
	amqp_queue_declare_ok_t *q;

	if (exchange != NULL)
	{
		amqp_exchange_declare(conn, 1, amqp_cstring_bytes(exchange), amqp_cstring_bytes(ex_type),
							  0, 0, 1, 0, amqp_empty_table);
		check(conn, "exchange.declare");
	}
	q = amqp_queue_declare(conn, 1, amqp_empty_bytes, 0, 0, 1, 1, args);
	check(conn, "queue.declare");
	snprintf(queue, qlen, "%.*s", (int) q->queue.len, (char *) q->queue.bytes);
	if (exchange != NULL)
	{
		amqp_queue_bind(conn, 1, amqp_cstring_bytes(queue), amqp_cstring_bytes(exchange),
						amqp_cstring_bytes(binding), amqp_empty_table);
		check(conn, "queue.bind");
	}
	amqp_basic_consume(conn, 1, amqp_cstring_bytes(queue), amqp_empty_bytes,
					   0, 1, 0, amqp_empty_table);
	check(conn, "basic.consume");
	return conn;
}

/* Prints "median_us p99_us mean_us" of count samples (sorts them). */
static void
print_summary(double *samples, int count)
{
	double		sum = 0;
	double		median;
	double		p99;
	int			i;

	for (i = 0; i < count; i++)
		sum += samples[i];
	median = median_p99(samples, count, &p99);
	printf("%.1f %.1f %.1f\n", median, p99, sum / count);
}

#endif							/* AMQP_BENCH_H */
