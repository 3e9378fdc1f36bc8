#!/usr/bin/env bash
#
# bench/run.sh [scale] - what `make bench` (bench/bench.sh: the table of
# every measure of SPEC section 8 against baselines taken in the same run)
# and `make bench-scale` (bench/scale.sh: the growth curves, with gnuplot's
# plots copied to bench/results/) run: the set-up of `make test` (packages,
# build, install, a private copy of the tree owned by an unprivileged user),
# then the script as that user.

set -euo pipefail

# shellcheck source=test/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../test/harness/common.sh"

if [ "${1:-}" = scale ]; then
    # gnuplot for the plots; not needed by make test
    KZ_PACKAGES_FILE=$KZ_ROOT/bench/packages.txt kz_ensure_packages
    results=$KZ_ROOT/bench/results
    # kz_run_privately removes its copy on exit: take the results out first
    _kz_copy_results() {
        if [ -n "${KZ_PRIVATE_WORK:-}" ] && [ -d "$KZ_PRIVATE_WORK/bench_results" ]; then
            mkdir -p "$results"
            cp "$KZ_PRIVATE_WORK"/bench_results/* "$results"/
            kz_log "results in $results"
        fi
    }
    kz_run_privately "measuring growth" bench/scale.sh \
        SCALE_SERVERS="${SCALE_SERVERS-3 5 9}" SCALE_BROKERS="${SCALE_BROKERS-9}" \
        SCALE_NAMES="${SCALE_NAMES-10000 100000 1000000}" \
        SCALE_SIZES="${SCALE_SIZES-100 8192 65536}" SCALE_CLAIMS="${SCALE_CLAIMS:-1000}" \
        SCALE_SENDS="${SCALE_SENDS:-1000}" || { rc=$?; _kz_copy_results; exit $rc; }
    _kz_copy_results
else
    kz_run_privately "benchmarking" bench/bench.sh \
        BENCH_SECONDS="${BENCH_SECONDS:-8}" BENCH_ROUNDS="${BENCH_ROUNDS:-3}"
fi
