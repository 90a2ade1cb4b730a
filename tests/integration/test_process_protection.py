"""What another process of vouchd's own user can see of it (issue 22, point 3 in part): vouchd,
the signer's keeper and the signer are not dumpable (no ptrace, no reading of their memory,
environment or descriptors), write no core file and gain no privilege through execve.
vouchd runs here as the unprivileged user nobody, as an operator would run it; a process of
that user then tries to read the signer's environment and descriptors."""
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import VOUCHD, Server

NOBODY = pwd.getpwnam("nobody")
AS_NOBODY = ["setpriv", f"--reuid={NOBODY.pw_uid}", f"--regid={NOBODY.pw_gid}",
             "--clear-groups"]

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                                reason="needs root (to run vouchd as nobody) and setpriv")


class NobodyServer(Server):
    """An instance made by root, then handed to nobody and started as nobody."""

    def start(self):
        if not getattr(self, "handed_over", False):
            for root, dirs, files in os.walk(self.dir):
                for name in dirs + files:
                    os.chown(os.path.join(root, name), NOBODY.pw_uid, NOBODY.pw_gid)
            os.chown(self.dir, NOBODY.pw_uid, NOBODY.pw_gid)
            self.handed_over = True
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(  # setpriv execs vouchd: proc is vouchd itself
            AS_NOBODY + [VOUCHD, "-c", os.path.join(self.dir, "vouchd.conf")],
            stdout=subprocess.PIPE, stderr=self.log, text=True, env=self.env)
        line = self.proc.stdout.readline()
        if not line:
            self.stop()
            raise RuntimeError("vouchd did not start: " + open(self.log_path).read())
        assert json.loads(line)["api_port"] == self.api_port
        self.url = f"http://127.0.0.1:{self.api_port}"
        self.public_url = f"http://127.0.0.1:{self.public_port}"
        self.ctx = None


@pytest.fixture(scope="module")
def server():
    base = tempfile.mkdtemp(prefix="vouch-nobody-")
    os.chmod(base, 0o711)  # nobody passes through to its instance
    s = NobodyServer(base)
    yield s
    s.stop()
    shutil.rmtree(base, ignore_errors=True)


def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def status(pid, name):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].split()
    return None


def as_nobody_reads(path):
    """Whether a process of nobody can read path (the /proc file of another process)."""
    code = f"open({path!r}, 'rb').read()"
    if path.endswith("/fd"):
        code = f"import os; os.listdir({path!r})"
    p = subprocess.run(AS_NOBODY + [sys.executable, "-c", code], capture_output=True,
                       text=True, timeout=30)
    return p.returncode == 0


def test_vouchd_keeper_and_signer_are_opaque_to_their_own_user(server):
    vouchd = server.proc.pid
    (keeper,) = children(vouchd)
    (signer,) = children(keeper)
    assert server.request("GET", "/readyz", token=None).status == 200  # it works as nobody
    for pid in (vouchd, keeper, signer):
        assert status(pid, "Uid")[0] == str(NOBODY.pw_uid)
        assert status(pid, "NoNewPrivs") == ["1"]
        with open(f"/proc/{pid}/limits") as f:
            core = [l for l in f if l.startswith("Max core file size")][0].split()
        assert core[4:6] == ["0", "0"], core
        # Not dumpable: /proc/<pid> belongs to root, and nobody reads none of it.
        assert os.stat(f"/proc/{pid}/environ").st_uid == 0
        assert not as_nobody_reads(f"/proc/{pid}/environ")
        assert not as_nobody_reads(f"/proc/{pid}/fd")
    # Positive control: an ordinary process of nobody is open to nobody.
    sleeper = subprocess.Popen(AS_NOBODY + ["sleep", "30"])
    try:
        for _ in range(100):  # until setpriv has become sleep
            with open(f"/proc/{sleeper.pid}/comm") as f:
                if f.read().strip() == "sleep":
                    break
            time.sleep(0.05)
        assert os.stat(f"/proc/{sleeper.pid}/environ").st_uid == NOBODY.pw_uid
        assert as_nobody_reads(f"/proc/{sleeper.pid}/environ")
    finally:
        sleeper.kill()
        sleeper.wait()
