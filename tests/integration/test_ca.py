"""CA hierarchies per tenant: roots, intermediates, external CAs, imports, disable."""
import base64
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12

from conftest import make_csr, new_key, other_tenant, run, write

KEY_TYPES = ["ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519"]


def chain_file(tmp_path, name, *pems):
    return write(tmp_path / name, "".join(pems))


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_root_and_intermediate_of_each_key_type_verify_with_openssl_and_certtool(
        server, tmp_path, key_type):
    root = server.api("POST", "/cas", {"name": f"r-{key_type}", "key_type": key_type,
                                       "subject": f"/O=Test/CN=Root {key_type}"}, expect=201)
    sub = server.api("POST", "/cas", {"name": f"s-{key_type}", "key_type": key_type,
                                      "parent": f"r-{key_type}",
                                      "subject": f"/O=Test/CN=Sub {key_type}"}, expect=201)
    assert sub["chain"] == root["certificate"]
    rootf = chain_file(tmp_path, "root.pem", root["certificate"])
    subf = chain_file(tmp_path, "sub.pem", sub["certificate"])
    run("openssl", "verify", "-x509_strict", "-CAfile", rootf, subf)
    both = chain_file(tmp_path, "both.pem", sub["certificate"], root["certificate"])
    p = run("certtool", "--verify-chain", "--infile", both, check=False)
    assert "Chain verification output: Verified" in p.stdout, p.stdout
    cert = x509.load_pem_x509_certificate(sub["certificate"].encode())
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0


def test_intermediate_cannot_be_signed_by_another_tenants_ca(server):
    other = other_tenant(server, "other")
    server.api("POST", "/cas", {"name": "other-root", "subject": "/CN=Other Root"},
               tenant="other", token=other, expect=201)
    r = server.request("POST", "/api/v1/t/default/cas",
                       {"name": "x", "parent": "other-root", "subject": "/CN=x"})
    assert r.status == 404 and r.json()["error"] == "not_found"
    assert "Other Root" not in r.body.decode()


def test_external_ca_exports_csr_and_imports_the_signed_certificate(server, tmp_path):
    ca = server.api("POST", "/cas", {"name": "ext", "external": True,
                                     "subject": "/O=Test/CN=Externally Signed"}, expect=201)
    assert ca["status"] == "pending" and ca["certificate"] is None
    csr_pem = server.api("GET", "/cas/ext/csr")["csr"]
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    assert csr.is_signature_valid
    # An outside CA (openssl here) signs it.
    outside_key = write(tmp_path / "o.key", "")
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", outside_key, "-out", str(tmp_path / "o.crt"), "-subj",
        "/CN=Outside Root", "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    write(tmp_path / "ext.csr", csr_pem)
    write(tmp_path / "ext.cnf", "[v]\nbasicConstraints=critical,CA:TRUE,pathlen:0\n"
                                 "keyUsage=critical,keyCertSign,cRLSign\n"
                                 "subjectKeyIdentifier=hash\n"
                                 "authorityKeyIdentifier=keyid\n")
    run("openssl", "x509", "-req", "-in", str(tmp_path / "ext.csr"), "-CA",
        str(tmp_path / "o.crt"), "-CAkey", outside_key, "-out", str(tmp_path / "ext.crt"),
        "-days", "20", "-extfile", str(tmp_path / "ext.cnf"), "-extensions", "v")
    signed = open(tmp_path / "ext.crt").read()
    # A certificate for some other key is refused, and the CA stays pending.
    other_csr, _ = make_csr(cn="other")
    write(tmp_path / "other.csr", other_csr)
    run("openssl", "x509", "-req", "-in", str(tmp_path / "other.csr"), "-CA",
        str(tmp_path / "o.crt"), "-CAkey", outside_key, "-out", str(tmp_path / "other.crt"),
        "-days", "20", "-extfile", str(tmp_path / "ext.cnf"), "-extensions", "v")
    r = server.request("POST", "/api/v1/t/default/cas/ext/certificate",
                       {"certificate": open(tmp_path / "other.crt").read()})
    assert r.status == 400 and "key" in r.json()["detail"]
    assert server.api("GET", "/cas/ext")["status"] == "pending"
    ca = server.api("POST", "/cas/ext/certificate",
                    {"certificate": signed, "chain": open(tmp_path / "o.crt").read()})
    assert ca["status"] == "active"
    # It now issues, and the chain verifies up to the outside root.
    csr, _ = make_csr(cn="leaf.example", dns=["leaf.example"])
    leaf = server.api("POST", "/certificates", {"ca": "ext", "profile": "tls-server", "csr": csr},
                      expect=201)
    write(tmp_path / "leaf.pem", leaf["certificate"])
    write(tmp_path / "chain.pem", leaf["chain"])
    run("openssl", "verify", "-CAfile", str(tmp_path / "o.crt"), "-untrusted",
        str(tmp_path / "chain.pem"), str(tmp_path / "leaf.pem"))


