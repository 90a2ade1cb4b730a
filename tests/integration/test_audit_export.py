"""Audit a tenant can hand to its auditors: signed checkpoints, tamper detection, export."""
import base64
import hashlib
import json
import os

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from conftest import Server, make_csr, other_tenant, run, wait_for, write

GENESIS = "0" * 64


def row_hash(r):
    """The vouch-audit-v1 hash of a row (docs/decisions.md), computed independently."""
    out = b"vouch-audit-v1\n"
    for v in (r["tenant"], str(r["seq"]), str(r["time"]), r["actor"], r["action"], r["object"],
              r["result"], r["detail"], r["prev_hash"]):
        b = v.encode()
        out += str(len(b)).encode() + b":" + b + b"\n"
    return hashlib.sha256(out).hexdigest()


def wait_checkpoint_at_head(s, tenant="default", token="admin"):
    """Waits until the periodic checkpoint signs the current head; returns the checkpoints."""
    def at_head():
        head = s.audit(tenant, token=token)[-1]["seq"]
        cps = s.request("GET", f"/api/v1/t/{tenant}/audit/checkpoints", token=token).json()
        return cps["checkpoints"] and cps["checkpoints"][-1]["seq"] == head and cps
    return wait_for(at_head, 10, "a checkpoint at the chain head")


def verify_export(lines):
    """Offline check of an export: chain, checkpoint signatures and hashes."""
    key = load_pem_public_key(lines[0]["public_key"].encode())
    events = {l["seq"]: l for l in lines if l["type"] == "event"}
    prev = GENESIS
    for seq in sorted(events):
        e = events[seq]
        assert e["prev_hash"] == prev and row_hash(e) == e["hash"], seq
        prev = e["hash"]
    cps = [l for l in lines if l["type"] == "checkpoint"]
    for c in cps:
        der = base64.b64decode(c["der"])
        key.verify(base64.b64decode(c["signature"]), der, ec.ECDSA(hashes.SHA256()))
        assert bytes.fromhex(c["head_hash"]) in der and c["tenant"].encode() in der
        assert events[c["seq"]]["hash"] == c["head_hash"]
    return cps


def test_the_chain_head_is_signed_periodically_by_a_key_of_the_tenant(server, tmp_path):
    csr, _ = make_csr(cn="cp.example", dns=["cp.example"])
    server.api("POST", "/certificates", {"ca": "issuing", "profile": "tls-server", "csr": csr},
               expect=201)
    cps = wait_checkpoint_at_head(server)
    key = load_pem_public_key(cps["public_key"].encode())
    cp = cps["checkpoints"][-1]
    der = base64.b64decode(cp["der"])
    key.verify(base64.b64decode(cp["signature"]), der, ec.ECDSA(hashes.SHA256()))
    # The DER is the documented AuditCheckpoint, readable by openssl.
    write(tmp_path / "cp.der", "")
    (tmp_path / "cp.der").write_bytes(der)
    text = run("openssl", "asn1parse", "-inform", "DER", "-in", str(tmp_path / "cp.der")).stdout
    assert cps["checkpoint_oid"] in text and "UTF8STRING        :default" in text
    assert "GENERALIZEDTIME" in text
    # The audit key is the tenant's, in the signer; it cannot be deleted.
    assert cps["key_id"] in [k["key_id"] for k in server.api("GET", "/keys")["keys"]]
    server.api("DELETE", f"/keys/{cps['key_id']}", expect=409)
    v = server.api("GET", "/audit/verify")
    assert v["ok"] is True and v["checkpoints"] >= 1


