"""Connection limits that protect everyone else: a slowloris and a connection flood from a few
loopback addresses (5,000 slow connections) leave OCSP requests from another address answered
quickly and all of them; a connection's headers and body have deadlines that trickling bytes
do not move; each client address has a limited number of connections; a TLS handshake that
never ends is cut like a slow header.  Bounded in time, loopback only."""
import json
import os
import socket
import ssl
import subprocess
import sys
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from conftest import Server, make_csr

HEADER_SECONDS = 3
PER_ADDRESS = 64  # the default
SLOWLORIS = os.path.join(os.path.dirname(__file__), "slowloris.py")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("vouch")), tls=True,
               conf=f"request_header_seconds = {HEADER_SECONDS}\nrequest_body_seconds = 4\n")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def ocsp_request(server):
    csr, _ = make_csr("limits.example", dns=["limits.example"])
    rec = server.api("POST", "/certificates", {"ca": "issuing", "profile": "tls-server",
                                               "csr": csr}, expect=201)
    leaf = x509.load_pem_x509_certificate(rec["certificate"].encode())
    issuer = x509.load_pem_x509_certificate(
        server.api("GET", "/cas/issuing")["certificate"].encode())
    req = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, hashes.SHA1()).build()
    return req.public_bytes(serialization.Encoding.DER)


def ocsp_post(port, der, timeout=5):
    """One OCSP request on a new connection: (seconds taken, the response status or None)."""
    t0 = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
            c.sendall(b"POST /ocsp/default HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                      b"Content-Type: application/ocsp-request\r\n"
                      + f"Content-Length: {len(der)}\r\n\r\n".encode() + der)
            data = b""
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return time.monotonic() - t0, None
    took = time.monotonic() - t0
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        return took, None
    return took, ocsp.load_der_ocsp_response(body).response_status


def test_ocsp_is_answered_while_a_slowloris_and_a_flood_go_on(server, ocsp_request):
    # Positive control first: OCSP answers.
    took, status = ocsp_post(server.public_port, ocsp_request)
    assert status == ocsp.OCSPResponseStatus.SUCCESSFUL
    sources = [f"127.0.0.{i}" for i in range(2, 7)]
    attack = subprocess.Popen([sys.executable, SLOWLORIS, str(server.public_port), "14",
                               *sources, "--per-address", "1000", "--interval", "0.5"],
                              stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(2.5)  # 5,000 connections opened, the slow ones trickling
        times, failed = [], 0
        end = time.monotonic() + 9
        while time.monotonic() < end:
            took, status = ocsp_post(server.public_port, ocsp_request)
            if status != ocsp.OCSPResponseStatus.SUCCESSFUL:
                failed += 1
            times.append(took)
            time.sleep(0.02)
        out, _ = attack.communicate(timeout=60)
    finally:
        if attack.poll() is None:
            attack.kill()
            attack.wait()
    stats = json.loads(out)
    times.sort()
    p99 = times[int(len(times) * 0.99) - 1]
    assert failed == 0, (failed, len(times))
    assert len(times) > 20
    # The goal (p99 under 50 ms) is measured and printed, not asserted: tests never fail on
    # timing on a shared machine (pytest -s, or the log of a failure, shows it).
    print(f"OCSP under the attack: {len(times)} answered, none failed, p99 {p99 * 1000:.1f} ms "
          f"(goal < 50 ms)")
    # The attack was real: 5,000 slow connections at first, each address kept at its limit
    # (the rest refused at once), the slow ones cut by the header deadline and opened again.
    assert stats["opened"] >= 5000
    assert stats["refused"] >= 5000 - len(sources) * (PER_ADDRESS + 4), stats
    assert all(PER_ADDRESS <= n <= PER_ADDRESS + 4 for n in stats["admitted"].values()), stats
    assert stats["cut"] >= 2 * len(sources) * PER_ADDRESS, stats  # twice in 14 s at least
    # Bytes every 0.5 s did not move the deadline: none lived past it (plus the sweep, a round).
    assert stats["longest"] < HEADER_SECONDS + 1.5, stats


def slow_until_closed(port, first, trickle, limit=20):
    """Sends first, then one byte of trickle every 0.5 s until the server closes; seconds."""
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=limit) as c:
        c.sendall(first)
        c.setblocking(False)
        for b in trickle * 100:
            time.sleep(0.5)
            try:
                if c.recv(4096) == b"":
                    break
            except BlockingIOError:
                pass
            except OSError:
                break
            try:
                c.send(bytes([b]))
            except OSError:
                break
            if time.monotonic() - t0 > limit:
                break
    return time.monotonic() - t0


def test_a_header_trickling_in_is_cut_at_its_deadline(server):
    took = slow_until_closed(server.public_port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n",
                             b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
    assert HEADER_SECONDS - 0.5 <= took < HEADER_SECONDS + 1.5, took


def test_a_body_trickling_in_is_cut_at_its_deadline(server, ocsp_request):
    head = (b"POST /ocsp/default HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\n"
            + f"Content-Length: {len(ocsp_request)}\r\n\r\n".encode())
    took = slow_until_closed(server.public_port, head, ocsp_request)
    assert 4 - 0.5 <= took < 4 + 1.5, took  # request_body_seconds = 4
    # Positive control: the same request sent at once is answered.
    assert ocsp_post(server.public_port, ocsp_request)[1] == ocsp.OCSPResponseStatus.SUCCESSFUL


def test_a_tls_handshake_that_never_ends_is_cut_like_a_slow_header(server):
    # A ClientHello's first bytes, then a byte now and then: the handshake never completes.
    took = slow_until_closed(server.api_port, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
                             os.urandom(64))
    assert HEADER_SECONDS - 0.5 <= took < HEADER_SECONDS + 1.5, took
    # A real client still gets in.
    assert server.request("GET", "/healthz", token=None).status == 200


def test_a_kept_alive_connection_has_the_header_deadline_for_its_next_request(server):
    ctx = ssl.create_default_context(cafile=server.cacert)
    with socket.create_connection(("127.0.0.1", server.api_port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as c:
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert c.recv(4096).startswith(b"HTTP/1.1 200")
            t0 = time.monotonic()
            c.sendall(b"GET /healthz HTTP/1.1\r\n")  # the next request, never finished
            try:
                while c.recv(4096):
                    pass
            except (OSError, ssl.SSLError):
                pass
            took = time.monotonic() - t0
    assert HEADER_SECONDS - 0.5 <= took < HEADER_SECONDS + 1.5, took
