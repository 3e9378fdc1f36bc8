/*-------------------------------------------------------------------------
 *
 * test_rules.c
 *	  Unit tests of the rules of a name (src/rules/rules.c): every row state
 *	  against every event, without a server.
 *
 * Rows: none, remote (owned by node 1 "n1"), local (ours, "n0"), pending
 * (our claim), each local or pending one with a live or a dead backend,
 * pending ones with and without a rival held back, and lost.  Events: an
 * advertisement, a claim, an unregister, a verdict, the owner's end and a
 * node's end.  Also the fixes of SPEC section 5 the rules carry (1, 2, 4,
 * 5), the hold-back rule of issue 16, and the partition-heal rule (both
 * sides of a duplicate reach the same verdict).
 *
 * IDENTIFICATION
 *	  test/unit/test_rules.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "rules.h"
#include "unit.h"

#define SELF	"n0@h"
#define N1		"n1@h"
#define N2		"n2@h"
#define T(s)	(INT64CONST(63900000000000000) + (s) * INT64CONST(1000000))

static KzRuleRow
row_free(void)
{
	KzRuleRow	r;

	memset(&r, 0, sizeof(r));
	r.state = KZ_ROW_FREE;
	return r;
}

static KzRuleRow
row_remote(int node, const char *name, int64 ts)
{
	KzRuleRow	r = row_free();

	r.state = KZ_ROW_REMOTE;
	r.node = node;
	r.node_name = name;
	r.ts = ts;
	r.pid = 100 + node;
	r.sync_gen = 7;
	return r;
}

static KzRuleRow
row_ours(KzRowState state, int64 ts, bool alive)
{
	KzRuleRow	r = row_free();

	r.state = state;
	r.node = 0;
	r.node_name = SELF;
	r.alive = alive;
	r.ts = ts;
	r.pid = 4242;
	r.procno = 3;
	r.claim_id = state == KZ_ROW_PENDING ? 99 : 0;
	return r;
}

static KzRuleRemote
remote(int node, const char *name, int64 ts)
{
	KzRuleRemote e;

	e.node = node;
	e.node_name = name;
	e.ts = ts;
	e.pid = 100 + node;
	e.kazoo = false;
	e.sync_gen = 8;
	return e;
}

static bool
is_remote(const KzRuleRow *r, int node, int64 ts)
{
	return r->state == KZ_ROW_REMOTE && r->node == node && r->ts == ts &&
		r->pid == 100 + node;
}

static void
test_advert(void)
{
	KzRuleRow	row;
	KzRuleRow	out;
	KzRuleEffects eff;
	KzRuleRemote ev = remote(1, N1, T(10));
	KzRuleRemote older2 = remote(2, N2, T(5));
	KzRuleRemote newer2 = remote(2, N2, T(20));
	KzRuleRemote tie2 = remote(2, N2, T(10));

	/* none: the registration is recorded, nothing follows */
	row = row_free();
	kz_rule_advert(&row, &ev, SELF, &out, &eff);
	CHECK(is_remote(&out, 1, T(10)) && out.sync_gen == 8);
	CHECK(!eff.lost_claim && !eff.notify_loser && !eff.readvertise && !eff.conflict);

	/* remote, same node: replaced (a new registration of its own) */
	row = row_remote(1, N1, T(3));
	kz_rule_advert(&row, &ev, SELF, &out, &eff);
	CHECK(is_remote(&out, 1, T(10)) && out.sync_gen == 8);

	/* remote, another node: the older claim stays (ties: smaller node) */
	row = row_remote(1, N1, T(10));
	kz_rule_advert(&row, &older2, SELF, &out, &eff);
	CHECK(is_remote(&out, 2, T(5)));
	kz_rule_advert(&row, &newer2, SELF, &out, &eff);
	CHECK(is_remote(&out, 1, T(10)) && out.sync_gen == 7);
	kz_rule_advert(&row, &tie2, SELF, &out, &eff);
	CHECK(is_remote(&out, 1, T(10)));
	CHECK(!eff.conflict && !eff.readvertise);

	/* local, ours older: kept, advertised again, a conflict (fix 5) */
	row = row_ours(KZ_ROW_LOCAL, T(5), true);
	kz_rule_advert(&row, &ev, SELF, &out, &eff);
	CHECK(out.state == KZ_ROW_LOCAL && out.ts == T(5));
	CHECK(eff.readvertise && eff.our_ts == T(5) && eff.our_pid == 4242 && eff.conflict);
	CHECK(!eff.notify_loser && !eff.lost_claim);

	/* local, theirs older: the owner is told, the row is theirs (fix 5) */
	row = row_ours(KZ_ROW_LOCAL, T(15), true);
	kz_rule_advert(&row, &ev, SELF, &out, &eff);
	CHECK(is_remote(&out, 1, T(10)));
	CHECK(eff.notify_loser && eff.loser_pid == 4242 && eff.loser_procno == 3 && eff.conflict);
	CHECK(!eff.readvertise);

	/* local, equal timestamps: the smaller node name wins ("n0" < "n1") */
	row = row_ours(KZ_ROW_LOCAL, T(10), true);
	kz_rule_advert(&row, &ev, SELF, &out, &eff);
	CHECK(out.state == KZ_ROW_LOCAL && eff.readvertise);

	/* local, dead owner: it goes (unregister told), theirs is recorded */
	row = row_ours(KZ_ROW_LOCAL, T(5), false);
	kz_rule_advert(&row, &ev, SELF, &out, &eff);
	CHECK(is_remote(&out, 1, T(10)));
	CHECK(eff.unregister && eff.gone_ts == T(5) && eff.gone_pid == 4242);
	CHECK(!eff.notify_loser && !eff.readvertise);

	/* pending, theirs older: our claim loses at once, the row is theirs */
	row = row_ours(KZ_ROW_PENDING, T(15), true);
	kz_rule_advert(&row, &ev, SELF, &out, &eff);
	CHECK(is_remote(&out, 1, T(10)) && eff.lost_claim == 99);
	CHECK(!eff.notify_loser && !eff.conflict);

	/* pending, ours older: kept, the rival held back (issue 16) */
	row = row_ours(KZ_ROW_PENDING, T(5), true);
	kz_rule_advert(&row, &ev, SELF, &out, &eff);
	CHECK(out.state == KZ_ROW_PENDING && out.ts == T(5) && out.has_rival);
	CHECK(out.rival_node == 1 && out.rival_ts == T(10) && out.rival_pid == 101 &&
		  out.rival_sync_gen == 8);
	CHECK(!eff.lost_claim && !eff.readvertise && !eff.conflict);

	/* ... a second rival: the one the rule prefers is kept */
	row = out;
	kz_rule_advert(&row, &newer2, SELF, &out, &eff);
	CHECK(out.has_rival && out.rival_node == 1 && out.rival_ts == T(10));
	row.rival_ts = T(12);
	tie2.ts = T(11);
	kz_rule_advert(&row, &tie2, SELF, &out, &eff);
	CHECK(out.has_rival && out.rival_node == 2 && out.rival_ts == T(11));
	/* ... the same node again replaces its own */
	ev.ts = T(30);
	kz_rule_advert(&row, &ev, SELF, &out, &eff);
	CHECK(out.has_rival && out.rival_node == 1 && out.rival_ts == T(30));

	/* pending, dead claimant: it goes (its rival, if any, is recorded) */
	ev.ts = T(10);
	row = row_ours(KZ_ROW_PENDING, T(5), false);
	kz_rule_advert(&row, &ev, SELF, &out, &eff);
	CHECK(is_remote(&out, 1, T(10)) && !eff.unregister && !eff.lost_claim);
}

