/*-------------------------------------------------------------------------
 *
 * reply_tag.h
 *	  The reply tag of a call: the one place it is written and read.
 *
 * A call delivered to an owner carries a tag that reply() hands back:
 *
 *	l:<procno>:<pid>:<call id>			a caller on this server: its backend
 *										slot, pid, and the call's random id
 *	r:<deadline>:<msg id>:<queue>		a caller on another node: when it
 *										stops waiting (TimestampTz), the
 *										call's Msg-ID and the caller's queue
 *
 * Only the worker writes "r:" tags (from the call as it arrived) and only a
 * backend writes "l:" tags (its own); a backend answers only tags it
 * received (src/backend/messaging.c), so a tag is never taken from a user.
 * Pure: no shared memory, no I/O; runs in backends, the worker and unit
 * tests.
 *
 * IDENTIFICATION
 *	  src/wire/reply_tag.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_REPLY_TAG_H
#define KZ_REPLY_TAG_H

/* Room for the longest "l:" tag and its terminator. */
#define KZ_TAG_LOCAL_SIZE	64

extern void kz_tag_local(char *buf, int procno, int pid, uint64 call_id);
extern bool kz_tag_parse_local(const char *tag, int *procno, int *pid,
							   uint64 *call_id);
extern char *kz_tag_remote(int64 deadline, const char *msg_id, const char *queue);
extern bool kz_tag_parse_remote(const char *tag, int64 *deadline,
								char **msg_id, char **queue);

#endif							/* KZ_REPLY_TAG_H */
