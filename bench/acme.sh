#!/bin/bash
# ACME: vouchd's ACME endpoint (P-256 issuing CA, every certificate stored with
# its audit event and durably committed before the answer) beside Debian's
# pebble (the Let's Encrypt test server: in memory, its random validation
# sleep off), measured in the same run with the same clients:
#   (a) LEGO_RUNS sequential `lego run` (http-01, lego's own server), a new
#       account and key each: wall time per order against each, and the ratio;
#   (b) build/bench/acme_load, CLIENTS concurrent clients (default 16) doing
#       complete orders for DURATION seconds (after WARMUP) against each: orders/s,
#       and CPU per order of vouchd's network process and signer, pebble, the DNS
#       server both validate through, and the generator itself.
# Both servers, the DNS server (pebble-challtestsrv, every name 127.0.0.1) and
# the clients run on loopback only.  Prints the figures; asserts nothing.
# LEGO_RUNS=0 leaves (a) out; PEER=0 leaves pebble out of (b); VOUCHD=path runs
# another build of vouchd; PERF=file records vouchd and its signer with perf
# (DWARF call graphs) during (b)'s window against vouchd.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CLIENTS=${CLIENTS:-16}
LEGO_RUNS=${LEGO_RUNS:-5}
THREADS=${THREADS:-32}
VOUCHD=${VOUCHD:-build/vouchd} # another build to compare
SIGNERS=${SIGNERS:-16}
WORKERS=${WORKERS:-16}
. bench/lib.sh
wait_for() { for _ in $(seq 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "not up: $*" >&2; return 1; }

# The DNS server every name resolves through (to 127.0.0.1), for both servers and lego.
dns=$(port); dns_mgmt=$(port)
pebble-challtestsrv -dns01 "127.0.0.1:$dns" -http01 "" -https01 "" -tlsalpn01 "" \
    -management "127.0.0.1:$dns_mgmt" -defaultIPv4 127.0.0.1 -defaultIPv6 "" \
    >"$work/challtestsrv.log" 2>&1 &
pids+=($!); dns_pid=$!
wait_for curl -sf "http://127.0.0.1:$dns_mgmt/set-default-ipv4" -d '{"ip": "127.0.0.1"}'

# vouchd with TLS on its API listener (RFC 8555 section 6.1), validation allowed to loopback.
vhttp=$(port); api=$(port); pub=$(port)
info=$("$VOUCHD" init "$work/vouch" --api-port "$api" --public-port "$pub" --json 2>"$work/init.log")
token=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["admin_token"])' "$info")
vca=$work/vouch/tls/ca.crt
cat >>"$work/vouch/vouchd.conf" <<EOF
threads = $THREADS
signer_connections = $SIGNERS
acme_workers = $WORKERS
acme_resolvers = 127.0.0.1:$dns
acme_http_port = $vhttp
acme_validation_allow = 127.0.0.0/8
EOF
"$VOUCHD" -c "$work/vouch/vouchd.conf" >"$work/vouch.out" 2>"$work/vouch.log" &
pids+=($!); vpid=$!
wait_for curl -sf --cacert "$vca" "https://127.0.0.1:$api/healthz"
spid=$(pgrep -P "$vpid" | head -1)
# The endpoint checks no CAA (pebble checks none either).
curl -sf --cacert "$vca" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"name": "bench", "ca": "issuing", "caa_check": false, "profiles": [{"name": "tls-server"}]}' \
    "https://127.0.0.1:$api/api/v1/t/default/acme/endpoints" >/dev/null
vdir=https://127.0.0.1:$api/acme/default/bench/directory

# pebble: a TLS certificate for its listener, its own http-01 port; no nonce rejected on
# purpose, no authorization reused, no validation sleep.
phttp=$(port); pport=$(port); pmgmt=$(port); ptls=$(port)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/pebble.key" \
    -out "$work/pebble.crt" -subj /CN=127.0.0.1 -days 2 \
    -addext subjectAltName=IP:127.0.0.1,DNS:localhost 2>/dev/null
cat >"$work/pebble.json" <<EOF
{"pebble": {"listenAddress": "127.0.0.1:$pport", "managementListenAddress": "127.0.0.1:$pmgmt",
 "certificate": "$work/pebble.crt", "privateKey": "$work/pebble.key",
 "httpPort": $phttp, "tlsPort": $ptls, "ocspResponderURL": "",
 "externalAccountBindingRequired": false}}
EOF
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 \
    pebble -config "$work/pebble.json" -dnsserver "127.0.0.1:$dns" -strict=false \
    >"$work/pebble.log" 2>&1 &