static void
test_claim(void)
{
	KzRuleRow	row;
	KzRuleRow	out;
	KzRuleAnswer ans;
	KzRuleEffects eff;

	/* none: "none" */
	row = row_free();
	kz_rule_claim(&row, 1, N1, true, T(10), SELF, &out, &ans, &eff);
	CHECK(ans.state == KZ_WS_NONE && ans.ts == 0 && out.state == KZ_ROW_FREE);

	/* remote by another node: "remote", naming the owner */
	row = row_remote(2, N2, T(5));
	kz_rule_claim(&row, 1, N1, true, T(10), SELF, &out, &ans, &eff);
	CHECK(ans.state == KZ_WS_REMOTE && ans.owner_node == 2 && ans.ts == T(5) && ans.pid == 102);
	CHECK(is_remote(&out, 2, T(5)));

	/* remote by the claimant itself: stale, dropped, "none" */
	row = row_remote(1, N1, T(5));
	kz_rule_claim(&row, 1, N1, false, 0, SELF, &out, &ans, &eff);
	CHECK(ans.state == KZ_WS_NONE && out.state == KZ_ROW_FREE);

	/* local: "local", and advertised again (as Kazoo does) */
	row = row_ours(KZ_ROW_LOCAL, T(5), true);
	kz_rule_claim(&row, 1, N1, true, T(1), SELF, &out, &ans, &eff);
	CHECK(ans.state == KZ_WS_LOCAL && ans.ts == T(5) && ans.pid == 4242);
	CHECK(eff.readvertise && eff.our_ts == T(5) && out.state == KZ_ROW_LOCAL);

	/* local, dead owner: gone (unregister told), "none" */
	row = row_ours(KZ_ROW_LOCAL, T(5), false);
	kz_rule_claim(&row, 1, N1, true, T(1), SELF, &out, &ans, &eff);
	CHECK(ans.state == KZ_WS_NONE && out.state == KZ_ROW_FREE && eff.unregister);

	/* pending vs an older claim with its timestamp: ours lost (fix 1) */
	row = row_ours(KZ_ROW_PENDING, T(5), true);
	kz_rule_claim(&row, 1, N1, true, T(4), SELF, &out, &ans, &eff);
	CHECK(ans.state == KZ_WS_PENDING && ans.ts == T(5));
	CHECK(out.state == KZ_ROW_PENDING && out.lost && eff.lost_claim == 99);

	/* ... a younger one, or one without a timestamp (Kazoo's): ours stands */
	kz_rule_claim(&row, 1, N1, true, T(6), SELF, &out, &ans, &eff);
	CHECK(ans.state == KZ_WS_PENDING && !out.lost && !eff.lost_claim);
	kz_rule_claim(&row, 1, N1, false, 0, SELF, &out, &ans, &eff);
	CHECK(ans.state == KZ_WS_PENDING && !out.lost && !eff.lost_claim);
	/* ... a tie: the smaller node name; "n0" < "n1", so ours */
	kz_rule_claim(&row, 1, N1, true, T(5), SELF, &out, &ans, &eff);
	CHECK(!out.lost && !eff.lost_claim);

	/* pending, dead claimant: its held-back rival answers for it */
	row = row_ours(KZ_ROW_PENDING, T(5), false);
	row.has_rival = true;
	row.rival_node = 2;
	row.rival_name = N2;
	row.rival_ts = T(9);
	row.rival_pid = 102;
	kz_rule_claim(&row, 1, N1, true, T(10), SELF, &out, &ans, &eff);
	CHECK(ans.state == KZ_WS_REMOTE && ans.owner_node == 2 && is_remote(&out, 2, T(9)));
	/* ... unless the rival is the claimant itself */
	kz_rule_claim(&row, 2, N2, true, T(10), SELF, &out, &ans, &eff);
	CHECK(ans.state == KZ_WS_NONE && out.state == KZ_ROW_FREE);
}

