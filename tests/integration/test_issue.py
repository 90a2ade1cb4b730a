"""Issuance from CSRs under profiles, server-side key generation, and bad input."""
import base64
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID

from conftest import (ber_indefinite, make_csr, new_key, other_tenant, refusals_audited,
                      refused_total, run, wait_for, write)


def issue(server, csr, profile="tls-server", ca="issuing", **extra):
    body = {"ca": ca, "profile": profile, "csr": csr, **extra}
    return server.request("POST", "/api/v1/t/default/certificates", body)


def cert_count(server):
    return len(server.api("GET", "/certificates?limit=1000")["certificates"])


def stored(server, name):
    """Certificate rows whose subject names `name`, read from the database itself."""
    return int(server.sql("SELECT count(*) FROM certs WHERE tenant = 'default' AND subject LIKE ?",
                          (f"%{name}%",))[0][0])


def spki(key):
    return key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def verify_chain(tmp_path, leaf, chain, purpose=None):
    write(tmp_path / "leaf.pem", leaf)
    write(tmp_path / "chain.pem", chain)
    # The chain ends in the self-signed root: it is the trust anchor here.
    roots = [b for b in chain.split("-----END CERTIFICATE-----") if "BEGIN" in b]
    write(tmp_path / "root.pem", roots[-1] + "-----END CERTIFICATE-----\n")
    args = ["openssl", "verify", "-x509_strict", "-CAfile", str(tmp_path / "root.pem"),
            "-untrusted", str(tmp_path / "chain.pem")]
    if purpose:
        args += ["-purpose", purpose]
    run(*args, str(tmp_path / "leaf.pem"))


def test_tls_server_certificate_has_the_profile_fields(server, tmp_path):
    csr, _ = make_csr(cn="www.example.com", dns=["www.example.com", "example.com"],
                      ips=["192.0.2.7"])
    r = issue(server, csr)
    assert r.status == 201, r.body
    body = r.json()
    verify_chain(tmp_path, body["certificate"], body["chain"], purpose="sslserver")
    cert = x509.load_pem_x509_certificate(body["certificate"].encode())
    assert cert.serial_number > 0 and cert.serial_number.bit_length() >= 64
    assert format(cert.serial_number, "x") == body["serial"]
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(sans.get_values_for_type(x509.DNSName)) == {"www.example.com", "example.com"}
    cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert cdp[0].full_name[0].value == f"{server.public_url}/crl/default/issuing.crl"
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert f"{server.public_url}/ca/default/issuing.crt" in [a.access_location.value for a in aia]
    issuer = x509.load_pem_x509_certificate(body["chain"].encode())
    assert cert.issuer.public_bytes() == issuer.subject.public_bytes()
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    text = run("openssl", "x509", "-noout", "-text", "-in", str(tmp_path / "leaf.pem")).stdout
    assert "TLS Web Server Authentication" in text and "CA:FALSE" in text


def test_caissuers_url_serves_the_issuing_ca(server):
    r = server.request("GET", "/ca/default/issuing.crt", token=None, base=server.public_url)
    assert r.status == 200 and r.headers["Content-Type"] == "application/pkix-cert"
    issuing = server.api("GET", "/cas/issuing")["certificate"]
    assert x509.load_der_x509_certificate(r.body) == x509.load_pem_x509_certificate(
        issuing.encode())


def certtool_verify(tmp_path, leaf, chain, purpose_oid):
    """GnuTLS certtool verifies leaf + chain up to the root for the purpose (an EKU OID)."""
    roots = [b for b in chain.split("-----END CERTIFICATE-----") if "BEGIN" in b]
    write(tmp_path / "root.pem", roots[-1] + "-----END CERTIFICATE-----\n")
    write(tmp_path / "path.pem", leaf + chain)
    p = run("certtool", "--verify", "--load-ca-certificate", str(tmp_path / "root.pem"),
            "--infile", str(tmp_path / "path.pem"), f"--verify-purpose={purpose_oid}")
    assert "Chain verification output: Verified." in p.stdout, p.stdout


