#!/usr/bin/env python3
"""Fills a vouch database with certificate records for the OCSP benchmark and
writes the matching inputs for the peers.

usage: ocsp_fill.py DB ISSUER_PEM COUNT REVOKED_PERCENT OUTDIR

Records are inserted straight into the `certs` table of tenant `default`, CA
`issuing` (random 127-bit serials; OCSP needs only serial and status, so the
DER column holds a placeholder).  OUTDIR gets index.txt (openssl ocsp's
database for the same serials), requests.hex (1000 DER OCSP requests with SHA-1
CertIDs and no nonce, one per line, for POST) and requests.get (the same as
URL-encoded base64, for GET).
"""
import base64
import hashlib
import os
import random
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
    b = v.to_bytes((v.bit_length() + 8) // 8, "big")
    return der(0x02, b)


def ocsp_request(name_hash, key_hash, serial):
    sha1 = der(0x30, der(0x06, bytes.fromhex("2b0e03021a")) + b"\x05\x00")
    certid = der(0x30, sha1 + der(0x04, name_hash) + der(0x04, key_hash) + der_int(serial))
    return der(0x30, der(0x30, der(0x30, der(0x30, certid))))


def main():
    db_path, issuer_pem, count, revoked_pct, out = sys.argv[1:6]
    count, revoked_pct = int(count), int(revoked_pct)
    issuer = x509.load_pem_x509_certificate(open(issuer_pem, "rb").read())
    name_hash = hashlib.sha1(issuer.subject.public_bytes()).digest()
    spki = issuer.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    # The BIT STRING of a P-256 SubjectPublicKeyInfo is its last 65 bytes (after the unused-bits octet).
    key_hash = hashlib.sha1(spki[-65:]).digest()
    now = int(time.time())
    rnd = random.Random(1)
    serials = set()
    while len(serials) < count:
        serials.add(rnd.getrandbits(127) | (1 << 120))
    serials = sorted(serials)
    rows, index = [], []
    not_after = now + 365 * 86400
    exp = time.strftime("%y%m%d%H%M%SZ", time.gmtime(not_after))
    rev = time.strftime("%y%m%d%H%M%SZ", time.gmtime(now - 3600))
    for i, s in enumerate(serials):
        revoked = rnd.randrange(100) < revoked_pct
        rows.append(("default", format(s, "x"), "issuing", "tls-server", 1, None,
                     f"CN=bench{i}", "", "revoked" if revoked else "good", now - 60, not_after,
                     now - 3600 if revoked else 0, 1 if revoked else -1, 0, None, b"\x00", now))
        index.append(f"{'R' if revoked else 'V'}\t{exp}\t{rev + ',keyCompromise' if revoked else ''}"
                     f"\t{format(s, '032X')}\tunknown\t/CN=bench{i}\n")
    db = sqlite3.connect(db_path, timeout=60)
    with db:
        db.executemany("INSERT INTO certs (tenant, serial, ca, profile, profile_version, entity_id,"
                       " subject, sans, status, not_before, not_after, revoked_at, reason,"
                       " invalidity_date, renewed_from, der, created) VALUES"
                       " (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    db.close()
    with open(os.path.join(out, "index.txt"), "w") as f:
        f.writelines(index)
    picks = [serials[rnd.randrange(count)] for _ in range(1000)]
    with open(os.path.join(out, "requests.hex"), "w") as f, \
            open(os.path.join(out, "requests.get"), "w") as g:
        for s in picks:
            r = ocsp_request(name_hash, key_hash, s)
            f.write(r.hex() + "\n")
            g.write(urllib.parse.quote(base64.b64encode(r).decode(), safe="") + "\n")


if __name__ == "__main__":
    main()
