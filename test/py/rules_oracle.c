/*-------------------------------------------------------------------------
 *
 * rules_oracle.c
 *	  The registry rules (src/rules/rules.c, conflict.c) as flat functions
 *	  over plain integers and strings, for test/py/model_test.py, which
 *	  loads them with ctypes from test/py/librules_oracle.so (make
 *	  test/py/librules_oracle.so; test/suites/model.sh builds it).
 *
 * The model test asks these functions wherever its expectations depend
 * on what the rules decide, so that the live cluster is checked against
 * the very C code the worker runs, not against a Python copy of it.  Only
 * the row fields the rules compare are taken: every backend is alive, a
 * pending row holds no rival, pids are 0.  Runs in the Python test
 * process; no server, no locks.
 *
 * IDENTIFICATION
 *	  test/py/rules_oracle.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "conflict.h"
#include "rules.h"

/* Effects, as bits of the int *effects (model_test.py names them). */
#define KZ_ORACLE_LOST_CLAIM	0x01	/* our pending claim lost */
#define KZ_ORACLE_NOTIFY_LOSER	0x02	/* the local owner is told name_lost */
#define KZ_ORACLE_READVERTISE	0x04	/* we advertise our row again */
#define KZ_ORACLE_CONFLICT		0x08	/* a conflict is counted */

extern int	kz_oracle_claim_beats(long long ts_a, const char *node_a,
								  long long ts_b, const char *node_b);
extern int	kz_oracle_advert(int row_state, int row_node,
							 const char *row_node_name, long long row_ts,
							 int ev_node, const char *ev_node_name,
							 long long ev_ts, const char *self,
							 int *out_node, long long *out_ts, int *effects);
extern int	kz_oracle_claim(int row_state, int row_node,
							const char *row_node_name, long long row_ts,
							int claimant, const char *claimant_name,
							int has_ts, long long ts, const char *self,
							int *out_state, int *effects);

/* 1 if claim A beats claim B (conflict.h), else 0. */
int
kz_oracle_claim_beats(long long ts_a, const char *node_a,
					  long long ts_b, const char *node_b)
{
	return kz_claim_beats((int64) ts_a, node_a, (int64) ts_b, node_b) ? 1 : 0;
}

/*
 * A row of state row_state (KzRowState: 0 none, 1 pending, 2 local, 3
 * remote) on node self, owned by row_node/row_node_name with timestamp
 * row_ts (a local or pending row is self's).
 */
static KzRuleRow
oracle_row(int row_state, int row_node, const char *row_node_name,
		   long long row_ts)
{
	KzRuleRow	row;

	memset(&row, 0, sizeof(row));
	row.state = (KzRowState) row_state;
	row.alive = true;
	row.node = row_node;
	row.node_name = row_node_name;
	row.ts = (int64) row_ts;
	row.procno = -1;
	row.claim_id = 1;
	return row;
}

static int
oracle_effects(const KzRuleEffects *eff)
{
	return (eff->lost_claim != 0 ? KZ_ORACLE_LOST_CLAIM : 0) |
		(eff->notify_loser ? KZ_ORACLE_NOTIFY_LOSER : 0) |
		(eff->readvertise ? KZ_ORACLE_READVERTISE : 0) |
		(eff->conflict ? KZ_ORACLE_CONFLICT : 0);
}

/*
 * kz_rule_advert: node ev_node (ev_node_name) advertises its registration
 * with timestamp ev_ts to node self, which holds the row given.  Returns
 * the new row's state; its owner node and timestamp go to *out_node and
 * *out_ts (unchanged for a local or pending row that stays), the effects
 * to *effects.
 */
int
kz_oracle_advert(int row_state, int row_node, const char *row_node_name,
				 long long row_ts, int ev_node, const char *ev_node_name,
				 long long ev_ts, const char *self,
				 int *out_node, long long *out_ts, int *effects)
{
	KzRuleRow	row = oracle_row(row_state, row_node, row_node_name, row_ts);
	KzRuleRemote ev;
	KzRuleRow	out;
	KzRuleEffects eff;

	memset(&ev, 0, sizeof(ev));
	ev.node = ev_node;
	ev.node_name = ev_node_name;
	ev.ts = (int64) ev_ts;
	kz_rule_advert(&row, &ev, self, &out, &eff);
	*out_node = out.node;
	*out_ts = (long long) out.ts;
	*effects = oracle_effects(&eff);
	return (int) out.state;
}

/*
 * kz_rule_claim: node claimant (claimant_name; its claim's timestamp ts if
 * has_ts) claims the name from node self, which holds the row given.
 * Returns the answer's KzWireState (1 none, 2 pending, 4 local, 5
 * remote); the row's new state goes to *out_state, the effects to
 * *effects.
 */
int
kz_oracle_claim(int row_state, int row_node, const char *row_node_name,
				long long row_ts, int claimant, const char *claimant_name,
				int has_ts, long long ts, const char *self,
				int *out_state, int *effects)
{
	KzRuleRow	row = oracle_row(row_state, row_node, row_node_name, row_ts);
	KzRuleRow	out;
	KzRuleAnswer answer;
	KzRuleEffects eff;

	kz_rule_claim(&row, claimant, claimant_name, has_ts != 0, (int64) ts,
				  self, &out, &answer, &eff);
	*out_state = (int) out.state;
	*effects = oracle_effects(&eff);
	return (int) answer.state;
}
