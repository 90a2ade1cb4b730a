"""SIGHUP reads vouchd.conf again: what may change while serving is applied without closing a
connection (log format, access log, trusted proxies, webhooks, the TLS pair), what may not is
named in the log as waiting for a restart, and a file with an error changes nothing."""
import datetime
import http.client
import json
import os
import signal
import socket
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import Server, wait_for, write


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("vouch")))
    s.conf_path = os.path.join(s.dir, "vouchd.conf")
    s.conf_text = open(s.conf_path).read()
    yield s
    s.stop()


def log_lines(server):
    with open(server.log_path) as f:
        return f.read().splitlines()


def reload(server, extra):
    """Writes the original configuration plus extra, sends SIGHUP and waits for the reload's
    summary line (or its error line); returns the lines logged since."""
    start = len(log_lines(server))
    with open(server.conf_path, "w") as f:
        f.write(server.conf_text + extra)
    server.proc.send_signal(signal.SIGHUP)

    def done():
        new = log_lines(server)[start:]
        return new if any("reload: " in l and ("read:" in l or "nothing changed" in l)
                          for l in new) else None
    return wait_for(done, timeout=30, what="the reload's summary in the log")


def get(conn, path, token, headers=None):
    conn.request("GET", path, headers={"Authorization": "Bearer " + token, **(headers or {})})
    r = conn.getresponse()
    r.read()
    return r


def test_reloadable_settings_apply_without_closing_a_connection(server):
    pid = server.proc.pid
    conn = http.client.HTTPConnection("127.0.0.1", server.api_port, timeout=30)
    assert get(conn, "/api/v1/t/default/cas", server.token).status == 200
    sock = conn.sock
    before = http.client.HTTPConnection("127.0.0.1", server.api_port, timeout=30,
                                        source_address=("127.0.0.2", 0))
    r = get(before, "/api/v1/t/default/cas", server.token, {"X-Request-Id": "lb-1"})
    assert r.status == 200 and r.getheader("X-Request-Id") != "lb-1"  # not trusted yet

    new = reload(server, "log_format = json\naccess_log = yes\ntrusted_proxies = 127.0.0.2\n"
                         "threads = 3\n")
    text = "\n".join(new)
    assert "reload: threads changed: it takes effect at the next restart" in text, text
    assert '"message":"reload: ' in text and "3 setting(s) applied, 1 waiting for a restart" \
        in text, text

    # the kept-alive connection was not closed: the same socket answers again
    assert get(conn, "/api/v1/t/default/cas", server.token).status == 200
    assert conn.sock is sock
    # the proxy is trusted now, and every line is JSON with the access line at info
    proxy = http.client.HTTPConnection("127.0.0.1", server.api_port, timeout=30,
                                       source_address=("127.0.0.2", 0))
    r = get(proxy, "/api/v1/t/default/cas", server.token,
            {"X-Request-Id": "lb-2", "X-Forwarded-For": "192.0.2.7"})
    assert r.status == 200 and r.getheader("X-Request-Id") == "lb-2"

    def access_line():
        for l in log_lines(server):
            if l.startswith("{") and json.loads(l).get("request_id") == "lb-2":
                return json.loads(l)
    line = wait_for(access_line, timeout=10, what="the proxy's request in the access log")
    assert line["event"] == "access" and line["remote_addr"] == "192.0.2.7", line
    assert server.proc.pid == pid and server.proc.poll() is None
    for c in (conn, before, proxy):
        c.close()


def test_a_configuration_with_an_error_changes_nothing(server):
    reload(server, "log_format = json\naccess_log = yes\n")
    new = reload(server, "log_format = json\naccess_log = yes\nlog_level = loud\n")
    assert any("log_level: debug, info, warn or error: nothing changed" in l for l in new), new
    assert server.request("GET", "/api/v1/t/default/cas").status == 200
    assert server.proc.poll() is None


def test_webhooks_are_turned_on_and_off_by_a_reload(server):
    hook = {"url": "http://127.0.0.1:9/hook"}
    r = server.request("PUT", "/api/v1/t/default/webhook", hook)
    assert r.status == 403 and "webhooks_enabled" in r.body.decode(), r.body
    reload(server, "webhooks_enabled = yes\n")
    assert server.request("PUT", "/api/v1/t/default/webhook", hook).status == 200
    reload(server, "")
    r = server.request("PUT", "/api/v1/t/default/webhook", hook)
    assert r.status == 403, r.body


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("vouch-tls")), tls=True)
    s.conf_path = os.path.join(s.dir, "vouchd.conf")
    s.conf_text = open(s.conf_path).read()
    yield s
    s.stop()


def served_certificate(server):
    """The DER certificate a new TLS handshake with the API listener gets, and the socket."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", server.api_port), timeout=30))
    return sock.getpeercert(binary_form=True), sock


def self_signed(path_cert, path_key):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "renewed.localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    write(path_key, key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode())
    write(path_cert, cert.public_bytes(serialization.Encoding.PEM).decode())
    return cert.public_bytes(serialization.Encoding.DER)


def keep_alive_get(sock, path, token):
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
                 .encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(65536)
        assert chunk, "the connection was closed"
        head += chunk
    return int(head.split(b" ", 2)[1])


def test_a_renewed_tls_pair_is_served_after_a_reload(tls_server):
    """The pair is renewed in place (same paths, as certbot does): new handshakes get the new
    certificate, the connection opened before goes on with the old one; a pair that does not
    match changes nothing."""
    old, sock = served_certificate(tls_server)
    assert keep_alive_get(sock, "/healthz", tls_server.token) == 200
    tls_dir = os.path.join(tls_server.dir, "tls")
    saved = {f: open(os.path.join(tls_dir, f)).read() for f in ("server.crt", "server.key")}
    try:
        new = self_signed(os.path.join(tls_dir, "server.crt"), os.path.join(tls_dir, "server.key"))
        reload(tls_server, "")
        assert served_certificate(tls_server)[0] == new != old
        assert keep_alive_get(sock, "/healthz", tls_server.token) == 200
        # a key that does not belong to the certificate: the pair in use stays
        write(os.path.join(tls_dir, "server.key"), saved["server.key"])
        lines = reload(tls_server, "")
        assert any("TLS pair stays" in l and "does not match" in l for l in lines), lines
        assert served_certificate(tls_server)[0] == new
    finally:
        for f, text in saved.items():
            write(os.path.join(tls_dir, f), text)
        reload(tls_server, "")
    assert served_certificate(tls_server)[0] == old
    sock.close()
