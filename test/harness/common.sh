# shellcheck shell=bash
#
# common.sh - set-up shared by `make test` (test/run.sh), `make demo` and
# `make bench`: install missing Debian packages, build and install the
# extension, run things as an unprivileged user in a private copy of the
# tree, and clean up after it.  Source it from bash with `set -euo pipefail`:
#
#   . "$(dirname "${BASH_SOURCE[0]}")/../test/harness/common.sh"
#   kz_ensure_packages
#   kz_build_install
#   user=$(kz_test_user)
#   work=$(kz_make_workdir "$user")
#   kz_as_user "$user" make -C "$work" ...    (or kz_user_cmd, see there)
#   kz_cleanup_dir "$work"
#
# Environment: PG_CONFIG (default: the pg_config of the newest PostgreSQL
# installed from Debian's packages, /usr/lib/postgresql/NN/bin/pg_config;
# on a machine without any, the newest the release ships is installed
# first), KZ_TEST_USER (default: postgres when root, else the current
# user), KZ_TMPDIR (where the private copy goes, default /tmp).

KZ_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
KZ_PACKAGES_FILE="$KZ_ROOT/test/harness/packages.txt"

# kz_newest_pg FILE: the newest /usr/lib/postgresql/NN/bin/FILE there is.
kz_newest_pg() {
    local f best="" major best_major=0
    for f in /usr/lib/postgresql/*/bin/"$1"; do
        [ -x "$f" ] || continue
        major=${f#/usr/lib/postgresql/}
        major=${major%%/*}
        case "$major" in
            *[!0-9]*) continue ;;
        esac
        if [ "$major" -gt "$best_major" ]; then
            best=$f
            best_major=$major
        fi
    done
    echo "$best"
}

# kz_default_pg_config: $PG_CONFIG, else the newest Debian pg_config.
kz_default_pg_config() {
    echo "${PG_CONFIG:-$(kz_newest_pg pg_config)}"
}

KZ_PG_CONFIG=$(kz_default_pg_config)

kz_log() {
    printf '== %s\n' "$*"
}

kz_warn() {
    printf '%s: %s\n' "${0##*/}" "$*" >&2
}

kz_die() {
    kz_warn "$*"
    exit 1
}

# kz_as_root CMD...: run CMD as root, through sudo unless we are root.
kz_as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        kz_die "need root for: $* (run as root or install sudo)"
    fi
}

# kz_pg_major: the PostgreSQL major version whose Debian packages
# (postgresql-NN, postgresql-server-dev-NN) we need: the one of PG_CONFIG
# when that is a Debian one; else the newest server installed; else the
# one the release's "postgresql" metapackage depends on (the newest it
# ships; needs apt's package lists).  Empty if none is known.
kz_pg_major() {
    local v=${PG_CONFIG:-}
    case "$v" in
        /usr/lib/postgresql/[0-9]*/bin/pg_config) ;;
        *) v=$(kz_newest_pg postgres) ;;
    esac
    if [ -n "$v" ]; then
        v=${v#/usr/lib/postgresql/}
        echo "${v%%/*}"
        return 0
    fi
    apt-cache depends postgresql 2>/dev/null |
        sed -n 's/^ *Depends: postgresql-\([0-9][0-9]*\)$/\1/p' | sort -n | tail -n 1
}

# kz_packages: the package list, comments and blank lines removed, @PG@
# replaced by kz_pg_major.
kz_packages() {
    local major
    major=$(kz_pg_major)
    [ -n "$major" ] || major=UNKNOWN
    sed -e 's/#.*//' -e '/^[[:space:]]*$/d' -e "s/@PG@/$major/g" "$KZ_PACKAGES_FILE"
}

# kz_missing_packages: the listed packages dpkg does not have installed.
kz_missing_packages() {
    local pkg status
    for pkg in $(kz_packages); do
        status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
        case "$status" in
            ii*) ;;
            *) echo "$pkg" ;;
        esac
    done
}

