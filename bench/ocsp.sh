#!/bin/bash
# OCSP requests/s: vouchd (pre-signed responses, delegated P-256 responder)
# with COUNT certificates in its store (10% revoked), beside the same CA's
# serials answered by `openssl ocsp` (index file, a P-256 responder certificate
# from the same CA), `cfssl ocspserve` (vouchd's own pre-signed responses, as a
# file) and nginx serving one response as a static file (the reference limit).
# Same 1000 requests (SHA-1 CertIDs, no nonce) and the same client (wrk, 2
# threads) for all.  Prints rates, ratios and vouchd's p99 latency.
# With BIG=N (e.g. BIG=10000000) it then fills a second store with N
# certificates, pre-signs only the 1000 requested ones, turns the in-memory
# cache off and prints vouchd's p99 latency (every answer read from the
# database).  Not a test: it asserts nothing.
#
# openssl ocsp binds every address, so it runs (with its wrk) in a network
# namespace of its own that has only loopback.  It runs with -multi 2 (two
# responder processes, one per core): a single one stalls on wrk's keep-alive
# connections.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-8}
CONNS=${CONNS:-32}
COUNT=${COUNT:-100000}
. bench/lib.sh
p99() { awk '/ 99%/ {print $2}' "$1"; }
bench() { # name mode url [wrk args...]
    local name=$1 mode=$2 url=$3
    shift 3
    echo "== $name: $mode $url, ${DURATION}s, 2 threads, $CONNS connections"
    BENCH_MODE=$mode BENCH_REQUESTS="$work/requests.$([ "$mode" = post ] && echo hex || echo get)" \
        wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s bench/ocsp.lua "$url" "$@" \
        | tee "$work/$name.wrk"
}

api=$(port); pub=$(port)
build/vouchd init "$work/vouch" --api-port "$api" --public-port "$pub" --no-tls --json >/dev/null
printf "threads = %s\nocsp_live_signs_per_second = 0\n" "${THREADS:-4}" >> "$work/vouch/vouchd.conf"
python3 - "$work" <<'PY'
import sqlite3, sys, base64
db = sqlite3.connect(sys.argv[1] + "/vouch/vouch.db")
der = db.execute("select cert from cas where tenant='default' and name='issuing'").fetchone()[0]
b = base64.encodebytes(der).decode()
open(sys.argv[1] + "/issuing.pem", "w").write(
    "-----BEGIN CERTIFICATE-----\n" + b + "-----END CERTIFICATE-----\n")
PY
t0=$(date +%s.%N)
python3 bench/ocsp_fill.py "$work/vouch/vouch.db" "$work/issuing.pem" "$COUNT" 10 "$work"
echo "inserted $COUNT certificate records in $(python3 -c "print(round($(date +%s.%N) - $t0, 1))") s"

build/vouchd -c "$work/vouch/vouchd.conf" > "$work/vouchd.out" 2> "$work/vouchd.log" &
pids+=($!)
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$pub/healthz" >/dev/null && break; sleep 0.1; done
t0=$(date +%s.%N)
while [ "$(sqlite3 "$work/vouch/vouch.db" "select count(*) from ocsp_responses where der is null and refresh_at = 0")" != 0 ]; do
    sleep 1
done
echo "pre-signed $COUNT responses in $(python3 -c "print(round($(date +%s.%N) - $t0, 1))") s"

bench vouchd-post post "http://127.0.0.1:$pub/ocsp/default/issuing"
bench vouchd-get get "http://127.0.0.1:$pub/ocsp/default/issuing"

# cfssl ocspserve, answering from vouchd's pre-signed responses.
sqlite3 "$work/vouch/vouch.db" "select hex(der) from ocsp_responses where der is not null" |
    python3 -c 'import sys, base64; [print(base64.b64encode(bytes.fromhex(l.strip())).decode()) for l in sys.stdin]' \
    > "$work/responses.b64"
cport=$(port)
cfssl ocspserve -address 127.0.0.1 -port "$cport" -responses "$work/responses.b64" -loglevel 5 \
    > "$work/cfssl.log" 2>&1 &
pids+=($!)
for _ in $(seq 1200); do curl -s -o /dev/null "http://127.0.0.1:$cport/" && break; sleep 0.1; done  # it parses every response first
bench cfssl-post post "http://127.0.0.1:$cport"
bench cfssl-get get "http://127.0.0.1:$cport"

# nginx: one response as a static file, over GET.
nport=$(port)
mkdir -p "$work/static" "$work/nginx"
chmod 755 "$work" "$work/static"   # nginx workers run as www-data
head -1 "$work/responses.b64" | base64 -d > "$work/static/resp.der"
cat > "$work/nginx.conf" <<NGX
worker_processes 2;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work/nginx; proxy_temp_path $work/nginx;
    fastcgi_temp_path $work/nginx; uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
    server {
        listen 127.0.0.1:$nport;
        location / { default_type application/ocsp-response; root $work/static;
                     try_files /resp.der =404; }
    }
}
NGX
nginx -c "$work/nginx.conf" -p "$work/nginx" &
pids+=($!)
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$nport/x" && break; sleep 0.1; done
bench nginx-get get "http://127.0.0.1:$nport/ocsp"

