#!/usr/bin/env bash
#
# test/valgrind/run.sh - what `make valgrindcheck` runs: the set-up of `make
# test` (packages, build, install, a private copy of the tree owned by an
# unprivileged user), then workload.sh as that user: a two-server cluster
# whose first server (postmaster, backends and the kz_globals worker) runs
# under Valgrind memcheck, driven through the regression SQL and a
# cross-server workload.  Fails if Valgrind reports any error.

set -euo pipefail

# shellcheck source=test/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"

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
kz_log "running under valgrind as $user in $WORK"
kz_user_cmd "$user"
"${KZ_USER_CMD[@]}" bash "$WORK/test/valgrind/workload.sh" "$WORK"
