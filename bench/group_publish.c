/*
 * group_publish.c - deliveries per second of kz_globals.publish() to a
 * process group of MEMBERS members spread over the servers.
 *
 * Usage: group_publish MEMBERS PUBLISHES CONNINFO_1 [CONNINFO_2 ...]
 * Prints "publish_rate delivery_rate counted":
 *   publish_rate   deliveries per second as publish() counts them, over
 *                  the time the publisher (on CONNINFO_1) took for
 *                  PUBLISHES publishes, one after the other;
 *   delivery_rate  deliveries per second end to end: MEMBERS x PUBLISHES
 *                  messages, from the first publish until every member
 *                  has taken all of its messages with receive();
 *   counted        the sum of what publish() returned (MEMBERS x
 *                  PUBLISHES when every mailbox took every message).
 * The members are sessions that join the group (round robin over the
 * servers, starting with the second, so that one member is remote) and take their messages once the publisher is done, so that
 * the mailboxes (kz_globals.mailbox_size) must hold PUBLISHES messages.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "bench_util.h"

static PGconn *
connect_to(const char *conninfo)
{
	PGconn	   *conn = PQconnectdb(conninfo);

	if (PQstatus(conn) != CONNECTION_OK)
		die(PQerrorMessage(conn));
	return conn;
}

/* Runs a query that returns one value; returns it as a number. */
static long long
query_number(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);
	long long	v;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		die(PQerrorMessage(conn));
	v = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

int
main(int argc, char **argv)
{
	int			members;
	int			publishes;
	int			nservers;
	PGconn	  **conns;
	PGconn	   *pub;
	char		group[64];
	char		sql[256];
	long long	counted = 0;
	double		start;
	double		published;
	double		drained;
	int			i;

	bench_program = "group_publish";
	if (argc < 4)
		die("usage: group_publish MEMBERS PUBLISHES CONNINFO...");
	members = atoi(argv[1]);
	publishes = atoi(argv[2]);
	nservers = argc - 3;
	if (members < 1 || publishes < 1)
		die("MEMBERS and PUBLISHES must be positive");
	snprintf(group, sizeof(group), "bench-group-%d", members);

	conns = calloc(members, sizeof(PGconn *));
	for (i = 0; i < members; i++)
	{
		/* from the second server on: a single member is a remote one */
		conns[i] = connect_to(argv[3 + (i + 1) % nservers]);
		snprintf(sql, sizeof(sql), "SELECT kz_globals.join('%s')::int", group);
		(void) query_number(conns[i], sql);
	}
	pub = connect_to(argv[3]);
	/* every member known to the publisher's server (at most 30 s) */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM kz_globals.members('%s')", group);
	for (i = 0; i < 3000 && query_number(pub, sql) < members; i++)
		usleep(10000);

	start = now_us();
	snprintf(sql, sizeof(sql), "SELECT kz_globals.publish('%s', 'bench message')", group);
	for (i = 0; i < publishes; i++)
		counted += query_number(pub, sql);
	published = now_us();

	/*
	 * Each member takes its messages (waiting up to 10 s for each); the
	 * argument refers to g so that receive() runs once per row.
	 */
	snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM generate_series(1, %d) g, LATERAL kz_globals.receive(10000 + 0 * g) r",
			 publishes);
	for (i = 0; i < members; i++)
	{
		if (query_number(conns[i], sql) != publishes)
			die("a member did not receive every message");
	}
	drained = now_us();

	printf("%.0f %.0f %lld\n", counted / ((published - start) / 1e6),
		   (double) members * publishes / ((drained - start) / 1e6), counted);
	for (i = 0; i < members; i++)
		PQfinish(conns[i]);
	PQfinish(pub);
	return 0;
}
