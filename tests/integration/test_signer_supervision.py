"""A supervised signer: killed (-9) or hung under issuance, vouchd restarts it by itself and
signing resumes; requests caught meanwhile get 503 with Retry-After, never 500, and leave no
record; /readyz is 503 only while it is down; the restart is logged, audited in the _system
chain and counted.  A signer that cannot come back keeps vouchd not ready, loudly, until it
can."""
import json
import os
import signal
import threading
import time

import pytest

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from conftest import SOFTHSM_MODULE, SOFTHSM_PIN, Server, SoftHSM, make_csr


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("vouch")), conf="signer_hang_seconds = 2\n")
    yield s
    s.stop()


def children(pid):
    """The pids whose parent is pid."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            out.append(int(entry))
    return out


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def state(pid):
    """The process's state letter (R, S, T for stopped, Z ...), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def tree(server):
    """vouchd's processes as 'pid name state' lines, for a failure's message."""
    out, todo = [], [server.proc.pid]
    while todo:
        pid = todo.pop()
        out.append(f"{pid} {comm(pid)} {state(pid)}")
        todo += children(pid)
    return "; ".join(out)


def signer_pid(server):
    """vouchd's child is the keeper (vouch-keeper); the keeper's child is the signer
    (vouch-signer): found by their names, not by the shape of the tree alone."""
    deadline = time.time() + 10
    while time.time() < deadline:
        signers = [p for keeper in children(server.proc.pid) if comm(keeper) == "vouch-keeper"
                   for p in children(keeper) if comm(p) == "vouch-signer"]
        if len(signers) == 1:
            return signers[0]
        time.sleep(0.1)
    raise AssertionError("no single signer process found: " + tree(server))


def sigstop(pid):
    """SIGSTOP, and wait until the process is seen stopped."""
    os.kill(pid, signal.SIGSTOP)
    deadline = time.time() + 5
    while state(pid) != "T" and time.time() < deadline:
        time.sleep(0.02)
    assert state(pid) == "T", (pid, state(pid))


def gone(pid):
    """Whether pid no longer exists (a zombie still does: it was not reaped)."""
    return not os.path.exists(f"/proc/{pid}")


def system_events(server, action):
    r = server.request("GET", "/api/v1/audit?limit=10000", token="system")
    assert r.status == 200
    events = [json.loads(l) for l in r.body.decode().splitlines() if l]
    return [e for e in events if e["action"] == action]


def readyz(server):
    r = server.request("GET", "/readyz", token=None)
    return r.status, r.json()


def certificates(server):
    out, offset = set(), 0
    while True:
        page = server.api("GET", f"/certificates?limit=1000&offset={offset}")["certificates"]
        out |= {c["serial"] for c in page}
        if len(page) < 1000:
            return out
        offset += 1000


def issue_loop(server, stop, results):
    csr, _ = make_csr("load.example", dns=["load.example"])
    body = {"ca": "issuing", "profile": "tls-server", "csr": csr}
    while not stop.is_set():
        r = server.request("POST", "/api/v1/t/default/certificates", body)
        results.append((r.status, r.headers.get("Retry-After"),
                        r.json() if r.body else None))


def wait_signing(server, seconds=20):
    """Issues until one succeeds (or seconds pass); the status of the last try."""
    csr, _ = make_csr("after.example", dns=["after.example"])
    deadline = time.time() + seconds
    while True:
        r = server.request("POST", "/api/v1/t/default/certificates",
                           {"ca": "issuing", "profile": "tls-server", "csr": csr})
        if r.status == 201 or time.time() > deadline:
            return r
        assert r.status == 503, (r.status, r.body[:300])
        time.sleep(0.2)


def check_outcomes(server, results, before):
    statuses = {s for s, _, _ in results}
    assert statuses <= {201, 503}, [r for r in results if r[0] not in (201, 503)][:3]
    for status, retry, body in results:
        if status == 503:
            assert retry and retry.isdigit() and body["error"] == "unavailable", (retry, body)
    issued = {b["serial"] for s, _, b in results if s == 201}
    stored = certificates(server) - before
    # Every answered certificate is stored, and nothing was stored for a refused request.
    assert issued <= stored
    assert len(stored) - len(issued) <= 1  # at most wait_signing's own certificate
    return statuses


def test_a_killed_signer_is_restarted_and_signing_resumes_by_itself(server):
    before = certificates(server)
    restarts = len(system_events(server, "signer.restart"))
    first = signer_pid(server)
    stop, results = threading.Event(), []
    loader = threading.Thread(target=issue_loop, args=(server, stop, results))
    loader.start()
    try:
        time.sleep(1.0)
        os.kill(first, signal.SIGKILL)
        time.sleep(2.0)
    finally:
        stop.set()
        loader.join(60)
    r = wait_signing(server)
    assert r.status == 201, r.body[:300]
    assert signer_pid(server) != first
    assert gone(first)  # reaped: no zombie
    statuses = check_outcomes(server, results, before | {r.json()["serial"]})
    assert 201 in statuses and len(results) > 5
    # Audited in the _system chain, counted, logged.
    deadline = time.time() + 5
    while len(system_events(server, "signer.restart")) == restarts and time.time() < deadline:
        time.sleep(0.2)
    events = system_events(server, "signer.restart")
    assert len(events) == restarts + 1
    detail = events[-1]["detail"]
    assert detail["old_pid"] == first and detail["pid"] == signer_pid(server)
    assert "exited" in detail["reason"] and events[-1]["result"] == "ok"
    status, body = readyz(server)
    assert status == 200 and body["signer_restarts"] >= 1 and body["signer"] == "ok"
    assert "signer: restarted" in open(server.log_path).read()
    # The OCSP responder signs again too.
    serial = r.json()["serial"]
    assert server.api("GET", f"/certificates/{serial}")["status"] == "good"


