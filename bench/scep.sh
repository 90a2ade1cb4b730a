#!/bin/bash
# SCEP: vouchd's SCEP PKCSReq beside vouch's own REST issuance, in the same run, on the same
# vouchd (TLS API listener, P-256 issuing CA, tls-client profile, every certificate stored with
# its audit event and durably committed before the answer), driven by the same load generator
# (build/bench/scep_load: CLIENTS concurrent clients, default 16, each with a kept-alive TLS
# connection, an RSA-2048 key and its messages made beforehand) for DURATION seconds after
# WARMUP: enrollments/s of each, CPU per enrollment of vouchd's network process and signer, and
# the ratio (the issue's goal: SCEP >= 0.5 x REST).  A PKCSReq costs the server what REST does
# plus the pkiMessage's signature check, the envelope (the signer's RSA-2048 decryption of its
# content key, AES), and the CertRep (its envelope for the client and the signer's RSA-2048
# signature).  SCEP authenticates with a reusable credential's challenge, REST with a bearer
# token.  Loopback only; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CLIENTS=${CLIENTS:-16}
THREADS=${THREADS:-32}
# Messages each client makes beforehand (each PKCSReq has a transactionID of its own).
MESSAGES=${MESSAGES:-$(((DURATION + WARMUP) * 40))}
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
call -d '{"name": "bench", "protocol": "scep", "ca": "issuing", "profile": "tls-client"}' \
    "$base/enroll/endpoints" >/dev/null
cred=$(call -d '{"id": "bench", "reusable": true}' "$base/enroll/endpoints/bench/credentials")
secret=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["secret"])' "$cred")
scep=https://127.0.0.1:$api/scep/default/bench
curl -sf --cacert "$ca" "$scep?operation=GetCACert" -o "$work/cacert.p7"
openssl pkcs7 -inform DER -in "$work/cacert.p7" -print_certs |
    awk '/subject=.*SCEP RA/ {ra = 1} ra && /BEGIN/ {p = 1} p {print} p && /END/ {exit}' |
    openssl x509 -outform DER -out "$work/ra.der"

echo "== $CLIENTS clients (RSA-2048), ${WARMUP}s warm-up, then ${DURATION}s; vouchd threads $THREADS"
echo "-- REST: POST /api/v1/t/default/certificates"
build/bench/scep_load -u "$base" -c "$ca" -n "$CLIENTS" -t "$DURATION" -w "$WARMUP" \
    -m "$MESSAGES" -r "$token" -P "vouchd=$vpid" -P "signer=$spid" | tee "$work/rest.txt"
echo "-- SCEP: POST /scep/default/bench?operation=PKIOperation (PKCSReq)"
build/bench/scep_load -u "$scep" -c "$ca" -n "$CLIENTS" -t "$DURATION" -w "$WARMUP" \
    -m "$MESSAGES" -e "bench:$secret" -R "$work/ra.der" -P "vouchd=$vpid" -P "signer=$spid" |
    tee "$work/scep.txt"
r=$(awk '/^enrollments:/ {print $10}' "$work/rest.txt"); s=$(awk '/^enrollments:/ {print $10}' "$work/scep.txt")
echo
printf "enrollments/s with %s clients: REST %s, SCEP %s, SCEP/REST %s (goal >= 0.5)\n" "$CLIENTS" "$r" "$s" \
    "$(python3 -c "print(round($s / $r, 2) if $r else 'n/a')")"
