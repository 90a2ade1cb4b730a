"""Node roles are configuration (issue 26, points 1 and 2): a node runs the services and takes the
scheduled jobs its settings `services` and `jobs` name; routes of other services are not there
(404), a listener with nothing to serve is not opened, /readyz and `vouchd --check` say what the
node runs, and its signer uses only the keys its roles need."""
import os
import socket
import subprocess
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from conftest import VOUCHD, Server, make_csr, vouchd_start


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("vouch")))
    yield s
    s.stop()


def check(conf_path, extra):
    """vouchd --check of the instance's configuration (without its public_url) with extra lines
    appended."""
    path = conf_path + ".check"
    with open(conf_path) as f, open(path, "w") as g:
        g.write("".join(line for line in f if not line.startswith("public_url")) + extra)
    return subprocess.run([VOUCHD, "-c", path, "--check"], capture_output=True, text=True,
                          timeout=30)


def issue(server, cn):
    csr, _ = make_csr(cn=cn, dns=[cn])
    return server.api("POST", "/certificates", {"ca": "issuing", "profile": "tls-server",
                                                "csr": csr}, expect=201)


def ocsp_status(base, cert_pem, issuer_pem):
    """(HTTP status, OCSP response status, certificate status or None) of a POST to base."""
    import urllib.error
    import urllib.request
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    issuer = x509.load_pem_x509_certificate(issuer_pem.encode())
    der = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build() \
        .public_bytes(serialization.Encoding.DER)
    req = urllib.request.Request(base + "/ocsp/default/issuing", data=der, method="POST",
                                 headers={"Content-Type": "application/ocsp-request"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            resp = ocsp.load_der_ocsp_response(r.read())
    except urllib.error.HTTPError as e:
        return e.code, None, None
    if resp.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        return 200, resp.response_status, None
    return 200, resp.response_status, resp.certificate_status


def get(url, method="GET", body=None, ctype=None):
    import urllib.error
    import urllib.request
    req = urllib.request.Request(url, data=body, method=method,
                                 headers={"Content-Type": ctype} if ctype else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def refused(port):
    """Whether nothing accepts connections on the loopback port."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def test_a_default_node_runs_everything_and_says_so(server):
    r = server.request("GET", "/readyz", token=None)
    assert r.status == 200
    body = r.json()
    assert body["services"] == "api, ocsp, publish, tsa"
    assert body["jobs"] == "crl, ocsp, expiry, notices, purge, checkpoint"
    p = check(os.path.join(server.dir, "vouchd.conf"), "")
    assert p.returncode == 0, p.stderr
    assert "services: api, ocsp, publish, tsa\n" in p.stdout
    assert "listeners: api, public\n" in p.stdout and "keys: every purpose\n" in p.stdout


@pytest.mark.parametrize("extra, says", [
    ("services = ocsp, bogus\n", 'services: unknown "bogus"'),
    ("services = none\n", "at least one service"),
    ("services =\n", None),
    ("jobs = crl, nightly\n", 'jobs: unknown "nightly"'),
    ("services = ocsp\njobs = none\nocsp_signer = ca\n", "delegated responders"),
    ("services = api, ocsp, tsa\n", "public_url: required"),
])
def test_check_refuses_roles_that_cannot_work(server, extra, says):
    p = check(os.path.join(server.dir, "vouchd.conf"), extra)
    assert p.returncode != 0, p.stdout
    if says:
        assert says in p.stderr, p.stderr


def test_check_says_what_a_role_limited_node_runs(server):
    p = check(os.path.join(server.dir, "vouchd.conf"), "services = ocsp\njobs = checkpoint\n")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[1:] == ["services: ocsp", "jobs: checkpoint",
                                         "listeners: public", "keys: ocsp, audit only"]
    p = check(os.path.join(server.dir, "vouchd.conf"),
              "services = api, ocsp\npublic_url = http://pub.example\njobs = none\n")
    assert p.returncode == 0, p.stderr
    assert "keys: every purpose" in p.stdout and "listeners: api, public" in p.stdout


def node_start(server, tmp_path, name, extra):
    """vouchd on the instance's configuration with extra lines: (process, ports, log)."""
    conf = os.path.join(server.dir, "vouchd.conf")
    path = str(tmp_path / f"{name}.conf")
    with open(conf) as f, open(path, "w") as g:
        g.write(f.read() + extra)
    log = open(tmp_path / f"{name}.log", "a")
    proc, ports = vouchd_start(path, server.env, log, name)
    return proc, ports, log


def node_stop(proc, log):
    proc.terminate()
    proc.wait(30)
    proc.stdout.close()
    log.close()


def test_an_ocsp_node_serves_ocsp_alone_with_responder_keys_alone(server, tmp_path):
    issuer = server.api("GET", "/cas/issuing")["certificate"]
    good = issue(server, "good.example")
    bad = issue(server, "revoked.example")
    server.api("POST", f"/certificates/{bad['serial']}/revoke", {"reason": "keyCompromise"})
    server.api("POST", "/tsa", {"name": "ts-roles", "ca": "issuing",
                                "policy": "1.3.6.1.4.1.99999.1.1"}, expect=201)
    # Answered once by the full node: the delegated responder exists.
    assert ocsp_status(server.public_url, good["certificate"], issuer)[2] == \
        ocsp.OCSPCertStatus.GOOD
    server.stop()
    try:
        proc, ports, log = node_start(server, tmp_path, "ocsp-node",
                                      "services = ocsp\njobs = none\n")
        try:
            assert ports["api_port"] is None and ports["public_port"] == server.public_port
            base = server.public_url
            # OCSP answers, signed with the responder's key.
            assert ocsp_status(base, good["certificate"], issuer)[2] == \
                ocsp.OCSPCertStatus.GOOD
            assert ocsp_status(base, bad["certificate"], issuer)[2] == \
                ocsp.OCSPCertStatus.REVOKED
            # Nothing else is there.
            assert get(base + "/crl/default/issuing.crl")[0] == 404
            assert get(base + "/ca/default/issuing.crt")[0] == 404
            assert get(base + "/tsa/default/ts-roles", "POST", b"\x30\x00",
                       "application/timestamp-query")[0] == 404
            assert get(base + "/api/v1/t/default/certificates")[0] == 404
            assert get(base + "/readyz")[0] == 200
            assert refused(server.api_port)  # no API listener
        finally:
            node_stop(proc, log)
        # With no responder (its row and the stored answers gone), a new one would need the
        # CA's signature, and the CA key could sign itself: this node's signer refuses both,
        # naming its roles, and the node answers no certificate status rather than a wrong one.
        server.sql("DELETE FROM ocsp_responses")
        server.sql("DELETE FROM ocsp_responders")
        proc, ports, log = node_start(server, tmp_path, "ocsp-node-2",
                                      "services = ocsp\njobs = none\n")
        try:
            http, status, _ = ocsp_status(server.public_url, good["certificate"], issuer)
            assert http == 200 and status in (ocsp.OCSPResponseStatus.TRY_LATER,
                                              ocsp.OCSPResponseStatus.UNAUTHORIZED), status
            text = open(log.name).read()
            assert "this node's roles (settings services and jobs)" in text, text[-3000:]
        finally:
            node_stop(proc, log)
    finally:
        server.start()
    # The full node again: it makes the responder anew and answers.
    deadline = time.time() + 30
    while True:
        http, status, cert_status = ocsp_status(server.public_url, good["certificate"], issuer)
        if cert_status == ocsp.OCSPCertStatus.GOOD or time.time() > deadline:
            break
        time.sleep(0.5)
    assert cert_status == ocsp.OCSPCertStatus.GOOD, (http, status)


def test_a_tsa_node_stamps_and_serves_nothing_else(server, tmp_path):
    if not any(u["name"] == "ts-roles2" for u in server.api("GET", "/tsa")["units"]):
        server.api("POST", "/tsa", {"name": "ts-roles2", "ca": "issuing",
                                    "policy": "1.3.6.1.4.1.99999.1.1"}, expect=201)
    server.stop()
    try:
        proc, ports, log = node_start(server, tmp_path, "tsa-node", "services = tsa\njobs = none\n")
        try:
            assert ports["api_port"] is None
            tsq = subprocess.run(["openssl", "ts", "-query", "-data", "/dev/null", "-sha256",
                                  "-cert"], capture_output=True, check=True, timeout=30).stdout
            status, body = get(server.public_url + "/tsa/default/ts-roles2", "POST", tsq,
                               "application/timestamp-query")
            assert status == 200
            reply = tmp_path / "reply.tsr"
            reply.write_bytes(body)
            text = subprocess.run(["openssl", "ts", "-reply", "-in", str(reply), "-text"],
                                  capture_output=True, text=True, timeout=30).stdout
            assert "Status: Granted." in text, text
            assert get(server.public_url + "/crl/default/issuing.crl")[0] == 404
            status, _ = get(server.public_url + "/ocsp/default/issuing", "POST", b"\x30\x00",
                            "application/ocsp-request")
            assert status == 404
            assert refused(server.api_port)
        finally:
            node_stop(proc, log)
    finally:
        server.start()