@pytest.mark.parametrize("profile,key_type,names,purposes,eku,policy", [
    ("tls-server", "ec-p256", {"cn": "www.example.com", "dns": ["www.example.com"]},
     ["sslserver"], ExtendedKeyUsageOID.SERVER_AUTH, "2.23.140.1.2.1"),
    ("tls-server", "rsa-2048", {"cn": "www.example.com", "dns": ["www.example.com"]},
     ["sslserver"], ExtendedKeyUsageOID.SERVER_AUTH, "2.23.140.1.2.1"),
    ("tls-client", "ec-p256", {"cn": "Alice Example", "emails": ["alice@example.com"]},
     ["sslclient"], ExtendedKeyUsageOID.CLIENT_AUTH, None),
    # OpenSSL 3.0's smimeencrypt purpose wants keyEncipherment, which RFC 8813 forbids on EC
    # keys: an EC certificate's encryption is checked by encrypting to it (below) instead.
    ("email", "ec-p256", {"cn": "Alice Example", "emails": ["alice@example.com"]},
     ["smimesign"], ExtendedKeyUsageOID.EMAIL_PROTECTION, None),
    ("email", "rsa-2048", {"cn": "Alice Example", "emails": ["alice@example.com"]},
     ["smimesign", "smimeencrypt"], ExtendedKeyUsageOID.EMAIL_PROTECTION, None),
    ("code-signing", "ec-p256", {"cn": "Alice Example", "org": "Example Corp", "country": "DE"},
     [], ExtendedKeyUsageOID.CODE_SIGNING, "2.23.140.1.4.1"),
])
def test_builtin_end_entity_profiles_serve_the_purpose_they_claim(server, tmp_path, profile,
                                                                   key_type, names, purposes,
                                                                   eku, policy):
    """Issue 23: each built-in profile's certificate passes OpenSSL's purpose check and GnuTLS's
    (OpenSSL 3.0 has no code-signing purpose: certtool checks that one) and carries the
    CA/Browser Forum policy its description claims."""
    csr, key = make_csr(key=new_key(key_type), **names)
    r = issue(server, csr, profile=profile)
    assert r.status == 201, r.body
    leaf, chain = r.json()["certificate"], r.json()["chain"]
    for purpose in purposes:
        verify_chain(tmp_path, leaf, chain, purpose=purpose)
    certtool_verify(tmp_path, leaf, chain, eku.dotted_string)
    if profile == "email":  # "signed and encrypted e-mail": a message encrypted to it opens
        write(tmp_path / "leaf.pem", leaf)
        write(tmp_path / "key.pem", key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode())
        write(tmp_path / "msg.txt", "for Alice only\n")
        run("openssl", "cms", "-encrypt", "-aes256", "-in", str(tmp_path / "msg.txt"),
            "-out", str(tmp_path / "msg.p7m"), "-recip", str(tmp_path / "leaf.pem"))
        p = run("openssl", "cms", "-decrypt", "-in", str(tmp_path / "msg.p7m"),
                "-recip", str(tmp_path / "leaf.pem"), "-inkey", str(tmp_path / "key.pem"))
        assert p.stdout == "for Alice only\n", p.stdout
        # ... with the key usage that says so (RFC 8551 §4.4.2, RFC 8813 §3 for EC keys)
        ku = x509.load_pem_x509_certificate(leaf.encode()).extensions.get_extension_for_class(
            x509.KeyUsage).value
        ec = key_type.startswith("ec-")
        assert (ku.key_agreement, ku.key_encipherment) == (ec, not ec), ku
    cert = x509.load_pem_x509_certificate(leaf.encode())
    assert eku in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    try:
        policies = [p.policy_identifier.dotted_string for p in
                    cert.extensions.get_extension_for_class(x509.CertificatePolicies).value]
    except x509.ExtensionNotFound:
        policies = []
    assert policies == ([policy] if policy else []), policies


@pytest.mark.parametrize("profile,csr_args,why", [
    ("tls-server", {"cn": "www.example.com", "dns": ["www.example.com"], "key_type": "ed25519"},
     "key: ed25519 not allowed"),
    ("tls-server", {"cn": "www.example.com", "dns": ["www.example.com"], "org": "Example Corp"},
     "subject.O: forbidden"),
    ("code-signing", {"cn": "Alice Example", "org": "Example Corp"}, "subject.C: required"),
])
def test_builtin_profiles_refuse_what_their_requirements_do_not_allow(server, profile, csr_args,
                                                                      why):
    args = dict(csr_args)
    key_type = args.pop("key_type", "ec-p256")
    csr, _ = make_csr(key=new_key(key_type), **args)
    before = cert_count(server)
    r = issue(server, csr, profile=profile)
    assert r.status == 422 and why in r.json()["detail"], r.body
    assert cert_count(server) == before


