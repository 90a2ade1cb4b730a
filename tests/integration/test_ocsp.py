"""The OCSP responder, driven by openssl ocsp, GnuTLS ocsptool and curl."""
import base64
import glob
import os
import re
import datetime
import socket
import time
import urllib.parse

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from conftest import Server, ber_indefinite, make_csr, other_tenant, run, wait_for, write


@pytest.fixture(scope="module")
def env(server, tmp_path_factory):
    """Trust files of the default tenant's hierarchy."""
    d = tmp_path_factory.mktemp("ocsp")
    root = server.api("GET", "/cas/root")["certificate"]
    issuing = server.api("GET", "/cas/issuing")["certificate"]
    return {"dir": d, "root": write(d / "root.pem", root), "issuing": write(d / "issuing.pem", issuing),
            "chain": write(d / "chain.pem", root + issuing)}


def issue(server, cn, ca="issuing", tenant="default", token="admin"):
    csr, _ = make_csr(cn=cn, dns=[cn])
    return server.api("POST", "/certificates", {"ca": ca, "profile": "tls-server", "csr": csr},
                      expect=201, tenant=tenant, token=token)


def ocsp_url(server, tenant="default", ca="issuing"):
    return f"{server.public_url}/ocsp/{tenant}/{ca}" if ca else f"{server.public_url}/ocsp/{tenant}"


def openssl_ocsp(server, env, cert_pem, *extra, url=None, name="leaf.pem"):
    leaf = write(env["dir"] / name, cert_pem)
    return run("openssl", "ocsp", "-issuer", env["issuing"], "-cert", leaf, "-url",
               url or ocsp_url(server), "-CAfile", env["chain"], "-resp_text", *extra,
               check=False)


def ocsp_request(cert_pem, issuer_pem, algo=hashes.SHA1(), nonce=None):
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    issuer = x509.load_pem_x509_certificate(issuer_pem.encode())
    b = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, algo)
    if nonce is not None:
        b = b.add_extension(x509.OCSPNonce(nonce), critical=False)
    return b.build().public_bytes(serialization.Encoding.DER)


def post(server, body, url=None, ctype="application/ocsp-request"):
    return server.request("POST", "", body, token=None, content_type=ctype,
                          base=url or ocsp_url(server))


