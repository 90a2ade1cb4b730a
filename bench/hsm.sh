#!/bin/bash
# Keys in SoftHSM2 against the software key store, in one run:
#  1. issuance over HTTP (wrk, 2 threads): vouchd with its demo CAs' keys in a
#     SoftHSM2 token, then the same with the software store;
#  2. OCSP signing over HTTP: requests with a nonce (so every answer is signed
#     when it is asked for, by the CA's delegated P-256 responder, whose key is
#     in the same store);
#  3. the signer's raw signing rate (P-256, SHA-256, SIGN requests from
#     SIGN_THREADS client threads) with each store.
# Not a test: it asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNS=${CONNS:-16}
SIGN_THREADS=${SIGN_THREADS:-4}
MODULE=${MODULE:-/usr/lib/softhsm/libsofthsm2.so}
. bench/lib.sh

# A SoftHSM2 of our own.
mkdir -p "$work/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$work/tokens" > "$work/softhsm2.conf"
export SOFTHSM2_CONF="$work/softhsm2.conf"
echo 1234-bench > "$work/pin"
softhsm2-util --init-token --free --label bench --pin 1234-bench --so-pin 12345678 >/dev/null

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/leaf.key" \
    -subj /CN=bench.example.com -addext subjectAltName=DNS:bench.example.com \
    -out "$work/leaf.csr" 2>/dev/null
csr_json=$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$work/leaf.csr")
echo "{\"ca\": \"issuing\", \"profile\": \"tls-server\", \"csr\": $csr_json}" > "$work/body.json"

# issue NAME [vouchd init options...]: one vouchd, one wrk run; the rate into $work/NAME.rate
issue() {
    local name=$1 api pub info token pid
    shift
    api=$(port); pub=$(port)
    info=$(build/vouchd init "$work/$name" --api-port "$api" --public-port "$pub" --no-tls --json "$@")
    printf "threads = %s\nocsp_live_signs_per_second = 0\n" "${THREADS:-32}" >> "$work/$name/vouchd.conf"
    token=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["admin_token"])' "$info")
    build/vouchd -c "$work/$name/vouchd.conf" > "$work/$name.out" 2> "$work/$name.log" &
    pid=$!
    pids+=($pid)
    for _ in $(seq 50); do curl -sf "http://127.0.0.1:$api/healthz" >/dev/null && break; sleep 0.1; done
    echo "== issuance, key store $name: ${DURATION}s, 2 threads, $CONNS connections"
    BENCH_BODY="$work/body.json" BENCH_AUTH="$token" wrk -t2 -c"$CONNS" -d"${DURATION}s" \
        -s bench/post.lua "http://127.0.0.1:$api/api/v1/t/default/certificates" | tee "$work/$name.wrk"
    awk '/Requests\/sec/ {print $2}' "$work/$name.wrk" > "$work/$name.rate"
    # 200 OCSP requests, each with a nonce of its own.
    curl -sf "http://127.0.0.1:$pub/ca/default/issuing.crt" | openssl x509 -inform DER \
        -out "$work/$name-issuing.pem"
    : > "$work/$name-ocsp.hex"
    for i in $(seq 200); do
        openssl ocsp -issuer "$work/$name-issuing.pem" -serial "0x$(openssl rand -hex 16)" -nonce \
            -reqout "$work/req.der" >/dev/null 2>&1 || true
        od -An -v -tx1 "$work/req.der" | tr -d ' \n' >> "$work/$name-ocsp.hex"
        echo >> "$work/$name-ocsp.hex"
    done
    echo "== OCSP with nonces (signed on request), key store $name: ${DURATION}s, $CONNS connections"
    BENCH_MODE=post BENCH_REQUESTS="$work/$name-ocsp.hex" wrk -t2 -c"$CONNS" -d"${DURATION}s" \
        -s bench/ocsp.lua "http://127.0.0.1:$pub/ocsp/default/issuing" | tee "$work/$name-ocsp.wrk"
    awk '/Requests\/sec/ {print $2}' "$work/$name-ocsp.wrk" > "$work/$name-ocsp.rate"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
}

issue pkcs11 --pkcs11-module "$MODULE" --pkcs11-token bench --pkcs11-pin-file "$work/pin"
issue soft

echo "== raw signing through the signer: ${DURATION}s, $SIGN_THREADS client threads"
mkdir -p "$work/softkeys"
s_p11=$(build/bench/sign_rate pkcs11 "$MODULE" bench "$work/pin" "$DURATION" "$SIGN_THREADS")
echo "$s_p11"
s_soft=$(build/bench/sign_rate soft "$work/softkeys" "$DURATION" "$SIGN_THREADS")
echo "$s_soft"

echo
printf "issuance: SoftHSM2 %s/s, software store %s/s\n" "$(cat "$work/pkcs11.rate")" "$(cat "$work/soft.rate")"
printf "raw signing (P-256): SoftHSM2 %s/s, software store %s/s\n" \
    "$(echo "$s_p11" | awk '{print $2}')" "$(echo "$s_soft" | awk '{print $2}')"
printf "OCSP responses signed on request: SoftHSM2 %s/s, software store %s/s\n" \
    "$(cat "$work/pkcs11-ocsp.rate")" "$(cat "$work/soft-ocsp.rate")"
