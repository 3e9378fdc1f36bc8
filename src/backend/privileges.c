/*-------------------------------------------------------------------------
 *
 * privileges.c
 *	  The privilege checks of the SQL interface (see privileges.h).  Runs in
 *	  backends.
 *
 * IDENTIFICATION
 *	  src/backend/privileges.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_authid_d.h"
#include "miscadmin.h"
#include "utils/acl.h"

#include "guc.h"
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

/*
 * Each "prefix=role" entry of kz_globals.reserved_prefixes (comma-separated,
 * blanks around entries ignored; the check hook in guc.c keeps the list well
 * formed) that name starts with, in turn.
 */
void
kz_check_name_reserved(const char *name, int len)
{
	char	   *list;
	char	   *entry;
	char	   *save = NULL;

	if (kz_reserved_prefixes == NULL || kz_reserved_prefixes[0] == '\0' || superuser())
		return;
	list = pstrdup(kz_reserved_prefixes);
	for (entry = strtok_r(list, ",", &save); entry != NULL;
		 entry = strtok_r(NULL, ",", &save))
	{
		char	   *eq = strrchr(entry, '=');
		char	   *prefix = entry;
		char	   *role = eq ? eq + 1 : NULL;
		Oid			roleid;

		if (eq == NULL)
			continue;
		*eq = '\0';
		while (*prefix == ' ')
			prefix++;
		while (*role == ' ')
			role++;
		role[strcspn(role, " ")] = '\0';
		if ((int) strlen(prefix) > len || strncmp(name, prefix, strlen(prefix)) != 0)
			continue;
		roleid = get_role_oid(role, true);
		if (!OidIsValid(roleid) || !has_privs_of_role(GetUserId(), roleid))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("names beginning with \"%s\" are reserved for role \"%s\"",
							prefix, role),
					 errdetail("kz_globals.reserved_prefixes reserves them.")));
	}
	pfree(list);
}

bool
kz_may_see_all_owners(void)
{
	return superuser() || has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS) ||
		kz_has_privilege(KZ_PRIV_ADMIN);
}

bool
kz_may_see_owner(Oid owner)
{
	return OidIsValid(owner) && has_privs_of_role(GetUserId(), owner);
}
