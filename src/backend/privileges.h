/*-------------------------------------------------------------------------
 *
 * privileges.h
 *	  Who may do what with kz_globals, checked in C on every call (not only
 *	  by GRANT, which an administrator may widen by mistake).
 *
 * The extension's roles, in the manner of PostgreSQL's predefined roles:
 *	kz_globals_reader	the views, whereis_name, registered, token;
 *	kz_globals_user		also register, unregister its own names, send,
 *						call, receive, reply, the singleton helpers
 *						(a member of kz_globals_reader);
 *	kz_globals_admin	also unregister any name and see every owner
 *						(a member of kz_globals_user).
 * Superusers may do everything.  A role missing from the cluster grants
 * nothing.  Runs in backends; takes no locks of its own (syscache only).
 *
 * IDENTIFICATION
 *	  src/backend/privileges.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_PRIVILEGES_H
#define KZ_PRIVILEGES_H

typedef enum KzPrivilege
{
	KZ_PRIV_READ,
	KZ_PRIV_USE,
	KZ_PRIV_ADMIN
} KzPrivilege;

/* Does the current user hold priv? */
extern bool kz_has_privilege(KzPrivilege priv);

/* Errors out with 42501, naming the role to grant, unless it does. */
extern void kz_require_privilege(KzPrivilege priv);

/*
 * May the current user see who owns a registration of role owner (its pid,
 * role and database), as pg_stat_activity's rule goes: the same role (or a
 * member of it), pg_read_all_stats, kz_globals_admin, a superuser.  For a
 * scan: kz_may_see_all_owners() once, then kz_may_see_owner() per row only
 * if it said no.
 */
extern bool kz_may_see_all_owners(void);
extern bool kz_may_see_owner(Oid owner);

/*
 * Errors out with 42501 unless the current user may register a name of
 * this text: kz_globals.reserved_prefixes reserves every name that starts
 * with a prefix for the members of one role (and superusers).
 */
extern void kz_check_name_reserved(const char *name, int len);

#endif							/* KZ_PRIVILEGES_H */
