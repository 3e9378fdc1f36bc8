/*-------------------------------------------------------------------------
 *
 * sql_args.h
 *	  Argument checks shared by the SQL functions of src/sql/.
 *
 * Runs in client backends; takes no lock.
 *
 * IDENTIFICATION
 *	  src/sql/sql_args.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_SQL_ARGS_H
#define KZ_SQL_ARGS_H

#include "fmgr.h"

/*
 * A timeout argument in milliseconds: NULL means no limit (-1), a negative
 * value is an error (22023) whose detail is the caller's hint of what to
 * pass.
 */
extern int	kz_timeout_arg(FunctionCallInfo fcinfo, int argno, const char *hint);

#endif							/* KZ_SQL_ARGS_H */
