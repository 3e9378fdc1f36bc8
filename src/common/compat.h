/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  What differs between the PostgreSQL major versions kz_globals builds
 *	  against (15 to 18), in one place.  The rest of the code is written
 *	  once, against the names defined here.
 *
 * IDENTIFICATION
 *	  src/common/compat.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_COMPAT_H
#define KZ_COMPAT_H

/*
 * printf formats: PostgreSQL 18 dropped INT64_MODIFIER for C99's
 * <inttypes.h> macros (PRIx64 ...), which every version can use.
 */
#include <inttypes.h>

#include "common/jsonapi.h"

/*
 * The bytes of common/base64.h's binary side (the source of
 * pg_b64_encode, the destination of pg_b64_decode): uint8 from 18 on,
 * char before.  Callers cast to KzB64Byte pointers.
 */
#if PG_VERSION_NUM >= 180000
typedef uint8 KzB64Byte;
#else
typedef char KzB64Byte;
#endif

/* PostgreSQL 16 moved the varlena macros (VARDATA_ANY, ...) to varatt.h. */
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

/*
 * jsonapi (used by the frontend unit tests too).  From 16 on a semantic
 * action returns a JsonParseErrorType (JSON_SUCCESS to go on); before, it
 * returns nothing.  An action is declared "static KZ_JSON_ACTION f(...)"
 * and ends with KZ_JSON_ACTION_DONE.
 */
#if PG_VERSION_NUM >= 160000
#define KZ_JSON_ACTION			JsonParseErrorType
#define KZ_JSON_ACTION_DONE		return JSON_SUCCESS
#else
#define KZ_JSON_ACTION			void
#define KZ_JSON_ACTION_DONE		return
#endif

/*
 * A lexer over len bytes of UTF-8 at json, and its release.  From 17 on
 * the lexer can be caller-allocated and has a destructor; before, it is
 * palloc'd together with the token buffer that need_escapes asks for.
 */
#if PG_VERSION_NUM >= 170000
#define KZ_JSON_LEXER(json, len, need_escapes) \
	makeJsonLexContextCstringLen(NULL, (json), (len), PG_UTF8, (need_escapes))
#define KZ_JSON_LEXER_FREE(lex)	freeJsonLexContext(lex)
#else
#define KZ_JSON_LEXER(json, len, need_escapes) \
	makeJsonLexContextCstringLen((json), (int) (len), PG_UTF8, (need_escapes))
static inline void
KZ_JSON_LEXER_FREE(JsonLexContext *lex)
{
	if (lex->strval != NULL)
	{
		pfree(lex->strval->data);
		pfree(lex->strval);
	}
	pfree(lex);
}
#endif

#ifndef FRONTEND

#include "storage/proc.h"
#include "utils/wait_event.h"

/*
 * A PGPROC's number: its index in ProcGlobal->allProcs, which is also the
 * index of its KzBackend slot.  PostgreSQL 17 dropped the pgprocno field
 * in favour of computing it from the pointer.
 */
#if PG_VERSION_NUM >= 170000
#define KZ_PROCNO(proc)		((int) GetNumberFromPGProc(proc))
#else
#define KZ_PROCNO(proc)		((proc)->pgprocno)
#endif
#define KZ_MY_PROCNO		KZ_PROCNO(MyProc)

/*
 * A GUC check hook's new value and extra block: malloc'd before PostgreSQL
 * 16, guc_malloc'd (and guc_free'd) since.
 */
#if PG_VERSION_NUM >= 160000
#define KZ_GUC_MALLOC(n)	guc_malloc(LOG, (n))
#define KZ_GUC_FREE(p)		guc_free(p)
#else
#define KZ_GUC_MALLOC(n)	malloc(n)
#define KZ_GUC_FREE(p)		free(p)
#endif

/*
 * The wait event id for one of our waits.  From PostgreSQL 17 on an
 * extension can name its waits (pg_stat_activity then shows the name with
 * wait_event_type "Extension"); the name is registered in shared memory by
 * the first process to ask and found by the others.  Before 17 every wait
 * of an extension is the one event "Extension".
 */
#if PG_VERSION_NUM >= 170000
#define KZ_WAIT_EVENT_NEW(name)	WaitEventExtensionNew(name)
#else
#define KZ_WAIT_EVENT_NEW(name)	((void) (name), PG_WAIT_EXTENSION)
#endif

/*
 * A WaitEventSet that lives as long as the process (the worker's).  Until
 * PostgreSQL 16 it is allocated in a memory context; from 17 on it is
 * tracked by a resource owner, and none means the caller frees it.
 */
#if PG_VERSION_NUM >= 170000
#define KZ_CREATE_PROCESS_WAIT_SET(nevents)	CreateWaitEventSet(NULL, (nevents))
#else
#define KZ_CREATE_PROCESS_WAIT_SET(nevents) \
	CreateWaitEventSet(TopMemoryContext, (nevents))
#endif

#endif							/* !FRONTEND */

#endif							/* KZ_COMPAT_H */
