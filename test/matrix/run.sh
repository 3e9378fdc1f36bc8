#!/usr/bin/env bash
#
# test/matrix/run.sh - what `make matrix` runs: `make test` on every Debian
# release we support, each in a fresh minimal root filesystem, and one table
# of the results.  Not part of .ci/run (CI tests the machine it is given).
#
# For each release (bookworm, trixie, sid):
#   1. once, and cached: debootstrap --variant=minbase into $MATRIX_CACHE/REL
#      (the pristine rootfs; never modified afterwards);
#   2. copy it to a throw-away $MATRIX_CACHE/run.REL.XXXXXX, mount proc, dev,
#      dev/pts and sys there, keep downloaded .debs in $MATRIX_CACHE/debs.REL;
#   3. clone the current commit (HEAD of the checkout this script lives in;
#      uncommitted changes are not tested) into /root/kz_globals there;
#   4. run the steps (matrix_step_* below), each in a fresh copy, as root,
#      like CI:
#        test   CI=true bash .ci/run (packages, build, make test);
#        demo   apt-get install make, then make demo, as a new user would;
#      a new step is a function matrix_step_NAME (see there) named in
#      MATRIX_STEPS;
#   5. unmount, stop whatever still runs in the chroot and remove the copy,
#      also on failure and Ctrl-C.
# Then print one table: release, PostgreSQL, RabbitMQ, rabbitmq-c, OTP, each
# suite's "N passed, M failed", wall time; and a last "N passed, M failed".
#
# Environment:
#   MATRIX_RELEASES=bookworm,trixie,sid   releases to run (comma-separated)
#   MATRIX_CACHE=/srv/kzmatrix            cached root filesystems, logs
#   MATRIX_MIRROR=URL        Debian archive (default: the first
#                            "deb" URI of this host's apt sources)
#   MATRIX_APT_CONF=FILE     an apt.conf snippet copied into every rootfs,
#                            e.g. for a mirror whose Release files have
#                            expired (Acquire::Check-Valid-Until "false";)
#   MATRIX_STEPS=test,demo   steps to run per release (comma-separated;
#                            also deb: build, install and check the package)
#   MATRIX_KEEP=1            keep each run's rootfs (for a post-mortem)
#   SUITES, PROVE_TESTS, KZ_SUITE_TIMEOUT: passed on to make test
#
# Logs: $MATRIX_CACHE/logs/<date>/<release>-<step>.log; the table is also
# written to $MATRIX_CACHE/logs/<date>/table.txt.
#
# Needs root (debootstrap, chroot, mount) and debootstrap, git on the host.

set -euo pipefail

KZ_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
MATRIX_RELEASES=${MATRIX_RELEASES:-bookworm,trixie,sid}
MATRIX_CACHE=${MATRIX_CACHE:-/srv/kzmatrix}
MATRIX_STEPS=${MATRIX_STEPS:-test,demo}

RUN_ROOT=""         # the rootfs copy in use (cleaned up by run_root_cleanup)
TESTED=""           # the commit under test
TABLE=()            # result rows
TOTAL_PASSED=0
TOTAL_FAILED=0
LOGDIR=""

log() {
    printf '== %s\n' "$*"
}

die() {
    printf 'matrix: %s\n' "$*" >&2
    exit 1
}

