"""The offline CA (issue 8): a root kept off the network, its ceremony with custodian shares,
sub-CA signing, revocation and outage issuance, carried back by signed bundles."""
import base64
import json
import os
import subprocess

import pytest
from cryptography import x509

from conftest import (SOFTHSM_MODULE, VOUCH, Server, SoftHSM, make_csr, other_tenant, run,
                      write)

HSM = os.environ.get("VOUCH_TEST_KEYSTORE") == "pkcs11"


def offline(d, *args, check=True, env=None):
    """vouch offline VERB --dir STORE ... with no server settings at all."""
    env = dict({k: v for k, v in os.environ.items() if not k.startswith("VOUCH_")}, **(env or {}))
    p = subprocess.run([VOUCH, "offline", args[0], "--dir", str(d / "store"), *args[1:]],
                       capture_output=True, text=True, timeout=120, env=env, cwd=str(d))
    if check:
        assert p.returncode == 0, f"vouch offline {' '.join(args)}: {p.stdout}\n{p.stderr}"
    return p


def unlock(d, *shares):
    out = []
    for k in shares or (1, 3):
        out += ["--share", str(d / f"custodian-{k}.share")]
    return out


def import_bundle(server, path, pin=None, tenant="default", token="admin"):
    body = {"bundle": open(path).read()}
    if pin:
        body["pin"] = pin
    return server.request("POST", f"/api/v1/t/{tenant}/offline/import", body, token=token)


def der_of(server, serial):
    f = "hex(der)" if server.pg_database is None else "encode(der, 'hex')"
    return bytes.fromhex(server.sql(f"SELECT {f} FROM certs WHERE serial = ?", (serial,))[0][0])


def cert_status(server, serial):
    return server.api("GET", f"/certificates/{serial}")["status"]


@pytest.fixture(scope="module")
def ceremony(server, tmp_path_factory):
    """Root initialised offline with 2-of-3 custodian shares; the online issuing CA's CSR
    (with a responder CSR for the root) signed offline; the answer imported with the pin."""
    d = tmp_path_factory.mktemp("offline")
    p = offline(d, "init", "--tenant", "default", "--name", "offroot",
                "--subject", "/O=Vouch Test/CN=Offline Root", "--public-url", server.public_url,
                "--shares", "3", "--threshold", "2", "--share-out", str(d / "custodian"))
    fpr = p.stdout.split("SHA-256 fingerprint: ")[1].split()[0]
    server.api("POST", "/cas", {"name": "offsub", "external": True,
                                "subject": "/O=Vouch Test/CN=Offline-rooted Issuing CA"},
               expect=201)
    server.cli("ca", "offline-request", "offsub", "--root", "offroot", "-o",
               str(d / "request.json"))
    offline(d, "sign", *unlock(d), "--request", str(d / "request.json"),
            "-o", str(d / "answer.json"))
    # A root new to the tenant needs its fingerprint pinned, and the right one.
    r = import_bundle(server, d / "answer.json")
    assert r.status == 400 and "pin its SHA-256 fingerprint " + fpr in r.json()["detail"], r.body
    r = import_bundle(server, d / "answer.json", pin="ab" * 32)
    assert r.status == 400 and "not the pinned" in r.json()["detail"], r.body
    assert server.request("GET", "/api/v1/t/default/cas/offroot").status == 404
    r = import_bundle(server, d / "answer.json", pin=fpr.upper())
    assert r.status == 200, r.body
    return {"dir": d, "fpr": fpr, "first": r.json(), "root": str(d / "store" / "offroot.pem")}


def test_ceremony_root_signs_the_online_sub_ca_which_then_issues(server, ceremony, tmp_path):
    first = ceremony["first"]
    assert first["status"] == "imported" and first["new_root"] and first["activated"] == ["offsub"]
    root = server.api("GET", "/cas/offroot")
    sub = server.api("GET", "/cas/offsub")
    assert root["status"] == "offline" and sub["status"] == "active"
    assert sub["chain"] == open(ceremony["root"]).read()
    csr, _ = make_csr(cn="www.offline.example", dns=["www.offline.example"])
    leaf = server.api("POST", "/certificates", {"ca": "offsub", "profile": "tls-server",
                                                "csr": csr}, expect=201)
    chain = write(tmp_path / "chain.pem", sub["certificate"])
    run("openssl", "verify", "-x509_strict", "-CAfile", ceremony["root"], "-untrusted", chain,
        write(tmp_path / "leaf.pem", leaf["certificate"]))
    # The sub-CA's certificate is a record of the offline root, found by search.
    serial = x509.load_pem_x509_certificate(sub["certificate"].encode()).serial_number
    found = server.api("GET", "/certificates?ca=offroot")["certificates"]
    assert format(serial, "x") in [c["serial"] for c in found]


