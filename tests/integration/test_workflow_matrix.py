"""The workflow matrix (issue 23): for each kind of operation a workflow gates, every route that
reaches its effect waits for approval (202) or, when the operation cannot wait in a request, is
refused (409); none does it at once.  The routes are read from `vouchd --routes`, so a route
added later that reaches a gated effect without a line here fails the test.

(ACME finalization under a profile's workflow answers `processing`: test_acme.py; the CLI under
workflows: test_cli_pending.py; an offline root's first bundle under ca.create: test_offline.py.)
"""
import json
import subprocess

from cryptography.hazmat.primitives import serialization

from conftest import VOUCHD, make_csr, new_key

T = "/api/v1/t/default"

# Every route that issues (permission cert.issue), revokes or suspends (cert.revoke), makes a CA
# (ca.write) or binds a role (principal.write), with what it must answer under the workflow named,
# or None when it reaches none of the gated effects (and why).
MATRIX = {
    ("POST", "/certificates"): ("profile:tls-server", 202),
    ("POST", "/certificates/keygen"): ("profile:tls-server", 409),  # the password cannot wait
    ("POST", "/certificates/{serial}/renew"): ("profile:tls-server", 202),
    ("POST", "/certificates/{serial}/revoke"): ("cert.revoke", 202),
    ("POST", "/certificates/{serial}/suspend"): ("cert.suspend", 202),
    ("POST", "/certificates/{serial}/reinstate"): None,  # lifts a hold: not gated (docs/api.md)
    ("POST", "/cas"): ("ca.create", 202),
    ("POST", "/cas/import"): ("ca.create", 409),  # the key cannot wait
    ("POST", "/cas/{ca}/certificate"): None,  # installs an approved external CA's certificate
    ("POST", "/cas/{ca}/disable"): None,  # stops a CA
    ("POST", "/cas/{ca}/offline-request"): None,  # a file for the offline CA
    ("POST", "/offline/import"): ("ca.create", None),  # a new root: test_offline.py
    ("POST", "/keys"): None,  # a key is no CA until one is made with it, which waits
    ("DELETE", "/keys/{key}"): None,
    ("POST", "/roles/bind"): ("role.bind", 202),
    ("POST", "/roles/unbind"): None,  # takes a role away: never waits
    ("POST", "/principals"): None,  # a principal without roles can do nothing
    ("POST", "/principals/{principal}/disable"): None,
    ("POST", "/principals/{principal}/enable"): None,
    ("POST", "/client-cas"): None,
    ("DELETE", "/client-cas/{client_ca}"): None,
}


def gated_routes():
    routes = json.loads(subprocess.run([VOUCHD, "--routes"], capture_output=True, text=True,
                                       check=True).stdout)["routes"]
    return {(r["method"], r["path"][len("/api/v1/t/{tenant}"):]) for r in routes
            if r["permission"] in ("cert.issue", "cert.revoke", "ca.write", "principal.write")
            and r["method"] != "GET"}


def body_for(route, server):
    """The body of a call to route that would do its operation."""
    path = route[1]
    if path == "/certificates":
        csr, _ = make_csr(cn="gated.example", dns=["gated.example"])
        return {"ca": "issuing", "profile": "tls-server", "csr": csr}
    if path == "/certificates/keygen":
        return {"ca": "issuing", "profile": "tls-server", "subject": "/CN=gated.example",
                "sans": ["dns:gated.example"], "password": "correct horse battery"}
    if path == "/certificates/{serial}/revoke":
        return {"reason": "superseded"}
    if path == "/cas":
        return {"name": "gated-root", "subject": "/CN=Gated Root"}
    if path == "/cas/import":
        key = new_key("ec-p256")
        return {"name": "gated-import", "certificate": self_signed(key),
                "key": key.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()).decode()}
    if path == "/roles/bind":
        p = server.api("POST", "/principals", {"name": "matrix-officer", "kind": "user"},
                       expect=201)
        return {"principal": p["id"], "role": "ra-officer"}
    return {}


def self_signed(key):
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Gated Import")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_every_route_to_a_gated_effect_waits_or_is_refused(server):
    assert gated_routes() == set(MATRIX), "a route reaches a gated effect without a matrix line"
    csr, _ = make_csr(cn="held.example", dns=["held.example"])
    serial = server.api("POST", "/certificates", {"ca": "issuing", "profile": "tls-server",
                                                  "csr": csr}, expect=201)["serial"]

    def state():
        """Certificates, CAs, CA keys (not the OCSP responders', renewed by vouch itself) and
        role bindings."""
        return ([c for c in server.api("GET", "/certificates?limit=1000")["certificates"]
                 if c["profile"] != "ocsp-signing"],
                server.api("GET", "/cas")["cas"],
                [k for k in server.api("GET", "/keys")["keys"] if k["ca"] is not None],
                server.api("GET", "/roles")["bindings"])

    for route, expected in sorted(MATRIX.items(), key=str):
        if expected is None or expected[1] is None:
            continue
        workflow, status = expected
        server.api("PUT", f"/workflows/{workflow}", {"required": 1})
        try:
            before = state()
            pending = len(server.api("GET", "/requests?status=pending")["requests"])
            path = T + route[1].replace("{serial}", serial)
            r = server.request(route[0], path, body_for(route, server))
            assert r.status == status, (route, r.status, r.body[:300])
            if status == 202:
                assert r.json()["status"] == "pending", (route, r.body)
                assert len(server.api("GET", "/requests?status=pending")["requests"]) == \
                    pending + 1
            else:
                assert "needs approval" in r.json()["detail"], (route, r.body)
            assert state() == before, route  # nothing done yet
        finally:
            server.api("DELETE", f"/workflows/{workflow}", expect=204)
