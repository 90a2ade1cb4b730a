#!/bin/bash
# CMP: ir with MAC protection (PasswordBasedMac, implicit confirm) against
# vouchd's CMP endpoint (P-256 CA, every certificate issued through the door,
# stored and audited, the transaction and nonce filed) beside OpenSSL's own
# mock server (`openssl cmp -port`: one connection at a time, returns a fixed
# certificate, stores nothing), with the same client: build/bench/cmp_load,
# CLIENTS (default 16) threads of OpenSSL's CMP client for DURATION seconds.
# And vouch's REST issuance from a CSR in the same run (wrk, as
# bench/issue.sh), the issue's other yardstick (goals: >= 10x the mock
# server, >= 0.6x REST).  Loopback only.  Prints the figures; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-16}
. bench/lib.sh
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/dev.key" 2>/dev/null

# build/bench/cmp_load: CLIENTS threads of OpenSSL's CMP client against host port path for
# DURATION seconds; prints its summary line and leaves the rate in $work/rate.
load() {
    build/bench/cmp_load -s 127.0.0.1 -p "$1" -a "$2" -r "$3" -k "$4" -K "$work/dev.key" \
        -n "$CLIENTS" \
        -t "$DURATION" | tee "$work/load.out"
    awk '{print $1 / $4}' "$work/load.out" > "$work/rate"
}

# vouchd
vouchd_start vouch "${THREADS:-32}"
vpid=${pids[0]}
spid=$(pgrep -P "$vpid" | head -1)
curl -sf -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"name": "bench", "ca": "issuing", "implicit_confirm": true, "protection": ["mac"]}' \
    "http://127.0.0.1:$api/api/v1/t/default/cmp/endpoints" >/dev/null
secret=$(curl -sf -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"reference": "bench", "reusable": true}' \
    "http://127.0.0.1:$api/api/v1/t/default/cmp/endpoints/bench/secrets" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
echo "== vouchd: ir (MAC, implicit confirm), $CLIENTS clients, ${DURATION}s"
n0=$(ticks "$vpid")
load "$pub" /.well-known/cmp/p/default~bench bench "$secret"
v=$(cat "$work/rate")
python3 -c "t = $(getconf CLK_TCK); n = max(int($(awk '{print $1}' "$work/load.out")), 1)
print('CPU per certificate: vouchd (network process) %.0f us' % (($(ticks "$vpid") - $n0) * 1e6 / t / n))"
# one certificate for the mock server to hand out
openssl cmp -cmd ir -server "127.0.0.1:$pub" -path /.well-known/cmp/p/default~bench -ref bench \
    -secret "pass:$secret" -recipient /CN=bench -newkey "$work/dev.key" -subject /CN=mock \
    -implicit_confirm -certout "$work/out-1.pem" >/dev/null 2>&1

# OpenSSL's mock server, returning a certificate vouchd issued
mport=$(port)
cp "$work/out-1.pem" "$work/rsp.pem"
openssl cmp -port "$mport" -srv_ref bench -srv_secret pass:mock -rsp_cert "$work/rsp.pem" \
    >"$work/mock.log" 2>&1 &
pids+=($!)
sleep 0.5
echo "== openssl cmp -port (mock server): ir (MAC, implicit confirm), $CLIENTS clients, ${DURATION}s"
load "$mport" /pkix/ bench mock
m=$(cat "$work/rate")

# vouch's REST issuance from a CSR, as bench/issue.sh measures it
openssl req -new -key "$work/dev.key" -subj /CN=bench.example.com \
    -addext subjectAltName=DNS:bench.example.com -out "$work/leaf.csr" 2>/dev/null
csr_json=$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$work/leaf.csr")
echo "{\"ca\": \"issuing\", \"profile\": \"tls-server\", \"csr\": $csr_json}" > "$work/rest.json"
echo "== vouchd REST: POST /certificates, ${DURATION}s, 2 threads, $CLIENTS connections"
BENCH_BODY="$work/rest.json" BENCH_AUTH="$token" wrk -t2 -c"$CLIENTS" -d"${DURATION}s" \
    -s bench/post.lua "http://127.0.0.1:$api/api/v1/t/default/certificates" > "$work/rest.wrk"
r=$(rate "$work/rest.wrk")
echo "$r/s"

echo
python3 -c "v, m, r = float('$v'), max(float('$m'), 0.1), float('$r')
print('CMP ir: vouchd %.1f/s, openssl mock %.1f/s (ratio %.1f, goal >= 10), REST %.1f/s (ratio %.2f, goal >= 0.6)' % (v, m, v / m, r, v / r))"
