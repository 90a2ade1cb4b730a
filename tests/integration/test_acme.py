"""ACME (RFC 8555) endpoints of a tenant, driven by the suite's own client (acme_client.py) and by
real clients (lego, certbot), with Debian's pebble-challtestsrv as the DNS server every name
resolves through and as the http-01 / tls-alpn-01 responder where a client does not bring its
own.  Everything runs on loopback: vouchd's validation may reach 127.0.0.0/8 here only because
the test's configuration allows it (acme_validation_allow)."""
import http.server
import json
import os
import subprocess
import threading
import time
import urllib.request

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtensionOID

from acme_client import Client, Key, ari_cert_id, b64u, jws
from conftest import Server, free_port, own_token, refusals_audited, refused_total, wait_for

ENDPOINT = "web"


class ChallTestSrv:
    """pebble-challtestsrv on loopback as the DNS server: every A query answered with 127.0.0.1
    unless a test sets another address, TXT records set over its management API."""

    def __init__(self):
        self.dns_port, self.mgmt_port = free_port(), free_port()
        self.proc = subprocess.Popen(
            ["pebble-challtestsrv", "-dns01", f"127.0.0.1:{self.dns_port}", "-http01", "",
             "-https01", "", "-tlsalpn01", "", "-management", f"127.0.0.1:{self.mgmt_port}",
             "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        def answers():
            try:
                self.call("set-default-ipv4", {"ip": "127.0.0.1"})
                return True
            except OSError:
                return self.proc.poll() is not None  # exited: stop waiting, and say so
        wait_for(answers, 10, "pebble-challtestsrv's management port")
        assert self.proc.poll() is None, "pebble-challtestsrv exited"

    def call(self, what, body):
        req = urllib.request.Request(f"http://127.0.0.1:{self.mgmt_port}/{what}",
                                     data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.read()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


class Responder:
    """The http-01 answers of the suite's own client, on the port vouchd validates against
    (stopped while a real client serves that port itself)."""

    def __init__(self, port):
        self.port, self.tokens, self.httpd = port, {}, None
        self.start()

    def start(self):
        tokens = self.tokens

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                token = self.path.rsplit("/", 1)[-1]
                body = tokens.get(token)
                self.send_response(200 if body else 404)
                self.end_headers()
                if body:
                    self.wfile.write(body.encode())

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def dns():
    d = ChallTestSrv()
    yield d
    d.stop()


@pytest.fixture(scope="module")
def responder():
    r = Responder(free_port())
    r.tls_port = free_port()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory, dns, responder):
    conf = (f"acme_resolvers = 127.0.0.1:{dns.dns_port}\n"
            f"acme_http_port = {responder.port}\nacme_tls_port = {responder.tls_port}\n"
            "acme_validation_allow = 127.0.0.0/8\nacme_timeout_ms = 5000\n")
    s = Server(str(tmp_path_factory.mktemp("vouch")), tls=True, conf=conf)
    s.api("POST", "/acme/endpoints",
          {"name": ENDPOINT, "ca": "issuing", "caa_check": False,
           "profiles": [{"name": "tls-server", "description": "a TLS server certificate"},
                        {"name": "tls-client", "description": "a TLS client certificate"}]},
          expect=201)
    yield s
    s.stop()


def pem_chain(data):
    """The certificates of a PEM chain, in order (python3-cryptography 38 has no loader for it)."""
    end = b"-----END CERTIFICATE-----"
    return [x509.load_pem_x509_certificate(part + end) for part in data.split(end)
            if b"-----BEGIN CERTIFICATE-----" in part]


def directory_url(server, endpoint=ENDPOINT):
    return f"{server.url}/acme/default/{endpoint}/directory"


def client(server, key=None):
    return Client(directory_url(server), server.cacert, key)


def wait_status(c, url, want, timeout=30):
    """Polls an object by POST-as-GET until its status is one of want; the object."""
    return wait_for(lambda: (lambda obj: obj["status"] in want and obj)(c.post(url, None).json()),
                    timeout, f"{url} to be {' or '.join(want)}", interval=0.2)


def http01(c, responder, order, want="valid"):
    """Answers every http-01 challenge of the order through the responder (all become want)."""
    for url in order["authorizations"]:
        authz = c.post(url, None).json()
        ch = next(x for x in authz["challenges"] if x["type"] == "http-01")
        responder.tokens[ch["token"]] = c.key_authorization(ch["token"])
        ans = c.post(ch["url"], {})
        assert ans.status == 200, ans.body
        assert f'<{url}>;rel="up"' in ans.headers["Link"]
        assert wait_status(c, url, ("valid", "invalid"))["status"] in (want, "valid", "invalid")


def issue(server, responder, names, c=None, profile=None):
    c = c or client(server)
    if c.kid is None:
        c.new_account(contact=["mailto:ops@example.org"])
    ans = c.new_order(names, profile=profile)
    assert ans.status == 201, ans.body
    order_url = ans.headers["Location"]
    http01(c, responder, ans.json())
    order = wait_status(c, order_url, ("ready", "invalid"))
    assert order["status"] == "ready", order
    ans, _ = c.finalize(order, names)
    assert ans.status == 200, ans.body
    order = wait_status(c, order_url, ("valid", "invalid"))
    assert order["status"] == "valid", order
    pem = c.post(order["certificate"], None)
    assert pem.status == 200 and pem.headers["Content-Type"] == "application/pem-certificate-chain"
    return c, order, pem_chain(pem.body)


def test_directory_and_nonces(server):
    c = client(server)
    d = c.dir
    for name in ("newNonce", "newAccount", "newOrder", "revokeCert", "keyChange", "renewalInfo"):
        assert d[name].startswith(f"{server.url}/acme/default/{ENDPOINT}/")
    assert d["meta"]["profiles"] == {"tls-server": "a TLS server certificate",
                                     "tls-client": "a TLS client certificate"}
    assert d["meta"]["externalAccountRequired"] is False
    n1 = c.new_nonce()
    got = c.get(d["newNonce"])
    assert got.status == 204 and got.headers["Cache-Control"] == "no-store"
    assert got.headers["Replay-Nonce"] != n1
    assert f'<{directory_url(server)}>;rel="index"' in got.headers["Link"]
    missing = c.get(f"{server.url}/acme/default/nowhere/directory")
    assert missing.status == 404


def test_an_order_is_issued_and_every_step_is_audited(server, responder):
    c, order, chain = issue(server, responder, ["www.acme.example", "acme.example"])
    leaf = chain[0]
    sans = leaf.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    assert sorted(sans.get_values_for_type(x509.DNSName)) == ["acme.example", "www.acme.example"]
    assert leaf.issuer == chain[1].subject
    serial = format(leaf.serial_number, "x")
    rec = server.api("GET", f"/certificates/{serial}")
    assert rec["profile"] == "tls-server" and rec["requester"] == c.kid.rsplit("/", 1)[1]
    actions = {e["action"] for e in server.audit()}
    assert {"acme.account.create", "acme.order.create", "acme.challenge.valid",
            "cert.issue"} <= actions
    # The account's order list names it.
    orders = c.post(c.kid + "/orders", None).json()["orders"]
    assert any(order["finalize"].startswith(o) for o in orders)


def test_a_nonce_is_accepted_once_and_a_bad_jws_changes_nothing(server):
    c = client(server)
    c.new_account()
    nonce = c.new_nonce()
    body = jws(c.key, c.dir["newOrder"], {"identifiers": [{"type": "dns", "value": "a.example"}]},
               nonce, kid=c.kid)
    assert c.request("POST", c.dir["newOrder"], body).status == 201
    again = c.request("POST", c.dir["newOrder"], body)
    assert again.status == 400 and again.problem() == "badNonce"
    assert again.headers["Replay-Nonce"]
    # Signed for another URL, by another key, with "none", or for an unknown account.
    seen = refused_total(refusals_audited(server, "default", "admin", action="acme.refused"))
    wrong_url = jws(c.key, c.dir["revokeCert"], {}, c.new_nonce(), kid=c.kid)
    assert c.request("POST", c.dir["newOrder"], wrong_url).problem() == "unauthorized"
    stranger = Key()
    forged = jws(stranger, c.dir["newOrder"], {"identifiers": []}, c.new_nonce(), kid=c.kid)
    assert c.request("POST", c.dir["newOrder"], forged).problem() == "unauthorized"
    # No account proved itself: audited at a bounded rate, the second's refusals summed up.
    refused = refusals_audited(server, "default", "admin", seen + 2, action="acme.refused")
    assert refused_total(refused) == seen + 2
    assert refused and refused[-1]["result"] == "refused" and "signature" in refused[-1]["detail"]["detail"]
    none = jws(c.key, c.dir["newOrder"], {}, c.new_nonce(), kid=c.kid, alg="none")
    ans = c.request("POST", c.dir["newOrder"], none)
    assert ans.problem() == "badSignatureAlgorithm" and "ES256" in ans.json()["algorithms"]
    ghost = jws(c.key, c.dir["newOrder"], {}, c.new_nonce(),
                kid=c.dir["newAccount"].replace("new-account", "acct/acct-0000000000000000"))
    assert c.request("POST", c.dir["newOrder"], ghost).problem() == "accountDoesNotExist"
    assert c.request("POST", c.dir["newOrder"], b"{not json").problem() == "malformed"
    assert oversized_post(server, c.dir["newOrder"], 70000) == 413


def oversized_post(server, url, size):
    """The status of a POST announcing size bytes: the server answers at the headers (413)
    without waiting for the body, which is not sent (the server closes after its answer)."""
    import http.client
    import ssl
    import urllib.parse
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=30,
                                       context=ssl.create_default_context(cafile=server.cacert))
    conn.putrequest("POST", u.path)
    conn.putheader("Content-Type", "application/jose+json")
    conn.putheader("Content-Length", str(size))
    conn.endheaders()
    status = conn.getresponse().status
    conn.close()
    return status


def test_profiles_identifiers_and_the_csr_are_held_to_the_endpoint(server, responder):
    c = client(server)
    c.new_account()
    assert c.new_order(["x.example"], profile="sub-ca").problem() == "invalidProfile"
    assert c.new_order(["x.example"], profile="nope").problem() == "invalidProfile"
    assert c.new_order(["192.0.2.1"]).problem() == "rejectedIdentifier"  # IP not allowed here
    # Several refused at once: one problem with a subproblem per identifier (RFC 8555 6.7.1).
    ans = c.new_order(["192.0.2.1", "ok.example", "bad_name.example"])
    assert ans.problem() == "rejectedIdentifier", ans.body
    subs = ans.json()["subproblems"]
    assert [s["identifier"]["value"] for s in subs] == ["192.0.2.1", "bad_name.example"]
    assert all(s["type"].startswith("urn:ietf:params:acme:error:") for s in subs)
    assert c.new_order(["*.wild.example"]).status == 201  # wildcards are (dns-01 only)
    ans = c.new_order(["csr.example"])
    order_url = ans.headers["Location"]
    http01(c, responder, ans.json())
    order = wait_status(c, order_url, ("ready",))
    bad, _ = c.finalize(order, ["csr.example", "other.example"])
    assert bad.status == 400 and bad.problem() == "badCSR"
    assert wait_status(c, order_url, ("ready",))["status"] == "ready"  # still finalizable
    _, order2, chain = issue(server, responder, ["client.example"], c=c, profile="tls-client")
    assert order2["profile"] == "tls-client"
    eku = chain[0].extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH in eku


def test_renewal_information_and_replaces(server, responder):
    c, order, chain = issue(server, responder, ["ari.example"])
    leaf = chain[0]
    certid = ari_cert_id(leaf)
    info = c.get(f"{c.dir['renewalInfo']}/{certid}")
    assert info.status == 200 and int(info.headers["Retry-After"]) > 0
    window = info.json()["suggestedWindow"]
    lifetime = leaf.not_valid_after - leaf.not_valid_before
    start = leaf.not_valid_before + lifetime * 2 / 3
    assert abs((parse_time(window["start"]) - start).total_seconds()) < 5
    # A tenant admin moves it earlier (a planned revocation): the window says so.
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 7200))
    serial = format(leaf.serial_number, "x")
    server.api("PUT", f"/certificates/{serial}/renewal-window",
               {"start": soon, "end": later, "reason": "key rotation"})
    moved = c.get(f"{c.dir['renewalInfo']}/{certid}").json()
    assert moved["suggestedWindow"] == {"start": soon, "end": later}
    # newOrder replaces it: recorded on the order.
    ans = c.new_order(["ari.example"], replaces=certid)
    assert ans.status == 201 and ans.json()["replaces"] == certid
    assert c.get(f"{c.dir['renewalInfo']}/AAAA.AAAA").status == 404


