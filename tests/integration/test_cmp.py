"""CMP (issue 18): endpoints per tenant and their shared secrets (shown once, stored nowhere,
revocable); enrollment with `openssl cmp` (ir, cr, p10cr under PasswordBasedMac, explicit
certConf and implicit confirm), its failure paths, and replays refused."""
import base64
import glob
import os
import subprocess

import pytest

from conftest import PG_ADMIN, other_tenant, wait_for


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


# ---- enrollment with openssl cmp ------------------------------------------------------------

def openssl_cmp(server, tmp_path, cmd, ref, secret, name, *extra, endpoint="plant",
                public=True):
    """Runs `openssl cmp -cmd <cmd>` against the endpoint with MAC protection; (process, path
    of the certificate it wrote)."""
    key = tmp_path / f"{name}.key"
    if not key.exists():
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-out", str(key)], check=True,
                       capture_output=True)
    cert = tmp_path / f"{name}.crt"
    base = server.public_url if public else server.url
    args = ["openssl", "cmp", "-cmd", cmd, "-server", base.split("//", 1)[1],
            "-path", f"/.well-known/cmp/p/default~{endpoint}", "-ref", ref,
            "-secret", f"pass:{secret}", "-recipient", "/CN=vouch", "-unprotected_errors",
            "-certout", str(cert), "-msg_timeout", "30", "-total_timeout", "60"]
    if cmd in ("rr", "genm"):
        args = [a for a in args if a not in ("-certout", str(cert))]
    if cmd in ("rr", "genm"):
        pass
    elif cmd == "p10cr":
        csr = tmp_path / f"{name}.csr"
        subprocess.run(["openssl", "req", "-new", "-key", str(key), "-subj", f"/CN={name}",
                        "-out", str(csr), "-outform", "DER"], check=True, capture_output=True)
        args += ["-csr", str(csr)]
    else:
        args += ["-newkey", str(key), "-subject", f"/CN={name}"]
    p = subprocess.run(args + list(extra), capture_output=True, text=True, timeout=90)
    return p, cert


def issued(server, cert_path):
    from cryptography import x509
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    serial = format(cert.serial_number, "x")
    return cert, server.api("GET", f"/certificates/{serial}")


def transaction_status(server, serial):
    rows = server.sql("SELECT status FROM cmp_transactions WHERE serial = ?", (serial,))
    return rows[0][0] if rows else None


def test_ir_with_a_shared_secret_and_implicit_confirm_issues_a_final_certificate(
        server, endpoint, tmp_path):
    s = secret_new(server, reference="ir-1")
    p, path = openssl_cmp(server, tmp_path, "ir", "ir-1", s["secret"], "ir-device",
                          "-implicit_confirm")
    assert p.returncode == 0, p.stderr
    cert, rec = issued(server, path)
    assert rec["status"] == "good" and rec["profile"] == "tls-client" and rec["ca"] == "issuing"
    assert "ir-device" in rec["subject"]
    assert transaction_status(server, rec["serial"]) == "confirmed"
    issues = [e for e in events(server, "cmp.issue") if e["object"] == rec["serial"]]
    assert issues and issues[0]["detail"]["protection"] == "mac"
    assert issues[0]["detail"]["reference"] == "ir-1"
    assert issues[0]["actor"] == "cmp:plant:ir-1"
    listed = {x["reference"]: x for x in server.api("GET", "/cmp/endpoints/plant/secrets")["secrets"]}
    assert listed["ir-1"]["uses"] == 1
    # A one-time secret serves one certificate.
    p, _ = openssl_cmp(server, tmp_path, "ir", "ir-1", s["secret"], "ir-again",
                       "-implicit_confirm")
    assert p.returncode != 0 and "notAuthorized" in p.stderr + p.stdout, p.stderr


def test_cr_with_explicit_certconf_confirms_the_certificate(server, endpoint, tmp_path):
    s = secret_new(server, reference="cr-1")
    p, path = openssl_cmp(server, tmp_path, "cr", "cr-1", s["secret"], "cr-device")
    assert p.returncode == 0, p.stderr
    cert, rec = issued(server, path)
    assert transaction_status(server, rec["serial"]) == "confirmed"
    assert [e for e in events(server, "cmp.confirm") if e["object"] == rec["serial"]]
    # the certConf's recipNonce was checked against the ip's senderNonce, filed with the row
    nonce = server.sql("SELECT server_nonce FROM cmp_transactions WHERE serial = ?",
                       (rec["serial"],))[0][0]
    assert len(nonce) == 32, nonce


