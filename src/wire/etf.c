/*-------------------------------------------------------------------------
 *
 * etf.c
 *	  Erlang external term format (ETF): validation, encoding, rendering.
 *
 * Kazoo puts names, messages, replies and exit reasons on RabbitMQ as
 * base64 of term_to_binary/1.  Those bytes come from the network, so the
 * decoder here treats them as hostile: every read is bounds-checked, every
 * length read from the input is compared with the bytes that remain before
 * anything is allocated or looped over, containers whose declared size
 * cannot fit in the remaining bytes (each element needs at least one byte)
 * are refused at once, and nesting is limited to ETF_MAX_DEPTH.
 *
 * Validation and rendering share one walker: it checks a term and, when it
 * is given a StringInfo, appends the term's Erlang syntax as it goes.  The
 * only lookahead is the check whether a list is a printable string, which
 * reads integer elements only and so stays linear.
 *
 * The rendering follows io_lib:format("~tp") of OTP 25 with the printable
 * range set to unicode (erl +pc unicode), on one line.  The choices that
 * differ from what erl prints are documented at the functions concerned:
 * pids, ports and references (erl prints node-relative numbers), funs and
 * bignums of more than ETF_BIG_DECIMAL_MAX bytes.
 *
 * IDENTIFICATION
 *	  src/wire/etf.c
 *
 *-------------------------------------------------------------------------
 */
#ifndef FRONTEND
#include "postgres.h"

#include "miscadmin.h"
#else
#include "postgres_fe.h"
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etf.h"

/*
 * Bignums are rendered in decimal only while the bytes of all the bignums
 * of one term rendered so far stay within this budget; the rest in
 * hexadecimal Erlang syntax (16#...): the decimal conversion below is
 * quadratic, and a hostile message may hold a bignum of megabytes, or
 * very many large ones.  4096 bytes is about 9860 decimal digits, which
 * take a few milliseconds; with the budget a whole term never takes more.
 */
#define ETF_BIG_DECIMAL_MAX		4096

/* A backend rendering a huge term answers a cancel (no-op in frontends). */
#ifndef FRONTEND
#define ETF_CHECK_INTERRUPTS()	CHECK_FOR_INTERRUPTS()
#else
#define ETF_CHECK_INTERRUPTS()	((void) 0)
#endif

/* Largest number of words in a reference that binary_to_term accepts. */
#define ETF_MAX_REF_WORDS		5

/* Floats from 2^53 up are always printed in scientific notation by erl. */
#define ETF_FLOAT_PLAIN_LIMIT	9007199254740992.0

/* Length of the string in an old FLOAT_EXT. */
#define ETF_OLD_FLOAT_LEN		31

/* Returns the status of expr from the calling function unless it is OK. */
#define TRY(expr) \
	do { \
		EtfStatus	try_status_ = (expr); \
		if (try_status_ != ETF_OK) \
			return try_status_; \
	} while (0)

/* Read position in a term buffer, plus where to render (NULL: validate). */
typedef struct EtfCursor
{
	const uint8 *buf;			/* the whole term buffer */
	size_t		len;			/* its length */
	size_t		pos;			/* next byte to read */
	StringInfo	out;			/* rendering target, or NULL */
	size_t		decimal_left;	/* bignum bytes still to render in decimal */
} EtfCursor;

/* An atom's text inside the input buffer. */
typedef struct EtfAtom
{
	const uint8 *text;
	size_t		len;			/* in bytes */
	bool		utf8;			/* UTF-8 (tags 118, 119), else Latin-1 */
} EtfAtom;

/* How the bytes of a binary are best shown. */
typedef enum EtfBinaryKind
{
	ETF_BIN_BYTES,				/* <<1,2,3>> */
	ETF_BIN_LATIN1,				/* <<"abc">>, one character per byte */
	ETF_BIN_UTF8				/* <<"héllo"/utf8>> */
} EtfBinaryKind;

/*
 * Erlang's reserved words, which are quoted even though they look like
 * bare atoms.  maybe is reserved from OTP 27 on (OTP 25 prints it bare);
 * quoting it is valid syntax for every release.
 */
static const char *const reserved_words[] = {
	"after", "and", "andalso", "band", "begin", "bnot", "bor", "bsl", "bsr",
	"bxor", "case", "catch", "cond", "div", "end", "fun", "if", "let",
	"maybe", "not", "of", "or", "orelse", "receive", "rem", "try", "when",
	"xor"
};

static EtfStatus walk_term(EtfCursor *c, int depth);


/* ---------------------------------------------------------------------
 * Reading the input
 * ---------------------------------------------------------------------
 */

/* Number of bytes left after the cursor. */
static inline size_t
remaining(const EtfCursor *c)
{
	return c->len - c->pos;
}

/*
 * Reads an nbytes-long (at most 8) big-endian unsigned integer, the way
 * every length and number in the format is stored.
 */
static EtfStatus
read_uint(EtfCursor *c, int nbytes, uint64 *value)
{
	uint64		v = 0;
	int			i;

	if (remaining(c) < (size_t) nbytes)
		return ETF_TRUNCATED;
	for (i = 0; i < nbytes; i++)
		v = (v << 8) | c->buf[c->pos + i];
	c->pos += nbytes;
	*value = v;
	return ETF_OK;
}

/*
 * Points *start at the next n bytes and steps over them.  n comes from the
 * input, so it is checked against what remains before anything else.
 */
static EtfStatus
read_bytes(EtfCursor *c, uint64 n, const uint8 **start)
{
	if (n > remaining(c))
		return ETF_TRUNCATED;
	*start = c->buf + c->pos;
	c->pos += n;
	return ETF_OK;
}

/*
 * Reads a container's element count (nbytes wide) and refuses it unless
 * every element, at minbytes each, plus extra trailing bytes can still fit.
 * This stops "a billion elements" in a ten-byte buffer before any loop.
 */
static EtfStatus
read_count(EtfCursor *c, int nbytes, uint64 minbytes, uint64 extra,
		   uint64 *count)
{
	TRY(read_uint(c, nbytes, count));
	if (*count * minbytes + extra > remaining(c))
		return ETF_TRUNCATED;
	return ETF_OK;
}

/*
 * Decodes one UTF-8 character of p[0..n) strictly, as Erlang does: no
 * overlong forms, no surrogates, nothing above U+10FFFF.  Returns its
 * length and sets *cp, or returns 0 if the bytes are not valid UTF-8.
 */
static int
utf8_decode(const uint8 *p, size_t n, uint32 *cp)
{
	uint32		ch;
	uint32		min;
	int			len;
	int			i;

	if (n == 0)
		return 0;
	ch = p[0];
	if (ch < 0x80)
	{
		*cp = ch;
		return 1;
	}
	if ((ch & 0xE0) == 0xC0)
	{
		len = 2;
		ch &= 0x1F;
		min = 0x80;
	}
	else if ((ch & 0xF0) == 0xE0)
	{
		len = 3;
		ch &= 0x0F;
		min = 0x800;
	}
	else if ((ch & 0xF8) == 0xF0)
	{
		len = 4;
		ch &= 0x07;
		min = 0x10000;
	}
	else
		return 0;
	if (n < (size_t) len)
		return 0;
	for (i = 1; i < len; i++)
	{
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		ch = (ch << 6) | (p[i] & 0x3F);
	}
	if (ch < min || ch > 0x10FFFF || (ch >= 0xD800 && ch <= 0xDFFF))
		return 0;
	*cp = ch;
	return len;
}

