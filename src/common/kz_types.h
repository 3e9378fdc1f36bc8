/*-------------------------------------------------------------------------
 *
 * kz_types.h
 *	  Limits and small types shared by every part of kz_globals.
 *
 * A name is kept as the bytes of its Erlang external term (version byte
 * included), exactly as Kazoo's kz_globals puts it on the wire after base64
 * decoding.  A name given in SQL is the binary term of its text.  Comparing
 * two names is comparing these bytes.
 *
 * IDENTIFICATION
 *	  src/common/kz_types.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_TYPES_H
#define KZ_TYPES_H

/* Longest name accepted from SQL, in bytes (SPEC section 3). */
#define KZ_NAME_MAX_BYTES	255

/* Longest process-group name accepted, in bytes (src/shared/groups.h). */
#define KZ_GROUP_MAX_BYTES	255

/*
 * Longest encoded name kept in the table.  A SQL name takes at most
 * 1 + 5 + 255 = 261 bytes; the rest is room for Kazoo names that are other
 * terms (atoms, tuples).  Longer names arriving on the bus are refused as
 * malformed.  The row size this implies is checked against the 512-byte
 * budget per name slot in registry.c.
 */
#define KZ_KEY_MAX			320

/*
 * Longest registration metadata (the JSON text of a jsonb) accepted from
 * the bus whatever kz_globals.max_meta_size says, and that setting's
 * upper bound.
 */
#define KZ_META_MAX_BYTES	65536

/* Node names, zones and AMQP queue names, including the terminating NUL. */
#define KZ_NODE_NAME_MAX	256
#define KZ_ZONE_MAX			64
#define KZ_SERVER_MAX		256

/* Nodes (PostgreSQL servers and Kazoo nodes) one server keeps track of. */
#define KZ_MAX_NODES		128

/* Index of this node in the node table. */
#define KZ_SELF_NODE		0

/* An encoded name. */
typedef struct KzName
{
	uint16		len;			/* bytes used in data */
	uint8		data[KZ_KEY_MAX];	/* external term, version byte first */
} KzName;

/*
 * Microseconds between year 0 of the Gregorian calendar and the PostgreSQL
 * epoch (2000-01-01), the offset between Kazoo's timestamps and TimestampTz.
 */
#define KZ_GREGORIAN_PG_EPOCH_US	INT64CONST(63113904000000000)

/*
 * Claim timestamps accepted from the bus: after year 0 and before year
 * 10000 (Gregorian microseconds), which every view can show.
 */
#define KZ_TIMESTAMP_MAX_US			INT64CONST(315537897600000000)
#define KZ_TIMESTAMP_VALID(ts)		((ts) > 0 && (ts) < KZ_TIMESTAMP_MAX_US)

/* Exchanges, as Kazoo declares them (the connection declares them, the
 * encoders name them). */
#define KZ_EXCHANGE_GLOBALS		"globals"	/* topic */
#define KZ_EXCHANGE_TARGETED	"targeted"	/* direct */
#define KZ_EXCHANGE_NODES		"nodes" /* fanout */
#define KZ_GLOBALS_BINDING		"globals.*.*"

/*
 * kz_globals' own direct exchange for process groups, which Kazoo nodes
 * never bind: a group's messages under its key (routing.h), membership
 * changes under KZ_GROUPS_MEMBERS_KEY, which every kz_globals node binds.
 */
#define KZ_EXCHANGE_GROUPS		"kz_globals.groups"
#define KZ_GROUPS_MEMBERS_KEY	"members"

/*
 * The AMQP header in which kz_globals nodes sign what they publish (the
 * signature itself: wire/bus_auth.h).
 */
#define KZ_AUTH_HEADER			"x-kz-auth"

/* Longest AMQP short string (routing keys, queue names). */
#define KZ_SHORTSTR_MAX			255

#endif							/* KZ_TYPES_H */
