"""The instance `vouchd init` makes, health endpoints and the TLS API."""
import json
import os
import subprocess

import pytest

from conftest import Server, VOUCHD, run, write


def test_health_and_readiness_answer_on_both_listeners(server):
    for base in (server.url, server.public_url):
        r = server.request("GET", "/healthz", token=None, base=base)
        assert r.status == 200 and r.json()["status"] == "ok"
    r = server.request("GET", "/readyz", token=None)
    assert r.status == 200
    ks = ("primary token vouch-a: ok; backup token vouch-b: ok; signing with the primary"
          if os.environ.get("VOUCH_TEST_KEYSTORE") == "pkcs11" else "software key store: ok")
    assert r.json() == {"status": "ready", "database": "ok", "signer": "ok", "keystore": ks,
                      "signer_restarts": 0}
    # The public listener says ready or not, nothing about the key store.
    r = server.request("GET", "/readyz", token=None, base=server.public_url)
    assert r.status == 200 and r.json() == {"status": "ready"}


def test_demo_instance_has_root_issuing_ca_and_builtin_profiles(server):
    cas = {c["name"]: c for c in server.api("GET", "/cas")["cas"]}
    assert cas["root"]["status"] == "active" and cas["root"]["parent"] is None
    assert cas["issuing"]["parent"] == "root" and cas["issuing"]["key_type"] == "ec-p256"
    names = {p["name"] for p in server.api("GET", "/profiles")["profiles"]}
    for builtin in ("tls-server", "tls-client", "email", "code-signing", "sub-ca",
                    "ocsp-signing", "time-stamping"):
        assert builtin in names


def test_api_routes_are_not_served_on_the_public_listener(server):
    r = server.request("GET", "/api/v1/t/default/cas", base=server.public_url)
    assert r.status == 404


def test_keys_are_encrypted_at_rest(server):
    if os.environ.get("VOUCH_TEST_KEYSTORE") == "pkcs11":
        pytest.skip("keys are in the token (test_hsm.py checks their attributes)")
    keydir = os.path.join(server.dir, "keys", "default")
    files = os.listdir(keydir)
    assert len(files) >= 2
    for f in files:
        text = open(os.path.join(keydir, f)).read()
        assert "ENCRYPTED PRIVATE KEY" in text and "BEGIN PRIVATE KEY" not in text


def test_tls_api_verifies_against_the_demo_root_with_curl(tmp_path):
    s = Server(str(tmp_path), tls=True)
    try:
        p = run("curl", "-sS", "--cacert", s.cacert, "-H", "Authorization: Bearer " + s.token,
                f"https://127.0.0.1:{s.api_port}/api/v1/t/default/cas")
        assert {c["name"] for c in json.loads(p.stdout)["cas"]} == {"root", "issuing"}
        # Without the root, the certificate is not trusted.
        p = run("curl", "-sS", f"https://127.0.0.1:{s.api_port}/healthz", check=False)
        assert p.returncode != 0
    finally:
        s.stop()


def test_config_check_reports_file_and_line(tmp_path):
    conf = write(tmp_path / "bad.conf", "api_port = 8443\nno_such_setting = 1\n")
    p = subprocess.run([VOUCHD, "-c", conf, "--check"], capture_output=True, text=True)
    assert p.returncode == 1 and "bad.conf:2: unknown setting" in p.stderr


def test_plain_http_api_off_loopback_is_refused(tmp_path):
    conf = write(tmp_path / "plain.conf", "api_address = 0.0.0.0\n")
    p = subprocess.run([VOUCHD, "-c", conf, "--check"], capture_output=True, text=True)
    assert p.returncode == 1 and "not loopback" in p.stderr
