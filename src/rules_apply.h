/*-------------------------------------------------------------------------
 *
 * rules_apply.h
 *	  Reading a row of the name table for the rules (rules.h) and writing
 *	  their verdict back: the one place where the rules' decisions change
 *	  the shared table.
 *
 * Run by the worker (events from the bus, verdicts) and by backends (a
 * claim given up, an owner's exit).  The caller holds reg_lock exclusively;
 * reading a row takes nodes_lock shared for node names (lock order:
 * reg_lock, then nodes_lock).  Nothing here logs or raises.
 *
 * IDENTIFICATION
 *	  src/rules_apply.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_RULES_APPLY_H
#define KZ_RULES_APPLY_H

#include "registry.h"
#include "rules.h"

/* Room for the node names a KzRuleRow points to. */
typedef struct KzRuleNames
{
	char		owner[KZ_NODE_NAME_MAX];
	char		rival[KZ_NODE_NAME_MAX];
} KzRuleNames;

/*
 * Copies row (NULL: no row) into *r.  With names, also the node names the
 * rules compare (stored there); without, those stay NULL (enough for
 * every rule but kz_rule_advert and kz_rule_claim).
 */
extern void kz_rules_read(const KzRow *row, KzRuleRow *r, KzRuleNames *names);

/*
 * Makes the table say what *r says about name, whose row is row (NULL:
 * none), and queues the unregister eff asks for.  Returns the row, or NULL
 * if there is none now, or if a new row was needed and the table is full
 * (then r->state is not KZ_ROW_FREE).
 */
extern KzRow *kz_rules_write(KzRow *row, const KzName *name, const KzRuleRow *r,
							 const KzRuleEffects *eff);

#endif							/* KZ_RULES_APPLY_H */
