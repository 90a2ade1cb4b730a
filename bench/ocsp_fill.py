#!/usr/bin/env python3
"""Fills a vouch database with certificate records for the OCSP benchmark and
writes the matching inputs for the peers.

usage: ocsp_fill.py DB ISSUER_PEM COUNT REVOKED_PERCENT OUTDIR [--sample-only]

Records go straight into the `certs` table of tenant `default`, CA `issuing`,
made by SQLite itself (random 127-bit serials; OCSP needs only serial and
status, so the DER column holds a placeholder).  OUTDIR gets requests.hex
(1000 DER OCSP requests for random stored serials, SHA-1 CertIDs, no nonce,
one per line, for POST), requests.get (the same, URL-encoded base64, for GET)
and, unless --sample-only, index.txt (openssl ocsp's database of every
serial).  With --sample-only only the 1000 requested certificates are left
due for pre-signing (for stores too large to pre-sign in a benchmark run).
"""
import base64
import hashlib
import os
import sqlite3
import sys
import time
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import serialization


def der(tag, body):
    n = len(body)
    if n < 0x80:
        head = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        head = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + head + body


def der_int(v):
    return der(0x02, v.to_bytes((v.bit_length() + 8) // 8, "big"))


def ocsp_request(name_hash, key_hash, serial):
    sha1 = der(0x30, der(0x06, bytes.fromhex("2b0e03021a")) + b"\x05\x00")
    certid = der(0x30, sha1 + der(0x04, name_hash) + der(0x04, key_hash) + der_int(serial))
    return der(0x30, der(0x30, der(0x30, der(0x30, certid))))


def main():
    db_path, issuer_pem, count, revoked_pct, out = sys.argv[1:6]
    sample_only = "--sample-only" in sys.argv[6:]
    count, revoked_pct = int(count), int(revoked_pct)
    issuer = x509.load_pem_x509_certificate(open(issuer_pem, "rb").read())
    name_hash = hashlib.sha1(issuer.subject.public_bytes()).digest()
    spki = issuer.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    # A P-256 key's BIT STRING content is the last 65 bytes of its SubjectPublicKeyInfo.
    key_hash = hashlib.sha1(spki[-65:]).digest()
    now = int(time.time())
    db = sqlite3.connect(db_path, timeout=60)
    db.execute("PRAGMA synchronous=OFF")
    # Random serials hit random index pages: a cache that holds them all keeps
    # the one big transaction from writing the same pages over and over.
    db.execute("PRAGMA cache_size=-%d" % max(65536, count // 2))
    # '4' first: no leading zero, top bit clear, like vouchd's own serials.
    fill = ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
            "INSERT INTO certs (tenant, serial, ca, profile, profile_version, entity_id, subject,"
            " sans, status, not_before, not_after, revoked_at, reason, invalidity_date,"
            " renewed_from, der, created) "
            "SELECT 'default', '4' || substr(lower(hex(randomblob(16))), 2), 'issuing',"
            " 'tls-server', 1, NULL, 'CN=bench' || i, '', st, ?1 - 60, ?1 + 31536000,"
            " CASE st WHEN 'revoked' THEN ?1 - 3600 ELSE 0 END,"
            " CASE st WHEN 'revoked' THEN 1 ELSE -1 END, 0, NULL, x'00', ?1 FROM"
            " (SELECT i, CASE WHEN abs(random()) % 100 < ? THEN 'revoked' ELSE 'good' END AS st"
            "  FROM n)")
    fill = fill.replace("< ?)", "< ?2)").replace("< ? THEN", "< ?3 THEN")
    with db:
        db.execute(fill, (now, count, revoked_pct))
    picks = [r[0] for r in db.execute(
        "SELECT serial FROM certs WHERE tenant = 'default' AND subject LIKE 'CN=bench%' "
        "ORDER BY random() LIMIT 1000")]
    if sample_only:
        with db:
            db.execute("UPDATE ocsp_responses SET refresh_at = 9223372036854775807 "
                       "WHERE tenant = 'default' AND ca = 'issuing'")
            db.executemany("UPDATE ocsp_responses SET refresh_at = 0 WHERE tenant = 'default' "
                           "AND serial = ?", [(p,) for p in picks])
    else:
        exp = time.strftime("%y%m%d%H%M%SZ", time.gmtime(now + 31536000))
        rev = time.strftime("%y%m%d%H%M%SZ", time.gmtime(now - 3600))
        with open(os.path.join(out, "index.txt"), "w") as f:
            for serial, status, subject in db.execute(
                    "SELECT serial, status, subject FROM certs WHERE tenant = 'default' "
                    "AND subject LIKE 'CN=bench%'"):
                revoked = status == "revoked"
                f.write(f"{'R' if revoked else 'V'}\t{exp}\t"
                        f"{rev + ',keyCompromise' if revoked else ''}\t"
                        f"{int(serial, 16):032X}\tunknown\t/{subject}\n")
    db.close()
    with open(os.path.join(out, "requests.hex"), "w") as f, \
            open(os.path.join(out, "requests.get"), "w") as g:
        for s in picks:
            r = ocsp_request(name_hash, key_hash, int(s, 16))
            f.write(r.hex() + "\n")
            g.write(urllib.parse.quote(base64.b64encode(r).decode(), safe="") + "\n")


if __name__ == "__main__":
    main()
