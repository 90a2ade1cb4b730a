"""Tenant isolation: another tenant's token reaches nothing of this tenant."""
import pytest

from conftest import make_csr, other_tenant

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
