"""Revocation, suspension, renewal, search, end entities and CRLs."""
import datetime
import json

from cryptography import x509

from conftest import holds_for, make_csr, run, wait_for, write


def issue(server, cn, entity=None, profile="tls-server"):
    csr, key = make_csr(cn=cn, dns=[cn])
    body = {"ca": "issuing", "profile": profile, "csr": csr}
    if entity:
        body["entity"] = entity
    return server.api("POST", "/certificates", body, expect=201), csr


def fetch_crl(server, tmp_path, name="crl.der"):
    r = server.request("GET", "/crl/default/issuing.crl", token=None, base=server.public_url)
    assert r.status == 200 and r.headers["Content-Type"] == "application/pkix-crl"
    open(tmp_path / name, "wb").write(r.body)
    run("openssl", "crl", "-inform", "DER", "-in", str(tmp_path / name), "-out",
        str(tmp_path / (name + ".pem")))
    return x509.load_der_x509_crl(r.body), str(tmp_path / (name + ".pem"))


def crl_verify(server, tmp_path, cert_pem, crl_pem):
    chain = server.api("GET", "/cas/issuing")
    write(tmp_path / "leaf.pem", cert_pem)
    root = server.api("GET", "/cas/root")
    write(tmp_path / "trust.pem", root["certificate"] + chain["certificate"])
    # The root's CRL, so -crl_check_all has a CRL for every level.
    r = server.request("GET", "/crl/default/root.crl", token=None, base=server.public_url)
    open(tmp_path / "root.crl.der", "wb").write(r.body)
    run("openssl", "crl", "-inform", "DER", "-in", str(tmp_path / "root.crl.der"), "-out",
        str(tmp_path / "root.crl.pem"))
    crls = write(tmp_path / "crls.pem", open(crl_pem).read() + open(tmp_path /
                                                                       "root.crl.pem").read())
    return run("openssl", "verify", "-crl_check_all", "-CAfile", str(tmp_path / "trust.pem"),
               "-CRLfile", crls, str(tmp_path / "leaf.pem"), check=False)