# mirror: the archive to debootstrap from.
mirror() {
    if [ -n "${MATRIX_MIRROR:-}" ]; then
        echo "$MATRIX_MIRROR"
        return
    fi
    local m
    m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
            /etc/apt/sources.list.d/*.sources 2>/dev/null |
        awk '/^deb / && $2 !~ /security/ { print $2; exit }
             /^URIs:/ && $2 !~ /security/ { print $2; exit }')
    [ -n "$m" ] || die "no Debian mirror found in this host's apt sources; set MATRIX_MIRROR"
    echo "$m"
}

# ---------------------------------------------------------------- rootfs

# rootfs_ensure REL: the cached pristine rootfs of REL, built once.  Built
# in a temporary directory and renamed when complete, so that an
# interrupted debootstrap never leaves a half rootfs in the cache.
rootfs_ensure() {
    local rel=$1 dir="$MATRIX_CACHE/$1" tmp
    if [ -f "$dir/.kz_matrix_rootfs" ]; then
        return 0
    fi
    command -v debootstrap >/dev/null || die "debootstrap not found (apt-get install debootstrap)"
    mkdir -p "$MATRIX_CACHE"
    tmp="$MATRIX_CACHE/.new.$rel"
    rm -rf "$tmp"
    log "$rel: debootstrap --variant=minbase (once; cached in $dir)"
    if ! debootstrap --variant=minbase "$rel" "$tmp" "$(mirror)" >"$MATRIX_CACHE/debootstrap.$rel.log" 2>&1; then
        tail -n 20 "$MATRIX_CACHE/debootstrap.$rel.log" >&2
        rm -rf "$tmp"
        die "debootstrap of $rel failed (log: $MATRIX_CACHE/debootstrap.$rel.log)"
    fi
    # A minbase rootfs has no apt lists yet; make test's apt-get update
    # fetches them.  Downloaded .debs are kept (see run_root_mount).
    rm -f "$tmp/etc/apt/apt.conf.d/docker-clean"
    date -u +%FT%TZ >"$tmp/.kz_matrix_rootfs"
    rm -rf "$dir"
    mv "$tmp" "$dir"
}

# ---------------------------------------------------------------- one run

# run_root_create REL: a throw-away copy of REL's rootfs, in RUN_ROOT.
run_root_create() {
    local rel=$1
    RUN_ROOT=$(mktemp -d "$MATRIX_CACHE/run.$rel.XXXXXX")
    log "$rel: fresh copy of the rootfs in $RUN_ROOT"
    cp -a "$MATRIX_CACHE/$rel/." "$RUN_ROOT/"
    if [ -n "${MATRIX_APT_CONF:-}" ]; then
        cp "$MATRIX_APT_CONF" "$RUN_ROOT/etc/apt/apt.conf.d/99kz-matrix"
    fi
    cp -L /etc/resolv.conf "$RUN_ROOT/etc/resolv.conf" 2>/dev/null || true
    # The .debs of earlier runs: a run still installs every package, but
    # downloads each only once.
    mkdir -p "$MATRIX_CACHE/debs.$rel/partial"
    mount --bind "$MATRIX_CACHE/debs.$rel" "$RUN_ROOT/var/cache/apt/archives"
    mount -t proc proc "$RUN_ROOT/proc"
    mount --rbind /sys "$RUN_ROOT/sys"
    mount --make-rslave "$RUN_ROOT/sys"
    mount --rbind /dev "$RUN_ROOT/dev"
    mount --make-rslave "$RUN_ROOT/dev"
}

# procs_in_root DIR: the processes whose root directory is DIR.
procs_in_root() {
    local p root
    for p in /proc/[0-9]*; do
        root=$(readlink "$p/root" 2>/dev/null) || continue
        if [ "$root" = "$1" ]; then
            echo "${p#/proc/}"
        fi
    done
}

# run_root_cleanup: stop what still runs in RUN_ROOT (a broker's epmd, a
# server a killed test left), unmount everything below it, remove it.
run_root_cleanup() {
    local root=$RUN_ROOT pids mnt
    [ -n "$root" ] && [ -d "$root" ] || return 0
    RUN_ROOT=""
    pids=$(procs_in_root "$root")
    if [ -n "$pids" ]; then
        # shellcheck disable=SC2086 # one pid per word
        kill -TERM $pids 2>/dev/null || true
        sleep 2
        pids=$(procs_in_root "$root")
        # shellcheck disable=SC2086
        [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
    fi
    # Deepest mount points first; a lazy unmount for anything still busy.
    for mnt in $(awk -v r="$root" 'index($2, r "/") == 1 { print $2 }' /proc/self/mounts | sort -r); do
        umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
    done
    if awk -v r="$root" 'index($2, r "/") == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
        echo "matrix: mounts left below $root, not removing it" >&2
        return 1
    fi
    if [ "${MATRIX_KEEP:-0}" = 1 ]; then
        log "MATRIX_KEEP=1: leaving $root"
    else
        rm -rf "$root"
    fi
}

# in_root CMD...: run CMD as root in the chroot, with the clean environment
# CI has (CI=true) plus the test knobs given to us.
in_root() {
    local -a envv=(HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
        LANG=C.UTF-8 CI=true)
    local v
    for v in SUITES PROVE_TESTS KZ_SUITE_TIMEOUT; do
        [ -z "${!v:-}" ] || envv+=("$v=${!v}")
    done
    # In the background and waited for, so that a signal to this script is
    # handled at once (bash runs traps only between foreground commands).
    chroot "$RUN_ROOT" /usr/bin/env -i "${envv[@]}" "$@" &
    wait "$!"
}

# clone_head: the current commit of this checkout into /root/kz_globals.
clone_head() {
    local sha
    sha=$(git -C "$KZ_ROOT" rev-parse "$TESTED")
    git clone --quiet --no-checkout "$KZ_ROOT" "$RUN_ROOT/root/kz_globals"
    git -C "$RUN_ROOT/root/kz_globals" checkout --quiet --detach "$sha"
}

# versions: "PostgreSQL RabbitMQ rabbitmq-c OTP" installed in the chroot,
# for the PostgreSQL of pg_config $1 (default: the newest Debian one).
versions() {
    local cfg=${1:-}
    in_root bash -c '
        cfg=$1
        [ -n "$cfg" ] || cfg=$(ls -1 /usr/lib/postgresql/*/bin/pg_config 2>/dev/null | sort -t/ -k4,4n | tail -n 1)
        pg=$("$cfg" --version 2>/dev/null | sed "s/^PostgreSQL //; s/ .*//")
        rmq=$(dpkg-query -W -f="\${Version}" rabbitmq-server 2>/dev/null | sed "s/-.*//")
        rmqc=$(pkg-config --modversion librabbitmq 2>/dev/null)
        otp=$(erl -noshell -eval "io:put_chars(erlang:system_info(otp_release)), halt()." 2>/dev/null)
        echo "${pg:-?} ${rmq:-?} ${rmqc:-?} ${otp:-?}"' _ "$cfg"
}

