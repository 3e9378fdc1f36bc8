/*-------------------------------------------------------------------------
 *
 * messaging.h
 *	  send(), call(), receive() and reply() as a backend does them.
 *
 * A local owner gets messages straight into its mailbox.  A remote owner
 * gets them through the worker, which publishes to the owner node's queue.
 *
 * Reply tags name the waiting caller: "l:<procno>:<pid>:<call id>" for a
 * caller on this server, "r:<deadline>:<msg id>:<queue>" for a caller on
 * another node (the worker builds those when it delivers a remote call).
 *
 * IDENTIFICATION
 *	  src/backend/messaging.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_MESSAGING_H
#define KZ_MESSAGING_H

#include "datatype/timestamp.h"

#include "claims.h"
#include "kz_types.h"

/* One message taken from the mailbox, as receive() returns it. */
typedef struct KzReceived
{
	char	   *name;
	const char *kind;
	text	   *message;
	char	   *sender_node;	/* NULL if unknown */
	int32		sender_pid;		/* 0 if unknown */
	char	   *reply_tag;		/* NULL unless kind is "call" */
	TimestampTz sent_at;
	char	   *sender_role;	/* NULL unless known: sent from this server,
								 * or signed by another kz_globals server */
	char	   *sender_db;		/* likewise */
} KzReceived;

/* Checks a message, request or reply argument (NULL, size limit). */
extern void kz_check_payload(const char *what, bool isnull, size_t len);

/*
 * The sending session's role and database as they go to another server
 * (shown there only for a message that arrived signed).
 */
extern void kz_wire_sender(const char **role, const char **db);

/* Delivers message to the owner of name; errors if there is none. */
extern void kz_send(const KzName *name, const char *message, size_t len,
					KzOwner *owner);

/*
 * Calls the owner of name and waits up to timeout_ms (-1: no limit) for
 * its reply, returned as a palloc'd text.
 */
extern text *kz_call(const KzName *name, const char *request, size_t len,
					 int timeout_ms);

/* Takes the next message, waiting up to timeout_ms (-1: no limit). */
extern bool kz_receive(int timeout_ms, KzReceived *out);

/*
 * At exit: empties this backend's mailbox, telling the caller of every call
 * still in it that no answer will come (call() then fails at once with
 * 42704).  Never raises.
 */
extern void kz_fail_queued_calls(void);

/* Answers a call; false if the caller is no longer waiting. */
extern bool kz_reply(const char *tag, const char *response, size_t len);

#endif							/* KZ_MESSAGING_H */
