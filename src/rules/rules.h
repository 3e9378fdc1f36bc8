/*-------------------------------------------------------------------------
 *
 * rules.h
 *	  The rules of a name: what one row becomes when an event about its name
 *	  arrives, and what must follow.
 *
 * Pure code: no shared memory, no locks, no network, no PostgreSQL globals.
 * A caller copies the row into a KzRuleRow (with the node names the rules
 * compare), calls one function per event and applies the result: the new
 * row (KZ_ROW_FREE: the row goes) and the effects.  In the server the
 * worker does that in rules_apply.c under reg_lock; the unit tests in
 * test/unit/test_rules.c call these functions directly.
 *
 * The events: an advertisement by another node (register, State
 * registered; also a sync entry or a query answer naming an owner), a claim
 * by another node (answered from the row), an unregister by another node,
 * the verdict on a claim of ours, and the end of a local owner.
 *
 * IDENTIFICATION
 *	  src/rules/rules.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_RULES_H
#define KZ_RULES_H

#include "kz_types.h"
#include "protocol.h"
#include "row.h"

/* One row as the rules see it. */
typedef struct KzRuleRow
{
	KzRowState	state;			/* KZ_ROW_FREE: there is no row */
	bool		alive;			/* local, pending: its backend lives */
	bool		lost;			/* pending: a rival claim already beat it */
	bool		kazoo;			/* remote: owned by a Kazoo node */
	int			node;			/* remote: the owner's node index */
	const char *node_name;		/* remote: the owner's node name */
	int64		ts;				/* the claim's timestamp (the token) */
	int32		pid;			/* the owner backend, 0 if unknown */
	int32		procno;			/* local, pending: its PGPROC slot */
	uint32		sync_gen;		/* remote: the owner's sync round */
	uint64		claim_id;		/* pending: our claim */

	/* pending: a rival's registration held back (see KzRow.rival_*) */
	bool		has_rival;
	bool		rival_kazoo;
	int			rival_node;
	const char *rival_name;
	int64		rival_ts;
	int32		rival_pid;
	uint32		rival_sync_gen;
} KzRuleRow;

/* A registration by another node: who, when, which backend. */
typedef struct KzRuleRemote
{
	int			node;
	const char *node_name;
	int64		ts;
	int32		pid;
	bool		kazoo;
	uint32		sync_gen;		/* the node's current sync round */
} KzRuleRemote;

/* What must follow a decision, once the table lock is released. */
typedef struct KzRuleEffects
{
	uint64		lost_claim;		/* our claim that lost: decide it, 0 if none */
	bool		notify_loser;	/* the local owner lost the name to a rival */
	int32		loser_procno;
	int32		loser_pid;
	bool		readvertise;	/* advertise our registration (ts, pid) again */
	int64		our_ts;
	int32		our_pid;
	bool		conflict;		/* count a conflict between registrations */
	bool		unregister;		/* a local registration went: tell the cluster */
	int64		gone_ts;		/* ... its timestamp */
	int32		gone_pid;		/* ... and backend */
	bool		won;			/* the verdict made our claim the owner */
} KzRuleEffects;

/* A node's answer to a claim, read from its row. */
typedef struct KzRuleAnswer
{
	KzWireState state;
	int64		ts;
	int32		pid;
	int			owner_node;		/* remote: whose queue goes in Server-ID */
} KzRuleAnswer;

/*
 * Each function reads *row and writes the new row to *out (which may be row
 * itself) and what must follow to *eff (zeroed first).  self is this node's
 * name.
 */

/* An advertisement (or sync entry, or query answer) by another node. */
extern void kz_rule_advert(const KzRuleRow *row, const KzRuleRemote *ev,
						   const char *self, KzRuleRow *out, KzRuleEffects *eff);

/*
 * A claim by node claimant (its name claimant_name; the claim's timestamp
 * ts if has_ts): the answer, and what the claim does to our row.
 */
extern void kz_rule_claim(const KzRuleRow *row, int claimant,
						  const char *claimant_name, bool has_ts, int64 ts,
						  const char *self, KzRuleRow *out,
						  KzRuleAnswer *answer, KzRuleEffects *eff);

/* An unregister by node (of the registration with timestamp ts if has_ts). */
extern void kz_rule_unregister(const KzRuleRow *row, int node, bool has_ts,
							   int64 ts, KzRuleRow *out);

/*
 * The verdict on our claim claim_id (win: every node approved or the
 * timeout passed without a denial).  eff->won tells whether it now owns
 * the name.
 */
extern void kz_rule_verdict(const KzRuleRow *row, uint64 claim_id, bool win,
							KzRuleRow *out, KzRuleEffects *eff);

/*
 * The local owner (or claimant) of the row has ended: a pending row yields
 * to the rival it held back, a local one goes (and the cluster is told).
 */
extern void kz_rule_owner_gone(const KzRuleRow *row, KzRuleRow *out,
							   KzRuleEffects *eff);

/*
 * Node has expired (only_unsynced false) or ended a sync round gen
 * without mentioning the name (only_unsynced true): its registration goes,
 * also as a rival held back.
 */
extern void kz_rule_node_gone(const KzRuleRow *row, int node,
							  bool only_unsynced, uint32 gen, KzRuleRow *out);

/*
 * Registration metadata: which text a row keeps once a rule has changed it
 * from before to after.  ev is the advertisement the change came from, or
 * NULL (an answer to a query or claim, a verdict, an owner's or node's
 * end: they carry no metadata).  The row's own metadata follows its
 * registration: kept while the registration stays the same (owner and
 * timestamp), the rival's when the row becomes the rival it held back,
 * the advertisement's when the row is (now) the advertised registration,
 * and none otherwise.  The same for the rival a pending row holds back.
 */
typedef enum KzMetaFrom
{
	KZ_META_KEEP,				/* what the row had */
	KZ_META_DROP,				/* none */
	KZ_META_RIVAL,				/* the rival's the row held back */
	KZ_META_EVENT				/* the advertisement's */
} KzMetaFrom;

typedef struct KzMetaPlan
{
	KzMetaFrom	own;
	KzMetaFrom	rival;			/* never KZ_META_RIVAL */
} KzMetaPlan;

extern KzMetaPlan kz_rule_meta(const KzRuleRow *before, const KzRuleRow *after,
							   const KzRuleRemote *ev);

#endif							/* KZ_RULES_H */