def test_time_stamping_profile_has_critical_timestamping_eku_only(server, tmp_path):
    csr, _ = make_csr(cn="Vouch TSA", org="Test")
    r = issue(server, csr, profile="time-stamping")
    assert r.status == 201, r.body
    cert = x509.load_pem_x509_certificate(r.json()["certificate"].encode())
    ext = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert ext.critical and list(ext.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    verify_chain(tmp_path, r.json()["certificate"], r.json()["chain"], purpose="timestampsign")


def test_csr_extensions_are_not_copied(server):
    csr, _ = make_csr(cn="sneaky.example", dns=["sneaky.example"],
                      extra_ext=x509.BasicConstraints(ca=True, path_length=None))
    r = issue(server, csr)
    assert r.status == 201, r.body
    cert = x509.load_pem_x509_certificate(r.json()["certificate"].encode())
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False


@pytest.mark.parametrize("key_type", ["ec-p384", "rsa-2048", "rsa-3072", "ed25519"])
def test_csr_key_types_allowed_by_profile(server, tmp_path, key_type):
    """tls-client lists every key type (docs/profiles.md): each is issued, with the CSR's key."""
    key = new_key(key_type)
    csr, _ = make_csr(cn="k.example", dns=["k.example"], key=key)
    r = issue(server, csr, profile="tls-client")
    assert r.status == 201, r.body
    verify_chain(tmp_path, r.json()["certificate"], r.json()["chain"], purpose="sslclient")
    cert = x509.load_pem_x509_certificate(r.json()["certificate"].encode())
    assert cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo) \
        == spki(key)
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and not ku.key_encipherment and not ku.key_agreement


@pytest.mark.parametrize("key_type,named", [("ed25519", "ed25519"), ("rsa-2048", "rsa-2048")])
def test_a_key_type_the_profile_does_not_list_is_refused_and_nothing_is_stored(server, key_type,
                                                                            named):
    """code-signing lists ec-p256, ec-p384, rsa-3072 and rsa-4096 only (builtin.c)."""
    cn = f"signer-{key_type}"
    csr, _ = make_csr(cn=cn, org="Example Corp", key=new_key(key_type))
    before = cert_count(server)
    r = issue(server, csr, profile="code-signing")
    assert r.status == 422 and r.json()["error"] == "profile_violation", r.body
    assert r.json()["detail"] == (f"key: {named} not allowed (allowed: ec-p256, ec-p384, "
                                  "rsa-3072, rsa-4096)")
    assert cert_count(server) == before and stored(server, cn) == 0
    last = server.audit()[-1]
    assert (last["action"], last["result"]) == ("cert.issue", "refused"), last


@pytest.mark.parametrize("csr_args,field", [
    ({"cn": "nosan.example"}, "san"),
    ({"cn": "a.example", "dns": ["b.example"]}, "CN"),
    ({"cn": "x.example", "dns": ["x.example"], "ou": "Web Team"}, "OU"),
    ({"cn": "bad_name.example", "dns": ["bad_name.example"]}, "dns"),
])
def test_profile_violations_name_the_field_and_write_nothing(server, csr_args, field):
    before = cert_count(server)
    csr, _ = make_csr(**csr_args)
    r = issue(server, csr)
    assert r.status in (400, 422), r.body
    err = r.json()
    assert field.lower() in err["detail"].lower(), err
    assert cert_count(server) == before


def test_weak_rsa_key_is_refused_and_nothing_is_stored(server):
    from cryptography.hazmat.primitives.asymmetric import rsa
    csr, _ = make_csr(cn="weak.example", dns=["weak.example"],
                      key=rsa.generate_private_key(65537, 1024))
    before = cert_count(server)
    r = issue(server, csr)
    assert r.status == 400 and r.json()["error"] == "bad_csr", r.body
    assert r.json()["detail"] == "csr: key: RSA key of 1024 bits is too weak (at least 2048)"
    assert cert_count(server) == before and stored(server, "weak.example") == 0
    assert server.api("GET", "/certificates?san=weak.example")["certificates"] == []
    last = server.audit()[-1]
    assert (last["action"], last["result"]) == ("cert.issue", "refused"), last
    # The positive control: the same request with a 2048-bit key is stored, and found so.
    csr, _ = make_csr(cn="weak.example", dns=["weak.example"], key=new_key("rsa-2048"))
    assert issue(server, csr).status == 201
    assert stored(server, "weak.example") == 1 and cert_count(server) == before + 1


