"""The isolation matrix, generated from vouchd's own route table (`vouchd --routes`).

Two tenants, A and B, each with CAs, a certificate, a profile, an entity, a key, a
time-stamping unit, a principal, a token and audit events.  Every route of the API listener
is called by every role of A (and by A's all-roles administrator, and by the system
administrator, who is bound to no role in B) with B's tenant in the path and B's object ids
in its parameters: each answer is 403 or 404 with nothing of B in it, and B is unchanged apart
from the refusal events in its audit chain.

Path parameters are filled from FILL, keyed by parameter name: a route with a parameter FILL
does not know fails the test, so a new route is covered (or noticed) without anyone
remembering.  The positive matrix checks, inside A, what each role may and may not do.
"""
import json
import subprocess
import time

import pytest

from conftest import VOUCHD, make_csr, wait_for

ROLES = ["tenant-admin", "ca-operator", "ra-officer", "requester", "auditor"]


def routes():
    out = subprocess.run([VOUCHD, "--routes"], capture_output=True, text=True, check=True,
                         timeout=30)
    return json.loads(out.stdout)["routes"]


def make_tenant(server, name):
    r = server.request("POST", "/api/v1/tenants", {"name": name}, token="system")
    assert r.status == 201, r.body
    r = server.request("POST", f"/api/v1/tenants/{name}/tokens", {"name": "boot"},
                       token="system")
    assert r.status == 201, r.body
    return r.json()["token"]


def populate(server, t, tok, tag):
    """Objects of every kind a route names, in tenant t; returns {parameter name: value}."""
    api = lambda m, p, b=None, expect=200: server.api(m, p, b, expect=expect, tenant=t, token=tok)
    api("POST", "/cas", {"name": f"{tag}-root", "subject": f"/O={tag.upper()} Secret Org/CN={tag}"
                         " Root", "key_type": "ec-p256"}, 201)
    api("POST", "/cas", {"name": f"{tag}-issuing", "subject": f"/CN={tag} Issuing",
                         "parent": f"{tag}-root", "key_type": "ec-p256"}, 201)
    csr, _ = make_csr(cn=f"{tag}-host.example", dns=[f"{tag}-host.example"])
    cert = api("POST", "/certificates", {"ca": f"{tag}-issuing", "profile": "tls-server",
                                         "csr": csr}, 201)
    api("POST", "/profiles/tls-server/clone", {"name": f"{tag}-web"}, 201)
    ent = api("POST", "/entities", {"name": f"{tag}-device", "kind": "device"}, 201)
    key = api("POST", "/keys", {}, 201)
    unit = api("POST", "/tsa", {"name": f"{tag}-tsa", "ca": f"{tag}-issuing",
                                "policy": "1.3.6.1.4.1.99999.1"}, 201)
    prn = api("POST", "/principals", {"name": f"{tag}-robot", "kind": "application"}, 201)
    token = api("POST", "/tokens", {"name": f"{tag}-robot-token", "principal": prn["id"]}, 201)
    api("POST", f"/cas/{tag}-issuing/crl", {}, 201)
    api("POST", "/client-cas", {"name": f"{tag}-clients", "ca": f"{tag}-issuing"}, 201)
    # An approval workflow on the cloned profile, and a request waiting for it.
    api("PUT", f"/workflows/profile:{tag}-web", {"required": 1})
    csr, _ = make_csr(cn=f"{tag}-pending.example", dns=[f"{tag}-pending.example"])
    req = api("POST", "/certificates", {"ca": f"{tag}-issuing", "profile": f"{tag}-web",
                                        "csr": csr}, 202)
    # An ACME endpoint with an External Account Binding credential.
    api("POST", "/acme/endpoints", {"name": f"{tag}-acme", "ca": f"{tag}-issuing",
                                    "caa_identities": [f"{tag}.example"]}, 201)
    eab = api("POST", f"/acme/endpoints/{tag}-acme/eab", {"kid": f"{tag}-kid"}, 201)
    # An EST endpoint (of the same name: {endpoint} fills both) with an enrollment credential.
    api("POST", "/enroll/endpoints", {"name": f"{tag}-acme", "ca": f"{tag}-issuing",
                                      "profile": "tls-server"}, 201)
    cred = api("POST", f"/enroll/endpoints/{tag}-acme/credentials", {"id": f"{tag}-cred"}, 201)
    return {"tenant": t, "request": req["id"], "workflow": f"profile:{tag}-web", "ca": f"{tag}-issuing", "serial": cert["serial"],
            "profile": f"{tag}-web", "entity": ent["id"], "key": key["key_id"],
            "unit": unit["name"], "principal": prn["id"], "token": token["id"],
            "client_ca": f"{tag}-clients", "endpoint": f"{tag}-acme", "kid": eab["kid"],
            "_subject": cert["subject"], "_token_secret": token["token"],
            "_hmac_key": eab["hmac_key"], "report": "certificates", "credential": cred["id"],
            "reference": f"{tag}-cmp-ref",
            "_est_secret": cred["secret"]}


