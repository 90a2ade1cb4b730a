"""Principals, roles and tokens (issue 5, point 2): argon2id tokens of principals, expiry and
revocation, disabled principals, source-address allowlists, the own-certificates rule of
requesters, a system principal bound in a tenant, tokens made before schema 7, and the CLI."""
import hashlib
import json

import pytest

from conftest import make_csr, refusals_audited, refused_total

T = "/api/v1/t/roles"


@pytest.fixture(scope="module")
def tenant(server):
    r = server.request("POST", "/api/v1/tenants", {"name": "roles"}, token="system")
    assert r.status == 201, r.body
    r = server.request("POST", "/api/v1/tenants/roles/tokens", {"name": "boot"}, token="system")
    assert r.status == 201, r.body
    # The tenant's administrator takes over the token the system administrator made.
    r = server.request("POST", "/api/v1/t/roles/tokens/rotate", {"name": "boot"},
                       token=r.json()["token"])
    assert r.status == 201, r.body
    admin = r.json()["token"]
    server.api("POST", "/cas", {"name": "r-root", "subject": "/CN=Roles Root"}, expect=201,
               tenant="roles", token=admin)
    server.api("POST", "/cas", {"name": "r-ca", "subject": "/CN=Roles CA", "parent": "r-root"},
               expect=201, tenant="roles", token=admin)
    return admin


def principal(server, admin, name, roles=(), kind="user", allow=None, expires_days=0, token=True):
    """A new principal of tenant roles with `roles` bound; returns (its record, a token made by
    admin, or None without token)."""
    body = {"name": name, "kind": kind}
    if allow is not None:
        body["allow"] = allow
    p = server.api("POST", "/principals", body, expect=201, tenant="roles", token=admin)
    for role in roles:
        server.api("POST", "/roles/bind", {"principal": p["id"], "role": role}, expect=201,
                   tenant="roles", token=admin)
    if not token:
        return p, None
    tok = server.api("POST", "/tokens", {"name": name, "principal": p["id"],
                                         "expires_days": expires_days},
                     expect=201, tenant="roles", token=admin)
    return p, tok


def refusals(server, admin):
    return [e for e in server.audit("roles", token=admin) if e["action"] == "auth.refused"]


def state(server, admin):
    """What a refused request must not change: certificates, CAs, principals, tokens, bindings."""
    get = lambda p: server.api("GET", p, tenant="roles", token=admin)
    return (get("/certificates"), get("/cas"), get("/principals"), get("/tokens"), get("/roles"))


def test_token_is_vt_id_secret_and_only_argon2id_is_stored(server, tenant):
    p, tok = principal(server, tenant, "store-check", ["auditor"])
    assert tok["token"].startswith("vt_") and tok["principal"] == p["id"]
    key = tok["token"][:19]
    rows = server.sql("SELECT hash, secret, principal FROM tokens WHERE id = ?", (tok["id"],))
    assert rows == [(key, rows[0][1], p["id"])]
    assert rows[0][1].startswith("$argon2id$")
    assert tok["token"][20:] not in rows[0][1]
    assert server.request("GET", T + "/audit", token=tok["token"]).status == 200
    # The right id with a wrong secret is refused.
    wrong = tok["token"][:20] + ("A" if tok["token"][20] != "A" else "B") + tok["token"][21:]
    r = server.request("GET", T + "/audit", token=wrong)
    assert r.status == 401 and r.json()["error"] == "unauthorized"