def test_csr_with_a_broken_signature_is_refused(server):
    csr, _ = make_csr(cn="tamper.example", dns=["tamper.example"])
    der = x509.load_pem_x509_csr(csr.encode()).public_bytes(serialization.Encoding.DER)
    broken = bytearray(der)
    broken[-5] ^= 0x01  # inside the signature
    pem = ("-----BEGIN CERTIFICATE REQUEST-----\n" + base64.encodebytes(bytes(broken)).decode()
           + "-----END CERTIFICATE REQUEST-----\n")
    before = cert_count(server)
    r = issue(server, pem)
    assert r.status == 400 and r.json()["error"] == "bad_csr"
    assert cert_count(server) == before


def test_a_csr_in_ber_is_refused_though_its_signature_holds(server):
    csr, _ = make_csr(cn="ber.example", dns=["ber.example"])
    der = x509.load_pem_x509_csr(csr.encode()).public_bytes(serialization.Encoding.DER)
    before = cert_count(server)
    for bad in (ber_indefinite(der), der + b"\x00"):
        pem = ("-----BEGIN CERTIFICATE REQUEST-----\n" + base64.encodebytes(bad).decode()
               + "-----END CERTIFICATE REQUEST-----\n")
        r = issue(server, pem)
        assert r.status == 400 and r.json()["error"] == "bad_csr", r.body
        assert "not DER" in r.json()["detail"]
    assert cert_count(server) == before


@pytest.mark.parametrize("body,status,error", [
    (b"{not json", 400, "bad_request"),
    (b"[1,2]", 400, "bad_request"),
    (b'{"ca": "issuing", "profile": "tls-server", "csr": "garbage"}', 400, "bad_csr"),
    (b'{"ca": "issuing", "profile": "tls-server"}', 400, "bad_request"),
    (b'{"ca": 5, "profile": "tls-server", "csr": "x"}', 400, "bad_request"),
    (b'{"ca": "nope", "profile": "tls-server", "csr": "x"}', 404, "not_found"),
    (b'{"ca": "issuing", "profile": "nope", "csr": "x"}', 404, "not_found"),
    (b'{"ca": "issuing", "profile": "sub-ca", "csr": "x"}', 422, "profile_violation"),
])
def test_bad_requests_get_clear_json_errors(server, body, status, error):
    r = server.request("POST", "/api/v1/t/default/certificates", body)
    assert r.status == status, r.body
    assert r.json()["error"] == error and r.json()["detail"]


def test_oversized_body_wrong_type_and_unknown_tenant(server):
    r = server.request("POST", "/api/v1/t/default/certificates", b"{" + b" " * 200000 + b"}")
    assert r.status == 413 and r.json()["error"] == "payload_too_large"
    r = server.request("POST", "/api/v1/t/default/certificates", b"{}", content_type="text/plain")
    assert r.status == 415
    r = server.request("GET", "/api/v1/t/nosuchtenant/cas")
    assert r.status == 403  # the token is not of that tenant: nothing said about existence


def test_tokens_missing_wrong_or_of_another_tenant_are_refused_and_audited(server):
    before = refused_total(refusals_audited(server, "default", "admin"))
    assert server.request("GET", "/api/v1/t/default/cas", token=None).status == 401
    assert server.request("GET", "/api/v1/t/default/cas", token="vouch_wrong").status == 401
    assert server.request("GET", "/api/v1/t/default/cas", token="system").status == 403
    other = other_tenant(server, "tenant-b")
    r = server.request("GET", "/api/v1/t/default/certificates", token=other)
    assert r.status == 403 and "certificates" not in r.json()
    # The 401s may be summed up in one event ("refused": 2): audited at a bounded rate.
    refused = refusals_audited(server, "default", "admin", before + 4)
    assert refused_total(refused) >= before + 4
    assert all(e["result"] == "refused" for e in refused)