# suite_cells LOG: the "name: N passed, M failed" lines of make test's
# summary, as "name N/M" words (passed/failed).
suite_cells() {
    awk '/^== results/ { on = 1; next }
         on && match($0, /^[a-z_0-9]+: +[0-9]+ passed, [0-9]+ failed/) {
             split($0, w, /[: ,]+/); printf "%s=%s/%s ", w[1], w[2], w[4]
         }' "$1"
}

# add_row REL STEP VERSIONS RC SECONDS LOG
add_row() {
    local rel=$1 step=$2 vers=$3 rc=$4 secs=$5 log=$6 cells p f
    cells=$(suite_cells "$log")
    local line
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || true)
    if [ -n "$line" ]; then
        p=${line%% passed*}
        f=${line#*, }
        f=${f%% failed*}
    elif [ "$rc" -eq 0 ]; then
        # a step that counts nothing (demo) is one check
        p=1
        f=0
        cells="ok"
    else
        p=0
        f=1
        cells="FAILED"
    fi
    # A step that failed without a counted failure (set-up, build) counts
    # as one.
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
    fi
    TOTAL_PASSED=$((TOTAL_PASSED + p))
    TOTAL_FAILED=$((TOTAL_FAILED + f))
    # shellcheck disable=SC2086
    TABLE+=("$rel $step $vers ${cells:--} $(printf '%dm%02ds' $((secs / 60)) $((secs % 60))) exit=$rc")
}

# ---------------------------------------------------------------- steps
#
# matrix_step_NAME REL LOG: run one step in the prepared chroot (RUN_ROOT,
# the clone in /root/kz_globals), output to LOG; returns its exit status.
# Each step sets STEP_VERSIONS ("PostgreSQL RabbitMQ rabbitmq-c OTP") for
# its row.  A step that needs a pristine rootfs of its own (e.g. installing
# a built Debian package into a clean system) can call run_root_cleanup and
# run_root_create itself.

STEP_VERSIONS=""

# test: what CI does on a fresh machine of this release.
matrix_step_test() {
    local rc=0
    in_root bash -c 'cd /root/kz_globals && bash .ci/run' >"$2" 2>&1 || rc=$?
    STEP_VERSIONS=$(versions)
    return "$rc"
}

