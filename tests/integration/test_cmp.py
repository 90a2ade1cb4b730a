"""CMP (issue 18): endpoints per tenant and their shared secrets (shown once, stored nowhere,
revocable); enrollment with `openssl cmp` (ir, cr, p10cr under PasswordBasedMac, explicit
certConf and implicit confirm), its failure paths, and replays refused."""
import base64
import glob
import os
import subprocess

import pytest

from conftest import PG_ADMIN, other_tenant


def database_bytes(server):
    """The SQLite files, or a dump of the PostgreSQL database, as bytes."""
    if server.pg_database is None:
        data = b""
        for path in glob.glob(os.path.join(server.dir, "vouch.db*")):
            with open(path, "rb") as f:
                data += f.read()
        return data
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + server.pg_database
    return subprocess.run(["pg_dump", "--data-only", "-d", url], capture_output=True, check=True,
                          timeout=120).stdout


def events(server, action, tenant="default"):
    return [e for e in server.audit(tenant) if e["action"] == action]


@pytest.fixture(scope="module")
def endpoint(server):
    body = {"name": "plant", "ca": "issuing", "profiles": ["tls-client", "tls-server"],
            "implicit_confirm": True}
    return server.api("POST", "/cmp/endpoints", body, expect=201)


def secret_new(server, endpoint="plant", **options):
    return server.api("POST", f"/cmp/endpoints/{endpoint}/secrets", options, expect=201)


def test_an_endpoint_is_created_shown_listed_and_changed(server, endpoint):
    assert endpoint["name"] == "plant" and endpoint["ca"] == "issuing"
    assert endpoint["status"] == "active" and endpoint["path"] == "/.well-known/cmp/p/default~plant"
    assert endpoint["profiles"] == ["tls-client", "tls-server"]
    assert endpoint["protection"] == ["mac", "signature"]
    assert endpoint["implicit_confirm"] is True and endpoint["confirm_seconds"] == 300
    assert server.api("GET", "/cmp/endpoints/plant") == endpoint
    assert [e["name"] for e in server.api("GET", "/cmp/endpoints")["endpoints"]] == ["plant"]
    server.api("POST", "/cmp/endpoints", {"name": "spare", "ca": "issuing"}, expect=201)
    changed = server.api("PUT", "/cmp/endpoints/spare",
                         {"protection": ["mac"], "confirm_seconds": 60, "status": "disabled"})
    assert changed["protection"] == ["mac"] and changed["confirm_seconds"] == 60
    assert changed["status"] == "disabled" and changed["profiles"] == ["tls-client"]
    back = server.api("PUT", "/cmp/endpoints/spare", {"confirm_seconds": None})
    assert back["confirm_seconds"] == 300 and back["protection"] == ["mac"]
    created = [e for e in events(server, "cmp.endpoint.create") if e["result"] == "ok"]
    assert [e["object"] for e in created] == ["plant", "spare"]
    assert created[0]["detail"]["settings"]["implicit_confirm"] is True


@pytest.mark.parametrize("body,status,word", [
    ({"name": "x1", "ca": "nosuch"}, 404, "ca"),
    ({"name": "x2", "ca": "root", "profiles": ["sub-ca"]}, 422, "CA profile"),
    ({"name": "x3", "ca": "issuing", "protection": ["psk"]}, 400, "protection"),
    ({"name": "x4", "ca": "issuing", "confirm_seconds": 5}, 400, "confirm_seconds"),
    ({"name": "x5", "ca": "issuing", "colour": "red"}, 400, "unknown member"),
    ({"name": "x6", "ca": "issuing", "client_cas": ["nosuch"]}, 404, "client_cas"),
    ({"name": "plant", "ca": "issuing"}, 409, "exists"),
])
def test_bad_endpoints_are_refused_naming_the_rule(server, endpoint, body, status, word):
    r = server.request("POST", "/api/v1/t/default/cmp/endpoints", body)
    assert r.status == status, r.body
    assert word in r.json()["detail"], r.body


