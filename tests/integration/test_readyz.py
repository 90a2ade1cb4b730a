"""/readyz, which HAProxy checks (deploy/haproxy.cfg): 503 when the node cannot reach its keys."""
import os
import signal

from conftest import Server, wait_for


def signer_pid(server):
    """The signer: the child process vouchd forked first."""
    with open(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children") as f:
        (pid,) = [int(p) for p in f.read().split()]
    return pid


def test_readyz_fails_when_the_signer_is_gone(tmp_path):
    s = Server(str(tmp_path))
    try:
        r = s.request("GET", "/readyz", token=None)
        assert r.status == 200 and r.json()["signer"] == "ok", r.body
        os.kill(signer_pid(s), signal.SIGKILL)
        r = wait_for(lambda: (lambda r: r.status != 200 and r)(
            s.request("GET", "/readyz", token=None)), 10, "readyz to fail")
        assert r.status == 503, r.body
        assert r.json()["status"] == "not ready" and r.json()["signer"] != "ok", r.body
        # The public listener's /readyz (HAProxy checks both) says the same.
        r = s.request("GET", "/readyz", token=None, base=s.public_url)
        assert r.status == 503, r.body
    finally:
        s.stop()
