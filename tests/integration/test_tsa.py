"""Time-stamping (RFC 3161, RFC 5816): units, tokens checked by `openssl ts -verify` and
osslsigncode, refusals with the right PKIFailureInfo, and bad input."""
import base64
import ctypes
import hashlib
import os
import signal
import struct

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from conftest import Server, ber_indefinite, make_csr, other_tenant, run, wait_for, write

POLICY = "1.3.6.1.4.1.99999.1"
POLICY2 = "1.3.6.1.4.1.99999.2"
# PKIFailureInfo as `openssl ts -reply -text` prints it.
BAD_ALG = "unrecognized or unsupported algorithm identifier"
BAD_DATA_FORMAT = "the data submitted has the wrong format"
UNACCEPTED_POLICY = "the requested TSA policy is not supported by the TSA"
SYSTEM_FAILURE = "the request cannot be handled due to system failure"


def create_unit(server, name, **extra):
    body = {"name": name, "ca": "issuing", "policy": POLICY, **extra}
    return server.api("POST", "/tsa", body, expect=201)


@pytest.fixture(scope="module")
def units(server):
    return {
        "p256": create_unit(server, "ts-p256", policies=[POLICY2]),
        "rsa": create_unit(server, "ts-rsa", key_type="rsa-2048", accuracy_ms=1500),
        "p384": create_unit(server, "ts-p384", key_type="ec-p384"),
        "sha1": create_unit(server, "ts-sha1", hashes=["sha1", "sha256"], include_chain=True,
                            accuracy_ms=0),
    }


@pytest.fixture(scope="module")
def pki(server, tmp_path_factory):
    """root.pem (trust anchor) and issuing.pem (the TSA certificates' issuer)."""
    d = tmp_path_factory.mktemp("pki")
    ca = server.api("GET", "/cas/issuing")
    certs = [b + "-----END CERTIFICATE-----\n"
             for b in (ca["certificate"] + ca["chain"]).split("-----END CERTIFICATE-----")
             if "BEGIN" in b]
    root = certs[-1]
    return {"dir": d, "root": write(d / "root.pem", root),
            "issuing": write(d / "issuing.pem", ca["certificate"])}


def post_tsq(server, unit, der, content_type="application/timestamp-query", tenant="default"):
    url = f"{server.public_url}/tsa/{tenant}/{unit}"
    return server.request("POST", url[len(server.public_url):], der, token=None,
                          content_type=content_type, base=server.public_url)


def query(tmp_path, data=b"hello, time", digest="sha256", nonce=True, cert=True, policy=None):
    write(tmp_path / "data", data.decode())
    args = ["openssl", "ts", "-query", "-data", str(tmp_path / "data"), f"-{digest}",
            "-out", str(tmp_path / "q.tsq")]
    if not nonce:
        args.append("-no_nonce")
    if cert:
        args.append("-cert")
    if policy:
        args += ["-tspolicy", policy]
    run(*args)
    return open(tmp_path / "q.tsq", "rb").read()


def reply_text(tmp_path, der, token=False):
    with open(tmp_path / "r.tsr", "wb") as f:
        f.write(der)
    return run("openssl", "ts", "-reply", "-in", str(tmp_path / "r.tsr"), "-text").stdout


def timestamp(server, tmp_path, unit, **kw):
    r = post_tsq(server, unit, query(tmp_path, **kw))
    assert r.status == 200, r.body
    assert r.headers["Content-Type"] == "application/timestamp-reply"
    with open(tmp_path / "r.tsr", "wb") as f:
        f.write(r.body)
    return r.body


def verify(tmp_path, pki, untrusted):
    return run("openssl", "ts", "-verify", "-queryfile", str(tmp_path / "q.tsq"), "-in",
               str(tmp_path / "r.tsr"), "-CAfile", pki["root"], "-untrusted", untrusted)


def status_of(text):
    return [l.split(":", 1)[1].strip() for l in text.splitlines() if l.startswith("Status:")][0]


