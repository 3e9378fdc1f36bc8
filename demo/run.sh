#!/usr/bin/env bash
#
# demo/run.sh - what `make demo` runs.  As root (or a user with sudo) on a
# fresh Debian 12: install missing packages, build and install kz_globals,
# then, as an unprivileged user in a private copy of the tree, start a
# throwaway RabbitMQ and three PostgreSQL servers, show the registry at
# work across them (demo/demo.sh), and stop everything again.

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
kz_log "running the demo as $user in $WORK"
kz_as_user "$user" bash "$WORK/demo/demo.sh" "$WORK/cluster"
