#!/usr/bin/env bash
#
# test/suites/model.sh - the model-based tests (SPEC section 7): builds the
# C rules oracle (test/py/librules_oracle.so), starts a throwaway RabbitMQ
# and PostgreSQL servers with test/perl/kz_cluster.pl, runs
# test/py/model_test.py against them (it adds simulated Kazoo nodes),
# stops everything whatever happens, and prints "N passed, M failed" last.
#
# Run as an unprivileged user (test/run.sh does; as root:
#   runuser -u postgres -- env KZ_ROOT=<copy of the tree> bash <copy>/test/suites/model.sh).
#
# Environment (see test/py/model_test.py for the rest):
#   KZ_ROOT              the tree (default: the one holding this script)
#   KZ_MODEL_SERVERS     PostgreSQL servers (default 3)
#   KZ_MODEL_HEARTBEAT   kz_globals.heartbeat_interval (default 1s: the
#                        simulated nodes expire a server after 3 s of silence)
#   KZ_MODEL_SEED, KZ_MODEL_EXAMPLES, KZ_MODEL_STEPS, KZ_MODEL_PAR_EXAMPLES,
#   KZ_MODEL_VARIANTS, KZ_MODEL_SESSIONS, KZ_MODEL_SIMS, KZ_MODEL_CONVERGE_S,
#   KZ_MODEL_VERBOSE     passed on to model_test.py
#   PG_CONFIG            the pg_config whose headers build the oracle
#                        (default: the one in PATH; test/run.sh sets it)
#   KEEP=1               keep the cluster directory (logs, data)

# cleanup and read_result run from the EXIT trap:
# shellcheck disable=SC2317
set -euo pipefail

KZ_ROOT=${KZ_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
SERVERS=${KZ_MODEL_SERVERS:-3}
HEARTBEAT=${KZ_MODEL_HEARTBEAT:-1s}

KZ_CLUSTER="$KZ_ROOT/test/perl/kz_cluster.pl"

mkdir -p "$KZ_ROOT/tmp_check"
DIR=$(mktemp -d "$KZ_ROOT/tmp_check/model.XXXXXX")
RESULT="$DIR/result"
PY_PID=""

SUMMARY="0 passed, 1 failed"

# read_result: the summary line from model_test.py's result file.
read_result() {
    local passed failed
    if [ -s "$RESULT" ] && read -r passed failed <"$RESULT"; then
        SUMMARY="$passed passed, $failed failed"
    fi
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if [ -n "$PY_PID" ] && kill -0 "$PY_PID" 2>/dev/null; then
        kill -TERM "$PY_PID" 2>/dev/null || true
        wait "$PY_PID" 2>/dev/null || true
    fi
    read_result
    if [ "$rc" -ne 0 ]; then
        # What the servers' workers said, and any crash.
        for log in "$DIR"/tmp_check/log/kz_cluster_pg*.log; do
            [ -f "$log" ] || continue
            echo "----- ${log##*/}: worker lines, crashes (last 40)"
            grep -E 'kz_globals worker|PANIC|terminated by signal|server process' \
                "$log" | tail -n 40 || true
        done
    fi
    perl "$KZ_CLUSTER" stop "$DIR" || true
    if [ "${KEEP:-0}" = 1 ]; then
        echo "KEEP=1: leaving $DIR"
    else
        rm -rf "$DIR"
    fi
    echo "$SUMMARY"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# The oracle: the registry rules in C as a library model_test.py loads
# (test/py/rules_oracle.c), built from this tree's sources.
echo "model: building test/py/librules_oracle.so"
if ! make -C "$KZ_ROOT" --no-print-directory WERROR=-Werror \
    ${PG_CONFIG:+PG_CONFIG=$PG_CONFIG} test/py/librules_oracle.so; then
    echo "model: the rules oracle did not build"
    echo "0 1" >"$RESULT"
    exit 1
fi

echo "model: starting RabbitMQ and $SERVERS PostgreSQL servers in $DIR"
if ! perl "$KZ_CLUSTER" start "$DIR" "$SERVERS" \
    --conf "kz_globals.heartbeat_interval = '$HEARTBEAT'" \
    --conf "log_min_messages = log" >/dev/null; then
    echo "model: the cluster did not start"
    echo "0 1" >"$RESULT"
    exit 1
fi

rc=0
/usr/bin/python3 "$KZ_ROOT/test/py/model_test.py" --cluster "$DIR" \
    --result "$RESULT" &
PY_PID=$!
wait "$PY_PID" || rc=$?
PY_PID=""
exit "$rc"
