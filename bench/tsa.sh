#!/bin/bash
# Time-stamp tokens over HTTP: vouchd (every token signed in the signer process,
# recorded with its audit event and durably committed before the answer) with a
# P-256 and an RSA-2048 TSA unit, beside `openssl ts -reply` run once per
# request (the usual way a script-based TSA works) and `openssl speed` (the
# signing limit of the same key type), all in one run.  Prints the figures and
# the ratios; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
CORES=$(nproc)
. bench/lib.sh
json() { python3 -c "import json,sys; print(json.loads(sys.argv[1])$2)" "$1"; }

# One fixed query (SHA-256 imprint, nonce, certReq) for every client.
echo "benchmark document" > "$work/doc"
openssl ts -query -data "$work/doc" -sha256 -cert -out "$work/q.tsq" 2>/dev/null

# vouchd with two units
api=$(port); pub=$(port)
info=$(build/vouchd init "$work/vouch" --api-port "$api" --public-port "$pub" --no-tls --json)
printf "threads = %s\nsigner_connections = %s\n" "${THREADS:-32}" "${SIGNERS:-32}" >> "$work/vouch/vouchd.conf"
token=$(json "$info" '["admin_token"]')
build/vouchd -c "$work/vouch/vouchd.conf" > "$work/vouchd.out" 2> "$work/vouchd.log" &
vpid=$!
pids+=($vpid)
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$api/healthz" >/dev/null && break; sleep 0.1; done
for u in "p256 ec-p256" "rsa2048 rsa-2048"; do
    set -- $u
    curl -sf -H "Authorization: Bearer $token" -H "Content-Type: application/json" \
        -d "{\"name\": \"$1\", \"ca\": \"issuing\", \"key_type\": \"$2\", \"policy\": \"1.3.6.1.4.1.99999.1\"}" \
        "http://127.0.0.1:$api/api/v1/t/default/tsa" > "$work/$1.json"
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["certificate"], end="")' \
        "$work/$1.json" > "$work/$1-vouch.pem"
done

# openssl ts -reply: its own P-256 / RSA-2048 TSA certificate (critical EKU timeStamping)
cat > "$work/ts.cnf" <<CNF
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
serial = $work/serial
crypto_device = builtin
default_policy = 1.3.6.1.4.1.99999.1
digests = sha256, sha384, sha512
accuracy = secs:1
ess_cert_id_alg = sha256
ess_cert_id_chain = no
signer_digest = sha256
CNF
echo 01 > "$work/serial"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/p256.key" \
    -out "$work/p256.pem" -subj "/CN=openssl TSA P-256" -days 30 \
    -addext extendedKeyUsage=critical,timeStamping 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/rsa2048.key" \
    -out "$work/rsa2048.pem" -subj "/CN=openssl TSA RSA" -days 30 \
    -addext extendedKeyUsage=critical,timeStamping 2>/dev/null

# CPU time (user + system, clock ticks) of a process so far.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# Tokens per second of `openssl ts -reply`, one process per request, CORES loops at once.
openssl_ts() {
    local key=$1 end=$((SECONDS + DURATION)) n=0
    for i in $(seq "$CORES"); do
        ( c=0; while [ $SECONDS -lt $end ]; do
              openssl ts -reply -config "$work/ts.cnf" -queryfile "$work/q.tsq" \
                  -signer "$work/$key.pem" -inkey "$work/$key.key" -out /dev/null 2>/dev/null
              c=$((c + 1)); done; echo $c > "$work/ts-$key-$i" ) &
    done
    wait
    for i in $(seq "$CORES"); do n=$((n + $(cat "$work/ts-$key-$i"))); done
    python3 -c "print(round($n / $DURATION, 1))"
}

# Signatures per second of `openssl speed` on every core.
openssl_speed() {
    openssl speed -seconds "$DURATION" -multi "$CORES" "$1" 2>/dev/null |
        awk -v alg="$2" '$0 ~ alg && /sign/ {next} $0 ~ alg {print $(NF-1); exit}'
}

declare -A V O S
spid=$(pgrep -P "$vpid" | head -1) # the signer process
for key in p256 rsa2048; do
    echo "== vouchd: POST /tsa/default/$key, ${DURATION}s, 2 threads, $CONNS connections"
    n0=$(ticks "$vpid"); s0=$(ticks "$spid")
    BENCH_BODY="$work/q.tsq" BENCH_AUTH="" BENCH_TYPE=application/timestamp-query \
        wrk -t2 -c"$CONNS" -d"${DURATION}s" -s bench/post.lua \
        "http://127.0.0.1:$pub/tsa/default/$key" | tee "$work/$key.wrk"
    V[$key]=$(rate "$work/$key.wrk")
    n=$(awk '/requests in/ {print $1}' "$work/$key.wrk")
    python3 -c "t = $(getconf CLK_TCK); n = $n
print('CPU per token: network process %.0f us, signer %.0f us' % (($(ticks "$vpid") - $n0) * 1e6 / t / n, ($(ticks "$spid") - $s0) * 1e6 / t / n))"
    echo "== openssl ts -reply ($key), a process per request, $CORES at once, ${DURATION}s"
    O[$key]=$(openssl_ts "$key")
    echo "${O[$key]} tokens/s"
done
tokens=$(sqlite3 "$work/vouch/vouch.db" "select count(*) from tsa_tokens where tenant='default'")
echo "tokens recorded by vouchd: $tokens"
# A token vouchd made verifies (the last one of the run is as good as any).
curl -sf -H "Content-Type: application/timestamp-query" --data-binary @"$work/q.tsq" \
    "http://127.0.0.1:$pub/tsa/default/p256" -o "$work/r.tsr"
ca=$(curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$api/api/v1/t/default/cas/issuing")
json "$ca" '["chain"]' > "$work/root.pem"
json "$ca" '["certificate"]' > "$work/issuing.pem"
openssl ts -verify -queryfile "$work/q.tsq" -in "$work/r.tsr" -CAfile "$work/root.pem" \
    -untrusted "$work/issuing.pem" 2>/dev/null | head -1

echo "== openssl speed -multi $CORES (the signing limit), ${DURATION}s each"
S[p256]=$(openssl speed -seconds "$DURATION" -multi "$CORES" ecdsap256 2>/dev/null |
    awk '/256 bits ecdsa \(nistp256\)/ {print $(NF-1)}')
S[rsa2048]=$(openssl speed -seconds "$DURATION" -multi "$CORES" rsa2048 2>/dev/null |
    awk '/^rsa 2048 bits/ {print $(NF-1)}')
echo
printf "%-8s %14s %16s %8s %16s %10s\n" key "vouchd tok/s" "openssl ts tok/s" "ratio" "speed sign/s" "of limit"
for key in p256 rsa2048; do
    printf "%-8s %14s %16s %8s %16s %9s%%\n" "$key" "${V[$key]}" "${O[$key]}" \
        "$(python3 -c "print(round(${V[$key]} / ${O[$key]}, 1))")" "${S[$key]}" \
        "$(python3 -c "print(round(100 * ${V[$key]} / ${S[$key]}, 1))")"
done
echo "(goals: ratio >= 100 against openssl ts -reply; >= 25% of the signing limit)"