# kz_ensure_packages: apt-get install whatever is missing.
#
# While installing, a temporary policy-rc.d forbids starting services: the
# postinst scripts of postgresql-NN and rabbitmq-server would otherwise
# start a system cluster and broker (on a container without systemd, through
# the init scripts) that we never use and that would compete for the CI
# machine's two cores.  An existing policy-rc.d is left alone.  Set
# KZ_ALLOW_SERVICE_START=1 to let them start.
kz_ensure_packages() {
    local missing
    missing=$(kz_missing_packages | tr '\n' ' ')
    missing=${missing% }
    if [ -z "$missing" ]; then
        KZ_PG_CONFIG=$(kz_default_pg_config)
        return 0
    fi
    kz_log "installing missing packages (after apt-get update)"
    command -v apt-get >/dev/null 2>&1 ||
        kz_die "apt-get not found; install these packages by hand: $missing"

    local policy=/usr/sbin/policy-rc.d own_policy=0 rc=0
    if [ "${KZ_ALLOW_SERVICE_START:-0}" != 1 ] && [ ! -e "$policy" ]; then
        kz_as_root sh -c "printf '#!/bin/sh\n# temporary, from kz_globals test/harness/common.sh\nexit 101\n' >$policy && chmod 755 $policy"
        own_policy=1
    fi
    kz_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q || rc=$?
    if [ "$rc" -eq 0 ]; then
        # With the package lists there, the PostgreSQL version is known.
        missing=$(kz_missing_packages | tr '\n' ' ')
        case " $missing " in
            *UNKNOWN*) kz_die "no PostgreSQL found to build against: install postgresql-NN and postgresql-server-dev-NN, or set PG_CONFIG" ;;
        esac
        kz_log "installing: $missing"
        # shellcheck disable=SC2086 # the package list is meant to be split
        kz_as_root env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -q --no-install-recommends $missing || rc=$?
    fi
    if [ "$own_policy" -eq 1 ]; then
        kz_as_root rm -f "$policy"
    fi
    [ "$rc" -eq 0 ] || kz_die "apt-get failed (exit $rc) installing: $missing"
    missing=$(kz_missing_packages | tr '\n' ' ')
    [ -z "$missing" ] || kz_die "still missing after apt-get: $missing"
    KZ_PG_CONFIG=$(kz_default_pg_config)
}

# kz_build_install: build in the checkout (warnings are errors) and install
# into the PostgreSQL that $KZ_PG_CONFIG belongs to (through sudo unless
# root).
kz_build_install() {
    [ -n "$KZ_PG_CONFIG" ] && [ -x "$KZ_PG_CONFIG" ] ||
        kz_die "pg_config not found${KZ_PG_CONFIG:+ at $KZ_PG_CONFIG} (set PG_CONFIG)"
    kz_log "building kz_globals for $("$KZ_PG_CONFIG" --version)"
    if ! make -C "$KZ_ROOT" -j"$(nproc 2>/dev/null || echo 2)" PG_CONFIG="$KZ_PG_CONFIG" WERROR=-Werror; then
        kz_warn "build failed (make in $KZ_ROOT), see the compiler output above"
        return 1
    fi
    kz_log "installing kz_globals"
    if ! kz_as_root make -C "$KZ_ROOT" PG_CONFIG="$KZ_PG_CONFIG" install; then
        kz_warn "make install failed"
        return 1
    fi
}

# kz_test_user: the unprivileged user that runs servers (initdb refuses root).
kz_test_user() {
    if [ -n "${KZ_TEST_USER:-}" ]; then
        echo "$KZ_TEST_USER"
    elif [ "$(id -u)" -eq 0 ]; then
        echo postgres
    else
        id -un
    fi
}

kz_user_home() {
    getent passwd "$1" | cut -d: -f6
}