@pytest.fixture(scope="module")
def world(server):
    tok_a = make_tenant(server, "mx-a")
    tok_b = make_tenant(server, "mx-b")
    a = populate(server, "mx-a", tok_a, "alpha")
    b = populate(server, "mx-b", tok_b, "bravo")
    callers = {"a-admin (every role)": tok_a, "system administrator": server.system_token}
    for role in ROLES:
        p = server.api("POST", "/principals", {"name": f"mx-{role}", "kind": "user"},
                       expect=201, tenant="mx-a", token=tok_a)
        server.api("POST", "/roles/bind", {"principal": p["id"], "role": role}, expect=201,
                   tenant="mx-a", token=tok_a)
        callers[role] = server.api("POST", "/tokens", {"name": role, "principal": p["id"]},
                                   expect=201, tenant="mx-a", token=tok_a)["token"]
    return {"a": a, "b": b, "tok_a": tok_a, "tok_b": tok_b, "callers": callers}


# How to fill each path parameter with B's object: a key of populate()'s answer.
FILL = {"tenant": "tenant", "ca": "ca", "serial": "serial", "profile": "profile",
        "entity": "entity", "key": "key", "unit": "unit", "principal": "principal",
        "token": "token", "client_ca": "client_ca", "request": "request",
        "workflow": "workflow", "endpoint": "endpoint", "kid": "kid", "name": "report",
        "credential": "credential", "reference": "reference"}


def fill(path, objects):
    out = []
    for seg in path.split("/"):
        if seg.startswith("{") and seg.endswith("}"):
            name = seg[1:-1]
            assert name in FILL, f"route {path}: no filler for path parameter {{{name}}} -- add "\
                                 "one (an object of tenant B) to FILL"
            seg = objects[FILL[name]]
        out.append(seg)
    return "/".join(out)


def secrets_of(b):
    tag = b["ca"].split("-")[0]  # bravo, alpha
    return [b["serial"], b["ca"], f"{tag}-root", f"{tag.upper()} Secret Org", b["profile"],
            b["entity"], b["key"], b["unit"], b["principal"], b["token"], b["_subject"],
            b["client_ca"], b["request"], b["endpoint"], b["kid"], b["_hmac_key"],
            b["credential"], b["_est_secret"]]


def snapshot(server, b, tok):
    """What B holds, read by B's administrator: every list, and the audit chain without refusals."""
    def get(path):
        doc = server.api("GET", path, tenant=b["tenant"], token=tok)
        (items,) = [v for v in doc.values() if isinstance(v, list)]  # not a list's total
        return sorted(json.dumps(i, sort_keys=True) for i in items)
    audit = [e for e in server.audit(b["tenant"], token=tok) if e["result"] != "refused"]
    return {"cas": get("/cas"), "certs": get("/certificates"), "profiles": get("/profiles"),
            "entities": get("/entities"), "keys": get("/keys"), "tsa": get("/tsa"),
            "principals": get("/principals"), "tokens": get("/tokens"), "roles": get("/roles"),
            "client_cas": get("/client-cas"), "requests": get("/requests"),
            "workflows": get("/workflows"), "acme": get("/acme/endpoints"),
            "eab": get(f"/acme/endpoints/{b['endpoint']}/eab"),
            "enroll": get("/enroll/endpoints"),
            "enroll_credentials": get(f"/enroll/endpoints/{b['endpoint']}/credentials"),
            "audit": [(e["seq"], e["hash"]) for e in audit]}


