/*-------------------------------------------------------------------------
 *
 * backend_exit.h
 *	  A backend's attachment to kz_globals, and its release at exit.
 *
 * IDENTIFICATION
 *	  src/backend/backend_exit.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_BACKEND_EXIT_H
#define KZ_BACKEND_EXIT_H

/* Installs the hook that arms the exit callback in every client backend. */
extern void kz_backend_exit_init(void);

/*
 * Called first by every SQL function: checks the library is preloaded,
 * attaches to the DSA area, takes this backend's slot and arms the exit
 * callback.
 */
extern void kz_session_attach(void);

#endif							/* KZ_BACKEND_EXIT_H */
