/*-------------------------------------------------------------------------
 *
 * rabbitmq_c.h
 *	  The rabbitmq-c headers, from wherever the installed version keeps
 *	  them.
 *
 * rabbitmq-c 0.12 moved its headers to <rabbitmq-c/...> (amqp.h, framing.h,
 * tcp_socket.h, ssl_socket.h) and left the old top-level names as wrappers
 * that raise a #warning; 0.11 and older have only the old names.  The
 * Makefile defines KZ_RABBITMQ_C_DIR when <rabbitmq-c/amqp.h> compiles (a
 * header check rather than a version number, so that it also works for a
 * build without pkg-config data).  Used by the extension and by the
 * benchmark programs.
 *
 * IDENTIFICATION
 *	  src/conn/rabbitmq_c.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_RABBITMQ_C_H
#define KZ_RABBITMQ_C_H

#ifdef KZ_RABBITMQ_C_DIR
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/framing.h>
#include <rabbitmq-c/ssl_socket.h>
#include <rabbitmq-c/tcp_socket.h>
#else
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#endif

#endif							/* KZ_RABBITMQ_C_H */
