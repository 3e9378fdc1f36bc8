/*-------------------------------------------------------------------------
 *
 * sql_args.c
 *	  Argument checks shared by the SQL functions (sql_args.h).
 *
 * Runs in client backends; takes no lock.
 *
 * IDENTIFICATION
 *	  src/sql/sql_args.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "sql_args.h"

int
kz_timeout_arg(FunctionCallInfo fcinfo, int argno, const char *hint)
{
	int32		ms;

	if (PG_ARGISNULL(argno))
		return -1;
	ms = PG_GETARG_INT32(argno);
	if (ms < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout_ms must not be negative"),
				 errdetail_internal("%s", hint)));
	return ms;
}
