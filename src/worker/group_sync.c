/*-------------------------------------------------------------------------
 *
 * group_sync.c
 *	  Process groups in the worker: our members told to the cluster, the
 *	  broker's bindings kept, other nodes' members applied, and messages
 *	  for our members delivered.
 *
 * Our side.  Backends change this node's rows of the group table
 * (src/shared/groups.c) and raise its "changed" flag; each round, while
 * connected, the worker compares the table's local rows with what it last
 * announced (the announced set, this process's memory) and:
 *	1. binds our queue on KZ_EXCHANGE_GROUPS under the key of each group
 *	   that got its first local member (and waits for the broker's bind-ok),
 *	2. publishes the joins and leaves as group_members messages (batched),
 *	3. unbinds the key of each group that lost its last local member.
 * So a node's queue receives a group's messages exactly while it has a
 * member, and a peer learns of a member only once its binding exists: a
 * publish crosses the bus once and the broker copies it to each node with
 * members, never once per member.  A node that joins (or reconnects) gets
 * the announced set as a group_sync (all of it, in parts, to its queue);
 * on our own (re)connection the set is rebuilt, bound and sent to every
 * node.
 *
 * Their side.  A group_members entry adds or removes a row of its node; a
 * group_sync replaces what we held of its node (rows its parts did not
 * name are dropped at the last part, by sync generation); a node that
 * expires or restarts loses all its rows (membership.c calls here).  A
 * group_publish is delivered into the mailbox of each local member of the
 * group it names (kind "group"), after checking that it came under that
 * group's key.  Anything malformed is dropped and counted in
 * stats.bus_malformed; rows the full table cannot take are dropped and
 * logged once a minute.
 *
 * Membership is thus eventually consistent, as Erlang's pg: no claims, no
 * votes; a join is seen elsewhere one publish later, a partitioned node's
 * members stay listed on the other side until it expires there.
 *
 * Runs in the worker only, between membership.c and inflight.c; takes
 * groups_lock (through groups.c) and slot locks (through mailbox.c), never
 * across a publish or a broker operation.
 *
 * IDENTIFICATION
 *	  src/worker/group_sync.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "nodes/pg_list.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "amqp_conn.h"
#include "bus.h"
#include "etf.h"
#include "group_sync.h"
#include "groups.h"
#include "log_limit.h"
#include "mailbox.h"
#include "names.h"
#include "shmem.h"

/* A member we announced, and whether this round's table still has it. */
typedef struct AnnouncedKey
{
	KzGroupKey	group;
	int32		pid;
} AnnouncedKey;

typedef struct Announced
{
	AnnouncedKey key;
	int64		joined_at;
	bool		seen;
} Announced;

/* A group whose key our queue is bound under, with its local members. */
typedef struct Bound
{
	KzGroupKey	group;
	int32		members;
} Bound;

static HTAB *announced = NULL;
static HTAB *bound = NULL;
static bool synced = false;		/* connected, our full state sent */

