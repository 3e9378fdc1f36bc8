/*-------------------------------------------------------------------------
 *
 * mailbox.c
 *	  Per-backend mailboxes and call replies (see mailbox.h).
 *
 * Everything about a slot changes under its LWLock.  Nothing that can fail
 * runs under it: messages are allocated before and freed after, which is
 * why the functions below detach lists under the lock and free them once it
 * is released.
 *
 * IDENTIFICATION
 *	  src/shared/mailbox.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/latch.h"
#include "storage/proc.h"

#include "guc.h"
#include "mailbox.h"
#include "shmem.h"

dsa_pointer
kz_message_create(const KzMessageSpec *spec, bool no_oom)
{
	size_t		name_len = spec->name ? spec->name->len : 0;
	size_t		node_len = spec->node ? strlen(spec->node) : 0;
	size_t		tag_len = spec->tag ? strlen(spec->tag) : 0;
	size_t		role_len = spec->role ? Min(strlen(spec->role), NAMEDATALEN - 1) : 0;
	size_t		db_len = spec->db ? Min(strlen(spec->db), NAMEDATALEN - 1) : 0;
	size_t		size;
	dsa_pointer dp;
	KzMessage  *m;
	char	   *p;

	node_len = Min(node_len, KZ_NODE_NAME_MAX - 1);
	tag_len = Min(tag_len, PG_UINT16_MAX);
	size = offsetof(KzMessage, data) + name_len + node_len + tag_len + role_len +
		db_len + spec->body_len;
	dp = dsa_allocate_extended(kz_dsa(), size, no_oom ? DSA_ALLOC_NO_OOM : 0);
	if (!DsaPointerIsValid(dp))
		return InvalidDsaPointer;

	m = dsa_get_address(kz_dsa(), dp);
	m->next = InvalidDsaPointer;
	m->kind = spec->kind;
	m->flags = spec->flags;
	m->sender_pid = spec->sender_pid;
	m->sent_at = spec->sent_at;
	m->name_len = name_len;
	m->node_len = node_len;
	m->tag_len = tag_len;
	m->role_len = role_len;
	m->db_len = db_len;
	m->body_len = spec->body_len;
	p = m->data;
	if (name_len)
		memcpy(p, spec->name->data, name_len);
	p += name_len;
	if (node_len)
		memcpy(p, spec->node, node_len);
	p += node_len;
	if (tag_len)
		memcpy(p, spec->tag, tag_len);
	p += tag_len;
	if (role_len)
		memcpy(p, spec->role, role_len);
	p += role_len;
	if (db_len)
		memcpy(p, spec->db, db_len);
	p += db_len;
	if (spec->body_len)
		memcpy(p, spec->body, spec->body_len);
	return dp;
}

KzMessage *
kz_message_get(dsa_pointer msg)
{
	return (KzMessage *) dsa_get_address(kz_dsa(), msg);
}

void
kz_message_free(dsa_pointer msg)
{
	dsa_free(kz_dsa(), msg);
}

/* Frees a chain of messages linked through next. */
static void
free_chain(dsa_pointer head)
{
	while (DsaPointerIsValid(head))
	{
		dsa_pointer next = kz_message_get(head)->next;

		kz_message_free(head);
		head = next;
	}
}

/*
 * Gives the slot to pid, detaching what the previous holder left.  Caller
 * holds the slot's lock; the returned chains are freed by the caller
 * after releasing it.
 */
static void
reset_slot_locked(KzBackend *slot, int pid, dsa_pointer *mail, dsa_pointer *reply)
{
	*mail = slot->mb_head;
	*reply = slot->call_reply;
	slot->pid = pid;
	slot->mb_head = InvalidDsaPointer;
	slot->mb_tail = InvalidDsaPointer;
	slot->mb_count = 0;
	slot->call_id = 0;
	slot->call_reply = InvalidDsaPointer;
	slot->req_id = 0;
	slot->req_state = KZ_REQ_IDLE;
	slot->wait_hash = 0;
}

void
kz_slot_claim(int procno, int pid)
{
	KzBackend  *slot = kz_backend(procno);
	dsa_pointer mail = InvalidDsaPointer;
	dsa_pointer reply = InvalidDsaPointer;

	LWLockAcquire(&slot->lock, LW_EXCLUSIVE);
	if (slot->pid != pid || pid == 0)
		reset_slot_locked(slot, pid, &mail, &reply);
	LWLockRelease(&slot->lock);
	free_chain(mail);
	free_chain(reply);
}

/* Appends msg to a slot's mailbox unless it is full; caller holds its lock. */
static KzDeliver
append_locked(KzBackend *slot, dsa_pointer msg)
{
	if (slot->mb_count >= kz_mailbox_size)
		return KZ_DELIVER_FULL;
	if (DsaPointerIsValid(slot->mb_tail))
		kz_message_get(slot->mb_tail)->next = msg;
	else
		slot->mb_head = msg;
	slot->mb_tail = msg;
	slot->mb_count++;
	return KZ_DELIVER_OK;
}