# openssl ocsp with the same CA: a P-256 responder certificate signed by the CA key.
key_id=$(sqlite3 "$work/vouch/vouch.db" "select key_id from cas where tenant='default' and name='issuing'")
openssl pkey -in "$work/vouch/keys/default/$key_id.pem" -passin "file:$work/vouch/kek" \
    -out "$work/ca.key"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/rsp.key" \
    -subj "/CN=openssl responder" -out "$work/rsp.csr" 2>/dev/null
printf 'extendedKeyUsage=OCSPSigning\nkeyUsage=critical,digitalSignature\n' > "$work/rsp.ext"
openssl x509 -req -in "$work/rsp.csr" -CA "$work/issuing.pem" -CAkey "$work/ca.key" \
    -CAcreateserial -days 7 -extfile "$work/rsp.ext" -out "$work/rsp.pem" 2>/dev/null
oport=$(port)
cp bench/ocsp.lua "$work/"
unshare -n bash -c "
    ip link set lo up
    openssl ocsp -index '$work/index.txt' -port $oport -rsigner '$work/rsp.pem' \
        -rkey '$work/rsp.key' -CA '$work/issuing.pem' -nmin 60 -multi 2 > '$work/openssl.log' 2>&1 &
    o=\$!
    sleep 1
    BENCH_MODE=post BENCH_REQUESTS='$work/requests.hex' wrk -t2 -c$CONNS -d${DURATION}s --latency \
        -s '$work/ocsp.lua' http://127.0.0.1:$oport/ | tee '$work/openssl-post.wrk'
    pkill -P \$o || true; kill \$o; wait 2>/dev/null || true
"

echo
vp=$(rate "$work/vouchd-post.wrk"); vg=$(rate "$work/vouchd-get.wrk")
cp=$(rate "$work/cfssl-post.wrk"); cg=$(rate "$work/cfssl-get.wrk")
ng=$(rate "$work/nginx-get.wrk"); op=$(rate "$work/openssl-post.wrk")
r() { python3 -c "print(round($1 / $2, 2))"; }
printf "OCSP requests/s with %s certificates (10%% revoked), P-256 responder:\n" "$COUNT"
printf "  vouchd   POST %10s  GET %10s   (p99 POST %s, GET %s)\n" "$vp" "$vg" \
    "$(p99 "$work/vouchd-post.wrk")" "$(p99 "$work/vouchd-get.wrk")"
printf "  cfssl    POST %10s  GET %10s\n" "$cp" "$cg"
printf "  openssl  POST %10s\n" "$op"
printf "  nginx             GET %10s   (static file)\n" "$ng"
printf "ratios: vouchd/openssl %s (goal >= 5), vouchd/cfssl %s POST %s GET (goal >= 3), vouchd/nginx GET %s (goal >= 0.8)\n" \
    "$(r "$vp" "$op")" "$(r "$vp" "$cp")" "$(r "$vg" "$cg")" "$(r "$vg" "$ng")"

if [ -n "${BIG:-}" ]; then
    kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
    api=$(port); pub=$(port)
    build/vouchd init "$work/big" --api-port "$api" --public-port "$pub" --no-tls --json >/dev/null
    printf 'threads = %s\nocsp_cache_seconds = 0\n' "${THREADS:-4}" >> "$work/big/vouchd.conf"
    python3 - "$work" <<'PY'
import sqlite3, sys, base64
db = sqlite3.connect(sys.argv[1] + "/big/vouch.db")
der = db.execute("select cert from cas where tenant='default' and name='issuing'").fetchone()[0]
open(sys.argv[1] + "/issuing.pem", "w").write(
    "-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der).decode() + "-----END CERTIFICATE-----\n")
PY
    t0=$(date +%s.%N)
    python3 bench/ocsp_fill.py "$work/big/vouch.db" "$work/issuing.pem" "$BIG" 10 "$work" --sample-only
    echo "inserted $BIG certificate records in $(python3 -c "print(round($(date +%s.%N) - $t0, 1))") s"
    build/vouchd -c "$work/big/vouchd.conf" > "$work/big.out" 2> "$work/big.log" &
    pids+=($!)
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$pub/healthz" >/dev/null && break; sleep 0.1; done
    while [ "$(sqlite3 "$work/big/vouch.db" "select count(*) from ocsp_responses where der is null and refresh_at = 0")" != 0 ]; do
        sleep 1
    done
    bench big-post post "http://127.0.0.1:$pub/ocsp/default/issuing"
    CONNS=4 bench big-post-4 post "http://127.0.0.1:$pub/ocsp/default/issuing"
    # A fixed offered load well below saturation (16 connections, 2 ms apart each).
    CONNS=16 BENCH_DELAY_MS=2 bench big-post-paced post "http://127.0.0.1:$pub/ocsp/default/issuing"
    printf "\nwith %s stored certificates (no in-memory cache), goal p99 < 10 ms:\n" "$BIG"
    printf "  %s connections: %s requests/s, p99 %s\n" "$CONNS" "$(rate "$work/big-post.wrk")" \
        "$(p99 "$work/big-post.wrk")"
    printf "  4 connections: %s requests/s, p99 %s\n" "$(rate "$work/big-post-4.wrk")" \
        "$(p99 "$work/big-post-4.wrk")"
    printf "  16 connections, 2 ms between requests: %s requests/s, p99 %s\n" \
        "$(rate "$work/big-post-paced.wrk")" "$(p99 "$work/big-post-paced.wrk")"
fi