static void
test_unregister(void)
{
	KzRuleRow	row;
	KzRuleRow	out;

	/* fix 4: only the owner node, and only the registration it names */
	row = row_remote(1, N1, T(5));
	kz_rule_unregister(&row, 1, true, T(5), &out);
	CHECK(out.state == KZ_ROW_FREE);
	kz_rule_unregister(&row, 1, false, 0, &out);
	CHECK(out.state == KZ_ROW_FREE);
	kz_rule_unregister(&row, 1, true, T(4), &out);
	CHECK(is_remote(&out, 1, T(5)));
	kz_rule_unregister(&row, 2, true, T(5), &out);
	CHECK(is_remote(&out, 1, T(5)));

	/* ours are never removed from outside */
	row = row_ours(KZ_ROW_LOCAL, T(5), true);
	kz_rule_unregister(&row, 1, false, 0, &out);
	CHECK(out.state == KZ_ROW_LOCAL);
	row = row_free();
	kz_rule_unregister(&row, 1, false, 0, &out);
	CHECK(out.state == KZ_ROW_FREE);

	/* a held-back rival is forgotten by the same rule */
	row = row_ours(KZ_ROW_PENDING, T(5), true);
	row.has_rival = true;
	row.rival_node = 1;
	row.rival_ts = T(9);
	kz_rule_unregister(&row, 2, false, 0, &out);
	CHECK(out.has_rival);
	kz_rule_unregister(&row, 1, true, T(8), &out);
	CHECK(out.has_rival);
	kz_rule_unregister(&row, 1, true, T(9), &out);
	CHECK(out.state == KZ_ROW_PENDING && !out.has_rival);
}