KzDeliver
kz_mailbox_put(int procno, int pid, dsa_pointer msg)
{
	KzBackend  *slot = kz_backend(procno);
	dsa_pointer stale_mail = InvalidDsaPointer;
	dsa_pointer stale_reply = InvalidDsaPointer;
	KzDeliver	result;

	if (!kz_proc_alive(procno, pid))
		return KZ_DELIVER_GONE;

	kz_message_get(msg)->next = InvalidDsaPointer;
	LWLockAcquire(&slot->lock, LW_EXCLUSIVE);

	/*
	 * Checked again under the slot lock: the backend may have exited since,
	 * and a new one may have taken its PGPROC slot (and this mailbox slot).
	 * A message for the old backend must never reach the new one.
	 */
	if (!kz_proc_alive(procno, pid))
		result = KZ_DELIVER_GONE;
	else
	{
		if (slot->pid != pid)
			reset_slot_locked(slot, pid, &stale_mail, &stale_reply);
		result = append_locked(slot, msg);
	}
	LWLockRelease(&slot->lock);

	free_chain(stale_mail);
	free_chain(stale_reply);
	if (result == KZ_DELIVER_OK)
		SetLatch(kz_proc_latch(procno));
	return result;
}

dsa_pointer
kz_mailbox_take(void)
{
	KzBackend  *slot = kz_backend(KZ_MY_PROCNO);
	dsa_pointer msg;

	LWLockAcquire(&slot->lock, LW_EXCLUSIVE);
	msg = slot->mb_head;
	if (DsaPointerIsValid(msg))
	{
		slot->mb_head = kz_message_get(msg)->next;
		if (!DsaPointerIsValid(slot->mb_head))
			slot->mb_tail = InvalidDsaPointer;
		slot->mb_count--;
	}
	LWLockRelease(&slot->lock);
	return msg;
}

/*
 * A call's id is random, not a counter: it is the nonce of the caller's
 * reply tag, so that nobody can guess the tag of another session's call.
 * KZ_CALL_ID_MASK bits of it, since a remote call's id travels in the
 * sequence part of a 16-digit Msg-ID (bus_out.c checks that they agree).
 */
static uint64
random_call_id(void)
{
	uint64		id = 0;

	while (id == 0)
	{
		if (!pg_strong_random(&id, sizeof(id)))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate a random call id")));
		id &= KZ_CALL_ID_MASK;
	}
	return id;
}

uint64
kz_call_begin(void)
{
	KzBackend  *slot = kz_backend(KZ_MY_PROCNO);
	uint64		id = random_call_id();
	dsa_pointer stale;

	LWLockAcquire(&slot->lock, LW_EXCLUSIVE);
	stale = slot->call_reply;
	slot->call_id = id;
	slot->call_reply = InvalidDsaPointer;
	LWLockRelease(&slot->lock);
	free_chain(stale);
	return id;
}

/*
 * Hands a reply to the caller waiting in (procno, pid) for call_id.  False,
 * with reply still the caller's, if that call is no longer waiting or has
 * already been answered.
 */
bool
kz_call_answer(int procno, int pid, uint64 call_id, dsa_pointer reply)
{
	KzBackend  *slot;
	bool		taken = false;

	if (call_id == 0 || !kz_proc_alive(procno, pid))
		return false;
	slot = kz_backend(procno);
	kz_message_get(reply)->next = InvalidDsaPointer;
	LWLockAcquire(&slot->lock, LW_EXCLUSIVE);
	if (slot->pid == pid && slot->call_id == call_id &&
		!DsaPointerIsValid(slot->call_reply))
	{
		slot->call_reply = reply;
		taken = true;
	}
	LWLockRelease(&slot->lock);
	if (taken)
		SetLatch(kz_proc_latch(procno));
	return taken;
}

dsa_pointer
kz_call_take_reply(uint64 call_id)
{
	KzBackend  *slot = kz_backend(KZ_MY_PROCNO);
	dsa_pointer reply = InvalidDsaPointer;

	LWLockAcquire(&slot->lock, LW_EXCLUSIVE);
	if (slot->call_id == call_id)
	{
		reply = slot->call_reply;
		slot->call_reply = InvalidDsaPointer;
	}
	LWLockRelease(&slot->lock);
	return reply;
}

/* Stops waiting: a reply arriving later finds no taker and is dropped. */
void
kz_call_end(void)
{
	KzBackend  *slot = kz_backend(KZ_MY_PROCNO);
	dsa_pointer stale;

	LWLockAcquire(&slot->lock, LW_EXCLUSIVE);
	stale = slot->call_reply;
	slot->call_id = 0;
	slot->call_reply = InvalidDsaPointer;
	LWLockRelease(&slot->lock);
	free_chain(stale);
}