def failure_of(text):
    return [l.split(":", 1)[1].strip() for l in text.splitlines()
            if l.startswith("Failure info:")][0]


def test_unit_certificate_is_a_tsa_certificate(server, units):
    cert = x509.load_pem_x509_certificate(units["p256"]["certificate"].encode())
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    u = units["p256"]
    assert u["url"] == f"{server.public_url}/tsa/default/ts-p256"
    assert u["policies"] == [POLICY, POLICY2]
    assert u["hashes"] == ["sha256", "sha384", "sha512"] and u["accuracy_ms"] == 1000
    shown = server.api("GET", "/tsa/ts-p256")
    assert shown["certificate"] == u["certificate"]
    names = [x["name"] for x in server.api("GET", "/tsa")["units"]]
    assert {"ts-p256", "ts-rsa", "ts-p384", "ts-sha1"} <= set(names)
    # The certificate is a certificate record of its CA too.
    server.api("GET", f"/certificates/{u['certificate_serial']}")
    events = [e for e in server.audit() if e["action"] == "tsa.create"]
    assert {e["object"] for e in events} >= {"ts-p256", "ts-rsa"}


@pytest.mark.parametrize("unit", ["p256", "rsa", "p384"])
def test_token_with_nonce_and_cert_verifies_with_openssl(server, units, pki, tmp_path, unit):
    timestamp(server, tmp_path, units[unit]["name"])
    verify(tmp_path, pki, pki["issuing"])
    text = reply_text(tmp_path, open(tmp_path / "r.tsr", "rb").read())
    assert status_of(text) == "Granted."
    assert f"Policy OID: {POLICY}" in text and "Nonce: 0x" in text
    assert "TSA: DirName:/CN=" + units[unit]["name"] in text


def test_token_without_nonce_or_cert_verifies_with_the_tsa_certificate(
        server, units, pki, tmp_path):
    timestamp(server, tmp_path, "ts-p256", nonce=False, cert=False)
    text = reply_text(tmp_path, open(tmp_path / "r.tsr", "rb").read())
    assert "Nonce: unspecified" in text
    # No certificate in the token: openssl needs the TSA certificate from outside, and says
    # that it is what it missed (not a usage error or a bad signature).
    assert token_certs(tmp_path) == 0
    p = run("openssl", "ts", "-verify", "-queryfile", str(tmp_path / "q.tsq"), "-in",
            str(tmp_path / "r.tsr"), "-CAfile", pki["root"], "-untrusted", pki["issuing"],
            check=False)
    assert p.returncode == 1 and "signer certificate not found" in p.stderr, p.stderr
    both = write(tmp_path / "both.pem", units["p256"]["certificate"] + open(pki["issuing"]).read())
    verify(tmp_path, pki, both)


def token_certs(tmp_path):
    run("openssl", "ts", "-reply", "-in", str(tmp_path / "r.tsr"), "-token_out", "-out",
        str(tmp_path / "tok.der"))
    out = run("openssl", "pkcs7", "-inform", "DER", "-in", str(tmp_path / "tok.der"),
              "-print_certs").stdout
    return out.count("subject=")


def test_cert_req_decides_whether_certificates_are_in_the_token(server, units, pki, tmp_path):
    timestamp(server, tmp_path, "ts-p256", cert=True)
    assert token_certs(tmp_path) == 1
    timestamp(server, tmp_path, "ts-p256", cert=False)
    assert token_certs(tmp_path) == 0
    timestamp(server, tmp_path, "ts-sha1", cert=True)  # include_chain: TSA, issuing, root
    assert token_certs(tmp_path) == 3
    verify(tmp_path, pki, pki["root"])  # the chain comes from the token itself


