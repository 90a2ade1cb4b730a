#!/bin/bash
# EST: vouchd's EST simpleenroll beside vouch's own REST issuance, in the same run, on the same
# vouchd (TLS API listener, P-256 issuing CA, tls-server profile, every certificate stored with
# its audit event and durably committed before the answer), driven by the same load generator
# (build/bench/est_load: CLIENTS concurrent clients, default 16, each with a kept-alive TLS
# connection and P-256 CSRs made beforehand) for DURATION seconds after WARMUP: enrollments/s
# of each, CPU per enrollment of vouchd's network process and signer, and the ratio (the
# issue's goal: EST >= 0.8 x REST).  EST authenticates each request with a reusable
# enrollment credential (HTTP Basic), REST with a bearer token.  Loopback only; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CLIENTS=${CLIENTS:-16}
THREADS=${THREADS:-32}
. bench/lib.sh
api=$(port); pub=$(port)
info=$(build/vouchd init "$work/vouch" --api-port "$api" --public-port "$pub" --json 2>"$work/init.log")
token=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["admin_token"])' "$info")
ca=$work/vouch/tls/ca.crt
echo "threads = $THREADS" >>"$work/vouch/vouchd.conf"
build/vouchd -c "$work/vouch/vouchd.conf" >"$work/vouch.out" 2>"$work/vouch.log" &
pids+=($!); vpid=$!
for _ in $(seq 100); do curl -sf --cacert "$ca" "https://127.0.0.1:$api/healthz" >/dev/null && break; sleep 0.1; done
keeper=$(pgrep -P "$vpid" | head -1)
spid=$(pgrep -P "$keeper" | head -1 || true) # the signer is the keeper's child
spid=${spid:-$keeper}
base=https://127.0.0.1:$api/api/v1/t/default
call() { curl -sf --cacert "$ca" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$@"; }
call -d '{"name": "bench", "ca": "issuing", "profile": "tls-server"}' "$base/enroll/endpoints" >/dev/null
cred=$(call -d '{"id": "bench", "reusable": true}' "$base/enroll/endpoints/bench/credentials")
secret=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["secret"])' "$cred")

echo "== $CLIENTS clients, ${WARMUP}s warm-up, then ${DURATION}s; vouchd threads $THREADS"
echo "-- REST: POST /api/v1/t/default/certificates"
build/bench/est_load -u "$base" -c "$ca" -n "$CLIENTS" -t "$DURATION" -w "$WARMUP" -r "$token" \
    -P "vouchd=$vpid" -P "signer=$spid" | tee "$work/rest.txt"
echo "-- EST: POST /.well-known/est/default~bench/simpleenroll"
build/bench/est_load -u "https://127.0.0.1:$api/.well-known/est/default~bench" -c "$ca" \
    -n "$CLIENTS" -t "$DURATION" -w "$WARMUP" -e "bench:$secret" \
    -P "vouchd=$vpid" -P "signer=$spid" | tee "$work/est.txt"
r=$(awk '/^enrollments:/ {print $10}' "$work/rest.txt"); e=$(awk '/^enrollments:/ {print $10}' "$work/est.txt")
echo
printf "enrollments/s with %s clients: REST %s, EST %s, EST/REST %s (goal >= 0.8)\n" "$CLIENTS" "$r" "$e" \
    "$(python3 -c "print(round($e / $r, 2) if $r else 'n/a')")"
