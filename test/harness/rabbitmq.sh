#!/usr/bin/env bash
#
# rabbitmq.sh - run a throwaway RabbitMQ broker (3.10 to 4.x) as the current user.
#
# Everything an instance owns lives below one directory DIR: its config,
# Erlang cookie ($DIR/home), Mnesia data, logs and pid file.  It listens on
# 127.0.0.1 only, uses a private epmd port (so it never talks to, or starts,
# the system's epmd on 4369) and a unique node name rmqt<AMQP_PORT>@localhost,
# so several instances and a system broker can coexist.
#
# We call /usr/lib/rabbitmq/bin/* directly: the /usr/sbin wrappers refuse any
# user other than root or rabbitmq, and as root they would su to rabbitmq.
#
# Usage:
#   rabbitmq.sh start DIR AMQP_PORT [options]
#       Create/refresh DIR's config, start the broker in the background and
#       wait until AMQP_PORT accepts connections.  Options:
#         --tls PORT          also listen for amqps on 127.0.0.1:PORT
#         --certdir D         ca.pem, server.pem, server.key (see gencert)
#         --dist-port P       Erlang distribution port (default: a free one)
#         --epmd-port P       private epmd port (default: a free one)
#         --cookie STRING     Erlang cookie (default: random, kept in DIR)
#         --join NODE_DIR     after booting, join the cluster of the broker
#                             running from NODE_DIR (takes its cookie and
#                             epmd port; --cookie/--epmd-port are ignored)
#         --conf 'key = val'  extra rabbitmq.conf line (repeatable)
#         --timeout SECS      start-up budget (default 60)
#   rabbitmq.sh start DIR
#       Start again with the settings saved by the first start (same ports,
#       same data; a node that joined a cluster stays in it).
#   rabbitmq.sh stop DIR [TIMEOUT]
#       Graceful stop (SIGTERM), SIGKILL after TIMEOUT seconds (default 30);
#       then kill leftover helpers and the private epmd once no node is
#       registered with it any more.  Succeeds if it was not running.
#   rabbitmq.sh kill DIR        SIGKILL the Erlang VM (clients see a reset).
#   rabbitmq.sh pause DIR       SIGSTOP the VM (clients see silence).
#   rabbitmq.sh resume DIR      SIGCONT it.
#   rabbitmq.sh restart DIR     rabbitmqctl stop_app + start_app, then wait
#                               for the AMQP port (clients get a 320 close).
#   rabbitmq.sh join DIR NODE_DIR
#       stop_app, reset, join_cluster <node of NODE_DIR>, start_app.  Both
#       instances must share cookie and epmd port (see --join).
#   rabbitmq.sh ctl DIR ARGS...   rabbitmqctl -n <node> ARGS...
#   rabbitmq.sh diag DIR ARGS...  rabbitmq-diagnostics -n <node> ARGS...
#   rabbitmq.sh status DIR
#       Print "running|paused|stopped node=... pid=... amqp=..."; exit status
#       0 running, 1 paused, 3 stopped.
#   rabbitmq.sh pid DIR         Print the VM's pid (exit 3 if not running).
#   rabbitmq.sh env DIR         Print the instance's settings (shell syntax).
#   rabbitmq.sh gencert DIR
#       Create ca.pem/ca.key, server.pem/server.key (DNS:localhost,
#       IP:127.0.0.1) and client.pem/client.key in DIR with openssl.
#
# Only errors are printed (on stderr), except for ctl/diag/status/pid/env.
# DIR must not contain whitespace (the rabbitmq-server script word-splits).
#
# Files in DIR: instance.env (saved settings), rabbitmq.conf,
# advanced.config, enabled_plugins, home/.erlang.cookie, mnesia/, log/
# (log/startup.log is the server script's stdout/stderr, log/<node>.log the
# broker log), rabbit.pid.

# instance.env files are sourced at run time:
# shellcheck disable=SC1091

set -euo pipefail

RMQ_BIN_DIR=${RABBITMQ_BIN_DIR:-/usr/lib/rabbitmq/bin}