def test_token_has_signing_certificate_v2_and_tstinfo_content(server, units, tmp_path):
    timestamp(server, tmp_path, "ts-rsa")
    run("openssl", "ts", "-reply", "-in", str(tmp_path / "r.tsr"), "-token_out", "-out",
        str(tmp_path / "tok.der"))
    dump = run("openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in",
               str(tmp_path / "tok.der")).stdout
    assert "eContentType: id-smime-ct-TSTInfo" in dump
    assert "id-smime-aa-signingCertificateV2" in dump
    text = reply_text(tmp_path, open(tmp_path / "r.tsr", "rb").read())
    assert "Accuracy: 0x01 seconds, 0x01F4 millis" in text
    # genTime with milliseconds (accuracy below a second), no trailing zeros, Z.
    gen = [l for l in text.splitlines() if l.startswith("Time stamp:")][0]
    assert gen.endswith("GMT")


def test_every_token_is_recorded_and_can_be_looked_up(server, units, tmp_path):
    data = b"recorded document"
    body = timestamp(server, tmp_path, "ts-p256", data=data)
    text = reply_text(tmp_path, body)
    serial = [l.split("0x", 1)[1] for l in text.splitlines()
              if l.startswith("Serial number:")][0].lower().lstrip("0")
    nonce = [l.split("0x", 1)[1] for l in text.splitlines()
             if l.startswith("Nonce:")][0].lower().lstrip("0")
    assert int(serial, 16).bit_length() >= 64
    rec = server.api("GET", f"/tsa/ts-p256/tokens/{serial}")
    imprint = hashlib.sha256(data).hexdigest()
    assert rec["imprint"] == imprint and rec["hash_alg"] == "sha256"
    assert rec["policy"] == POLICY and rec["nonce"] == nonce
    assert rec["requester"] == "127.0.0.1"
    token = base64.b64decode(rec["token"])
    assert token in body  # the recorded token is the one handed out
    found = server.api("GET", f"/tsa/ts-p256/tokens?imprint={imprint}")["tokens"]
    assert [t["serial"] for t in found] == [serial]
    events = [e for e in server.audit() if e["action"] == "tsa.token"]
    assert f"ts-p256/{serial}" in [e["object"] for e in events]
    server.api("GET", "/tsa/ts-p256/tokens/abc", expect=404)


def test_serials_are_unique_and_random(server, units, tmp_path):
    serials = set()
    for _ in range(5):
        text = reply_text(tmp_path, timestamp(server, tmp_path, "ts-p256"))
        serials.add([l for l in text.splitlines() if l.startswith("Serial number:")][0])
    assert len(serials) == 5


def test_concurrent_requests_all_get_distinct_recorded_tokens(server, units, tmp_path):
    from concurrent.futures import ThreadPoolExecutor
    der = query(tmp_path, data=b"concurrent")
    before = len(server.api("GET", "/tsa/ts-rsa/tokens?limit=1000")["tokens"])
    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(lambda _: post_tsq(server, "ts-rsa", der), range(48)))
    assert all(r.status == 200 for r in replies)
    serials = set()
    for r in replies:
        text = reply_text(tmp_path, r.body)
        assert status_of(text) == "Granted."
        serials.add([l for l in text.splitlines() if l.startswith("Serial number:")][0])
    assert len(serials) == 48
    after = server.api("GET", "/tsa/ts-rsa/tokens?limit=1000")["tokens"]
    assert len(after) == before + 48


def test_requested_policy_is_used_and_unknown_policy_refused(server, units, tmp_path):
    text = reply_text(tmp_path, timestamp(server, tmp_path, "ts-p256", policy=POLICY2))
    assert f"Policy OID: {POLICY2}" in text
    text = reply_text(tmp_path, timestamp(server, tmp_path, "ts-p256", policy="1.2.3.4"))
    assert status_of(text) == "Rejected."
    assert failure_of(text) == UNACCEPTED_POLICY


def test_hash_not_accepted_is_bad_alg_and_sha1_only_where_enabled(server, units, tmp_path):
    text = reply_text(tmp_path, timestamp(server, tmp_path, "ts-p256", digest="sha1"))
    assert status_of(text) == "Rejected." and failure_of(text) == BAD_ALG
    text = reply_text(tmp_path, timestamp(server, tmp_path, "ts-p256", digest="md5"))
    assert failure_of(text) == BAD_ALG
    text = reply_text(tmp_path, timestamp(server, tmp_path, "ts-sha1", digest="sha1"))
    assert status_of(text) == "Granted."
    assert "Accuracy: unspecified" in text  # accuracy_ms 0: no accuracy field


