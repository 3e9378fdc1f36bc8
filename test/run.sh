#!/usr/bin/env bash
#
# test/run.sh - what `make test` runs: set up, build, install, run every
# test suite as an unprivileged user and report "N passed, M failed".
#
#   1. apt-get install whatever test/harness/packages.txt lists and dpkg
#      does not have (as root, or through sudo);
#   2. make (warnings are errors) and make install (through sudo if needed);
#   3. copy the tree into a fresh /tmp/kz_globals_test.XXXXXX owned by the
#      test user (postgres when run as root, since initdb refuses root;
#      otherwise the current user);
#   4. run the suites there as that user:
#        unit     make unitcheck                 ("prog: N passed, M failed")
#        regress  make installcheck TAP_TESTS=   (pg_regress only)
#        tap      make prove_installcheck        (prove over test/t/*.pl)
#        suites   every executable test/suites/*.sh, each ending with a
#                 "N passed, M failed" line
#   5. print one line per suite and a last line "N passed, M failed"; on
#      failure also regression.diffs and the tails of the relevant logs;
#   6. stop whatever the suites left running and remove the copy, also on
#      failure and Ctrl-C.  Exit status 0 only if nothing failed.
#
# Counting: unit tests by their programs' summary lines; pg_regress per test
# (its "... ok" / "... FAILED" lines); TAP per assertion (prove's
# "Tests=" total minus the failed ones in its summary report; a test file
# that dies or exits non-zero without a failed assertion counts as one
# failure); test/suites/*.sh by their last "N passed, M failed" line.  A
# suite that fails without any counted failure (it did not build, crashed,
# timed out) counts as one failure.
#
# Environment:
#   SUITES=unit,regress,tap,suites   which suites to run; "suites" runs all
#                        of test/suites, a name like "py_fuzz" runs only
#                        test/suites/py_fuzz.sh
#   PROVE_TESTS=test/t/010_x.pl      TAP files to run (default test/t/*.pl)
#   PROVE_FLAGS=--verbose            extra prove flags
#   KEEP=1               keep the temporary copy (logs, data directories)
#   KZ_SKIP_SETUP=1      skip package installation, build and install
#   KZ_SUITE_TIMEOUT=2400            seconds per suite before it is killed
#   KZ_TEST_USER, PG_CONFIG, KZ_TMPDIR, PG_TEST_NOCLEAN, PG_TEST_EXTRA:
#                        see test/harness/common.sh

set -euo pipefail

# shellcheck source=test/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/harness/common.sh"

SUITES=${SUITES:-unit,regress,tap,suites}

# The TAP tests that need a broker run only when PG_TEST_EXTRA names amqp
# (as PostgreSQL's own suites that need an outside service): make test
# starts its brokers itself, so it always adds it.
case " ${PG_TEST_EXTRA:-} " in
    *" amqp "*) ;;
    *) PG_TEST_EXTRA="${PG_TEST_EXTRA:+$PG_TEST_EXTRA }amqp" ;;
esac
SUITE_TIMEOUT=${KZ_SUITE_TIMEOUT:-2400}

WORK=""         # the private copy of the tree
MAKE_CMD=()
KZ_USER_CMD=()
SUITE_PID=""    # the running suite (leader of its process group)
REGRESS_RC=0
TEST_USER=""
TOTAL_PASSED=0
TOTAL_FAILED=0
SUMMARY=()      # one "name: N passed, M failed" line per suite
FAILED_TAP=()   # TAP files that failed, for the log tails
ANY_FAILED=0

cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if [ -n "$WORK" ]; then
        kz_cleanup_dir "$WORK" || true
    fi
    exit "$rc"
}

# group_alive PGID: does process group PGID have a live (non-zombie) member?
group_alive() {
    perl -e '
        for my $f (glob("/proc/[0-9]*/stat")) {
            open(my $fh, "<", $f) or next;
            my $st = <$fh> // next;
            # Fields after the ")" that ends the command name: state ppid pgrp
            my ($state, undef, $pgrp) = split(" ", substr($st, rindex($st, ")") + 2));
            exit 0 if $pgrp == $ARGV[0] && $state ne "Z";
        }
        exit 1;' "$1"
}

