/*-------------------------------------------------------------------------
 *
 * etf.h
 *	  Erlang external term format (ETF): the subset kz_globals needs.
 *
 * Kazoo's kz_globals puts names, messages, replies and exit reasons on the
 * wire as base64 of term_to_binary/1.  This codec validates, encodes and
 * renders such terms.  It is pure code: no shared memory, no network, no
 * ereport.  It compiles both into the server module and (with -DFRONTEND)
 * into the unit tests, using palloc and StringInfo from PostgreSQL's common
 * code in either case.
 *
 * Every "term buffer" below is a complete external term: the version byte
 * 131 followed by exactly one term.  Compressed terms (tag 80) and the
 * distribution-only tags (ATOM_CACHE_REF, LOCAL_EXT) are rejected.
 *
 * IDENTIFICATION
 *	  src/etf.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_ETF_H
#define KZ_ETF_H

#include "lib/stringinfo.h"

#define ETF_VERSION				131

#define ETF_NEW_FLOAT_EXT		70
#define ETF_BIT_BINARY_EXT		77
#define ETF_COMPRESSED			80
#define ETF_NEW_PID_EXT			88
#define ETF_NEW_PORT_EXT		89
#define ETF_NEWER_REFERENCE_EXT 90
#define ETF_SMALL_INTEGER_EXT	97
#define ETF_INTEGER_EXT			98
#define ETF_FLOAT_EXT			99
#define ETF_ATOM_EXT			100
#define ETF_REFERENCE_EXT		101
#define ETF_PORT_EXT			102
#define ETF_PID_EXT				103
#define ETF_SMALL_TUPLE_EXT		104
#define ETF_LARGE_TUPLE_EXT		105
#define ETF_NIL_EXT				106
#define ETF_STRING_EXT			107
#define ETF_LIST_EXT			108
#define ETF_BINARY_EXT			109
#define ETF_SMALL_BIG_EXT		110
#define ETF_LARGE_BIG_EXT		111
#define ETF_NEW_FUN_EXT			112
#define ETF_EXPORT_EXT			113
#define ETF_NEW_REFERENCE_EXT	114
#define ETF_SMALL_ATOM_EXT		115
#define ETF_MAP_EXT				116
#define ETF_ATOM_UTF8_EXT		118
#define ETF_SMALL_ATOM_UTF8_EXT 119
#define ETF_V4_PORT_EXT			120

/* Nesting deeper than this is refused (protects the C stack). */
#define ETF_MAX_DEPTH			64

typedef enum EtfStatus
{
	ETF_OK = 0,
	ETF_EMPTY,					/* zero-length input */
	ETF_BAD_VERSION,			/* first byte is not 131 */
	ETF_TRUNCATED,				/* input ends inside a term */
	ETF_TRAILING,				/* bytes left after the term */
	ETF_BAD_TAG,				/* unknown or unsupported tag */
	ETF_BAD_VALUE,				/* malformed contents (e.g. bad atom length) */
	ETF_TOO_DEEP				/* nesting over ETF_MAX_DEPTH */
} EtfStatus;

/* Short English description of a status, for logs. */
extern const char *etf_status_string(EtfStatus status);

/* Checks that buf[0..len) is exactly one well-formed term buffer. */
extern EtfStatus etf_validate(const uint8 *buf, size_t len);

/*
 * Encoders.  The etf_put_* functions append one term (no version byte) to
 * out; etf_put_version appends the version byte.  Integers use
 * SMALL_INTEGER_EXT, INTEGER_EXT or SMALL_BIG_EXT as term_to_binary does.
 * Atoms use SMALL_ATOM_UTF8_EXT (ATOM_UTF8_EXT over 255 bytes), which every
 * OTP release since R16 decodes.
 */
extern void etf_put_version(StringInfo out);
extern void etf_put_binary(StringInfo out, const char *data, size_t len);
extern void etf_put_atom(StringInfo out, const char *name, size_t len);
/* ATOM_EXT (tag 100), as term_to_binary/1 writes Latin-1 atoms on OTP 25. */
extern void etf_put_atom_latin1(StringInfo out, const char *name, size_t len);
extern void etf_put_integer(StringInfo out, int64 value);
extern void etf_put_tuple_header(StringInfo out, uint32 arity);
extern void etf_put_list_header(StringInfo out, uint32 length);
extern void etf_put_nil(StringInfo out);

/* Appends a whole term buffer holding the binary data[0..len). */
extern void etf_encode_binary(StringInfo out, const char *data, size_t len);

/*
 * The bytes that come before data in etf_encode_binary's term buffer (the
 * version byte and BINARY_EXT's header): writes them into out and returns
 * how many (ETF_BINARY_PREFIX_LEN).  For a writer that copies data itself,
 * straight from where it is.
 */
#define ETF_BINARY_PREFIX_LEN	6
extern size_t etf_binary_prefix(uint8 *out, size_t len);

/*
 * If buf is a term buffer holding a binary (BINARY_EXT), points *data and
 * *len at its bytes inside buf and returns true; otherwise returns false.
 */
extern bool etf_decode_binary(const uint8 *buf, size_t len,
							  const char **data, size_t *dlen);

/*
 * Appends the Erlang syntax of a term buffer to out, on one line, as
 * io_lib:format("~tp") would print it if the line were long enough:
 * atoms bare or quoted, {tuples}, [lists] and "strings", <<"binaries">>,
 * #{maps}, integers of any size, floats, and #Pid/#Ref/#Port/#Fun forms for
 * the opaque types.  Returns the validation status; on error out is left
 * with whatever was appended so far.
 */
extern EtfStatus etf_render(const uint8 *buf, size_t len, StringInfo out);

#endif							/* KZ_ETF_H */