def _self_signed_ca(key, cn):
    import datetime
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.utcnow()
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))


def test_import_ca_from_pkcs12_then_issue(server, tmp_path):
    key = new_key("ec-p256")
    cert = _self_signed_ca(key, "Imported P12 CA")
    blob = pkcs12.serialize_key_and_certificates(
        b"imp", key, cert, None, serialization.BestAvailableEncryption(b"secret-pw"))
    r = server.request("POST", "/api/v1/t/default/cas/import",
                       {"name": "imp12", "pkcs12": base64.b64encode(blob).decode(),
                        "password": "wrong-pw"})
    assert r.status == 400
    ca = server.api("POST", "/cas/import", {"name": "imp12", "password": "secret-pw",
                                            "pkcs12": base64.b64encode(blob).decode()},
                    expect=201)
    assert ca["status"] == "active"
    csr, _ = make_csr(cn="p12.example", dns=["p12.example"])
    leaf = server.api("POST", "/certificates",
                      {"ca": "imp12", "profile": "tls-server", "csr": csr}, expect=201)
    leaf_cert = x509.load_pem_x509_certificate(leaf["certificate"].encode())
    # Signed by the imported key: verification raises if not.
    key.public_key().verify(leaf_cert.signature, leaf_cert.tbs_certificate_bytes,
                            ec.ECDSA(hashes.SHA256()))


def test_a_ca_creation_workflow_also_refuses_an_import_with_its_key(server):
    """Issue 23: importing a CA with its key is creating one; under a ca.create workflow it cannot
    wait in a request (the key would have to), so it is refused and nothing changes."""
    key = new_key("ec-p256")
    cert = _self_signed_ca(key, "Gated Import CA")
    body = {"name": "gated-imp",
            "key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode(),
            "certificate": cert.public_bytes(serialization.Encoding.PEM).decode()}
    server.api("PUT", "/workflows/ca.create", {"required": 1})
    try:
        keys = server.api("GET", "/keys")["keys"]
        r = server.request("POST", "/api/v1/t/default/cas/import", body)
        assert r.status == 409 and "needs approval" in r.json()["detail"], r.body
        assert server.request("GET", "/api/v1/t/default/cas/gated-imp").status == 404
        assert server.api("GET", "/keys")["keys"] == keys  # no key reached the signer
    finally:
        server.api("DELETE", "/workflows/ca.create", expect=204)
    assert server.api("POST", "/cas/import", body, expect=201)["name"] == "gated-imp"


def test_import_ca_from_pem_key_and_certificate(server, tmp_path):
    key = new_key("rsa-2048")
    cert = _self_signed_ca(key, "Imported PEM CA")
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    mismatched = _self_signed_ca(new_key("rsa-2048"), "Other").public_bytes(
        serialization.Encoding.PEM).decode()
    r = server.request("POST", "/api/v1/t/default/cas/import",
                       {"name": "imppem", "key": key_pem, "certificate": mismatched})
    assert r.status == 400
    assert server.request("GET", "/api/v1/t/default/cas/imppem").status == 404
    ca = server.api("POST", "/cas/import", {"name": "imppem", "key": key_pem,
                                            "certificate": cert_pem}, expect=201)
    assert ca["key_type"] == "rsa-2048"
    # The key went to the encrypted store, not stored in clear anywhere.
    for root, _, files in os.walk(server.dir):
        for f in files:
            data = open(os.path.join(root, f), "rb").read()
            assert key_pem.encode()[40:120] not in data


def test_list_show_disable(server):
    server.api("POST", "/cas", {"name": "todisable", "subject": "/CN=Disable Me"}, expect=201)
    names = [c["name"] for c in server.api("GET", "/cas")["cas"]]
    assert "todisable" in names
    assert server.api("GET", "/cas/todisable")["subject"] == "CN=Disable Me"
    assert server.api("POST", "/cas/todisable/disable", {})["status"] == "disabled"
    csr, _ = make_csr(cn="x.example", dns=["x.example"])
    r = server.request("POST", "/api/v1/t/default/certificates",
                       {"ca": "todisable", "profile": "tls-server", "csr": csr})
    assert r.status == 409 and "disabled" in r.json()["detail"]


def test_duplicate_ca_name_is_a_conflict_and_leaves_no_key(server):
    def keys():
        return {k["key_id"] for k in server.api("GET", "/keys")["keys"]}
    before = keys()
    r = server.request("POST", "/api/v1/t/default/cas", {"name": "root", "subject": "/CN=dup"})
    assert r.status == 409
    r = server.request("POST", "/api/v1/t/default/cas",
                       {"name": "badsubj", "subject": "no-slash-form"})
    assert r.status == 400
    assert keys() == before