def test_good_certificate_with_openssl_ocsp_and_delegated_responder(server, env):
    cert = issue(server, "good.example")
    p = openssl_ocsp(server, env, cert["certificate"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Response verify OK" in p.stderr + p.stdout
    assert ": good" in p.stdout
    # The delegated responder signs: its certificate is in the response, issued by the CA.
    assert "OCSP Signing" in p.stdout and "OCSP No Check" in p.stdout
    assert re.search(r"Responder Id: [0-9A-F]{40}\n", p.stdout), p.stdout  # byKey


def test_revoked_with_reason_before_the_call_returns(server, env):
    cert = issue(server, "revoked.example")
    # Pre-signed "good" is served first ...
    p = openssl_ocsp(server, env, cert["certificate"])
    assert ": good" in p.stdout
    server.api("POST", f"/certificates/{cert['serial']}/revoke", {"reason": "keyCompromise"})
    # ... and replaced before the revocation call returned.
    p = openssl_ocsp(server, env, cert["certificate"])
    assert p.returncode == 0, p.stderr
    assert ": revoked" in p.stdout and "Reason: keyCompromise" in p.stdout, p.stdout


def test_suspend_and_reinstate(server, env):
    cert = issue(server, "hold.example")
    server.api("POST", f"/certificates/{cert['serial']}/suspend", {})
    p = openssl_ocsp(server, env, cert["certificate"])
    assert ": revoked" in p.stdout and "certificateHold" in p.stdout, p.stdout
    server.api("POST", f"/certificates/{cert['serial']}/reinstate", {})
    p = openssl_ocsp(server, env, cert["certificate"])
    assert ": good" in p.stdout, p.stdout


def test_unknown_serial_of_our_issuer(server, env):
    p = run("openssl", "ocsp", "-issuer", env["issuing"], "-serial", "0x1234567890abcdef",
            "-url", ocsp_url(server), "-CAfile", env["chain"], check=False)
    assert "0x1234567890abcdef: unknown" in p.stdout, p.stdout + p.stderr


def test_nonce_echoed_and_nonceless_is_cacheable(server, env):
    cert = issue(server, "nonce.example")
    p = openssl_ocsp(server, env, cert["certificate"], "-nonce")
    assert p.returncode == 0 and "WARNING" not in p.stderr, p.stderr
    assert "OCSP Nonce" in p.stdout
    p = openssl_ocsp(server, env, cert["certificate"], "-no_nonce")
    assert p.returncode == 0, p.stderr
    assert "OCSP Nonce" not in p.stdout
    assert "Next Update" in p.stdout


def wait_presigned(server, der, url=None):
    """Waits until the pre-signer stored the response (two POSTs give the same bytes)."""
    def same():
        a, b = post(server, der, url=url).body, post(server, der, url=url).body
        return a if a == b else None
    return wait_for(same, 20, "a pre-signed response", interval=0.3)


def test_get_with_rfc5019_caching_headers(server, env):
    cert = issue(server, "get.example")
    der = ocsp_request(cert["certificate"], open(env["issuing"]).read())
    b64 = urllib.parse.quote(base64.b64encode(der).decode(), safe="")
    stored = wait_presigned(server, der)
    for base in (ocsp_url(server), ocsp_url(server, ca=None)):
        r = server.request("GET", f"/{b64}", token=None, base=base)
        assert r.status == 200, r.body
        assert r.headers["Content-Type"] == "application/ocsp-response"
        resp = ocsp.load_der_ocsp_response(r.body)
        assert resp.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
        assert resp.certificate_status == ocsp.OCSPCertStatus.GOOD
        assert resp.serial_number == int(cert["serial"], 16)
        assert r.body == stored
        assert "max-age=" in r.headers["Cache-Control"]
        max_age = int(r.headers["Cache-Control"].split("max-age=")[1].split(",")[0])
        assert 0 < max_age <= (resp.next_update - datetime.datetime.utcnow()).total_seconds() + 2
        assert r.headers["ETag"] and r.headers["Last-Modified"] and r.headers["Expires"]
        etag = r.headers["ETag"]
        r2 = server.request("GET", f"/{b64}", token=None, base=base,
                            headers={"If-None-Match": etag})
        assert r2.status == 304
    # curl, with the base64 left as it is ('/' and '+' unencoded)
    raw = base64.b64encode(der).decode()
    p = run("curl", "-sS", "-o", str(env["dir"] / "get.der"), "-w", "%{http_code}",
            f"{ocsp_url(server)}/{raw}")
    assert p.stdout == "200"
    resp = ocsp.load_der_ocsp_response(open(env["dir"] / "get.der", "rb").read())
    assert resp.certificate_status == ocsp.OCSPCertStatus.GOOD


def test_sha256_certid_and_several_certids(server, env):
    a = issue(server, "multi-a.example")
    b = issue(server, "multi-b.example")
    server.api("POST", f"/certificates/{b['serial']}/revoke", {"reason": "superseded"})
    issuer = open(env["issuing"]).read()
    der = ocsp_request(a["certificate"], issuer, hashes.SHA256())
    resp = ocsp.load_der_ocsp_response(post(server, der).body)
    assert resp.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert isinstance(resp.hash_algorithm, hashes.SHA256)
    # two CertIDs in one request, via openssl
    leaf_a = write(env["dir"] / "a.pem", a["certificate"])
    leaf_b = write(env["dir"] / "b.pem", b["certificate"])
    p = run("openssl", "ocsp", "-issuer", env["issuing"], "-cert", leaf_a, "-cert", leaf_b,
            "-url", ocsp_url(server), "-CAfile", env["chain"], check=False)
    assert p.returncode == 0, p.stderr
    assert f"{leaf_a}: good" in p.stdout and f"{leaf_b}: revoked" in p.stdout, p.stdout


def test_ca_key_signs_when_configured(server, env):
    server.api("POST", "/cas", {"name": "direct", "subject": "/CN=Direct CA", "parent": "root",
                                "ocsp_signer": "ca"}, expect=201)
    direct = server.api("GET", "/cas/direct")["certificate"]
    issuer = write(env["dir"] / "direct.pem", direct)
    chain = write(env["dir"] / "direct-chain.pem", open(env["root"]).read() + direct)
    cert = issue(server, "direct.example", ca="direct")
    leaf = write(env["dir"] / "direct-leaf.pem", cert["certificate"])
    p = run("openssl", "ocsp", "-issuer", issuer, "-cert", leaf, "-url",
            ocsp_url(server, ca="direct"), "-CAfile", chain, "-resp_text", check=False)
    assert p.returncode == 0 and "Response verify OK" in p.stderr, p.stdout + p.stderr
    assert "OCSP Signing" not in p.stdout  # no responder certificate: the CA signed
    # The root's own responder answers for the intermediate.
    p = run("openssl", "ocsp", "-issuer", env["root"], "-cert", issuer, "-url",
            ocsp_url(server, ca="root"), "-CAfile", env["root"], check=False)
    assert p.returncode == 0 and ": good" in p.stdout, p.stdout + p.stderr


def test_delegated_responder_verified_with_vafile(server, env):
    cert = issue(server, "vafile.example")
    der = ocsp_request(cert["certificate"], open(env["issuing"]).read())
    resp = ocsp.load_der_ocsp_response(post(server, der).body)
    responder = resp.certificates[0]
    assert x509.ExtendedKeyUsageOID.OCSP_SIGNING in \
        responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    responder.extensions.get_extension_for_class(x509.OCSPNoCheck)
    assert responder.issuer == x509.load_pem_x509_certificate(
        open(env["issuing"], "rb").read()).subject
    va = write(env["dir"] / "va.pem", responder.public_bytes(serialization.Encoding.PEM).decode())
    p = openssl_ocsp(server, env, cert["certificate"], "-VAfile", va)
    assert p.returncode == 0 and "Response verify OK" in p.stderr, p.stdout + p.stderr


def test_gnutls_ocsptool(server, env):
    cert = issue(server, "gnutls.example")
    leaf = write(env["dir"] / "gnutls.pem", cert["certificate"])
    p = run("ocsptool", "--ask=" + ocsp_url(server), "--load-issuer", env["issuing"],
            "--load-cert", leaf, "--load-trust", env["chain"], check=False)
    out = p.stdout + p.stderr
    assert "Certificate Status: good" in out, out
    assert "Verifying OCSP Response: Success" in out, out


def test_unauthorized_issuer_and_other_tenant(server, env, tmp_path):
    # An issuer that is not ours at all.
    p = run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", str(tmp_path / "k.pem"), "-out", str(tmp_path / "stranger.pem"),
            "-subj", "/CN=Stranger", "-days", "1")
    p = run("openssl", "ocsp", "-issuer", str(tmp_path / "stranger.pem"), "-serial", "0x42",
            "-url", ocsp_url(server, ca=None), check=False)
    assert "unauthorized" in (p.stdout + p.stderr).lower(), p.stdout + p.stderr
    # Another tenant's URL does not answer for the default tenant's CA.
    other_tenant(server, "ocspother")
    cert = issue(server, "cross.example")
    der = ocsp_request(cert["certificate"], open(env["issuing"]).read())
    for url in (ocsp_url(server, "ocspother", None), ocsp_url(server, "ocspother", "issuing"),
                ocsp_url(server, "nosuchtenant", None), ocsp_url(server, "default", "root")):
        resp = ocsp.load_der_ocsp_response(post(server, der, url=url).body)
        assert resp.response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED, url


def test_bad_input(server, env):
    cert = issue(server, "bad.example")
    good = ocsp_request(cert["certificate"], open(env["issuing"]).read())
    for body in (b"\x30\x03garbage", good[:-3], good + b"\x00", b"\x00" * 100):
        r = post(server, body)
        assert r.status == 200
        assert ocsp.load_der_ocsp_response(r.body).response_status == \
            ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    r = server.request("GET", "/!!notbase64!!", token=None, base=ocsp_url(server))
    assert ocsp.load_der_ocsp_response(r.body).response_status == \
        ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    # A nonce longer than RFC 8954's 32 octets.
    long_nonce = ocsp_request(cert["certificate"], open(env["issuing"]).read(), nonce=b"n" * 33)
    assert ocsp.load_der_ocsp_response(post(server, long_nonce).body).response_status == \
        ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    assert post(server, good, ctype="text/plain").status == 415
    assert post(server, b"\x30" * (17 * 1024)).status == 413
    # A client that connects and closes, one that sends half a request and stalls:
    # everyone else is still answered.
    socket.create_connection(("127.0.0.1", server.public_port)).close()
    slow = socket.create_connection(("127.0.0.1", server.public_port))
    slow.sendall(b"POST /ocsp/default/issuing HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n"
                 b"Content-Type: application/ocsp-request\r\n\r\n\x30")
    try:
        resp = ocsp.load_der_ocsp_response(post(server, good).body)
        assert resp.certificate_status == ocsp.OCSPCertStatus.GOOD
    finally:
        slow.close()
    assert server.proc.poll() is None


def test_a_ber_request_from_openssl_ocsp_is_malformed(server, env):
    cert = issue(server, "ber.example")
    leaf = write(env["dir"] / "ber-leaf.pem", cert["certificate"])
    req = env["dir"] / "req.der"
    run("openssl", "ocsp", "-issuer", env["issuing"], "-cert", leaf, "-no_nonce",
        "-reqout", str(req))
    der = open(req, "rb").read()
    with open(env["dir"] / "ber.der", "wb") as f:
        f.write(ber_indefinite(der))
    # openssl ocsp -reqin would send the request again as DER: curl sends the bytes as they
    # are, openssl ocsp reads the answer.
    for body in ("ber.der", "req.der"):
        resp = env["dir"] / "resp.der"
        run("curl", "-sS", "-o", str(resp), "-H", "Content-Type: application/ocsp-request",
            "--data-binary", "@" + str(env["dir"] / body), ocsp_url(server))
        p = run("openssl", "ocsp", "-respin", str(resp), "-resp_text", "-noverify", check=False)
        if body == "ber.der":
            assert "Responder Error: malformedrequest (1)" in p.stdout + p.stderr, p.stdout
        else:
            assert "OCSP Response Status: successful" in p.stdout, p.stdout + p.stderr
    # The same BER request by GET (base64 in the path) and with a byte after the DER.
    b64 = base64.b64encode(ber_indefinite(der)).decode()
    r = server.request("GET", "/" + urllib.parse.quote(b64, safe=""), token=None,
                       base=ocsp_url(server))
    assert ocsp.load_der_ocsp_response(r.body).response_status == \
        ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    assert ocsp.load_der_ocsp_response(post(server, der + b"\x00").body).response_status == \
        ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_ocsp_and_crl_say_what_the_revocations_said(server, env, tmp_path):
    """Each revocation's reason, time and invalidity date, as the test sent them, in the CRL
    (read by python-cryptography and by openssl crl) and in the OCSP answer: RFC 5280 §5.3.1
    omits reasonCode for unspecified (in both, docs/decisions.md), RFC 6960 §4.4.5 carries
    invalidityDate as a single extension; a suspension is certificateHold."""
    invalid = datetime.datetime(2026, 1, 2, 3, 4, 5)
    cases = [("keyCompromise", invalid, x509.ReasonFlags.key_compromise),
             ("unspecified", None, None),
             (None, None, x509.ReasonFlags.certificate_hold)]  # a suspension
    certs = []
    for i, (reason, inv, want) in enumerate(cases):
        c = issue(server, f"agree{i}.example")
        t0 = datetime.datetime.utcnow().replace(microsecond=0)
        if reason is None:
            server.api("POST", f"/certificates/{c['serial']}/suspend", {})
        else:
            body = {"reason": reason}
            if inv is not None:
                body["invalidity_date"] = inv.strftime("%Y-%m-%dT%H:%M:%SZ")
            server.api("POST", f"/certificates/{c['serial']}/revoke", body)
        t1 = datetime.datetime.utcnow().replace(microsecond=0) + datetime.timedelta(seconds=1)
        certs.append((c, inv, want, t0, t1))
    server.api("POST", "/cas/issuing/crl", {}, expect=201)
    der = server.request("GET", "/crl/default/issuing.crl", token=None,
                         base=server.public_url).body
    crl = x509.load_der_x509_crl(der)
    open(tmp_path / "crl.der", "wb").write(der)
    crl_text = run("openssl", "crl", "-inform", "DER", "-in", str(tmp_path / "crl.der"),
                   "-noout", "-text").stdout
    issuer = open(env["issuing"]).read()
    for c, inv, want, t0, t1 in certs:
        entry = crl.get_revoked_certificate_by_serial_number(int(c["serial"], 16))
        assert entry is not None, c["serial"]
        assert t0 <= entry.revocation_date <= t1, (entry.revocation_date, t0, t1)
        ext = {type(e.value): e.value for e in entry.extensions}
        assert (ext[x509.CRLReason].reason if x509.CRLReason in ext else None) == want
        assert (ext[x509.InvalidityDate].invalidity_date if x509.InvalidityDate in ext
                else None) == inv
        resp = ocsp.load_der_ocsp_response(post(server, ocsp_request(c["certificate"],
                                                                     issuer)).body)
        assert resp.certificate_status == ocsp.OCSPCertStatus.REVOKED
        assert resp.revocation_time == entry.revocation_date
        assert resp.revocation_reason == want
        single = {type(e.value): e.value for e in resp.single_extensions}
        assert (single[x509.InvalidityDate].invalidity_date if x509.InvalidityDate in single
                else None) == inv
    # openssl reads the same entries from the CRL.
    entries = {int(b.split()[0], 16): b for b in crl_text.split("Serial Number: ")[1:]}
    texts = [entries[int(c["serial"], 16)] for c, *_ in certs]
    assert "Key Compromise" in texts[0] and "Jan  2 03:04:05 2026 GMT" in texts[0], texts[0]
    assert "Reason Code" not in texts[1] and "Invalidity" not in texts[1], texts[1]
    assert "Certificate Hold" in texts[2] and "Invalidity" not in texts[2], texts[2]
    leaf = write(env["dir"] / "agree0.pem", certs[0][0]["certificate"])
    p = run("openssl", "ocsp", "-issuer", env["issuing"], "-cert", leaf, "-url",
            ocsp_url(server), "-CAfile", env["chain"], "-resp_text", check=False)
    assert "Reason: keyCompromise" in p.stdout and "Invalidity Date" in p.stdout, p.stdout
    assert "Jan  2 03:04:05 2026 GMT" in p.stdout, p.stdout


def test_presigned_response_is_replaced_on_revocation(server, env):
    """A stored "good" response is served until the status changes, then never again."""
    cert = issue(server, "presign.example")
    der = ocsp_request(cert["certificate"], open(env["issuing"]).read())
    stored = ocsp.load_der_ocsp_response(wait_presigned(server, der))
    assert stored.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert stored.next_update is not None
    # Once the clock is past producedAt's second, a response signed again would say so.
    produced = stored.produced_at.replace(tzinfo=datetime.timezone.utc).timestamp()
    wait_for(lambda: time.time() >= produced + 1, 5, "the clock past producedAt")
    again = ocsp.load_der_ocsp_response(post(server, der).body)
    assert again.produced_at == stored.produced_at  # served, not re-signed
    server.api("POST", f"/certificates/{cert['serial']}/revoke", {"reason": "cACompromise"})
    now = ocsp.load_der_ocsp_response(post(server, der).body)
    assert now.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert now.revocation_reason == x509.ReasonFlags.ca_compromise


def test_delegated_responder_is_renewed_before_it_expires(server, env):
    query = "SELECT serial FROM ocsp_responders WHERE tenant='default' AND ca='issuing'"
    old = server.sql(query)[0][0]
    now = int(time.time())
    # Past half its life: the pre-signer's next check renews it.
    server.sql("UPDATE ocsp_responders SET created = ?, not_after = ? WHERE tenant='default' "
               "AND ca='issuing'", (now - 6 * 86400, now + 2 * 3600))
    new = wait_for(lambda: (lambda n: n if n != old else None)(server.sql(query)[0][0]), 20,
                   "the responder renewed", interval=0.2)
    events = [e for e in server.audit() if e["action"] == "ocsp.responder"]
    assert any(e["detail"]["serial"] == new if isinstance(e["detail"], dict) else new in
               str(e["detail"]) for e in events), events
    # Responses are now signed by the new responder, and still verify.
    cert = issue(server, "renewed.example")
    der = ocsp_request(cert["certificate"], open(env["issuing"]).read(), nonce=b"0123456789abcdef")
    resp = ocsp.load_der_ocsp_response(post(server, der).body)
    assert format(resp.certificates[0].serial_number, "x") == new
    p = openssl_ocsp(server, env, cert["certificate"], name="renewed.pem")
    assert p.returncode == 0 and "Response verify OK" in p.stderr, p.stdout + p.stderr


def test_signing_on_demand_is_rate_limited_and_stored_answers_go_on(tmp_path):
    """Random serials each cost a signature: past the live rate they get tryLater, and a
    nonce is ignored for a certificate with a stored response (RFC 8954)."""
    s = Server(str(tmp_path), conf="ocsp_live_signs_per_second = 1\n")
    try:
        d = tmp_path / "o"
        d.mkdir()
        issuing = s.api("GET", "/cas/issuing")["certificate"]
        iss = write(d / "issuing.pem", issuing)
        cert = issue(s, "live.example")
        # Its stored (pre-signed) response exists once the pre-signer got to it.
        wait_for(lambda: s.sql("SELECT count(*) FROM ocsp_responses WHERE serial = ? AND der IS "
                               "NOT NULL", (cert["serial"],)) == [("1",)], 20,
                 "the pre-signed response stored")
        statuses = []
        start = time.monotonic()
        for i in range(12):
            run("openssl", "ocsp", "-issuer", iss, "-serial", hex(0x5eed0000 + i), "-no_nonce",
                "-reqout", str(d / "q.der"))
            body = open(d / "q.der", "rb").read()
            statuses.append(ocsp.load_der_ocsp_response(
                post(s, body, url=ocsp_url(s)).body).response_status)
        elapsed = time.monotonic() - start
        # At most a full bucket (1), then 1 a second, however slow the machine.
        ok = statuses.count(ocsp.OCSPResponseStatus.SUCCESSFUL)
        assert ok <= 2 + elapsed and (ok < 12 or elapsed > 10), (statuses, elapsed)
        assert ok + statuses.count(ocsp.OCSPResponseStatus.TRY_LATER) == 12, statuses
        # A nonce request for the known certificate: answered (from the stored response).
        nonced = ocsp_request(cert["certificate"], issuing, nonce=b"0123456789abcdef")
        got = []
        for _ in range(5):
            r = ocsp.load_der_ocsp_response(post(s, nonced, url=ocsp_url(s)).body)
            got.append(r.response_status)
            assert r.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
            assert r.certificate_status == ocsp.OCSPCertStatus.GOOD
        # The public endpoints keep answering.
        assert s.request("GET", "/healthz", token=None, base=s.public_url).status == 200
    finally:
        s.stop()


@pytest.mark.runs_in("integration", "integration-pg", "integration-asan",
                     why="removes the key's file from the software key store")
def test_a_responder_whose_key_is_gone_is_replaced(server, env):
    """Issue 23: a delegated responder whose key the signer no longer holds (lost with a token,
    removed by hand) is replaced by a new one when the CA is loaded, instead of OCSP failing."""
    cert = issue(server, "phoenix.example")
    p = openssl_ocsp(server, env, cert["certificate"])  # with a nonce: signed now
    before = re.search(r"Responder Id: ([0-9A-F]{40})", p.stdout).group(1)
    old = next(k["key_id"] for k in server.api("GET", "/keys")["keys"]
               if "ocsp-responder:issuing" in k["users"])
    files = glob.glob(os.path.join(server.dir, "**", old + ".pem"), recursive=True)
    assert len(files) == 1, files
    server.stop()
    os.remove(files[0])
    server.start()
    p = openssl_ocsp(server, env, cert["certificate"])
    assert p.returncode == 0 and "Response verify OK" in p.stderr + p.stdout, p.stdout + p.stderr
    assert ": good" in p.stdout
    after = re.search(r"Responder Id: ([0-9A-F]{40})", p.stdout).group(1)
    assert after != before
    new = next(k["key_id"] for k in server.api("GET", "/keys")["keys"]
               if "ocsp-responder:issuing" in k["users"])
    assert new != old
