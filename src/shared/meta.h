/*-------------------------------------------------------------------------
 *
 * meta.h
 *	  The metadata pool: the JSON text of registration metadata, in a fixed
 *	  arena of shared memory.
 *
 * The pool is kz_globals.meta_pool_size bytes of KZ_META_BLOCK-byte
 * blocks; a text takes a chain of ceil(len / KZ_META_BLOCK_DATA) blocks,
 * linked by index (0 ends a chain; block 0 is never used, so that a zeroed
 * row has no metadata).  Its size does not grow with max_names: a table of
 * many names with little metadata costs a few bytes per name (the chain's
 * head and length in KzRow), and the pool bounds the whole.
 *
 * Locking: reg_lock, as for the rows that point into the pool; every
 * function says in which mode it expects it held.  Nothing here raises.
 *
 * IDENTIFICATION
 *	  src/shared/meta.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_META_H
#define KZ_META_H

#include "row.h"

#define KZ_META_BLOCK		64
#define KZ_META_BLOCK_DATA	(KZ_META_BLOCK - (int) sizeof(int32))

extern Size kz_meta_shmem_size(void);

/* Caller holds AddinShmemInitLock (shmem.c). */
extern void kz_meta_shmem_init(void);

/*
 * Caller holds reg_lock exclusively.  kz_meta_store copies text[0..len)
 * into a new chain and returns its head, or 0 if the pool has not enough
 * free blocks (nothing is then taken); len 0 stores nothing and returns 0.
 * kz_meta_free returns a chain (head 0: none) to the pool.
 */
extern int32 kz_meta_store(const char *text, int32 len);
extern void kz_meta_free(int32 head);

/* Blocks a text of len bytes takes. */
extern int32 kz_meta_blocks(int32 len);

/* Free blocks now (caller holds reg_lock in any mode). */
extern int32 kz_meta_free_blocks(void);

/*
 * A palloc'd, NUL-terminated copy of the chain (head, len), or NULL if
 * head is 0.  Caller holds reg_lock in any mode.
 */
extern char *kz_meta_copy(int32 head, int32 len);

/*
 * Row helpers, caller holds reg_lock exclusively: replace a row's own
 * metadata (text NULL: none); false, with the row unchanged, if the pool
 * is full.  kz_meta_release frees both chains of a row that goes.
 */
extern bool kz_meta_set_row(KzRow *row, const char *text, int32 len);
extern void kz_meta_release(KzRow *row);

/*
 * The metadata of name's local registration with timestamp ts, as a
 * palloc'd copy, or NULL (none, or the name is not ours with that
 * timestamp).  Takes reg_lock shared.
 */
extern char *kz_meta_of_local(const KzName *name, int64 ts);

#endif							/* KZ_META_H */
