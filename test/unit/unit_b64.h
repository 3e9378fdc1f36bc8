/*-------------------------------------------------------------------------
 *
 * unit_b64.h
 *	  The oracle of the codec tests for a binary term's field: the base64
 *	  of the term, written by PostgreSQL's pg_b64_encode (the encoder of
 *	  src/wire writes its own, straight from the bytes, and must match it).
 *
 * Include after etf.h, common/base64.h and compat.h, in programs linked
 * with src/wire/etf.c.
 *
 * IDENTIFICATION
 *	  test/unit/unit_b64.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_UNIT_B64_H
#define KZ_UNIT_B64_H

/* The base64 of the binary term of bytes[0..len) (palloc'd). */
static char *
b64_binary(const char *bytes, size_t len)
{
	StringInfoData term;
	int			enc_len;
	char	   *b64;
	int			n;

	initStringInfo(&term);
	etf_encode_binary(&term, bytes, len);
	enc_len = pg_b64_enc_len(term.len);
	b64 = palloc(enc_len + 1);
	n = pg_b64_encode((const KzB64Byte *) term.data, term.len, b64, enc_len);
	b64[Max(n, 0)] = '\0';
	pfree(term.data);
	return b64;
}

#endif							/* KZ_UNIT_B64_H */