def parse_time(text):
    import datetime
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


def test_key_rollover_and_deactivation(server):
    c = client(server)
    c.new_account()
    new = Key("ec384")
    inner = jws(new, c.dir["keyChange"], {"account": c.kid, "oldKey": c.key.jwk()})
    ans = c.post(c.dir["keyChange"], inner)
    assert ans.status == 200, ans.body
    old_key, c.key = c.key, new
    assert c.post(c.kid, None).status == 200  # the new key acts for the account
    c2 = client(server, key=old_key)
    assert c2.new_account(only_existing=True, expect=400).problem() == "accountDoesNotExist"
    ans = c.post(c.kid, {"status": "deactivated"})
    assert ans.status == 200 and ans.json()["status"] == "deactivated"
    assert c.new_order(["late.example"]).problem() == "unauthorized"


def test_an_order_under_an_approval_workflow_waits_then_is_valid(server, responder):
    server.api("PUT", "/workflows/profile:tls-server", {"required": 1})
    try:
        c = client(server)
        c.new_account()
        ans = c.new_order(["gated.example"])
        order_url = ans.headers["Location"]
        http01(c, responder, ans.json())
        order = wait_status(c, order_url, ("ready",))
        fin, _ = c.finalize(order, ["gated.example"])
        assert fin.status == 200 and fin.json()["status"] == "processing", fin.body
        assert int(fin.headers["Retry-After"]) > 0
        pending = server.api("GET", "/requests?status=pending")["requests"]
        rid = next(r["id"] for r in pending if r["kind"] == "cert.issue")
        officer = server.api("POST", "/principals", {"name": "acme-officer", "kind": "user"},
                             expect=201)
        server.api("POST", "/roles/bind", {"principal": officer["id"], "role": "ra-officer"},
                   expect=201)
        tok = server.api("POST", "/tokens", {"name": "acme-officer", "principal": officer["id"]},
                         expect=201)["token"]
        server.api("POST", f"/requests/{rid}/approve", {}, token=tok)
        assert wait_status(c, order_url, ("valid", "invalid"))["status"] == "valid"
    finally:
        server.api("DELETE", "/workflows/profile:tls-server", expect=204)


