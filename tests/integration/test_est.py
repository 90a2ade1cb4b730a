"""EST (RFC 7030, RFC 8951): enrollment endpoints and credentials of a tenant, and devices
enrolling through them with curl + openssl and with strongSwan's pki (--est, --estca):
enroll, renew with the old certificate as the TLS client certificate, wrong credentials
refused, an enrollment held for approval and collected once approved, bad input refused with
nothing changed.  Every certificate issued is checked as the REST path's are (chain, profile
extensions)."""
import base64
import json
import os
import re
import subprocess
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from conftest import Server, SoftHSM, make_csr, new_key, own_token, run, wait_for, write

PKI_NOISE = ("TPM 2.0", "plugin 'tpm'")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One TLS instance for the module (EST runs over TLS only); an endpoint `dev` of the
    default tenant issuing tls-server certificates from `issuing`."""
    base = tmp_path_factory.mktemp("vouch-est")
    conf = "est_default_endpoint = default~dev\n"  # /.well-known/est/<op> without a label
    if os.environ.get("VOUCH_TEST_KEYSTORE") == "pkcs11":
        hsm = SoftHSM(tmp_path_factory.mktemp("softhsm"))
        s = Server(str(base), tls=True, conf=conf, env=hsm.env, init_args=hsm.init_args())
    else:
        s = Server(str(base), tls=True, conf=conf)
    s.api("POST", "/enroll/endpoints",
          {"name": "dev", "ca": "issuing", "profile": "tls-server"}, expect=201)
    # The client of the tests trusts the API's TLS certificate and the tenant's CAs.
    chain = s.request("GET", "/ca/default/root.crt", token=None, base=s.public_url).body
    root = x509.load_der_x509_certificate(chain).public_bytes(serialization.Encoding.PEM)
    issuing = x509.load_der_x509_certificate(
        s.request("GET", "/ca/default/issuing.crt", token=None, base=s.public_url).body)
    s.root_pem = write(os.path.join(str(base), "root.pem"), root.decode())
    s.issuing_pem = write(os.path.join(str(base), "issuing.pem"),
                          issuing.public_bytes(serialization.Encoding.PEM).decode())
    s.dir_tmp = str(base)
    yield s
    s.stop()


def credential(server, reusable=True, endpoint="dev"):
    c = server.api("POST", f"/enroll/endpoints/{endpoint}/credentials", {"reusable": reusable},
                   expect=201)
    return c["id"], c["secret"]


def urls(server, endpoint="dev", tenant="default"):
    """The bases an operation's name is appended to: the RFC 7030 label form, the prefix form
    (and for `dev`, est_default_endpoint's: no label)."""
    return (f"{server.url}/.well-known/est/{tenant}~{endpoint}",
            f"{server.url}/est/{tenant}/{endpoint}/.well-known/est") + \
        ((f"{server.url}/.well-known/est",) if (tenant, endpoint) == ("default", "dev") else ())


def pki_url(server, endpoint="dev"):
    """What pki is given: it appends /.well-known/est/<operation> to the URL's path."""
    return f"{server.url}/est/default/{endpoint}"


def curl(server, url, *args, data=None, ctype="application/pkcs10"):
    """curl -i: (status, headers dict lowercased, body bytes)."""
    cmd = ["curl", "-s", "-i", "--cacert", server.cacert, *args]
    if data is not None:
        path = os.path.join(server.dir_tmp, "body")
        with open(path, "wb") as f:
            f.write(data)
        cmd += ["-H", f"Content-Type: {ctype}", "--data-binary", "@" + path]
    p = subprocess.run(cmd + [url], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    head, _, body = p.stdout.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), headers, body


def csr_der(cn, key=None, dns=None):
    pem, key = make_csr(cn=cn, dns=[cn] if dns is None else dns, key=key)
    return x509.load_pem_x509_csr(pem.encode()).public_bytes(serialization.Encoding.DER), key


def certs_of(body):
    """The certificates of a one-line base64 certs-only answer (checked to be one line)."""
    assert b"\n" not in body.rstrip(b"\n") and b"\r" not in body, body[:200]
    p = subprocess.run(["openssl", "pkcs7", "-inform", "DER", "-print_certs"],
                       input=base64.b64decode(body), capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return [x509.load_pem_x509_certificate(b"-----BEGIN" + c)
            for c in p.stdout.split(b"-----BEGIN")[1:]]


def assert_issued_as_rest(server, cert, cn):
    """Chain to the tenant's root through `issuing`, tls-server extensions, in the records."""
    pem = os.path.join(server.dir_tmp, "leaf.pem")
    write(pem, cert.public_bytes(serialization.Encoding.PEM).decode())
    run("openssl", "verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", server.root_pem,
        "-untrusted", server.issuing_pem, pem)
    assert cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value \
        .get_values_for_type(x509.DNSName) == [cn]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).critical
    assert cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    assert cert.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    serial = format(cert.serial_number, "x")
    shown = server.api("GET", f"/certificates/{serial}")
    assert shown["status"] == "good" and shown["profile"] == "tls-server", shown
    return serial


def pem_files(server, name, cert, key):
    c = write(os.path.join(server.dir_tmp, name + ".crt"),
              cert.public_bytes(serialization.Encoding.PEM).decode())
    k = write(os.path.join(server.dir_tmp, name + ".key"), key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode())
    return c, k


def cert_count(server):
    return int(server.sql("SELECT COUNT(*) FROM certs WHERE tenant = 'default'")[0][0])


# ---- administration ------------------------------------------------------------------------


def test_endpoints_and_credentials_are_a_tenant_admins_and_audited(server):
    ep = server.api("GET", "/enroll/endpoints/dev")
    assert ep["protocol"] == "est" and ep["ca"] == "issuing" and ep["profile"] == "tls-server"
    assert ep["settings"] == {"auth": ["basic", "certificate"], "client_cas": ["issuing"],
                              "retry_after": 60}
    assert ep["urls"] == {"well_known": "/.well-known/est/default~dev",
                          "prefix": "/est/default/dev/.well-known/est"}
    # The CLI (its command table) makes, changes and lists them too.
    out = server.cli("est", "endpoint", "create", "cli-ep", "--ca", "issuing", "--profile",
                     "tls-client", "--auth", "basic", "--retry-after", "5").stdout
    assert re.search(r"name:\s+cli-ep", out) and '"retry_after": 5' in out, out
    server.cli("est", "endpoint", "update", "cli-ep", "--status", "disabled")
    assert "cli-ep" in server.cli("est", "endpoint", "list").stdout
    made = server.cli("est", "credential", "create", "cli-ep", "--id", "router-7").stdout
    assert re.search(r"secret:\s+\S{24}", made) and re.search(r"reusable:\s+false", made), made
    listed = server.cli("est", "credential", "list", "cli-ep").stdout
    assert "router-7" in listed and "secret" not in listed
    server.cli("est", "credential", "revoke", "cli-ep", "router-7")
    creds = server.api("GET", "/enroll/endpoints/cli-ep/credentials")["credentials"]
    assert [(c["id"], c["status"]) for c in creds] == [("router-7", "revoked")]
    # Only argon2id hashes are stored.
    (stored,) = server.sql("SELECT secret_hash FROM enroll_credentials WHERE id = 'router-7'")
    assert stored[0].startswith("$argon2id$")
    # Bad settings, unknown CAs and CA profiles are refused; nothing is made.
    for body, status in [({"name": "x", "ca": "nope", "profile": "tls-server"}, 404),
                         ({"name": "x", "ca": "issuing", "profile": "sub-ca"}, 422),
                         ({"name": "x", "ca": "issuing", "profile": "tls-server",
                           "auth": ["magic"]}, 400),
                         ({"name": "x", "ca": "issuing", "profile": "tls-server",
                           "protocol": "cmp"}, 400),
                         ({"name": "x", "ca": "issuing", "profile": "tls-server",
                           "colour": "red"}, 400)]:
        server.api("POST", "/enroll/endpoints", body, expect=status)
    assert "x" not in [e["name"] for e in server.api("GET", "/enroll/endpoints")["endpoints"]]
    actions = [e["action"] for e in server.audit()]
    for a in ("enroll.endpoint.create", "enroll.endpoint.update", "enroll.credential.create",
              "enroll.credential.revoke"):
        assert a in actions, a
    # A requester may not set endpoints up.
    p = server.api("POST", "/principals", {"name": "est-requester", "kind": "user"}, expect=201)
    server.api("POST", "/roles/bind", {"principal": p["id"], "role": "requester"}, expect=201)
    tok = own_token(server, p["id"], "est-requester")
    server.api("GET", "/enroll/endpoints", expect=403, token=tok)


# ---- curl + openssl ------------------------------------------------------------------------


def test_curl_cacerts_csrattrs_enroll_and_renew(server):
    user, secret = credential(server)
    for base in urls(server):
        status, h, body = curl(server, base + "/cacerts")
        assert status == 200 and h["content-type"].startswith("application/pkcs7-mime"), h
        assert "content-transfer-encoding" not in h and int(h["content-length"]) == len(body)
        # A SET in DER order: the issuing CA and the root above it.
        subjects = sorted(c.subject.rfc4514_string() for c in certs_of(body))
        assert subjects == ["CN=Vouch Demo Issuing CA,O=Vouch Demo,C=XX",
                            "CN=Vouch Demo Root CA,O=Vouch Demo,C=XX"], subjects
    assert len(urls(server)) == 3
    status, h, body = curl(server, urls(server)[0] + "/csrattrs")
    assert status == 200 and h["content-type"] == "application/csrattrs"
    p = subprocess.run(["openssl", "asn1parse", "-inform", "DER"], input=base64.b64decode(body),
                       capture_output=True, timeout=30)
    assert p.returncode == 0 and b"ecdsa-with-SHA256" in p.stdout, p.stdout

    # simpleenroll: line-wrapped base64 with Content-Transfer-Encoding (RFC 8951: taken).
    der, key = csr_der("curl1.example.com")
    wrapped = base64.encodebytes(der)
    status, h, body = curl(server, urls(server)[0] + "/simpleenroll", "--user",
                           f"{user}:{secret}", "-H", "Content-Transfer-Encoding: base64",
                           data=wrapped)
    assert status == 200, body
    assert h["content-type"].startswith("application/pkcs7-mime")
    assert "content-transfer-encoding" not in h
    (cert,) = certs_of(body)
    serial = assert_issued_as_rest(server, cert, "curl1.example.com")
    events = [e for e in server.audit() if e["action"] == "cert.issue" and serial in json.dumps(e)]
    assert events and events[-1]["actor"] == f"est:dev/{user}", events[-1:]

    # simplereenroll: the certificate being renewed as the TLS client certificate, through the
    # prefix URL, with a new key.
    crt, k = pem_files(server, "curl1", cert, key)
    der2, key2 = csr_der("curl1.example.com")
    status, h, body = curl(server, urls(server)[1] + "/simplereenroll",
                           "--cert", crt, "--key", k, data=base64.b64encode(der2))
    assert status == 200, body
    (renewed,) = certs_of(body)
    new_serial = assert_issued_as_rest(server, renewed, "curl1.example.com")
    assert server.api("GET", f"/certificates/{new_serial}")["renewed_from"] == serial
    # Renewal keeps the names: another subject or SAN is refused, nothing issued.
    before = cert_count(server)
    for other in (csr_der("other.example.com")[0],
                  csr_der("curl1.example.com", dns=["curl1.example.com", "x.example.com"])[0]):
        status, _, body = curl(server, urls(server)[0] + "/simplereenroll", "--cert", crt,
                               "--key", k, data=base64.b64encode(other))
        assert status == 400 and b"being renewed" in body, body
    # Without a client certificate reenroll is 401.
    status, h, _ = curl(server, urls(server)[0] + "/simplereenroll", "--user",
                        f"{user}:{secret}", data=base64.b64encode(der2))
    assert status == 401 and h["www-authenticate"].startswith("Basic"), h
    assert cert_count(server) == before
    # fullcmc is not served.
    status, _, _ = curl(server, urls(server)[0] + "/fullcmc", "--user", f"{user}:{secret}",
                        data=b"MAA=", ctype="application/pkcs7-mime")
    assert status == 501


def test_wrong_used_or_revoked_credentials_are_refused_and_audited(server):
    user, secret = credential(server, reusable=False)
    der, _ = csr_der("once.example.com")
    url = urls(server)[0] + "/simpleenroll"
    before = cert_count(server)
    for creds in (f"{user}:wrong", f"nobody:{secret}"):
        status, h, body = curl(server, url, "--user", creds, data=base64.b64encode(der))
        assert status == 401 and h["www-authenticate"].startswith("Basic"), body
    status, _, _ = curl(server, url, data=base64.b64encode(der))  # no credentials at all
    assert status == 401
    assert cert_count(server) == before
    refused = [e for e in server.audit() if e["action"] == "est.refused"]
    assert refused and refused[-1]["result"] == "refused", refused[-1:]
    # One-time: one enrollment, then refused.
    status, _, _ = curl(server, url, "--user", f"{user}:{secret}", data=base64.b64encode(der))
    assert status == 200
    der2, _ = csr_der("twice.example.com")
    status, _, body = curl(server, url, "--user", f"{user}:{secret}", data=base64.b64encode(der2))
    assert status == 401 and b"used" in body, body
    # Revoked: refused at once.
    user2, secret2 = credential(server)
    server.api("POST", f"/enroll/endpoints/dev/credentials/{user2}/revoke", {})
    status, _, body = curl(server, url, "--user", f"{user2}:{secret2}",
                           data=base64.b64encode(der2))
    assert status == 401 and b"revoked" in body, body
    assert cert_count(server) == before + 1


def test_bad_input_is_a_protocol_error_and_changes_nothing(server):
    user, secret = credential(server)
    url = urls(server)[0] + "/simpleenroll"
    der, _ = csr_der("bad.example.com")
    tampered = bytearray(der)
    tampered[-5] ^= 0xFF  # the signature no longer verifies
    before = cert_count(server)
    for body in (b"!!!! not base64", b"", base64.b64encode(der[:-10]), base64.b64encode(b"\x30"),
                 base64.b64encode(bytes(tampered)), base64.b64encode(der) + b"AAAA",
                 base64.b64encode(csr_der("bad.example.com", dns=["evil_name!"])[0])):
        status, h, text = curl(server, url, "--user", f"{user}:{secret}", data=body)
        assert status == 400, (body[:40], status, text)
        assert h["content-type"].startswith("text/plain") and text.strip(), text
    # Expect: 100-continue: curl waits for the answer to the headers before it sends the body,
    # so the 413 given to them is read rather than lost to a connection closed mid-send.
    status, _, _ = curl(server, url, "--user", f"{user}:{secret}", "-H", "Expect: 100-continue",
                        data=b"A" * 70000)
    assert status == 413
    status, _, _ = curl(server, url, "--user", f"{user}:{secret}", data=base64.b64encode(der),
                        ctype="application/json")
    assert status == 415
    for bad in ("/.well-known/est/default~nope/cacerts", "/.well-known/est/nolabel/cacerts",
                "/.well-known/est/other~dev/cacerts", "/est/default/nope/.well-known/est/cacerts"):
        status, _, _ = curl(server, server.url + bad)
        assert status == 404, bad
    status, _, _ = curl(server, url, "-H", "Authorization: Basic %%%%", data=base64.b64encode(der))
    assert status == 401
    assert cert_count(server) == before
    assert server.proc.poll() is None


def test_a_client_certificate_of_another_ca_or_revoked_is_refused(server):
    user, secret = credential(server)
    url = urls(server)[0] + "/simpleenroll"
    der, key = csr_der("rev.example.com")
    status, _, body = curl(server, url, "--user", f"{user}:{secret}", data=base64.b64encode(der))
    (cert,) = certs_of(body)
    crt, k = pem_files(server, "rev", cert, key)
    serial = format(cert.serial_number, "x")
    server.api("POST", f"/certificates/{serial}/revoke", {"reason": "keyCompromise"})
    # Revoked as any other certificate: OCSP says so.
    chain = write(os.path.join(server.dir_tmp, "chain.pem"),
                  open(server.issuing_pem).read() + open(server.root_pem).read())
    p = run("openssl", "ocsp", "-issuer", server.issuing_pem, "-cert", crt, "-url",
            f"{server.public_url}/ocsp/default/issuing", "-CAfile", chain, check=False)
    assert f"{crt}: revoked" in p.stdout, p.stdout + p.stderr
    before = cert_count(server)
    status, _, body = curl(server, urls(server)[0] + "/simplereenroll", "--cert", crt, "--key", k,
                           data=base64.b64encode(csr_der("rev.example.com")[0]))
    assert status == 401 and b"revoked" in body, body
    # A certificate the endpoint's CAs did not issue (self-signed here).
    other = new_key()
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "rev.example.com")])
    import datetime
    now = datetime.datetime.now(datetime.timezone.utc)
    from cryptography.hazmat.primitives import hashes
    selfsigned = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                  .public_key(other.public_key()).serial_number(cert.serial_number)
                  .not_valid_before(now - datetime.timedelta(minutes=5))
                  .not_valid_after(now + datetime.timedelta(days=1)).sign(other, hashes.SHA256()))
    crt2, k2 = pem_files(server, "foreign", selfsigned, other)
    status, _, body = curl(server, urls(server)[0] + "/simplereenroll", "--cert", crt2, "--key",
                           k2, data=base64.b64encode(csr_der("rev.example.com", key=other)[0]))
    assert status == 401 and b"trusts" in body, body
    assert cert_count(server) == before


