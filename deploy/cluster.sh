#!/bin/bash
# A local vouch cluster on loopback: three vouchd nodes behind HAProxy, on a
# PostgreSQL primary with a streaming standby and pg_auto_failover (monitor +
# two keepers) doing the failover.  Everything runs from DIR and is stopped by
# the PIDs recorded there.
#
#   deploy/cluster.sh start DIR       set up (first time) and start everything; prints the URLs
#   deploy/cluster.sh stop DIR        stop everything (vouchd, HAProxy, keepers, monitor)
#   deploy/cluster.sh status DIR      the processes and the database nodes' states
#   deploy/cluster.sh node-stop DIR N     stop vouchd node N (1-3); node-start DIR N starts it again
#   deploy/cluster.sh pg-primary DIR      the data directory of the current primary (node1|node2)
#   deploy/cluster.sh pg-start DIR NODE   start a database node again (it rejoins as a standby)
#
# DIR/env holds what clients need (VOUCH_CLUSTER_API, VOUCH_CLUSTER_PUBLIC,
# the tokens, the database URLs).  VOUCH_CLUSTER_NODES (1-3, default 3) is how
# many vouchd nodes `start` starts; HAProxy lists all three and marks absent
# ones down.  VOUCH_CLUSTER_THREADS sets their HTTP worker threads (8).  PostgreSQL refuses to run as root: its processes run as the
# postgres user (setpriv), in their own process groups.  Settings are for a
# demonstration on one machine (trust authentication on loopback, fsync off,
# failover timeouts of seconds); docs/deployment.md says what production needs.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${VOUCH_BUILD:-$ROOT/build}
PGBIN=/usr/lib/postgresql/15/bin
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || {
    sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
PG=$dir/pg
XDG=$PG/xdg
# HAProxy connects to the nodes from this loopback address, the only one whose
# X-Forwarded-For they believe (clients come from 127.0.0.1).
HAPROXY_SOURCE=127.0.0.2

die() {
    echo "cluster: $*" >&2
    exit 1
}
free_port() {
    /usr/bin/python3 "$ROOT/scripts/free-port.py"
}
# The prefix that runs a command as the postgres user (when root), with
# pg_autoctl's state under DIR; as_pg runs one.
pg_prefix=()
[ "$(id -u)" -eq 0 ] && pg_prefix=(setpriv --reuid=postgres --regid=postgres --init-groups)
pg_prefix+=(env HOME="$PG" XDG_CONFIG_HOME="$XDG/config" XDG_DATA_HOME="$XDG/data"
    XDG_RUNTIME_DIR="$XDG/run" PATH="$PGBIN:/usr/bin:/bin")
as_pg() { "${pg_prefix[@]}" "$@"; }
pid_get() { awk -v n="$1" '$1 == n {print $2}' "$dir/pids" 2>/dev/null | tail -1; }
pid_set() {
    touch "$dir/pids"
    grep -v "^$1 " "$dir/pids" >"$dir/pids.new" || true
    echo "$1 $2" >>"$dir/pids.new"
    mv "$dir/pids.new" "$dir/pids"
}
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
# Waits up to $1 seconds for the command after it to succeed.
wait_for() {
    local t=$(($1 * 10))
    shift
    while ! "$@" >/dev/null 2>&1; do
        t=$((t - 1))
        [ "$t" -gt 0 ] || return 1
        sleep 0.1
    done
}
monitor_sql() {
    psql -XAtq -v ON_ERROR_STOP=1 -F ' ' \
        -d "postgresql://autoctl_node@127.0.0.1:$PORT_MONITOR/pg_auto_failover" -c "$1"
}
node_state() { monitor_sql "SELECT reportedstate FROM pgautofailover.node WHERE nodeport = $1"; }
node_is() { [ "$(node_state "$1")" = "$2" ]; }

# Starts a pg_autoctl service (monitor or keeper) in a process group of its own
# (setsid execs: a background job of a script leads no group), PID = group id.
autoctl_run() {
    setsid "${pg_prefix[@]}" pg_autoctl run --pgdata "$PG/$1" >>"$dir/log/$1.log" 2>&1 </dev/null &
    pid_set "$1" $!
}

ports_new() {
    {
        for v in MONITOR PG1 PG2 HAPROXY_API HAPROXY_PUBLIC; do echo "PORT_$v=$(free_port)"; done
        for i in 1 2 3; do echo "PORT_NODE${i}_API=$(free_port)"; echo "PORT_NODE${i}_PUBLIC=$(free_port)"; done
    } >"$dir/ports"
}

pg_setup() {
    mkdir -p "$XDG/config" "$XDG/data" "$XDG/run" "$dir/log"
    chmod 700 "$XDG/run"
    [ "$(id -u)" -eq 0 ] && chown -R postgres "$PG" && chmod 711 "$dir"
    as_pg test -w "$PG" || die "the postgres user cannot write $PG: make the directories above it traversable (chmod o+x)"
    # The monitor; failure detection in seconds (the defaults are for real networks).
    as_pg pg_autoctl create monitor --pgdata "$PG/monitor" --pgport "$PORT_MONITOR" \
        --hostname 127.0.0.1 --auth trust --no-ssl --pgctl "$PGBIN/pg_ctl" \
        >>"$dir/log/monitor.log" 2>&1 || die "monitor: see $dir/log/monitor.log"
    as_pg pg_autoctl config set --pgdata "$PG/monitor" postgresql.listen_addresses 127.0.0.1 \
        >>"$dir/log/monitor.log" 2>&1
    cat >>"$PG/monitor/postgresql.conf" <<EOF
pgautofailover.health_check_period = 1000
pgautofailover.health_check_timeout = 1000
pgautofailover.health_check_max_retries = 1
pgautofailover.health_check_retry_delay = 500
pgautofailover.node_considered_unhealthy_timeout = 3000
pgautofailover.primary_demote_timeout = 3000
EOF
    autoctl_run monitor
    wait_for 60 monitor_sql "SELECT 1" || die "monitor did not start: see $dir/log/monitor.log"
    pg_node_create node1 "$PORT_PG1"
    wait_for 90 node_is "$PORT_PG1" single || die "node1 did not become primary"
    wait_for 60 "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT_PG1" || die "node1 does not answer"
    psql -XAtq -v ON_ERROR_STOP=1 -d "postgresql://postgres@127.0.0.1:$PORT_PG1/postgres" \
        -c "CREATE ROLE vouch LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE" \
        -c "CREATE DATABASE vouch OWNER vouch" >/dev/null
    pg_node_create node2 "$PORT_PG2"
    # pg_basebackup asks for a spread checkpoint (minutes on an idle server): hurry it.
    for _ in $(seq 1 120); do
        node_is "$PORT_PG2" secondary && break
        psql -XAtq -d "postgresql://postgres@127.0.0.1:$PORT_PG1/postgres" -c CHECKPOINT \
            >>"$dir/log/checkpoint.log" 2>&1 || true
        sleep 1
    done
    node_is "$PORT_PG2" secondary || die "node2 did not become a standby"
}

# Creates a keeper's node (the first is the primary, the second a standby made by
# pg_basebackup from it) and runs it.
pg_node_create() {
    local name=$1 port=$2
    as_pg pg_autoctl create postgres --pgdata "$PG/$name" --pgport "$port" --listen 127.0.0.1 \
        --hostname 127.0.0.1 --name "$name" --auth trust --no-ssl --pgctl "$PGBIN/pg_ctl" \
        --monitor "postgresql://autoctl_node@127.0.0.1:$PORT_MONITOR/pg_auto_failover?sslmode=disable" \
        >>"$dir/log/$name.log" 2>&1 || die "$name: see $dir/log/$name.log"
    # A keeper that lost the monitor and its standby fences itself (demotes) after this long.
    as_pg pg_autoctl config set --pgdata "$PG/$name" timeout.network_partition_timeout 3 \
        >>"$dir/log/$name.log" 2>&1
    if [ "$name" = node1 ]; then
        cat >>"$PG/$name/postgresql.conf" <<EOF
max_connections = 300
shared_buffers = 64MB
fsync = off
checkpoint_completion_target = 0.05
EOF
    fi
    autoctl_run "$name"
}

vouch_setup() {
    local url="postgresql://vouch@127.0.0.1:$PORT_PG1,127.0.0.1:$PORT_PG2/vouch?target_session_attrs=read-write&connect_timeout=2"
    "$BUILD/vouchd" init "$dir/vouch" --no-tls --json --api-port "$PORT_NODE1_API" \
        --public-port "$PORT_NODE1_PUBLIC" --database "$url" >"$dir/init.json" \
        2>>"$dir/log/init.log" || die "vouchd init: see $dir/log/init.log"
    for i in 1 2 3; do
        local a=PORT_NODE${i}_API p=PORT_NODE${i}_PUBLIC
        sed -e "s/^api_port = .*/api_port = ${!a}/" -e "s/^public_port = .*/public_port = ${!p}/" \
            -e "s|^public_url = .*|public_url = http://127.0.0.1:$PORT_HAPROXY_PUBLIC|" \
            "$dir/vouch/vouchd.conf" >"$dir/vouch/node$i.conf"
        printf 'crl_check_seconds = 5\nocsp_check_seconds = 5\nthreads = %s\n' "${VOUCH_CLUSTER_THREADS:-8}" >>"$dir/vouch/node$i.conf"
        echo "trusted_proxies = $HAPROXY_SOURCE" >>"$dir/vouch/node$i.conf"
    done
    /usr/bin/python3 - "$dir" <<'EOF'
import json, sys
d = sys.argv[1]
info = json.load(open(d + "/init.json"))
with open(d + "/ports") as f:
    ports = dict(l.strip().split("=", 1) for l in f if "=" in l)
with open(d + "/env", "w") as f:
    f.write(f"VOUCH_CLUSTER_API=http://127.0.0.1:{ports['PORT_HAPROXY_API']}\n")
    f.write(f"VOUCH_CLUSTER_PUBLIC=http://127.0.0.1:{ports['PORT_HAPROXY_PUBLIC']}\n")
    f.write(f"VOUCH_CLUSTER_SYSTEM_TOKEN={info['system_token']}\n")
    f.write(f"VOUCH_CLUSTER_TOKEN={info['admin_token']}\n")
    f.write(f"VOUCH_CLUSTER_DB=postgresql://postgres@127.0.0.1:{ports['PORT_PG1']},127.0.0.1:"
            f"{ports['PORT_PG2']}/vouch?target_session_attrs=read-write\n")
    f.write(f"VOUCH_CLUSTER_MONITOR=postgresql://autoctl_node@127.0.0.1:"
            f"{ports['PORT_MONITOR']}/pg_auto_failover\n")
EOF
}

node_start() {
    local i=$1 pid
    pid=$(pid_get "vouchd$i")
    alive "$pid" && return 0
    "$BUILD/vouchd" -c "$dir/vouch/node$i.conf" >"$dir/log/vouchd$i.ports" \
        2>>"$dir/log/vouchd$i.log" </dev/null &
    pid_set "vouchd$i" $!
    local a=PORT_NODE${i}_API
    wait_for 30 curl -sf "http://127.0.0.1:${!a}/readyz" || die "vouchd node $i is not ready: see $dir/log/vouchd$i.log"
}

stop_pid() { # name [seconds]: TERM, then KILL after the wait
    local pid
    pid=$(pid_get "$1")
    alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    wait_for "${2:-15}" bash -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null || true
    wait_for 5 bash -c "! kill -0 $pid" || true
}

# A database node: its pg_autoctl process group (keeper and PostgreSQL), then any
# postmaster left behind (a keeper killed with -9 leaves PostgreSQL running).
stop_pg() {
    local name=$1 pid pm
    pid=$(pid_get "$name")
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        wait_for 30 bash -c "! kill -0 $pid" || kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    if [ -f "$PG/$name/postmaster.pid" ]; then
        pm=$(head -1 "$PG/$name/postmaster.pid")
        if alive "$pm"; then
            kill -INT "$pm" 2>/dev/null || true
            wait_for 30 bash -c "! kill -0 $pm" || kill -KILL "$pm" 2>/dev/null || true
        fi
    fi
}

haproxy_start() {
    local pid
    pid=$(pid_get haproxy)
    alive "$pid" && return 0
    VOUCH_HAPROXY_API=127.0.0.1:$PORT_HAPROXY_API VOUCH_HAPROXY_PUBLIC=127.0.0.1:$PORT_HAPROXY_PUBLIC \
        VOUCH_HAPROXY_STATS=$dir/haproxy.sock VOUCH_HAPROXY_SOURCE=$HAPROXY_SOURCE \
        VOUCH_NODE1_API=127.0.0.1:$PORT_NODE1_API VOUCH_NODE1_PUBLIC=127.0.0.1:$PORT_NODE1_PUBLIC \
        VOUCH_NODE2_API=127.0.0.1:$PORT_NODE2_API VOUCH_NODE2_PUBLIC=127.0.0.1:$PORT_NODE2_PUBLIC \
        VOUCH_NODE3_API=127.0.0.1:$PORT_NODE3_API VOUCH_NODE3_PUBLIC=127.0.0.1:$PORT_NODE3_PUBLIC \
        haproxy -W -f "$ROOT/deploy/haproxy.cfg" >>"$dir/log/haproxy.log" 2>&1 </dev/null &
    pid_set haproxy $!
    wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$PORT_HAPROXY_API/healthz" ||
        die "haproxy did not start: see $dir/log/haproxy.log"
}

case "$cmd" in
start)
    mkdir -p "$dir/log"
    [ -f "$dir/ports" ] || ports_new
    . "$dir/ports"
    started=
    trap '[ -n "$started" ] || { echo "cluster: start failed; stopping what started" >&2; "$0" stop "$dir" >&2; }' EXIT
    if [ ! -f "$dir/vouch/vouchd.conf" ]; then
        pg_setup
        vouch_setup
    else
        for n in monitor node1 node2; do
            alive "$(pid_get "$n")" || autoctl_run "$n"
        done
        wait_for 60 monitor_sql "SELECT 1" || die "monitor did not start"
        # vouchd waits for a primary only database_wait_seconds: wait for one here.
        wait_for 120 psql -XAtq -c "SELECT 1" \
            -d "postgresql://postgres@127.0.0.1:$PORT_PG1,127.0.0.1:$PORT_PG2/postgres?target_session_attrs=read-write&connect_timeout=2" ||
            die "no database primary: see $dir/log/node1.log, node2.log"
    fi
    for i in $(seq 1 "${VOUCH_CLUSTER_NODES:-3}"); do node_start "$i"; done
    haproxy_start
    started=1
    . "$dir/env"
    echo "vouch cluster in $dir:"
    echo "  API (HAProxy)     $VOUCH_CLUSTER_API   admin token of default: $VOUCH_CLUSTER_TOKEN"
    echo "  public (HAProxy)  $VOUCH_CLUSTER_PUBLIC"
    echo "  system token      $VOUCH_CLUSTER_SYSTEM_TOKEN"
    echo "  database          $VOUCH_CLUSTER_DB"
    echo "  stop with: deploy/cluster.sh stop $dir   (make cluster-stop)"
    ;;