def test_an_account_bound_by_an_administrators_credential_counts_for_it(server, responder):
    """Issue 23: whoever made an EAB credential could have registered the account with it, so
    that account's orders count for them: they cannot approve its certificate themselves."""
    server.api("POST", "/acme/endpoints",
               {"name": "eab-sod", "ca": "issuing", "caa_check": False, "eab_required": True,
                "profiles": [{"name": "tls-server"}]}, expect=201)
    cred = server.api("POST", "/acme/endpoints/eab-sod/eab", {"kid": "sod"}, expect=201)
    admin = server.sql("SELECT id FROM principals WHERE tenant = 'default' AND name = 'admin'")[0][0]
    # an officer of its own (its role bound before the request, its token its own)
    p = server.api("POST", "/principals", {"name": "sod-acme-officer", "kind": "user"}, expect=201)
    server.api("POST", "/roles/bind", {"principal": p["id"], "role": "ra-officer"}, expect=201)
    officer = own_token(server, p["id"], "sod-acme-officer")
    server.api("PUT", "/workflows/profile:tls-server", {"required": 1})
    try:
        c = Client(directory_url(server, "eab-sod"), server.cacert)
        c.new_account(eab=("sod", cred["hmac_key"]))
        ans = c.new_order(["sod.example"])
        order_url = ans.headers["Location"]
        http01(c, responder, ans.json())
        order = wait_status(c, order_url, ("ready",))
        fin, _ = c.finalize(order, ["sod.example"])
        assert fin.status == 200 and fin.json()["status"] == "processing", fin.body
        rid = next(r["id"] for r in server.api("GET", "/requests?status=pending")["requests"]
                   if r["kind"] == "cert.issue" and r["object"] == "tls-server")
        r = server.request("POST", f"/api/v1/t/default/requests/{rid}/approve", {})
        assert r.status == 403 and admin in r.json()["detail"], r.body
        assert c.post(order_url, None).json()["status"] == "processing"
        server.api("POST", f"/requests/{rid}/approve", {}, token=officer)
        assert wait_status(c, order_url, ("valid", "invalid"))["status"] == "valid"
    finally:
        server.api("DELETE", "/workflows/profile:tls-server", expect=204)


