/*
 * visibility.c - visibility latency: how long until a name registered on
 * one node is in another node's table.
 *
 * Usage: visibility CONNINFO_A CONNINFO_B COUNT [meta]
 * Prints "lag_median_us lag_p99_us total_median_us total_p99_us poll_us":
 *   lag    from the moment register_name returns true on A (the name
 *          exists) until B has the row: the replication lag of a
 *          registration;
 *   total  from the moment register_name is called on A (the claim
 *          included);
 *   poll   the median time of one poll cycle of the observer, measured in
 *          the same run: the resolution of both (the first poll that sees
 *          the row may come up to one cycle late).
 * With "meta", the same for an update of a registration's metadata: A holds
 * one name and calls set_meta with a new value COUNT times; the lag runs
 * from set_meta's return until meta() on B shows the value.
 *
 * B is watched by a poller thread on its own connection, with
 * query_on_miss off (so a poll never asks the cluster), pausing briefly
 * between polls: busy polling would take a whole core of a small machine
 * away from what it measures.  Written in C with libpq so that the
 * observer adds as little as it can (a Python observer's poll cycle was
 * two thirds of a broker round trip).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "bench_util.h"

/* Pause between two polls, and how long a poller waits at most. */
#define POLL_PAUSE_US	20
#define POLL_GIVE_UP_US	10000000.0

typedef struct Poller
{
	PGconn	   *conn;
	const char *name;
	double		seen;			/* when the row was first seen, or 0 */
} Poller;

static PGconn *
connect_to(const char *conninfo)
{
	PGconn	   *conn = PQconnectdb(conninfo);

	if (PQstatus(conn) != CONNECTION_OK)
		die(PQerrorMessage(conn));
	return conn;
}

static void
prepare(PGconn *conn, const char *stmt, const char *sql)
{
	PGresult   *res = PQprepare(conn, stmt, sql, 1, NULL);

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		die(PQerrorMessage(conn));
	PQclear(res);
}

/* Runs a prepared one-row query with one text argument; true if it said t. */
static bool
run(PGconn *conn, const char *stmt, const char *arg)
{
	PGresult   *res = PQexecPrepared(conn, stmt, 1, &arg, NULL, NULL, 0);
	bool		yes;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		die(PQerrorMessage(conn));
	yes = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return yes;
}

static void *
poll_until_seen(void *arg)
{
	Poller	   *p = arg;
	double		give_up = now_us() + POLL_GIVE_UP_US;

	while (now_us() < give_up)
	{
		if (run(p->conn, "seen", p->name))
		{
			p->seen = now_us();
			break;
		}
		usleep(POLL_PAUSE_US);
	}
	return NULL;
}

/*
 * The statements of the metadata mode, under the names the loop uses: A
 * holds "vis-meta"; "register" gives it the value {"v": arg}, "seen" asks B
 * whether meta() shows that value, "unregister" does nothing.
 */
static void
prepare_meta(PGconn *a, PGconn *b)
{
	PGresult   *res = PQexec(a, "SELECT kz_globals.register_name('vis-meta', '{\"v\": -1}'::jsonb)");

	if (PQresultStatus(res) != PGRES_TUPLES_OK || strcmp(PQgetvalue(res, 0, 0), "t") != 0)
		die("cannot register vis-meta");
	PQclear(res);
	prepare(a, "register",
			"SELECT true FROM (SELECT kz_globals.set_meta('vis-meta', "
			"jsonb_build_object('v', $1::int))) s");
	prepare(a, "unregister", "SELECT $1::text IS NOT NULL");
	prepare(b, "seen", "SELECT coalesce(kz_globals.meta('vis-meta')->>'v' = $1, false)");
}

/* Median time of one poll cycle as poll_until_seen makes it. */
static double
poll_cycle_us(PGconn *b, int count)
{
	double	   *cycles = calloc(count, sizeof(double));
	double		p99;
	double		median;
	int			i;

	for (i = 0; i < count; i++)
	{
		double		t0 = now_us();

		run(b, "seen", "vis-absent");
		usleep(POLL_PAUSE_US);
		cycles[i] = now_us() - t0;
	}
	median = median_p99(cycles, count, &p99);
	free(cycles);
	return median;
}

int
main(int argc, char **argv)
{
	PGconn	   *a;
	Poller		p;
	double	   *lags;
	double	   *totals;
	double		lag_p99;
	double		total_p99;
	double		lag;
	double		total;
	int			count;
	int			nseen = 0;
	int			i;
	bool		meta;

	bench_program = "visibility";
	if (argc < 4 || argc > 5 || (count = atoi(argv[3])) <= 0 ||
		(argc == 5 && strcmp(argv[4], "meta") != 0))
		die("usage: visibility CONNINFO_A CONNINFO_B COUNT [meta]");
	meta = argc == 5;
	a = connect_to(argv[1]);
	p.conn = connect_to(argv[2]);
	PQclear(PQexec(p.conn, "SET kz_globals.query_on_miss = off"));
	if (meta)
		prepare_meta(a, p.conn);
	else
	{
		prepare(a, "register", "SELECT kz_globals.register_name($1)");
		prepare(a, "unregister", "SELECT kz_globals.unregister_name($1)");
		prepare(p.conn, "seen", "SELECT kz_globals.whereis_name($1) IS NOT NULL");
	}
	lags = calloc(count, sizeof(double));
	totals = calloc(count, sizeof(double));
	for (i = 0; i < count; i++)
	{
		char		name[64];
		pthread_t	poller;
		double		t0;
		double		t1;

		if (meta)
			snprintf(name, sizeof(name), "%d", i);
		else
			snprintf(name, sizeof(name), "vis-%d-%d", (int) getpid(), i);
		p.name = name;
		p.seen = 0;
		if (pthread_create(&poller, NULL, poll_until_seen, &p) != 0)
			die("pthread_create");
		t0 = now_us();
		if (!run(a, "register", name))
			die("register_name returned false");
		t1 = now_us();
		pthread_join(poller, NULL);
		if (p.seen > 0)
		{
			totals[nseen] = p.seen - t0;
			lags[nseen++] = p.seen > t1 ? p.seen - t1 : 0;
		}
		run(a, "unregister", name);
		usleep(2000);
	}
	if (nseen == 0)
		die("the name was never seen on the other node");
	lag = median_p99(lags, nseen, &lag_p99);
	total = median_p99(totals, nseen, &total_p99);
	printf("%.1f %.1f %.1f %.1f %.1f\n", lag, lag_p99, total, total_p99,
		   poll_cycle_us(p.conn, 200));
	PQfinish(a);
	PQfinish(p.conn);
	return 0;
}