# deb: the Debian package, the Debian way (packaging/check.sh): built with
# dpkg-buildpackage in a clean copy of the release's cached rootfs,
# installed with apt into another, and the regression and upgrade tests run
# against the installed files, not the build tree.
matrix_step_deb() {
    local rc=0
    # check.sh copies the cached rootfs itself and takes the machine's apt
    # settings from it (e.g. an expired Release file accepted)
    if [ -n "${MATRIX_APT_CONF:-}" ]; then
        cp "$MATRIX_APT_CONF" "$MATRIX_CACHE/$1/etc/apt/apt.conf.d/"
    fi
    KZ_PKG_MIRROR=$(mirror) bash "$KZ_ROOT/packaging/check.sh" "$1" "$MATRIX_CACHE/$1" \
        >"$2" 2>&1 || rc=$?
    STEP_VERSIONS=$(versions)
    return "$rc"
}

# demo: make demo, as a new user would run it first, on its own fresh
# rootfs: make is all it needs (a minimal Debian has none), it installs
# the rest itself.
matrix_step_demo() {
    local rc=0
    in_root bash -c '
        set -e
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q && apt-get install -y -q --no-install-recommends make
        cd /root/kz_globals && make demo' >"$2" 2>&1 || rc=$?
    STEP_VERSIONS=$(versions)
    return "$rc"
}

# ---------------------------------------------------------------- main

cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    run_root_cleanup || true
    exit "$rc"
}

on_signal() {
    echo "matrix: interrupted, cleaning up" >&2
    exit 130
}

# print_table: the table as text (also in table.txt) and as Markdown for
# the README (table.md).
print_table() {
    local row
    {
        echo "| Debian | step | PostgreSQL | RabbitMQ | rabbitmq-c | OTP | passed/failed | wall time |"
        echo "|---|---|---|---|---|---|---|---|"
        for row in "${TABLE[@]}"; do
            # shellcheck disable=SC2086
            set -- $row
            local rel=$1 step=$2 pg=$3 rmq=$4 rmqc=$5 otp=$6 cells time
            shift 6
            time=${*: -2:1}
            cells=${*:1:$#-2}
            printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$rel" "$step" "$pg" "$rmq" \
                "$rmqc" "$otp" "${cells// /, }" "$time"
        done
    } >"$LOGDIR/table.md"
    {
        printf '%-9s %-5s %-10s %-9s %-10s %-4s %s\n' release step PostgreSQL RabbitMQ rabbitmq-c OTP "suites (passed/failed), wall time, exit"
        for row in "${TABLE[@]}"; do
            # shellcheck disable=SC2086
            set -- $row
            printf '%-9s %-5s %-10s %-9s %-10s %-4s' "$1" "$2" "$3" "$4" "$5" "$6"
            shift 6
            echo " $*"
        done
        echo "matrix run of $TESTED on $(date -u '+%F %H:%M UTC'), $((SECONDS / 60)) min"
        echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
    } | tee "$LOGDIR/table.txt"
}

main() {
    [ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot, mount)"
    command -v git >/dev/null || die "git not found"
    trap cleanup EXIT
    trap on_signal INT TERM HUP
    LOGDIR="$MATRIX_CACHE/logs/$(date -u +%Y%m%dT%H%M%SZ)"
    mkdir -p "$LOGDIR"
    TESTED=$(git -C "$KZ_ROOT" rev-parse --short HEAD)
    log "testing $TESTED ($(git -C "$KZ_ROOT" log -1 --format=%s HEAD | cut -c1-60)); logs in $LOGDIR"
    if [ -n "$(git -C "$KZ_ROOT" status --porcelain --untracked-files=no)" ]; then
        log "note: uncommitted changes in $KZ_ROOT are not tested"
    fi

    local rel step steps start rc
    IFS=, read -r -a steps <<<"$MATRIX_STEPS"
    for rel in ${MATRIX_RELEASES//,/ }; do
        rootfs_ensure "$rel"
        for step in "${steps[@]}"; do
            declare -F "matrix_step_$step" >/dev/null || die "no such step: $step"
            start=$SECONDS
            run_root_create "$rel"
            clone_head
            log "$rel: step $step (log: $LOGDIR/$rel-$step.log)"
            rc=0
            "matrix_step_$step" "$rel" "$LOGDIR/$rel-$step.log" || rc=$?
            tail -n 12 "$LOGDIR/$rel-$step.log"
            add_row "$rel" "$step" "$STEP_VERSIONS" "$rc" $((SECONDS - start)) "$LOGDIR/$rel-$step.log"
            run_root_cleanup
        done
    done
    print_table
    [ "$TOTAL_FAILED" -eq 0 ]
}

main "$@"