def test_validation_never_reaches_what_the_policy_refuses(server, dns):
    """A name that resolves to a link-local address (cloud metadata) is refused before any
    connection; the challenge and its authorization become invalid, nothing is issued."""
    dns.call("add-a", {"host": "metadata.example.", "addresses": ["169.254.169.254"]})
    try:
        c = client(server)
        c.new_account()
        ans = c.new_order(["metadata.example"])
        authz_url = ans.json()["authorizations"][0]
        authz = c.post(authz_url, None).json()
        ch = next(x for x in authz["challenges"] if x["type"] == "http-01")
        c.post(ch["url"], {})
        done = wait_status(c, authz_url, ("valid", "invalid"))
        assert done["status"] == "invalid"
        err = next(x for x in done["challenges"] if x["type"] == "http-01")["error"]
        assert err["type"].endswith(":connection") and "169.254.169.254" in err["detail"]
    finally:
        dns.call("clear-a", {"host": "metadata.example."})


def test_revocation_by_the_account_and_by_the_certificate_key(server, responder):
    c, order, chain = issue(server, responder, ["revoke.example"])
    der = chain[0].public_bytes(serialization.Encoding.DER)
    ans = c.post(c.dir["revokeCert"], {"certificate": b64u(der), "reason": 4})
    assert ans.status == 200, ans.body
    serial = format(chain[0].serial_number, "x")
    rec = server.api("GET", f"/certificates/{serial}")
    assert rec["status"] == "revoked" and rec["reason"] == "superseded"
    again = c.post(c.dir["revokeCert"], {"certificate": b64u(der)})
    assert again.problem() == "alreadyRevoked"
    # Another account may not revoke what it did not order.
    other = client(server)
    other.new_account()
    c2, _, chain2 = issue(server, responder, ["revoke2.example"])
    der2 = chain2[0].public_bytes(serialization.Encoding.DER)
    assert other.post(other.dir["revokeCert"], {"certificate": b64u(der2)}).problem() == \
        "unauthorized"