die() {
    echo "rabbitmq.sh: $*" >&2
    exit 1
}

usage() {
    sed -n '/^# Usage:/,/^# Only errors/p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# ---------------------------------------------------------------- helpers

# port_in_use PORT: true if something listens on PORT (any address).
port_in_use() {
    local port=$1
    if command -v ss >/dev/null 2>&1; then
        [ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
    fi
}

# port_bindable PORT: true if we could bind PORT on all addresses.  (Perl is
# always there on Debian; bash cannot bind.)
port_bindable() {
    perl -MIO::Socket::INET -e '
        exit(IO::Socket::INET->new(LocalAddr => "0.0.0.0", LocalPort => $ARGV[0],
            Proto => "tcp", Listen => 1, ReuseAddr => 1) ? 0 : 1)' "$1"
}

# free_port: a random bindable port.  The range stays below the kernel's
# ephemeral range and keeps RABBITMQ_DIST_PORT+10000 (the CLI's range in some
# set-ups) valid.  The Perl harness passes ports from get_free_port instead.
free_port() {
    local port
    for _ in $(seq 1 200); do
        port=$((20000 + RANDOM % 12000))
        if ! port_in_use "$port" && port_bindable "$port"; then
            echo "$port"
            return 0
        fi
    done
    die "could not find a free port"
}

random_cookie() {
    # Upper-case hex: safe in any Erlang cookie file.  (No "tr </dev/urandom |
    # head": with pipefail the SIGPIPE of tr would fail the script.)
    head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F
}

abs_dir() {
    (cd "$1" 2>/dev/null && pwd -P) || die "no such directory: $1"
}

check_dir_name() {
    case "$1" in
        *[[:space:]]*) die "DIR must not contain whitespace: '$1'" ;;
    esac
}

# load_instance DIR: read the settings saved by the first start.
load_instance() {
    DIR=$(abs_dir "$1")
    [ -f "$DIR/instance.env" ] || die "$DIR is not a broker directory (no instance.env)"
    # shellcheck disable=SC1091
    . "$DIR/instance.env"
}

save_instance() {
    {
        echo "# written by rabbitmq.sh start; sourced by its other subcommands"
        local v
        for v in AMQP_PORT TLS_PORT CERTDIR DIST_PORT EPMD_PORT NODENAME JOIN_NODE; do
            printf '%s=%q\n' "$v" "${!v}"
        done
    } >"$DIR/instance.env"
}

# export_env: the environment both the server and the CLI tools need.  Any
# RABBITMQ_*/ERL_* variables inherited from the caller are dropped first so
# that nothing leaks in from a developer's shell or a system set-up.
export_env() {
    local v
    for v in $(compgen -e); do
        case "$v" in
            RABBITMQ_* | ERL_* | ERLANG_*) unset "$v" ;;
        esac
    done
    export HOME="$DIR/home"
    export RABBITMQ_CONF_ENV_FILE=/dev/null
    export RABBITMQ_CONFIG_FILE="$DIR/rabbitmq"
    export RABBITMQ_ADVANCED_CONFIG_FILE="$DIR/advanced.config"
    export RABBITMQ_ENABLED_PLUGINS_FILE="$DIR/enabled_plugins"
    export RABBITMQ_MNESIA_BASE="$DIR/mnesia"
    export RABBITMQ_LOG_BASE="$DIR/log"
    export RABBITMQ_PID_FILE="$DIR/rabbit.pid"
    export RABBITMQ_NODENAME="$NODENAME"
    export RABBITMQ_DIST_PORT="$DIST_PORT"
    export ERL_EPMD_PORT="$EPMD_PORT"
    # epmd and the distribution listener default to 0.0.0.0; keep them on
    # loopback like everything else.
    export ERL_EPMD_ADDRESS=127.0.0.1
    # -kzrmq_dir is an inert marker (Erlang ignores unknown user flags) that
    # lets us find this instance's VM in /proc even without a pid file.
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} -kzrmq_dir $DIR"
    export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

