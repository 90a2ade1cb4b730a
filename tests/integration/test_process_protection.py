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

from conftest import VOUCHD, Server, make_csr

NOBODY = pwd.getpwnam("nobody")
AS_NOBODY = ["setpriv", f"--reuid={NOBODY.pw_uid}", f"--regid={NOBODY.pw_gid}",
             "--clear-groups"]

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                                reason="needs root (to run vouchd as nobody) and setpriv")


class NobodyServer(Server):
    """An instance made by root, then handed to nobody and started as nobody."""

    def start(self):
        self.release_ports()
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


SIGNER_UID = 60123  # a user with no passwd entry: the signer's own


@pytest.fixture(scope="module")
def split():
    """Started as root with user = nobody and signer_user = SIGNER_UID: the key store and its
    secret belong to the signer's user, everything else to nobody."""
    base = tempfile.mkdtemp(prefix="vouch-split-")
    os.chmod(base, 0o711)
    s = Server(base)
    s.stop()
    with open(os.path.join(s.dir, "vouchd.conf"), "a") as f:
        f.write(f"user = nobody\nsigner_user = {SIGNER_UID}\n")
    for root, dirs, files in os.walk(s.dir):
        for name in dirs + files:
            os.chown(os.path.join(root, name), NOBODY.pw_uid, NOBODY.pw_gid)
    os.chown(s.dir, NOBODY.pw_uid, NOBODY.pw_gid)
    os.chmod(s.dir, 0o711)  # both users pass through to what is theirs
    keys, kek = os.path.join(s.dir, "keys"), os.path.join(s.dir, "kek")
    for root, dirs, files in os.walk(keys):
        for name in dirs + files:
            os.chown(os.path.join(root, name), SIGNER_UID, SIGNER_UID)
    os.chown(keys, SIGNER_UID, SIGNER_UID)
    os.chown(kek, SIGNER_UID, SIGNER_UID)
    s.release_ports()  # vouchd binds them as nobody: root's holds would stand in its way
    s.start()
    yield s
    s.stop()
    shutil.rmtree(base, ignore_errors=True)


def test_the_network_process_runs_under_a_seccomp_filter(server):
    """vouchd (the process that parses network input) runs under its seccomp filter
    (lib/sandbox.h: what the filter refuses is tested in tests/unit/test_lib.c); the keeper and
    the signer, which load a PKCS#11 module that may need anything, do not.  The log says how
    many calls are refused and that no program may run (no scheduled backups here)."""
    vouchd = server.proc.pid
    (keeper,) = children(vouchd)
    (signer,) = children(keeper)
    assert status(vouchd, "Seccomp") == ["2"]
    assert int(status(vouchd, "Seccomp_filters")[0]) >= 1
    for pid in (keeper, signer):
        assert status(pid, "Seccomp") == ["0"], pid
    log = open(server.log_path).read()
    line = [l for l in log.splitlines() if "refused to the network process (seccomp)" in l]
    assert line and "programs may run" not in line[-1], line
    assert server.request("GET", "/readyz", token=None).status == 200


def test_started_as_root_the_network_process_cannot_read_keys_or_trace_the_signer(split):
    vouchd = split.proc.pid
    (keeper,) = children(vouchd)
    (signer,) = children(keeper)
    assert status(vouchd, "Uid") == [str(NOBODY.pw_uid)] * 4
    assert status(keeper, "Uid") == [str(SIGNER_UID)] * 4
    assert status(signer, "Uid") == [str(SIGNER_UID)] * 4
    assert status(vouchd, "Groups") == [] and status(signer, "Groups") == []
    # It works: a certificate is signed by the signer as its own user.
    csr, _ = make_csr("split.example", dns=["split.example"])
    r = split.request("POST", "/api/v1/t/default/certificates",
                      {"ca": "issuing", "profile": "tls-server", "csr": csr})
    assert r.status == 201, r.body[:300]
    # From the network process's identity: no key file, no secret, no look into the signer.
    key_files = [os.path.join(root, f) for root, _, files in
                 os.walk(os.path.join(split.dir, "keys")) for f in files]
    assert key_files
    for path in [os.path.join(split.dir, "kek"), key_files[0]]:
        assert not as_nobody_reads(path), path
    assert not as_nobody_reads(f"/proc/{signer}/environ")
    assert not as_nobody_reads(f"/proc/{signer}/fd")
    # Positive control: the network process's own files are open to that identity.
    own = "vouch.db" if split.pg_database is None else "vouchd.conf"  # no file under PostgreSQL
    assert as_nobody_reads(os.path.join(split.dir, own))