# ---- real clients ----------------------------------------------------------------------------


def lego(server, dns, workdir, *args, env=None):
    cmd = ["lego", "--server", directory_url(server), "--path", str(workdir), "--accept-tos",
           "--email", "lego@example.org", "--dns.resolvers", f"127.0.0.1:{dns.dns_port}",
           *args]
    e = dict(os.environ, LEGO_CA_CERTIFICATES=server.cacert, **(env or {}))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=e)


def test_lego_gets_certificates_by_http01_and_tls_alpn01_and_revokes(server, dns, responder,
                                                                   tmp_path):
    responder.stop()  # lego answers on that port itself
    try:
        out = lego(server, dns, tmp_path / "h", "--domains", "lego-http.example", "--http",
                   "--http.port", f"127.0.0.1:{responder.port}", "run")
    finally:
        responder.start()
    assert out.returncode == 0, out.stderr
    crt = tmp_path / "h" / "certificates" / "lego-http.example.crt"
    leaf = pem_chain(crt.read_bytes())[0]
    assert "lego-http.example" in str(leaf.subject)
    out = lego(server, dns, tmp_path / "t", "--key-type", "rsa2048", "--domains",
               "lego-tls.example", "--tls", "--tls.port", f"127.0.0.1:{responder.tls_port}", "run")
    assert out.returncode == 0, out.stderr
    out = lego(server, dns, tmp_path / "h", "--domains", "lego-http.example", "revoke")
    assert out.returncode == 0, out.stderr
    serial = format(leaf.serial_number, "x")
    assert server.api("GET", f"/certificates/{serial}")["status"] == "revoked"


