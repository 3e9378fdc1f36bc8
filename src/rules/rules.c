/*-------------------------------------------------------------------------
 *
 * rules.c
 *	  The rules of a name (see rules.h).  Pure code, run by the worker (and
 *	  by the unit tests); it takes no locks: its caller holds reg_lock.
 *
 * Kazoo's defects fixed here (SPEC section 5):
 *	1. a claim's own Timestamp is compared with ours when we answer
 *	   "pending", and if it wins our claim loses at once;
 *	2. a claim that does not win leaves no pending row behind;
 *	4. an unregister is obeyed only from the node that owns the row;
 *	5. an advertisement that conflicts with a local row is decided by the
 *	   same rule (conflict.c) on every node; the losing backend is told and
 *	   no superseded row is kept.
 * And one of ours: a pending claim that holds back a rival's advertisement
 * (ours is older) and then does not win leaves the name to that rival,
 * since nobody advertises it again unasked.
 *
 * IDENTIFICATION
 *	  src/rules/rules.c
 *
 *-------------------------------------------------------------------------
 */
#ifndef FRONTEND
#include "postgres.h"
#else
#include "postgres_fe.h"
#endif

#include "conflict.h"
#include "rules.h"

static void
make_free(KzRuleRow *row)
{
	memset(row, 0, sizeof(*row));
	row->state = KZ_ROW_FREE;
}

/* The row of another node's registration. */
static void
make_remote(KzRuleRow *row, const KzRuleRemote *r)
{
	make_free(row);
	row->state = KZ_ROW_REMOTE;
	row->node = r->node;
	row->node_name = r->node_name;
	row->ts = r->ts;
	row->pid = r->pid;
	row->kazoo = r->kazoo;
	row->sync_gen = r->sync_gen;
}

/* The rival a pending row held back, as a registration. */
static KzRuleRemote
rival_of(const KzRuleRow *row)
{
	KzRuleRemote r;

	r.node = row->rival_node;
	r.node_name = row->rival_name;
	r.ts = row->rival_ts;
	r.pid = row->rival_pid;
	r.kazoo = row->rival_kazoo;
	r.sync_gen = row->rival_sync_gen;
	return r;
}

/*
 * A pending row whose claim is over without a win: the rival's row if it
 * held one back, else no row.
 */
static void
end_claim(KzRuleRow *row)
{
	if (row->has_rival)
	{
		KzRuleRemote r = rival_of(row);

		make_remote(row, &r);
	}
	else
		make_free(row);
}

/*
 * A local or pending row whose backend has ended, in place; a local
 * registration that goes is to be unregistered in the cluster.
 */
static void
owner_gone(KzRuleRow *row, KzRuleEffects *eff)
{
	if (row->state == KZ_ROW_PENDING)
		end_claim(row);
	else if (row->state == KZ_ROW_LOCAL)
	{
		eff->unregister = true;
		eff->gone_ts = row->ts;
		eff->gone_pid = row->pid;
		make_free(row);
	}
}

/* Every event first sees a row whose local owner has died as it now is. */
static void
begin(const KzRuleRow *row, KzRuleRow *out, KzRuleEffects *eff)
{
	memset(eff, 0, sizeof(*eff));
	if (out != row)
		*out = *row;
	if ((out->state == KZ_ROW_LOCAL || out->state == KZ_ROW_PENDING) && !out->alive)
		owner_gone(out, eff);
}

/*
 * A pending claim of ours beat r: keep r back, or the rival already held
 * if the rule prefers that one (the same node again replaces its own).
 */
static void
hold_rival(KzRuleRow *row, const KzRuleRemote *r)
{
	if (row->has_rival && row->rival_node != r->node &&
		!kz_claim_beats(r->ts, r->node_name, row->rival_ts, row->rival_name))
		return;
	row->has_rival = true;
	row->rival_node = r->node;
	row->rival_name = r->node_name;
	row->rival_ts = r->ts;
	row->rival_pid = r->pid;
	row->rival_kazoo = r->kazoo;
	row->rival_sync_gen = r->sync_gen;
}

/* Our row (local or pending) against another node's registration r. */
static void
resolve_with_ours(KzRuleRow *row, const KzRuleRemote *r, const char *self,
				  KzRuleEffects *eff)
{
	if (!kz_claim_beats(r->ts, r->node_name, row->ts, self))
	{
		/* ours is older: keep it, and make sure the other side hears so */
		if (row->state == KZ_ROW_LOCAL)
		{
			eff->readvertise = true;
			eff->our_ts = row->ts;
			eff->our_pid = row->pid;
			eff->conflict = true;
		}
		else
			hold_rival(row, r);
		return;
	}
	if (row->state == KZ_ROW_PENDING)
		eff->lost_claim = row->claim_id;
	else
	{
		eff->notify_loser = true;
		eff->loser_procno = row->procno;
		eff->loser_pid = row->pid;
		eff->conflict = true;
	}
	make_remote(row, r);
}

void
kz_rule_advert(const KzRuleRow *row, const KzRuleRemote *ev, const char *self,
			   KzRuleRow *out, KzRuleEffects *eff)
{
	begin(row, out, eff);
	switch (out->state)
	{
		case KZ_ROW_FREE:
			make_remote(out, ev);
			break;
		case KZ_ROW_REMOTE:
			/* the same owner again, or an older claim by another node */
			if (out->node == ev->node ||
				kz_claim_beats(ev->ts, ev->node_name, out->ts, out->node_name))
				make_remote(out, ev);
			break;
		case KZ_ROW_LOCAL:
		case KZ_ROW_PENDING:
			resolve_with_ours(out, ev, self, eff);
			break;
	}
}

