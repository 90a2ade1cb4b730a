"""Keys in PKCS#11 tokens: SoftHSM2 tokens made by the test run, two of them backing each other."""
import json
import os
import subprocess
import threading

import pytest
from cryptography import x509

from conftest import (SOFTHSM_MODULE, SOFTHSM_PIN, VOUCHD, Server, SoftHSM, make_csr, run,
                      wait_for, write)

MODULE = SOFTHSM_MODULE
PIN = SOFTHSM_PIN


def init_args(hsm, backup=True):
    return hsm.init_args(backup)


@pytest.fixture(scope="module")
def hsm(tmp_path_factory):
    if not os.path.exists(MODULE):
        pytest.fail("SoftHSM2 is not installed (apt-get install softhsm2)")
    return SoftHSM(tmp_path_factory.mktemp("softhsm"))


@pytest.fixture(scope="module")
def server(tmp_path_factory, hsm):
    s = Server(str(tmp_path_factory.mktemp("vouch")), env=hsm.env, init_args=init_args(hsm))
    yield s
    s.stop()


def system_audit(server):
    return server.sql("SELECT actor, action, object, result, detail FROM audit "
                      "WHERE tenant = '_system' ORDER BY seq")


def issue(server, cn):
    csr, _ = make_csr(cn=cn, dns=[cn])
    return server.request("POST", "/api/v1/t/default/certificates",
                          {"ca": "issuing", "profile": "tls-server", "csr": csr})


def test_readyz_reports_both_tokens(server):
    r = server.request("GET", "/readyz", token=None)
    assert r.status == 200, r.body
    ks = r.json()["keystore"]
    assert "token vouch-a: ok" in ks and "token vouch-b: ok" in ks, ks
    assert "signing with the primary" in ks


def test_demo_cas_certificates_and_crls_are_signed_in_the_token(server, tmp_path):
    root = server.api("GET", "/cas/root")
    issuing = server.api("GET", "/cas/issuing")
    r = issue(server, "hsm.example")
    assert r.status == 201, r.body
    leaf = r.json()["certificate"]
    rootf = write(tmp_path / "root.pem", root["certificate"])
    chainf = write(tmp_path / "chain.pem", issuing["certificate"])
    leaff = write(tmp_path / "leaf.pem", leaf)
    run("openssl", "verify", "-x509_strict", "-CAfile", rootf, "-untrusted", chainf, leaff)
    crl = server.api("POST", "/cas/issuing/crl", {}, expect=201)["crl"]
    crlf = write(tmp_path / "crl.pem", crl)
    run("openssl", "crl", "-in", crlf, "-CAfile", chainf, "-noout")


def test_a_ceremony_ca_key_is_made_in_the_token_and_its_csr_exported(server, tmp_path):
    ca = server.api("POST", "/cas", {"name": "ceremony", "external": True, "key_type": "ec-p384",
                                     "subject": "/O=Test/CN=Ceremony CA"}, expect=201)
    assert ca["status"] == "pending"
    csr = x509.load_pem_x509_csr(server.api("GET", "/cas/ceremony/csr")["csr"].encode())
    assert csr.is_signature_valid
    # The CSR is signed by the token (the key is not in the software store).
    assert not os.path.exists(os.path.join(server.dir, "keys", "default"))


def test_another_tenants_ca_key_cannot_be_used(server):
    from conftest import other_tenant
    other = other_tenant(server, "other")
    server.api("POST", "/cas", {"name": "o-root", "subject": "/CN=O Root"}, tenant="other",
               token=other, expect=201)
    before = server.sql("SELECT tenant, name FROM cas ORDER BY tenant, name")
    r = server.request("POST", "/api/v1/t/default/cas",
                       {"name": "x", "parent": "o-root", "subject": "/CN=x"})
    assert r.status == 404
    # Nothing was made: no CA x in either tenant.
    assert server.sql("SELECT tenant, name FROM cas ORDER BY tenant, name") == before
    assert server.request("GET", "/api/v1/t/default/cas/x").status == 404


def readyz_says(server, what, seconds):
    return wait_for(lambda: what in server.request("GET", "/readyz", token=None).json()["keystore"],
                    seconds, f"readyz: {what}")


def system_events(server):
    """The system tenant's audit events, read by the system administrator through the API."""
    r = server.request("GET", "/api/v1/audit?limit=10000", token="system")
    assert r.status == 200, r.body
    return [json.loads(line) for line in r.body.decode().splitlines()]


