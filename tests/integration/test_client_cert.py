"""TLS client-certificate authentication (issue 5, point 2): the API listener asks for (does not
require) a client certificate; a tenant trusts the issuers it names (one of its CAs, or an
uploaded CA certificate); a certificate maps to a principal by issuer and subject or by its
SHA-256 fingerprint.  An unknown issuer, an expired or revoked certificate, or one that maps to
no principal is refused with 401 and an audit event."""
import datetime
import json
import ssl
import urllib.error
import urllib.request

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from conftest import Server, make_csr, new_key, refusals_audited, refused_total, write

T = "/api/v1/t/cc"


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("vouch-cc")), tls=True)
    r = s.request("POST", "/api/v1/tenants", {"name": "cc"}, token="system")
    assert r.status == 201
    admin = s.request("POST", "/api/v1/tenants/cc/tokens", {"name": "boot"},
                      token="system").json()["token"]
    s.api("POST", "/cas", {"name": "cc-root", "subject": "/CN=CC Root"}, expect=201,
          tenant="cc", token=admin)
    s.api("POST", "/cas", {"name": "cc-ca", "subject": "/CN=CC Clients", "parent": "cc-root"},
          expect=201, tenant="cc", token=admin)
    # The tenant's own CA trusted for client certificates (each test below relies on this only,
    # never on what another test made).
    s.api("POST", "/client-cas", {"name": "own", "ca": "cc-ca"}, expect=201, tenant="cc",
          token=admin)
    s.cc_admin = admin
    yield s
    s.stop()


def issue_client(server, cn):
    """A client certificate of the tenant's CA cc-ca: (PEM, key PEM, record)."""
    csr, key = make_csr(cn=cn)
    rec = server.api("POST", "/certificates", {"ca": "cc-ca", "profile": "tls-client", "csr": csr},
                     expect=201, tenant="cc", token=server.cc_admin)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return rec["certificate"], key_pem, rec


def outside_ca(cn="Outside CA"):
    key = new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


def leaf(ca, ca_key, cn, days=(-1, 30)):
    key = new_key()
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + datetime.timedelta(days=days[0]))
            .not_valid_after(now + datetime.timedelta(days=days[1]))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return pem, key_pem, cert


def call(server, tmp_path, cert_pem, key_pem, method="GET", path=T + "/audit", body=None):
    """A request with a client certificate and no token, by Python's ssl (OpenSSL)."""
    cf, kf = tmp_path / "c.pem", tmp_path / "k.pem"
    write(cf, cert_pem)
    write(kf, key_pem)
    ctx = ssl.create_default_context(cafile=server.cacert)
    ctx.load_cert_chain(str(cf), str(kf))
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server.url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=30, context=ctx) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def refusals(server, expected=None):
    """The number of refusals the tenant cc's audit chain records (at least expected, if it
    comes to that within seconds; None: all of the earlier ones; see refusals_audited)."""
    return refused_total(refusals_audited(server, "cc", server.cc_admin, expected))


def test_certificate_of_a_tenant_ca_maps_by_issuer_and_subject(tls_server, tmp_path):
    s = tls_server
    cert, key, rec = issue_client(s, "alice")
    p = s.api("POST", "/principals", {"name": "alice", "kind": "user",
                                      "client_cert": {"issuer": "CN=CC Clients",
                                                      "subject": "CN=alice"}},
              expect=201, tenant="cc", token=s.cc_admin)
    s.api("POST", "/roles/bind", {"principal": p["id"], "role": "auditor"}, expect=201,
          tenant="cc", token=s.cc_admin)
    status, body = call(s, tmp_path, cert, key)
    assert status == 200, body
    status, _ = call(s, tmp_path, cert, key, "POST", T + "/keys", {})
    assert status == 403  # an auditor
    status, _ = call(s, tmp_path, cert, key, "GET", "/api/v1/t/default/cas")
    assert status in (401, 403)  # default trusts no issuer: nothing of another tenant
    # Revoked: refused at once.
    s.api("POST", f"/certificates/{rec['serial']}/revoke", {"reason": "keyCompromise"},
          tenant="cc", token=s.cc_admin)
    seen = refusals(s)
    status, body = call(s, tmp_path, cert, key)
    assert status == 401 and b"revoked" in body
    assert refusals(s, seen + 1) == seen + 1