# cmdline_of PID: the process's argv, NULs turned into spaces.
cmdline_of() {
    { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null || true
}

# beam_pid: pid of this instance's Erlang VM, or nothing.
beam_pid() {
    local pid p
    if [ -s "$DIR/rabbit.pid" ]; then
        pid=$(cat "$DIR/rabbit.pid" 2>/dev/null || true)
        if [ -n "$pid" ] && [[ "$(cmdline_of "$pid")" == *"-kzrmq_dir $DIR "* ]]; then
            echo "$pid"
            return 0
        fi
    fi
    # Not written yet (early boot) or stale: look for the marker.
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        if [[ "$(cmdline_of "$pid")" == *beam*"-kzrmq_dir $DIR "* ]]; then
            echo "$pid"
            return 0
        fi
    done
    return 0
}

# helper_pids: other processes that belong to this instance: the server
# script, erl_child_setup, inet_gethost.  They carry our RABBITMQ_MNESIA_BASE
# in their environment.  epmd is excluded: it may be shared (see --join).
helper_pids() {
    local p pid
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [ "$pid" = "$$" ] && continue
        alive "$pid" || continue
        [ "$pid" = "$BASHPID" ] && continue
        if { tr '\0' '\n' <"$p/environ"; } 2>/dev/null |
            grep -qxF "RABBITMQ_MNESIA_BASE=$DIR/mnesia"; then
            case "$(cat "$p/comm" 2>/dev/null)" in
                epmd) ;;
                *) echo "$pid" ;;
            esac
        fi
    done
}

proc_state() {
    # Third field of /proc/PID/stat (after the parenthesised comm).
    { sed -n 's/^.*) \(.\).*$/\1/p' "/proc/$1/stat"; } 2>/dev/null || true
}

# alive PID: the process exists and is not a zombie (orphaned zombies wait
# for init to reap them, which may take a while in containers).
alive() {
    local st
    st=$(proc_state "$1")
    [ -n "$st" ] && [ "$st" != Z ]
}

log_tail() {
    local f
    for f in "$DIR/log/startup.log" "$DIR/log/$NODENAME.log"; do
        if [ -s "$f" ]; then
            echo "--- last lines of $f" >&2
            tail -n 30 "$f" >&2
        fi
    done
}

# wait_port PID TIMEOUT: wait until AMQP_PORT listens; fail early if the
# server process PID (if given) dies.
wait_port() {
    local pid=$1 timeout=$2 deadline
    deadline=$((SECONDS + timeout))
    while ! port_in_use "$AMQP_PORT"; do
        if [ -n "$pid" ] && ! alive "$pid"; then
            log_tail
            die "broker $NODENAME exited during start-up"
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            log_tail
            die "broker $NODENAME did not listen on port $AMQP_PORT within ${timeout}s"
        fi
        sleep 0.2
    done
}

# epmd_cleanup: stop our private epmd once no node is registered with it.
# epmd itself refuses -kill while nodes are alive, which protects the other
# members of a cluster sharing it; we check first to keep quiet about it.
epmd_cleanup() {
    local names
    names=$(epmd -port "$EPMD_PORT" -names 2>/dev/null) || return 0
    if ! grep -q '^name ' <<<"$names"; then
        epmd -port "$EPMD_PORT" -kill >/dev/null 2>&1 || true
    fi
}

ctl() {
    export_env
    "$RMQ_BIN_DIR/rabbitmqctl" -n "$NODENAME" "$@"
}

# ctl_quiet ARGS...: rabbitmqctl, but its chatter (the CLI prints feature
# flag warnings and transient errors on stderr during joins) is only shown
# when the command fails.
ctl_quiet() {
    local out
    if ! out=$(ctl -q "$@" 2>&1); then
        printf '%s\n' "$out" >&2
        die "rabbitmqctl $* failed for $NODENAME"
    fi
}

require_running() {
    [ -n "$(beam_pid)" ] || die "broker $NODENAME ($DIR) is not running"
}

# ---------------------------------------------------------------- commands

