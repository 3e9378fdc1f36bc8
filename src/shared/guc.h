/*-------------------------------------------------------------------------
 *
 * guc.h
 *	  Configuration parameters of kz_globals (SPEC section 4).
 *
 * IDENTIFICATION
 *	  src/shared/guc.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_GUC_H
#define KZ_GUC_H

typedef enum KzOnConflict
{
	KZ_ON_CONFLICT_NOTIFY,
	KZ_ON_CONFLICT_TERMINATE
} KzOnConflict;

extern char *kz_amqp_uri;
extern char *kz_node_name;
extern char *kz_zone;
extern int	kz_max_names;
extern int	kz_max_names_per_role;
extern int	kz_max_group_members;
extern char *kz_reserved_prefixes;
extern int	kz_request_timeout;
extern int	kz_heartbeat_interval;
extern bool kz_query_on_miss;
extern int	kz_mailbox_size;
extern int	kz_max_message_size;
extern int	kz_max_meta_size;
extern int	kz_meta_pool_size;
extern int	kz_queue_max_length;
extern int	kz_on_conflict;
extern char *kz_amqp_cacert;
extern char *kz_amqp_cert;
extern char *kz_amqp_key;
extern int	kz_amqp_verify;
extern char *kz_amqp_password_file;
extern char *kz_bus_key_file;
extern bool kz_bus_require_signature;

extern void kz_guc_init(bool preloading);

/*
 * The password of the i-th element of kz_globals.amqp_uri, which the
 * setting's value holds masked; "" if it has none.
 */
extern const char *kz_amqp_uri_secret(int i);

/*
 * Installs the log hook that masks the broker passwords in messages about
 * kz_globals.amqp_uri (PostgreSQL's own "parameter changed" line shows the
 * raw file value); called while preloading.
 */
extern void kz_guc_mask_log_init(void);

/* A hash of those passwords: changes when one of them does. */
extern uint64 kz_amqp_secrets_hash(void);

/* True when kz_globals.amqp_uri names at least one broker. */
extern bool kz_cluster_configured(void);

/*
 * Copies a URI list into buf with any password replaced by "********", for
 * log lines about a URI that may hold one.
 */
extern void kz_mask_uri(const char *uri, char *buf, size_t bufsize);

#endif							/* KZ_GUC_H */