def test_p10cr_on_the_api_listener_issues_from_the_csr(server, endpoint, tmp_path):
    s = secret_new(server, reference="p10-1")
    p, path = openssl_cmp(server, tmp_path, "p10cr", "p10-1", s["secret"], "p10-device",
                          "-implicit_confirm", public=False)
    assert p.returncode == 0, p.stderr
    cert, rec = issued(server, path)
    assert "p10-device" in rec["subject"]


def test_implicit_confirm_is_not_granted_where_the_endpoint_does_not_allow_it(
        server, endpoint, tmp_path):
    s = secret_new(server, endpoint="line", reference="line-1")
    p, path = openssl_cmp(server, tmp_path, "ir", "line-1", s["secret"], "line-device",
                          "-implicit_confirm", endpoint="line")
    assert p.returncode == 0, p.stderr
    cert, rec = issued(server, path)
    # openssl cmp sent certConf since implicit confirm was not granted
    assert transaction_status(server, rec["serial"]) == "confirmed"
    assert [e for e in events(server, "cmp.confirm") if e["object"] == rec["serial"]]


@pytest.mark.parametrize("ref,secret_of,word", [
    ("wrong-1", "other", "badMessageCheck"),
    ("nosuch", "own", "notAuthorized"),
    ("to-revoke", "own", "notAuthorized"),
])
def test_a_wrong_secret_an_unknown_or_revoked_reference_is_refused(server, endpoint, tmp_path,
                                                                     ref, secret_of, word):
    if ref == "wrong-1":
        secret_new(server, reference="wrong-1")
        secret = secret_new(server)["secret"]
    elif ref == "to-revoke":
        secret = "x" * 43  # revoked in an earlier test; its secret was shown once
    else:
        secret = "y" * 43
    before = len(events(server, "cmp.refused"))
    certs = server.api("GET", "/certificates?limit=1000")
    p, path = openssl_cmp(server, tmp_path, "ir", ref, secret, f"bad-{ref}")
    assert p.returncode != 0
    assert word in p.stderr + p.stdout, p.stderr
    assert not path.exists()
    assert server.api("GET", "/certificates?limit=1000") == certs
    # audited at a bounded rate (the sender proved nothing): at once, or summed within seconds
    wait_for(lambda: len(events(server, "cmp.refused")) > before, what="the refusal audited")


def post_cmp(server, body, label="default~plant", ctype="application/pkixcmp"):
    return server.request("POST", f"/.well-known/cmp/p/{label}", body, token=None,
                          content_type=ctype, base=server.public_url)


def test_a_replayed_request_is_refused_with_bad_sender_nonce(server, endpoint, tmp_path):
    s = secret_new(server, reference="replay-1", reusable=True)
    saved = tmp_path / "req"
    p, path = openssl_cmp(server, tmp_path, "ir", "replay-1", s["secret"], "replay-device",
                          "-implicit_confirm", "-reqout", str(saved))
    assert p.returncode == 0, p.stderr
    certs = server.api("GET", "/certificates?limit=1000")
    r = post_cmp(server, saved.read_bytes())
    assert r.status == 200 and r.headers["Content-Type"] == "application/pkixcmp"
    assert b"senderNonce was used before" in r.body
    assert server.api("GET", "/certificates?limit=1000") == certs


@pytest.mark.parametrize("label,body,ctype,status", [
    ("default~plant", b"\x30\x03\x02\x01\x00", "application/pkixcmp", 400),  # no PKIMessage
    ("default~plant", b"garbage", "application/pkixcmp", 400),
    ("default~plant", b"\x30\x82\x10\x00" + b"\x00" * 10, "application/pkixcmp", 400),  # truncated
    ("default~plant", b"\x30" * (65 * 1024), "application/pkixcmp", 413),
    ("default~plant", b"\x30\x00", "application/json", 415),
    ("default~nosuch", b"\x30\x00", "application/pkixcmp", 404),
    ("cmp-other~plant", b"\x30\x00", "application/pkixcmp", 404),
    ("no-separator", b"\x30\x00", "application/pkixcmp", 404),
])
def test_bad_input_gets_an_http_error_and_changes_nothing(server, endpoint, label, body, ctype,
                                                          status):
    certs = server.api("GET", "/certificates?limit=1000")
    r = post_cmp(server, body, label=label, ctype=ctype)
    assert r.status == status, (r.status, r.body[:200])
    assert server.api("GET", "/certificates?limit=1000") == certs


