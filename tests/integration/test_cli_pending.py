"""The CLI under approval workflows: a held-back operation prints its pending request and exits 0
writing nothing; --wait waits for the decision and then writes the result, or exits 1 with the
reason."""
import json
import os
import re
import subprocess

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from conftest import VOUCH, make_csr, own_token, read_line, write

REQUEST_ID = re.compile(r"req-[0-9a-f]{16}")


@pytest.fixture(scope="module")
def people(server):
    """Tokens of distinct principals: alice may only request certificates (and read her own
    requests), carol is an RA officer who revokes, bob an RA officer who decides."""
    roles = {"alice": ["requester"], "bob": ["ra-officer"], "carol": ["ra-officer"]}
    out = {}
    for name, bound in roles.items():
        p = server.api("POST", "/principals", {"name": name, "kind": "user"}, expect=201)
        for role in bound:
            server.api("POST", "/roles/bind", {"principal": p["id"], "role": role}, expect=201)
        out[name] = own_token(server, p["id"], name)
    return out


@pytest.fixture
def tls_server_workflow(server):
    server.api("PUT", "/workflows/profile:tls-server", {"required": 1, "expires_hours": 1})
    yield
    server.api("DELETE", "/workflows/profile:tls-server", expect=204)


def cli_env(server, token):
    env = dict(os.environ, VOUCH_URL=server.url, VOUCH_TOKEN=token, VOUCH_TENANT="default",
               VOUCH_CONFIG="")
    if server.cacert:
        env["VOUCH_CACERT"] = server.cacert
    return env


class Waiting:
    """`vouch ... --wait` in the background: the request id is read from its first line on
    stderr, which it prints before it starts waiting."""

    def __init__(self, server, token, *args):
        self.proc = subprocess.Popen([VOUCH, *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     env=cli_env(server, token))
        self.first = read_line(self.proc, 60, "vouch --wait", self.proc.stderr)
        m = REQUEST_ID.search(self.first)
        if m is None:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"no request id: {self.first!r} {out!r} {err!r}")
        self.id = m.group(0)

    def finish(self, timeout=60):
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, self.first + err


def issue_args(tmp_path, cn, *extra):
    csr, _ = make_csr(cn=cn, dns=[cn])
    path = write(tmp_path / f"{cn}.csr", csr)
    return ["cert", "issue", "--ca", "issuing", "--profile", "tls-server", "--csr", path, *extra]


def test_a_held_back_issue_prints_its_request_and_writes_nothing(server, people,
                                                                 tls_server_workflow, tmp_path):
    out_pem = tmp_path / "out.pem"
    p = server.cli(*issue_args(tmp_path, "pending.example", "-o", str(out_pem)),
                   token=people["alice"])
    assert "the answer has no" not in p.stdout + p.stderr
    first = p.stdout.splitlines()[0]
    assert re.fullmatch(r"request req-[0-9a-f]{16} is pending: 0 of 1 approvals "
                        r"\(kind cert\.issue\)", first), p.stdout
    rid = REQUEST_ID.search(first).group(0)
    assert f"vouch request show {rid}" in p.stdout and "--wait" in p.stdout
    assert not out_pem.exists()
    assert server.api("GET", f"/requests/{rid}", token=people["alice"])["status"] == "pending"

    # --json: the request as the server answered it.
    p = server.cli("--json", *issue_args(tmp_path, "pending-json.example", "-o", str(out_pem)),
                   token=people["alice"])
    req = json.loads(p.stdout)
    assert req["status"] == "pending" and req["kind"] == "cert.issue" and req["required"] == 1
    assert REQUEST_ID.fullmatch(req["id"]) and not out_pem.exists()


def test_without_a_workflow_wait_changes_nothing(server, people, tmp_path):
    out_pem = tmp_path / "out.pem"
    p = server.cli(*issue_args(tmp_path, "direct.example", "-o", str(out_pem), "--wait"),
                   token=people["alice"])
    assert b"BEGIN CERTIFICATE" in out_pem.read_bytes()
    assert "serial:" in p.stdout and p.stderr == ""