def test_online_serves_the_roots_crl_and_answers_ocsp_for_its_certificates(
        server, ceremony, tmp_path):
    crl = tmp_path / "root.crl"
    run("curl", "-sf", "-o", str(crl), f"{server.public_url}/crl/default/offroot.crl")
    p = run("openssl", "crl", "-inform", "DER", "-in", str(crl), "-CAfile", ceremony["root"],
            "-noout", "-nextupdate")
    assert "verify OK" in p.stderr + p.stdout
    sub = write(tmp_path / "sub.pem", server.api("GET", "/cas/offsub")["certificate"])
    p = run("openssl", "ocsp", "-issuer", ceremony["root"], "-cert", sub, "-url",
            f"{server.public_url}/ocsp/default", "-CAfile", ceremony["root"], check=False)
    assert "Response verify OK" in p.stderr and f"{sub}: good" in p.stdout, p.stdout + p.stderr


def test_offline_chain_is_appended_to_the_tenants_audit_log(server, ceremony):
    events = server.audit()
    actions = [e["action"] for e in events]
    assert "offline.ca.create" in actions and "offline.offline.export" in actions
    assert "offline.import" in actions
    v = server.api("GET", "/audit/verify")
    assert v["ok"], v


def test_the_same_bundle_again_is_reported_unchanged_and_writes_nothing(server, ceremony):
    d = ceremony["dir"]
    before = len(server.audit())
    r = import_bundle(server, d / "answer.json", pin=ceremony["fpr"])
    assert r.status == 200 and r.json()["status"] == "unchanged", r.body
    assert not [e for e in server.audit()[before:] if e["action"].startswith("offline.")]


