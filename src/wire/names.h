/*-------------------------------------------------------------------------
 *
 * names.h
 *	  Converting names and messages between SQL text and Erlang terms.
 *
 * A name given in SQL is the binary term of its bytes.  Terms that are not
 * binaries (atoms, tuples from Kazoo nodes) and binaries that are not valid
 * text in the database encoding are shown in Erlang syntax.
 *
 * IDENTIFICATION
 *	  src/wire/names.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_NAMES_H
#define KZ_NAMES_H

#include "fmgr.h"

#include "kz_types.h"

/*
 * Checks a SQL name argument (NULL, empty, longer than 255 bytes: errors
 * with SQLSTATE 22023) and encodes it.  argno is the argument's position.
 */
extern void kz_name_from_arg(FunctionCallInfo fcinfo, int argno, KzName *name);

/* Encodes raw bytes as a name; false if they do not fit in KzName. */
extern bool kz_name_from_bytes(const char *data, size_t len, KzName *name);

/*
 * The text shown for a message body, as a text datum: a binary's text (the
 * empty binary is the empty text, as a local send of '' arrives), else
 * Erlang syntax.
 */
extern text *kz_term_to_text(const uint8 *term, size_t len);

/*
 * The text shown for a name: like a message's, but the empty binary (which
 * SQL cannot register) is shown as <<>>.
 */
extern char *kz_name_to_cstring(const KzName *name);
extern void kz_name_set(KzName *name, const uint8 *data, size_t len);

/* True if the name is a binary (a name that SQL can spell). */
extern bool kz_name_is_binary(const KzName *name);

#endif							/* KZ_NAMES_H */