def test_a_cmp_certificate_chains_to_the_issuing_ca_as_a_rest_one_does(server, endpoint,
                                                                      tmp_path):
    from cryptography import x509
    s = secret_new(server, reference="chain-1")
    p, path = openssl_cmp(server, tmp_path, "ir", "chain-1", s["secret"], "chain-device",
                          "-implicit_confirm", "-extracertsout", str(tmp_path / "extra.pem"))
    assert p.returncode == 0, p.stderr
    r = server.request("GET", "/ca/default/issuing.crt", token=None, base=server.public_url)
    ca = x509.load_der_x509_certificate(r.body) if r.body[:1] == b"\x30" else \
        x509.load_pem_x509_certificate(r.body)
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    from cryptography.hazmat.primitives.serialization import Encoding
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(Encoding.PEM))
    out = subprocess.run(["openssl", "verify", "-partial_chain", "-purpose", "sslclient",
                          "-CAfile", str(tmp_path / "ca.pem"), str(path)],
                         capture_output=True, text=True)
    assert out.returncode == 0 and ": OK" in out.stdout, out.stdout + out.stderr
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH in eku
    assert b"BEGIN CERTIFICATE" in (tmp_path / "extra.pem").read_bytes()


def test_a_certificate_never_confirmed_is_revoked_after_the_grace(server, endpoint, tmp_path):
    s = secret_new(server, endpoint="line", reference="unconfirmed-1")
    p, path = openssl_cmp(server, tmp_path, "ir", "unconfirmed-1", s["secret"], "silent-device",
                          "-disable_confirm", endpoint="line")
    assert p.returncode == 0, p.stderr
    cert, rec = issued(server, path)
    assert rec["status"] == "good" and transaction_status(server, rec["serial"]) == "waiting"
    # The grace (confirm_seconds) passes: backdated rather than waited for.
    server.sql("UPDATE cmp_transactions SET expires = 1 WHERE serial = ?", (rec["serial"],))
    # the certificate is revoked first, then its transaction settled: wait for the latter
    wait_for(lambda: transaction_status(server, rec["serial"]) == "revoked",
             what="the unconfirmed certificate's transaction settled")
    assert server.api("GET", f"/certificates/{rec['serial']}")["status"] == "revoked"
    assert [e for e in events(server, "cmp.unconfirmed") if e["object"] == rec["serial"]]
    assert server.api("GET", f"/certificates/{rec['serial']}")["reason"] == "cessationOfOperation"


# ---- signature protection, kur ----------------------------------------------------------------

@pytest.fixture(scope="module")
def trusted(server, tmp_path_factory):
    """The tenant's CA certificates as PEM (what a client trusts for the server's signature)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    pem = b""
    for ca in ("issuing", "root"):
        r = server.request("GET", f"/ca/default/{ca}.crt", token=None, base=server.public_url)
        assert r.status == 200
        cert = x509.load_der_x509_certificate(r.body) if r.body[:1] == b"\x30" else \
            x509.load_pem_x509_certificate(r.body)
        pem += cert.public_bytes(Encoding.PEM)
    path = tmp_path_factory.mktemp("trusted") / "cas.pem"
    path.write_bytes(pem)
    return path


def openssl_cmp_signed(server, tmp_path, cmd, cert, key, trusted, name, *extra):
    """`openssl cmp -cmd <cmd>` protected with the signature of cert/key; trusts the tenant's
    CAs for the server's own signature."""
    out = tmp_path / f"{name}.crt"
    args = ["openssl", "cmp", "-cmd", cmd, "-server", server.public_url.split("//", 1)[1],
            "-path", "/.well-known/cmp/p/default~plant", "-cert", str(cert), "-key", str(key),
            "-trusted", str(trusted), "-unprotected_errors", "-certout", str(out),
            "-msg_timeout", "30", "-total_timeout", "60"]
    if cmd in ("cr", "kur"):
        new_key = tmp_path / f"{name}.key"
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-out", str(new_key)], check=True,
                       capture_output=True)
        args += ["-newkey", str(new_key)]
        if cmd == "cr":
            args += ["-subject", f"/CN={name}"]
    p = subprocess.run(args + list(extra), capture_output=True, text=True, timeout=90)
    return p, out


