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

kz_run_privately "running under valgrind" test/valgrind/workload.sh
