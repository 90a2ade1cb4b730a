"""CRL publication beyond the complete CRL: delta CRLs and sharded CRLs.

Checked with openssl verify (-crl_check_all, -use_deltas) and
python3-cryptography, never with our own parsers.
"""
from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from conftest import make_csr, run, wait_for, write


def make_ca(server, name, **options):
    body = {"name": name, "subject": f"/O=Vouch Test/CN={name}", "parent": "root", **options}
    return server.api("POST", "/cas", body, expect=201)


def issue(server, ca, cn):
    csr, _ = make_csr(cn=cn, dns=[cn])
    return server.api("POST", "/certificates", {"ca": ca, "profile": "tls-server", "csr": csr},
                      expect=201)


def public_crl(server, path, tmp_path):
    """Fetches /crl/default/<path>; returns the parsed CRL and a PEM file of it."""
    r = server.request("GET", f"/crl/default/{path}", token=None, base=server.public_url)
    assert r.status == 200, (path, r.status, r.body[:200])
    assert r.headers["Content-Type"] == "application/pkix-crl"
    name = path.replace("/", "_")
    open(tmp_path / name, "wb").write(r.body)
    pem = str(tmp_path / (name + ".pem"))
    run("openssl", "crl", "-inform", "DER", "-in", str(tmp_path / name), "-out", pem)
    return x509.load_der_x509_crl(r.body), pem


def number(crl):
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


def serials(crl):
    return {format(r.serial_number, "x") for r in crl}


def verify(server, tmp_path, ca, cert_pem, crl_pems, deltas=False):
    """openssl verify -crl_check_all of a leaf of `ca` with the given CRLs and the root's."""
    _, root_crl = public_crl(server, "root.crl", tmp_path)
    trust = server.api("GET", "/cas/root")["certificate"] + \
        server.api(f"GET", f"/cas/{ca}")["certificate"]
    write(tmp_path / "trust.pem", trust)
    write(tmp_path / "leaf.pem", cert_pem)
    crls = write(tmp_path / "crls.pem", "".join(open(p).read() for p in [*crl_pems, root_crl]))
    args = ["openssl", "verify", "-crl_check_all", "-CAfile", str(tmp_path / "trust.pem"),
            "-CRLfile", crls]
    if deltas:
        args.append("-use_deltas")
    return run(*args, str(tmp_path / "leaf.pem"), check=False)


