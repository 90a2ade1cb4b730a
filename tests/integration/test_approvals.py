"""Approval workflows (N approvals, M-of-N, expiry, rejection) and signed webhooks."""
import hashlib
import hmac
import http.server
import json
import os
import threading

import pytest

from conftest import Server, make_csr, own_token, wait_for


class Receiver:
    """A webhook receiver on loopback that keeps what it was sent."""

    def __init__(self):
        self.events = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.events.append((dict(self.headers), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait(self, event, count=1, timeout=15):
        def got():
            found = [json.loads(b) for h, b in self.events if json.loads(b)["event"] == event]
            return len(found) >= count and found
        return wait_for(got, timeout, f"{count} {event} event(s)")

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("vouch")), conf="webhooks_enabled = yes\n")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def receiver(server):
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def people(server):
    """Tokens of distinct principals: a requester (who may also issue, revoke and create CAs,
    and approve others' requests) and three RA officers."""
    roles = {"requester": ["requester", "ra-officer", "ca-operator"],
             "officer1": ["ra-officer"], "officer2": ["ra-officer"], "officer3": ["ra-officer"]}
    out = {}
    for name, bound in roles.items():
        p = server.api("POST", "/principals", {"name": name, "kind": "user"}, expect=201)
        for role in bound:
            server.api("POST", "/roles/bind", {"principal": p["id"], "role": role}, expect=201)
        out[name] = own_token(server, p["id"], name)
        out[name + "_id"] = p["id"]
    return out


@pytest.fixture(scope="module")
def hook(server, receiver):
    r = server.api("PUT", "/webhook", {"url": receiver.url})
    assert r["secret"].startswith("whsec_")
    assert "secret" not in server.api("GET", "/webhook")
    return r["secret"]


def submit_issue(server, token, cn, expect=202):
    csr, _ = make_csr(cn=cn, dns=[cn])
    return server.api("POST", "/certificates", {"ca": "issuing", "profile": "tls-server",
                                                "csr": csr}, expect=expect, token=token)


def approve(server, token, rid, expect=200):
    return server.api("POST", f"/requests/{rid}/approve", {}, expect=expect, token=token)


