"""Request limits and their answers: every route's body limit is the documented one; a body
over it, announced or chunked, gets 413 with the JSON error and changes nothing; a request
target or header section too long gets 414 or 431 with the JSON error; large bodies held at
once are bounded (503 + Retry-After past request_body_memory_mib); refusals of requests that
prove no identity are logged and audited at a bounded rate, none lost from the count."""
import http.client
import json
import os
import re
import socket
import subprocess
import time

import pytest

from conftest import VOUCHD, Server, refusals_audited, refused_total, wait_for

KIB = 1024
MIB = 1024 * KIB


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("vouch")), conf="request_body_memory_mib = 1\n")
    yield s
    s.stop()


def raw(port, head, body=b"", timeout=10):
    """Sends head (and body) on a new connection; the status, headers and body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
        c.sendall(head + body)
        data = b""
        while True:
            try:
                chunk = c.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                top, rest = data.split(b"\r\n\r\n", 1)
                m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", top)
                if m and len(rest) >= int(m.group(1)):
                    break
    top, _, rest = data.partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    return int(lines[0].split()[1]), headers, rest


def chunked(port, path, content_type, payload, token=None, piece=8 * KIB):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": content_type, "Transfer-Encoding": "chunked"}
    if token:
        headers["Authorization"] = "Bearer " + token
    pieces = (payload[i:i + piece] for i in range(0, len(payload), piece))
    conn.request("POST", path, body=pieces, headers=headers, encode_chunked=True)
    r = conn.getresponse()
    out = r.status, r.getheader("Content-Type"), r.read()
    conn.close()
    return out


def tokens(server):
    return sorted(t["id"] for t in server.api("GET", "/tokens")["tokens"])


# ---- body limits --------------------------------------------------------------------------

DOCUMENTED = {  # docs/api.md: the body limit of each kind of route
    "application/ocsp-request": 16 * KIB,
    "application/timestamp-query": 16 * KIB,
    "application/jose+json": 64 * KIB,
}
IMPORTS = {"/api/v1/t/{tenant}/cas/import": MIB, "/api/v1/t/{tenant}/cas/{ca}/certificate": MIB,
           "/api/v1/t/{tenant}/offline/import": 64 * MIB}


def test_every_routes_body_limit_is_the_documented_one():
    out = subprocess.run([VOUCHD, "--routes"], capture_output=True, text=True, check=True)
    routes = json.loads(out.stdout)["routes"]
    assert len(routes) > 100
    for r in routes:
        if r["content_type"] is None:
            want = 0  # no body taken
        elif r["path"] in IMPORTS:
            want = IMPORTS[r["path"]]
        else:
            want = DOCUMENTED.get(r["content_type"], 64 * KIB)
        assert r["body_limit"] == want, r
    doc = open(os.path.join(os.path.dirname(VOUCHD), "..", "docs", "api.md")).read()
    assert "64 KiB for most, 1 MiB for CA imports, 64 MiB for offline bundles" in doc


@pytest.mark.parametrize("path,limit", [
    ("/api/v1/t/default/tokens", 64 * KIB),
    ("/api/v1/t/default/cas/import", MIB),
    ("/api/v1/t/default/offline/import", 64 * MIB),
])
def test_a_body_announced_over_its_routes_limit_is_413_before_it_is_sent(server, path, limit):
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {limit + 1}\r\n\r\n").encode()
    status, headers, body = raw(server.api_port, head)
    assert status == 413 and json.loads(body)["error"] == "payload_too_large"
    assert headers["content-type"].startswith("application/json")


def test_a_chunked_body_over_the_limit_gets_413_json_and_changes_nothing(server):
    before = tokens(server)
    # Well past the limit (vouch once closed the connection 1 MiB past it, without an answer).
    big = json.dumps({"name": "x" * (3 * MIB)}).encode()
    status, ctype, body = chunked(server.api_port, "/api/v1/t/default/tokens",
                                  "application/json", big, token=server.token)
    assert status == 413, body
    assert ctype.startswith("application/json")
    assert json.loads(body)["error"] == "payload_too_large"
    assert tokens(server) == before
    # Positive control: the same route takes a chunked body under its limit.
    status, _, body = chunked(server.api_port, "/api/v1/t/default/tokens", "application/json",
                              json.dumps({"name": "chunked-ok"}).encode(), token=server.token)
    assert status == 201, body
    assert len(tokens(server)) == len(before) + 1


def test_a_chunked_ocsp_request_over_16_kib_gets_413_json(server):
    status, ctype, body = chunked(server.public_port, "/ocsp/default",
                                  "application/ocsp-request", b"\x30" * (2 * MIB))
    assert status == 413 and ctype.startswith("application/json")
    assert json.loads(body)["error"] == "payload_too_large"


# ---- 414 and 431 ------------------------------------------------------------------------------

@pytest.mark.parametrize("length", [9 * KIB, 40 * KIB])
@pytest.mark.parametrize("listener", ["api", "public"])
def test_a_request_target_too_long_is_414_json(server, length, listener):
    port = server.api_port if listener == "api" else server.public_port
    head = f"GET /ocsp/default/{'A' * length} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    status, headers, body = raw(port, head)
    assert status == 414, body[:200]
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["error"] == "uri_too_long"


def test_header_fields_too_large_are_431_json(server):
    pad = "".join(f"X-Pad-{i}: {'p' * 1000}\r\n" for i in range(20))
    head = f"GET /healthz HTTP/1.1\r\nHost: x\r\n{pad}\r\n".encode()
    status, headers, body = raw(server.api_port, head)
    assert status == 431, body[:200]
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["error"] == "header_fields_too_large"
    # Positive control: a few header fields pass.
    status, _, _ = raw(server.api_port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: b\r\n"
                                        b"Connection: close\r\n\r\n")
    assert status == 200


# ---- large bodies held at once ----------------------------------------------------------------

def test_large_bodies_past_the_memory_budget_wait_with_503_and_retry_after(server):
    size = 700 * KIB  # two of them pass request_body_memory_mib = 1
    head = (f"POST /api/v1/t/default/cas/import HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {server.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {size}\r\n\r\n").encode()
    body = json.dumps({"name": "budget", "pad": "y" * (size - 40)}).encode()
    body = body[:size].ljust(size, b" ")
    before = server.api("GET", "/cas")
    first = socket.create_connection(("127.0.0.1", server.api_port), timeout=30)
    try:
        first.sendall(head + body[:1000])  # holds its room while the rest is slow to come
        time.sleep(0.3)
        status, headers, answer = raw(server.api_port, head + body)
        assert status == 503, answer[:200]
        assert headers["retry-after"].isdigit()
        assert json.loads(answer)["error"] == "unavailable"
        # Small bodies are not held back meanwhile.
        assert server.request("POST", "/api/v1/t/default/tokens", {"name": "small"}).status == 201
        first.sendall(body[1000:])
        reply = first.recv(65536)
        assert reply.startswith(b"HTTP/1.1 400"), reply[:200]  # no CA in it: a bad import
    finally:
        first.close()
    # The room is given back: the next large body is read (and refused for its content).  The
    # first request gives its room back when vouchd has finished with it, which may be just
    # after its answer reached us: a 503 meanwhile is the answer a client retries, as told.
    def after_release():
        status, headers, answer = raw(server.api_port, head + body)
        if status == 503:
            assert headers["retry-after"].isdigit()
            return None
        return status, answer
    status, answer = wait_for(after_release, 30, "the first body's room given back")
    assert status == 400, answer[:200]
    assert server.api("GET", "/cas") == before


# ---- refusals of requests that prove no identity ---------------------------------------------

def test_refused_unauthenticated_requests_are_logged_and_audited_at_a_bounded_rate(server):
    n = 300
    seen = refused_total(refusals_audited(server, "default", "admin"))
    events_before = len(server.audit())
    log_before = open(server.log_path).read()
    conn = http.client.HTTPConnection("127.0.0.1", server.api_port, timeout=30)
    for i in range(n):
        conn.request("GET", "/api/v1/t/default/cas", headers={"Authorization": f"Bearer bad{i}"})
        r = conn.getresponse()
        r.read()
        assert r.status == 401
    conn.close()
    refused = refusals_audited(server, "default", "admin", seen + n)
    assert refused_total(refused) == seen + n  # every refusal counted, none twice
    new_events = len(server.audit()) - events_before
    assert 1 <= new_events < 40  # a handful per second, not one each
    summary = [e for e in refused if e["detail"].get("refused", 0) > 1]
    assert summary and summary[-1]["result"] == "refused" and "since" in summary[-1]["detail"]
    # The log: one line per interval, then a line summing the others up.
    deadline = time.time() + 15
    while True:
        log = open(server.log_path).read()[len(log_before):]
        if "more requests refused for want of a valid credential" in log or \
                time.time() > deadline:
            break
        time.sleep(0.5)
    lines = [l for l in log.splitlines() if "refused" in l]
    assert len(lines) < 10, lines[:20]
    counts = [int(m) for m in re.findall(
        r"(\d+) more requests refused for want of a valid credential", log)]
    assert counts and sum(counts) + len([l for l in lines if "refused: " in l]) >= n