def test_principal_create_list_show_and_roles(server, tenant):
    p, _ = principal(server, tenant, "alice", ["ra-officer", "auditor"])
    shown = server.api("GET", f"/principals/{p['id']}", tenant="roles", token=tenant)
    assert shown["name"] == "alice" and shown["kind"] == "user" and not shown["disabled"]
    assert sorted(shown["roles"]) == ["auditor", "ra-officer"]
    listed = server.api("GET", "/principals", tenant="roles", token=tenant)["principals"]
    assert "alice" in [x["name"] for x in listed]
    bindings = server.api("GET", "/roles", tenant="roles", token=tenant)["bindings"]
    assert {"principal_tenant": "roles", "principal": p["id"], "role": "auditor"}.items() <= \
        [b for b in bindings if b["principal"] == p["id"] and b["role"] == "auditor"][0].items()
    server.api("POST", "/roles/unbind", {"principal": p["id"], "role": "auditor"},
               tenant="roles", token=tenant)
    shown = server.api("GET", f"/principals/{p['id']}", tenant="roles", token=tenant)
    assert shown["roles"] == ["ra-officer"]
    actions = [e["action"] for e in server.audit("roles", token=tenant)]
    assert "principal.create" in actions and "role.bind" in actions and "role.unbind" in actions


@pytest.mark.parametrize("body,status", [
    ({"name": "x1", "kind": "robot"}, 400),
    ({"name": "", "kind": "user"}, 400),
    ({"name": "x2", "kind": "user", "allow": ["10.0.0.0/8"]}, 400),  # only applications
    ({"name": "x3", "kind": "application", "allow": ["10.0.0.0/33"]}, 400),
    ({"name": "x4", "kind": "application", "allow": "10.0.0.0/8"}, 400),
    ({"name": "x5", "kind": "application", "allow": ["not-an-address"]}, 400),
])
def test_bad_principals_are_refused_and_change_nothing(server, tenant, body, status):
    before = state(server, tenant)
    r = server.request("POST", T + "/principals", body, token=tenant)
    assert r.status == status and r.json()["error"] == "bad_request", r.body
    assert state(server, tenant) == before


def test_bad_bindings_are_refused(server, tenant):
    p, _ = principal(server, tenant, "bob", ["auditor"], token=False)
    for body, status in (({"principal": p["id"], "role": "root"}, 400),
                         ({"principal": p["id"], "role": "system-admin"}, 400),
                         ({"principal": "prn-0000000000000000", "role": "auditor"}, 404),
                         ({"principal": p["id"], "role": "auditor"}, 409),
                         ({"principal": p["id"], "role": "auditor", "principal_tenant": "default"},
                          400)):
        before = state(server, tenant)
        r = server.request("POST", T + "/roles/bind", body, token=tenant)
        assert r.status == status, (body, r.status, r.body)
        assert state(server, tenant) == before


def test_nobody_changes_its_own_roles(server, tenant):
    me = server.api("GET", "/principals", tenant="roles", token=tenant)["principals"]
    admin_id = [p["id"] for p in me if p["name"] == "admin"][0]
    before = state(server, tenant)
    for route, body in (("/roles/unbind", {"principal": admin_id, "role": "auditor"}),
                        ("/roles/bind", {"principal": admin_id, "role": "auditor"}),
                        (f"/principals/{admin_id}/disable", {})):
        r = server.request("POST", T + route, body, token=tenant)
        assert r.status == 403 and r.json()["error"] == "forbidden", (route, r.body)
    assert state(server, tenant) == before


