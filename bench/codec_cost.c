/*
 * codec_cost.c - what encoding and decoding one message costs the worker:
 * the message codec of src/wire (encode.c, decode.c, json.c, etf.c) built
 * as the unit tests build it (-DFRONTEND, no server), timed in a loop.
 *
 * For each kind of message on a claim's path (the claim, an answer, the
 * advertisement) and for sends of 100 B, 8 KB and 64 KB texts: encode it as
 * the worker does, then decode that body as a receiving worker does
 * (kz_proto_decode), ITERATIONS times each, after a warm-up.
 *
 * Usage: codec_cost [ITERATIONS [KIND]]   (default 20000, every kind)
 * Prints one line per message: "kind bytes encode_ns decode_ns", the
 * median of five runs of the loop.  Under valgrind --tool=callgrind the
 * instruction counts of encode and decode are repeatable figures where
 * the times are not (bench/run.sh does not do that; see README,
 * "Benchmarks").
 */
#include "postgres_fe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode.h"
#include "encode.h"
#include "etf.h"
#include "lib/stringinfo.h"

#define RUNS 5

static const char *const node = "pg1@127.0.0.1";
static const char *const queue = "pg1@127.0.0.1-kz_globals-1234-0123456789abcdef";

typedef enum Kind
{
	K_CLAIM,
	K_ANSWER,
	K_ADVERT,
	K_SEND
} Kind;

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static KzEncodeCtx
context(void)
{
	KzEncodeCtx ctx;

	memset(&ctx, 0, sizeof(ctx));
	ctx.node = node;
	ctx.queue = queue;
	ctx.zone = "local";
	ctx.session = UINT64CONST(0x89abcd);
	ctx.incarnation = INT64CONST(63881234500000000);
	ctx.msg_id = "0123456789abcdef";
	return ctx;
}

/* One message of kind (with a text of size bytes for a send) into out. */
static void
encode(StringInfo out, Kind kind, const uint8 *name, size_t nlen,
	   const char *text, size_t size)
{
	KzEncodeCtx ctx = context();
	int64		ts = INT64CONST(63881234567890123);

	resetStringInfo(out);
	switch (kind)
	{
		case K_CLAIM:
			kz_enc_claim(out, &ctx, name, nlen, ts);
			break;
		case K_ANSWER:
			kz_enc_register_resp(out, &ctx, NULL, name, nlen, KZ_WS_NONE, ts, 0);
			break;
		case K_ADVERT:
			kz_enc_advert(out, &ctx, name, nlen, ts, 4242, NULL);
			break;
		case K_SEND:
			kz_enc_send(out, &ctx, name, nlen, text, size, 4343);
			break;
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/* Only this kind (argv[2]), or every kind when NULL. */
static const char *only = NULL;

static void
measure(const char *label, Kind kind, size_t size, int iterations)
{
	StringInfoData name_term;
	StringInfoData body;
	char	   *text = malloc(size + 1);
	double		enc[RUNS];
	double		dec[RUNS];
	int			r;
	int			i;

	if (only != NULL && strcmp(only, label) != 0)
	{
		free(text);
		return;
	}
	/* a JSON text, as send() takes it: mostly plain, some escapes */
	for (i = 0; i < (int) size; i++)
		text[i] = (i % 61 == 60) ? '"' : (char) ('a' + i % 26);
	text[size] = '\0';
	initStringInfo(&name_term);
	etf_encode_binary(&name_term, "bench-name-0001", 15);
	initStringInfo(&body);

	for (r = 0; r < RUNS; r++)
	{
		double		t0;

		t0 = now_ns();
		for (i = 0; i < iterations; i++)
			encode(&body, kind, (uint8 *) name_term.data, name_term.len, text, size);
		enc[r] = (now_ns() - t0) / iterations;

		t0 = now_ns();
		for (i = 0; i < iterations; i++)
		{
			KzBusMsg	msg;
			const char *detail = NULL;

			if (kz_proto_decode(body.data, body.len, 1024 * 1024, 1024, &msg, &detail) != KZ_PROTO_OK)
			{
				fprintf(stderr, "codec_cost: %s does not decode: %s\n", label,
						detail ? detail : "?");
				exit(1);
			}
			kz_proto_free(&msg);
		}
		dec[r] = (now_ns() - t0) / iterations;
	}
	qsort(enc, RUNS, sizeof(double), cmp_double);
	qsort(dec, RUNS, sizeof(double), cmp_double);
	printf("%s %d %.0f %.0f\n", label, body.len, enc[RUNS / 2], dec[RUNS / 2]);
	free(text);
	pfree(body.data);
	pfree(name_term.data);
}

int
main(int argc, char **argv)
{
	int			iterations = argc > 1 ? atoi(argv[1]) : 20000;

	if (iterations <= 0)
	{
		fprintf(stderr, "usage: codec_cost [ITERATIONS [KIND]]\n");
		return 1;
	}
	if (argc > 2)
		only = argv[2];
	measure("claim", K_CLAIM, 0, iterations);
	measure("answer", K_ANSWER, 0, iterations);
	measure("advertisement", K_ADVERT, 0, iterations);
	measure("send_100B", K_SEND, 100, iterations);
	measure("send_8KB", K_SEND, 8192, Max(iterations / 10, 1));
	measure("send_64KB", K_SEND, 65536, Max(iterations / 100, 1));
	return 0;
}