write_config() {
    local certdir=$1
    shift
    {
        echo "# written by rabbitmq.sh"
        echo "listeners.tcp.default = 127.0.0.1:$AMQP_PORT"
        echo "loopback_users = none"
        # The default limit is 50MB of free disk; below it publishers are
        # blocked and tests hang for no visible reason.
        echo "disk_free_limit.absolute = 1MB"
        echo "log.console = false"
        echo "log.file.level = info"
        if [ -n "$TLS_PORT" ]; then
            echo "listeners.ssl.default = 127.0.0.1:$TLS_PORT"
            echo "ssl_options.cacertfile = $certdir/ca.pem"
            echo "ssl_options.certfile = $certdir/server.pem"
            echo "ssl_options.keyfile = $certdir/server.key"
            echo "ssl_options.verify = verify_none"
            echo "ssl_options.fail_if_no_peer_cert = false"
        fi
        local line
        for line in "$@"; do
            echo "$line"
        done
    } >"$DIR/rabbitmq.conf"
    echo '[].' >"$DIR/advanced.config"
    echo '[].' >"$DIR/enabled_plugins"
}

# launch TIMEOUT: start the saved instance and wait for its AMQP port.
launch() {
    local timeout=$1 pid
    if [ -n "$(beam_pid)" ]; then
        die "broker $NODENAME ($DIR) is already running"
    fi
    if port_in_use "$AMQP_PORT"; then
        die "port $AMQP_PORT is already in use"
    fi
    mkdir -p "$DIR/log" "$DIR/mnesia"
    rm -f "$DIR/rabbit.pid"
    echo "=== $(date '+%F %T') start" >>"$DIR/log/startup.log"
    # setsid: the broker must outlive this script and not get the caller's
    # terminal signals; everybody who starts one also stops it.
    (
        export_env
        cd "$DIR"
        exec setsid "$RMQ_BIN_DIR/rabbitmq-server" </dev/null >>"$DIR/log/startup.log" 2>&1
    ) &
    pid=$!
    wait_port "$pid" "$timeout"
}

do_join() {
    local node_dir=$1 other
    other=$(. "$node_dir/instance.env" && echo "$NODENAME")
    ctl_quiet stop_app
    # A node must be blank to join; ours only ever held throwaway data.
    ctl_quiet reset
    ctl_quiet join_cluster "$other"
    ctl_quiet start_app
    JOIN_NODE=$other
    save_instance
    wait_port "" 60
}