def test_a_token_made_for_another_is_its_makers_until_rotated(server, tenant):
    """Issue 23: an administrator cannot give itself roles by binding them to a principal whose
    token it made; the principal takes the token over by rotating it (the old one is gone)."""
    p, made = principal(server, tenant, "puppet", [])
    assert made["creators"], made
    before = state(server, tenant)
    r = server.request("POST", T + "/roles/bind", {"principal": p["id"], "role": "ca-operator"},
                       token=tenant)
    assert r.status == 403 and made["id"] in r.json()["detail"], r.body
    assert state(server, tenant) == before
    own = server.api("POST", "/tokens/rotate", {"name": "mine"}, expect=201, tenant="roles",
                     token=made["token"])
    assert own["principal"] == p["id"] and own["creators"] == [] and own["name"] == "mine"
    assert server.request("GET", T + "/cas", token=made["token"]).status == 401
    r = server.request("POST", T + "/tokens/rotate", {}, token=made["token"])
    assert r.status == 401  # rotated once only
    tokens = {t["id"]: t for t in server.api("GET", "/tokens", tenant="roles",
                                             token=tenant)["tokens"]}
    assert tokens[made["id"]]["revoked"] is not None and tokens[own["id"]]["revoked"] is None
    rot = [e for e in server.audit("roles", token=tenant) if e["action"] == "token.rotate"
           and e["object"] == own["id"]]
    assert rot and rot[0]["detail"]["replaces"] == made["id"], rot
    server.api("POST", "/roles/bind", {"principal": p["id"], "role": "ca-operator"}, expect=201,
               tenant="roles", token=tenant)
    assert server.request("GET", T + "/cas", token=own["token"]).status == 200


def test_expired_token_is_refused_audited_and_changes_nothing(server, tenant):
    _, tok = principal(server, tenant, "temp", ["ca-operator"], expires_days=1)
    assert server.request("GET", T + "/cas", token=tok["token"]).status == 200
    server.sql("UPDATE tokens SET expires = ? WHERE id = ?", (1000, tok["id"]))
    before = state(server, tenant)
    seen = refused_total(refusals_audited(server, "roles", tenant))
    r = server.request("POST", T + "/cas", {"name": "late", "subject": "/CN=late"},
                       token=tok["token"])
    assert r.status == 401 and r.json() == {"error": "unauthorized", "detail": "token expired"}
    assert state(server, tenant) == before
    # 401s are audited at a bounded rate (summed up per second): one more, by this token.
    new = refusals_audited(server, "roles", tenant, seen + 1)
    assert refused_total(new) == seen + 1 and new[-1]["actor"] == tok["id"]


def test_revoked_token_is_refused_at_once(server, tenant):
    _, tok = principal(server, tenant, "revokee", ["ca-operator"])
    assert server.request("GET", T + "/cas", token=tok["token"]).status == 200  # now cached
    assert server.request("DELETE", T + f"/tokens/{tok['id']}", token=tenant).status == 204
    before = state(server, tenant)
    seen = refused_total(refusals_audited(server, "roles", tenant))
    r = server.request("POST", T + "/cas", {"name": "late2", "subject": "/CN=late"},
                       token=tok["token"])
    assert r.status == 401 and r.json()["detail"] == "token revoked"
    assert state(server, tenant) == before
    assert refused_total(refusals_audited(server, "roles", tenant, seen + 1)) == seen + 1
    listed = server.api("GET", "/tokens", tenant="roles", token=tenant)["tokens"]
    assert [t["revoked"] for t in listed if t["id"] == tok["id"]][0] is not None
    assert server.request("DELETE", T + f"/tokens/{tok['id']}", token=tenant).status == 404
    assert "token.revoke" in [e["action"] for e in server.audit("roles", token=tenant)]


def test_disabled_principal_is_refused_until_enabled(server, tenant):
    p, tok = principal(server, tenant, "sleeper", ["ca-operator"])
    assert server.request("GET", T + "/cas", token=tok["token"]).status == 200
    server.api("POST", f"/principals/{p['id']}/disable", {}, tenant="roles", token=tenant)
    before, seen = state(server, tenant), len(refusals(server, tenant))
    r = server.request("POST", T + "/keys", {}, token=tok["token"])
    assert r.status == 403 and "disabled" in r.json()["detail"]
    assert state(server, tenant) == before
    assert len(refusals(server, tenant)) == seen + 1
    r = server.request("POST", T + "/tokens", {"name": "more", "principal": p["id"]},
                       token=tenant)
    assert r.status == 409  # no new tokens for a disabled principal
    server.api("POST", f"/principals/{p['id']}/enable", {}, tenant="roles", token=tenant)
    assert server.request("GET", T + "/cas", token=tok["token"]).status == 200