def test_a_secret_is_shown_once_and_stored_nowhere(server, endpoint):
    made = secret_new(server, reference="device-1", profiles=["tls-client"])
    assert made["reference"] == "device-1" and made["status"] == "active"
    assert made["reusable"] is False and made["profiles"] == ["tls-client"]
    secret = made["secret"]
    assert len(base64.urlsafe_b64decode(secret + "=")) == 32
    listed = server.api("GET", "/cmp/endpoints/plant/secrets")["secrets"]
    assert [s["reference"] for s in listed] == ["device-1"]
    assert "secret" not in listed[0]
    data = database_bytes(server)
    assert secret.encode() not in data
    assert base64.urlsafe_b64decode(secret + "=") not in data
    audit = str(server.audit())
    assert secret not in audit
    assert [e["object"] for e in events(server, "cmp.secret.create")] == ["device-1"]
    drawn = secret_new(server, reusable=True)
    assert drawn["reference"].startswith("cmp-") and drawn["reusable"] is True
    assert drawn["secret"] != secret
    r = server.request("POST", "/api/v1/t/default/cmp/endpoints/plant/secrets",
                       {"reference": "device-1"})
    assert r.status == 409, r.body
    r = server.request("POST", "/api/v1/t/default/cmp/endpoints/plant/secrets",
                       {"profiles": ["email"]})
    assert r.status == 400 and "profile" in r.json()["detail"], r.body


def test_a_secret_is_revoked_once(server, endpoint):
    made = secret_new(server, reference="to-revoke")
    out = server.api("POST", "/cmp/endpoints/plant/secrets/to-revoke/revoke", {})
    assert out["status"] == "revoked"
    listed = {s["reference"]: s for s in server.api("GET", "/cmp/endpoints/plant/secrets")["secrets"]}
    assert listed["to-revoke"]["status"] == "revoked"
    server.api("POST", "/cmp/endpoints/plant/secrets/to-revoke/revoke", {}, expect=409)
    server.api("POST", "/cmp/endpoints/plant/secrets/nosuch/revoke", {}, expect=404)
    assert made["secret"] not in str(server.audit())
    assert [e["object"] for e in events(server, "cmp.secret.revoke") if e["result"] == "ok"] == \
        ["to-revoke"]


def test_another_tenant_sees_none_of_it_and_an_auditor_only_reads(server, endpoint):
    token = other_tenant(server, "cmp-other")
    r = server.request("GET", "/api/v1/t/default/cmp/endpoints", token=token)
    assert r.status in (401, 403), r.body
    r = server.request("GET", "/api/v1/t/cmp-other/cmp/endpoints/plant", token=token)
    assert r.status == 404, r.body
    p = server.api("POST", "/principals", {"name": "cmp-auditor", "kind": "user"}, expect=201)
    server.api("POST", "/roles/bind", {"principal": p["id"], "role": "auditor"}, expect=201)
    auditor = server.api("POST", "/tokens", {"name": "cmp-auditor", "principal": p["id"]},
                         expect=201)["token"]
    assert server.api("GET", "/cmp/endpoints", token=auditor)["endpoints"]
    r = server.request("POST", "/api/v1/t/default/cmp/endpoints/plant/secrets", {}, token=auditor)
    assert r.status == 403, r.body


def test_the_cli_manages_endpoints_and_secrets(server, endpoint):
    out = server.cli("cmp", "endpoint", "create", "line", "--ca", "issuing", "--profile",
                     "tls-client", "--implicit-confirm", "no", "--protection", "mac").stdout
    assert "line" in out
    assert "line" in server.cli("cmp", "endpoint", "list").stdout
    made = server.cli("cmp", "secret", "create", "line", "--reference", "cli-1").stdout
    assert "cli-1" in made and "secret" in made
    assert "cli-1" in server.cli("cmp", "secret", "list", "line").stdout
    server.cli("cmp", "secret", "revoke", "line", "cli-1")
    assert "revoked" in server.cli("cmp", "secret", "list", "line").stdout