def multipart_parts(headers, body):
    """The parts of a multipart/mixed answer: [(content type, bytes)]."""
    import email
    msg = email.message_from_bytes(b"Content-Type: " + headers["content-type"].encode() +
                                   b"\r\n\r\n" + body)
    assert msg.is_multipart(), headers
    return [(part.get_content_type(), part.get_payload(decode=False).strip().encode())
            for part in msg.get_payload()]


def test_serverkeygen_key_made_by_the_signer_with_its_certificate(server):
    user, secret = credential(server)
    der, _ = csr_der("keygen.example.com")
    before = cert_count(server)
    status, h, body = curl(server, urls(server)[1] + "/serverkeygen", "--user",
                           f"{user}:{secret}", data=base64.b64encode(der))
    assert status == 200, body
    assert h["content-type"].startswith("multipart/mixed; boundary="), h
    assert "content-transfer-encoding" not in h and h["cache-control"] == "no-store"
    parts = multipart_parts(h, body)
    assert [t for t, _ in parts] == ["application/pkcs8", "application/pkcs7-mime"], parts
    key_der = base64.b64decode(parts[0][1])
    # openssl reads it as an unencrypted PKCS#8 PrivateKeyInfo.
    p = subprocess.run(["openssl", "pkey", "-inform", "DER", "-noout", "-text"], input=key_der,
                       capture_output=True, timeout=30)
    assert p.returncode == 0 and b"Private-Key" in p.stdout, p.stderr
    key = serialization.load_der_private_key(key_der, None)
    (cert,) = certs_of(parts[1][1])
    assert_issued_as_rest(server, cert, "keygen.example.com")
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert cert_count(server) == before + 1
    assert any(e["action"] == "cert.keygen" and e["actor"] == f"est:dev/{user}"
               for e in server.audit())
    # The key of the CSR is not the certificate's.
    assert cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo) != \
        x509.load_der_x509_csr(der).public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    # Wrong credentials: nothing is made.
    status, _, _ = curl(server, urls(server)[1] + "/serverkeygen", "--user", f"{user}:x",
                        data=base64.b64encode(der))
    assert status == 401 and cert_count(server) == before + 1


