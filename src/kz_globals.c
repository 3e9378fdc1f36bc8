/*-------------------------------------------------------------------------
 *
 * kz_globals.c
 *	  Module entry point of kz_globals.
 *
 * The library must be preloaded: it needs shared memory and a background
 * worker.  When it is not, _PG_init only defines the parameters that may
 * exist in any session and every SQL function reports the missing preload
 * with a hint (kz_require_shmem), so that CREATE EXTENSION and dump/restore
 * still work.
 *
 * IDENTIFICATION
 *	  src/kz_globals.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

#include "backend_exit.h"
#include "guc.h"
#include "shmem.h"
#include "worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	bool		preloading = process_shared_preload_libraries_in_progress;

	if (IsBinaryUpgrade)
		return;
	kz_guc_init(preloading);
	if (!preloading)
		return;
	kz_guc_mask_log_init();
	kz_shmem_init();
	kz_backend_exit_init();
	kz_worker_register();
}