def test_revocation_shows_on_the_next_crl_and_fails_openssl_verify(server, tmp_path):
    cert, _ = issue(server, "revoke-me.example")
    server.api("POST", "/cas/issuing/crl", {}, expect=201)
    crl, crl_pem = fetch_crl(server, tmp_path, "before.der")
    p = crl_verify(server, tmp_path, cert["certificate"], crl_pem)
    assert p.returncode == 0, p.stdout + p.stderr
    before_number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number

    inv = (datetime.datetime.utcnow() - datetime.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = server.api("POST", f"/certificates/{cert['serial']}/revoke",
                     {"reason": "keyCompromise", "invalidity_date": inv})
    assert out["status"] == "revoked" and out["reason"] == "keyCompromise"
    r = server.request("POST", f"/api/v1/t/default/certificates/{cert['serial']}/revoke",
                       {"reason": "superseded"})
    assert r.status == 409
    gen = server.api("POST", "/cas/issuing/crl", {}, expect=201)
    assert gen["number"] > before_number
    crl, crl_pem = fetch_crl(server, tmp_path, "after.der")
    entry = crl.get_revoked_certificate_by_serial_number(int(cert["serial"], 16))
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == \
        x509.ReasonFlags.key_compromise
    assert entry.extensions.get_extension_for_class(x509.InvalidityDate).value \
        .invalidity_date.strftime("%Y-%m-%dT%H:%M:%SZ") == inv
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == gen["number"]
    p = crl_verify(server, tmp_path, cert["certificate"], crl_pem)
    assert p.returncode != 0 and "revoked" in (p.stdout + p.stderr)


def test_crl_fields_and_strictly_increasing_numbers(server, tmp_path):
    numbers = [server.api("POST", "/cas/issuing/crl", {}, expect=201)["number"] for _ in range(3)]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    crl, _ = fetch_crl(server, tmp_path)
    issuing = x509.load_pem_x509_certificate(server.api("GET", "/cas/issuing")["certificate"]
                                             .encode())
    assert crl.issuer.public_bytes() == issuing.subject.public_bytes()
    assert crl.is_signature_valid(issuing.public_key())
    assert crl.next_update > datetime.datetime.utcnow() >= crl.last_update
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = issuing.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert server.api("GET", "/cas/issuing/crl")["number"] == numbers[-1]


def test_suspend_and_reinstate(server, tmp_path):
    cert, _ = issue(server, "hold.example")
    serial = int(cert["serial"], 16)
    assert server.api("POST", f"/certificates/{cert['serial']}/suspend", {})["status"] == "hold"
    server.api("POST", "/cas/issuing/crl", {}, expect=201)
    crl, _ = fetch_crl(server, tmp_path)
    entry = crl.get_revoked_certificate_by_serial_number(serial)
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == \
        x509.ReasonFlags.certificate_hold
    assert server.api("POST", f"/certificates/{cert['serial']}/reinstate", {})["status"] == "good"
    server.api("POST", "/cas/issuing/crl", {}, expect=201)
    crl, _ = fetch_crl(server, tmp_path)
    assert crl.get_revoked_certificate_by_serial_number(serial) is None
    r = server.request("POST", f"/api/v1/t/default/certificates/{cert['serial']}/reinstate", {})
    assert r.status == 409


def test_revoke_with_unknown_reason_or_serial(server):
    cert, _ = issue(server, "reasons.example")
    r = server.request("POST", f"/api/v1/t/default/certificates/{cert['serial']}/revoke",
                       {"reason": "becauseISaidSo"})
    assert r.status == 400 and "reason" in r.json()["detail"]
    r = server.request("POST", "/api/v1/t/default/certificates/abcdef/revoke", {})
    assert r.status == 404
    assert server.api("GET", f"/certificates/{cert['serial']}")["status"] == "good"


def test_renew_with_same_key_and_with_new_csr(server):
    cert, csr = issue(server, "renew.example")
    same = server.api("POST", f"/certificates/{cert['serial']}/renew", {}, expect=201)
    assert same["renewed_from"] == cert["serial"] and same["serial"] != cert["serial"]
    old = x509.load_pem_x509_certificate(cert["certificate"].encode())
    new = x509.load_pem_x509_certificate(same["certificate"].encode())
    assert old.public_key().public_bytes(
        *_spki()) == new.public_key().public_bytes(*_spki())
    new_csr, _ = make_csr(cn="renew.example", dns=["renew.example"])
    rekey = server.api("POST", f"/certificates/{cert['serial']}/renew", {"csr": new_csr},
                       expect=201)
    assert rekey["renewed_from"] == cert["serial"]
    assert x509.load_pem_x509_certificate(rekey["certificate"].encode()).public_key() \
        .public_bytes(*_spki()) != old.public_key().public_bytes(*_spki())


def _spki():
    from cryptography.hazmat.primitives import serialization
    return (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_search_by_each_field_and_expiring_soon(server):
    """Each filter finds what this test made to match it and leaves out what it made not to,
    whatever other tests stored before."""
    cert, _ = issue(server, "search-target.example")
    gone, _ = issue(server, "search-revoked.example")
    server.api("POST", f"/certificates/{gone['serial']}/revoke", {"reason": "superseded"})
    server.api("POST", "/cas", {"name": "search-ca", "subject": "/CN=Search CA",
                                "parent": "root"}, expect=201)
    other = server.api("POST", "/certificates", {
        "ca": "search-ca", "profile": "tls-server",
        "csr": make_csr(cn="search-other.example", dns=["search-other.example"])[0]},
        expect=201)
    q = lambda s: server.api("GET", "/certificates?" + s)["certificates"]
    serials = lambda s: [c["serial"] for c in q(s)]
    assert serials("serial=" + cert["serial"]) == [cert["serial"]]
    assert cert["serial"] in serials("subject=search-target")
    assert gone["serial"] not in serials("subject=search-target")
    assert cert["serial"] in serials("san=search-target.example")
    assert other["serial"] not in serials("san=search-target.example")
    revoked = q("status=revoked")
    assert gone["serial"] in [c["serial"] for c in revoked]
    assert cert["serial"] not in [c["serial"] for c in revoked]
    assert {c["status"] for c in revoked} == {"revoked"}
    issuing = q("ca=issuing")
    assert {cert["serial"], gone["serial"]} <= {c["serial"] for c in issuing}
    assert other["serial"] not in [c["serial"] for c in issuing]
    assert {c["ca"] for c in issuing} == {"issuing"}
    by_other_ca = q("ca=search-ca")
    assert other["serial"] in [c["serial"] for c in by_other_ca]
    assert cert["serial"] not in [c["serial"] for c in by_other_ca]
    assert {c["ca"] for c in by_other_ca} == {"search-ca"}
    soon = (datetime.datetime.utcnow() + datetime.timedelta(days=3650)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    assert cert["serial"] in [c["serial"] for c in q("expires_before=" + soon)]
    assert q("expires_before=2000-01-01T00:00:00Z") == []
    r = server.request("GET", "/api/v1/t/default/certificates?expires_before=yesterday")
    assert r.status == 400
    # tls-server certificates last 90 days by default: within 400 days, not within 1.
    assert cert["serial"] in [c["serial"] for c in
                              server.api("GET", "/certificates/expiring?days=400")["certificates"]]
    assert cert["serial"] not in [c["serial"] for c in
                                  server.api("GET", "/certificates/expiring?days=1")[
                                      "certificates"]]


def test_end_entities_link_and_find_their_certificates(server):
    dev = server.api("POST", "/entities", {"name": "sensor-7", "kind": "device",
                                           "manufacturer": "Acme", "model": "S7",
                                           "serial_number": "SN-0007",
                                           "metadata": {"site": "north"}}, expect=201)
    assert dev["kind"] == "device" and dev["metadata"] == {"site": "north"}
    r = server.request("POST", "/api/v1/t/default/entities", {"name": "x", "kind": "robot"})
    assert r.status == 400 and "kind" in r.json()["detail"]
    cert, _ = issue(server, "sensor-7.example", entity=dev["id"])
    assert cert["entity"] == dev["id"]
    shown = server.api("GET", f"/entities/{dev['id']}")
    assert shown["certificates"] == [cert["serial"]]
    found = server.api("GET", "/certificates?entity=" + dev["id"])["certificates"]
    assert [c["serial"] for c in found] == [cert["serial"]]
    assert [e["id"] for e in server.api("GET", "/entities?kind=device")["entities"]] == [dev["id"]]
    upd = server.api("PUT", f"/entities/{dev['id']}", {"name": "sensor-7", "kind": "device",
                                                       "email": "ops@example.com"})
    assert upd["email"] == "ops@example.com"
    r = server.request("POST", "/api/v1/t/default/certificates",
                       {"ca": "issuing", "profile": "tls-server", "entity": "ent-missing",
                        "csr": make_csr(cn="e.example", dns=["e.example"])[0]})
    assert r.status == 404


def test_a_new_ca_publishes_its_crl_at_once(server):
    server.api("POST", "/cas", {"name": "fresh", "subject": "/CN=Fresh CA"}, expect=201)
    r = server.request("GET", "/crl/default/fresh.crl", token=None, base=server.public_url)
    assert r.status == 200
    crl = x509.load_der_x509_crl(r.body)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 1
    r = server.request("GET", "/crl/default/nosuch.crl", token=None, base=server.public_url)
    assert r.status == 404


def test_the_scheduler_publishes_a_ca_without_a_crl(server):
    server.api("POST", "/cas", {"name": "sched", "subject": "/CN=Scheduled CA"}, expect=201)
    # Take the CA's CRLs away, as if it had never published: the scheduler (every second
    # in tests) must notice and publish, with a number that still goes up.
    server.sql("DELETE FROM crls WHERE tenant = 'default' AND ca = 'sched'")
    r = wait_for(lambda: (lambda r: r.status == 200 and r)(server.request(
        "GET", "/crl/default/sched.crl", token=None, base=server.public_url)), 30,
        "the scheduled CRL")
    crl = x509.load_der_x509_crl(r.body)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2
    actions = [(e["action"], e["actor"], e["object"]) for e in server.audit()]
    assert ("crl.generate", "scheduler", "sched") in actions


def test_a_certificate_that_expires_is_audited_once(server):
    """The scheduler (every crl_check_seconds: 1 s here) records each certificate whose notAfter
    passed as a cert.expired event (and a certificate.expired webhook event), once."""
    import time
    cert, _ = issue(server, "expires-now.example")
    serial = cert["serial"]
    # Backdated to now: past the scan's mark, which the scheduler moves every second.
    server.sql("UPDATE certs SET not_after = ? WHERE tenant = 'default' AND serial = ?",
               (int(time.time()), serial))

    def events():
        return [e for e in server.audit() if e["action"] == "cert.expired" and
                e["object"] == serial]

    got = wait_for(events, 10, "the cert.expired event")
    assert len(got) == 1 and got[0]["actor"] == "scheduler", got
    assert "expires-now.example" in json.dumps(got[0]["detail"])
    # Later scans (every second) do not announce it again.
    holds_for(lambda: len(events()) == 1, 2.5, "one cert.expired event")
    # The certificate itself is unchanged: expiry is a fact, not a status.
    assert server.api("GET", f"/certificates/{serial}")["status"] == "good"
