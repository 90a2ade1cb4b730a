"""Tenant isolation: another tenant's token reaches nothing of this tenant."""
import pytest

from conftest import make_csr, other_tenant, run, write

# Every tenant route of docs/api.md, with A's objects in the path.
ROUTES = [
    ("GET", "/cas"), ("POST", "/cas"), ("POST", "/cas/import"), ("GET", "/cas/{ca}"),
    ("GET", "/cas/{ca}/csr"), ("POST", "/cas/{ca}/certificate"), ("POST", "/cas/{ca}/disable"),
    ("POST", "/cas/{ca}/crl"), ("GET", "/cas/{ca}/crl"),
    ("GET", "/profiles"), ("POST", "/profiles"), ("GET", "/profiles/tls-server"),
    ("PUT", "/profiles/tls-server"), ("POST", "/profiles/tls-server/clone"),
    ("POST", "/certificates"), ("POST", "/certificates/keygen"), ("GET", "/certificates"),
    ("GET", "/certificates/expiring"), ("GET", "/certificates/{serial}"),
    ("POST", "/certificates/{serial}/revoke"), ("POST", "/certificates/{serial}/suspend"),
    ("POST", "/certificates/{serial}/reinstate"), ("POST", "/certificates/{serial}/renew"),
    ("POST", "/entities"), ("GET", "/entities"), ("GET", "/entities/{entity}"),
    ("PUT", "/entities/{entity}"),
    ("GET", "/audit"), ("GET", "/audit/verify"), ("GET", "/audit/export"),
    ("GET", "/audit/checkpoints"), ("POST", "/audit/checkpoints"),
    ("GET", "/audit/forwarding"), ("PUT", "/audit/forwarding"), ("DELETE", "/audit/forwarding"),
    ("POST", "/tokens"), ("GET", "/tokens"), ("DELETE", "/tokens/{token}"),
    ("GET", "/keys"), ("POST", "/keys"), ("DELETE", "/keys/{key}"),
]


@pytest.fixture(scope="module")
def objects(server):
    csr, _ = make_csr(cn="iso.example", dns=["iso.example"])
    cert = server.api("POST", "/certificates", {"ca": "issuing", "profile": "tls-server",
                                                "csr": csr}, expect=201)
    ent = server.api("POST", "/entities", {"name": "iso-device", "kind": "device"}, expect=201)
    tok = server.api("POST", "/tokens", {"name": "iso"}, expect=201)
    key = server.api("POST", "/keys", {}, expect=201)
    return {"ca": "issuing", "serial": cert["serial"], "entity": ent["id"], "token": tok["id"],
            "key": key["key_id"]}


@pytest.mark.parametrize("method,path", ROUTES)
def test_another_tenants_admin_is_refused_on_every_route(server, objects, method, path):
    intruder = other_tenant(server, "intruder")
    before = len(server.audit())
    url = "/api/v1/t/default" + path.format(**objects)
    body = {"name": "x", "csr": "x", "ca": "issuing", "profile": "tls-server",
            "document": {}} if method in ("POST", "PUT") else None
    r = server.request(method, url, body, token=intruder)
    assert r.status == 403, (method, path, r.status, r.body[:200])
    text = r.body.decode()
    for secret in (objects["serial"], objects["entity"], objects["token"], "Vouch Demo"):
        assert secret not in text
    after = server.audit()
    assert len(after) == before + 1
    assert after[-1]["action"] == "auth.refused" and after[-1]["result"] == "refused"
    # Nothing of A changed.
    assert server.api("GET", f"/certificates/{objects['serial']}")["status"] == "good"
    assert objects["key"] in [k["key_id"] for k in server.api("GET", "/keys")["keys"]]


def test_the_system_administrator_reads_no_tenant_data(server, objects):
    """Every tenant read by the system administrator: 403 "forbidden", and the answer holds
    nothing of the tenant: no object id, no CA name or subject, no certificate."""
    secrets = (objects["serial"], objects["entity"], objects["token"], objects["key"],
               "Vouch Demo", "iso.example", "issuing", "BEGIN CERTIFICATE")
    for method, path in ROUTES:
        if method != "GET":
            continue
        r = server.request(method, "/api/v1/t/default" + path.format(**objects), token="system")
        assert r.status == 403, (path, r.status)
        assert r.json()["error"] == "forbidden", (path, r.body[:300])
        text = r.body.decode()
        for secret in secrets:
            assert secret not in text, (path, secret, text[:300])