# kz_user_cmd USER [DIR]: set the array KZ_USER_CMD to a command prefix
# that runs a command as USER (in DIR if given) with a small, explicit
# environment: nothing leaks in from root's or a developer's shell (e.g.
# PERL5LIB, a pyenv python3, RABBITMQ_* variables).  More variables can be
# given as NAME=value words after the prefix, env(1) style.  An array rather
# than a function so that it can be put behind timeout(1).
kz_user_cmd() {
    local user=$1 dir=${2:-}
    local -a envv=(
        "HOME=$(kz_user_home "$user")"
        "USER=$user"
        "LOGNAME=$user"
        "PATH=$(dirname "$KZ_PG_CONFIG"):/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
        "LANG=C.UTF-8"
        "LC_ALL=C.UTF-8"
        "PG_CONFIG=$KZ_PG_CONFIG"
        "PYTHONDONTWRITEBYTECODE=1"
    )
    local v
    # Pass through the knobs developers use with the PostgreSQL TAP tests.
    # And the suites' own knobs (KZ_MODEL_*, KZ_FUZZ_*), so that the replay
    # command a failing suite prints works through `make test`; KAZOO_SRC:
    # the Kazoo checkout of the interop tests (test/kazoo).
    for v in PG_TEST_NOCLEAN PG_TEST_EXTRA PG_TEST_TIMEOUT_DEFAULT TERM KEEP KAZOO_SRC \
        $(compgen -v KZ_MODEL_) $(compgen -v KZ_FUZZ_); do
        if [ -n "${!v:-}" ]; then
            envv+=("$v=${!v}")
        fi
    done
    local -a envcmd=(env -i ${dir:+"--chdir=$dir"} "${envv[@]}")
    if [ "$(id -un)" = "$user" ]; then
        KZ_USER_CMD=("${envcmd[@]}")
    elif [ "$(id -u)" -eq 0 ]; then
        KZ_USER_CMD=(runuser -u "$user" -- "${envcmd[@]}")
    else
        KZ_USER_CMD=(sudo -u "$user" -- "${envcmd[@]}")
    fi
}

# kz_as_user USER CMD...: run CMD as USER (see kz_user_cmd).
kz_as_user() {
    local user=$1
    shift
    kz_user_cmd "$user"
    "${KZ_USER_CMD[@]}" "$@"
}

# kz_make_workdir USER: copy the source tree (without .git and build
# outputs) into a fresh directory owned by USER and print its path.  The
# checkout itself may not be readable or writable by USER.
kz_make_workdir() {
    local user=$1 dir
    dir=$(mktemp -d "${KZ_TMPDIR:-/tmp}/kz_globals_test.XXXXXX")
    tar -C "$KZ_ROOT" -cf - \
        --exclude=./.git \
        --exclude=./tmp_check --exclude=./tmp_check_regress \
        --exclude=./results --exclude=./log \
        --exclude=./regression.diffs --exclude=./regression.out \
        --exclude=./bench/out \
        --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
        --exclude='./test/unit/*_test' --exclude=__pycache__ \
        . | tar -C "$dir" -xf -
    if [ "$(id -un)" != "$user" ]; then
        kz_as_root chown -R "$user:" "$dir"
    fi
    echo "$dir"
}

# kz_ancestors: this shell and all its parents (never to be killed).
kz_ancestors() {
    local pid=$$
    echo "$BASHPID"
    while [ -n "$pid" ] && [ "$pid" -gt 1 ]; do
        echo "$pid"
        pid=$(awk '/^PPid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
    done
}

# kz_procs_under DIR: live processes whose working directory, command line
# or environment mentions DIR: postmasters and their children (cwd is the
# data directory), brokers, epmd, erl helpers (HOME/RABBITMQ_* point into
# DIR), tcp proxies, test scripts.  Perl, because doing this with a few
# forks per process in bash takes seconds.
kz_procs_under() {
    # shellcheck disable=SC2046 # one pid per argument
    perl -e '
        my ($dir, @skip) = @ARGV;
        my %skip = map { $_ => 1 } @skip, $$;
        for my $p (glob("/proc/[0-9]*")) {
            my ($pid) = $p =~ m{(\d+)$};
            next if $skip{$pid};
            open(my $sf, "<", "$p/stat") or next;
            my $stat = <$sf> // "";
            next if $stat eq "" || $stat =~ /\) Z /;    # gone or zombie
            my $cwd = readlink("$p/cwd") // "";
            my $hit = index("$cwd/", "$dir/") == 0;
            for my $f ("cmdline", "environ") {
                last if $hit;
                open(my $fh, "<", "$p/$f") or next;
                local $/;
                my $c = <$fh> // "";
                $hit = $c =~ m{(?:^|[\0=])\Q$dir\E(?:[/\0]|$)};
            }
            print "$pid\n" if $hit;
        }' "$1" $(kz_ancestors)
}