def settled_snapshot(server, b, tok):
    """A snapshot once the background jobs (OCSP responder keys, CRLs, the audit checkpoint key
    made at the tenant's first checkpoint) have done the tenant's first work: the last
    checkpoint signs the head of the chain, and two snapshots taken further apart than the
    jobs' 1-second period are the same."""
    def head_checkpointed():
        cps = server.request("GET", f"/api/v1/t/{b['tenant']}/audit/checkpoints", token=tok)
        head = server.audit(b["tenant"], token=tok)[-1]["seq"]
        return cps.status == 200 and cps.json()["checkpoints"] and \
            cps.json()["checkpoints"][-1]["seq"] == head
    last = [None]

    def unchanged():
        now = snapshot(server, b, tok) if head_checkpointed() else None
        same = now is not None and now == last[0]
        last[0] = now
        return now if same else None
    return wait_for(unchanged, 60, f"tenant {b['tenant']} to settle", interval=1.5)


def body_for(route, b):
    if route["method"] not in ("POST", "PUT"):
        return None
    return {"name": "x", "ca": b["ca"], "profile": b["profile"], "csr": "x", "document": {},
            "principal": b["principal"], "role": "auditor", "reason": "keyCompromise",
            "kind": "user"}


def test_route_table_declares_a_known_permission_for_every_route():
    table = routes()
    assert len(table) > 40
    for r in table:
        assert r["permission"], r
    perms = {r["permission"] for r in table}
    assert "public" in perms and "system" in perms


def test_every_role_of_a_is_refused_every_route_on_b(server, world):
    b, tok_b = world["b"], world["tok_b"]
    before = settled_snapshot(server, b, tok_b)
    refused_before = len([e for e in server.audit(b["tenant"], token=tok_b)
                          if e["action"] == "auth.refused"])
    aimed_at_b = 0
    checked = 0
    for route in routes():
        if route["permission"] == "public":
            continue  # the public listener's routes are open by design (OCSP, CRLs, TSA)
        path = fill(route["path"], b)
        for who, tok in world["callers"].items():
            if route["permission"] == "system" and who == "system administrator":
                continue  # the system administrator's own routes
            r = server.request(route["method"], path, body_for(route, b), token=tok)
            assert r.status in (403, 404), (who, route, r.status, r.body[:300])
            text = r.body.decode(errors="replace")
            for s in secrets_of(b):
                assert s not in text, (who, route, s, text[:300])
            checked += 1
            aimed_at_b += "{tenant}" in route["path"]
    assert checked > 300
    after = snapshot(server, b, tok_b)
    for k in before:
        assert after[k] == before[k], k
    refused_after = len([e for e in server.audit(b["tenant"], token=tok_b)
                         if e["action"] == "auth.refused"])
    assert refused_after - refused_before >= aimed_at_b
    # B's own administrator still reaches its objects (the matrix did not break B).
    server.api("GET", f"/certificates/{b['serial']}", tenant=b["tenant"], token=tok_b)


def test_b_token_is_useless_in_a_and_on_system_routes(server, world):
    """B's robot token on every route with A's tenant and objects: refused, nothing of A in the
    answer, and A unchanged (every list and the audit chain apart from refusals)."""
    a, b = world["a"], world["b"]
    before = settled_snapshot(server, a, world["tok_a"])
    checked = 0
    for route in routes():
        if route["permission"] == "public":
            continue
        path = fill(route["path"], a)
        r = server.request(route["method"], path, body_for(route, a), token=b["_token_secret"])
        assert r.status in (401, 403, 404), (route, r.status)
        text = r.body.decode(errors="replace")
        for secret in secrets_of(a):
            assert secret not in text, (route, secret, text[:300])
        checked += 1
    assert checked > 60
    after = snapshot(server, a, world["tok_a"])
    for k in before:
        assert after[k] == before[k], k


def test_missing_filler_fails_the_test():
    with pytest.raises(AssertionError, match="no filler"):
        fill("/api/v1/t/{tenant}/frobs/{frob}", {"tenant": "mx-b"})