# ---- approvals -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def officer_token(server):
    """An RA officer who did not make the credentials (their maker may not approve)."""
    p = server.api("POST", "/principals", {"name": "est-officer", "kind": "user"}, expect=201)
    server.api("POST", "/roles/bind", {"principal": p["id"], "role": "ra-officer"}, expect=201)
    return own_token(server, p["id"], "est-officer")


@pytest.fixture
def officer(server, officer_token):
    """The officer's token while tls-server issuance needs one approval."""
    server.api("PUT", "/workflows/profile:tls-server", {"required": 1, "expires_hours": 24})
    yield officer_token
    server.api("DELETE", "/workflows/profile:tls-server", expect=204)


def pending_request(server, actor):
    reqs = server.api("GET", "/requests?status=pending")["requests"]
    mine = [r for r in reqs if r["requester"] == actor]
    assert len(mine) == 1, reqs
    return mine[0]["id"]


def test_curl_enrollment_under_approval_is_collected_once_approved(server, officer):
    user, secret = credential(server, reusable=False)
    url = urls(server)[0] + "/simpleenroll"
    key = new_key()
    der, _ = csr_der("held.example.com", key=key)
    status, h, _ = curl(server, url, "--user", f"{user}:{secret}", data=base64.b64encode(der))
    assert status == 202 and int(h["retry-after"]) == 60, h
    rid = pending_request(server, f"est:dev/{user}")
    # The repeat (the same key, a CSR made again) is still pending: one request, no certificate.
    again, _ = csr_der("held.example.com", key=key)
    status, h, _ = curl(server, url, "--user", f"{user}:{secret}", data=base64.b64encode(again))
    assert status == 202 and "retry-after" in h
    assert pending_request(server, f"est:dev/{user}") == rid
    # The credential's maker (the admin) may not approve what its credential asked for.
    server.api("POST", f"/requests/{rid}/approve", {}, expect=403)
    server.api("POST", f"/requests/{rid}/approve", {}, token=officer)
    status, _, body = curl(server, url, "--user", f"{user}:{secret}", data=base64.b64encode(again))
    assert status == 200, body
    (cert,) = certs_of(body)
    assert_issued_as_rest(server, cert, "held.example.com")
    # serverkeygen is never held for approval (the request would have to keep the key).
    user2, secret2 = credential(server)
    status, _, body3 = curl(server, urls(server)[0] + "/serverkeygen", "--user",
                            f"{user2}:{secret2}", data=base64.b64encode(again))
    assert status == 400 and b"approval" in body3, body3
    # Asked again, the same certificate (not a second one).
    status, _, body2 = curl(server, url, "--user", f"{user}:{secret}", data=base64.b64encode(der))
    assert status == 200 and certs_of(body2)[0].serial_number == cert.serial_number