def test_delta_crl_lists_changes_since_its_base_and_openssl_uses_it(server, tmp_path):
    make_ca(server, "deltas", delta_crl_interval_minutes=15, delta_crl_validity_hours=2)
    victim = issue(server, "deltas", "victim.example")
    held = issue(server, "deltas", "held.example")
    fine = issue(server, "deltas", "fine.example")

    assert server.api("GET", "/cas/deltas")["delta_crl_url"] == \
        f"{server.public_url}/crl/default/deltas/delta.crl"
    assert "delta_crl_url" not in server.api("GET", "/cas/issuing")
    base_json = server.api("POST", "/cas/deltas/crl", {}, expect=201)
    base, base_pem = public_crl(server, "deltas.crl", tmp_path)
    assert number(base) == base_json["number"] and base_json["delta_base"] is None
    freshest = base.extensions.get_extension_for_oid(ExtensionOID.FRESHEST_CRL)
    assert not freshest.critical
    assert freshest.value[0].full_name[0].value == \
        f"{server.public_url}/crl/default/deltas/delta.crl"

    server.api("POST", f"/certificates/{victim['serial']}/revoke", {"reason": "keyCompromise"})
    server.api("POST", f"/certificates/{held['serial']}/suspend", {})
    delta_json = server.api("POST", "/cas/deltas/crl", {"delta": True}, expect=201)
    delta, delta_pem = public_crl(server, "deltas/delta.crl", tmp_path)
    indicator = delta.extensions.get_extension_for_oid(ExtensionOID.DELTA_CRL_INDICATOR)
    assert indicator.critical and indicator.value.crl_number == number(base)
    assert number(delta) == delta_json["number"] > number(base)
    assert delta_json["delta_base"] == number(base)
    assert serials(delta) == {victim["serial"], held["serial"]}
    # GnuTLS reads and verifies the delta too.
    write(tmp_path / "deltas-ca.pem", server.api("GET", "/cas/deltas")["certificate"])
    p = run("certtool", "--verify-crl", "--load-ca-certificate", str(tmp_path / "deltas-ca.pem"),
            "--infile", delta_pem, check=False)
    assert p.returncode == 0 and "Verified" in p.stdout + p.stderr, p.stdout + p.stderr
    assert (delta.next_update - delta.last_update).total_seconds() == 2 * 3600
    assert delta.is_signature_valid(
        x509.load_pem_x509_certificate(server.api("GET", "/cas/deltas")["certificate"].encode())
        .public_key())
    shown = server.api("GET", "/cas/deltas/crl?delta=true")
    assert shown["number"] == number(delta) and shown["delta_base"] == number(base)

    # The base alone does not know of the revocation; with the delta openssl refuses.
    p = verify(server, tmp_path, "deltas", victim["certificate"], [base_pem])
    assert p.returncode == 0, p.stdout + p.stderr
    p = verify(server, tmp_path, "deltas", victim["certificate"], [base_pem, delta_pem],
               deltas=True)
    assert p.returncode != 0 and "revoked" in p.stdout + p.stderr
    p = verify(server, tmp_path, "deltas", held["certificate"], [base_pem, delta_pem],
               deltas=True)
    assert p.returncode != 0 and "revoked" in p.stdout + p.stderr
    p = verify(server, tmp_path, "deltas", fine["certificate"], [base_pem, delta_pem],
               deltas=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_reinstatement_is_remove_from_crl_on_the_next_delta(server, tmp_path):
    make_ca(server, "holds", delta_crl_interval_minutes=30)
    held = issue(server, "holds", "held-again.example")
    server.api("POST", f"/certificates/{held['serial']}/suspend", {})
    server.api("POST", "/cas/holds/crl", {}, expect=201)
    base, base_pem = public_crl(server, "holds.crl", tmp_path)
    assert serials(base) == {held["serial"]}

    server.api("POST", f"/certificates/{held['serial']}/reinstate", {})
    server.api("POST", "/cas/holds/crl", {"delta": True}, expect=201)
    delta, delta_pem = public_crl(server, "holds/delta.crl", tmp_path)
    entry = delta.get_revoked_certificate_by_serial_number(int(held["serial"], 16))
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == \
        x509.ReasonFlags.remove_from_crl
    p = verify(server, tmp_path, "holds", held["certificate"], [base_pem])
    assert p.returncode != 0 and "revoked" in p.stdout + p.stderr
    p = verify(server, tmp_path, "holds", held["certificate"], [base_pem, delta_pem], deltas=True)
    assert p.returncode == 0, p.stdout + p.stderr


def shard_of(serial_hex, shards):
    return 1 + (int(serial_hex, 16) & 0xffffffff) % shards


def test_each_shard_crl_lists_exactly_its_own_revoked_certificates(server, tmp_path):
    shards = 3
    make_ca(server, "sharded", crl_shards=shards, delta_crl_interval_minutes=60)
    certs = [issue(server, "sharded", f"s{i}.example") for i in range(12)]
    for c in certs:
        cdp = x509.load_pem_x509_certificate(c["certificate"].encode()).extensions \
            .get_extension_for_class(x509.CRLDistributionPoints).value
        k = shard_of(c["serial"], shards)
        assert cdp[0].full_name[0].value == f"{server.public_url}/crl/default/sharded/{k}.crl"
    revoked = certs[::2]
    for c in revoked:
        server.api("POST", f"/certificates/{c['serial']}/revoke", {"reason": "superseded"})
    published = server.api("POST", "/cas/sharded/crl", {}, expect=201)

    numbers = [published["number"]]
    pems = {}
    for k in range(1, shards + 1):
        crl, pems[k] = public_crl(server, f"sharded/{k}.crl", tmp_path)
        idp = crl.extensions.get_extension_for_oid(ExtensionOID.ISSUING_DISTRIBUTION_POINT)
        assert idp.critical
        assert idp.value.full_name[0].value == f"{server.public_url}/crl/default/sharded/{k}.crl"
        assert serials(crl) == {c["serial"] for c in revoked if shard_of(c["serial"], shards) == k}
        freshest = crl.extensions.get_extension_for_oid(ExtensionOID.FRESHEST_CRL)
        assert freshest.value[0].full_name[0].value == \
            f"{server.public_url}/crl/default/sharded/{k}-delta.crl"
        delta, _ = public_crl(server, f"sharded/{k}-delta.crl", tmp_path)
        assert delta.extensions.get_extension_for_oid(ExtensionOID.ISSUING_DISTRIBUTION_POINT) \
            .value == idp.value
        assert delta.extensions.get_extension_for_oid(ExtensionOID.DELTA_CRL_INDICATOR) \
            .value.crl_number == number(crl)
        numbers += [number(crl), number(delta)]
        shown = server.api("GET", f"/cas/sharded/crl?shard={k}")
        assert shown["shard"] == k and shown["number"] == number(crl)
    assert len(set(numbers)) == len(numbers)  # one sequence per CA: every scope increases
    write(tmp_path / "sharded-ca.pem", server.api("GET", "/cas/sharded")["certificate"])
    p = run("certtool", "--verify-crl", "--load-ca-certificate", str(tmp_path / "sharded-ca.pem"),
            "--infile", pems[1], check=False)
    assert p.returncode == 0 and "Verified" in p.stdout + p.stderr, p.stdout + p.stderr
    full, _ = public_crl(server, "sharded.crl", tmp_path)
    assert serials(full) == {c["serial"] for c in revoked}

    for c in certs[:4]:
        k = shard_of(c["serial"], shards)
        p = verify(server, tmp_path, "sharded", c["certificate"], [pems[k]])
        if c in revoked:
            assert p.returncode != 0 and "revoked" in p.stdout + p.stderr
        else:
            assert p.returncode == 0, p.stdout + p.stderr
        # Another shard's CRL does not cover this certificate (its IDP differs).
        other = k % shards + 1
        p = verify(server, tmp_path, "sharded", c["certificate"], [pems[other]])
        assert p.returncode != 0 and "different CRL scope" in p.stdout + p.stderr

    again = server.api("POST", "/cas/sharded/crl", {}, expect=201)
    assert again["number"] > max(numbers)


def test_crl_options_and_selections_are_checked(server):
    for bad in ({"crl_shards": 100000}, {"crl_shards": -1}, {"delta_crl_interval_minutes": -5},
                {"delta_crl_validity_hours": 0}):
        r = server.request("POST", "/api/v1/t/default/cas",
                           {"name": "bad-options", "subject": "/CN=Bad", "parent": "root", **bad})
        assert r.status == 400, (bad, r.body)
    assert server.api("GET", "/cas/bad-options", expect=404)
    r = server.request("POST", "/api/v1/t/default/cas/issuing/crl", {"delta": True})
    assert r.status == 409 and "delta" in r.json()["detail"]
    r = server.request("POST", "/api/v1/t/default/cas/issuing/crl", {"delta": "yes"})
    assert r.status == 400
    for q in ("shard=x", "shard=-1", "delta=maybe"):
        assert server.request("GET", f"/api/v1/t/default/cas/issuing/crl?{q}").status == 400
    assert server.request("GET", "/api/v1/t/default/cas/issuing/crl?shard=2").status == 404
    for path in ("issuing/0.crl", "issuing/1.crl", "issuing/x.crl", "issuing/delta.crl",
                 "issuing/1-delta.crlx", "nosuch/delta.crl"):
        r = server.request("GET", f"/crl/default/{path}", token=None, base=server.public_url)
        assert r.status == 404, path


def test_a_new_ca_publishes_every_scope_and_the_cli_fetches_them(server, tmp_path):
    server.cli("ca", "create", "cli-sharded", "--subject", "/CN=CLI Sharded", "--parent", "root",
               "--crl-shards", "2", "--delta-crl-interval-minutes", "10",
               "--delta-crl-validity-hours", "3")
    ca = server.api("GET", "/cas/cli-sharded")
    assert ca["options"]["crl_shards"] == 2 and ca["options"]["delta_crl_interval_minutes"] == 10
    # Published when the CA became active: the whole CA's and each shard's, with deltas.
    for path in ("cli-sharded.crl", "cli-sharded/delta.crl", "cli-sharded/1.crl",
                 "cli-sharded/1-delta.crl", "cli-sharded/2.crl", "cli-sharded/2-delta.crl"):
        public_crl(server, path, tmp_path)
    out = tmp_path / "shard2-delta.der"
    server.cli("crl", "show", "cli-sharded", "--shard", "2", "--delta", "-o", str(out), "--der")
    delta = x509.load_der_x509_crl(out.read_bytes())
    assert delta.extensions.get_extension_for_oid(ExtensionOID.ISSUING_DISTRIBUTION_POINT) \
        .value.full_name[0].value == f"{server.public_url}/crl/default/cli-sharded/2.crl"
    before = number(delta)
    server.cli("crl", "generate", "cli-sharded", "--delta", "-o", str(tmp_path / "d.pem"))
    delta = x509.load_pem_x509_crl((tmp_path / "d.pem").read_bytes())
    assert delta.extensions.get_extension_for_oid(ExtensionOID.DELTA_CRL_INDICATOR)
    assert number(delta) > before
    events = [e for e in server.audit() if e["object"] == "cli-sharded"]
    assert [e["action"] for e in events][-1] == "crl.delta"


def test_the_scheduler_publishes_deltas_on_their_own_schedule(server):
    make_ca(server, "timed", delta_crl_interval_minutes=5)
    full = server.api("GET", "/cas/timed/crl")["number"]
    delta = server.api("GET", "/cas/timed/crl?delta=true")["number"]

    def backdate(kind, seconds):
        server.sql("UPDATE crls SET this_update = this_update - ? WHERE tenant = 'default' "
                   f"AND ca = 'timed' AND delta_base {kind} 0", (seconds,))

    def wait_crl(kind, above):
        return wait_for(lambda: (lambda n: n > above and n)(
            server.api("GET", f"/cas/timed/crl?delta={kind}")["number"]), 10, f"a new {kind} CRL")

    backdate(">", 6 * 60)  # the delta interval has passed: a delta alone
    delta2 = wait_crl("true", delta)
    assert server.api("GET", "/cas/timed/crl")["number"] == full
    assert server.api("GET", "/cas/timed/crl?delta=true")["delta_base"] == full
    events = [e for e in server.audit() if e["object"] == "timed" and e["actor"] == "scheduler"]
    assert events[-1]["action"] == "crl.delta"

    backdate("=", 2 * 3600)  # the complete CRL's interval has passed: both
    full2 = wait_crl("false", full)
    assert wait_crl("true", delta2) > full2
    assert server.api("GET", "/cas/timed/crl?delta=true")["delta_base"] == full2
