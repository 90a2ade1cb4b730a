"""/readyz, which HAProxy checks (deploy/haproxy.cfg): 503 when the node cannot reach its keys."""
import os
import signal

from conftest import Server, wait_for


def signer_pid(server):
    """The signer: the child of the keeper, the child process vouchd forked first."""
    with open(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children") as f:
        (keeper,) = [int(p) for p in f.read().split()]
    with open(f"/proc/{keeper}/task/{keeper}/children") as f:
        (pid,) = [int(p) for p in f.read().split()]
    return pid


def test_readyz_fails_while_the_signer_is_gone_and_recovers_when_it_is_back(tmp_path):
    s = Server(str(tmp_path))
    kek = os.path.join(s.dir, "kek")
    try:
        r = s.request("GET", "/readyz", token=None)
        assert r.status == 200 and r.json()["signer"] == "ok", r.body
        os.rename(kek, kek + ".away")  # a new signer cannot open the key store
        os.kill(signer_pid(s), signal.SIGKILL)
        r = wait_for(lambda: (lambda r: r.status != 200 and r)(
            s.request("GET", "/readyz", token=None)), 10, "readyz to fail")
        assert r.status == 503, r.body
        assert r.json()["status"] == "not ready" and r.json()["signer"] != "ok", r.body
        # The public listener's /readyz (HAProxy checks both) says the same.
        r = s.request("GET", "/readyz", token=None, base=s.public_url)
        assert r.status == 503 and r.json() == {"status": "not ready"}, r.body
        # Once a signer can start again, vouchd has one by itself (backoff: 30 s at most).
        os.rename(kek + ".away", kek)
        r = wait_for(lambda: (lambda r: r.status == 200 and r)(
            s.request("GET", "/readyz", token=None, base=s.public_url)), 45, "readyz again")
        assert r.status == 200, r.body
        assert s.request("GET", "/readyz", token=None).json()["signer_restarts"] == 1
    finally:
        s.stop()