# ---- strongSwan pki ------------------------------------------------------------------------


def pki(*args, check=True):
    p = subprocess.run(["pki", *args], capture_output=True, text=True, timeout=120)
    err = "\n".join(l for l in p.stderr.splitlines() if not l.startswith(PKI_NOISE))
    if check:
        assert p.returncode == 0, err[-3000:]
    return p.returncode, p.stdout, err


def pki_csr(server, name, cn):
    key = os.path.join(server.dir_tmp, name + ".key")
    req = os.path.join(server.dir_tmp, name + ".csr")
    with open(key, "w") as f:
        f.write(pki("--gen", "--type", "ecdsa", "--size", "256", "--outform", "pem")[1])
    with open(req, "w") as f:
        f.write(pki("--req", "--in", key, "--type", "ecdsa", "--dn", f"CN={cn}", "--san", cn,
                    "--outform", "pem")[1])
    return key, req


def pki_trust(server):
    return ["--cacert", server.cacert, "--cacert", server.root_pem, "--cacert",
            server.issuing_pem]


def test_pki_estca_enroll_renew_and_wrong_password(server):
    user, secret = credential(server)
    prefix = pki_url(server)
    _, out, err = pki("--estca", "--url", prefix, *pki_trust(server), "--outform", "pem")
    assert "Vouch Demo Issuing CA" in err and "BEGIN CERTIFICATE" in out, err
    key, req = pki_csr(server, "pki1", "pki1.example.com")
    _, out, err = pki("--est", "--url", prefix, *pki_trust(server), "--in", req, "--userpass",
                      f"{user}:{secret}", "--outform", "pem")
    cert = x509.load_pem_x509_certificate(out.encode())
    serial = assert_issued_as_rest(server, cert, "pki1.example.com")
    crt = write(os.path.join(server.dir_tmp, "pki1.crt"), out)
    # Renewal: pki authenticates with the old certificate and key in TLS.
    key2, req2 = pki_csr(server, "pki2", "pki1.example.com")
    _, out, err = pki("--est", "--url", prefix, *pki_trust(server), "--in", req2, "--cert", crt,
                      "--key", key, "--outform", "pem")
    renewed = x509.load_pem_x509_certificate(out.encode())
    assert server.api("GET", f"/certificates/{assert_issued_as_rest(server, renewed, 'pki1.example.com')}")["renewed_from"] == serial
    # A wrong password: pki fails, nothing is issued.
    before = cert_count(server)
    rc, out, err = pki("--est", "--url", prefix, *pki_trust(server), "--in", req, "--userpass",
                       f"{user}:nope", "--outform", "pem", check=False)
    assert rc != 0 and "401" in err, err[-500:]
    assert cert_count(server) == before