def test_lego_with_external_account_binding_dns01_and_an_rsa_account(server, dns, tmp_path):
    """An endpoint that needs EAB: lego registers with a credential (RSA account key) and proves
    a wildcard name by dns-01 through its exec provider, which sets the TXT record in the test
    DNS server; a single-use credential is refused the second time."""
    server.api("POST", "/acme/endpoints",
               {"name": "eab", "ca": "issuing", "caa_check": False, "eab_required": True,
                "profiles": [{"name": "tls-server"}]}, expect=201)
    cred = server.api("POST", "/acme/endpoints/eab/eab", {"kid": "team-lego"}, expect=201)
    hook = tmp_path / "dns-hook"
    hook.write_text(
        "#!/usr/bin/python3\nimport json, sys, urllib.request\n"
        "verb, fqdn, value = sys.argv[1:4]\n"
        f"url = 'http://127.0.0.1:{dns.mgmt_port}/' + ('set-txt' if verb == 'present' else 'clear-txt')\n"
        "body = {'host': fqdn, 'value': value} if verb == 'present' else {'host': fqdn}\n"
        "urllib.request.urlopen(urllib.request.Request(url, data=json.dumps(body).encode()))\n")
    hook.chmod(0o755)
    args = ["--key-type", "rsa2048", "--eab", "--kid", "team-lego", "--hmac", cred["hmac_key"],
            "--dns", "exec", "--dns.disable-cp", "--domains", "*.lego-dns.example", "run"]
    env = {"EXEC_PATH": str(hook), "EXEC_POLLING_INTERVAL": "1", "EXEC_PROPAGATION_TIMEOUT": "30"}
    out = lego_at(server, "eab", dns, tmp_path / "e", *args, env=env)
    assert out.returncode == 0, out.stderr
    leaf = pem_chain((tmp_path / "e" / "certificates" / "_.lego-dns.example.crt").read_bytes())[0]
    sans = leaf.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    assert sans.get_values_for_type(x509.DNSName) == ["*.lego-dns.example"]
    # The credential was for one account: another key cannot use it; without one: refused.
    out = lego_at(server, "eab", dns, tmp_path / "e2", *args, env=env)
    assert out.returncode != 0 and "unauthorized" in out.stderr
    c = Client(directory_url(server, "eab"), server.cacert)
    assert c.new_account(expect=403).problem() == "externalAccountRequired"
    assert c.dir["meta"]["externalAccountRequired"] is True


def lego_at(server, endpoint, dns, workdir, *args, env=None):
    cmd = ["lego", "--server", directory_url(server, endpoint), "--path", str(workdir),
           "--accept-tos", "--email", "lego@example.org", "--dns.resolvers",
           f"127.0.0.1:{dns.dns_port}", *args]
    e = dict(os.environ, LEGO_CA_CERTIFICATES=server.cacert, **(env or {}))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=e)


def certbot(server, workdir, *args):
    cmd = ["certbot", "--non-interactive", "--agree-tos", "--server", directory_url(server),
           "--config-dir", str(workdir / "config"), "--work-dir", str(workdir / "work"),
           "--logs-dir", str(workdir / "logs"), "--register-unsafely-without-email", *args]
    env = dict(os.environ, REQUESTS_CA_BUNDLE=server.cacert)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env)