def test_wait_writes_the_certificate_once_another_principal_approves(server, people,
                                                                    tls_server_workflow,
                                                                    tmp_path):
    out_pem, chain = tmp_path / "out.pem", tmp_path / "chain.pem"
    w = Waiting(server, people["alice"],
                *issue_args(tmp_path, "waited.example", "-o", str(out_pem), "--chain-out",
                            str(chain), "--wait", "--wait-timeout", "60"))
    assert "waiting" in w.first and "kind cert.issue" in w.first
    assert w.proc.poll() is None and not out_pem.exists()
    done = server.api("POST", f"/requests/{w.id}/approve", {}, token=people["bob"])
    assert done["status"] == "done", done
    rc, out, err = w.finish()
    assert rc == 0, err
    cert = x509.load_pem_x509_certificate(out_pem.read_bytes())
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == "waited.example"
    assert cert.serial_number == int(done["result"]["body"]["serial"], 16)
    assert b"BEGIN CERTIFICATE" in chain.read_bytes()
    assert "serial:" in out and "approved" in err


def test_wait_on_a_rejected_request_exits_1_with_the_reason(server, people, tls_server_workflow,
                                                            tmp_path):
    out_pem = tmp_path / "out.pem"
    w = Waiting(server, people["alice"],
                *issue_args(tmp_path, "rejected.example", "-o", str(out_pem), "--wait"))
    server.api("POST", f"/requests/{w.id}/reject", {"reason": "not our domain"},
               token=people["bob"])
    rc, out, err = w.finish()
    assert rc == 1, err
    assert f"request {w.id} (kind cert.issue) was rejected: not our domain" in err
    assert not out_pem.exists() and out == ""


def test_wait_gives_up_after_its_timeout_naming_the_request(server, people, tls_server_workflow,
                                                           tmp_path):
    p = server.cli(*issue_args(tmp_path, "slow.example", "--wait", "--wait-timeout", "1"),
                   token=people["alice"], check=False)
    assert p.returncode == 1
    rid = REQUEST_ID.search(p.stderr).group(0)
    assert f"request {rid} is still pending after 1 s" in p.stderr
    assert p.stdout == ""
    assert server.api("GET", f"/requests/{rid}")["status"] == "pending"


def test_a_held_back_revocation_waits_for_its_approval(server, people, tmp_path):
    serials = []
    for cn in ("revoke1.example", "revoke2.example"):
        csr, _ = make_csr(cn=cn, dns=[cn])
        serials.append(server.api("POST", "/certificates", {"ca": "issuing",
                                                             "profile": "tls-server",
                                                             "csr": csr}, expect=201)["serial"])
    server.api("PUT", "/workflows/cert.revoke", {"required": 1})
    try:
        p = server.cli("cert", "revoke", serials[0], "--reason", "keyCompromise",
                       token=people["carol"])
        assert re.match(r"request req-[0-9a-f]{16} is pending: 0 of 1 approvals "
                        r"\(kind cert\.revoke\)", p.stdout), p.stdout
        assert server.api("GET", f"/certificates/{serials[0]}")["status"] == "good"

        w = Waiting(server, people["carol"], "cert", "revoke", serials[1], "--reason",
                    "superseded", "--wait")
        assert "kind cert.revoke" in w.first
        server.api("POST", f"/requests/{w.id}/approve", {}, token=people["bob"])
        rc, out, err = w.finish()
        assert rc == 0, err
        assert "status:" in out and "revoked" in out
        cert = server.api("GET", f"/certificates/{serials[1]}")
        assert cert["status"] == "revoked" and cert["reason"] == "superseded"
    finally:
        server.api("DELETE", "/workflows/cert.revoke", expect=204)


def test_a_held_back_ca_creation_waits_and_shows_the_ca(server, people):
    server.api("PUT", "/workflows/ca.create", {"required": 1})
    try:
        w = Waiting(server, server.token, "ca", "create", "held", "--subject", "/CN=Held",
                    "--parent", "root", "--wait")
        assert "kind ca.create" in w.first
        server.api("GET", "/cas/held", expect=404)
        server.api("POST", f"/requests/{w.id}/approve", {}, token=people["bob"])
        rc, out, err = w.finish()
        assert rc == 0, err
        assert re.search(r"^name: +held$", out, re.M) and re.search(r"^status: +active$", out, re.M)
        assert server.api("GET", "/cas/held")["status"] == "active"
    finally:
        server.api("DELETE", "/workflows/ca.create", expect=204)
