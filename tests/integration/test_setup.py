"""The instance `vouchd init` makes, health endpoints and the TLS API."""
import json
import os
import re
import socket
import subprocess

from cryptography import x509

from conftest import Server, VOUCHD, make_csr, run, vouchd_start, wait_for, write

HSM = os.environ.get("VOUCH_TEST_KEYSTORE") == "pkcs11"


def test_health_and_readiness_answer_on_both_listeners(server):
    for base in (server.url, server.public_url):
        r = server.request("GET", "/healthz", token=None, base=base)
        assert r.status == 200 and r.json()["status"] == "ok"
    r = server.request("GET", "/readyz", token=None)
    assert r.status == 200
    ks = ("primary token vouch-a: ok; backup token vouch-b: ok; signing with the primary"
          if HSM else "software key store: ok")
    assert r.json() == {"status": "ready", "database": "ok", "signer": "ok", "keystore": ks,
                      "signer_restarts": 0, "signing_units": [],
                      "services": "api, ocsp, publish, tsa",
                      "jobs": "crl, ocsp, expiry, notices, purge, checkpoint"}
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


def test_keys_are_encrypted_at_rest_or_in_the_token(server):
    """Software store: every key file is encrypted PKCS#8 (beside it, a key's purpose binding
    in <key id>.meta holds no secret).  PKCS#11 (make integration-hsm): no key file at all
    (test_hsm.py checks the token objects' attributes)."""
    keydir = os.path.join(server.dir, "keys")
    files = [os.path.join(d, f) for d, _, fs in os.walk(keydir) for f in fs
             if not f.endswith(".meta")]
    if HSM:
        assert files == [], files
        return
    assert len([f for f in files if os.sep + "default" + os.sep in f]) >= 2, files
    for f in files:
        text = open(f).read()
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


def test_vouchd_takes_ephemeral_ports_itself_and_names_the_node_after_them(tmp_path):
    """api_port = 0, public_port = 0 and no public_url: vouchd binds ports the kernel picks,
    reports them on its start line, serves on them, writes the public one into new
    certificates, and its name among a cluster's nodes (on its presence lease) is made of
    them (two such nodes on one host must not share a name)."""
    s = Server(str(tmp_path))
    s.stop()
    conf = os.path.join(s.dir, "vouchd.conf")
    text = re.sub(r"(?m)^(api_port|public_port) = .*$", r"\1 = 0", open(conf).read())
    write(conf, re.sub(r"(?m)^public_url = .*\n", "", text))
    with open(s.log_path, "a") as log:
        proc, ports = vouchd_start(conf, s.env, log)
    try:
        api, public = ports["api_port"], ports["public_port"]
        assert api > 0 and public > 0 and len({api, public, s.api_port, s.public_port}) == 4
        for port in (api, public):
            r = s.request("GET", "/readyz", token=None, base=f"http://127.0.0.1:{port}")
            assert r.status == 200, (port, r.body)
        csr, _ = make_csr(cn="eph.example", dns=["eph.example"])
        r = s.request("POST", "/api/v1/t/default/certificates",
                      {"ca": "issuing", "profile": "tls-server", "csr": csr},
                      base=f"http://127.0.0.1:{api}")
        assert r.status == 201, r.body
        cert = x509.load_pem_x509_certificate(r.json()["certificate"].encode())
        cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        assert cdp[0].full_name[0].value == f"http://127.0.0.1:{public}/crl/default/issuing.crl"
        job = f"node/{socket.gethostname()}:{api}:{public}"
        wait_for(lambda: s.sql("SELECT holder FROM leases WHERE tenant = '_system' AND job = ?",
                               (job,)), 20, f"the presence lease {job}")
    finally:
        proc.terminate()
        proc.wait(15)
        proc.stdout.close()


def test_config_check_reports_file_and_line(tmp_path):
    conf = write(tmp_path / "bad.conf", "api_port = 8443\nno_such_setting = 1\n")
    p = subprocess.run([VOUCHD, "-c", conf, "--check"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 1 and "bad.conf:2: unknown setting" in p.stderr


def test_plain_http_api_off_loopback_is_refused(tmp_path):
    conf = write(tmp_path / "plain.conf", "api_address = 0.0.0.0\n")
    p = subprocess.run([VOUCHD, "-c", conf, "--check"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 1 and "not loopback" in p.stderr
