/*-------------------------------------------------------------------------
 *
 * outbox.c
 *	  The worker's ordered outbox of registry broadcasts.
 *
 * Claims, advertisements and unregisters made during one round of the
 * worker's loop are not published at once but queued here, in order, and
 * flushed at the end of the round.  They then go out together, in order,
 * as one registry_batch message instead of one message each (one broadcast
 * per round instead of one per event is most of the broker's work under
 * load).  Entries keep queue order, so events about one name still reach
 * every node in the order they happened (SPEC section 5, fix 6).
 *
 * Claims are also grouped across rounds, as a database groups commits.
 * Under load they arrive one by one while the previous claims wait for
 * their answers; sent at once, they would make batches of one or two.  So
 * while the newest published claim is still unanswered (for at most
 * KZ_CLAIM_HOLD_MS), new claims are held back, and they leave together in
 * the round its answers arrive: one batch per round trip, as large as the
 * number of claimants waiting.  With nothing in flight (a single client)
 * a claim leaves at once.  Other events are never held, and claims for
 * different names are independent, so holding keeps fix 6's order.
 *
 * Batches are a kz_globals extension: while any Kazoo node is up, every
 * event goes out in Kazoo's one-message-per-event form, without holding.
 *
 * IDENTIFICATION
 *	  src/worker/outbox.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "bus.h"
#include "meta.h"
#include "outbox.h"
#include "peers.h"


typedef enum OutKind
{
	OUT_CLAIM,
	OUT_ADVERT,
	OUT_UNREGISTER
} OutKind;

typedef struct OutEvent
{
	OutKind		kind;
	uint64		claim_id;		/* claims */
	bool		claim_done;		/* claims: decided while still queued */
	KzOutEntry	entry;
} OutEvent;

/* How often a queue held while the broker blocks us is tried again. */
#define KZ_BLOCKED_RETRY_MS	100

/* Longest a claim is held back behind an unanswered one. */
#define KZ_CLAIM_HOLD_MS	2

static OutEvent *outbox = NULL;
static int	nqueued = 0;
static int	capacity = 0;

/* The newest claim published, and when. */
static uint64 newest_claim = 0;
static TimestampTz newest_claim_at = 0;

/* Appends an event, growing the queue as needed (worker memory). */
static OutEvent *
enqueue(OutKind kind, const uint8 *name, size_t len, int64 ts, int32 pid)
{
	OutEvent   *ev;

	if (nqueued == capacity)
	{
		capacity = capacity == 0 ? 64 : capacity * 2;
		outbox = outbox == NULL ?
			MemoryContextAlloc(TopMemoryContext, capacity * sizeof(OutEvent)) :
			repalloc(outbox, capacity * sizeof(OutEvent));
	}
	ev = &outbox[nqueued++];
	ev->kind = kind;
	ev->claim_id = 0;
	ev->claim_done = false;
	ev->entry.name.len = (uint16) len;
	memcpy(ev->entry.name.data, name, len);
	ev->entry.ts = ts;
	ev->entry.pid = pid;
	ev->entry.meta = NULL;
	return ev;
}

void
kz_outbox_claim(const KzName *name, int64 ts, uint64 claim_id)
{
	enqueue(OUT_CLAIM, name->data, name->len, ts, 0)->claim_id = claim_id;
}

void
kz_outbox_advert(const KzName *name, int64 ts, int32 pid)
{
	enqueue(OUT_ADVERT, name->data, name->len, ts, pid);
}

void
kz_outbox_unregister(const uint8 *name, size_t len, int64 ts)
{
	enqueue(OUT_UNREGISTER, name, len, ts, 0);
}

void
kz_outbox_reset(void)
{
	nqueued = 0;
	newest_claim = 0;
}

/* Publishes one event in Kazoo's form. */
static bool
publish_one(const OutEvent *ev)
{
	switch (ev->kind)
	{
		case OUT_CLAIM:
			return kz_out_claim(&ev->entry.name, ev->entry.ts, ev->claim_id);
		case OUT_ADVERT:
			return kz_out_advert(&ev->entry.name, ev->entry.ts, ev->entry.pid);
		case OUT_UNREGISTER:
			return kz_out_unregister(ev->entry.name.data, ev->entry.name.len, ev->entry.ts);
	}
	return false;
}