cmd_start() {
    [ $# -ge 1 ] || usage
    check_dir_name "$1"
    if [ $# -eq 1 ]; then
        load_instance "$1"
        launch 60
        return 0
    fi
    mkdir -p "$1"
    DIR=$(abs_dir "$1")
    AMQP_PORT=$2
    shift 2
    local certdir="" cookie="" join_dir="" timeout=60
    local -a conf=()
    TLS_PORT="" DIST_PORT="" EPMD_PORT="" JOIN_NODE=""
    while [ $# -gt 0 ]; do
        case "$1" in
            --tls) TLS_PORT=$2; shift 2 ;;
            --certdir) certdir=$(abs_dir "$2"); shift 2 ;;
            --dist-port) DIST_PORT=$2; shift 2 ;;
            --epmd-port) EPMD_PORT=$2; shift 2 ;;
            --cookie) cookie=$2; shift 2 ;;
            --join) join_dir=$(abs_dir "$2"); shift 2 ;;
            --conf) conf+=("$2"); shift 2 ;;
            --timeout) timeout=$2; shift 2 ;;
            *) die "unknown option: $1" ;;
        esac
    done
    [[ "$AMQP_PORT" =~ ^[0-9]+$ ]] || die "bad AMQP port: $AMQP_PORT"
    if [ -n "$TLS_PORT" ] && [ -z "$certdir" ]; then
        die "--tls needs --certdir"
    fi
    # shellcheck disable=SC2034 # saved by save_instance through ${!v}
    CERTDIR=$certdir
    NODENAME="rmqt$AMQP_PORT@localhost"

    mkdir -p "$DIR/home"
    chmod 700 "$DIR/home"
    if [ -n "$join_dir" ]; then
        [ -f "$join_dir/instance.env" ] || die "$join_dir is not a broker directory"
        [ -s "$join_dir/home/.erlang.cookie" ] || die "$join_dir has no Erlang cookie"
        cookie=$(cat "$join_dir/home/.erlang.cookie")
        EPMD_PORT=$(. "$join_dir/instance.env" && echo "$EPMD_PORT")
    fi
    if [ -z "$cookie" ] && [ -s "$DIR/home/.erlang.cookie" ]; then
        cookie=$(cat "$DIR/home/.erlang.cookie")
    fi
    [ -n "$cookie" ] || cookie=$(random_cookie)
    rm -f "$DIR/home/.erlang.cookie"
    (umask 077 && printf '%s' "$cookie" >"$DIR/home/.erlang.cookie")
    chmod 400 "$DIR/home/.erlang.cookie"

    [ -n "$DIST_PORT" ] || DIST_PORT=$(free_port)
    [ -n "$EPMD_PORT" ] || EPMD_PORT=$(free_port)

    # Keep an earlier join unless we are asked to join somewhere else.
    if [ -f "$DIR/instance.env" ]; then
        JOIN_NODE=$(. "$DIR/instance.env" && echo "${JOIN_NODE:-}")
    fi
    write_config "$certdir" "${conf[@]+"${conf[@]}"}"
    save_instance
    launch "$timeout"

    if [ -n "$join_dir" ]; then
        local other
        other=$(. "$join_dir/instance.env" && echo "$NODENAME")
        if [ "$JOIN_NODE" != "$other" ]; then
            do_join "$join_dir"
        fi
    fi
}