def test_two_approvals_by_distinct_officers_never_the_requester(server, people, hook, receiver):
    server.api("PUT", "/workflows/profile:tls-server", {"required": 2, "expires_hours": 24})
    req = submit_issue(server, people["requester"], "two.example")
    assert req["status"] == "pending" and req["required"] == 2 and req["kind"] == "cert.issue"
    assert req["requester"] == people["requester_id"]
    rid = req["id"]
    before = server.api("GET", "/certificates?profile=tls-server")["certificates"]

    # The requester cannot approve its own request; nothing changes.
    r = approve(server, people["requester"], rid, expect=403)
    assert "own request" in r["detail"]
    one = approve(server, people["officer1"], rid)
    assert one["status"] == "pending" and len(one["approvals"]) == 1
    r = approve(server, people["officer1"], rid, expect=409)  # the same officer twice
    assert "already approved" in r["detail"]
    assert server.api("GET", "/certificates?profile=tls-server")["certificates"] == before

    done = approve(server, people["officer2"], rid)
    assert done["status"] == "done", done
    assert done["result"]["status"] == 201
    serial = done["result"]["body"]["serial"]
    cert = server.api("GET", f"/certificates/{serial}")
    assert "two.example" in cert["subject"]
    approve(server, people["officer3"], rid, expect=409)  # nothing left to approve

    audit = server.audit()
    actions = [(e["action"], e["result"]) for e in audit]
    assert ("request.submit", "ok") in actions and ("request.done", "ok") in actions
    assert sum(1 for a in actions if a == ("request.approve", "ok")) == 2
    assert sum(1 for e in audit if e["action"] == "request.approve"
               and e["result"] == "refused") == 3  # own, twice, and after it was done
    issued = [e for e in audit if e["action"] == "cert.issue" and e["object"] == serial]
    assert issued and issued[0]["actor"] == people["requester_id"]

    # Webhooks: pending, approved, issued; each signed with the secret.
    receiver.wait("request.pending")
    receiver.wait("request.approved")
    got = receiver.wait("certificate.issued")
    assert any(e["data"]["serial"] == serial for e in got)
    for headers, body in receiver.events:
        ts = headers["X-Vouch-Timestamp"]
        mac = hmac.new(hook.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        assert headers["X-Vouch-Signature"] == "sha256=" + mac
        assert headers["X-Vouch-Delivery"] == json.loads(body)["id"]
    server.api("DELETE", "/workflows/profile:tls-server", expect=204)


def stored_certs(server, cn):
    return int(server.sql("SELECT count(*) FROM certs WHERE tenant = 'default' AND sans LIKE ?",
                          (f"%{cn}%",))[0][0])


def test_one_principal_with_two_tokens_gives_one_approval_only(server, people):
    """M = 2: officer1 holds a second token of its own; the approval given with the second
    token is refused as the same approver's, the request stays pending with one approval,
    and no certificate exists until a second principal approves."""
    server.api("PUT", "/workflows/profile:tls-server", {"required": 2, "expires_hours": 24})
    try:
        approve_with_two_tokens(server, people)
    finally:
        server.api("DELETE", "/workflows/profile:tls-server", expect=204)


def approve_with_two_tokens(server, people):
    laptop = server.api("POST", "/tokens", {"name": "officer1-laptop",
                                            "principal": people["officer1_id"]}, expect=201)
    second = laptop["token"]
    assert second != people["officer1"]
    rid = submit_issue(server, people["requester"], "two-tokens.example")["id"]
    one = approve(server, people["officer1"], rid)
    assert one["status"] == "pending" and len(one["approvals"]) == 1
    r = approve(server, second, rid, expect=409)
    assert "already approved" in r["detail"], r
    req = server.api("GET", f"/requests/{rid}")
    assert req["status"] == "pending" and len(req["approvals"]) == 1, req
    assert stored_certs(server, "two-tokens.example") == 0
    refused = [e for e in server.audit() if e["action"] == "request.approve"
               and e["object"] == rid and e["result"] == "refused"]
    assert len(refused) == 1 and refused[0]["actor"] == laptop["id"], refused
    # A second person completes it: exactly one certificate.
    done = approve(server, people["officer2"], rid)
    assert done["status"] == "done" and done["result"]["status"] == 201, done
    assert stored_certs(server, "two-tokens.example") == 1


def test_m_of_n_revocation_only_by_the_named_approvers(server, people, hook, receiver):
    serial = submit_issue(server, people["requester"], "mofn.example", expect=201)["serial"]
    server.api("PUT", "/workflows/cert.revoke",
               {"required": 2, "approvers": [people["officer2_id"], people["officer3_id"],
                                             people["requester_id"]]})
    req = server.api("POST", f"/certificates/{serial}/revoke", {"reason": "keyCompromise"},
                     expect=202, token=people["requester"])
    rid = req["id"]
    r = approve(server, people["officer1"], rid, expect=403)
    assert "not one of" in r["detail"]
    approve(server, people["requester"], rid, expect=403)  # listed, but its own request
    # Neither refusal counted.
    assert server.api("GET", f"/requests/{rid}")["approvals"] == []
    approve(server, people["officer2"], rid)
    assert server.api("GET", f"/certificates/{serial}")["status"] == "good"
    done = approve(server, people["officer3"], rid)
    assert done["status"] == "done"
    cert = server.api("GET", f"/certificates/{serial}")
    assert cert["status"] == "revoked" and cert["reason"] == "keyCompromise"
    assert any(e["data"]["serial"] == serial for e in receiver.wait("certificate.revoked"))
    # Bad workflows are refused.
    server.api("PUT", "/workflows/cert.revoke", {"required": 3, "approvers": ["a", "b"]},
               expect=400)
    server.api("PUT", "/workflows/cert.revoke", {"required": 1, "approvers": ["a", "a"]},
               expect=400)
    server.api("PUT", "/workflows/cert.frobnicate", {"required": 1}, expect=400)
    server.api("PUT", "/workflows/profile:nosuch", {"required": 1}, expect=404)
    server.api("DELETE", "/workflows/cert.revoke", expect=204)


def test_rejection_expiry_and_what_cannot_wait(server, people, hook):
    server.api("PUT", "/workflows/profile:tls-server", {"required": 1, "expires_hours": 1})
    rid = submit_issue(server, people["requester"], "reject.example")["id"]
    server.api("POST", f"/requests/{rid}/reject", {}, expect=400, token=people["officer1"])
    r = server.api("POST", f"/requests/{rid}/reject", {"reason": "not our domain"},
                   token=people["officer1"])
    assert r["status"] == "rejected" and r["reason"] == "not our domain"
    approve(server, people["officer2"], rid, expect=409)
    assert server.api("GET", f"/requests/{rid}")["status"] == "rejected"
    assert stored_certs(server, "reject.example") == 0

    rid = submit_issue(server, people["requester"], "late.example")["id"]
    server.sql("UPDATE requests SET expires = 1 WHERE id = ?", (rid,))
    r = approve(server, people["officer1"], rid, expect=409)
    assert "expired" in r["detail"]
    assert server.api("GET", f"/requests/{rid}")["status"] == "expired"
    assert stored_certs(server, "late.example") == 0

    # The scheduler expires pending requests by itself too.
    rid = submit_issue(server, people["requester"], "later.example")["id"]
    server.sql("UPDATE requests SET expires = 1 WHERE id = ?", (rid,))
    wait_for(lambda: server.api("GET", f"/requests/{rid}")["status"] == "expired", 10,
             "the scheduler to expire the request")
    assert server.api("GET", "/requests?status=pending")["requests"] == []
    mine = server.api("GET", f"/requests?requester={people['requester_id']}")["requests"]
    assert len(mine) >= 3 and all(r["requester"] == people["requester_id"] for r in mine)

    # Server-side key generation would have to keep the password while it waits: refused.
    r = server.api("POST", "/certificates/keygen",
                   {"ca": "issuing", "profile": "tls-server", "subject": "/CN=k.example",
                    "sans": ["dns:k.example"], "password": "long enough pw"}, expect=409)
    assert "needs approval" in r["detail"]
    server.api("POST", "/requests/req-0000000000000000/approve", {}, expect=404,
               token=people["officer1"])
    server.api("DELETE", "/workflows/profile:tls-server", expect=204)


def test_ca_creation_waits_for_approval(server, people):
    server.api("PUT", "/workflows/ca.create", {"required": 1})
    req = server.api("POST", "/cas", {"name": "approved-root", "subject": "/CN=Approved Root"},
                     expect=202, token=people["requester"])
    server.api("GET", "/cas/approved-root", expect=404)
    done = approve(server, people["officer1"], req["id"])
    assert done["status"] == "done" and done["result"]["status"] == 201
    assert server.api("GET", "/cas/approved-root")["status"] == "active"
    # A second request for the same name is approved but fails: recorded as failed.
    req = server.api("POST", "/cas", {"name": "approved-root", "subject": "/CN=Again"},
                     expect=202, token=people["requester"])
    failed = approve(server, people["officer1"], req["id"])
    assert failed["status"] == "failed" and failed["result"]["status"] == 409
    server.api("DELETE", "/workflows/ca.create", expect=204)


def person(server, name, roles, takes_over):
    """A principal with roles bound now and a token the tenant administrator made: taken over
    (rotated) by the principal when takes_over, else still the administrator's too."""
    p = server.api("POST", "/principals", {"name": name, "kind": "user"}, expect=201)
    for role in roles:
        server.api("POST", "/roles/bind", {"principal": p["id"], "role": role}, expect=201)
    if takes_over:
        return p["id"], own_token(server, p["id"], name)
    made = server.api("POST", "/tokens", {"name": name, "principal": p["id"]}, expect=201)
    return p["id"], made["token"]


def admin_id(server):
    return server.sql("SELECT id FROM principals WHERE tenant = 'default' AND name = 'admin'")[0][0]


def still_pending(server, rid, approvals, before):
    r = server.api("GET", f"/requests/{rid}")
    assert r["status"] == "pending" and len(r["approvals"]) == approvals, r
    assert server.api("GET", "/certificates?profile=tls-server&limit=1000")["certificates"] == before


def test_one_person_never_completes_a_two_approval_request_alone(server):
    """Issue 23: the tenant administrator makes the tokens of the requester and of both officers
    and uses them all; or makes the officers' tokens only; or binds the approvers' roles after
    the request: each approval that would be the same person's twice is refused."""
    server.api("PUT", "/workflows/profile:tls-server", {"required": 2, "expires_hours": 24})
    admin = admin_id(server)
    before = server.api("GET", "/certificates?profile=tls-server&limit=1000")["certificates"]

    # 1. Every token made by the administrator: no approval counts, the request stays pending.
    _, req = person(server, "sod-req-1", ["requester"], False)
    _, o1 = person(server, "sod-off-1", ["ra-officer"], False)
    _, o2 = person(server, "sod-off-2", ["ra-officer"], False)
    rid = submit_issue(server, req, "sod1.example")["id"]
    r = approve(server, o1, rid, expect=403)
    assert admin in r["detail"] and "behind the request" in r["detail"], r
    approve(server, o2, rid, expect=403)
    still_pending(server, rid, 0, before)
    refused = [e for e in server.audit() if e["action"] == "request.approve"
               and e["result"] == "refused" and e["object"] == rid]
    assert len(refused) == 2, refused

    # 2. The requester's own token, both officers' made by the administrator: one approval.
    _, req = person(server, "sod-req-2", ["requester"], True)
    rid = submit_issue(server, req, "sod2.example")["id"]
    one = approve(server, o1, rid)
    assert admin in one["approvals"][0]["persons"], one
    r = approve(server, o2, rid, expect=403)
    assert admin in r["detail"] and "approval given already" in r["detail"], r
    still_pending(server, rid, 1, before)
    # The second officer takes its token over: its approval is its own and completes it.
    o2_own = server.api("POST", "/tokens/rotate", {}, expect=201, token=o2)
    assert o2_own["creators"] == []
    approve(server, o2, rid, expect=401)  # the token it replaced is gone
    done = approve(server, o2_own["token"], rid)
    assert done["status"] == "done" and done["result"]["status"] == 201, done

    # 3. Approvers whose roles the administrator bound after the request: one of them only.
    _, req = person(server, "sod-req-3", ["requester"], True)
    _, own = person(server, "sod-off-3", ["ra-officer"], True)  # bound before the request
    rid = submit_issue(server, req, "sod3.example")["id"]
    ids, toks = zip(*(person(server, f"sod-late-{i}", [], True) for i in (1, 2)))
    for i in ids:
        server.api("POST", "/roles/bind", {"principal": i, "role": "ra-officer"}, expect=201)
    first = approve(server, toks[0], rid)
    assert admin in first["approvals"][0]["persons"], first
    r = approve(server, toks[1], rid, expect=403)
    assert admin in r["detail"], r
    before3 = server.api("GET", "/certificates?profile=tls-server&limit=1000")["certificates"]
    still_pending(server, rid, 1, before3)
    # An officer whose role was bound before the request (and whose token is its own) may.
    assert approve(server, own, rid)["status"] == "done"
    server.api("DELETE", "/workflows/profile:tls-server", expect=204)


def test_a_role_binding_can_wait_for_approval(server, people):
    """Issue 23: role grants are an operation a tenant can put under a workflow: the binding
    waits for another person's approval and is made when it comes, as its requester's."""
    server.api("PUT", "/workflows/role.bind", {"required": 1})
    try:
        p = server.api("POST", "/principals", {"name": "gated-officer", "kind": "user"},
                       expect=201)
        req = server.api("POST", "/roles/bind", {"principal": p["id"], "role": "ra-officer"},
                         expect=202)
        assert req["kind"] == "role.bind" and req["object"] == p["id"], req
        assert server.api("GET", f"/principals/{p['id']}")["roles"] == []
        # an unknown role never waits
        r = server.request("POST", "/api/v1/t/default/roles/bind",
                           {"principal": p["id"], "role": "overlord"})
        assert r.status == 400, r.body
        approve(server, "admin", req["id"], expect=403)  # the requester
        done = approve(server, people["officer1"], req["id"])
        assert done["status"] == "done" and done["result"]["status"] == 201, done
        assert done["result"]["body"]["role"] == "ra-officer"
        assert server.api("GET", f"/principals/{p['id']}")["roles"] == ["ra-officer"]
        # unbinding takes a role away at once
        server.api("POST", "/roles/unbind", {"principal": p["id"], "role": "ra-officer"})
        assert server.api("GET", f"/principals/{p['id']}")["roles"] == []
    finally:
        server.api("DELETE", "/workflows/role.bind", expect=204)


def test_webhook_urls_are_checked(server):
    for url in ("ftp://127.0.0.1/x", "http://user:pw@127.0.0.1/x", "not a url", "http://"):
        server.api("PUT", "/webhook", {"url": url}, expect=400)


def test_webhooks_are_off_unless_enabled(tmp_path):
    s = Server(str(tmp_path))
    try:
        r = s.api("PUT", "/webhook", {"url": "http://127.0.0.1:9/x"}, expect=403)
        assert "webhooks_enabled" in r["detail"]
    finally:
        s.stop()


def test_the_webhook_secret_is_kept_by_the_signer_only(tmp_path):
    """The database keeps the key id and nonce the signer derives a webhook's secret from, never
    the secret; setting the webhook again makes a new secret from the same key; a webhook stored
    with its secret in clear (before schema 12) is still signed with that secret."""
    s = Server(str(tmp_path), conf="webhooks_enabled = yes\n")
    rcv = Receiver()
    issued = [0]

    def last_signed_with(secret):
        issued[0] += 1
        cn = f"hook{issued[0]}.example"
        csr, _ = make_csr(cn=cn, dns=[cn])
        s.api("POST", "/certificates", {"ca": "issuing", "profile": "tls-server", "csr": csr},
              expect=201)
        rcv.wait("certificate.issued", count=issued[0])
        headers, body = [(h, b) for h, b in rcv.events if cn.encode() in b][0]
        mac = hmac.new(secret.encode(), headers["X-Vouch-Timestamp"].encode() + b"." + body,
                       hashlib.sha256).hexdigest()
        return headers["X-Vouch-Signature"] == "sha256=" + mac

    try:
        first = s.api("PUT", "/webhook", {"url": rcv.url})["secret"]
        (row1,) = s.sql("SELECT secret, key_id, nonce FROM webhooks")
        assert row1[0] == "" and row1[1].startswith("key-") and len(row1[2]) == 64, row1
        assert first not in json.dumps(s.audit())
        if s.pg_database is None:
            for name in ("vouch.db", "vouch.db-wal"):
                path = os.path.join(s.dir, name)
                if os.path.exists(path):
                    assert first.encode() not in open(path, "rb").read()
        assert last_signed_with(first)
        r = s.api("DELETE", f"/keys/{row1[1]}", expect=409)  # the webhook's key stays
        assert "webhook" in r["detail"]
        second = s.api("PUT", "/webhook", {"url": rcv.url})["secret"]
        (row2,) = s.sql("SELECT secret, key_id, nonce FROM webhooks")
        assert second != first and row2[1] == row1[1] and row2[2] != row1[2]
        assert last_signed_with(second) and not last_signed_with(first)
        s.sql("UPDATE webhooks SET secret = 'whsec_stored-in-clear', key_id = NULL, nonce = NULL")
        assert last_signed_with("whsec_stored-in-clear")
    finally:
        rcv.stop()
        s.stop()


def test_the_cli_sets_a_workflow_and_decides(server, people):
    server.cli("workflow", "set", "profile:tls-client", "--required", "1", "--approver",
               people["officer1_id"], "--expires-hours", "4")
    shown = server.cli("workflow", "show", "profile:tls-client", "--json").stdout
    assert json.loads(shown)["approvers"] == [people["officer1_id"]]
    csr, _ = make_csr(cn="cli-client")
    rid = server.api("POST", "/certificates", {"ca": "issuing", "profile": "tls-client",
                                               "csr": csr}, expect=202,
                     token=people["requester"])["id"]
    assert rid in server.cli("request", "list", "--status", "pending").stdout
    p = server.cli("request", "approve", rid, token=people["officer2"], check=False)
    assert p.returncode == 1 and "not one of" in p.stderr
    out = server.cli("request", "approve", rid, "--json", token=people["officer1"]).stdout
    assert json.loads(out)["status"] == "done"
    server.cli("workflow", "delete", "profile:tls-client")
