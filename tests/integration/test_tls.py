"""The API listener's TLS (TLS 1.2 and 1.3 with AEAD suites, configurable), its security
headers, and what /readyz tells each listener's clients.  Checked with openssl s_client and
curl."""
import os
import subprocess

import pytest

from conftest import VOUCHD, Server, run


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("tls")), tls=True)
    yield s
    s.stop()


def handshake(server, *args):
    """openssl s_client with args: (protocol, cipher) it agreed, or None if it could not."""
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{server.api_port}",
                        "-CAfile", server.cacert, "-servername", "localhost", *args],
                       input="", capture_output=True, text=True, timeout=30)
    for line in p.stdout.splitlines():
        if line.startswith("New, ") and "(NONE)" not in line:
            # "New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384"
            parts = line.split(", ")
            return parts[1], parts[2].split(" is ")[1]
    return None


def test_tls_1_1_and_older_are_refused(tls):
    # OpenSSL's own security level would refuse TLS 1.1 on the client side: lowered here.
    for version in ("-tls1", "-tls1_1"):
        assert handshake(tls, version, "-cipher", "DEFAULT:@SECLEVEL=0") is None, version


def test_tls_1_2_takes_aead_suites_only(tls):
    for cbc in ("ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384", "AES128-SHA256"):
        assert handshake(tls, "-tls1_2", "-cipher", cbc + ":@SECLEVEL=0") is None, cbc
    for aead in ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                 "ECDHE-ECDSA-CHACHA20-POLY1305"):
        assert handshake(tls, "-tls1_2", "-cipher", aead) == ("TLSv1.2", aead)
    assert handshake(tls, "-tls1_3")[0] == "TLSv1.3"


def test_api_answers_carry_hsts_and_nosniff_errors_included(tls):
    for path, token, status in (("/api/v1/t/default/cas", tls.token, 200),
                                ("/api/v1/t/default/cas", None, 401),
                                ("/no/such/route", None, 404), ("/healthz", None, 200)):
        args = ["curl", "-sS", "-D", "-", "-o", "/dev/null", "--cacert", tls.cacert]
        if token:
            args += ["-H", "Authorization: Bearer " + token]
        head = run(*args, tls.url + path).stdout.lower()
        assert head.startswith(f"http/1.1 {status}"), head
        assert "strict-transport-security: max-age=31536000\n" in head, path
        assert "x-content-type-options: nosniff\n" in head, path
    # The public listener is plain HTTP: no HSTS there (RFC 6797 §7.2).
    head = run("curl", "-sS", "-D", "-", "-o", "/dev/null",
               tls.public_url + "/healthz").stdout.lower()
    assert "strict-transport-security" not in head


def test_readyz_details_are_for_the_api_listener_only(tls):
    r = tls.request("GET", "/readyz", token=None, base=tls.public_url)
    assert r.status == 200 and r.json() == {"status": "ready"}
    detail = tls.request("GET", "/readyz", token=None).json()
    assert detail["status"] == "ready" and {"database", "signer", "keystore"} <= set(detail)


def test_tls_priorities_are_a_setting(tmp_path):
    s = Server(str(tmp_path), tls=True, conf="tls_priorities = NORMAL:-VERS-ALL:+VERS-TLS1.2\n")
    try:
        assert handshake(s, "-tls1_3") is None
        assert handshake(s, "-tls1_2")[0] == "TLSv1.2"
    finally:
        s.stop()
    with open(os.path.join(s.dir, "vouchd.conf"), "a") as f:
        f.write("tls_priorities = NORMAL:+NO-SUCH-THING\n")
    p = subprocess.run([VOUCHD, "-c", os.path.join(s.dir, "vouchd.conf"), "--check"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "tls_priorities:" in p.stderr and "NO-SUCH-THING" in p.stderr