@pytest.fixture(scope="module")
def device(server, endpoint, tmp_path_factory):
    """A device certificate enrolled with a shared secret: (cert path, key path, record)."""
    d = tmp_path_factory.mktemp("device")
    s = secret_new(server, reference="device-boot")
    p, path = openssl_cmp(server, d, "ir", "device-boot", s["secret"], "boot-device",
                          "-implicit_confirm")
    assert p.returncode == 0, p.stderr
    cert, rec = issued(server, path)
    return path, d / "boot-device.key", rec


def test_a_request_signed_by_a_certificate_of_the_ca_gets_a_signed_answer(
        server, endpoint, trusted, device, tmp_path):
    cert, key, rec = device
    assert endpoint["protection_certificate"]
    p, out = openssl_cmp_signed(server, tmp_path, "cr", cert, key, trusted, "signed-cr")
    assert p.returncode == 0, p.stdout + p.stderr
    new, new_rec = issued(server, out)
    assert "signed-cr" in new_rec["subject"]
    assert transaction_status(server, new_rec["serial"]) == "confirmed"  # certConf, pkiConf signed
    ev = [e for e in events(server, "cmp.issue") if e["object"] == new_rec["serial"]][0]
    assert ev["detail"]["protection"] == "signature"
    assert ev["detail"]["reference"] == "cert:" + rec["serial"]
    # the protection key is in use: it cannot be deleted
    keys = {k["key_id"]: k for k in server.api("GET", "/keys")["keys"]}
    prot = [k for k, v in keys.items() if "cmp-protection:plant" in v["users"]]
    assert prot, keys
    r = server.request("DELETE", f"/api/v1/t/default/keys/{prot[0]}")
    assert r.status == 409, r.body


def test_kur_signed_by_the_certificate_renews_it(server, endpoint, trusted, device, tmp_path):
    cert, key, rec = device
    p, out = openssl_cmp_signed(server, tmp_path, "kur", cert, key, trusted, "kur-device",
                                "-oldcert", str(cert))
    assert p.returncode == 0, p.stdout + p.stderr
    new, new_rec = issued(server, out)
    assert new_rec["renewed_from"] == rec["serial"]
    assert new_rec["subject"] == rec["subject"]


def test_kur_with_a_shared_secret_is_refused(server, endpoint, tmp_path, device):
    cert, key, rec = device
    s = secret_new(server, reference="kur-mac")
    p, path = openssl_cmp(server, tmp_path, "kur", "kur-mac", s["secret"], "kur-mac-device",
                          "-oldcert", str(cert))
    assert p.returncode != 0 and "notAuthorized" in p.stdout + p.stderr, p.stdout + p.stderr


def test_a_revoked_or_foreign_signer_is_refused(server, endpoint, trusted, tmp_path):
    s = secret_new(server, reference="to-be-revoked")
    p, path = openssl_cmp(server, tmp_path, "ir", "to-be-revoked", s["secret"], "revoked-dev",
                          "-implicit_confirm")
    assert p.returncode == 0, p.stderr
    cert, rec = issued(server, path)
    server.api("POST", f"/certificates/{rec['serial']}/revoke", {"reason": "keyCompromise"})
    p, out = openssl_cmp_signed(server, tmp_path, "cr", path, tmp_path / "revoked-dev.key",
                                trusted, "after-revocation")
    assert p.returncode != 0 and "certRevoked" in p.stdout + p.stderr, p.stdout + p.stderr
    # a certificate of a CA of its own making: no CA of the endpoint issued it
    def run(*args):
        subprocess.run(list(args), check=True, capture_output=True)
    cakey, cacert = tmp_path / "own-ca.key", tmp_path / "own-ca.crt"
    key, csr, selfcert = tmp_path / "self.key", tmp_path / "self.csr", tmp_path / "self.crt"
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", str(cakey), "-subj", "/CN=Own CA", "-days", "1", "-out", str(cacert))
    run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", str(key), "-subj", "/CN=intruder", "-out", str(csr))
    run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(cacert), "-CAkey", str(cakey),
        "-days", "1", "-out", str(selfcert))
    p, out = openssl_cmp_signed(server, tmp_path, "cr", selfcert, key, trusted, "intruder")
    assert p.returncode != 0 and "signerNotTrusted" in p.stdout + p.stderr, p.stdout + p.stderr


