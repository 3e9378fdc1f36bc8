#!/usr/bin/env bash
#
# test/kazoo/build.sh - compile the part of Kazoo that kz_globals needs,
# from a Kazoo checkout given by path, plus our shims and boot module.
#
#   KAZOO_SRC=/path/to/kazoo bash test/kazoo/build.sh OUTDIR
#
# Kazoo's code is never part of this project: we compile it from the
# checkout KAZOO_SRC points at (tested with 2600hz/kazoo master dcf86cbc6d on
# Debian 12's Erlang/OTP 25).  Needs erlc, the amqp_client library that
# Debian's rabbitmq-server ships, OTP's include files and, to run, Debian's
# erlang-poolboy (see test/kazoo/packages.txt).  Writes OUTDIR/ebin/*.beam
# and OUTDIR/kazoo_commit (the checkout's commit, when it is a git checkout).

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
OUT=${1:?usage: KAZOO_SRC=... build.sh OUTDIR}
: "${KAZOO_SRC:?KAZOO_SRC must name a Kazoo checkout}"
SRC=$(cd "$KAZOO_SRC" && pwd -P)
CORE=$SRC/core

[ -f "$CORE/kazoo_globals/src/kz_globals.erl" ] ||
    { echo "build.sh: $SRC is not a Kazoo checkout (no core/kazoo_globals)" >&2; exit 1; }
command -v erlc >/dev/null || { echo "build.sh: erlc not found (apt-get install erlang-dev)" >&2; exit 1; }

# amqp_client and rabbit_common as Debian's rabbitmq-server ships them.
RMQ_PLUGINS=$(ls -d /usr/lib/rabbitmq/lib/rabbitmq_server-*/plugins 2>/dev/null | tail -n 1)
[ -n "$RMQ_PLUGINS" ] && [ -d "$(ls -d "$RMQ_PLUGINS"/amqp_client-* | tail -n 1)/ebin" ] ||
    { echo "build.sh: amqp_client not found under /usr/lib/rabbitmq (apt-get install rabbitmq-server)" >&2; exit 1; }

# The Kazoo modules kz_globals and kz_nodes run on, and what they call.
KAZOO_MODULES=(
    kazoo_amqp/src/gen_listener.erl
    kazoo_globals/src/kazoo_globals_init.erl
    kazoo_globals/src/kazoo_globals_sup.erl
    kazoo_globals/src/kz_global.erl
    kazoo_globals/src/kz_global_proxies_sup.erl
    kazoo_globals/src/kz_global_proxy.erl
    kazoo_globals/src/kz_globals.erl
    kazoo_globals/src/kz_nodes.erl
    kazoo_globals/src/kz_nodes_bindings.erl
    kazoo_amqp/src/kapi_definition.erl
    kazoo_amqp/src/kz_amqp_assignments.erl
    kazoo_amqp/src/kz_amqp_bootstrap.erl
    kazoo_amqp/src/kz_amqp_channel.erl
    kazoo_amqp/src/kz_amqp_connection.erl
    kazoo_amqp/src/kz_amqp_connection_sup.erl
    kazoo_amqp/src/kz_amqp_connections.erl
    kazoo_amqp/src/kz_amqp_federated_listeners_sup.erl
    kazoo_amqp/src/kz_amqp_sup.erl
    kazoo_amqp/src/kz_amqp_util.erl
    kazoo_amqp/src/listener_federator.erl
    kazoo_amqp/src/listener_utils.erl
    kazoo_amqp/src/api/kapi_globals.erl
    kazoo_amqp/src/api/kapi_nodes.erl
    kazoo_amqp/src/api/kapi_self.erl
    kazoo_amqp/src/api/kz_api.erl
    kazoo_apps/src/kz_amqp_worker.erl
    kazoo/src/kz_util.erl
    kazoo_amqp/src/api/kapi.erl
    kazoo_bindings/src/kazoo_bindings.erl
    kazoo_bindings/src/kazoo_bindings_rt.erl
    kazoo_bindings/src/kazoo_bindings_init.erl
    kazoo_bindings/src/kazoo_bindings_sup.erl
    kazoo_config/src/kz_config.erl
    kazoo_etsmgr/src/kazoo_etsmgr_srv.erl
    kazoo_stdlib/src/kz_base64url.erl
    kazoo_stdlib/src/kz_binary.erl
    kazoo_stdlib/src/kz_json.erl
    kazoo_stdlib/src/kz_log.erl
    kazoo_stdlib/src/kz_date.erl
    kazoo_stdlib/src/kz_maps.erl
    kazoo_stdlib/src/kz_mochinum.erl
    kazoo_stdlib/src/kz_module.erl
    kazoo_stdlib/src/kz_network_utils.erl
    kazoo_stdlib/src/kz_process.erl
    kazoo_stdlib/src/kz_term.erl
    kazoo_stdlib/src/kz_time.erl
    kazoo_stdlib/src/kz_types.erl
    kazoo_stdlib/src/props.erl
)

mkdir -p "$OUT/ebin"
export ERL_LIBS=$RMQ_PLUGINS
# -I $CORE: Kazoo's include_lib("kazoo_stdlib/include/...") resolve against
# the checkout (as Kazoo's own build does with -I../).
opts=(+debug_info -I "$CORE" -pa "$OUT/ebin" -o "$OUT/ebin")
for m in "${KAZOO_MODULES[@]}"; do
    f=$CORE/$m
    erlc "${opts[@]}" -I "$(dirname "$f")" -I "$CORE/${m%%/*}/include" -I "$CORE/${m%%/*}/src" "$f"
done
# Our shims and boot code.
for f in "$HERE"/shims/*.erl "$HERE"/kzt_*.erl; do
    [ -e "$f" ] || continue
    erlc "${opts[@]}" "$f"
done

# safe.directory: the checkout usually belongs to another user than the
# one running the tests, which git otherwise refuses to read.
if git -c safe.directory="$SRC" -C "$SRC" rev-parse HEAD >/dev/null 2>&1; then
    git -c safe.directory="$SRC" -C "$SRC" rev-parse HEAD >"$OUT/kazoo_commit"
else
    echo unknown >"$OUT/kazoo_commit"
fi
if [ -f "$SRC/VERSION" ]; then
    cp "$SRC/VERSION" "$OUT/kazoo_version"
fi
echo "build.sh: $(ls "$OUT"/ebin/*.beam | wc -l) modules in $OUT/ebin (Kazoo $(cat "$OUT/kazoo_commit"))"