static void
make_tables(void)
{
	HASHCTL		ctl;

	if (announced != NULL)
	{
		hash_destroy(announced);
		hash_destroy(bound);
	}
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(AnnouncedKey);
	ctl.entrysize = sizeof(Announced);
	ctl.hcxt = TopMemoryContext;
	announced = hash_create("kz_globals announced group members", 256, &ctl,
							HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(KzGroupKey);
	ctl.entrysize = sizeof(Bound);
	ctl.hcxt = TopMemoryContext;
	bound = hash_create("kz_globals bound groups", 64, &ctl,
						HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/* Binds or unbinds our queue under a group's key; false: connection lost. */
static bool
bind_group(const KzGroupKey *group, bool bind)
{
	char		key[KZ_GROUP_KEY_SIZE];
	char		err[512];

	kz_proto_group_key(key, group->data, group->len);
	if (kz_amqp_bind(kz_bus.queue, KZ_EXCHANGE_GROUPS, key, bind, err, sizeof(err)))
		return true;
	kz_bus_mark_broken(err);
	return false;
}

/* One more (or one less) local member of a group: bind or unbind its key. */
static bool
count_member(const KzGroupKey *group, int delta, List **unbind)
{
	bool		found;
	Bound	   *b = hash_search(bound, group, HASH_ENTER, &found);

	if (!found)
		b->members = 0;
	if (b->members == 0 && delta < 0)
		return true;			/* not reachable: announced members are counted */
	b->members += delta;
	if (b->members == 1 && delta > 0)
		return bind_group(group, true);
	if (b->members == 0)
	{
		*unbind = lappend(*unbind, memcpy(palloc(sizeof(KzGroupKey)), group,
										  sizeof(KzGroupKey)));
		(void) hash_search(bound, group, HASH_REMOVE, NULL);
	}
	return true;
}

/* A wire entry for a member: the group's term, joined_at, pid, state. */
static void
set_entry(KzOutEntry *e, const KzGroupKey *group, int64 joined_at, int32 pid,
		  bool joined)
{
	memset(e, 0, sizeof(*e));
	(void) kz_name_from_bytes(group->data, group->len, &e->name);
	e->ts = joined_at;
	e->pid = pid;
	e->state = joined ? KZ_WS_REGISTERED : KZ_WS_NONE;
}

/* Publishes entries in batches of KZ_BATCH_MAX. */
static bool
publish_changes(const KzOutEntry *entries, int n)
{
	int			first;

	for (first = 0; first < n; first += KZ_BATCH_MAX)
	{
		if (!kz_out_group_members(entries + first, Min(KZ_BATCH_MAX, n - first)))
			return false;
	}
	return true;
}

/*
 * Brings the announced set and the bindings up to our rows and, with
 * announce, publishes what changed since the last round (see the head
 * comment for the order of binds, announcements and unbinds).
 */
static void
reconcile(bool announce)
{
	KzGroupMemberInfo *rows;
	int			n = kz_groups_snapshot(NULL, true, &rows);
	KzOutEntry *entries = palloc(sizeof(KzOutEntry) * (n + hash_get_num_entries(announced) + 1));
	int			nentries = 0;
	List	   *unbind = NIL;
	HASH_SEQ_STATUS seq;
	Announced  *a;
	ListCell   *lc;
	int			i;

	hash_seq_init(&seq, announced);
	while ((a = hash_seq_search(&seq)) != NULL)
		a->seen = false;
	for (i = 0; i < n; i++)
	{
		AnnouncedKey key;
		bool		found;

		memset(&key, 0, sizeof(key));
		key.group = rows[i].group;
		key.pid = rows[i].pid;
		a = hash_search(announced, &key, HASH_ENTER, &found);
		a->seen = true;
		if (found && a->joined_at == rows[i].joined_at)
			continue;
		a->joined_at = rows[i].joined_at;
		if (!found && !count_member(&key.group, 1, &unbind))
			return;
		set_entry(&entries[nentries++], &key.group, a->joined_at, key.pid, true);
	}
	hash_seq_init(&seq, announced);
	while ((a = hash_seq_search(&seq)) != NULL)
	{
		if (a->seen)
			continue;
		set_entry(&entries[nentries++], &a->key.group, a->joined_at, a->key.pid, false);
		(void) count_member(&a->key.group, -1, &unbind);
		(void) hash_search(announced, &a->key, HASH_REMOVE, NULL);
	}
	if (announce && nentries > 0 && !publish_changes(entries, nentries))
		return;
	foreach(lc, unbind)
	{
		if (!bind_group((KzGroupKey *) lfirst(lc), false))
			return;
	}
}

void
kz_group_service(void)
{
	if (!synced || !kz_bus_usable())
		return;
	if (kz_groups_take_dirty())
		reconcile(true);
}

/* The announced set as wire entries (all joined). */
static int
announced_entries(KzOutEntry **out)
{
	KzOutEntry *entries = palloc(sizeof(KzOutEntry) * (hash_get_num_entries(announced) + 1));
	HASH_SEQ_STATUS seq;
	Announced  *a;
	int			n = 0;

	hash_seq_init(&seq, announced);
	while ((a = hash_seq_search(&seq)) != NULL)
		set_entry(&entries[n++], &a->key.group, a->joined_at, a->key.pid, true);
	*out = entries;
	return n;
}

void
kz_group_sync_to(const char *queue)
{
	KzOutEntry *entries;
	int			n;

	if (!synced)
		return;					/* our own full sync to everyone comes first */
	n = announced_entries(&entries);
	(void) kz_out_group_sync(queue, entries, n);
}

/*
 * A connection without kz_globals' exchange for process groups (a broker
 * account without the permission): logged once until one has it again;
 * local members still get what is published here.
 */
static bool
groups_usable(void)
{
	static bool warned = false;
	const char *why;

	if (kz_amqp_groups_usable(&why))
	{
		warned = false;
		return true;
	}
	if (!warned)
		ereport(WARNING,
				(errmsg("kz_globals: process groups are limited to this server: the broker refused exchange \"%s\"",
						KZ_EXCHANGE_GROUPS),
				 errdetail_internal("%s", why),
				 errhint("Give the broker account configure, write and read permission on \"%s\" (README, \"Bus authentication\").",
						 KZ_EXCHANGE_GROUPS)));
	warned = true;
	return false;
}

void
kz_group_connected(void)
{
	KzOutEntry *entries;
	int			n;

	make_tables();
	synced = false;
	if (!groups_usable())
		return;
	(void) kz_groups_take_dirty();
	reconcile(false);			/* binds every group; the sync announces */
	if (!kz_bus_usable())
		return;
	n = announced_entries(&entries);
	if (kz_out_group_sync(NULL, entries, n))
		synced = true;
}

void
kz_group_disconnected(void)
{
	synced = false;
	if (announced != NULL)
		make_tables();
}

void
kz_group_node_gone(int node)
{
	int			n = kz_groups_drop_node(node, false);

	if (n > 0)
		ereport(LOG,
				(errmsg("kz_globals: dropped %d process-group memberships of a node that is gone", n)));
}

void
kz_group_sweep(void)
{
	(void) kz_groups_sweep_dead();
}

/* ---------------------------------------------------------------------
 * From other nodes
 * ---------------------------------------------------------------------
 */

/* A group message from the bus that cannot be used: dropped and counted. */
static void
bad_message(const char *why)
{
	static KzLogLimit limit;
	int64		held;

	KZ_STAT_INC(bus_malformed);
	if (kz_log_due(&limit, &held))
		ereport(LOG,
				(errmsg("kz_globals dropped a malformed process-group message from the bus: %s", why),
				 held > 0 ? errdetail("%lld more were dropped since the last such line.", (long long) held) : 0));
}

/* The group a term names: a binary of 1 to KZ_GROUP_MAX_BYTES bytes, no NUL. */
static bool
group_of_term(const uint8 *term, size_t len, KzGroupKey *group)
{
	const char *data;
	size_t		dlen;

	if (term == NULL || !etf_decode_binary(term, len, &data, &dlen) ||
		dlen == 0 || dlen > KZ_GROUP_MAX_BYTES || memchr(data, '\0', dlen) != NULL)
		return false;
	kz_group_key_set(group, data, dlen);
	return true;
}

static void
table_full(void)
{
	static KzLogLimit limit;
	int64		held;

	if (kz_log_due(&limit, &held))
		ereport(LOG,
				(errmsg("kz_globals: the process-group table is full; a membership of another node was not recorded"),
				 errdetail("%lld more were not recorded since the last such line.", (long long) held),
				 errhint("Increase kz_globals.max_group_members on every server.")));
}

/* Applies one entry of a group_members or group_sync of node. */
static void
apply_entry(const KzSyncEntry *e, int node, bool sync)
{
	KzGroupKey	group;

	if (!group_of_term(e->name, e->name_len, &group) || e->pid <= 0)
	{
		bad_message("a member entry whose group is not a binary of 1 to 255 bytes, or whose pid is not positive");
		return;
	}
	if (e->state == KZ_WS_REGISTERED)
	{
		if (kz_groups_remote_join(&group, node, e->pid, e->timestamp) == KZ_GROUP_FULL)
			table_full();
	}
	else if (e->state == KZ_WS_NONE && !sync)
		kz_groups_remote_leave(&group, node, e->pid);
	else
		bad_message("a member entry whose state is neither registered nor none");
}

void
kz_group_in_members(const KzBusMsg *msg, int node)
{
	int			i;

	for (i = 0; i < msg->nentries; i++)
		apply_entry(&msg->entries[i], node, false);
}

void
kz_group_in_sync(const KzBusMsg *msg, int node)
{
	int			i;

	if (msg->sync_part == 0)
		kz_groups_sync_begin(node);
	for (i = 0; i < msg->nentries; i++)
		apply_entry(&msg->entries[i], node, true);
	if (msg->sync_last)
		(void) kz_groups_drop_node(node, true);
}

/* Puts one copy of a message into a local member's mailbox. */
static void
deliver_one(const KzMessageSpec *spec, const KzGroupTarget *t)
{
	dsa_pointer dp = kz_message_create(spec, true);
	KzDeliver	result = KZ_DELIVER_FULL;

	if (DsaPointerIsValid(dp))
		result = kz_mailbox_put(t->procno, t->pid, dp);
	if (result == KZ_DELIVER_OK)
	{
		KZ_STAT_INC(messages_received);
		return;
	}
	if (DsaPointerIsValid(dp))
		kz_message_free(dp);
	if (result == KZ_DELIVER_FULL)
		KZ_STAT_INC(messages_dropped);
}

void
kz_group_in_publish(const KzBusMsg *msg, const char *routing_key)
{
	KzGroupKey	group;
	char		key[KZ_GROUP_KEY_SIZE];
	KzGroupTarget *targets;
	KzMessageSpec spec;
	KzName		name;
	int			remote;
	int			n;
	int			i;

	if (!group_of_term(msg->name, msg->name_len, &group))
	{
		bad_message("a group_publish whose Name is not a binary of 1 to 255 bytes");
		return;
	}
	kz_proto_group_key(key, group.data, group.len);
	if (routing_key == NULL || strcmp(routing_key, key) != 0)
	{
		bad_message("a group_publish not routed under its group's key");
		return;
	}
	n = kz_groups_targets(&group, &targets, &remote);
	kz_name_set(&name, msg->name, msg->name_len);
	memset(&spec, 0, sizeof(spec));
	spec.kind = KZ_MSG_GROUP;
	spec.flags = KZ_MSG_BODY_ETF | KZ_MSG_IDENT_UTF8;
	spec.sender_pid = msg->sender_pid;
	if (msg->verified)
	{
		/* only a signature says the role and database are the sender's */
		spec.role = msg->sender_role;
		spec.db = msg->sender_db;
	}
	spec.sent_at = GetCurrentTimestamp();
	spec.name = &name;
	spec.node = msg->node;
	spec.body = (const char *) msg->message;
	spec.body_len = msg->message_len;
	for (i = 0; i < n; i++)
		deliver_one(&spec, &targets[i]);
}