void
kz_rule_claim(const KzRuleRow *row, int claimant, const char *claimant_name,
			  bool has_ts, int64 ts, const char *self, KzRuleRow *out,
			  KzRuleAnswer *answer, KzRuleEffects *eff)
{
	begin(row, out, eff);
	memset(answer, 0, sizeof(*answer));
	/* a node does not claim a name it holds: a row saying so is stale */
	if (out->state == KZ_ROW_REMOTE && out->node == claimant)
		make_free(out);
	answer->ts = out->ts;
	answer->pid = out->pid;
	switch (out->state)
	{
		case KZ_ROW_FREE:
			answer->state = KZ_WS_NONE;
			answer->ts = 0;
			answer->pid = 0;
			break;
		case KZ_ROW_LOCAL:
			answer->state = KZ_WS_LOCAL;
			eff->readvertise = true;
			eff->our_ts = out->ts;
			eff->our_pid = out->pid;
			break;
		case KZ_ROW_REMOTE:
			answer->state = KZ_WS_REMOTE;
			answer->owner_node = out->node;
			break;
		case KZ_ROW_PENDING:
			/* fix 1: the rival's claim carries its timestamp; the rule decides */
			answer->state = KZ_WS_PENDING;
			if (has_ts && kz_claim_beats(ts, claimant_name, out->ts, self))
			{
				out->lost = true;
				eff->lost_claim = out->claim_id;
			}
			break;
	}
}

void
kz_rule_unregister(const KzRuleRow *row, int node, bool has_ts, int64 ts,
				   KzRuleRow *out)
{
	if (out != row)
		*out = *row;
	if (out->state == KZ_ROW_REMOTE && out->node == node &&
		(!has_ts || ts == out->ts))
		make_free(out);
	else if (out->state == KZ_ROW_PENDING && out->has_rival &&
			 out->rival_node == node && (!has_ts || ts == out->rival_ts))
		out->has_rival = false;
}

void
kz_rule_verdict(const KzRuleRow *row, uint64 claim_id, bool win,
				KzRuleRow *out, KzRuleEffects *eff)
{
	memset(eff, 0, sizeof(*eff));
	if (out != row)
		*out = *row;
	/* the row may have changed hands meanwhile: then it is not ours */
	if (out->state != KZ_ROW_PENDING || out->claim_id != claim_id)
		return;
	if (win && !out->lost && out->alive)
	{
		/* a rival it held back loses by the rule, as it will everywhere */
		out->has_rival = false;
		out->lost = false;
		out->state = KZ_ROW_LOCAL;
		eff->won = true;
	}
	else
		end_claim(out);
}

void
kz_rule_owner_gone(const KzRuleRow *row, KzRuleRow *out, KzRuleEffects *eff)
{
	memset(eff, 0, sizeof(*eff));
	if (out != row)
		*out = *row;
	owner_gone(out, eff);
}

void
kz_rule_node_gone(const KzRuleRow *row, int node, bool only_unsynced,
				  uint32 gen, KzRuleRow *out)
{
	if (out != row)
		*out = *row;
	if (out->state == KZ_ROW_REMOTE && out->node == node &&
		!(only_unsynced && out->sync_gen == gen))
		make_free(out);
	else if (out->state == KZ_ROW_PENDING && out->has_rival &&
			 out->rival_node == node &&
			 !(only_unsynced && out->rival_sync_gen == gen))
		out->has_rival = false;
}

/* Is registration (node, ts) the one advertised by ev? */
static bool
is_event(const KzRuleRemote *ev, int node, int64 ts)
{
	return ev != NULL && ev->node == node && ev->ts == ts;
}

/* The metadata of the row's own registration (see kz_rule_meta). */
static KzMetaFrom
own_meta(const KzRuleRow *before, const KzRuleRow *after, const KzRuleRemote *ev)
{
	switch (after->state)
	{
		case KZ_ROW_FREE:
			return KZ_META_DROP;
		case KZ_ROW_REMOTE:
			if (is_event(ev, after->node, after->ts))
				return KZ_META_EVENT;
			if (before->state == KZ_ROW_PENDING && before->has_rival &&
				before->rival_node == after->node && before->rival_ts == after->ts)
				return KZ_META_RIVAL;
			if (before->state == KZ_ROW_REMOTE && before->node == after->node &&
				before->ts == after->ts)
				return KZ_META_KEEP;
			return KZ_META_DROP;
		case KZ_ROW_LOCAL:
		case KZ_ROW_PENDING:
			/* ours: set by the backend, kept from claim to registration */
			if ((before->state == KZ_ROW_LOCAL || before->state == KZ_ROW_PENDING) &&
				before->ts == after->ts)
				return KZ_META_KEEP;
			return KZ_META_DROP;
	}
	return KZ_META_DROP;
}

KzMetaPlan
kz_rule_meta(const KzRuleRow *before, const KzRuleRow *after,
			 const KzRuleRemote *ev)
{
	KzMetaPlan	plan;

	plan.own = own_meta(before, after, ev);
	plan.rival = KZ_META_DROP;
	if (after->state == KZ_ROW_PENDING && after->has_rival)
	{
		if (is_event(ev, after->rival_node, after->rival_ts))
			plan.rival = KZ_META_EVENT;
		else if (before->state == KZ_ROW_PENDING && before->has_rival &&
				 before->rival_node == after->rival_node &&
				 before->rival_ts == after->rival_ts)
			plan.rival = KZ_META_KEEP;
	}
	return plan;
}