def test_source_address_allowlist(server, tenant):
    _, outside = principal(server, tenant, "far-app", ["auditor"], kind="application",
                           allow=["192.0.2.0/24", "2001:db8::/32"])
    _, inside = principal(server, tenant, "near-app", ["auditor"], kind="application",
                          allow=["192.0.2.0/24", "127.0.0.0/8"])
    seen = len(refusals(server, tenant))
    r = server.request("GET", T + "/audit", token=outside["token"])
    assert r.status == 403 and "127.0.0.1" in r.json()["detail"]
    assert len(refusals(server, tenant)) == seen + 1
    # No trusted proxy is configured here: a client's X-Forwarded-For changes nothing.
    r = server.request("GET", T + "/audit", token=outside["token"],
                       headers={"X-Forwarded-For": "192.0.2.5"})
    assert r.status == 403 and "127.0.0.1" in r.json()["detail"]
    assert server.request("GET", T + "/audit", token=inside["token"]).status == 200


def test_requester_sees_only_its_own_certificates(server, tenant):
    _, req1 = principal(server, tenant, "req-one", ["requester"])
    _, req2 = principal(server, tenant, "req-two", ["requester"])
    mine = []
    for tok, n in ((req1, "one"), (req1, "one-b"), (req2, "two")):
        csr, _ = make_csr(cn=f"{n}.roles.example", dns=[f"{n}.roles.example"])
        c = server.api("POST", "/certificates", {"ca": "r-ca", "profile": "tls-server",
                                                 "csr": csr}, expect=201, tenant="roles",
                       token=tok["token"])
        mine.append(c)
    assert mine[0]["requester"] == req1["principal"]
    listed = server.api("GET", "/certificates", tenant="roles", token=req1["token"])
    assert sorted(c["serial"] for c in listed["certificates"]) == \
        sorted([mine[0]["serial"], mine[1]["serial"]])
    assert server.api("GET", "/certificates/expiring?days=3650", tenant="roles",
                      token=req2["token"])["certificates"][0]["serial"] == mine[2]["serial"]
    server.api("GET", f"/certificates/{mine[0]['serial']}", tenant="roles", token=req1["token"])
    # Another's certificate answers exactly as one that does not exist.
    r = server.request("GET", T + f"/certificates/{mine[2]['serial']}", token=req1["token"])
    unknown = server.request("GET", T + "/certificates/1234abcd", token=req1["token"])
    assert r.status == unknown.status == 404
    assert r.body.decode().replace(mine[2]["serial"], "S") == \
        unknown.body.decode().replace("1234abcd", "S")
    assert mine[2]["subject"] not in r.body.decode()
    before = state(server, tenant)
    r = server.request("POST", T + f"/certificates/{mine[2]['serial']}/renew", {},
                       token=req1["token"])
    assert r.status == 404
    assert state(server, tenant) == before
    server.api("POST", f"/certificates/{mine[0]['serial']}/renew", {}, expect=201,
               tenant="roles", token=req1["token"])
    # Everyone with the whole cert.read sees all of them.
    every = server.api("GET", "/certificates?limit=1000", tenant="roles", token=tenant)
    assert {m["serial"] for m in mine} <= {c["serial"] for c in every["certificates"]}


def test_system_administrator_reads_a_tenant_only_when_bound_there(server, tenant):
    sys_id = server.sql("SELECT id FROM principals WHERE tenant = ? AND name = ?",
                        ("_system", "system administrator"))[0][0]
    assert server.request("GET", T + "/audit", token="system").status == 403
    server.api("POST", "/roles/bind", {"principal": sys_id, "principal_tenant": "_system",
                                       "role": "auditor"}, expect=201, tenant="roles",
               token=tenant)
    assert server.request("GET", T + "/audit", token="system").status == 200
    assert server.request("POST", T + "/keys", {}, token="system").status == 403  # auditor only
    assert server.request("GET", "/api/v1/t/default/audit", token="system").status == 403
    server.api("POST", "/roles/unbind", {"principal": sys_id, "principal_tenant": "_system",
                                         "role": "auditor"}, tenant="roles", token=tenant)
    assert server.request("GET", T + "/audit", token="system").status == 403


