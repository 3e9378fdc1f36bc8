/*-------------------------------------------------------------------------
 *
 * mailbox.h
 *	  Per-backend mailboxes and call replies.
 *
 * A message is one KzMessage in the DSA area; a mailbox is a FIFO of them
 * hanging off the owner's KzBackend slot, at most kz_globals.mailbox_size
 * long.  The same message layout carries the reply to a call(), which is
 * not queued but handed to the waiting caller's slot.
 *
 * A slot belongs to the process whose pid it holds.  When a PGPROC is
 * reused by a new backend, whoever touches the slot first for the new pid
 * (the backend itself, or a sender) empties what the previous one left.
 *
 * IDENTIFICATION
 *	  src/shared/mailbox.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_MAILBOX_H
#define KZ_MAILBOX_H

#include "datatype/timestamp.h"
#include "utils/dsa.h"

#include "kz_types.h"

typedef enum KzMsgKind
{
	KZ_MSG_SEND = 0,
	KZ_MSG_CALL,
	KZ_MSG_SYSTEM,
	KZ_MSG_REPLY,
	KZ_MSG_GROUP				/* published to a group: name is the group */
} KzMsgKind;

/* KzMessage.flags */
#define KZ_MSG_BODY_ETF		0x01	/* body is an external term, not text */
#define KZ_MSG_OWNER_GONE	0x02	/* a reply saying the owner ended without
									 * answering the call */
#define KZ_MSG_IDENT_UTF8	0x04	/* role and database came over the bus:
									 * UTF-8, not the server encoding */

typedef struct KzMessage
{
	dsa_pointer next;			/* next message in the mailbox */
	uint8		kind;			/* KzMsgKind */
	uint8		flags;			/* KZ_MSG_* */
	int32		sender_pid;		/* 0 if the bus does not say */
	TimestampTz sent_at;
	uint16		name_len;		/* encoded name the message was sent to */
	uint16		node_len;		/* sender node */
	uint16		tag_len;		/* reply tag (calls) */
	uint8		role_len;		/* sender's role, if known */
	uint8		db_len;			/* sender's database, if known */
	uint32		body_len;
	char		data[FLEXIBLE_ARRAY_MEMBER];	/* name, node, tag, role, db,
												 * body */
} KzMessage;

/* What a message is made from. */
typedef struct KzMessageSpec
{
	KzMsgKind	kind;
	uint8		flags;
	int32		sender_pid;
	TimestampTz sent_at;
	const KzName *name;			/* may be NULL */
	const char *node;			/* may be NULL */
	const char *tag;			/* may be NULL */
	const char *role;			/* sender's role, may be NULL */
	const char *db;				/* sender's database, may be NULL */
	const char *body;
	size_t		body_len;
} KzMessageSpec;

typedef enum KzDeliver
{
	KZ_DELIVER_OK,
	KZ_DELIVER_FULL,			/* mailbox holds mailbox_size messages */
	KZ_DELIVER_GONE				/* the backend is not running */
} KzDeliver;

/*
 * Allocates a message.  With no_oom, returns InvalidDsaPointer when the DSA
 * area cannot grow (for callers that must not raise errors); otherwise
 * errors out.
 */
extern dsa_pointer kz_message_create(const KzMessageSpec *spec, bool no_oom);
extern KzMessage *kz_message_get(dsa_pointer msg);
extern void kz_message_free(dsa_pointer msg);

/* Accessors for the variable parts. */
#define KZ_MSG_NAME(m)	((const uint8 *) (m)->data)
#define KZ_MSG_NODE(m)	((m)->data + (m)->name_len)
#define KZ_MSG_TAG(m)	((m)->data + (m)->name_len + (m)->node_len)
#define KZ_MSG_ROLE(m)	(KZ_MSG_TAG(m) + (m)->tag_len)
#define KZ_MSG_DB(m)	(KZ_MSG_ROLE(m) + (m)->role_len)
#define KZ_MSG_BODY(m)	(KZ_MSG_DB(m) + (m)->db_len)

/*
 * Appends msg to the mailbox of backend (procno, pid) and sets its latch.
 * Unless the result is KZ_DELIVER_OK the caller still owns msg.
 */
extern KzDeliver kz_mailbox_put(int procno, int pid, dsa_pointer msg);

/* Takes the oldest message from this backend's mailbox, or Invalid. */
extern dsa_pointer kz_mailbox_take(void);

/*
 * Makes this backend's slot its own (emptying anything a previous process
 * left), or releases it at exit (pid 0).
 */
extern void kz_slot_claim(int procno, int pid);

/*
 * call(): start waiting, hand over a reply, take it, stop waiting.  A call
 * id is a random number of 40 bits (KZ_CALL_ID_MASK), never 0.
 */
#define KZ_CALL_ID_MASK		((UINT64CONST(1) << 40) - 1)
extern uint64 kz_call_begin(void);
extern bool kz_call_answer(int procno, int pid, uint64 call_id, dsa_pointer reply);
extern dsa_pointer kz_call_take_reply(uint64 call_id);
extern void kz_call_end(void);

#endif							/* KZ_MAILBOX_H */