static void
test_verdict(void)
{
	KzRuleRow	row;
	KzRuleRow	out;
	KzRuleEffects eff;

	row = row_ours(KZ_ROW_PENDING, T(5), true);
	kz_rule_verdict(&row, 99, true, &out, &eff);
	CHECK(out.state == KZ_ROW_LOCAL && eff.won && out.ts == T(5));
	/* fix 2: a claim that does not win leaves no pending row */
	kz_rule_verdict(&row, 99, false, &out, &eff);
	CHECK(out.state == KZ_ROW_FREE && !eff.won);
	/* a win that already lost, or whose claimant died, is a loss */
	row.lost = true;
	kz_rule_verdict(&row, 99, true, &out, &eff);
	CHECK(out.state == KZ_ROW_FREE && !eff.won);
	row.lost = false;
	row.alive = false;
	kz_rule_verdict(&row, 99, true, &out, &eff);
	CHECK(out.state == KZ_ROW_FREE && !eff.won);
	/* another claim's row, or a row that changed hands: untouched */
	row = row_ours(KZ_ROW_PENDING, T(5), true);
	kz_rule_verdict(&row, 98, true, &out, &eff);
	CHECK(out.state == KZ_ROW_PENDING && !eff.won);
	row = row_remote(1, N1, T(5));
	kz_rule_verdict(&row, 99, false, &out, &eff);
	CHECK(is_remote(&out, 1, T(5)) && !eff.won);
	row = row_free();
	kz_rule_verdict(&row, 99, true, &out, &eff);
	CHECK(out.state == KZ_ROW_FREE && !eff.won);

	/* issue 16: a loss hands the name to the rival held back */
	row = row_ours(KZ_ROW_PENDING, T(5), true);
	row.has_rival = true;
	row.rival_node = 1;
	row.rival_name = N1;
	row.rival_ts = T(10);
	row.rival_pid = 101;
	row.rival_sync_gen = 3;
	kz_rule_verdict(&row, 99, false, &out, &eff);
	CHECK(is_remote(&out, 1, T(10)) && out.sync_gen == 3 && !eff.won);
	/* ... a win makes it ours, the rival forgotten (it loses by rule 5) */
	kz_rule_verdict(&row, 99, true, &out, &eff);
	CHECK(out.state == KZ_ROW_LOCAL && !out.has_rival && eff.won);
}

static void
test_owner_gone(void)
{
	KzRuleRow	row;
	KzRuleRow	out;
	KzRuleEffects eff;

	row = row_ours(KZ_ROW_LOCAL, T(5), true);
	kz_rule_owner_gone(&row, &out, &eff);
	CHECK(out.state == KZ_ROW_FREE && eff.unregister && eff.gone_ts == T(5));
	row = row_ours(KZ_ROW_PENDING, T(5), true);
	kz_rule_owner_gone(&row, &out, &eff);
	CHECK(out.state == KZ_ROW_FREE && !eff.unregister);
	row.has_rival = true;
	row.rival_node = 2;
	row.rival_ts = T(7);
	row.rival_pid = 102;
	kz_rule_owner_gone(&row, &out, &eff);
	CHECK(is_remote(&out, 2, T(7)) && !eff.unregister);
	row = row_remote(1, N1, T(5));
	kz_rule_owner_gone(&row, &out, &eff);
	CHECK(is_remote(&out, 1, T(5)) && !eff.unregister);
}

