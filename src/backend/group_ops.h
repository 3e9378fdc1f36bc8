/*-------------------------------------------------------------------------
 *
 * group_ops.h
 *	  join(), leave() and publish() of process groups, as a backend does
 *	  them.
 *
 * Runs in client backends.  The table is src/shared/groups.c; the worker
 * tells the other nodes (src/worker/group_sync.c).
 *
 * IDENTIFICATION
 *	  src/backend/group_ops.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_GROUP_OPS_H
#define KZ_GROUP_OPS_H

#include "groups.h"

/* True if this backend joined (false: it already was a member). */
extern bool kz_group_join(const KzGroupKey *group);

/* True if this backend left (false: it was not a member). */
extern bool kz_group_leave(const KzGroupKey *group);

/*
 * Delivers message to every member of the group; returns to how many
 * (see group_ops.c for what counts).
 */
extern int64 kz_group_publish(const KzGroupKey *group, const char *message,
							  size_t len);

/* At exit: leaves every group this backend joined.  Never raises. */
extern void kz_group_exit(void);

#endif							/* KZ_GROUP_OPS_H */