def test_rr_signed_by_the_certificate_revokes_it_with_the_reason(server, endpoint, trusted,
                                                                tmp_path):
    s = secret_new(server, reference="rr-boot")
    p, path = openssl_cmp(server, tmp_path, "ir", "rr-boot", s["secret"], "rr-device",
                          "-implicit_confirm")
    assert p.returncode == 0, p.stderr
    cert, rec = issued(server, path)
    p, _ = openssl_cmp_signed(server, tmp_path, "rr", path, tmp_path / "rr-device.key", trusted,
                              "rr", "-oldcert", str(path), "-revreason", "1")
    assert p.returncode == 0, p.stdout + p.stderr
    after = server.api("GET", f"/certificates/{rec['serial']}")
    assert after["status"] == "revoked" and after["reason"] == "keyCompromise"
    assert [e for e in events(server, "cmp.revoke") if e["object"] == rec["serial"]]


def test_rr_with_a_shared_secret_revokes_nothing(server, endpoint, tmp_path, device):
    cert, key, rec = device
    s = secret_new(server, reference="rr-mac")
    p, _ = openssl_cmp(server, tmp_path, "rr", "rr-mac", s["secret"], "rr-mac", "-oldcert",
                       str(cert))
    assert p.returncode != 0 and "notAuthorized" in p.stdout + p.stderr, p.stdout + p.stderr
    assert server.api("GET", f"/certificates/{rec['serial']}")["status"] == "good"


def test_genm_answers_the_ca_certificates(server, endpoint, tmp_path):
    s = secret_new(server, reference="genm-1")
    p, _ = openssl_cmp(server, tmp_path, "genm", "genm-1", s["secret"], "genm",
                       "-infotype", "caCerts", "-rspout", str(tmp_path / "genp.der"))
    assert p.returncode == 0, p.stdout + p.stderr
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    genp = (tmp_path / "genp.der").read_bytes()
    r = server.request("GET", "/ca/default/issuing.crt", token=None, base=server.public_url)
    ca = x509.load_der_x509_certificate(r.body) if r.body[:1] == b"\x30" else \
        x509.load_pem_x509_certificate(r.body)
    assert ca.public_bytes(Encoding.DER) in genp
    assert b"\x2b\x06\x01\x05\x05\x07\x04\x11" in genp  # id-it-caCerts


# ---- polling under an approval workflow -----------------------------------------------------

@pytest.fixture(scope="module")
def held(server, endpoint):
    """An endpoint whose profile needs one approval, and an RA officer's token (not the
    secret's maker: whoever made a secret cannot approve what it requests)."""
    from conftest import own_token
    server.api("POST", "/profiles/tls-client/clone", {"name": "cmp-held"}, expect=201)
    server.api("PUT", "/workflows/profile:cmp-held", {"required": 1, "expires_hours": 1})
    server.api("POST", "/cmp/endpoints", {"name": "held", "ca": "issuing",
                                          "profiles": ["cmp-held"]}, expect=201)
    p = server.api("POST", "/principals", {"name": "cmp-officer", "kind": "user"}, expect=201)
    server.api("POST", "/roles/bind", {"principal": p["id"], "role": "ra-officer"}, expect=201)
    return own_token(server, p["id"], "cmp-officer")


def pending_requests(server):
    return [r for r in server.api("GET", "/requests?status=pending")["requests"]
            if r["kind"] == "cert.issue"]