# The routes that name a certificate by serial, with the body each needs to get past parsing.
SERIAL_ROUTES = [
    ("GET", "/certificates/{serial}", None),
    ("POST", "/certificates/{serial}/revoke", {"reason": "keyCompromise"}),
    ("POST", "/certificates/{serial}/suspend", {}),
    ("POST", "/certificates/{serial}/reinstate", {}),
    ("POST", "/certificates/{serial}/renew", {}),
    ("GET", "/certificates/{serial}/renewal-window", None),
    ("PUT", "/certificates/{serial}/renewal-window",
     {"start": "2030-01-01T00:00:00Z", "end": "2030-01-02T00:00:00Z"}),
]


def certificate_state(server, tenant, token, serial):
    """What can change of a certificate: its record and its tenant's certificate rows."""
    r = server.request("GET", f"/api/v1/t/{tenant}/certificates/{serial}", token=token)
    assert r.status == 200, r.body
    return r.json(), server.sql("SELECT serial, status, revoked_at, reason FROM certs "
                                "WHERE tenant = ? ORDER BY serial", (tenant,))


def test_a_tenants_own_path_with_another_tenants_serial_finds_nothing(server, tmp_path):
    """Tenant A's admin, on A's own routes (where it may do everything), with a serial that
    exists only in tenant B: every route answers 404 as for a serial that does not exist,
    names nothing of B, and B's certificate stays as it was.  A's OCSP responder, asked about
    B's serial under A's CA, answers "unknown" (as openssl reads it)."""
    b_token = other_tenant(server, "serial-owner")
    for ca in ({"name": "root", "subject": "/CN=Serial Owner Root"},
               {"name": "issuing", "parent": "root", "subject": "/CN=Serial Owner Issuing"}):
        server.api("POST", "/cas", ca, tenant="serial-owner", token=b_token, expect=201)
    csr, _ = make_csr(cn="b-only.example", dns=["b-only.example"])
    b_cert = server.api("POST", "/certificates", {"ca": "issuing", "profile": "tls-server",
                                                  "csr": csr},
                        tenant="serial-owner", token=b_token, expect=201)
    serial = b_cert["serial"]
    before = certificate_state(server, "serial-owner", b_token, serial)
    a_certs = server.sql("SELECT count(*) FROM certs WHERE tenant = 'default'")
    for method, path, body in SERIAL_ROUTES:
        r = server.request(method, "/api/v1/t/default" + path.format(serial=serial), body)
        assert r.status == 404, (method, path, r.status, r.body[:300])
        missing = server.request(method, "/api/v1/t/default" + path.format(serial="ab" * 16),
                                 body)
        assert (missing.status, missing.json()["error"]) == (404, r.json()["error"]), \
            (method, path, missing.body[:300], r.body[:300])
        text = r.body.decode()
        for secret in ("b-only.example", "Serial Owner", "serial-owner"):
            assert secret not in text, (method, path, secret, text[:300])
    assert certificate_state(server, "serial-owner", b_token, serial) == before
    assert server.sql("SELECT count(*) FROM certs WHERE tenant = 'default'") == a_certs
    # A's list and search do not show it either.
    assert server.api("GET", f"/certificates?serial={serial}")["certificates"] == []
    assert server.api("GET", "/certificates?san=b-only.example")["certificates"] == []

    # OCSP, read by openssl: A's responder for A's issuing CA, asked about B's serial.
    issuing = server.api("GET", "/cas/issuing")
    a_issuing = write(tmp_path / "a-issuing.pem", issuing["certificate"])
    a_chain = write(tmp_path / "a-chain.pem", issuing["certificate"] + issuing["chain"])
    p = run("openssl", "ocsp", "-issuer", a_issuing, "-serial", "0x" + serial, "-url",
            f"{server.public_url}/ocsp/default/issuing", "-CAfile", a_chain, check=False)
    assert "Response verify OK" in p.stderr, p.stdout + p.stderr
    assert f"0x{serial}: unknown" in p.stdout, p.stdout