static void
test_node_gone(void)
{
	KzRuleRow	row;
	KzRuleRow	out;

	row = row_remote(1, N1, T(5));
	kz_rule_node_gone(&row, 1, false, 0, &out);
	CHECK(out.state == KZ_ROW_FREE);
	kz_rule_node_gone(&row, 2, false, 0, &out);
	CHECK(is_remote(&out, 1, T(5)));
	/* the end of a sync round drops what it did not mention */
	kz_rule_node_gone(&row, 1, true, 7, &out);
	CHECK(is_remote(&out, 1, T(5)));
	kz_rule_node_gone(&row, 1, true, 8, &out);
	CHECK(out.state == KZ_ROW_FREE);
	row = row_ours(KZ_ROW_LOCAL, T(5), true);
	kz_rule_node_gone(&row, 1, false, 0, &out);
	CHECK(out.state == KZ_ROW_LOCAL);
	row = row_ours(KZ_ROW_PENDING, T(5), true);
	row.has_rival = true;
	row.rival_node = 1;
	row.rival_sync_gen = 7;
	kz_rule_node_gone(&row, 1, true, 7, &out);
	CHECK(out.has_rival);
	kz_rule_node_gone(&row, 2, false, 0, &out);
	CHECK(out.has_rival);
	kz_rule_node_gone(&row, 1, false, 0, &out);
	CHECK(out.state == KZ_ROW_PENDING && !out.has_rival);
}

/*
 * After a partition heals, each side holds the name locally and hears the
 * other's advertisement: both must reach the same verdict (rule 5), for
 * any two timestamps, ties included.
 */
static void
test_partition_heal(void)
{
	static const int64 ts[] = {T(1), T(2), T(2), T(3)};
	size_t		i;
	size_t		j;

	for (i = 0; i < lengthof(ts); i++)
	{
		for (j = 0; j < lengthof(ts); j++)
		{
			KzRuleRow	a = row_ours(KZ_ROW_LOCAL, ts[i], true);
			KzRuleRow	b = row_ours(KZ_ROW_LOCAL, ts[j], true);
			KzRuleRemote from_b = remote(1, N1, ts[j]);
			KzRuleRemote from_a = remote(0, SELF, ts[i]);
			KzRuleRow	a2;
			KzRuleRow	b2;
			KzRuleEffects ea;
			KzRuleEffects eb;

			/* node SELF sees N1's advertisement, node N1 sees SELF's */
			kz_rule_advert(&a, &from_b, SELF, &a2, &ea);
			b.node_name = N1;
			kz_rule_advert(&b, &from_a, N1, &b2, &eb);
			/* exactly one keeps the name, the other is told and defers */
			CHECK((a2.state == KZ_ROW_LOCAL) != (b2.state == KZ_ROW_LOCAL));
			CHECK(ea.notify_loser == (a2.state != KZ_ROW_LOCAL));
			CHECK(eb.notify_loser == (b2.state != KZ_ROW_LOCAL));
			CHECK(a2.state == KZ_ROW_LOCAL ? is_remote(&b2, 0, ts[i]) : is_remote(&a2, 1, ts[j]));
			CHECK(a2.state == KZ_ROW_LOCAL ? ea.readvertise : eb.readvertise);
		}
	}
}

/*
 * Registration metadata follows the registration (kz_rule_meta): applied
 * after each rule as rules_apply.c does, with the rule's own output.
 */