def test_ir_under_a_workflow_polls_until_approved_then_gets_its_certificate(
        server, endpoint, held, tmp_path):
    s = secret_new(server, endpoint="held", reference="held-1")
    key = tmp_path / "held.key"
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-out", str(key)], check=True, capture_output=True)
    out = tmp_path / "held.crt"
    proc = subprocess.Popen(
        ["openssl", "cmp", "-cmd", "ir", "-server", server.public_url.split("//", 1)[1],
         "-path", "/.well-known/cmp/p/default~held", "-ref", "held-1",
         "-secret", f"pass:{s['secret']}", "-recipient", "/CN=vouch", "-unprotected_errors",
         "-newkey", str(key), "-subject", "/CN=held-device", "-certout", str(out),
         "-msg_timeout", "30", "-total_timeout", "90"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: pending_requests(server), what="the request waiting for approval")
        req = pending_requests(server)[0]
        assert req["requester"] == "cmp:held:held-1"
        assert not out.exists()  # polling: nothing issued yet
        server.api("POST", f"/requests/{req['id']}/approve", {}, token=held)
        text, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, text
    assert "pollRep" in text or "POLLREP" in text.upper(), text
    cert, rec = issued(server, out)
    assert "held-device" in rec["subject"] and rec["profile"] == "cmp-held"
    assert transaction_status(server, rec["serial"]) == "confirmed"


def test_an_unprotected_request_is_refused_with_bad_message_check(server, endpoint, tmp_path):
    certs = server.api("GET", "/certificates?limit=1000")
    p, path = openssl_cmp(server, tmp_path, "ir", "nobody", "x" * 43, "unprotected",
                          "-unprotected_requests")
    assert p.returncode != 0 and "badMessageCheck" in p.stdout + p.stderr, p.stdout + p.stderr
    assert server.api("GET", "/certificates?limit=1000") == certs


def test_a_message_time_far_from_ours_is_bad_time(server, endpoint, tmp_path):
    s = secret_new(server, reference="time-1", reusable=True)
    saved = tmp_path / "req"
    p, _ = openssl_cmp(server, tmp_path, "ir", "time-1", s["secret"], "time-device",
                       "-implicit_confirm", "-reqout", str(saved))
    assert p.returncode == 0, p.stderr
    der = saved.read_bytes()
    # messageTime [0] EXPLICIT GeneralizedTime (15 characters): a year in the past; the time
    # is checked before the MAC (which no longer holds) and the nonce (used already)
    i = der.index(b"\xa0\x11\x18\x0f")
    assert der[i + 4:i + 8] != b"2001"
    der = der[:i + 4] + b"2001" + der[i + 8:]
    certs = server.api("GET", "/certificates?limit=1000")
    r = post_cmp(server, der)
    assert r.status == 200 and b"messageTime" in r.body, r.body
    assert server.api("GET", "/certificates?limit=1000") == certs


def test_a_revoked_protection_certificate_is_replaced_at_the_next_signed_request(
        server, endpoint, trusted, device, tmp_path):
    cert, key, rec = device
    old = server.api("GET", "/cmp/endpoints/plant")["protection_certificate"]
    server.api("POST", f"/certificates/{old}/revoke", {"reason": "superseded"})
    p, out = openssl_cmp_signed(server, tmp_path, "cr", cert, key, trusted, "after-rollover")
    assert p.returncode == 0, p.stdout + p.stderr
    new = server.api("GET", "/cmp/endpoints/plant")["protection_certificate"]
    assert new and new != old
    assert server.api("GET", f"/certificates/{new}")["status"] == "good"


# ---- what this client cannot send: PBMAC1, built by the suite (pyasn1) -------------------------

def pbmac1_alg(salt, iterations):
    """The protectionAlg of PBMAC1: PBKDF2-HMAC-SHA256 (32-byte key), HMAC-SHA256."""
    from pyasn1.codec.der import encoder
    from pyasn1.type import univ
    from pyasn1_modules import rfc8018
    kdf = rfc8018.PBKDF2_params()
    kdf["salt"]["specified"] = univ.OctetString(salt)
    kdf["iterationCount"] = iterations
    kdf["keyLength"] = 32
    kdf["prf"]["algorithm"] = rfc8018.id_hmacWithSHA256
    kdf["prf"]["parameters"] = univ.Any(encoder.encode(univ.Null()))
    params = rfc8018.PBMAC1_params()
    params["keyDerivationFunc"]["algorithm"] = rfc8018.id_PBKDF2
    params["keyDerivationFunc"]["parameters"] = univ.Any(encoder.encode(kdf))
    params["messageAuthScheme"]["algorithm"] = rfc8018.id_hmacWithSHA256
    params["messageAuthScheme"]["parameters"] = univ.Any(encoder.encode(univ.Null()))
    return rfc8018.id_PBMAC1, univ.Any(encoder.encode(params))


def protected_part_der(msg):
    from pyasn1.codec.der import encoder
    from pyasn1_modules import rfc4210
    part = rfc4210.ProtectedPart()
    part["header"] = msg["header"]
    part["infoValue"] = msg["body"]
    return encoder.encode(part)


def pbmac1(secret, salt, iterations, data):
    import hashlib
    import hmac
    key = hashlib.pbkdf2_hmac("sha256", secret.encode(), salt, iterations, 32)
    return hmac.new(key, data, hashlib.sha256).digest()


def test_pbmac1_protected_ir_is_answered_under_pbmac1(server, endpoint, tmp_path):
    """RFC 9481 PBMAC1: an ir OpenSSL's client made, its header given a fresh transactionID and
    senderNonce and PBMAC1 protection instead of PasswordBasedMac."""
    import os as _os
    from pyasn1.codec.der import decoder, encoder
    from pyasn1.type import univ
    from pyasn1_modules import rfc4210, rfc8018
    s = secret_new(server, reference="pbmac1-1", reusable=True)
    saved = tmp_path / "req"
    p, _ = openssl_cmp(server, tmp_path, "ir", "pbmac1-1", s["secret"], "pbmac1-template",
                       "-implicit_confirm", "-reqout", str(saved))
    assert p.returncode == 0, p.stderr
    msg, _ = decoder.decode(saved.read_bytes(), asn1Spec=rfc4210.PKIMessage())
    hdr = msg["header"]
    hdr["transactionID"] = univ.OctetString(_os.urandom(16)).subtype(
        explicitTag=hdr["transactionID"].tagSet[-1])
    hdr["senderNonce"] = univ.OctetString(_os.urandom(16)).subtype(
        explicitTag=hdr["senderNonce"].tagSet[-1])
    salt = _os.urandom(16)
    oid, params = pbmac1_alg(salt, 2000)
    hdr["protectionAlg"]["algorithm"] = oid
    hdr["protectionAlg"]["parameters"] = params
    mac = pbmac1(s["secret"], salt, 2000, protected_part_der(msg))
    msg["protection"] = univ.BitString.fromOctetString(mac).subtype(
        explicitTag=msg["protection"].tagSet[-1])
    body = encoder.encode(msg)
    r = post_cmp(server, body)
    assert r.status == 200, r.body
    rsp, _ = decoder.decode(r.body, asn1Spec=rfc4210.PKIMessage())
    assert rsp["body"].getName() == "ip", rsp["body"].getName()
    resp = rsp["body"]["ip"]["response"][0]
    assert int(resp["status"]["status"]) == 0, resp["status"].prettyPrint()
    # the answer is under PBMAC1 too, and its MAC verifies with the secret
    alg = rsp["header"]["protectionAlg"]
    assert alg["algorithm"] == rfc8018.id_PBMAC1
    pb, _ = decoder.decode(alg["parameters"], asn1Spec=rfc8018.PBMAC1_params())
    kdf, _ = decoder.decode(pb["keyDerivationFunc"]["parameters"],
                            asn1Spec=rfc8018.PBKDF2_params())
    want = pbmac1(s["secret"], bytes(kdf["salt"]["specified"]), int(kdf["iterationCount"]),
                  protected_part_der(rsp))
    assert rsp["protection"].asOctets() == want
    # a wrong secret: badMessageCheck, nothing issued
    hdr["senderNonce"] = univ.OctetString(_os.urandom(16)).subtype(
        explicitTag=hdr["senderNonce"].tagSet[-1])
    hdr["transactionID"] = univ.OctetString(_os.urandom(16)).subtype(
        explicitTag=hdr["transactionID"].tagSet[-1])
    msg["protection"] = univ.BitString.fromOctetString(
        pbmac1("wrong", salt, 2000, protected_part_der(msg))).subtype(
        explicitTag=msg["protection"].tagSet[-1])
    certs = server.api("GET", "/certificates?limit=1000")
    r = post_cmp(server, encoder.encode(msg))
    assert r.status == 200 and b"MAC does not verify" in r.body, r.body
    assert server.api("GET", "/certificates?limit=1000") == certs


def test_a_secret_limited_to_a_profile_issues_under_it(server, endpoint, tmp_path):
    s = secret_new(server, reference="server-only", profiles=["tls-server"])
    p, path = openssl_cmp(server, tmp_path, "ir", "server-only", s["secret"], "srv.example",
                          "-implicit_confirm", "-sans", "srv.example")
    assert p.returncode == 0, p.stdout + p.stderr
    cert, rec = issued(server, path)
    assert rec["profile"] == "tls-server"


def pbmac1_request(server, tmp_path, ref, secret, name, general_info=(), *extra):
    """An ir of OpenSSL's client re-made with a fresh transactionID and senderNonce, the
    InfoTypeAndValues general_info ((oid, DER value), ...) added, under PBMAC1."""
    import os as _os
    from pyasn1.codec.der import decoder, encoder
    from pyasn1.type import univ
    from pyasn1_modules import rfc4210
    saved = tmp_path / f"{name}.req"
    p, _ = openssl_cmp(server, tmp_path, "ir", ref, secret, name, "-implicit_confirm",
                       "-reqout", str(saved), *extra)
    assert p.returncode == 0, p.stderr
    msg, _ = decoder.decode(saved.read_bytes(), asn1Spec=rfc4210.PKIMessage())
    hdr = msg["header"]
    for field in ("transactionID", "senderNonce"):
        hdr[field] = univ.OctetString(_os.urandom(16)).subtype(explicitTag=hdr[field].tagSet[-1])
    for oid, value in general_info:
        itav = hdr["generalInfo"].componentType.clone()
        itav["infoType"] = univ.ObjectIdentifier(oid)
        itav["infoValue"] = univ.Any(value)
        hdr["generalInfo"].append(itav)
    salt = _os.urandom(16)
    alg, params = pbmac1_alg(salt, 2000)
    hdr["protectionAlg"]["algorithm"] = alg
    hdr["protectionAlg"]["parameters"] = params
    msg["protection"] = univ.BitString.fromOctetString(
        pbmac1(secret, salt, 2000, protected_part_der(msg))).subtype(
        explicitTag=msg["protection"].tagSet[-1])
    return encoder.encode(msg)


def cert_profile_value(name):
    from pyasn1.codec.der import encoder
    from pyasn1.type import char, univ
    seq = univ.SequenceOf(componentType=char.UTF8String())
    seq.append(char.UTF8String(name))
    return encoder.encode(seq)


@pytest.mark.parametrize("asked,issued_under", [("tls-server", "tls-server"), ("email", None)])
def test_the_cert_profile_a_request_names_is_used_when_the_endpoint_offers_it(
        server, endpoint, tmp_path, asked, issued_under):
    from pyasn1.codec.der import decoder
    from pyasn1_modules import rfc4210
    from cryptography import x509
    s = secret_new(server, reference=f"profile-{asked}", reusable=True)
    body = pbmac1_request(server, tmp_path, f"profile-{asked}", s["secret"], f"{asked}.example",
                          [("1.3.6.1.5.5.7.4.21", cert_profile_value(asked))],
                          "-sans", f"{asked}.example")
    r = post_cmp(server, body)
    assert r.status == 200, r.body
    rsp, _ = decoder.decode(r.body, asn1Spec=rfc4210.PKIMessage())
    resp = rsp["body"]["ip"]["response"][0]
    if issued_under is None:
        assert int(resp["status"]["status"]) == 2  # rejection
        assert b"not a profile of this endpoint" in r.body
        return
    assert int(resp["status"]["status"]) == 0, resp["status"].prettyPrint()
    from pyasn1.codec.der import encoder
    from pyasn1_modules import rfc2459
    tagged = resp["certifiedKeyPair"]["certOrEncCert"]["certificate"]
    der = encoder.encode(tagged.clone(tagSet=rfc2459.Certificate.tagSet, cloneValueFlag=True))
    serial = format(x509.load_der_x509_certificate(der).serial_number, "x")
    assert server.api("GET", f"/certificates/{serial}")["profile"] == issued_under