def test_bad_input_gets_a_protocol_error_and_the_service_keeps_answering(server, units,
                                                                          tmp_path):
    good = query(tmp_path)
    for bad in [b"", b"\x30\x03\x02\x01\x01", b"not DER at all", good[:-3], good + b"\x00",
                b"\x30\x80" + b"\x00" * 50]:
        r = post_tsq(server, "ts-p256", bad)
        assert r.status == 200
        text = reply_text(tmp_path, r.body)
        assert status_of(text) == "Rejected." and failure_of(text) == BAD_DATA_FORMAT
    # A wrong imprint length for its hash is badDataFormat too.
    wrong = bytearray(good)
    i = wrong.find(hashlib.sha256(b"hello, time").digest())
    wrong[i - 1] -= 1  # OCTET STRING one byte shorter ...
    del wrong[i]  # ... and that byte gone; outer lengths fixed below
    wrong[1] -= 1
    wrong[wrong.find(b"\x30", 2) + 1] -= 1
    text = reply_text(tmp_path, post_tsq(server, "ts-p256", bytes(wrong)).body)
    assert failure_of(text) in (BAD_DATA_FORMAT, BAD_ALG)
    assert post_tsq(server, "ts-p256", good, content_type="application/json").status == 415
    assert post_tsq(server, "ts-p256", b"\x30" * 20000).status == 413
    assert post_tsq(server, "nope", good).status == 404
    assert post_tsq(server, "ts-p256", good, tenant="nobody").status == 404
    r = server.request("GET", "/tsa/default/ts-p256", token=None, base=server.public_url)
    assert r.status == 405
    timestamp(server, tmp_path, "ts-p256")


def test_a_query_in_ber_or_with_trailing_data_is_bad_data_format(server, units, tmp_path):
    good = query(tmp_path)  # openssl ts -query: DER
    for bad in (ber_indefinite(good), good + b"\x00\x00"):
        with open(tmp_path / "bad.tsq", "wb") as f:
            f.write(bad)
        p = run("curl", "-sS", "-o", str(tmp_path / "r.tsr"), "-w", "%{http_code}",
                "-H", "Content-Type: application/timestamp-query", "--data-binary",
                "@" + str(tmp_path / "bad.tsq"), f"{server.public_url}/tsa/default/ts-p256")
        assert p.stdout == "200"
        text = run("openssl", "ts", "-reply", "-in", str(tmp_path / "r.tsr"), "-text").stdout
        assert status_of(text) == "Rejected." and failure_of(text) == BAD_DATA_FORMAT, text
    timestamp(server, tmp_path, "ts-p256")


def test_units_are_tenant_scoped(server, units, tmp_path):
    token = other_tenant(server, "tsa-other")
    r = server.request("GET", "/api/v1/t/default/tsa", token=token)
    assert r.status == 403
    r = server.request("GET", "/api/v1/t/default/tsa/ts-p256/tokens", token=token)
    assert r.status == 403
    assert server.api("GET", "/tsa", tenant="tsa-other", token=token)["units"] == []
    # The other tenant's public URL does not reach default's unit.
    assert post_tsq(server, "ts-p256", query(tmp_path), tenant="tsa-other").status == 404


def test_bad_unit_settings_are_refused(server):
    base = {"name": "bad", "ca": "issuing", "policy": POLICY}
    for extra in [{"policy": "not-an-oid"}, {"policy": None}, {"hashes": ["md5"]},
                  {"hashes": []}, {"policies": ["x"]}, {"key_type": "rsa-1024"},
                  {"key_type": "ed25519"},
                  {"accuracy_ms": -1}, {"name": "Bad Name"}]:
        body = {k: v for k, v in {**base, **extra}.items() if v is not None}
        r = server.request("POST", "/api/v1/t/default/tsa", body)
        assert r.status == 400, (extra, r.body)
    r = server.request("POST", "/api/v1/t/default/tsa", {**base, "ca": "missing"})
    assert r.status == 404
    create_unit(server, "dup")
    r = server.request("POST", "/api/v1/t/default/tsa", {**base, "name": "dup"})
    assert r.status == 409
    server.api("GET", "/tsa/bad", expect=404)