def test_export_as_json_lines_verifies_offline_and_matches_the_cli(server, tmp_path):
    wait_checkpoint_at_head(server)
    r = server.request("GET", "/api/v1/t/default/audit/export")
    assert r.status == 200 and r.headers["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(l) for l in r.body.decode().splitlines()]
    assert lines[0]["type"] == "audit-key"
    assert [l["seq"] for l in lines if l["type"] == "event"] == \
        [e["seq"] for e in server.audit()]
    assert verify_export(lines)
    # Paging by seq: a page holds the events after `after`.
    page = server.request("GET", "/api/v1/t/default/audit/export?after=2&limit=3").body.decode()
    page = [json.loads(l) for l in page.splitlines()]
    assert [l["seq"] for l in page if l["type"] == "event"] == [3, 4, 5]
    server.cli("audit", "export", "-o", str(tmp_path / "audit.jsonl"))
    exported = [json.loads(l) for l in open(tmp_path / "audit.jsonl")]
    assert [l for l in exported if l["type"] == "event"] == \
        [l for l in lines if l["type"] == "event"]


def test_the_checkpoint_route_and_export_need_the_tenants_audit_permissions(server):
    intruder = other_tenant(server, "audit-intruder")
    for method, path in (("GET", "/audit/export"), ("GET", "/audit/checkpoints"),
                         ("POST", "/audit/checkpoints")):
        before = len(server.audit())
        r = server.request(method, "/api/v1/t/default" + path, {} if method == "POST" else None,
                           token=intruder)
        assert r.status == 403
        after = server.audit()
        assert len(after) == before + 1 and after[-1]["result"] == "refused"
        # The system administrator holds no tenant role: refused and audited too.
        r = server.request(method, "/api/v1/t/default" + path, {} if method == "POST" else None,
                           token="system")
        assert r.status == 403
        last = server.audit()[-1]
        assert last["action"] == "auth.refused" and last["result"] == "refused"


@pytest.fixture
def lone(tmp_path):
    """A server of its own, whose database the test may damage."""
    s = Server(str(tmp_path))
    yield s
    s.stop()


def damage(s, *statements):
    for sql, args in statements:
        s.sql(sql, args)


def test_removing_rows_after_a_checkpoint_is_detected(lone):
    head = lone.api("POST", "/audit/checkpoints", {})["seq"]
    assert lone.api("GET", "/audit/verify")["ok"] is True
    # Without the checkpoint, dropping the last two rows would leave an intact chain.
    damage(lone, ("DELETE FROM audit WHERE tenant = 'default' AND seq > ?", (head - 2,)))
    v = lone.api("GET", "/audit/verify")
    assert v["ok"] is False and v["first_bad_seq"] == head - 1, v
    p = lone.cli("audit", "verify", check=False)
    assert p.returncode == 1 and f"BROKEN at event {head - 1}" in p.stdout


def test_a_recomputed_chain_is_caught_by_the_signed_checkpoint(lone):
    head = lone.api("POST", "/audit/checkpoints", {})["seq"]
    rows = lone.audit()
    # Rewrite row 3 and re-hash every row after it: the chain alone verifies.
    cols = ("tenant", "seq", "time", "actor", "action", "object", "result", "detail",
            "prev_hash", "hash")
    raw = [dict(zip(cols, r)) for r in lone.sql("SELECT " + ", ".join(cols) + " FROM audit "
                                                 "WHERE tenant = 'default' ORDER BY seq")]
    for r in raw:
        r["seq"] = int(r["seq"])
    prev = GENESIS
    for r in raw:
        if r["seq"] == 3:
            r["object"] = "forged"
        r["prev_hash"] = prev
        r["hash"] = row_hash(r)
        prev = r["hash"]
        lone.sql("UPDATE audit SET object = ?, prev_hash = ?, hash = ? WHERE tenant = ? "
                 "AND seq = ?", (r["object"], r["prev_hash"], r["hash"], r["tenant"], r["seq"]))
    assert len(rows) == head
    v = lone.api("GET", "/audit/verify")
    assert v["ok"] is False and v["first_bad_seq"] == 1 and "checkpoint" in v["reason"], v


def test_reordered_rows_are_detected_at_the_first_moved_row(lone):
    lone.api("POST", "/audit/checkpoints", {})
    damage(lone, ("UPDATE audit SET seq = -4 WHERE tenant = 'default' AND seq = 4", ()),
           ("UPDATE audit SET seq = 4 WHERE tenant = 'default' AND seq = 5", ()),
           ("UPDATE audit SET seq = 5 WHERE tenant = 'default' AND seq = -4", ()))
    v = lone.api("GET", "/audit/verify")
    assert v["ok"] is False and v["first_bad_seq"] == 4, v


def test_a_forged_checkpoint_signature_is_detected(lone):
    seq = lone.api("POST", "/audit/checkpoints", {})["seq"]
    damage(lone, ("UPDATE audit_checkpoints SET sig = ? WHERE tenant = 'default' AND seq = ?",
                  (bytes.fromhex("3006020101020101"), seq)))
    v = lone.api("GET", "/audit/verify")
    assert v["ok"] is False and v["first_bad_seq"] == seq and "signature" in v["reason"], v


def test_vouch_audit_verify_offline_checks_an_export_without_the_server(server, tmp_path):
    wait_checkpoint_at_head(server)
    path = tmp_path / "export.jsonl"
    server.cli("audit", "export", "-o", str(path))
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOUCH_")}
    from conftest import VOUCH
    import subprocess

    def offline(p):
        return subprocess.run([VOUCH, "audit", "verify", "--offline", str(p)], env=env,
                              capture_output=True, text=True, timeout=60)

    r = offline(path)
    assert r.returncode == 0 and "intact" in r.stdout and "default" in r.stdout, r.stdout + r.stderr
    lines = [json.loads(l) for l in open(path)]
    events = [l for l in lines if l["type"] == "event"]
    # An edited event.
    edited = [dict(l) for l in lines]
    victim = next(i for i, l in enumerate(edited) if l.get("seq") == 3 and l["type"] == "event")
    edited[victim]["actor"] = "someone-else"
    write(tmp_path / "edited.jsonl", "".join(json.dumps(l) + "\n" for l in edited))
    r = offline(tmp_path / "edited.jsonl")
    assert r.returncode == 1 and "BROKEN at event 3" in r.stdout, r.stdout
    # The tail cut after the last checkpoint's event: its checkpoint still names it.
    last_cp = [l for l in lines if l["type"] == "checkpoint"][-1]
    cut = [l for l in lines if not (l["type"] == "event" and l["seq"] >= last_cp["seq"] - 1)]
    cut = [l for l in cut if l["type"] != "checkpoint"] + [last_cp]
    write(tmp_path / "cut.jsonl", "".join(json.dumps(l) + "\n" for l in cut))
    r = offline(tmp_path / "cut.jsonl")
    assert r.returncode == 1 and f"BROKEN at event {last_cp['seq'] - 1}" in r.stdout, r.stdout
    # A forged signature.
    forged = [dict(l) for l in lines]
    cp = next(i for i, l in enumerate(forged) if l["type"] == "checkpoint")
    forged[cp]["signature"] = base64.b64encode(b"0\x06\x02\x01\x01\x02\x01\x01").decode()
    write(tmp_path / "forged.jsonl", "".join(json.dumps(l) + "\n" for l in forged))
    r = offline(tmp_path / "forged.jsonl")
    assert r.returncode == 1 and "bad signature" in r.stdout, r.stdout
    assert len(events) > 3


def test_the_cli_exports_the_whole_chain_page_by_page(server, tmp_path):
    whole = server.request("GET", "/api/v1/t/default/audit/export").body.decode()
    server.cli("audit", "export", "--page-size", "3", "-o", str(tmp_path / "paged.jsonl"))
    paged = open(tmp_path / "paged.jsonl").read()
    events = [json.loads(l) for l in whole.splitlines() if '"event"' in l]
    got = [json.loads(l) for l in paged.splitlines()]
    assert len(events) > 6
    assert [l for l in got if l["type"] == "event"][:len(events)] == events
    assert sum(1 for l in got if l["type"] == "audit-key") == 1 and got[0]["type"] == "audit-key"
    p = server.cli("audit", "export", "--page-size", "0", check=False)
    assert p.returncode == 2


def test_the_system_chain_is_checkpointed_verified_and_exported(server, tmp_path):
    v = wait_for(lambda: (lambda v: v["checkpoints"] > 0 and v)(
        server.request("GET", "/api/v1/audit/verify", token="system").json()), 10,
        "the system chain's first checkpoint")
    assert v["ok"] is True and v["checkpoints"] > 0, v
    p = server.cli("system", "verify", token=server.system_token)
    assert "audit chain of _system:" in p.stdout and "intact" in p.stdout
    server.cli("system", "export", "-o", str(tmp_path / "system.jsonl"),
               token=server.system_token)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOUCH_")}
    from conftest import VOUCH
    import subprocess
    r = subprocess.run([VOUCH, "audit", "verify", "--offline", str(tmp_path / "system.jsonl")],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "_system" in r.stdout and "intact" in r.stdout, r.stdout
    # A tenant's token reads none of it.
    assert server.request("GET", "/api/v1/audit/export").status == 403
