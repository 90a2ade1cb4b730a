"""The files of an installation: what `vouchd init` and vouchd make is the owner's alone, and
vouchd refuses to start on secrets or a database that others can read."""
import os
import stat
import subprocess

import pytest

from conftest import PG_URL, VOUCHD, SoftHSM, free_port


def modes(top):
    """{path relative to top: permission bits} of every file and directory under top."""
    out = {".": stat.S_IMODE(os.stat(top).st_mode)}
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            path = os.path.join(root, name)
            out[os.path.relpath(path, top)] = stat.S_IMODE(os.lstat(path).st_mode)
    return out


def init(base, *args, env=None):
    d = os.path.join(str(base), "inst")
    cmd = [VOUCHD, "init", d, "--api-port", str(free_port()), "--public-port", str(free_port()),
           "--json", *args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, **(env or {})))
    return d, p


def start(d):
    """vouchd -c on the instance: the process if it came up, else its exit code and stderr."""
    p = subprocess.Popen([VOUCHD, "-c", os.path.join(d, "vouchd.conf")], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if line:
        return p, None
    p.wait(30)
    return None, (p.returncode, p.stderr.read())


def stop(p):
    p.terminate()
    try:
        p.wait(15)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def test_init_and_a_running_vouchd_make_files_0600_and_directories_0700(tmp_path):
    d, p = init(tmp_path)  # TLS: the key, certificate and root are written too
    assert p.returncode == 0, p.stderr
    made = modes(d)
    proc, failed = start(d)
    assert failed is None, failed
    try:
        # The database in WAL mode has its -wal and -shm beside it while vouchd runs.
        running = modes(d)
    finally:
        stop(proc)
    names = set(running)
    assert {"kek", "vouchd.conf", "tls/server.key", "tls/server.crt", "tls/ca.crt",
            "keys", "keys/default"} <= names
    if not PG_URL:
        assert {"vouch.db", "vouch.db-wal", "vouch.db-shm"} <= names
    for tree in (made, running):
        for name, mode in tree.items():
            isdir = os.path.isdir(os.path.join(d, name))
            assert mode == (0o700 if isdir else 0o600), f"{name}: {oct(mode)}"


@pytest.mark.parametrize("name,setting", [
    ("kek", "kek_file"), ("tls/server.key", "tls_key"),
    pytest.param("vouch.db", "database", marks=pytest.mark.runs_in(
        "integration", "integration-hsm", "integration-asan",
        why="the SQLite file; under integration-pg the database is PostgreSQL's")),
    ("keys/default", "keystore")])
def test_vouchd_refuses_to_start_on_a_secret_others_can_read(tmp_path, name, setting):
    d, p = init(tmp_path)
    assert p.returncode == 0, p.stderr
    path = os.path.join(d, name)
    if name == "keys/default":  # one key file of the store
        path = os.path.join(path, sorted(os.listdir(path))[0])
    os.chmod(path, 0o644)
    proc, failed = start(d)
    if proc is not None:
        stop(proc)
    assert failed is not None, f"vouchd started with {name} mode 0644"
    code, err = failed
    assert code == 1
    assert f"{setting} {path} is open to group and others (mode 0644): chmod 600 {path}" in err
    # --check says the same, and the fix it names is enough.
    p = subprocess.run([VOUCHD, "-c", os.path.join(d, "vouchd.conf"), "--check"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and f"chmod 600 {path}" in p.stderr
    os.chmod(path, 0o600)
    proc, failed = start(d)
    assert failed is None, failed
    stop(proc)


def test_a_group_readable_pin_file_is_refused_by_init(tmp_path):
    hsm = SoftHSM(tmp_path / "hsm")
    os.chmod(hsm.pin_file, 0o640)
    d, p = init(tmp_path, *hsm.init_args(backup=False), env=hsm.env)
    assert p.returncode == 1
    assert (f"pkcs11_pin_file {hsm.pin_file} is open to its group (mode 0640): "
            f"chmod 600 {hsm.pin_file}") in p.stderr
    assert not os.path.exists(os.path.join(d, "vouchd.conf"))