def test_a_hung_signer_is_killed_and_replaced(server):
    before = certificates(server)
    hung = signer_pid(server)
    sigstop(hung)
    t0 = time.time()
    try:
        csr, _ = make_csr("hung.example", dns=["hung.example"])
        r = server.request("POST", "/api/v1/t/default/certificates",
                           {"ca": "issuing", "profile": "tls-server", "csr": csr})
        assert r.status in (201, 503), (r.status, r.body[:300])
        assert time.time() - t0 < 30  # failed or served within the hang limit, not 2 minutes
        if r.status == 503:
            assert r.headers["Retry-After"]
        r2 = wait_signing(server)
        assert r2.status == 201
    finally:
        if not gone(hung):
            os.kill(hung, signal.SIGCONT)
    assert signer_pid(server) != hung, (r.status, tree(server),
                                        system_events(server, "signer.restart"))
    assert gone(hung)  # killed, not left stopped
    stored = certificates(server) - before
    assert r2.json()["serial"] in stored
    assert len(stored) == 1 + (r.status == 201)
    deadline = time.time() + 5
    while time.time() < deadline:
        reasons = [e["detail"]["reason"] for e in system_events(server, "signer.restart")]
        if any("did not answer" in x for x in reasons):
            break
        time.sleep(0.2)
    assert any("did not answer within 2 s" in x for x in reasons)


def test_a_signer_that_cannot_come_back_keeps_vouchd_not_ready_until_it_can(server):
    kek = os.path.join(server.dir, "kek")
    away = kek + ".away"
    os.rename(kek, away)
    try:
        os.kill(signer_pid(server), signal.SIGKILL)
        deadline = time.time() + 15
        while time.time() < deadline and not system_events(server, "signer.down"):
            time.sleep(0.3)
        downs = system_events(server, "signer.down")
        assert downs and downs[-1]["result"] == "error"
        assert "kek" in downs[-1]["detail"]["restart"]
        status, body = readyz(server)
        assert status == 503 and body["status"] == "not ready"
        r = server.request("GET", "/readyz", token=None, base=server.public_url)
        assert r.status == 503
        csr, _ = make_csr("down.example", dns=["down.example"])
        r = server.request("POST", "/api/v1/t/default/certificates",
                           {"ca": "issuing", "profile": "tls-server", "csr": csr})
        assert r.status == 503 and r.headers["Retry-After"]
        assert "DOWN, cannot be restarted" in open(server.log_path).read()
    finally:
        os.rename(away, kek)
    # Back by itself once it can (the backoff is at most 30 s).
    assert wait_signing(server, seconds=45).status == 201
    status, _ = readyz(server)
    assert status == 200


def test_a_killed_pkcs11_signer_logs_in_again_with_the_pin_vouchd_forgot(tmp_path):
    """The PIN comes from the environment, which vouchd wipes once the first signer has it:
    the keeper keeps it, so a new signer opens the token and logs in again by itself."""
    if not os.path.exists(SOFTHSM_MODULE):
        pytest.fail("SoftHSM2 is not installed (apt-get install softhsm2)")
    hsm = SoftHSM(tmp_path / "softhsm")
    s = Server(str(tmp_path / "vouch"), env=dict(hsm.env, VOUCH_PKCS11_PIN=SOFTHSM_PIN),
               init_args=["--pkcs11-module", SOFTHSM_MODULE, "--pkcs11-token", "vouch-a"],
               conf="signer_hang_seconds = 2\n")
    try:
        with open(f"/proc/{s.proc.pid}/environ", "rb") as f:
            assert SOFTHSM_PIN.encode() not in f.read()  # vouchd wiped it
        first = signer_pid(s)
        os.kill(first, signal.SIGKILL)
        r = wait_signing(s)
        assert r.status == 201, r.body[:300]
        assert signer_pid(s) != first
        status, body = readyz(s)
        assert status == 200 and "vouch-a" in body["keystore"] and body["signer_restarts"] == 1
        # Issued in the token: the certificate verifies under the issuing CA.
        leaf = x509.load_pem_x509_certificate(r.json()["certificate"].encode())
        issuer = x509.load_pem_x509_certificate(
            s.api("GET", "/cas/issuing")["certificate"].encode())
        issuer.public_key().verify(leaf.signature, leaf.tbs_certificate_bytes,
                                   ec.ECDSA(leaf.signature_hash_algorithm))
    finally:
        s.stop()