class Load:
    """Three threads issuing certificates until stopped; a refused issuance is retried once
    (the request that met the failing token), a second refusal is a failure."""

    def __init__(self, server):
        self.server, self.failures, self.retried, self.done = server, [], [], []
        self.stop_event = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(n,)) for n in range(3)]
        for t in self.threads:
            t.start()

    def run(self, n):
        i = 0
        while not self.stop_event.is_set():
            i += 1
            r = issue(self.server, f"load{n}-{i}.example")
            if r.status != 201:
                self.retried.append(r.status)
                r = issue(self.server, f"load{n}-{i}b.example")
                if r.status != 201:
                    self.failures.append((r.status, r.body[:200]))
            self.done.append(1)

    def more(self, n, what):
        """Waits until n more issuances are done than now."""
        target = len(self.done) + n
        wait_for(lambda: len(self.done) >= target or self.failures, 60, what)

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(120)


@pytest.fixture
def load(server, hsm):
    """The load, stopped and joined, and every token healed, whatever the test did."""
    running = []
    yield lambda: running.append(Load(server)) or running[-1]
    for lo in running:
        lo.stop()
    hsm.heal_all()


def test_signing_moves_to_the_backup_token_mid_load_and_returns_when_it_heals(server, hsm, load):
    lo = load()
    lo.more(3, "issuances before the token fails")
    hsm.fail("vouch-a")
    readyz_says(server, "signing with the backup", 10)
    lo.more(3, "issuances on the backup token")
    hsm.heal("vouch-a")
    readyz_says(server, "signing with the primary", 15)
    lo.more(3, "issuances on the healed primary")
    lo.stop()
    assert lo.failures == [], lo.failures
    ks = server.request("GET", "/readyz", token=None).json()["keystore"]
    assert "signing with the primary" in ks, ks
    # vouchd audits key-store events every second; the system administrator reads them through
    # the API (and `vouch system audit`).
    actions = wait_for(lambda: (lambda a: ("signer", "keystore.failback", "primary") in a and a)(
        [(e["actor"], e["action"], e["object"]) for e in system_events(server)]), 15,
        "the failover and failback in the system audit")
    assert ("signer", "keystore.failover", "backup") in actions, actions
    fo = [e for e in system_events(server) if e["action"] == "keystore.failover"][0]
    assert fo["result"] == "error" and fo["detail"]["from"] == "primary", fo
    assert server.request("GET", "/api/v1/audit").status == 403  # a tenant admin: no
    out = server.cli("system", "audit", token=server.system_token).stdout
    assert "keystore.failback" in out
    assert server.api("GET", "/audit/verify")["ok"] is True


def test_a_wrong_pin_or_a_missing_module_stops_start_up_with_a_clear_error(hsm, tmp_path):
    bad_pin = write(tmp_path / "bad-pin", "0000\n")
    p = subprocess.run([VOUCHD, "init", str(tmp_path / "i1"), "--no-tls", "--api-port", "0",
                        "--public-port", "0", "--pkcs11-module", MODULE, "--pkcs11-token",
                        "vouch-a", "--pkcs11-pin-file", bad_pin],
                       capture_output=True, text=True, env=dict(os.environ, **hsm.env))
    assert p.returncode != 0 and "CKR_PIN_INCORRECT" in p.stderr, p.stderr
    p = subprocess.run([VOUCHD, "init", str(tmp_path / "i2"), "--no-tls", "--api-port", "0",
                        "--public-port", "0", "--pkcs11-module", "/nonexistent/p11.so",
                        "--pkcs11-token", "vouch-a", "--pkcs11-pin-file", hsm.pin_file],
                       capture_output=True, text=True, env=dict(os.environ, **hsm.env))
    assert p.returncode != 0 and "/nonexistent/p11.so" in p.stderr, p.stderr
    p = subprocess.run([VOUCHD, "init", str(tmp_path / "i3"), "--no-tls", "--api-port", "0",
                        "--public-port", "0", "--pkcs11-module", MODULE, "--pkcs11-token",
                        "no-such-token", "--pkcs11-pin-file", hsm.pin_file],
                       capture_output=True, text=True, env=dict(os.environ, **hsm.env))
    assert p.returncode != 0 and "no token labelled no-such-token" in p.stderr, p.stderr