def minimal_pe():
    """A minimal PE32 console executable: headers and one .text section holding `ret`."""
    dos = b"MZ" + b"\x00" * 58 + struct.pack("<I", 0x40)
    coff = struct.pack("<HHIIIHH", 0x14C, 1, 0, 0, 0, 224, 0x0102)
    opt = struct.pack("<HBBIIIIIII", 0x10B, 1, 0, 0x200, 0, 0, 0x1000, 0x1000, 0x2000, 0x400000)
    opt += struct.pack("<IIHHHHHHIIIIHHIIIIII", 0x1000, 0x200, 4, 0, 0, 0, 4, 0, 0, 0x2000,
                       0x200, 0, 3, 0, 0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
    opt += b"\x00" * 128
    sect = b".text\x00\x00\x00" + struct.pack("<IIIIIIHHI", 0x200, 0x1000, 0x200, 0x200, 0, 0,
                                               0, 0, 0x60000020)
    head = dos + b"PE\x00\x00" + coff + opt + sect
    return head + b"\x00" * (0x200 - len(head)) + b"\xc3" + b"\x00" * 0x1FF


def test_osslsigncode_timestamps_a_pe_file_and_verifies_it(server, units, pki, tmp_path):
    r = server.request("POST", "/api/v1/t/default/certificates/keygen",
                       {"ca": "issuing", "profile": "code-signing",
                        "subject": "/C=DE/O=Vouch Test/CN=Code Signer", "password": "secret-pw"})
    assert r.status == 201, r.body
    with open(tmp_path / "signer.p12", "wb") as f:
        f.write(base64.b64decode(r.json()["pkcs12"]))
    with open(tmp_path / "app.exe", "wb") as f:
        f.write(minimal_pe())
    ts_url = f"{server.public_url}/tsa/default/ts-sha1"
    before = len(server.api("GET", "/tsa/ts-sha1/tokens?limit=1000")["tokens"])
    run("osslsigncode", "sign", "-pkcs12", str(tmp_path / "signer.p12"), "-pass", "secret-pw",
        "-h", "sha256", "-ts", ts_url, "-in", str(tmp_path / "app.exe"), "-out",
        str(tmp_path / "signed.exe"))
    out = run("osslsigncode", "verify", "-in", str(tmp_path / "signed.exe"), "-CAfile",
              pki["root"], "-TSA-CAfile", pki["root"]).stdout
    assert "Timestamp Server Signature verification: ok" in out, out
    assert "Signature verification: ok" in out, out
    # The countersignature is a token of this unit (osslsigncode 2.5 does not print its name).
    assert len(server.api("GET", "/tsa/ts-sha1/tokens?limit=1000")["tokens"]) == before + 1


def clock_synced():
    """What adjtimex(2) says, as vouchd's tsa_clock_check = kernel reads it."""
    class Timex(ctypes.Structure):
        _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                    ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long),
                    ("status", ctypes.c_int), ("rest", ctypes.c_byte * 200)]
    t = Timex()
    state = ctypes.CDLL(None).adjtimex(ctypes.byref(t))
    return state not in (-1, 5) and not (t.status & 0x40)  # TIME_ERROR, STA_UNSYNC


