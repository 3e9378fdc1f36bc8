#!/usr/bin/env bash
#
# test/kazoo/kazoo_node.sh - run one Kazoo node (kazoo_globals and
# kazoo_amqp only, built by build.sh) in the foreground, driven through
# kzt_node's JSON lines on stdin/stdout.
#
#   kazoo_node.sh EBIN NODE AMQP_URI LOGFILE
#
# NODE is the Erlang node name (e.g. kzA@localhost).  The node takes a name
# without listening for Erlang distribution (-dist_listen false): it never
# talks to epmd or to other Erlang nodes, only to RabbitMQ.

set -euo pipefail

EBIN=${1:?usage: kazoo_node.sh EBIN NODE AMQP_URI LOGFILE}
NODE=${2:?}
URI=${3:?}
LOG=${4:?}

RMQ_PLUGINS=$(ls -d /usr/lib/rabbitmq/lib/rabbitmq_server-*/plugins | tail -n 1)
# Nothing from the caller's Erlang set-up (a broker's RABBITMQ_*/ERL_* of
# the harness) may leak in.
unset ERL_FLAGS ERL_AFLAGS ERL_ZFLAGS ERL_EPMD_PORT ERL_EPMD_ADDRESS
export ERL_LIBS=$RMQ_PLUGINS
# A private HOME: erl wants a cookie file even without listening.
export HOME=${LOG%/*}/home-$NODE
mkdir -p "$HOME"
exec erl -noshell -sname "$NODE" -dist_listen false -start_epmd false -hidden \
    -setcookie kzt_not_used \
    -pa "$EBIN" \
    -kernel logger '[{handler,default,undefined}]' -kernel error_logger silent \
    -s kzt_node main "$URI" "$LOG"