def test_the_pin_comes_from_the_environment_and_a_token_without_the_key_is_404(hsm, tmp_path):
    s = Server(str(tmp_path), env=dict(hsm.env, VOUCH_PKCS11_PIN=PIN),
               init_args=["--pkcs11-module", MODULE, "--pkcs11-token", "vouch-b"])
    try:
        assert s.request("GET", "/readyz", token=None).status == 200
        # Point this instance at the other token: its CAs' keys are not there.
        conf = os.path.join(s.dir, "vouchd.conf")
        s.stop()
        text = open(conf).read().replace("pkcs11_token_label = vouch-b",
                                         "pkcs11_token_label = vouch-a")
        write(conf, text)
        s.start()
        certs = s.sql("SELECT count(*) FROM certs")
        r = issue(s, "missing-key.example")
        assert r.status == 404 and "key" in r.json()["detail"], r.body
        assert s.sql("SELECT count(*) FROM certs") == certs  # nothing stored
        last = s.audit()[-1]
        assert last["result"] == "refused" and "key" in last["detail"]["detail"], last
    finally:
        s.stop()


def _outside_root():
    import datetime
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "Offline Root")])
    now = datetime.datetime.utcnow()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def _sign_ca_csr(csr, key, root):
    import datetime
    from cryptography.hazmat.primitives import hashes
    now = datetime.datetime.utcnow()
    return (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(root.subject)
            .public_key(csr.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=20))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(csr.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                root.public_key()), critical=False)
            .sign(key, hashes.SHA256()))