def gone(pid):
    """The process is dead: no longer there, or a zombie not yet reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_unsynchronised_clock_and_dead_signer_give_system_failure(tmp_path_factory, tmp_path):
    s = Server(str(tmp_path_factory.mktemp("tsa-clock")), conf="tsa_clock_check = kernel\n")
    try:
        create_unit(s, "clock")
        text = reply_text(tmp_path, post_tsq(s, "clock", query(tmp_path)).body)
        if clock_synced():
            assert status_of(text) == "Granted."
        else:
            assert status_of(text) == "Rejected." and failure_of(text) == SYSTEM_FAILURE
            assert "TST info:\nNot included." in text
        before = s.api("GET", "/tsa/clock/tokens")["tokens"]
        # The signer dies: no token, a systemFailure rejection, and nothing recorded.
        children = [int(pid) for pid in run("pgrep", "-P", str(s.proc.pid)).stdout.split()]
        assert children
        for pid in children:
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: all(gone(pid) for pid in children), 10, "the signer to die")
        text = reply_text(tmp_path, post_tsq(s, "clock", query(tmp_path)).body)
        assert status_of(text) == "Rejected." and failure_of(text) == SYSTEM_FAILURE
        assert s.api("GET", "/tsa/clock/tokens")["tokens"] == before
    finally:
        s.stop()


def test_cli_creates_lists_and_shows_units_and_tokens(server, units, tmp_path):
    out = server.cli("tsa", "create", "ts-cli", "--ca", "issuing", "--policy", POLICY,
                     "--accept-policy", POLICY2, "--hash", "sha256", "--hash", "sha512",
                     "--key-type", "ec-p384", "--accuracy-ms", "250", "--include-chain").stdout
    assert "ts-cli" in out and f"/tsa/default/ts-cli" in out
    shown = server.api("GET", "/tsa/ts-cli")
    assert shown["hashes"] == ["sha256", "sha512"] and shown["policies"] == [POLICY, POLICY2]
    assert shown["accuracy_ms"] == 250 and shown["include_chain"] and shown["key_type"] == "ec-p384"
    assert "ts-cli" in server.cli("tsa", "list").stdout
    assert "ec-p384" in server.cli("tsa", "show", "ts-cli").stdout
    text = reply_text(tmp_path, timestamp(server, tmp_path, "ts-cli"))
    serial = [l.split("0x", 1)[1] for l in text.splitlines()
              if l.startswith("Serial number:")][0].lower().lstrip("0")
    assert serial in server.cli("tsa", "tokens", "ts-cli").stdout
    assert "127.0.0.1" in server.cli("tsa", "token", "ts-cli", serial).stdout
    p = server.cli("tsa", "create", "x", "--ca", "issuing", check=False)
    assert p.returncode == 2  # --policy missing: a usage error


def test_a_revoked_unit_certificate_stops_the_unit(server, tmp_path):
    unit = create_unit(server, "ts-revoked")
    assert status_of(reply_text(tmp_path, timestamp(server, tmp_path, "ts-revoked"))) == "Granted."
    server.api("POST", f"/certificates/{unit['certificate_serial']}/revoke",
               {"reason": "keyCompromise"})

    def reply():
        r = post_tsq(server, "ts-revoked", query(tmp_path))
        assert r.status == 200
        return reply_text(tmp_path, r.body)

    # The unit re-reads its certificate's status at most once a second: refused from then on.
    text = wait_for(lambda: (lambda t: status_of(t) == "Rejected." and t)(reply()), 10,
                    "the revoked unit to refuse")
    assert failure_of(text) == SYSTEM_FAILURE, text
    # Nothing is recorded for a refused request.
    tokens = server.api("GET", "/tsa/ts-revoked/tokens")["tokens"]
    assert status_of(reply()) == "Rejected."
    assert server.api("GET", "/tsa/ts-revoked/tokens")["tokens"] == tokens


def test_a_unit_is_changed_and_disabled_and_its_tokens_stay(server, units, pki, tmp_path):
    create_unit(server, "ts-change")
    timestamp(server, tmp_path, "ts-change")
    before = server.api("GET", "/tsa/ts-change/tokens")["tokens"]
    assert len(before) == 1
    # A new default policy, SHA-512 only, another accuracy, the chain in tokens.
    u = server.api("PUT", "/tsa/ts-change", {"policy": POLICY2, "hashes": ["sha512"],
                                             "accuracy_ms": 250, "include_chain": True})
    assert u["policy"] == POLICY2 and u["hashes"] == ["sha512"] and u["accuracy_ms"] == 250
    assert POLICY in u["policies"]  # the accepted policies stay
    text = reply_text(tmp_path, timestamp(server, tmp_path, "ts-change", digest="sha256"))
    assert failure_of(text) == BAD_ALG
    text = reply_text(tmp_path, timestamp(server, tmp_path, "ts-change", digest="sha512"))
    assert status_of(text) == "Granted." and f"Policy OID: {POLICY2}" in text
    assert "0xFA millis" in text  # 250 ms
    verify(tmp_path, pki, pki["issuing"])
    change = [e for e in server.audit() if e["action"] == "tsa.update"][-1]
    assert change["object"] == "ts-change" and change["detail"]["hashes"] == '["sha512"]'

    # Disabled: no tokens (systemFailure), the old ones still there; enabled again: tokens.
    assert server.api("PUT", "/tsa/ts-change", {"status": "disabled"})["status"] == "disabled"
    text = reply_text(tmp_path, timestamp(server, tmp_path, "ts-change", digest="sha512"))
    assert status_of(text) == "Rejected." and failure_of(text) == SYSTEM_FAILURE
    assert len(server.api("GET", "/tsa/ts-change/tokens")["tokens"]) == 2
    server.api("PUT", "/tsa/ts-change", {"status": "active"})
    text = reply_text(tmp_path, timestamp(server, tmp_path, "ts-change", digest="sha512"))
    assert status_of(text) == "Granted."

    # Bad changes are refused and change nothing.
    for body in ({"status": "gone"}, {"hashes": ["md5"]}, {"policy": "not-an-oid"},
                 {"accuracy_ms": -1}, {"policies": "1.2.3"}):
        server.api("PUT", "/tsa/ts-change", body, expect=400)
    server.api("PUT", "/tsa/nosuch", {"status": "disabled"}, expect=404)
    assert server.api("GET", "/tsa/ts-change")["hashes"] == ["sha512"]


USER_PURPOSE = {"ca:": "ca", "ocsp-responder:": "ocsp", "tsa:": "tsa", "audit": "audit"}


def key_purposes(server):
    """{key id: (the purpose its users give it, the purpose the signer keeps)} of used keys."""
    out = {}
    for k in server.api("GET", "/keys")["keys"]:
        for u in k["users"]:
            for prefix, p in USER_PURPOSE.items():
                if u.startswith(prefix):
                    out[k["key_id"]] = (p, k["purpose"])
    return out


def test_keys_are_bound_to_the_purpose_of_what_uses_them(server, units):
    """Issue 23 point 5: each key a CA, an OCSP responder, a TSA unit or the audit checkpoints
    use is bound in the signer to that purpose (GET /keys shows it); a key made alone has none
    until a CA takes it, and then it is a CA key."""
    server.api("POST", "/audit/checkpoints", {})
    wait_for(lambda: {"ca", "ocsp", "tsa", "audit"} <= {p for p, _ in key_purposes(server).values()},
             60, "keys of every purpose")
    got = key_purposes(server)
    assert all(want == have for want, have in got.values()), got
    made = server.api("POST", "/keys", {"key_type": "ec-p256"}, expect=201)
    assert made["purpose"] == "none", made
    server.api("POST", "/cas", {"name": "bound-root", "subject": "/CN=Bound Root/C=XX",
                                "key_id": made["key_id"]}, expect=201)
    listed = {k["key_id"]: k["purpose"] for k in server.api("GET", "/keys")["keys"]}
    assert listed[made["key_id"]] == "ca"
    # The CLI shows the column too.
    assert made["key_id"] in server.cli("key", "list").stdout
    assert " ca " in next(line for line in server.cli("key", "list").stdout.splitlines()
                          if made["key_id"] in line) + " "


@pytest.mark.runs_in("integration", "integration-asan", "integration-pg",
                     why="it removes the software key store's binding files; a token's "
                         "data objects are not files")
def test_keys_from_before_purposes_get_theirs_at_start(server, units):
    """Keys made before the signer kept purposes (no binding beside them) are bound at start
    to the purpose of what uses them, and the TSA, OCSP and issuance work as before."""
    server.api("POST", "/audit/checkpoints", {})
    wait_for(lambda: "ocsp" in {p for p, _ in key_purposes(server).values()}, 60, "a responder key")
    keys_dir = os.path.join(server.dir, "keys", "default")
    server.stop()
    removed = [f for f in os.listdir(keys_dir) if f.endswith(".meta")]
    assert removed
    for f in removed:
        os.remove(os.path.join(keys_dir, f))
    server.start()
    got = key_purposes(server)
    assert got and all(want == have for want, have in got.values()), got
    assert set(os.listdir(keys_dir)) >= {f for f in removed if f[:-5] in got}
    csr, _ = make_csr("after.example", dns=["after.example"])
    server.api("POST", "/certificates", {"ca": "issuing", "profile": "tls-server", "csr": csr},
               expect=201)


@pytest.mark.runs_in("integration", "integration-asan", "integration-pg",
                     why="it moves a key file of the software key store away; a token's keys "
                         "are not files")
def test_a_unit_whose_key_is_gone_makes_readyz_say_degraded_naming_it(server, units):
    """Issue 23 point 4: a TSA unit whose key the key store no longer holds is named by the
    API listener's /readyz (status "degraded", still 200: every node shares the key store) until
    the key is back."""
    create_unit(server, "ts-lost")
    key_id = server.api("GET", "/tsa/ts-lost")["key_id"]
    path = os.path.join(server.dir, "keys", "default", key_id + ".pem")
    ready = server.request("GET", "/readyz")
    assert ready.status == 200 and ready.json()["status"] == "ready", ready.body
    assert ready.json()["signing_units"] == []
    os.rename(path, path + ".away")
    try:
        def degraded():
            r = server.request("GET", "/readyz")
            assert r.status == 200, r.body
            return r.json() if r.json()["status"] == "degraded" else None
        body = wait_for(degraded, 30, "/readyz degraded")
        assert any(u.startswith("tsa:default/ts-lost:") and key_id in u
                   for u in body["signing_units"]), body
        # The public listener says only ready or not.
        r = server.request("GET", "/readyz", base=server.public_url)
        assert r.json() == {"status": "ready"}, r.body
    finally:
        os.rename(path + ".away", path)
    wait_for(lambda: server.request("GET", "/readyz").json()["status"] == "ready", 30,
             "/readyz ready again")
    server.api("PUT", "/tsa/ts-lost", {"status": "disabled"})


def test_keys_in_use_name_their_users_and_are_not_deleted(server, units, tmp_path):
    """Issue 23: a TSA unit's key, an OCSP responder's, a CA's and the audit key cannot be
    deleted (409 naming the user); the key list shows each key's users; the TSA still signs."""
    server.api("POST", "/audit/checkpoints", {})  # makes the audit key

    def users():
        return {u: k["key_id"] for k in server.api("GET", "/keys")["keys"] for u in k["users"]}

    # The delegated responders are made by the scheduler once the CA exists.
    wait_for(lambda: any(u.startswith("ocsp-responder:") for u in users()), 60,
             "an OCSP responder key")
    by_user = users()
    responder = next(u for u in by_user if u.startswith("ocsp-responder:"))
    keys = server.api("GET", "/keys")["keys"]
    for user in ("tsa:ts-p256", responder, "ca:issuing", "audit"):
        key_id = by_user[user]
        r = server.request("DELETE", f"/api/v1/t/default/keys/{key_id}")
        assert r.status == 409 and user in r.json()["detail"], (user, r.body)
        p = server.cli("key", "delete", key_id, check=False)
        assert p.returncode != 0 and user in p.stderr, (user, p.stdout, p.stderr)
    assert server.api("GET", "/keys")["keys"] == keys
    der = timestamp(server, tmp_path, "ts-p256")
    assert status_of(reply_text(tmp_path, der)) == "Granted."