/*
 * Reads an atom term (any of the four atom tags) into *atom.  Used for
 * plain atoms and for the node and module names inside pids, ports,
 * references and funs, where any other tag is malformed.  Like
 * binary_to_term, refuses more than 255 characters and invalid UTF-8.
 */
static EtfStatus
read_atom(EtfCursor *c, EtfAtom *atom)
{
	uint64		tag;
	uint64		len;
	size_t		i;
	int			clen;
	int			nchars = 0;
	uint32		cp;

	TRY(read_uint(c, 1, &tag));
	switch (tag)
	{
		case ETF_ATOM_EXT:
		case ETF_ATOM_UTF8_EXT:
			TRY(read_uint(c, 2, &len));
			break;
		case ETF_SMALL_ATOM_EXT:
		case ETF_SMALL_ATOM_UTF8_EXT:
			TRY(read_uint(c, 1, &len));
			break;
		default:
			return ETF_BAD_VALUE;
	}
	TRY(read_bytes(c, len, &atom->text));
	atom->len = len;
	atom->utf8 = (tag == ETF_ATOM_UTF8_EXT || tag == ETF_SMALL_ATOM_UTF8_EXT);
	if (!atom->utf8)
		return len <= 255 ? ETF_OK : ETF_BAD_VALUE;
	for (i = 0; i < len; i += clen)
	{
		clen = utf8_decode(atom->text + i, len - i, &cp);
		if (clen == 0 || ++nchars > 255)
			return ETF_BAD_VALUE;
	}
	return ETF_OK;
}

/*
 * Reads an integer term whose value is a Unicode code point (0..10FFFF),
 * whatever integer encoding it uses, and advances; otherwise returns false
 * (the cursor is then meaningless).  Used to recognise strings, which
 * Erlang prints by value, not by encoding.
 */
static bool
read_char_code(EtfCursor *c, uint32 *cp)
{
	uint64		tag;
	uint64		v;
	uint64		n;
	uint64		sign;
	const uint8 *digits;
	uint64		i;

	if (read_uint(c, 1, &tag) != ETF_OK)
		return false;
	if (tag == ETF_SMALL_INTEGER_EXT || tag == ETF_INTEGER_EXT)
	{
		if (read_uint(c, tag == ETF_SMALL_INTEGER_EXT ? 1 : 4, &v) != ETF_OK)
			return false;
		*cp = (uint32) v;
		return v <= 0x10FFFF;
	}
	if (tag != ETF_SMALL_BIG_EXT && tag != ETF_LARGE_BIG_EXT)
		return false;
	if (read_uint(c, tag == ETF_SMALL_BIG_EXT ? 1 : 4, &n) != ETF_OK ||
		read_uint(c, 1, &sign) != ETF_OK ||
		read_bytes(c, n, &digits) != ETF_OK)
		return false;
	v = 0;
	for (i = n; i > 0; i--)
	{
		v = (v << 8) | digits[i - 1];
		if (v > 0x10FFFF)
			return false;
	}
	*cp = (uint32) v;
	return sign == 0 || v == 0;
}


/* ---------------------------------------------------------------------
 * Rendering helpers
 * ---------------------------------------------------------------------
 */

/* Appends s when rendering; does nothing when only validating. */
static void
emit(EtfCursor *c, const char *s)
{
	if (c->out != NULL)
		appendStringInfoString(c->out, s);
}

/* Appends an unsigned number when rendering. */
static void
emit_uint(EtfCursor *c, uint64 v)
{
	if (c->out != NULL)
		appendStringInfo(c->out, UINT64_FORMAT, v);
}

