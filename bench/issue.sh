#!/bin/bash
# Issuance over HTTP: vouchd (P-256 CA, every certificate stored and audited)
# beside `cfssl serve` (stores nothing) issuing from the same CSR, measured in
# the same run with the same client (wrk, 2 threads).  Prints both rates and
# the ratio.  Not a test: it asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNS=${CONNS:-8}
. bench/lib.sh

# One fixed CSR for both.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/leaf.key" \
    -subj /CN=bench.example.com -addext subjectAltName=DNS:bench.example.com \
    -out "$work/leaf.csr" 2>/dev/null
csr_json=$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$work/leaf.csr")

# vouchd
# Handler threads block while their issuance waits for its group commit.
vouchd_start vouch "${THREADS:-32}"
echo "{\"ca\": \"issuing\", \"profile\": \"tls-server\", \"csr\": $csr_json}" > "$work/vouch.json"
echo "== vouchd: POST /api/v1/t/default/certificates, ${DURATION}s, 2 threads, $CONNS connections"
# CPU time (user + system, clock ticks) of a process so far: the network process and its signer.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
vpid=${pids[0]}
spid=$(pgrep -P "$vpid" | head -1)
# The client's CPU time too (user + system seconds, from bash's `time`): it shares the two cores.
TIMEFORMAT='%U %S'
client_us() { python3 -c "import sys; u, s = map(float, open(sys.argv[1]).read().split()); print('%.0f' % ((u + s) * 1e6 / $2))" "$1"; }
n0=$(ticks "$vpid"); s0=$(ticks "$spid")
{ time BENCH_BODY="$work/vouch.json" BENCH_AUTH="$token" wrk -t2 -c"$CONNS" -d"${DURATION}s" \
    -s bench/post.lua "http://127.0.0.1:$api/api/v1/t/default/certificates" > "$work/vouch.wrk"; } 2> "$work/vouch.time"
cat "$work/vouch.wrk"
n=$(awk '/requests in/ {print $1}' "$work/vouch.wrk")
python3 -c "t = $(getconf CLK_TCK); n = $n
print('CPU per certificate: network process %.0f us, signer %.0f us, client (wrk) %s us' % (($(ticks "$vpid") - $n0) * 1e6 / t / n, ($(ticks "$spid") - $s0) * 1e6 / t / n, '$(client_us "$work/vouch.time" "$n")'))"
stored=$(sqlite3 "$work/vouch/vouch.db" "select count(*) from certs where tenant='default'")
echo "certificates stored by vouchd: $stored"

# cfssl serve with a P-256 CA made by openssl
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ca.key" \
    -out "$work/ca.pem" -subj "/CN=Bench CA" -days 30 \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
cport=$(port)
cfssl serve -address 127.0.0.1 -port "$cport" -ca "$work/ca.pem" -ca-key "$work/ca.key" \
    > "$work/cfssl.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$cport/api/v1/cfssl/info" -d '{}' >/dev/null && break; sleep 0.1; done
echo "{\"certificate_request\": $csr_json}" > "$work/cfssl.json"
echo "== cfssl serve: POST /api/v1/cfssl/sign, ${DURATION}s, 2 threads, $CONNS connections"
cpid=${pids[-1]}
c0=$(ticks "$cpid")
{ time BENCH_BODY="$work/cfssl.json" BENCH_AUTH="" wrk -t2 -c"$CONNS" -d"${DURATION}s" \
    -s bench/post.lua "http://127.0.0.1:$cport/api/v1/cfssl/sign" > "$work/cfssl.wrk"; } 2> "$work/cfssl.time"
cat "$work/cfssl.wrk"
n=$(awk '/requests in/ {print $1}' "$work/cfssl.wrk")
python3 -c "t = $(getconf CLK_TCK); n = $n
print('CPU per certificate: cfssl %.0f us, client (wrk) %s us' % (($(ticks "$cpid") - $c0) * 1e6 / t / n, '$(client_us "$work/cfssl.time" "$n")'))"

v=$(rate "$work/vouch.wrk"); c=$(rate "$work/cfssl.wrk")
echo
printf "issuance rate: vouchd %s/s (stored + audited), cfssl serve %s/s (stores nothing), ratio %s (goal >= 2)\n" \
    "$v" "$c" "$(python3 -c "print(round($v/$c, 2))")"
