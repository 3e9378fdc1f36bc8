/*-------------------------------------------------------------------------
 *
 * meta.c
 *	  The metadata pool (see meta.h).  Runs in backends and the worker,
 *	  under reg_lock held by the caller, except kz_meta_of_local, which
 *	  takes it shared.
 *
 * IDENTIFICATION
 *	  src/shared/meta.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "storage/shmem.h"

#include "guc.h"
#include "meta.h"
#include "registry.h"
#include "shmem.h"

typedef struct KzMetaBlock
{
	int32		next;			/* next block of the chain or free list, 0 ends */
	char		data[KZ_META_BLOCK_DATA];
} KzMetaBlock;

StaticAssertDecl(sizeof(KzMetaBlock) == KZ_META_BLOCK,
				 "a metadata block is KZ_META_BLOCK bytes");

typedef struct KzMetaPool
{
	int32		nblocks;		/* blocks, block 0 (unused) included */
	int32		free_head;		/* first free block, 0 if none */
	int32		nfree;
	KzMetaBlock blocks[FLEXIBLE_ARRAY_MEMBER];
} KzMetaPool;

static KzMetaPool *pool = NULL;

/* Blocks of the pool, block 0 included (at least that one). */
static int32
pool_blocks(void)
{
	return (int32) Max((int64) kz_meta_pool_size * 1024 / KZ_META_BLOCK, 1);
}

Size
kz_meta_shmem_size(void)
{
	return add_size(offsetof(KzMetaPool, blocks),
					mul_size(pool_blocks(), sizeof(KzMetaBlock)));
}

void
kz_meta_shmem_init(void)
{
	bool		found;
	int32		n = pool_blocks();
	int32		i;

	pool = ShmemInitStruct("kz_globals meta pool", kz_meta_shmem_size(), &found);
	if (found)
		return;
	pool->nblocks = n;
	pool->nfree = n - 1;
	pool->free_head = n > 1 ? 1 : 0;
	pool->blocks[0].next = 0;
	for (i = 1; i < n; i++)
		pool->blocks[i].next = (i + 1 < n) ? i + 1 : 0;
}

int32
kz_meta_blocks(int32 len)
{
	return (len + KZ_META_BLOCK_DATA - 1) / KZ_META_BLOCK_DATA;
}

int32
kz_meta_free_blocks(void)
{
	return pool->nfree;
}

int32
kz_meta_store(const char *text, int32 len)
{
	int32		need = kz_meta_blocks(len);
	int32		head;
	int32		i;
	int32		b;

	if (len <= 0 || need > pool->nfree)
		return 0;
	head = pool->free_head;
	b = head;
	for (i = 0; i < need; i++)
	{
		KzMetaBlock *blk = &pool->blocks[b];
		int32		n = Min(len - i * KZ_META_BLOCK_DATA, KZ_META_BLOCK_DATA);

		memcpy(blk->data, text + i * KZ_META_BLOCK_DATA, n);
		if (i + 1 == need)
		{
			pool->free_head = blk->next;
			blk->next = 0;
		}
		else
			b = blk->next;
	}
	pool->nfree -= need;
	return head;
}

void
kz_meta_free(int32 head)
{
	int32		b = head;

	while (b > 0 && b < pool->nblocks)
	{
		int32		next = pool->blocks[b].next;

		pool->blocks[b].next = pool->free_head;
		pool->free_head = b;
		pool->nfree++;
		b = next;
	}
}

char *
kz_meta_copy(int32 head, int32 len)
{
	char	   *out;
	int32		done = 0;
	int32		b = head;

	if (head <= 0 || len <= 0)
		return NULL;
	out = palloc(len + 1);
	while (done < len && b > 0 && b < pool->nblocks)
	{
		int32		n = Min(len - done, KZ_META_BLOCK_DATA);

		memcpy(out + done, pool->blocks[b].data, n);
		done += n;
		b = pool->blocks[b].next;
	}
	out[done] = '\0';
	return out;
}

bool
kz_meta_set_row(KzRow *row, const char *text, int32 len)
{
	int32		need = (text != NULL && len > 0) ? kz_meta_blocks(len) : 0;

	/* the row's own blocks count as free: they are given back first */
	if (need > pool->nfree + kz_meta_blocks(row->meta_len))
		return false;
	kz_meta_free(row->meta);
	row->meta = need > 0 ? kz_meta_store(text, len) : 0;
	row->meta_len = row->meta != 0 ? len : 0;
	return true;
}

void
kz_meta_release(KzRow *row)
{
	kz_meta_free(row->meta);
	kz_meta_free(row->rival_meta);
	row->meta = row->rival_meta = 0;
	row->meta_len = row->rival_meta_len = 0;
}

char *
kz_meta_of_local(const KzName *name, int64 ts)
{
	KzRow	   *row;
	char	   *text = NULL;

	LWLockAcquire(kz_shared->reg_lock, LW_SHARED);
	row = kz_reg_lookup(name);
	if (row != NULL && row->state == KZ_ROW_LOCAL && row->timestamp == ts)
		text = kz_meta_copy(row->meta, row->meta_len);
	LWLockRelease(kz_shared->reg_lock);
	return text;
}