on_signal() {
    kz_warn "interrupted, cleaning up"
    if [ -n "$SUITE_PID" ]; then
        kill -TERM -- "-$SUITE_PID" 2>/dev/null || kill -TERM "$SUITE_PID" 2>/dev/null || true
        # Give the test scripts' END blocks time to stop their servers: wait
        # (at most 30 s) until no live process is left in the group.  The
        # group leader (timeout) exits long before them.
        for _ in $(seq 1 150); do
            group_alive "$SUITE_PID" || break
            sleep 0.2
        done
    fi
    exit 130
}

trap cleanup EXIT
trap on_signal INT TERM HUP

# wants NAME: is suite NAME selected by $SUITES?
wants() {
    case ",$SUITES," in
        *",$1,"*) return 0 ;;
    esac
    return 1
}

# record NAME PASSED FAILED
record() {
    SUMMARY+=("$(printf '%-10s %d passed, %d failed' "$1:" "$2" "$3")")
    TOTAL_PASSED=$((TOTAL_PASSED + $2))
    TOTAL_FAILED=$((TOTAL_FAILED + $3))
    if [ "$3" -gt 0 ]; then
        ANY_FAILED=1
    fi
}

# run_logged LOG CMD...: run CMD as the test user in $WORK with a time
# limit, its output both shown and saved to LOG; return CMD's exit status.
#
# timeout(1) runs the suite in a process group of its own (no --foreground),
# so on expiry it signals the whole suite.  Because of that, a Ctrl-C on the
# terminal does not reach the suite: we start it in the background and
# wait, which lets on_signal run at once and send SIGTERM to that group
# (KzHarness and PostgreSQL::Test::Cluster then stop their servers in their
# END blocks).
run_logged() {
    local log=$1 rc=0 out tee_pid
    shift
    kz_user_cmd "$TEST_USER" "$WORK"
    # tee ignores SIGINT so that it shows the suite's last words on Ctrl-C.
    exec {out}> >(trap '' INT && exec tee "$log")
    tee_pid=$!
    timeout --kill-after=60 "$SUITE_TIMEOUT" "${KZ_USER_CMD[@]}" "$@" \
        </dev/null >&"$out" 2>&1 &
    SUITE_PID=$!
    exec {out}>&-
    wait "$SUITE_PID" || rc=$?
    SUITE_PID=""
    # Let tee write everything before the log is parsed.
    wait "$tee_pid" 2>/dev/null || true
    if [ "$rc" -eq 124 ]; then
        echo "*** timed out after ${SUITE_TIMEOUT}s" | tee -a "$log"
    fi
    return "$rc"
}

# make_cmd: the make command line the suites start from.
make_cmd() {
    MAKE_CMD=(make -C "$WORK" PG_CONFIG="$KZ_PG_CONFIG" WERROR=-Werror)
}

# ---------------------------------------------------------------- counting

# counted WHAT RC P F: print "P F", with one failure more when the suite
# failed (exit status RC) without a counted one.
counted() {
    local what=$1 rc=$2 p=$3 f=$4
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "$what failed (exit $rc) without a failed test" >&2
        f=1
    fi
    echo "$p $f"
}