stop)
    [ -f "$dir/ports" ] || exit 0
    . "$dir/ports"
    stop_pid haproxy
    for i in 1 2 3; do stop_pid "vouchd$i"; done
    # The standby first, so the primary does not wait for it; the monitor last.
    primary=$("$0" pg-primary "$dir" 2>/dev/null || echo node1)
    for n in node1 node2; do [ "$n" = "$primary" ] || stop_pg "$n"; done
    stop_pg "$primary"
    stop_pg monitor
    ;;
status)
    . "$dir/ports"
    while read -r name pid; do
        if alive "$pid"; then echo "$name $pid running"; else echo "$name $pid stopped"; fi
    done <"$dir/pids"
    monitor_sql "SELECT nodename, nodeport, reportedstate, goalstate FROM pgautofailover.node ORDER BY nodeid" || true
    ;;
node-stop)
    . "$dir/ports"
    stop_pid "vouchd${3:?node number}"
    ;;
node-start)
    . "$dir/ports"
    node_start "${3:?node number}"
    ;;
pg-primary)
    . "$dir/ports"
    monitor_sql "SELECT nodename FROM pgautofailover.node WHERE reportedstate IN ('primary', 'wait_primary', 'single') AND goalstate IN ('primary', 'wait_primary', 'single') ORDER BY nodeid LIMIT 1" | grep .
    ;;
pg-start)
    . "$dir/ports"
    alive "$(pid_get "${3:?node name}")" || autoctl_run "$3"
    ;;
*)
    die "unknown command $cmd"
    ;;
esac
