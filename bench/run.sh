#!/usr/bin/env bash
#
# bench/run.sh - what `make bench` runs: the set-up of `make test` (packages,
# build, install, a private copy of the tree owned by an unprivileged user),
# then bench/bench.sh as that user, which prints one table of every measure
# of SPEC section 8 against baselines taken in the same run.

set -euo pipefail

# shellcheck source=test/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../test/harness/common.sh"

WORK=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    [ -n "$WORK" ] && kz_cleanup_dir "$WORK"
    exit "$rc"
}
trap cleanup EXIT INT TERM HUP

kz_ensure_packages
kz_build_install
user=$(kz_test_user)
WORK=$(kz_make_workdir "$user")
kz_log "benchmarking as $user in $WORK"
kz_user_cmd "$user"
"${KZ_USER_CMD[@]}" BENCH_SECONDS="${BENCH_SECONDS:-8}" BENCH_ROUNDS="${BENCH_ROUNDS:-3}" \
    bash "$WORK/bench/bench.sh" "$WORK"
