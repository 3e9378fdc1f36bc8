/*-------------------------------------------------------------------------
 *
 * guc.h
 *	  Configuration parameters of kz_globals (SPEC section 4).
 *
 * IDENTIFICATION
 *	  src/guc.h
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

typedef enum KzVerify
{
	KZ_VERIFY_NONE,				/* no certificate checks */
	KZ_VERIFY_PEER,				/* certificate chain only */
	KZ_VERIFY_FULL				/* chain and host name (or IP address) */
} KzVerify;

extern char *kz_amqp_uri;
extern char *kz_node_name;
extern char *kz_zone;
extern int	kz_max_names;
extern int	kz_request_timeout;
extern int	kz_heartbeat_interval;
extern bool kz_query_on_miss;
extern int	kz_mailbox_size;
extern int	kz_max_message_size;
extern int	kz_on_conflict;
extern char *kz_amqp_cacert;
extern char *kz_amqp_cert;
extern char *kz_amqp_key;
extern int	kz_amqp_verify;

extern void kz_guc_init(bool preloading);

/*
 * Installs the log hook that masks the broker password in the server's own
 * "parameter changed" messages (called while preloading).
 */
extern void kz_guc_mask_log_init(void);

/* True when kz_globals.amqp_uri names at least one broker. */
extern bool kz_cluster_configured(void);

/*
 * Copies uri into buf with any password replaced by "********", for logs,
 * views and SHOW.
 */
extern void kz_mask_uri(const char *uri, char *buf, size_t bufsize);

#endif							/* KZ_GUC_H */
