#!/usr/bin/env bash
#
# packaging/check.sh - build the Debian packages of kz_globals in a clean
# root filesystem of a Debian release, install them into a second clean one
# and run the regression suite there against the installed package.
#
#   packaging/check.sh RELEASE ROOTFS
#
#   RELEASE  a Debian suite debootstrap knows: bookworm, trixie, sid
#   ROOTFS   a minimal root filesystem of RELEASE (debootstrap
#            --variant=minbase); made with debootstrap if it does not exist
#            yet, and never changed: the build and the check each run in a
#            throwaway copy of it.  apt settings the machine needs (a proxy,
#            Acquire::Check-Valid-Until for an archive snapshot) belong in
#            ROOTFS/etc/apt; the copies inherit them.
#
# Run as root (chroot, mount).  Steps:
#   1. source: `git archive HEAD` of this checkout (KZ_PKG_SOURCE=worktree:
#      the working tree as it is, build outputs left out);
#   2. build, in copy 1: apt-get build-dep, `pg_buildext updatecontrol` (the
#      release's PostgreSQL majors from debian/pgversions), then
#      `dpkg-buildpackage -us -uc`: one postgresql-NN-kz-globals per major.
#      The compiler must not have been given -Werror;
#   3. check, in copy 2: apt-get install the built packages (which pulls
#      postgresql-NN from the release), postgresql-server-dev-NN (PGXS),
#      make and libipc-run-perl; then debian/tests/installcheck: pg_regress
#      (test/sql) and test/t/070_upgrade.pl, both against the installed
#      files;
#   4. print one line per step and a last line "N passed, M failed"; exit 0
#      only if everything passed.  The copies are unmounted and removed, and
#      whatever still runs in them is stopped, also on failure and Ctrl-C.
#
# Environment:
#   KZ_PKG_OUT=DIR     keep the built files (.deb, .dsc, .changes, logs) in DIR
#   KZ_PKG_TMPDIR=DIR  where the copies go (default: beside ROOTFS; /tmp may
#                      be too small)
#   KZ_PKG_MIRROR=URL  debootstrap's mirror (default http://deb.debian.org/debian)
#   KZ_PKG_SOURCE=HEAD|worktree   what to build (default HEAD)
#   KZ_PKG_TAP=FILES   TAP files run against the package (default
#                      test/t/070_upgrade.pl; empty: none)
#   KEEP=1             keep the copies (unmounted) for a look afterwards

set -euo pipefail

usage() {
    echo "usage: $0 RELEASE ROOTFS" >&2
    exit 2
}