cmd_stop() {
    [ $# -ge 1 ] || usage
    load_instance "$1"
    local timeout=${2:-30} pid deadline p
    pid=$(beam_pid)
    if [ -n "$pid" ]; then
        # A paused VM cannot act on SIGTERM.
        kill -CONT "$pid" 2>/dev/null || true
        kill -TERM "$pid" 2>/dev/null || true
        deadline=$((SECONDS + timeout))
        while alive "$pid"; do
            if [ "$SECONDS" -ge "$deadline" ]; then
                echo "rabbitmq.sh: $NODENAME did not stop within ${timeout}s, killing it" >&2
                kill -KILL "$pid" 2>/dev/null || true
            fi
            sleep 0.1
        done
    fi
    # The server script, erl_child_setup and inet_gethost exit by themselves
    # once the VM is gone; give them a moment, then insist.
    deadline=$((SECONDS + 5))
    while [ -n "$(helper_pids)" ] && [ "$SECONDS" -lt "$deadline" ]; do
        sleep 0.1
    done
    for p in $(helper_pids); do
        kill -KILL "$p" 2>/dev/null || true
    done
    rm -f "$DIR/rabbit.pid"
    epmd_cleanup
}

cmd_signal() {
    local sig=$1
    shift
    [ $# -ge 1 ] || usage
    load_instance "$1"
    local pid
    pid=$(beam_pid)
    [ -n "$pid" ] || die "broker $NODENAME ($DIR) is not running"
    kill "-$sig" "$pid"
    if [ "$sig" = KILL ]; then
        # Wait until the port is really closed, so that a test can rely on
        # the broker being gone when we return.
        while alive "$pid"; do
            sleep 0.05
        done
    fi
}

cmd_restart() {
    [ $# -ge 1 ] || usage
    load_instance "$1"
    require_running
    ctl_quiet stop_app
    ctl_quiet start_app
    wait_port "" 60
}

cmd_join() {
    [ $# -eq 2 ] || usage
    load_instance "$1"
    local join_dir
    join_dir=$(abs_dir "$2")
    [ -f "$join_dir/instance.env" ] || die "$join_dir is not a broker directory"
    require_running
    local other_epmd
    other_epmd=$(. "$join_dir/instance.env" && echo "$EPMD_PORT")
    if [ "$other_epmd" != "$EPMD_PORT" ] ||
        ! cmp -s "$join_dir/home/.erlang.cookie" "$DIR/home/.erlang.cookie"; then
        die "cannot join: $DIR and $join_dir need the same cookie and epmd port (start with --join)"
    fi
    do_join "$join_dir"
}

cmd_ctl() {
    [ $# -ge 1 ] || usage
    load_instance "$1"
    shift
    # Without a running node the CLI would start our private epmd and leave
    # it behind; refuse instead.
    require_running
    ctl "$@"
}

cmd_diag() {
    [ $# -ge 1 ] || usage
    load_instance "$1"
    shift
    require_running
    export_env
    "$RMQ_BIN_DIR/rabbitmq-diagnostics" -n "$NODENAME" "$@"
}

cmd_status() {
    [ $# -eq 1 ] || usage
    load_instance "$1"
    local pid state
    pid=$(beam_pid)
    if [ -z "$pid" ]; then
        echo "stopped node=$NODENAME amqp=$AMQP_PORT"
        return 3
    fi
    state=$(proc_state "$pid")
    if [ "$state" = T ]; then
        echo "paused node=$NODENAME pid=$pid amqp=$AMQP_PORT"
        return 1
    fi
    echo "running node=$NODENAME pid=$pid amqp=$AMQP_PORT${TLS_PORT:+ amqps=$TLS_PORT}"
}

cmd_pid() {
    [ $# -eq 1 ] || usage
    load_instance "$1"
    local pid
    pid=$(beam_pid)
    [ -n "$pid" ] || return 3
    echo "$pid"
}

cmd_env() {
    [ $# -eq 1 ] || usage
    load_instance "$1"
    grep -v '^#' "$DIR/instance.env"
    echo "DIR=$DIR"
}

cmd_gencert() {
    [ $# -eq 1 ] || usage
    mkdir -p "$1"
    local d
    d=$(abs_dir "$1")
    (
        umask 077
        cd "$d"
        # A CA, then a server and a client certificate signed by it.  RSA
        # because rabbitmq-c's key-buffer API only takes RSA keys; DNS SAN
        # because rabbitmq-c 0.11 never matches IP SANs.
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
            -keyout ca.key -out ca.pem -subj "/CN=kz_globals test CA" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
        local who
        for who in server client; do
            openssl req -newkey rsa:2048 -nodes -keyout "$who.key" \
                -out "$who.csr" -subj "/CN=${who/server/localhost}" 2>/dev/null
            if [ "$who" = server ]; then
                printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" \
                    "extendedKeyUsage=serverAuth" >"$who.ext"
            else
                printf '%s\n' "extendedKeyUsage=clientAuth" >"$who.ext"
            fi
            openssl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca.key \
                -CAcreateserial -days 3650 -out "$who.pem" \
                -extfile "$who.ext" 2>/dev/null
            rm -f "$who.csr" "$who.ext"
        done
        rm -f ca.srl
        # Certificates are public; keys stay private to this user.
        chmod 644 ca.pem server.pem client.pem
    ) || die "openssl failed to create certificates in $d"
}

main() {
    [ $# -ge 1 ] || usage
    local cmd=$1
    shift
    case "$cmd" in
        start) cmd_start "$@" ;;
        stop) cmd_stop "$@" ;;
        kill) cmd_signal KILL "$@" ;;
        pause) cmd_signal STOP "$@" ;;
        resume) cmd_signal CONT "$@" ;;
        restart) cmd_restart "$@" ;;
        join) cmd_join "$@" ;;
        ctl) cmd_ctl "$@" ;;
        diag) cmd_diag "$@" ;;
        status) cmd_status "$@" ;;
        pid) cmd_pid "$@" ;;
        env) cmd_env "$@" ;;
        gencert) cmd_gencert "$@" ;;
        -h | --help | help) usage ;;
        *) die "unknown command: $cmd (try --help)" ;;
    esac
}

main "$@"