# count_unit LOG RC: sum the programs' "prog: N passed, M failed" lines.
count_unit() {
    local p f
    read -r p f < <(awk '
        match($0, /: [0-9]+ passed, [0-9]+ failed$/) {
            split(substr($0, RSTART + 2), w, " ")
            p += w[1]; f += w[3]
        }
        END { print p + 0, f + 0 }' "$1")
    counted "unit: make unitcheck" "$2" "$p" "$f"
}

# count_regress LOG RC: pg_regress prints one line per test: "name ...
# ok|FAILED" up to PostgreSQL 15, TAP-style "ok N - name" / "not ok N -
# name" from 16 on.
count_regress() {
    local p f
    read -r p f < <(awk '
        / \.\.\. ok( |$)/ || / \.\.\. failed \(ignored\)/ { p++ }
        / \.\.\. FAILED/ { f++ }
        /^ok [0-9]+ / { p++ }
        /^not ok [0-9]+ / { if ($0 ~ /# \(ignored\)/) p++; else f++ }
        END { print p + 0, f + 0 }' "$1")
    counted "regress: pg_regress" "$2" "$p" "$f"
}

# count_tap LOG RC: from prove's summary.  "Files=F, Tests=T" gives the
# number of assertions run; each file in the "Test Summary Report" has
# "(Wstat: W Tests: T Failed: F)"; F=0 there means it died or exited
# non-zero after passing assertions, which counts as one failure.
count_tap() {
    local total failed broken seen
    read -r total failed broken seen < <(awk '
        /^Files=[0-9]+, Tests=[0-9]+/ {
            match($0, /Tests=[0-9]+/); total = substr($0, RSTART + 6, RLENGTH - 6) + 0
            seen = 1
        }
        /\(Wstat: .*Tests: [0-9]+ Failed: [0-9]+\)/ {
            match($0, /Failed: [0-9]+\)/); n = substr($0, RSTART + 8, RLENGTH - 9) + 0
            if (n > 0) failed += n; else broken++
        }
        END { print total + 0, failed + 0, broken + 0, seen + 0 }' "$1")
    local p=$((total - failed)) f=$((failed + broken))
    if [ "$seen" -eq 0 ] && [ "$2" -ne 0 ]; then
        echo "tap: prove did not run to the end (exit $2)" >&2
        p=0
        f=1
    fi
    counted "tap: prove" "$2" "$p" "$f"
}

# count_generic LOG RC: the last "N passed, M failed" line of the output.
count_generic() {
    local line p=0 f=0
    line=$(grep -Eo '[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1 || true)
    if [ -n "$line" ]; then
        p=${line%% passed*}
        f=${line#*, }
        f=${f%% failed*}
    elif [ "$2" -eq 0 ]; then
        echo "suite printed no \"N passed, M failed\" line" >&2
        f=1
    fi
    counted suite "$2" "$p" "$f"
}

# ---------------------------------------------------------------- suites

LOGDIR=""

suite_unit() {
    kz_log "suite unit: make unitcheck"
    local rc=0
    make_cmd
    run_logged "$LOGDIR/unit.log" "${MAKE_CMD[@]}" unitcheck || rc=$?
    # shellcheck disable=SC2046
    record unit $(count_unit "$LOGDIR/unit.log" "$rc")
}

suite_regress() {
    kz_log "suite regress: make installcheck (pg_regress only)"
    local rc=0
    # An empty TAP_TESTS on the command line turns off PGXS's prove step.
    make_cmd
    run_logged "$LOGDIR/regress.log" "${MAKE_CMD[@]}" installcheck TAP_TESTS= || rc=$?
    REGRESS_RC=$rc
    # shellcheck disable=SC2046
    record regress $(count_regress "$LOGDIR/regress.log" "$rc")
}

suite_tap() {
    kz_log "suite tap: make prove_installcheck${PROVE_TESTS:+ PROVE_TESTS=$PROVE_TESTS}"
    local rc=0
    local -a args=(prove_installcheck
        # Set on the command line, PROVE_FLAGS overrides the Makefile's
        # (and PGXS's reset of it), so it must include -I ./test/perl.
        "PROVE_FLAGS=-I ./test/perl ${PROVE_FLAGS:-}")
    if [ -n "${PROVE_TESTS:-}" ]; then
        args+=("PROVE_TESTS=$PROVE_TESTS")
    fi
    make_cmd
    run_logged "$LOGDIR/tap.log" "${MAKE_CMD[@]}" "${args[@]}" || rc=$?
    # The failing files, for show_failure_details.
    mapfile -t FAILED_TAP < <(sed -n 's/^\([^ ]*\.pl\) *(Wstat: .*/\1/p' "$LOGDIR/tap.log")
    # shellcheck disable=SC2046
    record tap $(count_tap "$LOGDIR/tap.log" "$rc")
}

# suite_scripts: test/suites/*.sh, all of them if "suites" is selected,
# else those named in $SUITES.
suite_scripts() {
    local script name rc
    for script in "$WORK"/test/suites/*.sh; do
        [ -x "$script" ] || continue
        name=$(basename "$script" .sh)
        if ! wants suites && ! wants "$name"; then
            continue
        fi
        kz_log "suite $name: test/suites/$name.sh"
        rc=0
        run_logged "$LOGDIR/suite_$name.log" \
            env KZ_ROOT="$WORK" "$script" || rc=$?
        # shellcheck disable=SC2046
        record "$name" $(count_generic "$LOGDIR/suite_$name.log" "$rc")
    done
}

# ---------------------------------------------------------------- reporting

# tail_file FILE [LINES]
tail_file() {
    local f=$1 n=${2:-40}
    [ -s "$f" ] || return 0
    echo "----- ${f#"$WORK"/} (last $n lines)"
    tail -n "$n" "$f"
    # Keep the next header on its own line.
    [ -z "$(tail -c 1 "$f")" ] || echo
}

show_failure_details() {
    local f t base
    kz_log "details of the failures"
    if [ -s "$WORK/regression.diffs" ]; then
        echo "----- regression.diffs"
        head -n 500 "$WORK/regression.diffs"
    fi
    # pg_regress's temporary instance logs to ./log (initdb.log,
    # postmaster.log).
    if [ -s "$WORK/regression.diffs" ] || [ "${REGRESS_RC:-0}" -ne 0 ]; then
        for f in "$WORK"/log/*.log; do
            [ -e "$f" ] && tail_file "$f" 60
        done
    fi
    for t in "${FAILED_TAP[@]+"${FAILED_TAP[@]}"}"; do
        base=$(basename "$t" .pl)
        for f in "$WORK/tmp_check/log/regress_log_$base" "$WORK/tmp_check/log/${base}"_*.log; do
            [ -e "$f" ] && tail_file "$f" 80
        done
    done
    # Brokers of test files that passed were removed by KzHarness; what is
    # left belongs to failures.
    for f in "$WORK"/tmp_check/*/log/*.log; do
        [ -e "$f" ] && tail_file "$f" 40
    done
    return 0
}

# ---------------------------------------------------------------- main

main() {
    local start=$SECONDS
    if [ "${KZ_SKIP_SETUP:-0}" != 1 ]; then
        kz_ensure_packages
        if [ -n "${KAZOO_SRC:-}" ]; then
            KZ_PACKAGES_FILE=$KZ_ROOT/test/kazoo/packages.txt kz_ensure_packages
        fi
        if ! kz_build_install; then
            record build 0 1
            printf '%s\n' "${SUMMARY[@]}"
            echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
            exit 1
        fi
    fi

    TEST_USER=$(kz_test_user)
    id "$TEST_USER" >/dev/null 2>&1 || kz_die "test user $TEST_USER does not exist"
    WORK=$(kz_make_workdir "$TEST_USER")
    LOGDIR="$WORK/.kz_run"
    mkdir -p "$LOGDIR"
    kz_log "running the tests as $TEST_USER in $WORK"

    wants unit && suite_unit
    wants regress && suite_regress
    wants tap && suite_tap
    suite_scripts

    if [ "$ANY_FAILED" -ne 0 ]; then
        show_failure_details
    fi
    if [ -z "${KAZOO_SRC:-}" ] && wants tap; then
        kz_log "SKIPPED the interop tests against real Kazoo (test/t/070_kazoo_interop.pl): KAZOO_SRC is not set (README, \"Tests\")"
    fi
    kz_log "results ($((SECONDS - start)) s)"
    if [ "${#SUMMARY[@]}" -gt 0 ]; then
        printf '%s\n' "${SUMMARY[@]}"
    fi
    echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
    [ "$ANY_FAILED" -eq 0 ]
}

main "$@"