# kz_kill_procs_under DIR: stop everything kz_procs_under finds.  Postgres
# gets SIGQUIT (immediate shutdown: the postmaster still removes its shared
# memory), the rest SIGTERM; whatever is left after 10 s gets SIGKILL.
kz_kill_procs_under() {
    local dir=$1 pids pid deadline
    pids=$(kz_procs_under "$dir")
    [ -n "$pids" ] || return 0
    kz_log "stopping leftover processes under $dir: ${pids//$'\n'/ }"
    for pid in $pids; do
        ps -o pid=,user=,args= -p "$pid" 2>/dev/null | cut -c1-160 || true
        if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ]; then
            kill -QUIT "$pid" 2>/dev/null || true
        else
            kill -CONT "$pid" 2>/dev/null || true
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    deadline=$((SECONDS + 10))
    while [ "$SECONDS" -lt "$deadline" ]; do
        pids=$(kz_procs_under "$dir")
        [ -n "$pids" ] || return 0
        sleep 0.2
    done
    kz_warn "still running after 10 s, sending SIGKILL: ${pids//$'\n'/ }"
    for pid in $pids; do
        kill -KILL "$pid" 2>/dev/null || true
    done
}

# kz_cleanup_dir DIR: kill what runs from DIR, then remove it unless KEEP=1.
kz_cleanup_dir() {
    local dir=$1
    [ -n "$dir" ] && [ -d "$dir" ] || return 0
    cd /
    kz_kill_procs_under "$dir"
    if [ "${KEEP:-0}" = 1 ]; then
        kz_log "KEEP=1: leaving $dir"
    else
        rm -rf "$dir" 2>/dev/null || kz_as_root rm -rf "$dir"
    fi
}

# kz_run_privately WHAT SCRIPT [NAME=value...] [-- ARG...]: the set-up that
# make demo, make bench and make valgrindcheck share.  Installs what is
# missing, builds and installs kz_globals, copies the tree into a private
# directory owned by the unprivileged user, and runs SCRIPT (a path inside
# the tree) there as that user, with the environment words NAME=value and
# the arguments: the copy's path, then ARGs.  The copy, and every process
# started in it, is removed afterwards, also on failure or interrupt.
kz_run_privately() {
    local what=$1 script=$2 user
    shift 2
    local -a envw=() args=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        envw+=("$1")
        shift
    done
    [ "${1:-}" = -- ] && shift
    args=("$@")

    KZ_PRIVATE_WORK=""
    trap '_kz_private_cleanup' EXIT INT TERM HUP
    kz_ensure_packages
    kz_build_install
    user=$(kz_test_user)
    KZ_PRIVATE_WORK=$(kz_make_workdir "$user")
    kz_log "$what as $user in $KZ_PRIVATE_WORK"
    kz_user_cmd "$user"
    "${KZ_USER_CMD[@]}" "${envw[@]}" bash "$KZ_PRIVATE_WORK/$script" "$KZ_PRIVATE_WORK" "${args[@]}"
}

_kz_private_cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    [ -n "${KZ_PRIVATE_WORK:-}" ] && kz_cleanup_dir "$KZ_PRIVATE_WORK"
    exit "$rc"
}