# The positive matrix: inside A, what each role may do (2xx) and what it may not (403).
def ops(a):
    csr = lambda n: make_csr(cn=f"{n}.alpha.example", dns=[f"{n}.alpha.example"])[0]
    return [
        ("GET", "/cas", None, {"tenant-admin", "ca-operator", "ra-officer", "auditor"}),
        ("POST", "/cas", lambda n: {"name": f"op-{n}", "subject": f"/CN=op {n}"}, {"ca-operator"}),
        ("POST", "/keys", lambda n: {}, {"ca-operator"}),
        ("POST", f"/cas/{a['ca']}/crl", lambda n: {}, {"ca-operator"}),
        ("GET", "/profiles", None, {"tenant-admin", "ca-operator", "ra-officer", "auditor"}),
        ("POST", f"/profiles/{a['profile']}/clone", lambda n: {"name": f"pc-{n}"},
         {"tenant-admin"}),
        ("POST", "/certificates", lambda n: {"ca": a["ca"], "profile": "tls-server",
                                             "csr": csr(n)}, {"requester"}),
        ("GET", "/certificates", None, set(ROLES)),
        # Another principal's certificate: a requester does not learn that it exists.
        ("GET", f"/certificates/{a['serial']}", None,
         {"tenant-admin", "ca-operator", "ra-officer", "auditor", "requester:404"}),
        ("POST", "/entities", lambda n: {"name": f"ent-{n}", "kind": "device"}, {"ra-officer"}),
        ("GET", "/entities", None, {"tenant-admin", "ra-officer", "auditor"}),
        ("GET", "/audit", None, {"auditor"}),
        ("GET", "/audit/verify", None, {"auditor"}),
        ("GET", "/principals", None, {"tenant-admin", "auditor"}),
        ("POST", "/principals", lambda n: {"name": f"p-{n}", "kind": "user"}, {"tenant-admin"}),
        ("GET", "/tokens", None, {"tenant-admin", "auditor"}),
        ("POST", "/tokens", lambda n: {"name": f"t-{n}"}, {"tenant-admin"}),
        ("GET", "/tsa", None, {"tenant-admin", "ca-operator", "auditor"}),
        ("GET", "/keys", None, {"tenant-admin", "ca-operator", "ra-officer", "auditor"}),
        ("GET", "/acme/endpoints", None, {"tenant-admin", "auditor"}),
        ("GET", f"/acme/endpoints/{a['endpoint']}/eab", None, {"tenant-admin", "auditor"}),
        ("POST", f"/acme/endpoints/{a['endpoint']}/eab", lambda n: {"kid": f"k-{n}"},
         {"tenant-admin"}),
        ("PUT", f"/acme/endpoints/{a['endpoint']}", lambda n: {"eab_required": True},
         {"tenant-admin"}),
        ("GET", "/enroll/endpoints", None, {"tenant-admin", "auditor"}),
        ("GET", f"/enroll/endpoints/{a['endpoint']}/credentials", None,
         {"tenant-admin", "auditor"}),
        ("POST", f"/enroll/endpoints/{a['endpoint']}/credentials", lambda n: {"id": f"c-{n}"},
         {"tenant-admin"}),
        ("PUT", f"/enroll/endpoints/{a['endpoint']}", lambda n: {"retry_after": 30},
         {"tenant-admin"}),
        ("PUT", f"/certificates/{a['serial']}/renewal-window",
         lambda n: {"start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "end": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))},
         {"tenant-admin"}),
        ("GET", f"/certificates/{a['serial']}/renewal-window", None, {"tenant-admin", "auditor"}),
    ]


@pytest.mark.parametrize("role", ROLES)
def test_each_role_may_do_its_duties_and_nothing_else_in_its_tenant(server, world, role):
    a, tok = world["a"], world["callers"][role]
    for method, path, body, allowed in ops(a):
        data = body(role) if body else None
        r = server.request(method, "/api/v1/t/mx-a" + path, data, token=tok)
        if role + ":404" in allowed:
            assert r.status == 404, (role, method, path, r.status, r.body[:300])
        elif role in allowed:
            assert 200 <= r.status < 300, (role, method, path, r.status, r.body[:300])
        else:
            assert r.status == 403, (role, method, path, r.status, r.body[:300])
            assert r.json()["error"] == "forbidden"


def test_revoking_is_the_ra_officers(server, world):
    a, callers = world["a"], world["callers"]
    csr, _ = make_csr(cn="rv.alpha.example", dns=["rv.alpha.example"])
    cert = server.api("POST", "/certificates", {"ca": a["ca"], "profile": "tls-server",
                                                "csr": csr}, expect=201, tenant="mx-a",
                      token=callers["requester"])
    for role in ("tenant-admin", "ca-operator", "requester", "auditor"):
        r = server.request("POST", f"/api/v1/t/mx-a/certificates/{cert['serial']}/revoke",
                           {"reason": "superseded"}, token=callers[role])
        assert r.status == 403, role
    done = server.api("POST", f"/certificates/{cert['serial']}/revoke", {"reason": "superseded"},
                      tenant="mx-a", token=callers["ra-officer"])
    assert done["status"] == "revoked"