def test_pki_enrollment_under_approval_completes_after_approval(server, officer):
    user, secret = credential(server, reusable=False)
    key, req = pki_csr(server, "pkiheld", "pkiheld.example.com")
    server.api("PUT", "/enroll/endpoints/dev", {"retry_after": 1})
    result = {}

    # pki (5.9.8) loses its URL's path when it polls (est_tls_init cuts the URL it is given in
    # place), so a client that polls is given the server alone: est_default_endpoint's.
    def enroll():
        result["out"] = pki("--est", "--url", server.url, *pki_trust(server), "--in", req,
                            "--userpass", f"{user}:{secret}", "--interval", "1", "--maxpolltime",
                            "60", "--outform", "pem", check=False)
    t = threading.Thread(target=enroll)
    t.start()
    try:
        rid = wait_for(lambda: [r["id"] for r in server.api("GET", "/requests?status=pending")
                                ["requests"] if r["requester"] == f"est:dev/{user}"],
                       what="the pending request")[0]
        server.api("POST", f"/requests/{rid}/approve", {}, token=officer)
        t.join(90)
    finally:
        server.api("PUT", "/enroll/endpoints/dev", {"retry_after": 60})
    assert not t.is_alive()
    rc, out, err = result["out"]
    assert rc == 0, err[-2000:]
    assert_issued_as_rest(server, x509.load_pem_x509_certificate(out.encode()),
                          "pkiheld.example.com")