/* The wire state that marks each kind of event in a registry_batch. */
static KzWireState
batch_state(OutKind kind)
{
	switch (kind)
	{
		case OUT_CLAIM:
			return KZ_WS_PENDING;
		case OUT_ADVERT:
			return KZ_WS_REGISTERED;
		case OUT_UNREGISTER:
			break;
	}
	return KZ_WS_NONE;
}

/* Publishes n events, starting at first, as one registry_batch. */
static bool
publish_batch(int first, int n)
{
	KzOutEntry *entries = palloc(n * sizeof(KzOutEntry));
	int			i;
	bool		ok;

	for (i = 0; i < n; i++)
	{
		entries[i] = outbox[first + i].entry;
		entries[i].state = batch_state(outbox[first + i].kind);
		entries[i].claim_id = outbox[first + i].claim_id;
		/* an advertisement carries the registration's metadata as it is now */
		if (outbox[first + i].kind == OUT_ADVERT)
			entries[i].meta = kz_meta_of_local(&entries[i].name, entries[i].ts);
	}
	ok = kz_out_registry_batch(entries, n);
	for (i = 0; i < n; i++)
		if (entries[i].meta != NULL)
			pfree((char *) entries[i].meta);
	pfree(entries);
	return ok;
}

/*
 * Drops claims decided while they were held (a node they awaited expired):
 * published after their advertisement, they would make peers drop it.
 * With hold, also moves the claims out of the queue, in order, into kept;
 * returns how many were kept.
 */
static int
sort_out_claims(bool hold, OutEvent *kept)
{
	int			n = 0;
	int			nkept = 0;
	int			i;

	for (i = 0; i < nqueued; i++)
	{
		OutEvent   *ev = &outbox[i];

		if (ev->kind == OUT_CLAIM && ev->claim_done)
			continue;
		if (hold && ev->kind == OUT_CLAIM)
			kept[nkept++] = *ev;
		else
			outbox[n++] = *ev;
	}
	nqueued = n;
	return nkept;
}

/*
 * A claim was decided (inflight.c): if its event is still queued, it is not
 * published, and claims held back behind it are held no longer.
 */
void
kz_outbox_claim_done(uint64 claim_id)
{
	int			i;

	for (i = 0; i < nqueued; i++)
	{
		if (outbox[i].kind == OUT_CLAIM && outbox[i].claim_id == claim_id)
			outbox[i].claim_done = true;
	}
	if (newest_claim == claim_id)
		newest_claim = 0;
}

/* Remembers the newest claim among the events about to be published. */
static void
note_newest_claim(TimestampTz now)
{
	int			i;

	for (i = nqueued - 1; i >= 0; i--)
	{
		if (outbox[i].kind == OUT_CLAIM)
		{
			newest_claim = outbox[i].claim_id;
			newest_claim_at = now;
			return;
		}
	}
}

/*
 * Publishes what is queued, in order, but for claims held back (see the
 * head comment); returns when the loop must wake to send those, or 0.  A
 * failed publish means the connection is broken (the loop tears it down
 * next): the rest is dropped, and after reconnecting the syncs bring every
 * peer up to date.
 */
static TimestampTz
flush_now(TimestampTz now)
{
	bool		batching = nqueued > 0 && kz_peer_batching_ok();
	TimestampTz hold_until = TimestampTzPlusMilliseconds(newest_claim_at, KZ_CLAIM_HOLD_MS);
	bool		hold = batching && newest_claim != 0 && now < hold_until;
	OutEvent   *kept = hold ? palloc(nqueued * sizeof(OutEvent)) : NULL;
	int			nkept;
	int			i = 0;

	nkept = sort_out_claims(hold, kept);
	if (!hold)
		note_newest_claim(now);
	while (i < nqueued)
	{
		int			n = batching && nqueued > 1 ? Min(nqueued - i, KZ_BATCH_MAX) : 1;
		bool		ok = n > 1 ? publish_batch(i, n) : publish_one(&outbox[i]);

		if (!ok)
		{
			nkept = 0;
			break;
		}
		i += n;
	}
	if (nkept > 0)
		memcpy(outbox, kept, nkept * sizeof(OutEvent));
	nqueued = nkept;
	return nkept > 0 ? hold_until : 0;
}

/*
 * While the broker blocks us (a resource alarm) nothing is published: the
 * queue is kept, in order, and tried again shortly.
 */
TimestampTz
kz_outbox_flush(TimestampTz now)
{
	if (nqueued > 0 && kz_bus_blocked())
		return TimestampTzPlusMilliseconds(now, KZ_BLOCKED_RETRY_MS);
	return flush_now(now);
}