pids+=($!); ppid_=$!
pdir=https://127.0.0.1:$pport/dir
wait_for curl -sf --cacert "$work/pebble.crt" "$pdir"

# (a) sequential lego runs: a new account, key and name each.
lego_runs() { # NAME DIRECTORY CAFILE PORT: prints the mean wall seconds per order, then each run's
    local t0 t1 each=""
    for i in $(seq "$LEGO_RUNS"); do
        t0=$(date +%s.%N)
        LEGO_CA_CERTIFICATES=$3 lego --server "$2" --path "$work/lego-$1-$i" --accept-tos \
            --email bench@example.org --dns.resolvers "127.0.0.1:$dns" \
            --domains "lego$i.$1.example" --http --http.port "127.0.0.1:$4" run \
            >>"$work/lego-$1.log" 2>&1 || { echo "lego against $1 failed:" >&2; tail -5 "$work/lego-$1.log" >&2; return 1; }
        t1=$(date +%s.%N)
        each="$each $(python3 -c "print('%.2f' % ($t1 - $t0))")"
    done
    python3 -c "import sys; t = [float(x) for x in sys.argv[1:]]; print('%.3f' % (sum(t) / len(t)), ' '.join(sys.argv[1:]))" $each
}
if [ "$LEGO_RUNS" -gt 0 ]; then
    echo "== (a) $LEGO_RUNS sequential lego runs (http-01, lego's own server) against each"
    read -r lv lv_each < <(lego_runs vouchd "$vdir" "$vca" "$vhttp")
    read -r lp lp_each < <(lego_runs pebble "$pdir" "$work/pebble.crt" "$phttp")
    echo "each run (s): vouchd $lv_each; pebble $lp_each"
    echo "wall time per order: vouchd $lv s, pebble $lp s, vouchd/pebble $(python3 -c "print(round($lv / $lp, 2))") (goal <= 1)"
fi

# (b) the load generator against each.
echo "== (b) build/bench/acme_load: $CLIENTS clients, ${WARMUP}s warm-up, then ${DURATION}s"
certs0=$(sqlite3 "$work/vouch/vouch.db" "select count(*) from certs where tenant='default'")
echo "-- vouchd (threads $THREADS, signer_connections $SIGNERS, acme_workers $WORKERS)"
[ -n "${PERF:-}" ] && { (sleep "$WARMUP"; exec perf record -F 499 --call-graph dwarf,16384 -p "$vpid,$spid" \
    -o "$PERF" -- sleep "$DURATION") >/dev/null 2>&1 & }
build/bench/acme_load -d "$vdir" -c "$vca" -p "$vhttp" -n "$CLIENTS" -t "$DURATION" -w "$WARMUP" \
    -s vouchd.bench.example -P "vouchd=$vpid" -P "signer=$spid" -P "dns=$dns_pid" | tee "$work/load-vouchd.txt"
certs=$(sqlite3 "$work/vouch/vouch.db" "select count(*) from certs where tenant='default'")
# Certificates of ACME accounts (requester set) without their cert.issue audit event.
unaudited=$(sqlite3 "$work/vouch/vouch.db" "select count(*) from certs where tenant='default' and
    requester is not null and serial not in
    (select object from audit where tenant='default' and action='cert.issue')")
echo "certificates stored by vouchd in this part: $((certs - certs0)); issued through ACME without a cert.issue audit event: $unaudited"
[ "${PEER:-1}" = 0 ] && exit 0 # vouchd alone (comparing two builds)
# -x: pebble 2.4 deadlocks under concurrent newOrders (see acme_load.c); they go one at a time.
echo "-- pebble (-x: one newOrder at a time)"
build/bench/acme_load -x -d "$pdir" -c "$work/pebble.crt" -p "$phttp" -n "$CLIENTS" -t "$DURATION" \
    -w "$WARMUP" -s pebble.bench.example -P "pebble=$ppid_" -P "dns=$dns_pid" | tee "$work/load-pebble.txt"

v=$(awk '/^orders:/ {print $6}' "$work/load-vouchd.txt"); p=$(awk '/^orders:/ {print $6}' "$work/load-pebble.txt")
echo
printf "orders/s with %s clients: vouchd %s (stored + audited), pebble %s (in memory), ratio %s (goal >= 5, and vouchd >= 300/s)\n" \
    "$CLIENTS" "$v" "$p" "$(python3 -c "print(round($v / $p, 2) if $p else 'n/a')")"