[ $# -eq 2 ] || usage
RELEASE=$1
ROOTFS=$(realpath -m "$2")
KZ_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
MIRROR=${KZ_PKG_MIRROR:-http://deb.debian.org/debian}
TAP=${KZ_PKG_TAP-test/t/070_upgrade.pl}
STEP_TIMEOUT=2400

[ "$(id -u)" -eq 0 ] || { echo "$0: must run as root (chroot, mount)" >&2; exit 2; }

WORK=""            # holds the two copies and the logs
COPIES=()          # chroots to tear down
SUMMARY=()
PASSED=0
FAILED=0

log() {
    printf '== %s\n' "$*"
}

record() {
    SUMMARY+=("$(printf '%-13s %d passed, %d failed' "$1:" "$2" "$3")")
    PASSED=$((PASSED + $2))
    FAILED=$((FAILED + $3))
}

# procs_in ROOT: processes whose root directory is ROOT (started in the chroot).
procs_in() {
    local p r
    for p in /proc/[0-9]*; do
        r=$(readlink "$p/root" 2>/dev/null) || continue
        [ "$r" = "$1" ] && echo "${p#/proc/}"
    done
    return 0
}

# mounted_under DIR: is anything mounted at or below DIR?
mounted_under() {
    awk -v d="$1" '$2 == d || index($2, d "/") == 1 { found = 1 } END { exit !found }' /proc/mounts
}

mount_chroot() {
    local r=$1
    mount -t proc proc "$r/proc"
    mount --rbind /dev "$r/dev"
    mount --make-rslave "$r/dev"
    mount --rbind /sys "$r/sys"
    mount --make-rslave "$r/sys"
}

umount_chroot() {
    local r=$1 pids m
    pids=$(procs_in "$r")
    if [ -n "$pids" ]; then
        log "stopping what still runs in $r: ${pids//$'\n'/ }"
        # shellcheck disable=SC2086
        kill -TERM $pids 2>/dev/null || true
        sleep 2
        pids=$(procs_in "$r")
        # shellcheck disable=SC2086
        [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
    fi
    for m in sys dev proc; do
        if mounted_under "$r/$m"; then
            umount -R "$r/$m" 2>/dev/null || umount -R -l "$r/$m" || true
        fi
    done
    ! mounted_under "$r"
}

cleanup() {
    local rc=$? r
    trap - EXIT INT TERM HUP
    for r in "${COPIES[@]+"${COPIES[@]}"}"; do
        if ! umount_chroot "$r"; then
            echo "$0: $r still has mounts; not removing it" >&2
            continue
        fi
        if [ "${KEEP:-0}" != 1 ]; then
            rm -rf --one-file-system "$r"
        fi
    done
    if [ -n "$WORK" ]; then
        if [ "${KEEP:-0}" = 1 ]; then
            log "KEEP=1: leaving $WORK"
        else
            # The copies are gone (or kept because still mounted, then rm
            # stops at the mount points).
            rm -rf --one-file-system "$WORK" 2>/dev/null || true
        fi
    fi
    exit "$rc"
}
CHILD=""          # the running in_chroot step

on_signal() {
    echo "$0: interrupted, cleaning up" >&2
    if [ -n "$CHILD" ]; then
        kill -TERM "$CHILD" 2>/dev/null || true
    fi
    exit 130
}
trap cleanup EXIT
trap on_signal INT TERM HUP

# in_chroot ROOT CMD: run the shell command CMD in ROOT as root, with a
# small environment and a time limit.  In the background, waited for, so
# that a signal to this script is handled at once, not after the step.
in_chroot() {
    local r=$1 rc=0
    shift
    timeout --kill-after=30 "$STEP_TIMEOUT" chroot "$r" env -i \
        PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 LC_ALL=C.UTF-8 \
        DEBIAN_FRONTEND=noninteractive sh -euc "$1" &
    CHILD=$!
    wait "$CHILD" || rc=$?
    CHILD=""
    return "$rc"
}

# new_copy NAME: a mounted throwaway copy of ROOTFS, ready for apt-get, in
# $WORK/NAME; its path is left in COPY.
COPY=""
new_copy() {
    local r="$WORK/$1"
    cp -a "$ROOTFS" "$r"
    COPIES+=("$r")
    cp /etc/resolv.conf "$r/etc/resolv.conf"
    # Packages must not start services: the postinst of postgresql-NN
    # would start a cluster on port 5432 of the shared network namespace.
    printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
    chmod 755 "$r/usr/sbin/policy-rc.d"
    mkdir -p "$r/etc/postgresql-common/createcluster.d"
    echo 'create_main_cluster = false' >"$r/etc/postgresql-common/createcluster.d/kz_globals_check.conf"
    mount_chroot "$r"
    COPY=$r
}

# source_tree DEST: the tree to package, into DEST.
source_tree() {
    local dest=$1
    mkdir -p "$dest"
    if [ "${KZ_PKG_SOURCE:-HEAD}" = HEAD ] && git -C "$KZ_ROOT" rev-parse --verify -q HEAD >/dev/null 2>&1; then
        git -C "$KZ_ROOT" archive --format=tar HEAD | tar -C "$dest" -xf -
        log "source: commit $(git -C "$KZ_ROOT" rev-parse --short HEAD)"
    else
        tar -C "$KZ_ROOT" -cf - --exclude=./.git --exclude=./tmp_check \
            --exclude=./tmp_check_regress --exclude=./results --exclude=./log \
            --exclude=./regression.diffs --exclude=./regression.out \
            --exclude=./bench/out --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
            --exclude='./test/unit/*_test' --exclude=__pycache__ . | tar -C "$dest" -xf -
        log "source: the working tree of $KZ_ROOT"
    fi
}

# count_regress LOG: pg_regress's lines, one per test: "name ... ok|FAILED"
# up to PostgreSQL 15, "ok N - name" / "not ok N - name" from 16 on.
count_regress() {
    awk '/ \.\.\. ok( |$)/ || / \.\.\. failed \(ignored\)/ { p++ }
         / \.\.\. FAILED/ { f++ }
         /^ok [0-9]+ / { p++ }
         /^not ok [0-9]+ / { if ($0 ~ /# \(ignored\)/) p++; else f++ }
         END { print p + 0, f + 0 }' "$1"
}

# counted NAME RC P F: record a step's counts; a failed step without a
# failed test, or a step that counted nothing, is one failure.
counted() {
    local p=$3 f=$4
    if { [ "$2" -ne 0 ] || [ "$p" -eq 0 ]; } && [ "$f" -eq 0 ]; then
        f=1
    fi
    record "$1" "$p" "$f"
}

# count_tap LOG: prove's "Tests=" total less the failures of its report.
count_tap() {
    awk '/^Files=[0-9]+, Tests=[0-9]+/ { match($0, /Tests=[0-9]+/); t = substr($0, RSTART + 6, RLENGTH - 6) + 0 }
         /\(Wstat: .*Tests: [0-9]+ Failed: [0-9]+\)/ {
             match($0, /Failed: [0-9]+\)/); n = substr($0, RSTART + 8, RLENGTH - 9) + 0
             if (n > 0) f += n; else f++
         }
         END { print t - f < 0 ? 0 : t - f, f + 0 }' "$1"
}

# ------------------------------------------------------------------ main

START=$SECONDS
if [ ! -d "$ROOTFS" ]; then
    log "debootstrap $RELEASE into $ROOTFS"
    command -v debootstrap >/dev/null || { echo "$0: debootstrap is not installed" >&2; exit 1; }
    debootstrap --variant=minbase "$RELEASE" "$ROOTFS" "$MIRROR"
fi
[ -x "$ROOTFS/usr/bin/apt-get" ] || { echo "$0: $ROOTFS is not a Debian root filesystem" >&2; exit 1; }
WORK=$(mktemp -d "${KZ_PKG_TMPDIR:-$(dirname "$ROOTFS")}/kz_globals_deb.XXXXXX")
OUT=${KZ_PKG_OUT:-$WORK/out}
mkdir -p "$OUT"
OUT=$(realpath "$OUT")

# --- build ---
log "build: a copy of $ROOTFS ($RELEASE)"
new_copy build
B=$COPY
version=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' "$KZ_ROOT/debian/changelog")
source_tree "$B/build/kz-globals-$version"
build_rc=0
in_chroot "$B" "
    apt-get update -q
    apt-get install -y -q --no-install-recommends dpkg-dev
    cd /build/kz-globals-$version
    apt-get build-dep -y -q --no-install-recommends ./
    pg_buildext updatecontrol
    dpkg-buildpackage -us -uc
" >"$OUT/build.log" 2>&1 || build_rc=$?
cp -p "$B"/build/*.deb "$B"/build/*.dsc "$B"/build/*.changes "$B"/build/*.buildinfo \
    "$B"/build/*.tar.* "$OUT"/ 2>/dev/null || true
# The packages of this build (not whatever an earlier run left in $OUT).
DEBS=()
for f in "$B"/build/postgresql-*-kz-globals_*.deb; do
    if [ -e "$f" ]; then DEBS+=("${f##*/}"); fi
done
if [ "$build_rc" -ne 0 ] || [ "${#DEBS[@]}" -eq 0 ]; then
    tail -n 60 "$OUT/build.log"
    echo "$0: the package build failed (exit $build_rc); log: $OUT/build.log" >&2
    record deb-build 0 1
else
    log "built: ${DEBS[*]}"
    record deb-build 1 0
    # Packagers' flags only: no -Werror (-Werror=format-security and the
    # like, from Debian's and PostgreSQL's flags, are single warnings).
    if grep -E '^(gcc|cc|clang)[^ ]* ' "$OUT/build.log" | grep -Eq -- '-Werror( |$)'; then
        echo "$0: the package was compiled with -Werror" >&2
        record deb-no-Werror 0 1
    else
        record deb-no-Werror 1 0
    fi
fi
umount_chroot "$B"

# --- install and check ---
if [ "${#DEBS[@]}" -gt 0 ]; then
    log "check: a second copy of $ROOTFS"
    new_copy check
    C=$COPY
    mkdir -p "$C/debs"
    cp "${DEBS[@]/#/$OUT/}" "$C/debs/"
    majors=$(printf '%s\n' "${DEBS[@]}" | sed -n 's/^postgresql-\([0-9]*\)-kz-globals_.*/\1/p' | sort -u | tr '\n' ' ')
    devs=$(for v in $majors; do printf 'postgresql-server-dev-%s ' "$v"; done)
    source_tree "$C/src/kz-globals"
    rc=0
    in_chroot "$C" "
        apt-get update -q
        apt-get install -y -q --no-install-recommends /debs/*.deb $devs make libipc-run-perl
        dpkg -l 'postgresql-*' | grep '^ii'
    " >"$OUT/install.log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        tail -n 40 "$OUT/install.log"
        record deb-install 0 1
    else
        record deb-install 1 0
        log "regress: debian/tests/installcheck (pg_regress against the package)"
        rc=0
        in_chroot "$C" "KZ_INSTALLCHECK_TAP= /src/kz-globals/debian/tests/installcheck" \
            >"$OUT/regress.log" 2>&1 || rc=$?
        cat "$OUT/regress.log"
        read -r p f < <(count_regress "$OUT/regress.log")
        counted deb-regress "$rc" "$p" "$f"
        if [ -n "$TAP" ]; then
            log "tap: $TAP against the package"
            rc=0
            in_chroot "$C" "KZ_INSTALLCHECK_REGRESS=0 KZ_INSTALLCHECK_TAP='$TAP' /src/kz-globals/debian/tests/installcheck" \
                >"$OUT/tap.log" 2>&1 || rc=$?
            cat "$OUT/tap.log"
            read -r p f < <(count_tap "$OUT/tap.log")
            counted deb-tap "$rc" "$p" "$f"
        fi
    fi
    umount_chroot "$C"
fi

if [ -n "${KZ_PKG_OUT:-}" ]; then
    log "results for $RELEASE ($((SECONDS - START)) s); packages and logs in $OUT"
else
    log "results for $RELEASE ($((SECONDS - START)) s); set KZ_PKG_OUT=DIR to keep the packages and logs"
fi
printf '%s\n' "${SUMMARY[@]}"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