def test_tenant_roles_grant_nothing_on_system_routes(server, tenant):
    r = server.request("POST", "/api/v1/tenants", {"name": "sneaky"}, token=tenant)
    assert r.status == 403
    r = server.request("GET", "/api/v1/tenants", token="system")
    assert "sneaky" not in r.body.decode()


def test_token_made_before_schema_7_still_works(server, tenant):
    """A vouch_ token is found by its SHA-256, as before; it acts as its principal."""
    admin_id = [p["id"] for p in server.api("GET", "/principals", tenant="roles",
                                             token=tenant)["principals"] if p["name"] == "admin"][0]
    old = "vouch_" + "Q" * 43
    digest = hashlib.sha256(old.encode()).hexdigest()
    server.sql("INSERT INTO tokens (tenant, id, name, hash, role, expires, created, principal,"
               " revoked) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
               ("roles", "tok-00000000000000aa", "legacy", digest, "admin", 0, 1, admin_id, 0))
    assert server.request("GET", T + "/cas", token=old).status == 200
    assert server.request("GET", T + "/cas", token="vouch_" + "R" * 43).status == 401
    server.api("DELETE", "/tokens/tok-00000000000000aa", expect=204, tenant="roles",
               token=tenant)
    assert server.request("GET", T + "/cas", token=old).status == 401


def test_cli_principal_role_and_token_commands(server, tenant):
    def cli(*args):
        p = server.cli("--tenant", "roles", "--json", *args, token=tenant)
        return json.loads(p.stdout) if p.stdout.strip() else None

    p = cli("principal", "create", "cli-bot", "--kind", "application", "--allow", "127.0.0.1")
    assert p["allow"] == ["127.0.0.1"]
    cli("role", "bind", p["id"], "ca-operator")
    tok = cli("token", "create", "cli-bot-token", "--principal", p["id"])
    assert server.request("POST", T + "/keys", {}, token=tok["token"]).status == 201
    human = server.cli("--tenant", "roles", "principal", "list", token=tenant).stdout
    assert "cli-bot" in human
    cli("role", "unbind", p["id"], "ca-operator")
    assert server.request("POST", T + "/keys", {}, token=tok["token"]).status == 403
    cli("principal", "disable", p["id"])
    assert cli("principal", "show", p["id"])["disabled"] is True
    server.cli("--tenant", "roles", "token", "revoke", tok["id"], token=tenant)
    assert server.request("GET", T + "/cas", token=tok["token"]).status == 401


def test_wrong_secrets_for_one_token_id_stop_costing_argon2id(server, tenant):
    p, tok = principal(server, tenant, "guessed", ["auditor"])
    wrong = tok["token"][:20] + "x" * (len(tok["token"]) - 20)
    for _ in range(5):
        r = server.request("GET", T + "/audit", token=wrong)
        assert r.status == 401 and r.json()["detail"] == "invalid token"
    r = server.request("GET", T + "/audit", token=wrong)
    assert r.status == 401 and "too many failed attempts" in r.json()["detail"]
    # The right secret is refused too while the id is blocked (it was never verified on this
    # node); another token of the same principal is not affected.
    r = server.request("GET", T + "/audit", token=tok["token"])
    assert r.status == 401 and "too many failed attempts" in r.json()["detail"]
    other = server.api("POST", "/tokens", {"name": "guessed-2", "principal": p["id"]},
                       expect=201, tenant="roles", token=tenant)
    assert server.request("GET", T + "/audit", token=other["token"]).status == 200
