#!/usr/bin/env bash
#
# bench/run.sh - what `make bench` runs: the set-up of `make test` (packages,
# build, install, a private copy of the tree owned by an unprivileged user),
# then bench/bench.sh as that user, which prints one table of every measure
# of SPEC section 8 against baselines taken in the same run.

set -euo pipefail

# shellcheck source=test/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../test/harness/common.sh"

kz_run_privately "benchmarking" bench/bench.sh \
    BENCH_SECONDS="${BENCH_SECONDS:-8}" BENCH_ROUNDS="${BENCH_ROUNDS:-3}"
