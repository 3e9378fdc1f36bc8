/*-------------------------------------------------------------------------
 *
 * conflict.h
 *	  The one rule that decides between two claims on the same name.
 *
 * Kazoo's rule: the oldest claim wins, and equal timestamps go to the node
 * whose name sorts first (bytewise).  kz_globals applies it everywhere a
 * decision is taken (a claimant reading replies, a node answering "pending",
 * a node receiving a conflicting advertisement), so that every node reaches
 * the same verdict from the same two claims.  Pure code.
 *
 * IDENTIFICATION
 *	  src/rules/conflict.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_CONFLICT_H
#define KZ_CONFLICT_H

/*
 * True if claim A (timestamp ts_a, made by node_a) beats claim B.  A claim
 * never beats itself: equal timestamps and equal nodes give false.
 */
extern bool kz_claim_beats(int64 ts_a, const char *node_a,
						   int64 ts_b, const char *node_b);

#endif							/* KZ_CONFLICT_H */