def test_uploaded_ca_and_fingerprint_mapping(tls_server, tmp_path):
    s = tls_server
    ca, ca_key = outside_ca("Partner CA")
    s.api("POST", "/client-cas", {"name": "partner", "certificate": ca.public_bytes(
        serialization.Encoding.PEM).decode()}, expect=201, tenant="cc", token=s.cc_admin)
    listed = s.api("GET", "/client-cas", tenant="cc", token=s.cc_admin)["client_cas"]
    assert {c["name"] for c in listed} >= {"own", "partner"}
    pem, key, cert = leaf(ca, ca_key, "robot")
    fp = cert.fingerprint(hashes.SHA256()).hex()
    p = s.api("POST", "/principals", {"name": "robot", "kind": "application",
                                      "client_cert": {"sha256": fp}},
              expect=201, tenant="cc", token=s.cc_admin)
    s.api("POST", "/roles/bind", {"principal": p["id"], "role": "ca-operator"}, expect=201,
          tenant="cc", token=s.cc_admin)
    status, body = call(s, tmp_path, pem, key, "POST", T + "/keys", {})
    assert status == 201, body
    # Another certificate with the same subject but another key: no principal.
    pem2, key2, _ = leaf(ca, ca_key, "robot")
    status, body = call(s, tmp_path, pem2, key2, "GET", T + "/cas")
    assert status == 401 and b"no principal" in body


def test_unknown_issuer_and_expired_certificates_are_refused_and_audited(tls_server, tmp_path):
    s = tls_server
    # Keys generated on request: what the refused POST /keys would have made (vouchd renews
    # OCSP responder keys by itself meanwhile, so the key list itself may change).
    generated = lambda: len([e for e in s.audit("cc", token=s.cc_admin)
                             if e["action"] == "key.generate" and e["actor"] != "system"])
    before = generated()
    # carol is a principal of the tenant's own CA; a certificate with her name from another
    # issuer is not hers.
    p = s.api("POST", "/principals", {"name": "carol", "kind": "user",
                                      "client_cert": {"issuer": "CN=CC Clients",
                                                      "subject": "CN=carol"}},
              expect=201, tenant="cc", token=s.cc_admin)
    s.api("POST", "/roles/bind", {"principal": p["id"], "role": "tenant-admin"}, expect=201,
          tenant="cc", token=s.cc_admin)
    stranger, skey = outside_ca("Stranger CA")
    pem, key, _ = leaf(stranger, skey, "carol")  # carol's name, another issuer
    seen = refusals(s)
    status, body = call(s, tmp_path, pem, key, "POST", T + "/keys", {})
    assert status == 401 and json.loads(body)["error"] == "unauthorized"
    ca, ca_key = outside_ca("Partner CA 2")
    s.api("POST", "/client-cas", {"name": "partner2", "certificate": ca.public_bytes(
        serialization.Encoding.PEM).decode()}, expect=201, tenant="cc", token=s.cc_admin)
    pem, key, cert = leaf(ca, ca_key, "old", days=(-30, -1))
    s.api("POST", "/principals", {"name": "old", "kind": "user", "client_cert": {
        "sha256": cert.fingerprint(hashes.SHA256()).hex()}}, expect=201, tenant="cc",
          token=s.cc_admin)
    status, body = call(s, tmp_path, pem, key, "POST", T + "/keys", {})
    assert status == 401 and b"expired" in body
    assert refusals(s, seen + 2) == seen + 2
    assert generated() == before


def test_tokens_still_work_over_tls_without_a_client_certificate(tls_server):
    r = tls_server.request("GET", T + "/cas", token=tls_server.cc_admin)
    assert r.status == 200


def test_bad_client_ca_and_mapping_input(tls_server):
    s = tls_server
    for body, status in (({"name": "x"}, 400),
                         ({"name": "x", "ca": "nope"}, 404),
                         ({"name": "x", "ca": "cc-ca", "certificate": "x"}, 400),
                         ({"name": "x", "certificate": "not pem"}, 400),
                         ({"name": "own", "ca": "cc-ca"}, 409)):
        r = s.request("POST", T + "/client-cas", body, token=s.cc_admin)
        assert r.status == status, (body, r.status, r.body)
    _, _, leafc = leaf(*outside_ca(), "not-a-ca")
    r = s.request("POST", T + "/client-cas", {"name": "leafy", "certificate": leafc.public_bytes(
        serialization.Encoding.PEM).decode()}, token=s.cc_admin)
    assert r.status == 422
    for m in ({"issuer": "CN=x"}, {"sha256": "xyz"}, {"sha256": "a" * 64, "subject": "CN=y"}):
        r = s.request("POST", T + "/principals", {"name": "m", "kind": "user", "client_cert": m},
                      token=s.cc_admin)
        assert r.status == 400, m
    doomed, _ = outside_ca("Doomed CA")
    s.api("POST", "/client-cas", {"name": "doomed", "certificate": doomed.public_bytes(
        serialization.Encoding.PEM).decode()}, expect=201, tenant="cc", token=s.cc_admin)
    assert s.request("DELETE", T + "/client-cas/doomed", token=s.cc_admin).status == 204
    assert s.request("DELETE", T + "/client-cas/doomed", token=s.cc_admin).status == 404
    names = {c["name"] for c in s.api("GET", "/client-cas", tenant="cc",
                                      token=s.cc_admin)["client_cas"]}
    assert "doomed" not in names and "own" in names
