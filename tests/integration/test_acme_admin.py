"""ACME administration (issue 16): endpoints and their settings, External Account Binding
credentials whose HMAC key is shown once and stored nowhere, revocation, suggested renewal
windows, who may do what, tenant isolation, and the same through the CLI."""
import base64
import datetime
import glob
import json
import os
import re
import subprocess

import pytest

from conftest import PG_ADMIN, make_csr, other_tenant


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def database_bytes(server):
    """Everything the instance's database holds, as bytes: the SQLite files, or a dump of the
    PostgreSQL database."""
    if server.pg_database is None:
        data = b""
        for path in glob.glob(os.path.join(server.dir, "vouch.db*")):
            with open(path, "rb") as f:
                data += f.read()
        return data
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + server.pg_database
    out = subprocess.run(["pg_dump", "--data-only", "-d", url], capture_output=True, check=True,
                         timeout=120)
    return out.stdout


def rfc3339(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def events(server, action, tenant="default"):
    return [e for e in server.audit(tenant) if e["action"] == action and e["result"] == "ok"]


@pytest.fixture(scope="module")
def endpoint(server):
    body = {"name": "web", "ca": "issuing", "caa_identities": ["ca.example"],
            "profiles": ["tls-server", {"name": "tls-client", "description": "Client auth"}]}
    return server.api("POST", "/acme/endpoints", body, expect=201)


def principal_token(server, name, role):
    p = server.api("POST", "/principals", {"name": name, "kind": "user"}, expect=201)
    server.api("POST", "/roles/bind", {"principal": p["id"], "role": role}, expect=201)
    return server.api("POST", "/tokens", {"name": name, "principal": p["id"]}, expect=201)["token"]


def test_an_endpoint_is_created_shown_listed_and_changed(server, endpoint):
    assert endpoint["name"] == "web" and endpoint["ca"] == "issuing"
    assert endpoint["status"] == "active"
    assert endpoint["directory"] == "/acme/default/web/directory"
    assert [p["name"] for p in endpoint["profiles"]] == ["tls-server", "tls-client"]
    assert endpoint["profiles"][1]["description"] == "Client auth"
    assert endpoint["challenges"] == ["http-01", "dns-01", "tls-alpn-01"]
    assert endpoint["order_seconds"] == endpoint["authz_seconds"] == 7 * 86400
    assert endpoint["allow_dns"] and endpoint["allow_wildcard"] and not endpoint["allow_ip"]
    assert endpoint["caa_check"] and not endpoint["eab_required"]
    assert server.api("GET", "/acme/endpoints/web") == endpoint
    assert [e["name"] for e in server.api("GET", "/acme/endpoints")["endpoints"]] == ["web"]
    changed = server.api("PUT", "/acme/endpoints/web",
                         {"eab_required": True, "challenges": ["dns-01", "http-01"]})
    assert changed["eab_required"] and changed["challenges"] == ["http-01", "dns-01"]
    assert changed["caa_identities"] == ["ca.example"] and changed["profiles"] == \
        endpoint["profiles"]
    created = events(server, "acme.endpoint.create")
    assert [e["object"] for e in created] == ["web"]
    assert created[0]["detail"]["ca"] == "issuing"
    assert events(server, "acme.endpoint.update")[-1]["detail"]["settings"]["eab_required"] is True


@pytest.mark.parametrize("body,status,word", [
    ({"name": "x", "ca": "issuing", "caa_check": False, "colour": "red"}, 400, "colour"),
    ({"name": "x", "ca": "issuing"}, 400, "caa_identities"),
    ({"name": "x", "ca": "issuing", "caa_check": False, "order_seconds": 10}, 400,
     "order_seconds"),
    ({"name": "x", "ca": "issuing", "caa_check": False, "challenges": ["http-01"]}, 400,
     "allow_wildcard"),
    ({"name": "x", "ca": "issuing", "caa_check": False, "profiles": ["sub-ca"]}, 422, "sub-ca"),
    ({"name": "x", "ca": "issuing", "caa_check": False, "profiles": ["nope"]}, 404, "nope"),
    ({"name": "x", "ca": "nope", "caa_check": False}, 404, "nope"),
    ({"name": "x", "caa_check": False}, 400, "ca"),
    ({"name": "Bad Name", "ca": "issuing", "caa_check": False}, 400, "name"),
    ({"name": "web", "ca": "issuing", "caa_check": False}, 409, "web"),
])
def test_bad_endpoints_are_refused_and_change_nothing(server, endpoint, body, status, word):
    before = server.api("GET", "/acme/endpoints")
    r = server.request("POST", "/api/v1/t/default/acme/endpoints", body)
    assert r.status == status, r.body
    assert word in r.json()["detail"]
    assert server.api("GET", "/acme/endpoints") == before


def test_a_disabled_ca_is_refused(server, endpoint):
    server.api("POST", "/cas", {"name": "acme-old", "subject": "/CN=Old", "parent": "root"},
               expect=201)
    server.api("POST", "/cas/acme-old/disable", {})
    r = server.request("POST", "/api/v1/t/default/acme/endpoints",
                       {"name": "old", "ca": "acme-old", "caa_check": False})
    assert r.status == 409, r.body
    r = server.request("PUT", "/api/v1/t/default/acme/endpoints/web", {"ca": "acme-old"})
    assert r.status == 409, r.body
    r = server.request("PUT", "/api/v1/t/default/acme/endpoints/nope", {"status": "disabled"})
    assert r.status == 404, r.body


def test_the_hmac_key_is_shown_once_and_stored_nowhere(server, endpoint):
    r = server.request("POST", "/api/v1/t/default/acme/endpoints/web/eab", {"kid": "team-a"})
    assert r.status == 201, r.body
    assert "no-store" in r.headers["Cache-Control"]
    cred = r.json()
    key = cred["hmac_key"]
    raw = b64url_decode(key)
    assert len(raw) == 32 and "=" not in key
    assert cred["kid"] == "team-a" and cred["status"] == "active" and cred["uses"] == 0
    assert cred["role"] == "requester" and cred["reusable"] is False
    # Never again: not in the list, not in the audit chain, not in the database.
    listed = server.api("GET", "/acme/endpoints/web/eab")["credentials"]
    assert [c["kid"] for c in listed] == ["team-a"]
    assert "hmac_key" not in listed[0]
    audit = json.dumps(server.audit())
    assert key not in audit and raw.hex() not in audit
    assert any(e["object"] == "team-a" for e in events(server, "acme.eab.create"))
    dump = database_bytes(server)
    assert b"team-a" in dump  # the search does find what is stored
    assert raw not in dump and key.encode() not in dump and raw.hex().encode() not in dump
    assert base64.b64encode(raw).rstrip(b"=") not in dump
    # The signer's key it is derived from is the tenant's, and may not be deleted.
    keys = server.api("GET", "/keys")["keys"]
    assert cred["key_id"] in [k["key_id"] for k in keys]
    r = server.request("DELETE", f"/api/v1/t/default/keys/{cred['key_id']}")
    assert r.status == 409, r.body
    # A second credential: another key, a drawn kid.
    other = server.api("POST", "/acme/endpoints/web/eab",
                       {"profiles": ["tls-client"], "reusable": True}, expect=201)
    assert other["kid"].startswith("eab-") and other["hmac_key"] != key
    assert other["profiles"] == ["tls-client"] and other["key_id"] == cred["key_id"]


@pytest.mark.parametrize("body,status", [
    ({"kid": "team-a"}, 409),
    ({"kid": "a b"}, 400),
    ({"profiles": ["email"]}, 400),
    ({"role": "tenant-admin"}, 400),
    ({"colour": 1}, 400),
])
def test_bad_credentials_are_refused(server, endpoint, body, status):
    r = server.request("POST", "/api/v1/t/default/acme/endpoints/web/eab", body)
    assert r.status == status, r.body
    assert "hmac_key" not in r.json()


def test_a_credential_is_revoked_once(server, endpoint):
    server.api("POST", "/acme/endpoints/web/eab", {"kid": "gone"}, expect=201)
    r = server.api("POST", "/acme/endpoints/web/eab/gone/revoke", {"deactivate_accounts": True})
    assert r == {"endpoint": "web", "kid": "gone", "status": "revoked",
                 "deactivate_accounts": True}
    r = server.request("POST", "/api/v1/t/default/acme/endpoints/web/eab/gone/revoke", {})
    assert r.status == 409, r.body
    r = server.request("POST", "/api/v1/t/default/acme/endpoints/web/eab/nope/revoke", {})
    assert r.status == 404, r.body
    listed = {c["kid"]: c for c in server.api("GET", "/acme/endpoints/web/eab")["credentials"]}
    assert listed["gone"]["status"] == "revoked"
    detail = events(server, "acme.eab.revoke")[-1]["detail"]
    assert detail["deactivate_accounts"] is True and detail["accounts"] == []


def test_a_renewal_window_is_suggested_and_can_be_set(server):
    csr, _ = make_csr("ari.example", dns=["ari.example"])
    cert = server.api("POST", "/certificates", {"ca": "issuing", "profile": "tls-server",
                                                "csr": csr}, expect=201)
    serial = cert["serial"]
    w = server.api("GET", f"/certificates/{serial}/renewal-window")
    assert w["end"] == cert["not_after"] and w["reason"] is None
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    body = {"start": rfc3339(now), "end": rfc3339(now + datetime.timedelta(days=1)),
            "reason": "planned revocation"}
    w = server.api("PUT", f"/certificates/{serial}/renewal-window", body)
    assert w == dict(body, serial=serial)
    assert server.api("GET", f"/certificates/{serial}/renewal-window") == w
    assert events(server, "cert.renewal_window")[-1]["object"] == serial
    for bad, status in [({"start": body["end"], "end": body["start"]}, 400),
                        ({"start": body["start"]}, 400),
                        ({"start": "tomorrow", "end": body["end"]}, 400),
                        ({"start": body["start"], "end": "2999-01-01T00:00:00Z"}, 400)]:
        r = server.request("PUT", f"/api/v1/t/default/certificates/{serial}/renewal-window", bad)
        assert r.status == status, (bad, r.body)
    r = server.request("PUT", "/api/v1/t/default/certificates/0bad/renewal-window", body)
    assert r.status == 404, r.body


def test_auditors_read_and_others_are_refused(server, endpoint):
    auditor = principal_token(server, "acme-auditor", "auditor")
    requester = principal_token(server, "acme-requester", "requester")
    operator = principal_token(server, "acme-operator", "ca-operator")
    assert server.api("GET", "/acme/endpoints/web", token=auditor)["name"] == "web"
    server.api("GET", "/acme/endpoints/web/eab", token=auditor)
    for token in (auditor, requester, operator):
        r = server.request("POST", "/api/v1/t/default/acme/endpoints/web/eab", {}, token=token)
        assert r.status == 403, r.body
        r = server.request("PUT", "/api/v1/t/default/acme/endpoints/web", {"status": "disabled"},
                           token=token)
        assert r.status == 403, r.body
    for token in (requester, operator):
        r = server.request("GET", "/api/v1/t/default/acme/endpoints", token=token)
        assert r.status == 403, r.body


def test_another_tenant_never_sees_an_endpoint_or_credential(server, endpoint):
    token = other_tenant(server, "acme-other")
    for method, path, body in [("GET", "/acme/endpoints/web", None),
                               ("GET", "/acme/endpoints/web/eab", None),
                               ("POST", "/acme/endpoints/web/eab", {}),
                               ("POST", "/acme/endpoints/web/eab/team-a/revoke", {}),
                               ("PUT", "/acme/endpoints/web", {"status": "disabled"})]:
        r = server.request(method, f"/api/v1/t/acme-other{path}", body, token=token)
        assert r.status == 404, (path, r.body)
        r = server.request(method, f"/api/v1/t/default{path}", body, token=token)
        assert r.status == 403, (path, r.body)
    assert server.api("GET", "/acme/endpoints", tenant="acme-other", token=token) == \
        {"endpoints": []}
    r = server.request("POST", "/api/v1/t/acme-other/acme/endpoints",
                       {"name": "web", "ca": "issuing", "caa_check": False}, token=token)
    assert r.status == 404, r.body  # the default tenant's CA is no CA of acme-other
    assert server.api("GET", "/acme/endpoints/web")["status"] == "active"


def test_the_cli_sets_up_endpoints_and_credentials(server, tmp_path):
    settings = tmp_path / "acme.json"
    settings.write_text(json.dumps({"profiles": [{"name": "tls-server", "description": "Web"}],
                                    "caa_check": True}))
    p = server.cli("acme", "endpoint", "create", "cli", "--ca", "issuing", "--caa-check", "no",
                   "--eab-required", "yes", "--challenge", "http-01", "--challenge", "dns-01",
                   "--settings", str(settings), "--json")
    ep = json.loads(p.stdout)
    assert ep["eab_required"] and not ep["caa_check"]
    assert ep["profiles"] == [{"name": "tls-server", "description": "Web"}]
    assert ep["challenges"] == ["http-01", "dns-01"]
    p = server.cli("acme", "endpoint", "list")
    assert "cli" in p.stdout and "/acme/default/cli/directory" in p.stdout
    p = server.cli("acme", "endpoint", "update", "cli", "--status", "disabled", "--json")
    assert json.loads(p.stdout)["status"] == "disabled"
    assert re.search(r"eab_required:\s+true", server.cli("acme", "endpoint", "show", "cli").stdout)
    p = server.cli("acme", "eab", "create", "cli", "--kid", "ops", "--json")
    key = json.loads(p.stdout)["hmac_key"]
    assert len(b64url_decode(key)) == 32
    p = server.cli("acme", "eab", "list", "cli")
    assert "ops" in p.stdout and key not in p.stdout
    p = server.cli("acme", "eab", "revoke", "cli", "ops", "--deactivate-accounts")
    assert "revoked" in p.stdout
    p = server.cli("acme", "eab", "revoke", "cli", "ops", check=False)
    assert p.returncode == 1 and "409" in p.stderr
    p = server.cli("acme", "endpoint", "update", "cli", check=False)
    assert p.returncode == 2
    p = server.cli("acme", check=False)
    assert p.returncode == 2 and "acme endpoint create" in p.stderr and "acme eab revoke" in \
        p.stderr
    csr, _ = make_csr("cli-ari.example", dns=["cli-ari.example"])
    serial = server.api("POST", "/certificates", {"ca": "issuing", "profile": "tls-server",
                                                  "csr": csr}, expect=201)["serial"]
    now = datetime.datetime.now(datetime.timezone.utc)
    p = server.cli("cert", "renewal-window", serial, "--start", rfc3339(now), "--end",
                   rfc3339(now + datetime.timedelta(hours=2)), "--reason", "rotation", "--json")
    assert json.loads(p.stdout)["reason"] == "rotation"
    assert key not in json.dumps(server.audit())
    assert key.encode() not in database_bytes(server)