def test_server_side_keygen_returns_a_pkcs12_under_the_callers_password(server, tmp_path):
    body = {"ca": "issuing", "profile": "tls-client", "subject": "/CN=device-42",
            "sans": ["dns:device-42.example"], "key_type": "ec-p256",
            "password": "correct horse battery"}
    r = server.request("POST", "/api/v1/t/default/certificates/keygen", body)
    assert r.status == 201, r.body
    blob = base64.b64decode(r.json()["pkcs12"])
    key, cert, extra = pkcs12.load_key_and_certificates(blob, b"correct horse battery")
    assert cert.subject.rfc4514_string() == "CN=device-42"
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()
    assert len(extra) >= 1
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(blob, b"wrong password")
    write(tmp_path / "k.p12", "")
    open(tmp_path / "k.p12", "wb").write(blob)
    p = run("openssl", "pkcs12", "-in", str(tmp_path / "k.p12"), "-nokeys", "-passin",
            "pass:correct horse battery")
    assert "device-42" in p.stdout
    r = server.request("POST", "/api/v1/t/default/certificates/keygen", {**body, "password": "x"})
    assert r.status == 400


def test_der_format_and_a_validity_past_the_profile_refused(server):
    csr, _ = make_csr(cn="der.example", dns=["der.example"])
    r = issue(server, csr, format="der")
    assert r.status == 201
    cert = x509.load_der_x509_certificate(base64.b64decode(r.json()["certificate"]))
    issuing = x509.load_pem_x509_certificate(server.api("GET", "/cas/issuing")["certificate"]
                                             .encode())
    # Longer than the profile allows: refused, nothing stored (docs/profiles.md).
    before = stored(server, "der.example")
    r = issue(server, csr, validity_days=36000)
    assert r.status == 422, r.body
    assert r.json()["detail"] == "validity_days: 36000 exceeds the profile's max_days 200"
    assert stored(server, "der.example") == before
    assert cert.not_valid_after <= issuing.not_valid_after


def test_custom_profile_versions_clone_and_pattern_rule(server):
    doc = server.api("GET", "/profiles/tls-server")["document"]
    doc["san"]["dns"]["pattern"] = "^[a-z0-9.-]+\\.corp\\.example$"
    created = server.api("POST", "/profiles", {"name": "corp-tls", "document": doc}, expect=201)
    assert created["version"] == 1
    r = server.request("POST", "/api/v1/t/default/profiles", {"name": "corp-tls", "document": doc})
    assert r.status == 409
    csr, _ = make_csr(cn="www.other.example", dns=["www.other.example"])
    r = issue(server, csr, profile="corp-tls")
    assert r.status == 422 and "dns" in r.json()["detail"].lower()
    csr, _ = make_csr(cn="app.corp.example", dns=["app.corp.example"])
    r = issue(server, csr, profile="corp-tls")
    assert r.status == 201 and r.json()["profile_version"] == 1
    doc["validity"]["default_days"] = 10
    assert server.api("PUT", "/profiles/corp-tls", {"document": doc})["version"] == 2
    assert server.api("GET", "/profiles/corp-tls?version=1")["version"] == 1
    assert server.api("GET", "/profiles/corp-tls")["version"] == 2
    r = issue(server, csr, profile="corp-tls")
    assert r.status == 201 and r.json()["profile_version"] == 2
    # The new text rules at once: each node keeps a profile's parsed form only while it is current.
    cert = x509.load_pem_x509_certificate(r.json()["certificate"].encode())
    assert (cert.not_valid_after - cert.not_valid_before).days in (10, 11)
    doc["san"]["dns"]["pattern"] = "^[a-z0-9.-]+\\.lab\\.example$"
    assert server.api("PUT", "/profiles/corp-tls", {"document": doc})["version"] == 3
    r = issue(server, csr, profile="corp-tls")
    assert r.status == 422 and "dns" in r.json()["detail"].lower()
    server.api("POST", "/profiles/corp-tls/clone", {"name": "corp-tls-2"}, expect=201)
    assert server.api("GET", "/profiles/corp-tls-2")["document"]["validity"]["default_days"] == 10
    bad = dict(doc, no_such_field=1)
    r = server.request("PUT", "/api/v1/t/default/profiles/corp-tls", {"document": bad})
    assert r.status == 400 and "no_such_field" in r.json()["detail"]