def test_enrollments_count_against_the_tenants_quota(server):
    """EST issuance is counted as any other: over certs_per_hour it is 503 with Retry-After
    (RFC 7030 4.2.3: busy), and nothing is issued."""
    user, secret = credential(server)
    issued = cert_count(server)
    r = server.request("PUT", "/api/v1/tenants/default/limits", {"certs_per_hour": 1},
                       token="system")
    assert r.status == 200, r.body
    try:
        before = cert_count(server)
        der, _ = csr_der("quota.example.com")
        status, h, body = curl(server, urls(server)[0] + "/simpleenroll", "--user",
                               f"{user}:{secret}", data=base64.b64encode(der))
        assert status == 503 and "retry-after" in h, (status, body)
        assert cert_count(server) == before
    finally:
        r = server.request("PUT", "/api/v1/tenants/default/limits", {"certs_per_hour": 0},
                           token="system")
        assert r.status == 200, r.body
    assert issued > 1  # the hour's count was over the limit of 1 already


def test_a_credential_guessed_at_is_locked_for_a_minute(server):
    """Five wrong passwords for one credential within a minute: it is refused, the right
    password too, without argon2id runs, while another credential still enrolls."""
    user, secret = credential(server)
    other, other_secret = credential(server)
    url = urls(server)[0] + "/simpleenroll"
    der, _ = csr_der("locked.example.com")
    for i in range(5):
        status, _, _ = curl(server, url, "--user", f"{user}:wrong{i}", data=base64.b64encode(der))
        assert status == 401
    status, _, _ = curl(server, url, "--user", f"{user}:{secret}", data=base64.b64encode(der))
    assert status == 401
    status, _, _ = curl(server, url, "--user", f"{other}:{other_secret}",
                        data=base64.b64encode(der))
    assert status == 200
