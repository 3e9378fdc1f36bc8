/*-------------------------------------------------------------------------
 *
 * privileges.c
 *	  The privilege checks of the SQL interface (see privileges.h).  Runs in
 *	  backends.
 *
 * IDENTIFICATION
 *	  src/privileges.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_authid_d.h"
#include "miscadmin.h"
#include "utils/acl.h"

#include "privileges.h"

static const char *
role_name(KzPrivilege priv)
{
	switch (priv)
	{
		case KZ_PRIV_READ:
			return "kz_globals_reader";
		case KZ_PRIV_USE:
			return "kz_globals_user";
		case KZ_PRIV_ADMIN:
			return "kz_globals_admin";
	}
	return "kz_globals_admin";
}

bool
kz_has_privilege(KzPrivilege priv)
{
	Oid			role;

	if (superuser())
		return true;
	role = get_role_oid(role_name(priv), true);
	return OidIsValid(role) && has_privs_of_role(GetUserId(), role);
}

void
kz_require_privilege(KzPrivilege priv)
{
	if (!kz_has_privilege(priv))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for kz_globals"),
				 errdetail("Only superusers and members of %s may do this.", role_name(priv)),
				 errhint("GRANT %s TO the role.", role_name(priv))));
}

bool
kz_may_see_owner(Oid owner)
{
	Oid			me = GetUserId();

	if (superuser() || (OidIsValid(owner) && has_privs_of_role(me, owner)) ||
		has_privs_of_role(me, ROLE_PG_READ_ALL_STATS))
		return true;
	return kz_has_privilege(KZ_PRIV_ADMIN);
}