def test_key_ceremony_key_made_in_the_token_csr_out_certificate_in(server, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from conftest import other_tenant
    key = server.api("POST", "/keys", {"key_type": "ec-p384"}, expect=201)
    kid = key["key_id"]
    assert key["key_type"] == "ec-p384" and key["ca"] is None
    listed = server.cli("key", "list").stdout
    assert kid in listed and "ec-p384" in listed
    # A key of the wrong type, or another tenant's key, makes no CA.
    r = server.request("POST", "/api/v1/t/default/cas", {"name": "cer", "external": True,
                       "key_id": kid, "key_type": "rsa-2048", "subject": "/CN=Ceremony"})
    assert r.status == 422 and "ec-p384" in r.json()["detail"], r.body
    other = other_tenant(server, "other2")
    r = server.request("POST", "/api/v1/t/other2/cas", {"name": "cer", "external": True,
                       "key_id": kid, "subject": "/CN=Stolen"}, token=other)
    assert r.status == 404, r.body
    assert server.request("GET", "/api/v1/t/default/cas/cer").status == 404
    # The CA is created on that key; its CSR goes to the offline root.
    ca = server.api("POST", "/cas", {"name": "cer", "external": True, "key_id": kid,
                                     "subject": "/O=Test/CN=Ceremony CA"}, expect=201)
    assert ca["status"] == "pending" and ca["key_type"] == "ec-p384"
    csr = x509.load_pem_x509_csr(server.api("GET", "/cas/cer/csr")["csr"].encode())
    assert csr.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode() == key["public_key"]
    root_key, root = _outside_root()
    signed = _sign_ca_csr(csr, root_key, root).public_bytes(serialization.Encoding.PEM).decode()
    rootpem = root.public_bytes(serialization.Encoding.PEM).decode()
    ca = server.api("POST", "/cas/cer/certificate", {"certificate": signed, "chain": rootpem})
    assert ca["status"] == "active"
    leaf = server.api("POST", "/certificates", {"ca": "cer", "profile": "tls-server",
                                                "csr": make_csr(cn="c.example",
                                                                dns=["c.example"])[0]},
                      expect=201)
    run("openssl", "verify", "-CAfile", write(tmp_path / "root.pem", rootpem), "-untrusted",
        write(tmp_path / "chain.pem", leaf["chain"]), write(tmp_path / "leaf.pem",
                                                             leaf["certificate"]))
    # The key serves the CA now: listed with it, and not deletable.
    keys = {k["key_id"]: k for k in server.api("GET", "/keys")["keys"]}
    assert keys[kid]["ca"] == "cer"
    r = server.request("DELETE", f"/api/v1/t/default/keys/{kid}")
    assert r.status == 409 and "cer" in r.json()["detail"]
    spare = server.api("POST", "/keys", {}, expect=201)["key_id"]
    server.cli("key", "delete", spare)
    assert spare not in [k["key_id"] for k in server.api("GET", "/keys")["keys"]]
    actions = [(e["action"], e["object"]) for e in server.audit()]
    assert ("key.generate", kid) in actions and ("key.delete", spare) in actions


def test_a_wrong_pin_at_start_is_audited_and_nothing_is_served(hsm, tmp_path):
    pin = write(tmp_path / "pin", PIN + "\n")
    s = Server(str(tmp_path), env=hsm.env,
               init_args=["--pkcs11-module", MODULE, "--pkcs11-token", "vouch-b",
                          "--pkcs11-pin-file", pin])
    s.stop()
    write(pin, "not-the-pin\n")
    p = subprocess.run([VOUCHD, "-c", os.path.join(s.dir, "vouchd.conf")], capture_output=True,
                       text=True, env=s.env, timeout=60)
    assert p.returncode == 1 and "CKR_PIN_INCORRECT" in p.stderr, p.stderr
    assert "not-the-pin" not in p.stderr
    rows = [r for r in system_audit(s) if r[1] == "keystore.open"]
    assert rows and rows[-1][0] == "vouchd" and rows[-1][3] == "error"
    assert "CKR_PIN_INCORRECT" in rows[-1][4] and "not-the-pin" not in rows[-1][4]


def test_pkcs11_settings_are_checked_before_start(tmp_path):
    base = "database = sqlite:x.db\nkeystore_type = pkcs11\n"
    cases = [
        ("keystore_type = hsm\n", "keystore_type: soft or pkcs11"),
        (base, "set pkcs11_module and pkcs11_token_label"),
        (base + f"pkcs11_module = {MODULE}\npkcs11_token_label = a\n"
         "pkcs11_backup_token_label = a\n", "must name another token"),
        (base + f"pkcs11_module = {MODULE}\npkcs11_token_label = a\n"
         "pkcs11_tenant_tokens = acme\n", "is not TENANT=LABEL"),
        (base + f"pkcs11_module = {MODULE}\npkcs11_token_label = a\n"
         "pkcs11_tenant_tokens = acme=t-acme\n", "pkcs11_tenant_pin_dir"),
    ]
    for text, message in cases:
        conf = write(tmp_path / "c.conf", text)
        p = subprocess.run([VOUCHD, "-c", conf, "--check"], capture_output=True, text=True)
        assert p.returncode == 1 and message in p.stderr, (text, p.stderr)
    conf = write(tmp_path / "c.conf", base + f"pkcs11_module = {MODULE}\npkcs11_token_label = a\n"
                 "pkcs11_tenant_tokens = acme=t-acme, beta=t-beta\n"
                 "pkcs11_tenant_pin_dir = pins\n")
    p = subprocess.run([VOUCHD, "-c", conf, "--check"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("key_type", ["ec-p256", "rsa-2048"])
def test_time_stamp_tokens_are_signed_in_the_token(server, tmp_path, key_type):
    name = "ts-" + key_type.replace("-", "")
    unit = server.api("POST", "/tsa", {"name": name, "ca": "issuing", "key_type": key_type,
                                       "policy": "1.3.6.1.4.1.99999.7"}, expect=201)
    doc = write(tmp_path / "doc.txt", "stamped in an HSM\n")
    tsq = str(tmp_path / "q.tsq")
    run("openssl", "ts", "-query", "-data", doc, "-sha256", "-cert", "-out", tsq)
    r = server.request("POST", f"/tsa/default/{name}", open(tsq, "rb").read(), token=None,
                       content_type="application/timestamp-query", base=server.public_url)
    assert r.status == 200 and r.headers["Content-Type"] == "application/timestamp-reply"
    tsr = tmp_path / "r.tsr"
    tsr.write_bytes(r.body)
    root = write(tmp_path / "root.pem", server.api("GET", "/cas/root")["certificate"])
    issuing = write(tmp_path / "issuing.pem", server.api("GET", "/cas/issuing")["certificate"])
    p = run("openssl", "ts", "-verify", "-queryfile", tsq, "-in", str(tsr), "-CAfile", root,
            "-untrusted", issuing, check=False)
    assert p.returncode == 0 and "Verification: OK" in p.stdout, p.stdout + p.stderr
    # The unit's key is in the token, not in the software store.
    keys = server.api("GET", "/keys")["keys"]
    assert any(k["key_id"] == unit["key_id"] for k in keys), (unit, keys)