/* Appends a code point as UTF-8 (the rendering is always UTF-8). */
static void
append_utf8(StringInfo out, uint32 cp)
{
	char		b[4];
	int			n;

	if (cp < 0x80)
	{
		b[0] = (char) cp;
		n = 1;
	}
	else if (cp < 0x800)
	{
		b[0] = (char) (0xC0 | (cp >> 6));
		b[1] = (char) (0x80 | (cp & 0x3F));
		n = 2;
	}
	else if (cp < 0x10000)
	{
		b[0] = (char) (0xE0 | (cp >> 12));
		b[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
		b[2] = (char) (0x80 | (cp & 0x3F));
		n = 3;
	}
	else
	{
		b[0] = (char) (0xF0 | (cp >> 18));
		b[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
		b[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
		b[3] = (char) (0x80 | (cp & 0x3F));
		n = 4;
	}
	appendBinaryStringInfo(out, b, n);
}

/*
 * Whether io_lib (unicode printable range) counts cp as printable in a
 * string: the seven characters with a letter escape, plus everything that
 * is neither a control character nor a non-character.
 */
static bool
is_printable(uint32 cp)
{
	return (cp >= 32 && cp <= 126) ||
		(cp >= 8 && cp <= 13) || cp == 27 ||
		(cp >= 160 && cp <= 0xD7FF) ||
		(cp >= 0xE000 && cp <= 0xFFFD) ||
		(cp >= 0x10000 && cp <= 0x10FFFF);
}

/*
 * Returns the letter of erl's one-letter escape for cp (\b \t \n \v \f \r
 * \e), or 0.
 */
static char
letter_escape(uint32 cp)
{
	switch (cp)
	{
		case 8:
			return 'b';
		case 9:
			return 't';
		case 10:
			return 'n';
		case 11:
			return 'v';
		case 12:
			return 'f';
		case 13:
			return 'r';
		case 27:
			return 'e';
		default:
			return 0;
	}
}

/*
 * Appends one printable character of a "string" or <<"binary">>, escaped
 * as erl does: \" and \\ and the letter escapes; everything else as is.
 */
static void
append_string_char(StringInfo out, uint32 cp)
{
	char		letter = letter_escape(cp);

	if (letter != 0)
	{
		appendStringInfoChar(out, '\\');
		appendStringInfoChar(out, letter);
	}
	else if (cp == '"' || cp == '\\')
	{
		appendStringInfoChar(out, '\\');
		appendStringInfoChar(out, (char) cp);
	}
	else
		append_utf8(out, cp);
}

/*
 * Appends one character of a quoted atom as erl does: \' and \\, letter
 * escapes, \d for DEL, three-digit octal for other control characters
 * (C0 and C1), everything else as is.
 */
static void
append_atom_char(StringInfo out, uint32 cp)
{
	char		letter = letter_escape(cp);

	if (letter != 0)
	{
		appendStringInfoChar(out, '\\');
		appendStringInfoChar(out, letter);
	}
	else if (cp == '\'' || cp == '\\')
	{
		appendStringInfoChar(out, '\\');
		appendStringInfoChar(out, (char) cp);
	}
	else if (cp == 127)
		appendStringInfoString(out, "\\d");
	else if (cp < 32 || (cp >= 128 && cp < 160))
		appendStringInfo(out, "\\%03o", cp);
	else
		append_utf8(out, cp);
}


/* ---------------------------------------------------------------------
 * Atoms
 * ---------------------------------------------------------------------
 */

/* Returns the code point at byte offset *i of an atom and advances *i. */
static uint32
atom_next_char(const EtfAtom *atom, size_t *i)
{
	uint32		cp;

	if (!atom->utf8)
		return atom->text[(*i)++];
	*i += utf8_decode(atom->text + *i, atom->len - *i, &cp);
	return cp;
}

/*
 * Whether cp may appear in an unquoted atom: ASCII letters, digits, _ and
 * @, and the Latin-1 letters (erl prints 'é' bare, as é).
 */
static bool
is_atom_name_char(uint32 cp)
{
	return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
		(cp >= '0' && cp <= '9') || cp == '_' || cp == '@' ||
		(cp >= 192 && cp <= 255 && cp != 215 && cp != 247);
}

/* Whether the atom is one of Erlang's reserved words. */
static bool
is_reserved_word(const EtfAtom *atom)
{
	size_t		i;

	for (i = 0; i < lengthof(reserved_words); i++)
	{
		if (strlen(reserved_words[i]) == atom->len &&
			memcmp(reserved_words[i], atom->text, atom->len) == 0)
			return true;
	}
	return false;
}

/*
 * Whether erl quotes the atom: unless it starts with a lower-case letter
 * (ASCII or Latin-1), continues with name characters and is not a reserved
 * word.
 */
static bool
atom_needs_quotes(const EtfAtom *atom)
{
	size_t		i = 0;
	uint32		cp;

	if (atom->len == 0)
		return true;
	cp = atom_next_char(atom, &i);
	if (!((cp >= 'a' && cp <= 'z') || (cp >= 223 && cp <= 255 && cp != 247)))
		return true;
	while (i < atom->len)
	{
		if (!is_atom_name_char(atom_next_char(atom, &i)))
			return true;
	}
	return is_reserved_word(atom);
}

/* Appends an atom, bare or single-quoted with escapes. */
static void
render_atom(StringInfo out, const EtfAtom *atom)
{
	size_t		i = 0;

	if (!atom_needs_quotes(atom))
	{
		while (i < atom->len)
			append_utf8(out, atom_next_char(atom, &i));
		return;
	}
	appendStringInfoChar(out, '\'');
	while (i < atom->len)
		append_atom_char(out, atom_next_char(atom, &i));
	appendStringInfoChar(out, '\'');
}

/* ATOM_EXT, SMALL_ATOM_EXT, ATOM_UTF8_EXT, SMALL_ATOM_UTF8_EXT. */
static EtfStatus
walk_atom(EtfCursor *c)
{
	EtfAtom		atom;

	TRY(read_atom(c, &atom));
	if (c->out != NULL)
		render_atom(c->out, &atom);
	return ETF_OK;
}


/* ---------------------------------------------------------------------
 * Numbers
 * ---------------------------------------------------------------------
 */

/* SMALL_INTEGER_EXT (unsigned byte) and INTEGER_EXT (signed 32 bits). */
static EtfStatus
walk_integer(EtfCursor *c)
{
	uint64		tag;
	uint64		v;

	TRY(read_uint(c, 1, &tag));
	TRY(read_uint(c, tag == ETF_SMALL_INTEGER_EXT ? 1 : 4, &v));
	if (c->out == NULL)
		return ETF_OK;
	if (tag == ETF_SMALL_INTEGER_EXT)
		appendStringInfo(c->out, "%d", (int) v);
	else
		appendStringInfo(c->out, "%d", (int) (int32) (uint32) v);
	return ETF_OK;
}

/*
 * Appends the magnitude digits[0..n) (little-endian base 256, no high zero
 * bytes, n > 8) in decimal.  Schoolbook conversion to base 10^9 limbs:
 * quadratic, hence the ETF_BIG_DECIMAL_MAX limit in the caller.
 */
static void
render_big_decimal(StringInfo out, const uint8 *digits, size_t n)
{
	/* 256^n < 10^(2.41 n): n * 0.27 limbs of 9 digits are enough */
	size_t		maxlimbs = n * 27 / 100 + 2;
	uint32	   *limbs = palloc(maxlimbs * sizeof(uint32));
	size_t		used = 0;
	size_t		i;
	size_t		j;

	for (i = n; i > 0; i--)
	{
		uint64		carry = digits[i - 1];

		if ((i & 255) == 0)
			ETF_CHECK_INTERRUPTS();
		for (j = 0; j < used; j++)
		{
			uint64		t = (uint64) limbs[j] * 256 + carry;

			limbs[j] = (uint32) (t % 1000000000);
			carry = t / 1000000000;
		}
		while (carry != 0)
		{
			limbs[used++] = (uint32) (carry % 1000000000);
			carry /= 1000000000;
		}
	}
	appendStringInfo(out, "%u", limbs[used - 1]);
	for (j = used - 1; j > 0; j--)
		appendStringInfo(out, "%09u", limbs[j - 1]);
	pfree(limbs);
}

/*
 * Appends a bignum given as sign and little-endian magnitude.  Values that
 * fit in 64 bits print directly, longer ones in decimal while *decimal_left
 * (the term's budget, see ETF_BIG_DECIMAL_MAX) allows, the rest as -16#HEX
 * (valid Erlang, where erl would print decimal) to keep the rendering
 * linear on hostile input.
 * Non-canonical forms (high zero bytes, negative zero) print by value,
 * as binary_to_term normalises them.
 */
static void
render_big(StringInfo out, bool negative, const uint8 *digits, size_t n,
		   size_t *decimal_left)
{
	uint64		v = 0;
	size_t		i;

	while (n > 0 && digits[n - 1] == 0)
		n--;
	if (n == 0)
	{
		appendStringInfoChar(out, '0');
		return;
	}
	if (negative)
		appendStringInfoChar(out, '-');
	if (n <= 8)
	{
		for (i = n; i > 0; i--)
			v = (v << 8) | digits[i - 1];
		appendStringInfo(out, UINT64_FORMAT, v);
	}
	else if (n <= *decimal_left)
	{
		*decimal_left -= n;
		render_big_decimal(out, digits, n);
	}
	else
	{
		appendStringInfoString(out, "16#");
		appendStringInfo(out, "%X", digits[n - 1]);
		for (i = n - 1; i > 0; i--)
			appendStringInfo(out, "%02X", digits[i - 1]);
	}
}

/*
 * SMALL_BIG_EXT and LARGE_BIG_EXT: digit count, sign byte (any non-zero
 * value means negative, as in binary_to_term), little-endian digits.
 */
static EtfStatus
walk_big(EtfCursor *c)
{
	uint64		tag;
	uint64		n;
	uint64		sign;
	const uint8 *digits;

	TRY(read_uint(c, 1, &tag));
	TRY(read_count(c, tag == ETF_SMALL_BIG_EXT ? 1 : 4, 1, 1, &n));
	TRY(read_uint(c, 1, &sign));
	TRY(read_bytes(c, n, &digits));
	if (c->out != NULL)
		render_big(c->out, sign != 0, digits, n, &c->decimal_left);
	return ETF_OK;
}

/*
 * Splits the decimal number in s (digits, optional '.', optional exponent,
 * no sign) into significant digits without leading or trailing zeros and
 * a point position: the value is 0.DIGITS * 10^*point.  Returns the digit
 * count (0 for zero).
 */
static int
split_decimal(const char *s, char *digits, int *point)
{
	int			ndigits = 0;
	int			intdigits = 0;
	bool		seen_dot = false;
	bool		seen_nonzero = false;

	for (; *s != '\0' && *s != 'e' && *s != 'E'; s++)
	{
		if (*s == '.')
		{
			seen_dot = true;
			continue;
		}
		if (!seen_dot)
			intdigits++;
		if (*s == '0' && !seen_nonzero)
		{
			intdigits--;		/* a leading zero moves the point left */
			continue;
		}
		seen_nonzero = true;
		digits[ndigits++] = *s;
	}
	while (ndigits > 0 && digits[ndigits - 1] == '0')
		ndigits--;
	digits[ndigits] = '\0';
	*point = intdigits + (*s != '\0' ? atoi(s + 1) : 0);
	return ndigits;
}

/*
 * Finds the shortest decimal digits that read back as d (d > 0, finite):
 * the first precision whose correctly rounded %e form round-trips.  This
 * gives the same digits as the shortest round-trip algorithm OTP uses.
 */
static int
shortest_digits(double d, char *digits, int *point)
{
	char		buf[64];
	int			prec;

	for (prec = 1; prec < 17; prec++)
	{
		snprintf(buf, sizeof(buf), "%.*e", prec - 1, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (prec == 17)
		snprintf(buf, sizeof(buf), "%.16e", d);
	return split_decimal(buf, digits, point);
}

/*
 * Appends the number 0.DIGITS * 10^point in scientific notation as erl
 * writes it: one digit, a point, at least one more digit, e, exponent.
 */
static void
append_scientific(StringInfo out, const char *digits, int n, int point)
{
	appendStringInfoChar(out, digits[0]);
	appendStringInfoChar(out, '.');
	appendStringInfoString(out, n > 1 ? digits + 1 : "0");
	appendStringInfo(out, "e%d", point - 1);
}

/*
 * Appends the number 0.DIGITS * 10^point in plain notation, always with
 * a fractional part: 0.001, 1.5, 100.0.
 */
static void
append_plain(StringInfo out, const char *digits, int n, int point)
{
	if (point <= 0)
	{
		appendStringInfoString(out, "0.");
		for (; point < 0; point++)
			appendStringInfoChar(out, '0');
		appendStringInfoString(out, digits);
	}
	else if (point < n)
	{
		appendBinaryStringInfo(out, digits, point);
		appendStringInfoChar(out, '.');
		appendStringInfoString(out, digits + point);
	}
	else
	{
		appendStringInfoString(out, digits);
		for (; point > n; point--)
			appendStringInfoChar(out, '0');
		appendStringInfoString(out, ".0");
	}
}

/*
 * Appends a finite double as erl's ~p does (io_lib_format:fwrite_g/1 in
 * OTP 25): shortest round-trip digits, in plain notation when that is no
 * longer than scientific notation and the magnitude is below 2^53, else
 * in scientific notation.  So 100.0, 0.0001, 123456789.0 but 1.0e3,
 * 1.0e-5, 9.007199254740992e15.  Checked against erl for several hundred
 * values, random ones included, by the unit tests.
 */
static void
render_double(StringInfo out, double d)
{
	char		digits[32];
	char		exponent[16];
	int			point;
	int			n;
	int			plain_len;
	int			sci_len;

	if (signbit(d))
		appendStringInfoChar(out, '-');
	d = fabs(d);
	if (d == 0.0)
	{
		appendStringInfoString(out, "0.0");
		return;
	}
	n = shortest_digits(d, digits, &point);
	sci_len = n + (n == 1 ? 2 : 1) +
		snprintf(exponent, sizeof(exponent), "e%d", point - 1);
	if (point <= 0)
		plain_len = 2 - point + n;
	else
		plain_len = point < n ? n + 1 : point + 2;
	if (d < ETF_FLOAT_PLAIN_LIMIT && plain_len <= sci_len)
		append_plain(out, digits, n, point);
	else
		append_scientific(out, digits, n, point);
}

/* NEW_FLOAT_EXT: a big-endian IEEE double.  Like erl, refuses NaN and Inf. */
static EtfStatus
walk_new_float(EtfCursor *c)
{
	uint64		bits;
	double		d;

	c->pos++;
	TRY(read_uint(c, 8, &bits));
	memcpy(&d, &bits, sizeof(d));
	if (isnan(d) || isinf(d))
		return ETF_BAD_VALUE;
	if (c->out != NULL)
		render_double(c->out, d);
	return ETF_OK;
}

/*
 * Whether s matches the number syntax binary_to_term accepts in an old
 * FLOAT_EXT: [+-]digits(.|,)digits([eE][+-]digits), nothing else.
 */
static bool
old_float_syntax_ok(const char *s)
{
	const char *start;

	if (*s == '+' || *s == '-')
		s++;
	for (start = s; *s >= '0' && *s <= '9'; s++)
		;
	if (s == start || (*s != '.' && *s != ','))
		return false;
	for (start = ++s; *s >= '0' && *s <= '9'; s++)
		;
	if (s == start)
		return false;
	if (*s == 'e' || *s == 'E')
	{
		s++;
		if (*s == '+' || *s == '-')
			s++;
		for (start = s; *s >= '0' && *s <= '9'; s++)
			;
		if (s == start)
			return false;
	}
	return *s == '\0';
}

/*
 * FLOAT_EXT (pre-R12 floats): 31 bytes of "%.20e" text, NUL-padded; the
 * text ends at the first NUL.  Checked as binary_to_term does (syntax and
 * finite value; ',' is accepted as the decimal point) and rendered through
 * its value.
 */
static EtfStatus
walk_old_float(EtfCursor *c)
{
	const uint8 *raw;
	char		text[ETF_OLD_FLOAT_LEN + 1];
	char	   *comma;
	double		d;

	c->pos++;
	TRY(read_bytes(c, ETF_OLD_FLOAT_LEN, &raw));
	memcpy(text, raw, ETF_OLD_FLOAT_LEN);
	text[ETF_OLD_FLOAT_LEN] = '\0';
	if (!old_float_syntax_ok(text))
		return ETF_BAD_VALUE;
	comma = strchr(text, ',');
	if (comma != NULL)
		*comma = '.';
	d = strtod(text, NULL);
	if (isinf(d))
		return ETF_BAD_VALUE;
	if (c->out != NULL)
		render_double(c->out, d);
	return ETF_OK;
}


/* ---------------------------------------------------------------------
 * Containers
 * ---------------------------------------------------------------------
 */

/* SMALL_TUPLE_EXT and LARGE_TUPLE_EXT: {A,B,...}. */
static EtfStatus
walk_tuple(EtfCursor *c, int depth)
{
	uint64		tag;
	uint64		arity;
	uint64		i;

	TRY(read_uint(c, 1, &tag));
	TRY(read_count(c, tag == ETF_SMALL_TUPLE_EXT ? 1 : 4, 1, 0, &arity));
	emit(c, "{");
	for (i = 0; i < arity; i++)
	{
		if (i > 0)
			emit(c, ",");
		TRY(walk_term(c, depth + 1));
	}
	emit(c, "}");
	return ETF_OK;
}

/*
 * MAP_EXT: #{K => V,...}, in the order the pairs are encoded (which is
 * term order for maps of up to 32 keys, as erl prints them).  Duplicate
 * keys, which binary_to_term refuses, are not detected: that would need a
 * full term comparison.
 */
static EtfStatus
walk_map(EtfCursor *c, int depth)
{
	uint64		arity;
	uint64		i;

	c->pos++;
	TRY(read_count(c, 4, 2, 0, &arity));
	emit(c, "#{");
	for (i = 0; i < arity; i++)
	{
		if (i > 0)
			emit(c, ",");
		TRY(walk_term(c, depth + 1));
		emit(c, " => ");
		TRY(walk_term(c, depth + 1));
	}
	emit(c, "}");
	return ETF_OK;
}

/*
 * Whether the list at the cursor is a non-empty proper list of printable
 * code points, which erl prints as a "string".  A list on the wire is a
 * chain: LIST_EXT segments whose tail may be another LIST_EXT, or a
 * STRING_EXT or NIL ending it; term_to_binary writes one segment, but
 * hostile input may not.  Reads on a copy of the cursor, integers only,
 * and stops at the first element that is not a printable character.
 */
static bool
list_is_printable(const EtfCursor *start)
{
	EtfCursor	c = *start;
	uint64		count = 0;
	uint64		n;
	uint64		i;
	uint64		tag;
	const uint8 *bytes;
	uint32		cp;

	for (;;)
	{
		if (read_uint(&c, 1, &tag) != ETF_OK)
			return false;
		if (tag == ETF_NIL_EXT)
			return count > 0;
		if (tag == ETF_STRING_EXT)
		{
			if (read_uint(&c, 2, &n) != ETF_OK ||
				read_bytes(&c, n, &bytes) != ETF_OK)
				return false;
			for (i = 0; i < n; i++)
			{
				if (!is_printable(bytes[i]))
					return false;
			}
			return count + n > 0;
		}
		if (tag != ETF_LIST_EXT || read_uint(&c, 4, &n) != ETF_OK)
			return false;
		for (i = 0; i < n; i++, count++)
		{
			if (!read_char_code(&c, &cp) || !is_printable(cp))
				return false;
		}
	}
}

/*
 * Renders the list at the cursor as a "string"; list_is_printable() has
 * checked it, so the reads here cannot fail, but they are checked anyway.
 */
static EtfStatus
render_string_chain(EtfCursor *c)
{
	uint64		tag;
	uint64		n;
	uint64		i;
	const uint8 *bytes;
	uint32		cp;

	appendStringInfoChar(c->out, '"');
	for (;;)
	{
		TRY(read_uint(c, 1, &tag));
		if (tag == ETF_NIL_EXT)
			break;
		if (tag == ETF_STRING_EXT)
		{
			TRY(read_uint(c, 2, &n));
			TRY(read_bytes(c, n, &bytes));
			for (i = 0; i < n; i++)
				append_string_char(c->out, bytes[i]);
			break;
		}
		TRY(read_uint(c, 4, &n));
		for (i = 0; i < n; i++)
		{
			if (!read_char_code(c, &cp))
				return ETF_BAD_VALUE;
			append_string_char(c->out, cp);
		}
	}
	appendStringInfoChar(c->out, '"');
	return ETF_OK;
}

/*
 * Appends the separator before a list element: "[" before the first one,
 * "," before the others.
 */
static void
emit_list_separator(EtfCursor *c, uint64 *count)
{
	emit(c, *count == 0 ? "[" : ",");
	(*count)++;
}

/*
 * Walks a list chain (see list_is_printable) element by element: [1,2],
 * [a|b], or [] when it has no elements.  A chain with no elements and an
 * improper tail is just its tail, and is printed as such.  Tails that are
 * lists continue the loop instead of recursing, so long chains cost no
 * depth.
 */
static EtfStatus
walk_list_chain(EtfCursor *c, int depth)
{
	uint64		count = 0;
	uint64		tag;
	uint64		n;
	uint64		i;
	const uint8 *bytes;

	for (;;)
	{
		if (remaining(c) == 0)
			return ETF_TRUNCATED;
		tag = c->buf[c->pos];
		if (tag == ETF_NIL_EXT)
		{
			c->pos++;
			break;
		}
		if (tag == ETF_STRING_EXT)
		{
			c->pos++;
			TRY(read_uint(c, 2, &n));
			TRY(read_bytes(c, n, &bytes));
			for (i = 0; i < n; i++)
			{
				emit_list_separator(c, &count);
				emit_uint(c, bytes[i]);
			}
			break;
		}
		if (tag != ETF_LIST_EXT)
		{
			if (count == 0)
				return walk_term(c, depth + 1);
			emit(c, "|");
			TRY(walk_term(c, depth + 1));
			break;
		}
		c->pos++;
		TRY(read_count(c, 4, 1, 1, &n));
		for (i = 0; i < n; i++)
		{
			emit_list_separator(c, &count);
			TRY(walk_term(c, depth + 1));
		}
	}
	emit(c, count == 0 ? "[]" : "]");
	return ETF_OK;
}

/* NIL_EXT, STRING_EXT and LIST_EXT: a "string" if printable, else a list. */
static EtfStatus
walk_list(EtfCursor *c, int depth)
{
	if (c->out != NULL && list_is_printable(c))
		return render_string_chain(c);
	return walk_list_chain(c, depth);
}


/* ---------------------------------------------------------------------
 * Binaries
 * ---------------------------------------------------------------------
 */

/*
 * Decides how erl (unicode printable range) shows a binary: as a UTF-8
 * string if it is valid UTF-8 with printable characters only, some of them
 * non-ASCII; as a Latin-1 string if it is printable ASCII, or not valid
 * UTF-8 but printable Latin-1; otherwise as bytes.  Valid UTF-8 with a
 * non-printable character is shown as bytes, never as Latin-1.  The empty
 * binary is "bytes" too: <<>>.
 */
static EtfBinaryKind
classify_binary(const uint8 *p, size_t n)
{
	size_t		i;
	int			clen;
	uint32		cp;
	bool		ascii = true;

	if (n == 0)
		return ETF_BIN_BYTES;
	for (i = 0; i < n; i += clen)
	{
		clen = utf8_decode(p + i, n - i, &cp);
		if (clen == 0)
			break;
		if (!is_printable(cp))
			return ETF_BIN_BYTES;
		if (cp >= 0x80)
			ascii = false;
	}
	if (i == n)
		return ascii ? ETF_BIN_LATIN1 : ETF_BIN_UTF8;
	for (i = 0; i < n; i++)
	{
		if (!is_printable(p[i]))
			return ETF_BIN_BYTES;
	}
	return ETF_BIN_LATIN1;
}

/*
 * Appends the whole bytes of a binary, plus a trailing partial byte of
 * tailbits bits (1..7) if tailbits is not 0: <<"text">>,
 * <<"héllo"/utf8>>, <<1,2,3>>, <<97,1:3>>, <<>>.
 */
static void
render_binary(StringInfo out, const uint8 *p, size_t n, int tailbits)
{
	EtfBinaryKind kind = tailbits ? ETF_BIN_BYTES : classify_binary(p, n);
	size_t		whole = tailbits ? n - 1 : n;
	size_t		i;
	uint32		cp;

	appendStringInfoString(out, "<<");
	if (kind == ETF_BIN_BYTES)
	{
		for (i = 0; i < whole; i++)
		{
			if (i > 0)
				appendStringInfoChar(out, ',');
			appendStringInfo(out, "%u", p[i]);
		}
		if (tailbits)
		{
			if (whole > 0)
				appendStringInfoChar(out, ',');
			appendStringInfo(out, "%u:%d", p[whole] >> (8 - tailbits),
							 tailbits);
		}
	}
	else
	{
		appendStringInfoChar(out, '"');
		for (i = 0; i < n;)
		{
			if (kind == ETF_BIN_UTF8)
				i += utf8_decode(p + i, n - i, &cp);
			else
				cp = p[i++];
			append_string_char(out, cp);
		}
		appendStringInfoString(out, kind == ETF_BIN_UTF8 ? "\"/utf8" : "\"");
	}
	appendStringInfoString(out, ">>");
}

/* BINARY_EXT: a 32-bit length and the bytes. */
static EtfStatus
walk_binary(EtfCursor *c)
{
	uint64		len;
	const uint8 *bytes;

	c->pos++;
	TRY(read_uint(c, 4, &len));
	TRY(read_bytes(c, len, &bytes));
	if (c->out != NULL)
		render_binary(c->out, bytes, len, 0);
	return ETF_OK;
}

/*
 * BIT_BINARY_EXT: length, number of used bits (1..8) in the last byte,
 * bytes.  As in binary_to_term, an empty one must say 0 bits and only an
 * empty one may; unused low bits are ignored; 8 bits is a plain binary.
 */
static EtfStatus
walk_bit_binary(EtfCursor *c)
{
	uint64		len;
	uint64		bits;
	const uint8 *bytes;

	c->pos++;
	TRY(read_uint(c, 4, &len));
	TRY(read_uint(c, 1, &bits));
	TRY(read_bytes(c, len, &bytes));
	if ((len == 0) != (bits == 0) || bits > 8)
		return ETF_BAD_VALUE;
	if (c->out != NULL)
		render_binary(c->out, bytes, len, bits == 8 ? 0 : (int) bits);
	return ETF_OK;
}


/* ---------------------------------------------------------------------
 * Pids, ports, references and funs
 *
 * erl prints these relative to the local node (<0.84.0>, #Port<0.5>,
 * #Ref<0.1.2.3>, where 0 is "this node" and other nodes get a number
 * private to the runtime), which cannot be reproduced here.  We print the
 * node name instead, as an atom (quoted when needed), then the numbers the
 * way erl orders them: #Pid<node@host.84.0>, #Port<node@host.5>,
 * #Ref<'kazoo@apps.example.com'.3.2.1>.  The creation number is left out,
 * as erl does.  Funs and exports have no node-relative part, so they are
 * printed as erl does.
 * ---------------------------------------------------------------------
 */

/* Appends "#Kind<" and the node atom. */
static void
emit_node(EtfCursor *c, const char *kind, const EtfAtom *node)
{
	if (c->out == NULL)
		return;
	appendStringInfo(c->out, "#%s<", kind);
	render_atom(c->out, node);
}

/* PID_EXT and NEW_PID_EXT: node, id, serial, creation (1 or 4 bytes). */
static EtfStatus
walk_pid(EtfCursor *c)
{
	uint64		tag;
	EtfAtom		node;
	uint64		id;
	uint64		serial;
	uint64		creation;

	TRY(read_uint(c, 1, &tag));
	TRY(read_atom(c, &node));
	TRY(read_uint(c, 4, &id));
	TRY(read_uint(c, 4, &serial));
	TRY(read_uint(c, tag == ETF_PID_EXT ? 1 : 4, &creation));
	emit_node(c, "Pid", &node);
	emit(c, ".");
	emit_uint(c, id);
	emit(c, ".");
	emit_uint(c, serial);
	emit(c, ">");
	return ETF_OK;
}

/*
 * PORT_EXT, NEW_PORT_EXT and V4_PORT_EXT: node, id (4 or 8 bytes),
 * creation (1 or 4 bytes).
 */
static EtfStatus
walk_port(EtfCursor *c)
{
	uint64		tag;
	EtfAtom		node;
	uint64		id;
	uint64		creation;

	TRY(read_uint(c, 1, &tag));
	TRY(read_atom(c, &node));
	TRY(read_uint(c, tag == ETF_V4_PORT_EXT ? 8 : 4, &id));
	TRY(read_uint(c, tag == ETF_PORT_EXT ? 1 : 4, &creation));
	emit_node(c, "Port", &node);
	emit(c, ".");
	emit_uint(c, id);
	emit(c, ">");
	return ETF_OK;
}

/*
 * REFERENCE_EXT (node, one id word, creation byte), NEW_REFERENCE_EXT and
 * NEWER_REFERENCE_EXT (word count up to 5, node, creation of 1 or 4 bytes,
 * id words).  The words are printed last first, as erl does.
 */
static EtfStatus
walk_reference(EtfCursor *c)
{
	uint64		tag;
	uint64		nwords = 1;
	EtfAtom		node;
	uint64		creation;
	const uint8 *words;
	uint64		i;

	TRY(read_uint(c, 1, &tag));
	if (tag != ETF_REFERENCE_EXT)
	{
		TRY(read_uint(c, 2, &nwords));
		if (nwords > ETF_MAX_REF_WORDS)
			return ETF_BAD_VALUE;
	}
	TRY(read_atom(c, &node));
	if (tag == ETF_REFERENCE_EXT)
		TRY(read_bytes(c, 4, &words));
	TRY(read_uint(c, tag == ETF_NEWER_REFERENCE_EXT ? 4 : 1, &creation));
	if (tag != ETF_REFERENCE_EXT)
		TRY(read_bytes(c, nwords * 4, &words));
	emit_node(c, "Ref", &node);
	for (i = nwords; i > 0; i--)
	{
		const uint8 *w = words + (i - 1) * 4;

		emit(c, ".");
		emit_uint(c, ((uint32) w[0] << 24) | ((uint32) w[1] << 16) |
				  ((uint32) w[2] << 8) | w[3]);
	}
	emit(c, ">");
	return ETF_OK;
}

/*
 * Reads a SMALL_INTEGER_EXT or non-negative INTEGER_EXT, the encodings of
 * the small numbers inside funs.
 */
static EtfStatus
read_fun_number(EtfCursor *c, uint64 *value)
{
	uint64		tag;

	TRY(read_uint(c, 1, &tag));
	if (tag != ETF_SMALL_INTEGER_EXT && tag != ETF_INTEGER_EXT)
		return ETF_BAD_VALUE;
	TRY(read_uint(c, tag == ETF_SMALL_INTEGER_EXT ? 1 : 4, value));
	if (*value > PG_INT32_MAX)
		return ETF_BAD_VALUE;
	return ETF_OK;
}

/*
 * Validates the term at the cursor without rendering it, for the parts
 * of a fun that erl does not print either.
 */
static EtfStatus
walk_silently(EtfCursor *c, int depth)
{
	StringInfo	out = c->out;
	EtfStatus	status;

	c->out = NULL;
	status = walk_term(c, depth);
	c->out = out;
	return status;
}

/*
 * NEW_FUN_EXT: size, arity, uniq (16 bytes), index, free variable count,
 * module, old index, old uniq, creator pid, free variables.  The size
 * field is ignored, as binary_to_term ignores it.  Printed like erl:
 * #Fun<Module.OldIndex.OldUniq>, except that a module needing quotes is
 * quoted (erl prints it raw).
 */
static EtfStatus
walk_fun(EtfCursor *c, int depth)
{
	const uint8 *fixed;
	uint64		nfree;
	EtfAtom		module;
	uint64		old_index;
	uint64		old_uniq;
	uint64		i;

	c->pos++;
	TRY(read_bytes(c, 4 + 1 + 16 + 4, &fixed));
	TRY(read_count(c, 4, 1, 0, &nfree));
	TRY(read_atom(c, &module));
	TRY(read_fun_number(c, &old_index));
	TRY(read_fun_number(c, &old_uniq));
	if (remaining(c) == 0)
		return ETF_TRUNCATED;
	if (c->buf[c->pos] != ETF_PID_EXT && c->buf[c->pos] != ETF_NEW_PID_EXT)
		return ETF_BAD_VALUE;
	/* the creator pid and the free variables are checked, not printed */
	TRY(walk_silently(c, depth + 1));
	for (i = 0; i < nfree; i++)
		TRY(walk_silently(c, depth + 1));
	if (c->out != NULL)
	{
		appendStringInfoString(c->out, "#Fun<");
		render_atom(c->out, &module);
		appendStringInfo(c->out, "." UINT64_FORMAT "." UINT64_FORMAT ">",
						 old_index, old_uniq);
	}
	return ETF_OK;
}

/*
 * EXPORT_EXT: module, function, arity; printed like erl, fun M:F/A.
 * (erl's own atom quoting here has quirks, e.g. it leaves reserved words
 * bare; we quote as everywhere else.)
 */
static EtfStatus
walk_export(EtfCursor *c)
{
	EtfAtom		module;
	EtfAtom		function;
	uint64		arity;

	c->pos++;
	TRY(read_atom(c, &module));
	TRY(read_atom(c, &function));
	TRY(read_fun_number(c, &arity));
	if (c->out != NULL)
	{
		appendStringInfoString(c->out, "fun ");
		render_atom(c->out, &module);
		appendStringInfoChar(c->out, ':');
		render_atom(c->out, &function);
		appendStringInfo(c->out, "/" UINT64_FORMAT, arity);
	}
	return ETF_OK;
}


/* ---------------------------------------------------------------------
 * The walker
 * ---------------------------------------------------------------------
 */

/*
 * Validates (and renders, if c->out is set) the term at the cursor,
 * dispatching on its tag.  depth counts the enclosing containers.  Each
 * walk_* function steps over its own tag.
 */
static EtfStatus
walk_term(EtfCursor *c, int depth)
{
	if (depth > ETF_MAX_DEPTH)
		return ETF_TOO_DEEP;
	if (remaining(c) == 0)
		return ETF_TRUNCATED;
	switch (c->buf[c->pos])
	{
		case ETF_SMALL_INTEGER_EXT:
		case ETF_INTEGER_EXT:
			return walk_integer(c);
		case ETF_SMALL_BIG_EXT:
		case ETF_LARGE_BIG_EXT:
			return walk_big(c);
		case ETF_NEW_FLOAT_EXT:
			return walk_new_float(c);
		case ETF_FLOAT_EXT:
			return walk_old_float(c);
		case ETF_ATOM_EXT:
		case ETF_SMALL_ATOM_EXT:
		case ETF_ATOM_UTF8_EXT:
		case ETF_SMALL_ATOM_UTF8_EXT:
			return walk_atom(c);
		case ETF_SMALL_TUPLE_EXT:
		case ETF_LARGE_TUPLE_EXT:
			return walk_tuple(c, depth);
		case ETF_NIL_EXT:
		case ETF_STRING_EXT:
		case ETF_LIST_EXT:
			return walk_list(c, depth);
		case ETF_MAP_EXT:
			return walk_map(c, depth);
		case ETF_BINARY_EXT:
			return walk_binary(c);
		case ETF_BIT_BINARY_EXT:
			return walk_bit_binary(c);
		case ETF_PID_EXT:
		case ETF_NEW_PID_EXT:
			return walk_pid(c);
		case ETF_PORT_EXT:
		case ETF_NEW_PORT_EXT:
		case ETF_V4_PORT_EXT:
			return walk_port(c);
		case ETF_REFERENCE_EXT:
		case ETF_NEW_REFERENCE_EXT:
		case ETF_NEWER_REFERENCE_EXT:
			return walk_reference(c);
		case ETF_NEW_FUN_EXT:
			return walk_fun(c, depth);
		case ETF_EXPORT_EXT:
			return walk_export(c);
		default:
			/* includes COMPRESSED, ATOM_CACHE_REF, LOCAL_EXT, FUN_EXT */
			return ETF_BAD_TAG;
	}
}

/* Checks (and renders into out, unless NULL) a whole term buffer. */
static EtfStatus
walk_buffer(const uint8 *buf, size_t len, StringInfo out)
{
	EtfCursor	c;

	if (len == 0)
		return ETF_EMPTY;
	if (buf[0] != ETF_VERSION)
		return ETF_BAD_VERSION;
	c.buf = buf;
	c.len = len;
	c.pos = 1;
	c.out = out;
	c.decimal_left = ETF_BIG_DECIMAL_MAX;
	TRY(walk_term(&c, 0));
	return c.pos == len ? ETF_OK : ETF_TRAILING;
}


/* ---------------------------------------------------------------------
 * Public functions
 * ---------------------------------------------------------------------
 */

/* Short English description of a status, for logs. */
const char *
etf_status_string(EtfStatus status)
{
	switch (status)
	{
		case ETF_OK:
			return "ok";
		case ETF_EMPTY:
			return "empty term buffer";
		case ETF_BAD_VERSION:
			return "term buffer does not start with version 131";
		case ETF_TRUNCATED:
			return "term buffer ends inside a term";
		case ETF_TRAILING:
			return "bytes left after the term";
		case ETF_BAD_TAG:
			return "unknown or unsupported term tag";
		case ETF_BAD_VALUE:
			return "malformed term contents";
		case ETF_TOO_DEEP:
			return "term nested too deeply";
	}
	return "unknown status";
}

/* Checks that buf[0..len) is exactly one well-formed term buffer. */
EtfStatus
etf_validate(const uint8 *buf, size_t len)
{
	return walk_buffer(buf, len, NULL);
}

/* Appends the Erlang syntax of a term buffer to out (see etf.h). */
EtfStatus
etf_render(const uint8 *buf, size_t len, StringInfo out)
{
	return walk_buffer(buf, len, out);
}

/* Appends value as an nbytes-long big-endian unsigned integer. */
static void
append_be(StringInfo out, uint64 value, int nbytes)
{
	char		b[8];
	int			i;

	for (i = nbytes - 1; i >= 0; i--)
	{
		b[i] = (char) (value & 0xFF);
		value >>= 8;
	}
	appendBinaryStringInfo(out, b, nbytes);
}

/* Appends the version byte that starts every term buffer. */
void
etf_put_version(StringInfo out)
{
	appendStringInfoChar(out, (char) ETF_VERSION);
}

/* Appends a BINARY_EXT holding data[0..len). */
void
etf_put_binary(StringInfo out, const char *data, size_t len)
{
	Assert(len <= PG_UINT32_MAX);
	appendStringInfoChar(out, (char) ETF_BINARY_EXT);
	append_be(out, len, 4);
	appendBinaryStringInfo(out, data, len);
}

/*
 * Appends an atom whose name is name[0..len), which must be UTF-8 of at
 * most 255 characters for Erlang to accept it: SMALL_ATOM_UTF8_EXT, or
 * ATOM_UTF8_EXT when the name is over 255 bytes.
 */
void
etf_put_atom(StringInfo out, const char *name, size_t len)
{
	if (len <= 255)
	{
		appendStringInfoChar(out, (char) ETF_SMALL_ATOM_UTF8_EXT);
		append_be(out, len, 1);
	}
	else
	{
		Assert(len <= PG_UINT16_MAX);
		appendStringInfoChar(out, (char) ETF_ATOM_UTF8_EXT);
		append_be(out, len, 2);
	}
	appendBinaryStringInfo(out, name, len);
}

/*
 * Appends an atom as ATOM_EXT: a 2-byte length and Latin-1 bytes.  OTP 25's
 * term_to_binary/1 writes atoms this way (OTP 26 switched to
 * SMALL_ATOM_UTF8_EXT); Kazoo nodes on OTP 25 compare what we write with
 * what they wrote, so where Kazoo writes an atom we write it as they do.
 */
void
etf_put_atom_latin1(StringInfo out, const char *name, size_t len)
{
	Assert(len <= 255);
	appendStringInfoChar(out, (char) ETF_ATOM_EXT);
	append_be(out, len, 2);
	appendBinaryStringInfo(out, name, len);
}

/*
 * Appends an integer as term_to_binary does: SMALL_INTEGER_EXT for 0..255,
 * INTEGER_EXT for the rest of the 32-bit range, else SMALL_BIG_EXT with as
 * few digit bytes as needed.
 */
void
etf_put_integer(StringInfo out, int64 value)
{
	uint64		magnitude;
	int			n = 0;
	char		digits[8];

	if (value >= 0 && value <= 255)
	{
		appendStringInfoChar(out, (char) ETF_SMALL_INTEGER_EXT);
		append_be(out, (uint64) value, 1);
		return;
	}
	if (value >= PG_INT32_MIN && value <= PG_INT32_MAX)
	{
		appendStringInfoChar(out, (char) ETF_INTEGER_EXT);
		append_be(out, (uint32) (int32) value, 4);
		return;
	}
	/* negate via value + 1 so that PG_INT64_MIN does not overflow */
	magnitude = value < 0 ? (uint64) (-(value + 1)) + 1 : (uint64) value;
	while (magnitude != 0)
	{
		digits[n++] = (char) (magnitude & 0xFF);
		magnitude >>= 8;
	}
	appendStringInfoChar(out, (char) ETF_SMALL_BIG_EXT);
	append_be(out, n, 1);
	appendStringInfoChar(out, value < 0 ? 1 : 0);
	appendBinaryStringInfo(out, digits, n);
}

/*
 * Appends a tuple header (SMALL_TUPLE_EXT up to 255 elements, else
 * LARGE_TUPLE_EXT); the caller appends the arity elements.
 */
void
etf_put_tuple_header(StringInfo out, uint32 arity)
{
	if (arity <= 255)
	{
		appendStringInfoChar(out, (char) ETF_SMALL_TUPLE_EXT);
		append_be(out, arity, 1);
	}
	else
	{
		appendStringInfoChar(out, (char) ETF_LARGE_TUPLE_EXT);
		append_be(out, arity, 4);
	}
}

/*
 * Appends a LIST_EXT header; the caller appends the length elements and
 * then the tail (etf_put_nil for a proper list).
 */
void
etf_put_list_header(StringInfo out, uint32 length)
{
	appendStringInfoChar(out, (char) ETF_LIST_EXT);
	append_be(out, length, 4);
}

/* Appends NIL_EXT, the empty list. */
void
etf_put_nil(StringInfo out)
{
	appendStringInfoChar(out, (char) ETF_NIL_EXT);
}

/* Appends a whole term buffer holding the binary data[0..len). */
void
etf_encode_binary(StringInfo out, const char *data, size_t len)
{
	etf_put_version(out);
	etf_put_binary(out, data, len);
}

size_t
etf_binary_prefix(uint8 *out, size_t len)
{
	Assert(len <= PG_UINT32_MAX);
	out[0] = ETF_VERSION;
	out[1] = ETF_BINARY_EXT;
	out[2] = (uint8) (len >> 24);
	out[3] = (uint8) (len >> 16);
	out[4] = (uint8) (len >> 8);
	out[5] = (uint8) len;
	return ETF_BINARY_PREFIX_LEN;
}

/*
 * If buf is a term buffer holding exactly one BINARY_EXT, points *data and
 * *dlen at its bytes inside buf and returns true; otherwise false.
 */
bool
etf_decode_binary(const uint8 *buf, size_t len,
				  const char **data, size_t *dlen)
{
	uint32		n;

	if (len < 6 || buf[0] != ETF_VERSION || buf[1] != ETF_BINARY_EXT)
		return false;
	n = ((uint32) buf[2] << 24) | ((uint32) buf[3] << 16) |
		((uint32) buf[4] << 8) | buf[5];
	if (n != len - 6)
		return false;
	*data = (const char *) buf + 6;
	*dlen = n;
	return true;
}