def test_cli_keygen_takes_the_password_from_a_file(server, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("file-borne secret\n")
    out = tmp_path / "dev.p12"
    p = server.cli("cert", "keygen", "--ca", "issuing", "--profile", "tls-client", "--subject",
                   "/CN=pwfile-device", "--password-file", str(pw), "-o", str(out))
    assert "file-borne secret" not in p.stdout + p.stderr
    r = subprocess.run(["openssl", "pkcs12", "-in", str(out), "-nokeys", "-passin",
                        "pass:file-borne secret"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "pwfile-device" in r.stdout, r.stderr
    r = subprocess.run(["openssl", "pkcs12", "-in", str(out), "-nokeys", "-passin",
                        "pass:file-borne secret\n"], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0  # the line end is not part of the password


def test_an_issuance_asked_again_with_its_idempotency_key_gets_the_same_certificate(server):
    """A client that lost the answer asks again with the same Idempotency-Key: it gets the
    certificate issued the first time, not a second one; the key cannot be used for another
    request or by another principal, and one key sent by many at once issues once."""
    import threading
    csr, _ = make_csr(cn="idem.example", dns=["idem.example"])
    body = {"ca": "issuing", "profile": "tls-server", "csr": csr}
    path = "/api/v1/t/default/certificates"
    mine = lambda: server.api("GET", "/certificates?san=idem.example&limit=1000")["certificates"]
    audit = lambda: [e for e in server.audit() if e["action"] == "cert.issue"]
    issued_before = len(audit())
    r1 = server.request("POST", path, body, headers={"Idempotency-Key": "order-1"})
    assert r1.status == 201 and r1.headers.get("Idempotent-Replayed") is None, r1.body
    r2 = server.request("POST", path, body, headers={"Idempotency-Key": "order-1"})
    assert r2.status == 201 and r2.headers["Idempotent-Replayed"] == "true"
    assert r2.json()["serial"] == r1.json()["serial"]
    assert r2.json()["certificate"] == r1.json()["certificate"]
    assert len(mine()) == 1 and len(audit()) == issued_before + 1
    # Without a key, or with another: a new certificate each time.
    assert server.request("POST", path, body).status == 201
    assert server.request("POST", path, body, headers={"Idempotency-Key": "order-2"}).status == 201
    assert len(mine()) == 3
    # The key with another request, or by another principal: refused, nothing issued.
    other_csr, _ = make_csr(cn="idem.example", dns=["idem.example"])
    r = server.request("POST", path, dict(body, csr=other_csr),
                       headers={"Idempotency-Key": "order-1"})
    assert r.status == 409 and r.json()["error"] == "idempotency_key_in_use", r.body
    p = server.api("POST", "/principals", {"name": "idem-app", "kind": "application"}, expect=201)
    server.api("POST", "/roles/bind", {"principal": p["id"], "role": "requester"}, expect=201)
    tok = server.api("POST", "/tokens", {"name": "idem-app", "principal": p["id"],
                                         "expires_days": 0}, expect=201)["token"]
    r = server.request("POST", path, body, token=tok, headers={"Idempotency-Key": "order-1"})
    assert r.status == 409 and r.json()["error"] == "idempotency_key_in_use", r.body
    for bad in ("", "x" * 65, "has space", "semi;colon"):
        r = server.request("POST", path, body, headers={"Idempotency-Key": bad})
        assert r.status == 400 and "Idempotency-Key" in r.json()["detail"], (bad, r.body)
    assert len(mine()) == 3
    # Eight clients at once with one key: one certificate, the same for all.
    got = []
    lock = threading.Lock()

    def ask():
        r = server.request("POST", path, body, headers={"Idempotency-Key": "order-3"})
        with lock:
            got.append((r.status, r.json().get("serial")))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {s for s, _ in got} == {201}, got
    assert len({serial for _, serial in got}) == 1, got
    assert len(mine()) == 4
    # A day on, a key is free again (and nodes remove it: at start, then hourly).
    server.sql("UPDATE idempotency SET created = created - 90000 WHERE key IN (?, ?)",
               ("order-1", "order-2"))
    r = server.request("POST", path, dict(body, csr=other_csr),
                       headers={"Idempotency-Key": "order-1"})
    assert r.status == 201 and r.headers.get("Idempotent-Replayed") is None, r.body
    assert len(mine()) == 5
    server.stop()
    server.start()
    keys = lambda: {k for (k,) in server.sql("SELECT key FROM idempotency WHERE tenant = 'default'")}
    wait_for(lambda: "order-2" not in keys(), 10, "the expired key removed at start")
    assert {"order-1", "order-3"} <= keys(), keys()
