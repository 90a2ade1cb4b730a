#!/bin/sh
# A throw-away PostgreSQL server for the tests, from Debian's postgresql package.
#
#   tests/pg/pg.sh start DIR   initdb in DIR/data as the postgres user, start it on
#                              127.0.0.1 and an ephemeral port (socket in DIR), create
#                              the application role "vouch" (no superuser, no
#                              BYPASSRLS) and the database vouch_unit it owns; writes
#                              DIR/env with VOUCH_TEST_PG_ADMIN (a superuser URL on
#                              database postgres) and VOUCH_TEST_PG (a vouch URL
#                              without database name)
#   tests/pg/pg.sh stop DIR    stops that server by its PID and removes DIR
#
# PostgreSQL refuses to run as root, hence runuser.  Trust authentication on
# loopback only; fsync off: test data need not survive a crash of the machine.
here=$(cd "$(dirname "$0")" && pwd)
set -eu
BIN=/usr/lib/postgresql/15/bin
cmd=${1:?usage: pg.sh start|stop DIR}
dir=${2:?usage: pg.sh start|stop DIR}

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
start)
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    port=$(/usr/bin/python3 "$here/../../scripts/free-port.py")
    as_pg "$BIN/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 \
        --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    as_pg "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c full_page_writes=off \
            -c synchronous_commit=off -c max_connections=300 -c shared_buffers=64MB" \
        start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    admin="postgresql://postgres@127.0.0.1:$port/postgres"
    as_pg /usr/bin/psql -q -v ON_ERROR_STOP=1 -d "$admin" \
        -c "CREATE ROLE vouch LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE" \
        -c "CREATE DATABASE vouch_unit OWNER vouch" >/dev/null
    printf 'VOUCH_TEST_PG_ADMIN=%s\nVOUCH_TEST_PG=postgresql://vouch@127.0.0.1:%s\n' \
        "$admin" "$port" >"$dir/env"
    ;;
stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
        pid=$(head -1 "$dir/data/postmaster.pid")
        kill -TERM "$pid" 2>/dev/null || true
        # Smart shutdown waits for clients; after 30 s switch to fast (SIGINT).
        i=0
        while kill -0 "$pid" 2>/dev/null; do
            i=$((i + 1))
            [ "$i" -eq 300 ] && kill -INT "$pid" 2>/dev/null
            sleep 0.1
        done
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: pg.sh start|stop DIR" >&2
    exit 2
    ;;
esac
