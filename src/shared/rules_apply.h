/*-------------------------------------------------------------------------
 *
 * rules_apply.h
 *	  Reading a row of the name table for the rules (rules.h) and writing
 *	  their verdict back: the one place where the rules' decisions change
 *	  the shared table.
 *
 * Run by the worker (events from the bus, verdicts) and by backends (a
 * claim given up, an owner's exit).  Also the row primitives both use:
 * dropping a row, making it another node's, releasing an ended owner's
 * rows, waking the standbys of a freed name.  The caller holds reg_lock exclusively;
 * reading a row takes nodes_lock shared for node names (lock order:
 * reg_lock, then nodes_lock).  Nothing here logs or raises.
 *
 * IDENTIFICATION
 *	  src/shared/rules_apply.h
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

/*
 * The same for a change made by the advertisement ev, which carried the
 * registration metadata meta[0..meta_len) (NULL: none); the row's metadata
 * follows kz_rule_meta.  *meta_stored is false if the advertisement's
 * metadata did not fit in the metadata pool: the registration is then
 * recorded without it.
 */
extern KzRow *kz_rules_write_advert(KzRow *row, const KzName *name,
									const KzRuleRow *r, const KzRuleEffects *eff,
									const KzRuleRemote *ev, const char *meta,
									int32 meta_len, bool *meta_stored);

/*
 * Row primitives, for the rules' writer above and for the backends'
 * claims (claims.c).
 */
/* Removes a row (caller holds reg_lock exclusively), telling the cluster. */
extern void kz_drop_row(KzRow *row, bool tell_cluster);

/*
 * Makes a row stand for a registration owned by another node (caller holds
 * reg_lock exclusively): what a superseded local or pending row becomes.
 */
extern void kz_row_make_remote(KzRow *row, int node, int64 ts, int32 pid,
							   bool kazoo);

/*
 * Caller holds reg_lock exclusively.  kz_row_end_claim ends a pending row
 * whose claim did not win: it becomes the row of the rival it held back
 * (true) or goes (false).  kz_row_clear_dead removes a row whose local
 * owner died, except that a pending one yields to its rival; it returns
 * the row if it stays.  Both by the rules (rules.h).
 */
extern bool kz_row_end_claim(KzRow *row);
extern KzRow *kz_row_clear_dead(KzRow *row);

/* Queues the unregister event of a local registration that went. */
extern void kz_tell_unregister(const KzName *name, int64 ts, int32 pid);

/*
 * Drops the rows of slot procno owned by pid (or by a process that has
 * exited); caller holds reg_lock exclusively.
 */
extern void kz_release_slot_locked(int procno, int pid);

/* Releases every name of backend (procno, pid): its exit.  Never errors. */
extern void kz_release_backend(int procno, int pid);

/* Releases names whose local owner died without releasing them. */
extern void kz_sweep_dead_owners(void);

/* Wakes the backends waiting in register_name_wait() for a freed name. */
extern void kz_wake_standbys(uint32 hash);

#endif							/* KZ_RULES_APPLY_H */
