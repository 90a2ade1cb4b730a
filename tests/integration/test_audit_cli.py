"""The audit chain, its verification, and the vouch CLI end to end."""
import json

from conftest import make_csr, run, write


def test_every_state_change_is_an_audited_event(server):
    csr, _ = make_csr(cn="audited.example", dns=["audited.example"])
    cert = server.api("POST", "/certificates", {"ca": "issuing", "profile": "tls-server",
                                                "csr": csr}, expect=201)
    server.api("POST", f"/certificates/{cert['serial']}/revoke", {"reason": "superseded"})
    events = server.audit()
    actions = [(e["action"], e["object"], e["result"]) for e in events]
    assert ("cert.issue", cert["serial"], "ok") in actions
    assert ("cert.revoke", cert["serial"], "ok") in actions
    assert ("ca.create", "issuing", "ok") in actions
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1))
    for prev, cur in zip(events, events[1:]):
        assert cur["prev_hash"] == prev["hash"]


def test_refused_request_is_audited_and_changes_nothing(server):
    before = server.audit()
    r = server.request("POST", "/api/v1/t/default/certificates",
                       {"ca": "issuing", "profile": "tls-server", "csr": "garbage"})
    assert r.status == 400
    after = server.audit()
    assert len(after) == len(before) + 1
    assert after[-1]["action"] == "cert.issue" and after[-1]["result"] == "refused"


def test_audit_verify_names_the_first_edited_row(tmp_path):
    from conftest import Server
    s = Server(str(tmp_path))
    try:
        assert s.api("GET", "/audit/verify")["ok"] is True
        p = s.cli("audit", "verify")
        assert "intact" in p.stdout
        target = [e for e in s.audit() if e["action"] == "ca.create"][1]["seq"]
        s.sql("UPDATE audit SET object = 'forged' WHERE tenant = 'default' AND seq = ?",
              (target,))
        v = s.api("GET", "/audit/verify")
        assert v["ok"] is False and v["first_bad_seq"] == target
        p = s.cli("audit", "verify", check=False)
        assert p.returncode == 1 and str(target) in (p.stdout + p.stderr)
    finally:
        s.stop()


def test_cli_issue_revoke_crl_and_inspect(server, tmp_path):
    csr, _ = make_csr(cn="cli.example", dns=["cli.example"])
    write(tmp_path / "cli.csr", csr)
    p = server.cli("cert", "issue", "--ca", "issuing", "--profile", "tls-server", "--csr",
                   str(tmp_path / "cli.csr"), "-o", str(tmp_path / "cli.pem"))
    text = run("openssl", "x509", "-noout", "-serial", "-in", str(tmp_path / "cli.pem")).stdout
    serial = text.strip().split("=")[1].lower().lstrip("0")
    listed = json.loads(server.cli("--json", "cert", "list", "--serial", serial).stdout)
    assert [c["serial"] for c in listed["certificates"]] == [serial]
    server.cli("cert", "revoke", serial, "--reason", "cessationOfOperation")
    server.cli("crl", "generate", "issuing", "-o", str(tmp_path / "crl.pem"))
    # The CRL as openssl reads it: signed by the issuing CA, and the revoked serial's entry
    # carries the reason given on the command line.
    issuing = write(tmp_path / "issuing.pem", server.api("GET", "/cas/issuing")["certificate"])
    p = run("openssl", "crl", "-in", str(tmp_path / "crl.pem"), "-CAfile", issuing, "-noout",
            "-text")
    assert "verify OK" in p.stderr, p.stderr
    entries = {}
    for block in p.stdout.split("Serial Number: ")[1:]:
        number, rest = block.split("\n", 1)
        entries[number.strip().lower().lstrip("0")] = rest.split("Signature Algorithm")[0]
    assert serial in entries, (serial, list(entries))
    assert "X509v3 CRL Reason Code" in entries[serial], entries[serial]
    assert "Cessation Of Operation" in entries[serial], entries[serial]
    out = server.cli("inspect", str(tmp_path / "crl.pem")).stdout
    assert "Cessation Of Operation" in out or "cessationOfOperation" in out
    out = server.cli("inspect", str(tmp_path / "cli.pem")).stdout
    assert "cli.example" in out
    out = server.cli("inspect", str(tmp_path / "cli.csr")).stdout
    assert "cli.example" in out
    p = server.cli("cert", "show", "ffff", check=False)
    assert p.returncode == 1 and "not found" in p.stderr
    p = server.cli("ca", "list", token="vouch_bad", check=False)
    assert p.returncode == 1 and "401" in p.stderr


def test_cli_ca_profile_entity_and_token_commands(server, tmp_path):
    server.cli("ca", "create", "cli-root", "--subject", "/CN=CLI Root", "--key-type", "ec-p384")
    server.cli("ca", "create", "cli-sub", "--subject", "/CN=CLI Sub", "--parent", "cli-root")
    shown = json.loads(server.cli("--json", "ca", "show", "cli-sub").stdout)
    assert shown["parent"] == "cli-root"
    human = server.cli("ca", "list").stdout
    assert "cli-root" in human and "cli-sub" in human
    server.cli("profile", "clone", "tls-client", "cli-client")
    assert "cli-client" in server.cli("profile", "list").stdout
    ent = json.loads(server.cli("--json", "entity", "create", "bob", "--kind", "user", "--email",
                                "bob@example.com").stdout)
    assert ent["email"] == "bob@example.com"
    tok = json.loads(server.cli("--json", "token", "create", "ci-bot").stdout)
    assert tok["token"].startswith("vt_")
    assert server.request("GET", "/api/v1/t/default/cas", token=tok["token"]).status == 200
    server.cli("token", "delete", tok["id"])
    assert server.request("GET", "/api/v1/t/default/cas", token=tok["token"]).status == 401


def test_audit_listing_refuses_bad_paging_arguments(server):
    for query in ("after=abc", "after=-1", "limit=0", "limit=99999"):
        r = server.request("GET", "/api/v1/t/default/audit?" + query)
        assert r.status == 400, query
        assert r.json()["error"] == "bad_request"
    r = server.request("GET", "/api/v1/t/default/audit?after=1&limit=2")
    lines = [l for l in r.body.decode().splitlines() if l]
    assert r.status == 200 and len(lines) == 2
    assert [json.loads(l)["seq"] for l in lines] == [2, 3]
