#!/bin/bash
# A complete CRL of a CA with a million revoked certificates: fills the store
# of a fresh `vouchd init` instance with N (default 1,000,000) revoked
# certificate rows by direct SQL (the rows a CRL reads; their DER is a
# placeholder), starts vouchd and times POST /cas/issuing/crl, which reads the
# entries, encodes, signs through the signer process and stores the CRL.
# Prints the time (goal < 10 s).  Not a test: it asserts nothing.
# PERF=file records vouchd and its signer with perf during the POST.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
. bench/lib.sh

api=$(port); pub=$(port)
info=$(build/vouchd init "$work/vouch" --api-port "$api" --public-port "$pub" --no-tls --json)
token=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["admin_token"])' "$info")

echo "== filling the store with $N revoked certificates of CA issuing"
start=$(date +%s.%N)
now=$(date +%s)
sqlite3 "$work/vouch/vouch.db" <<EOF
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $N)
INSERT INTO certs (tenant, serial, ca, profile, profile_version, entity_id, subject, sans,
                   status, not_before, not_after, revoked_at, reason, invalidity_date,
                   renewed_from, der, created, status_changed, crl_shard)
SELECT 'default', '7' || substr(lower(hex(randomblob(16))), 2), 'issuing', 'tls-server', 1,
       NULL, 'CN=bench', NULL, 'revoked', $now - 86400, $now + 86400 * 365,
       $now - (i % 86400), i % 6, CASE WHEN i % 10 = 0 THEN $now - 172800 ELSE 0 END,
       NULL, x'00', $now - 86400, $now - (i % 86400), 0
FROM n;
EOF
printf "filled in %.1f s\n" "$(echo "$(date +%s.%N) - $start" | bc)"

build/vouchd -c "$work/vouch/vouchd.conf" > "$work/vouchd.out" 2> "$work/vouchd.log" &
pid=$!
pids+=("$pid")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$api/healthz" >/dev/null && break; sleep 0.1; done

echo "== POST /api/v1/t/default/cas/issuing/crl"
[ -n "${PERF:-}" ] && { perf record -F 499 -g -p "$pid,$(pgrep -P "$pid" | paste -sd,)" -o "$PERF" >/dev/null 2>&1 & perfpid=$!; sleep 0.5; }
t=$(curl -sf -o "$work/crl.json" -w '%{time_total}' -X POST -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d '{}' "http://127.0.0.1:$api/api/v1/t/default/cas/issuing/crl")
[ -n "${PERF:-}" ] && { kill -INT $perfpid; wait $perfpid || true; }
curl -sf -o "$work/crl.der" "http://127.0.0.1:$pub/crl/default/issuing.crl"
entries=$(python3 -c '
import sys
from cryptography import x509
crl = x509.load_der_x509_crl(open(sys.argv[1], "rb").read())
print(sum(1 for _ in crl))' "$work/crl.der")
echo
printf "complete CRL with %s entries (%s bytes): built, signed and stored in %s s (goal < 10 s)\n" \
    "$entries" "$(stat -c %s "$work/crl.der")" "$t"