static void
test_meta(void)
{
	KzRuleRow	row;
	KzRuleRow	out;
	KzRuleEffects eff;
	KzMetaPlan	plan;
	KzRuleRemote ev = remote(1, N1, T(10));
	KzRuleRemote again = remote(1, N1, T(10));
	KzRuleRemote newer1 = remote(1, N1, T(30));
	KzRuleRemote older2 = remote(2, N2, T(5));
	KzRuleRemote newer2 = remote(2, N2, T(20));

	/* none: an advertisement brings its metadata */
	row = row_free();
	kz_rule_advert(&row, &ev, SELF, &out, &eff);
	plan = kz_rule_meta(&row, &out, &ev);
	CHECK(plan.own == KZ_META_EVENT && plan.rival == KZ_META_DROP);

	/* the same registration advertised again (set_meta): its new metadata */
	row = row_remote(1, N1, T(10));
	kz_rule_advert(&row, &again, SELF, &out, &eff);
	plan = kz_rule_meta(&row, &out, &again);
	CHECK(plan.own == KZ_META_EVENT);

	/* a new registration by the same node: the new one's */
	kz_rule_advert(&row, &newer1, SELF, &out, &eff);
	CHECK(kz_rule_meta(&row, &out, &newer1).own == KZ_META_EVENT);

	/* a losing advertisement by another node leaves the row's metadata */
	kz_rule_advert(&row, &newer2, SELF, &out, &eff);
	CHECK(is_remote(&out, 1, T(10)));
	CHECK(kz_rule_meta(&row, &out, &newer2).own == KZ_META_KEEP);

	/* a winning one replaces it */
	kz_rule_advert(&row, &older2, SELF, &out, &eff);
	CHECK(kz_rule_meta(&row, &out, &older2).own == KZ_META_EVENT);

	/* an answer (no advertisement) about the same registration keeps it */
	kz_rule_advert(&row, &again, SELF, &out, &eff);
	CHECK(kz_rule_meta(&row, &out, NULL).own == KZ_META_KEEP);
	/* ... and about another one drops it: its metadata comes with its advert */
	kz_rule_advert(&row, &older2, SELF, &out, &eff);
	CHECK(kz_rule_meta(&row, &out, NULL).own == KZ_META_DROP);

	/* our local row keeps ours against a losing advertisement */
	row = row_ours(KZ_ROW_LOCAL, T(1), true);
	kz_rule_advert(&row, &ev, SELF, &out, &eff);
	CHECK(out.state == KZ_ROW_LOCAL);
	plan = kz_rule_meta(&row, &out, &ev);
	CHECK(plan.own == KZ_META_KEEP && plan.rival == KZ_META_DROP);
	/* and takes the winner's when it loses the name */
	row = row_ours(KZ_ROW_LOCAL, T(50), true);
	kz_rule_advert(&row, &ev, SELF, &out, &eff);
	CHECK(is_remote(&out, 1, T(10)));
	CHECK(kz_rule_meta(&row, &out, &ev).own == KZ_META_EVENT);

	/* a pending claim that holds back a rival keeps the rival's aside */
	row = row_ours(KZ_ROW_PENDING, T(1), true);
	kz_rule_advert(&row, &ev, SELF, &out, &eff);
	CHECK(out.state == KZ_ROW_PENDING && out.has_rival);
	plan = kz_rule_meta(&row, &out, &ev);
	CHECK(plan.own == KZ_META_KEEP && plan.rival == KZ_META_EVENT);
	/* ... kept while another event leaves the rival alone ... */
	row = out;
	kz_rule_advert(&row, &newer2, SELF, &out, &eff);
	plan = kz_rule_meta(&row, &out, &newer2);
	CHECK(plan.own == KZ_META_KEEP && plan.rival == KZ_META_KEEP);
	/* ... and the row takes it when the claim loses */
	kz_rule_verdict(&row, row.claim_id, false, &out, &eff);
	CHECK(is_remote(&out, 1, T(10)));
	plan = kz_rule_meta(&row, &out, NULL);
	CHECK(plan.own == KZ_META_RIVAL && plan.rival == KZ_META_DROP);
	/* a claim that wins keeps its own, and the rival's goes */
	kz_rule_verdict(&row, row.claim_id, true, &out, &eff);
	CHECK(out.state == KZ_ROW_LOCAL);
	plan = kz_rule_meta(&row, &out, NULL);
	CHECK(plan.own == KZ_META_KEEP && plan.rival == KZ_META_DROP);

	/* unregister, node expiry, owner gone: no row, no metadata */
	row = row_remote(1, N1, T(10));
	kz_rule_unregister(&row, 1, true, T(10), &out);
	plan = kz_rule_meta(&row, &out, NULL);
	CHECK(out.state == KZ_ROW_FREE && plan.own == KZ_META_DROP && plan.rival == KZ_META_DROP);
	kz_rule_node_gone(&row, 1, false, 0, &out);
	CHECK(out.state == KZ_ROW_FREE && kz_rule_meta(&row, &out, NULL).own == KZ_META_DROP);
	row = row_ours(KZ_ROW_LOCAL, T(1), false);
	kz_rule_owner_gone(&row, &out, &eff);
	CHECK(out.state == KZ_ROW_FREE && kz_rule_meta(&row, &out, NULL).own == KZ_META_DROP);
}

int
main(int argc, char **argv)
{
	test_advert();
	test_claim();
	test_unregister();
	test_verdict();
	test_owner_gone();
	test_node_gone();
	test_partition_heal();
	test_meta();
	return unit_summary(argv[0]);
}
