/*-------------------------------------------------------------------------
 *
 * rules_apply.c
 *	  Between the name table and the rules (see rules_apply.h).  Runs in the
 *	  worker and in backends, under reg_lock held exclusively by the caller.
 *
 * IDENTIFICATION
 *	  src/rules_apply.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "claims.h"
#include "guc.h"
#include "nodes.h"
#include "rules_apply.h"

static const char *
name_of(int node, char *buf)
{
	if (node == KZ_SELF_NODE)
		return kz_node_name;
	kz_node_name_copy(node, buf);
	return buf;
}

void
kz_rules_read(const KzRow *row, KzRuleRow *r, KzRuleNames *names)
{
	memset(r, 0, sizeof(*r));
	if (row == NULL || row->state == KZ_ROW_FREE)
	{
		r->state = KZ_ROW_FREE;
		return;
	}
	r->state = (KzRowState) row->state;
	r->alive = kz_row_alive(row);
	r->lost = (row->flags & KZ_ROW_LOST) != 0;
	r->kazoo = (row->flags & KZ_ROW_KAZOO) != 0;
	r->node = row->node;
	r->ts = row->timestamp;
	r->pid = row->pid;
	r->procno = row->procno;
	r->claim_id = row->claim_id;
	if (row->state == KZ_ROW_REMOTE)
	{
		r->sync_gen = row->sync_gen;
		if (names != NULL)
			r->node_name = name_of(row->node, names->owner);
	}
	if (row->state == KZ_ROW_PENDING && (row->flags & KZ_ROW_RIVAL))
	{
		r->has_rival = true;
		r->rival_kazoo = (row->flags & KZ_ROW_RIVAL_KAZOO) != 0;
		r->rival_node = row->rival_node;
		r->rival_ts = row->rival_ts;
		r->rival_pid = row->rival_pid;
		r->rival_sync_gen = row->sync_gen;
		if (names != NULL)
			r->rival_name = name_of(row->rival_node, names->rival);
	}
}

/* A pending row's flags and held-back rival, as r says. */
static void
write_pending(KzRow *row, const KzRuleRow *r)
{
	row->flags = r->lost ? KZ_ROW_LOST : 0;
	if (!r->has_rival)
		return;
	row->flags |= KZ_ROW_RIVAL | (r->rival_kazoo ? KZ_ROW_RIVAL_KAZOO : 0);
	row->rival_node = (uint16) r->rival_node;
	row->rival_ts = r->rival_ts;
	row->rival_pid = r->rival_pid;
	row->sync_gen = r->rival_sync_gen;
}

KzRow *
kz_rules_write(KzRow *row, const KzName *name, const KzRuleRow *r,
			   const KzRuleEffects *eff)
{
	if (eff != NULL && eff->unregister)
		kz_tell_unregister(name, eff->gone_ts, eff->gone_pid);
	if (r->state == KZ_ROW_FREE)
	{
		if (row != NULL)
			kz_drop_row(row, false);
		return NULL;
	}
	if (row == NULL && (row = kz_reg_insert(name)) == NULL)
		return NULL;
	switch (r->state)
	{
		case KZ_ROW_REMOTE:
			kz_row_make_remote(row, r->node, r->ts, r->pid, r->kazoo);
			row->sync_gen = r->sync_gen;
			break;
		case KZ_ROW_PENDING:
			write_pending(row, r);
			break;
		case KZ_ROW_LOCAL:
			if (row->state == KZ_ROW_PENDING)
			{
				row->flags &= ~(KZ_ROW_LOST | KZ_ROW_RIVAL | KZ_ROW_RIVAL_KAZOO);
				kz_reg_set_state(row, KZ_ROW_LOCAL);
			}
			break;
		case KZ_ROW_FREE:
			break;
	}
	return row;
}