def test_certbot_gets_renews_and_revokes_by_http01_and_dns01(server, dns, responder, tmp_path):
    responder.stop()  # certbot's standalone server answers on that port
    try:
        out = certbot(server, tmp_path, "certonly", "--standalone", "--http-01-address",
                      "127.0.0.1", "--http-01-port", str(responder.port), "-d",
                      "certbot.example", "--cert-name", "cb")
        assert out.returncode == 0, out.stderr
        live = tmp_path / "config" / "live" / "cb"
        first = x509.load_pem_x509_certificate((live / "cert.pem").read_bytes())
        out = certbot(server, tmp_path, "renew", "--force-renewal", "--no-random-sleep-on-renew",
                      "--cert-name", "cb",
                      "--standalone", "--http-01-address", "127.0.0.1", "--http-01-port",
                      str(responder.port))
        assert out.returncode == 0, out.stderr
    finally:
        responder.start()
    second = x509.load_pem_x509_certificate((live / "cert.pem").read_bytes())
    assert second.serial_number != first.serial_number
    hook = tmp_path / "auth-hook"
    hook.write_text(
        "#!/usr/bin/python3\nimport json, os, urllib.request\n"
        f"url = 'http://127.0.0.1:{dns.mgmt_port}/set-txt'\n"
        "body = {'host': '_acme-challenge.' + os.environ['CERTBOT_DOMAIN'] + '.',\n"
        "        'value': os.environ['CERTBOT_VALIDATION']}\n"
        "urllib.request.urlopen(urllib.request.Request(url, data=json.dumps(body).encode()))\n")
    hook.chmod(0o755)
    out = certbot(server, tmp_path, "certonly", "--manual", "--preferred-challenges", "dns",
                  "--manual-auth-hook", str(hook), "-d", "certbot-dns.example", "--cert-name",
                  "cbd")
    assert out.returncode == 0, out.stderr
    out = certbot(server, tmp_path, "revoke", "--cert-name", "cb", "--reason", "keycompromise",
                  "--no-delete-after-revoke")
    assert out.returncode == 0, out.stderr
    rec = server.api("GET", f"/certificates/{format(second.serial_number, 'x')}")
    assert rec["status"] == "revoked" and rec["reason"] == "keyCompromise"


def test_caa_is_checked_with_the_endpoints_issuer_names(server, dns, responder):
    server.api("POST", "/acme/endpoints",
               {"name": "caa", "ca": "issuing", "caa_check": True,
                "caa_identities": ["vouch.example"], "profiles": [{"name": "tls-server"}]},
               expect=201)
    dns.call("add-caa", {"host": "caa-no.example.",
                         "policies": [{"tag": "issue", "value": "other-ca.example"}]})
    dns.call("add-caa", {"host": "caa-yes.example.",
                         "policies": [{"tag": "issue", "value": "vouch.example"}]})
    c = Client(directory_url(server, "caa"), server.cacert)
    c.new_account()
    for name, want in (("caa-yes.example", "valid"), ("caa-no.example", "invalid")):
        ans = c.new_order([name])
        http01(c, responder, ans.json())
        order = wait_status(c, ans.headers["Location"], ("ready", "invalid"))
        assert order["status"] == ("ready" if want == "valid" else "invalid"), order
    authz = c.post(ans.json()["authorizations"][0], None).json()
    err = next(x for x in authz["challenges"] if x["type"] == "http-01")["error"]
    assert err["type"].endswith(":caa") and "other-ca.example" in err["detail"]


def test_certbot_registers_with_external_account_binding(server, responder, tmp_path):
    """certbot's --eab-kid/--eab-hmac-key on the endpoint that needs a binding (made by the
    lego test above if it ran first; made here otherwise)."""
    if server.request("GET", "/api/v1/t/default/acme/endpoints/eab").status == 404:
        server.api("POST", "/acme/endpoints",
                   {"name": "eab", "ca": "issuing", "caa_check": False, "eab_required": True,
                    "profiles": [{"name": "tls-server"}]}, expect=201)
    cred = server.api("POST", "/acme/endpoints/eab/eab", {"kid": "team-certbot"}, expect=201)
    responder.stop()
    try:
        cmd = ["certbot", "--non-interactive", "--agree-tos", "--server",
               directory_url(server, "eab"), "--config-dir", str(tmp_path / "config"),
               "--work-dir", str(tmp_path / "work"), "--logs-dir", str(tmp_path / "logs"),
               "--register-unsafely-without-email", "--eab-kid", "team-certbot",
               # "=": a base64url key may begin with "-", which argparse takes for an option
               "--eab-hmac-key=" + cred["hmac_key"], "certonly", "--standalone",
               "--http-01-address", "127.0.0.1", "--http-01-port", str(responder.port),
               "-d", "certbot-eab.example", "--cert-name", "eab"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=180,
                             env=dict(os.environ, REQUESTS_CA_BUNDLE=server.cacert))
    finally:
        responder.start()
    assert out.returncode == 0, out.stderr
    listed = server.api("GET", "/acme/endpoints/eab/eab")["credentials"]
    assert next(c for c in listed if c["kid"] == "team-certbot")["uses"] == 1
