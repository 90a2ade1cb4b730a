#!/bin/bash
# Issuance and OCSP rates through HAProxy on the local cluster (deploy/cluster.sh:
# PostgreSQL primary + synchronous standby with pg_auto_failover) with 3, 2 and 1
# vouchd nodes, beside one vouchd on SQLite measured in the same run with the same
# client (wrk, 2 threads) and the same kind of requests: POST a P-256 CSR to
# /certificates (stored and audited), POST OCSP requests for REQUESTS issued
# certificates (pre-signed responses).  Everything, the client included, shares this
# machine's cores: the figures say what the layers cost, not how a cluster of
# separate hosts scales.  Not a test: it asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-8}
CONNS=${CONNS:-16}
REQUESTS=${REQUESTS:-200}
THREADS=${THREADS:-32}
. bench/lib.sh
trap 'deploy/cluster.sh stop "$work/cluster" >/dev/null 2>&1 || true; cleanup' EXIT
chmod 711 "$work" # PostgreSQL runs as the postgres user below it

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/leaf.key" \
    -subj /CN=bench.example.com -addext subjectAltName=DNS:bench.example.com \
    -out "$work/leaf.csr" 2>/dev/null
csr_json=$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$work/leaf.csr")
echo "{\"ca\": \"issuing\", \"profile\": \"tls-server\", \"csr\": $csr_json}" >"$work/issue.json"

# Issues REQUESTS certificates through api and writes OCSP requests for them (hex DER).
ocsp_requests() { # api public token out
    python3 - "$@" "$REQUESTS" "$work/issue.json" <<'PY'
import json, sys, urllib.request
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
api, public, token, out, n, body = sys.argv[1:7]
issuer = x509.load_der_x509_certificate(
    urllib.request.urlopen(public + "/ca/default/issuing.crt").read())
with open(out, "w") as f:
    for _ in range(int(n)):
        req = urllib.request.Request(api + "/api/v1/t/default/certificates",
                                     data=open(body, "rb").read(), method="POST",
                                     headers={"Authorization": "Bearer " + token,
                                              "Content-Type": "application/json"})
        cert = x509.load_pem_x509_certificate(
            json.loads(urllib.request.urlopen(req).read())["certificate"].encode())
        der = (ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()
               .public_bytes(serialization.Encoding.DER))
        f.write(der.hex() + "\n")
PY
}
measure() { # name api public token requests-file
    local name=$1 api=$2 public=$3 token=$4 reqs=$5
    BENCH_BODY="$work/issue.json" BENCH_AUTH="$token" wrk -t2 -c"$CONNS" -d"${DURATION}s" \
        -s bench/post.lua "$api/api/v1/t/default/certificates" >"$work/$name.issue"
    BENCH_MODE=post BENCH_REQUESTS="$reqs" wrk -t2 -c"$CONNS" -d"${DURATION}s" \
        -s bench/ocsp.lua "$public/ocsp/default/issuing" >"$work/$name.ocsp"
    printf '%-28s issuance %8s/s   OCSP %8s/s   (non-2xx: %s, %s)\n' "$name" \
        "$(rate "$work/$name.issue")" "$(rate "$work/$name.ocsp")" \
        "$(awk '/non-2xx/ {print $3}' "$work/$name.issue")" \
        "$(awk '/non-200|bad/ {print $NF}' "$work/$name.ocsp" | head -1)"
}

# One vouchd on SQLite.
vouchd_start sqlite "$THREADS"
ocsp_requests "http://127.0.0.1:$api" "http://127.0.0.1:$pub" "$token" "$work/sqlite.req"
echo "== ${DURATION}s each, wrk 2 threads, $CONNS connections; $REQUESTS distinct OCSP requests"
measure "1 node, SQLite (direct)" "http://127.0.0.1:$api" "http://127.0.0.1:$pub" "$token" \
    "$work/sqlite.req"
kill "${pids[-1]}"
wait "${pids[-1]}" 2>/dev/null || true

# The cluster: 3, then 2, then 1 node behind HAProxy.
VOUCH_CLUSTER_THREADS=$THREADS deploy/cluster.sh start "$work/cluster" >"$work/cluster.out"
set -a
. "$work/cluster/env"
set +a
ocsp_requests "$VOUCH_CLUSTER_API" "$VOUCH_CLUSTER_PUBLIC" "$VOUCH_CLUSTER_TOKEN" "$work/cluster.req"
for n in 3 2 1; do
    measure "$n node(s), PostgreSQL, HAProxy" "$VOUCH_CLUSTER_API" "$VOUCH_CLUSTER_PUBLIC" \
        "$VOUCH_CLUSTER_TOKEN" "$work/cluster.req"
    if [ "$n" -gt 1 ]; then
        deploy/cluster.sh node-stop "$work/cluster" "$n"
        sleep 3 # HAProxy marks it down (two failed checks a second apart)
    fi
done