def test_bad_bundles_are_refused_and_change_nothing(server, ceremony, tmp_path):
    d = ceremony["dir"]
    text = open(d / "answer.json").read()
    outer = json.loads(text)
    payload = json.loads(base64.b64decode(outer["payload"]))
    payload["certs"][0]["status"] = "revoked"
    outer["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    cases = {
        "tampered": json.dumps(outer),
        "truncated": text[: len(text) // 2],
    }
    before = len(server.audit())
    for name, bad in cases.items():
        r = import_bundle(server, write(tmp_path / f"{name}.json", bad))
        assert r.status == 400, (name, r.body)
        assert r.json()["error"] == "bad_request"
    # The refusals are audited; nothing else changed.
    after = [e for e in server.audit()[before:] if e["action"].startswith("offline.")]
    assert [(e["action"], e["result"]) for e in after] == [("offline.import", "refused")] * 2
    assert all(c["status"] == "good" for c in server.api(
        "GET", "/certificates?ca=offroot")["certificates"])


def test_bundle_for_another_tenant_is_refused(server, ceremony):
    token = other_tenant(server, "offline-other")
    r = import_bundle(server, ceremony["dir"] / "answer.json", pin=ceremony["fpr"],
                      tenant="offline-other", token=token)
    assert r.status == 403 and "for tenant default" in r.json()["detail"], r.body
    assert server.api("GET", "/cas", tenant="offline-other", token=token)["cas"] == []


def test_a_new_offline_root_waits_for_no_one_under_a_ca_creation_workflow(server, tmp_path):
    """Issue 23: a new offline root's first bundle creates a CA; under a ca.create workflow it
    cannot wait in a request (it is the bundle itself), so it is refused and nothing changes."""
    token = other_tenant(server, "offline-gated")
    d = tmp_path
    p = offline(d, "init", "--tenant", "offline-gated", "--name", "gatedroot",
                "--subject", "/O=Vouch Test/CN=Gated Offline Root", "--public-url",
                server.public_url, "--shares", "3", "--threshold", "2",
                "--share-out", str(d / "custodian"))
    fpr = p.stdout.split("SHA-256 fingerprint: ")[1].split()[0]
    offline(d, "export", *unlock(d), "-o", str(d / "first.json"))
    server.api("PUT", "/workflows/ca.create", {"required": 1}, tenant="offline-gated",
               token=token)
    audit = len(server.audit("offline-gated", token=token))
    r = import_bundle(server, d / "first.json", pin=fpr, tenant="offline-gated", token=token)
    assert r.status == 409 and "needs approval" in r.json()["detail"], r.body
    assert server.api("GET", "/cas", tenant="offline-gated", token=token)["cas"] == []
    after = server.audit("offline-gated", token=token)[audit:]
    assert [(e["action"], e["result"]) for e in after
            if e["action"].startswith("offline.")] == [("offline.import", "refused")]
    server.api("DELETE", "/workflows/ca.create", expect=204, tenant="offline-gated",
               token=token)
    r = import_bundle(server, d / "first.json", pin=fpr, tenant="offline-gated", token=token)
    assert r.status == 200 and r.json()["new_root"] is True, r.body


def test_wrong_or_missing_custodian_share_is_refused(ceremony):
    d = ceremony["dir"]
    p = offline(d, "list", *unlock(d, 1), check=False)
    assert p.returncode == 1 and "needs 2" in p.stderr
    line = open(d / "custodian-2.share").read()
    write(d / "forged.share", line[:-3] + ("0" if line[-3] != "0" else "1") + line[-2:])
    p = offline(d, "list", "--share", str(d / "custodian-1.share"),
                "--share", str(d / "forged.share"), check=False)
    assert p.returncode == 1 and "wrong custodian share" in p.stderr, p.stderr
    p = offline(d, "list", *unlock(d, 2, 3))
    assert "offroot" in p.stdout and "sub-ca" in p.stdout
    p = offline(d, "sign", *unlock(d), "--request", str(d / "request.json"), "--profile",
                "tls-server", "-o", str(d / "never.json"), check=False)
    assert p.returncode == 1 and "not a CA profile" in p.stderr, p.stderr


@pytest.mark.runs_in("integration", "integration-pg", "integration-asan",
                     why="the issuing CA's key is taken offline as a key file of the software "
                     "store; a token's key cannot leave it (the test after it covers the token)")
@pytest.mark.skipif(HSM, reason="the issuing CA's key is a key file of the software store")
def test_outage_issuance_offline_is_imported_later(server, ceremony, tmp_path):
    d = ceremony["dir"]
    keys = server.api("GET", "/keys")["keys"]
    key_id = [k["key_id"] for k in keys if k["ca"] == "offsub"][0]
    sub = write(tmp_path / "sub.pem", server.api("GET", "/cas/offsub")["certificate"])
    offline(d, "ca-import", *unlock(d), "--name", "offsub",
            "--key", os.path.join(server.dir, "keys", "default", key_id + ".pem"),
            "--key-password-file", os.path.join(server.dir, "kek"),
            "--cert", sub, "--chain", ceremony["root"])
    csr = write(tmp_path / "dev.csr", make_csr(cn="device-7.offline.example",
                                               dns=["device-7.offline.example"])[0])
    p = offline(d, "issue", *unlock(d), "--ca", "offsub", "--profile", "tls-server",
                "--csr", csr, "-o", str(tmp_path / "dev.pem"))
    serial = p.stdout.split()[0]
    offline(d, "export", *unlock(d), "--ca", "offsub", "-o", str(d / "outage.json"))
    assert server.request("GET", f"/api/v1/t/default/certificates/{serial}").status == 404
    r = import_bundle(server, d / "outage.json")
    assert r.status == 200 and serial in r.json()["added"], r.body
    found = server.api("GET", "/certificates?san=device-7")["certificates"]
    assert [c["serial"] for c in found] == [serial]
    chain = write(tmp_path / "chain.pem", open(sub).read() + open(ceremony["root"]).read())
    p = run("openssl", "ocsp", "-issuer", sub, "-cert", str(tmp_path / "dev.pem"), "-url",
            f"{server.public_url}/ocsp/default/offsub", "-CAfile", chain, check=False)
    assert "Response verify OK" in p.stderr and ": good" in p.stdout, p.stdout + p.stderr
    # A later bundle whose serial clashes with another certificate here is refused whole.
    other = server.api("POST", "/certificates", {"ca": "offsub", "profile": "tls-server",
                                                 "csr": make_csr(cn="x.example",
                                                                 dns=["x.example"])[0]},
                       expect=201)
    old, raw = der_of(server, serial), der_of(server, other["serial"])
    server.sql("UPDATE certs SET der = ? WHERE serial = ?", (raw, serial))
    offline(d, "export", *unlock(d), "--ca", "offsub", "-o", str(d / "outage2.json"))
    r = import_bundle(server, d / "outage2.json")
    assert r.status == 409 and "duplicate serial" in r.json()["detail"], r.body
    server.sql("UPDATE certs SET der = ? WHERE serial = ?", (old, serial))
    # A bundle older than one imported is a replay (outage2 was never imported); an
    # imported bundle again is the same bundle, unchanged.
    offline(d, "export", *unlock(d), "--ca", "offsub", "-o", str(d / "outage3.json"))
    assert import_bundle(server, d / "outage3.json").status == 200
    r = import_bundle(server, d / "outage2.json")
    assert r.status == 409 and "replay" in r.json()["detail"], r.body
    r = import_bundle(server, d / "outage.json")
    assert r.status == 200 and r.json()["status"] == "unchanged", r.body


def test_sub_ca_revoked_offline_is_on_the_root_crl_served_online_and_in_ocsp(
        server, ceremony, tmp_path):
    d = ceremony["dir"]
    sub_pem = server.api("GET", "/cas/offsub")["certificate"]
    serial = format(x509.load_pem_x509_certificate(sub_pem.encode()).serial_number, "x")
    offline(d, "revoke", *unlock(d), serial, "--reason", "cACompromise")
    p = offline(d, "crl", *unlock(d), "-o", str(tmp_path / "offline.crl"))
    assert "next update in 180 days" in p.stdout
    offline(d, "export", *unlock(d), "-o", str(d / "revocation.json"))
    r = import_bundle(server, d / "revocation.json")
    assert r.status == 200 and serial in r.json()["updated"], r.body
    assert cert_status(server, serial) == "revoked"
    crl = tmp_path / "root.crl"
    run("curl", "-sf", "-o", str(crl), f"{server.public_url}/crl/default/offroot.crl")
    p = run("openssl", "crl", "-inform", "DER", "-in", str(crl), "-CAfile", ceremony["root"],
            "-noout", "-text")
    assert serial.upper() in p.stdout.replace(":", "").upper() and "CA Compromise" in p.stdout
    sub = write(tmp_path / "sub.pem", sub_pem)
    p = run("openssl", "ocsp", "-issuer", ceremony["root"], "-cert", sub, "-url",
            f"{server.public_url}/ocsp/default", "-CAfile", ceremony["root"], check=False)
    assert "Response verify OK" in p.stderr and ": revoked" in p.stdout, p.stdout + p.stderr


def test_root_key_in_an_hsm_and_outage_issuance_with_the_issuing_key_in_the_token(
        tmp_path_factory):
    """The HSM variant: the root key is made in a PKCS#11 token whose PIN the custodians
    hold as shares; during an outage the issuing CA's key is used in the token both sides
    reach (here the online instance's own SoftHSM2 token)."""
    hsm = SoftHSM(tmp_path_factory.mktemp("offline-hsm"))
    s = Server(str(tmp_path_factory.mktemp("offline-hsm-vouch")), env=hsm.env,
               init_args=hsm.init_args(backup=False))
    try:
        d = tmp_path_factory.mktemp("offline-hsm-store")
        p = offline(d, "init", "--tenant", "default", "--name", "hsmroot",
                    "--subject", "/CN=HSM Offline Root", "--public-url", s.public_url,
                    "--shares", "3", "--threshold", "2", "--share-out", str(d / "custodian"),
                    "--pkcs11-module", SOFTHSM_MODULE, "--pkcs11-token", "vouch-a",
                    "--pkcs11-pin-file", hsm.pin_file, env=hsm.env)
        fpr = p.stdout.split("SHA-256 fingerprint: ")[1].split()[0]
        keys = d / "store" / "keys"
        assert not keys.exists() or not any(keys.rglob("*.pem"))  # the root key is in the token
        p = offline(d, "list", "--share", str(d / "custodian-1.share"), env=hsm.env, check=False)
        assert p.returncode == 1 and "needs 2" in p.stderr
        s.api("POST", "/cas", {"name": "hsmsub", "external": True, "subject": "/CN=HSM Sub"},
              expect=201)
        s.cli("ca", "offline-request", "hsmsub", "--root", "hsmroot", "-o",
              str(d / "request.json"))
        offline(d, "sign", *unlock(d, 2, 3), "--request", str(d / "request.json"),
                "--profile", "sub-ca", "-o", str(d / "answer.json"), env=hsm.env)
        r = import_bundle(s, d / "answer.json", pin=fpr)
        assert r.status == 200 and r.json()["activated"] == ["hsmsub"], r.body
        root = str(d / "store" / "hsmroot.pem")
        sub = write(d / "sub.pem", s.api("GET", "/cas/hsmsub")["certificate"])
        key_id = [k["key_id"] for k in s.api("GET", "/keys")["keys"] if k["ca"] == "hsmsub"][0]
        offline(d, "ca-import", *unlock(d), "--name", "hsmsub", "--key-id", key_id,
                "--cert", sub, "--chain", root, env=hsm.env)
        csr = write(d / "dev.csr", make_csr(cn="hsm-dev.example", dns=["hsm-dev.example"])[0])
        p = offline(d, "issue", *unlock(d), "--ca", "hsmsub", "--profile", "tls-server",
                    "--csr", csr, "-o", str(d / "dev.pem"), env=hsm.env)
        serial = p.stdout.split()[0]
        offline(d, "export", *unlock(d), "--ca", "hsmsub", "-o", str(d / "outage.json"),
                env=hsm.env)
        r = import_bundle(s, d / "outage.json")
        assert r.status == 200 and r.json()["added"] == [serial], r.body
        run("openssl", "verify", "-CAfile", root, "-untrusted", sub, str(d / "dev.pem"))
    finally:
        s.stop()
