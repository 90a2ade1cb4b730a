"""Issue 20 points 2 and 3: the Debian package built from the tree (make deb) installs on this
Debian 12 machine, makes the users of the privilege separation and a first instance, and its
systemd unit passes `systemd-analyze verify`; the service starts as the unit starts it (the
readiness it announces over NOTIFY_SOCKET, the users its processes run as, /readyz), stops on
SIGTERM announcing it, and a purge takes everything away again.

It changes the machine while it runs (dpkg -i, users), and undoes it (dpkg --purge) also when it
fails; make package-test runs it alone, after the suites that start servers."""
import glob
import json
import os
import pwd
import re
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
BUILD = os.environ.get("VOUCH_BUILD", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from conftest import free_port, wait_for  # noqa: E402


def run(*cmd, check=True, **kw):
    p = subprocess.run(list(cmd), capture_output=True, text=True, timeout=300, **kw)
    if check:
        assert p.returncode == 0, f"{' '.join(cmd)}: {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p


@pytest.fixture(scope="module")
def installed():
    assert os.geteuid() == 0, "installing a package needs root (CI runs as root)"
    assert run("dpkg-query", "-W", "-f=${Status}", "vouch", check=False).stdout \
        != "install ok installed", "a vouch package is installed already: not touching it"
    debs = glob.glob(os.path.join(BUILD, "vouch_*.deb"))
    assert len(debs) == 1, debs
    try:
        run("dpkg", "-i", debs[0])
        yield debs[0]
    finally:
        run("dpkg", "--purge", "vouch", check=False)


def test_the_package_declares_what_it_needs(installed):
    info = run("dpkg-deb", "-I", installed).stdout
    depends = re.search(r"^ Depends: (.*)$", info, re.M).group(1)
    for lib in ("libssl3", "libmicrohttpd12", "libsqlite3-0", "libsystemd0"):
        assert lib in depends, depends
    files = run("dpkg", "-L", "vouch").stdout.split()
    for f in ("/usr/sbin/vouchd", "/usr/bin/vouch", "/lib/systemd/system/vouchd.service",
              "/usr/share/man/man8/vouchd.8", "/usr/share/man/man1/vouch.1",
              "/usr/share/man/man5/vouchd.conf.5",
              "/usr/share/bash-completion/completions/vouch"):
        assert f in files, f


def test_users_files_and_their_modes(installed):
    for user in ("vouch", "vouch-signer"):
        pw = pwd.getpwnam(user)
        assert pw.pw_uid < 1000 and pw.pw_shell.endswith("nologin"), pw
    conf = open("/etc/vouch/vouchd.conf").read()
    assert "user = vouch\n" in conf and "signer_user = vouch-signer\n" in conf
    assert "keystore = /var/lib/vouch-signer/keys" in conf
    def owner_mode(path):
        st = os.stat(path)
        return pwd.getpwuid(st.st_uid).pw_name, stat.S_IMODE(st.st_mode)
    assert owner_mode("/var/lib/vouch/vouch.db") == ("vouch", 0o600)
    assert owner_mode("/var/lib/vouch-signer") == ("vouch-signer", 0o700)
    assert owner_mode("/var/lib/vouch-signer/kek") == ("vouch-signer", 0o600)
    assert owner_mode("/var/lib/vouch/initial-tokens.json") == ("root", 0o600)
    tokens = json.load(open("/var/lib/vouch/initial-tokens.json"))
    assert tokens["admin_token"].startswith("vt_")
    run("/usr/sbin/vouchd", "-c", "/etc/vouch/vouchd.conf", "--check")


def test_the_unit_verifies(installed):
    p = run("systemd-analyze", "verify", "/lib/systemd/system/vouchd.service", check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    score = run("systemd-analyze", "security", "--offline=true",
                "/lib/systemd/system/vouchd.service", check=False)
    print(score.stdout.splitlines()[-1] if score.stdout else score.stderr)
    unit = open("/lib/systemd/system/vouchd.service").read()
    for line in ("Type=notify", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                 "NoNewPrivileges=yes", "CapabilityBoundingSet=CAP_SETUID CAP_SETGID",
                 "ExecReload=/bin/kill -HUP $MAINPID", "StateDirectory=vouch"):
        assert line in unit, line


def process_user(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("Uid:"):
            return pwd.getpwuid(int(line.split()[1])).pw_name
    return None


def descendants(pid):
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out += [int(entry)] + descendants(int(entry))
    return out


def test_the_service_starts_as_its_unit_starts_it_and_tells_systemd(installed, tmp_path):
    """ExecStart as systemd runs it: as root, with NOTIFY_SOCKET; here on loopback ports of the
    test's own (the package's default ones may be taken on this machine)."""
    api, public = free_port(), free_port()
    conf = tmp_path / "vouchd.conf"
    text = open("/etc/vouch/vouchd.conf").read()
    text = re.sub(r"^api_port *=.*$", f"api_port = {api}", text, flags=re.M)
    text = re.sub(r"^public_port *=.*$", f"public_port = {public}", text, flags=re.M)
    conf.write_text(text)
    # As /run/systemd/notify: the network process announces readiness after it became vouch.
    sockdir = tempfile.mkdtemp(prefix="vouch-notify-")  # every directory above it passable
    os.chmod(sockdir, 0o755)
    notify = os.path.join(sockdir, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify))
    os.chmod(notify, 0o777)
    sock.settimeout(60)
    proc = subprocess.Popen(["/usr/sbin/vouchd", "-c", str(conf)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=dict(os.environ, NOTIFY_SOCKET=str(notify)))
    try:
        try:
            message = sock.recv(4096).decode()
        except TimeoutError:
            proc.kill()
            raise AssertionError("no READY=1: " + proc.communicate()[1].decode()[-3000:])
        assert "READY=1" in message and f"MAINPID={proc.pid}" in message, message
        assert f"port {api}" in message
        # The network process runs as vouch, the signer as vouch-signer.
        users = {process_user(p) for p in descendants(proc.pid)}
        assert process_user(proc.pid) == "vouch" and "vouch-signer" in users, users
        ctx = ssl.create_default_context(cafile="/var/lib/vouch/tls/ca.crt")
        with urllib.request.urlopen(f"https://127.0.0.1:{api}/readyz", context=ctx,
                                    timeout=30) as r:
            assert json.load(r)["status"] == "ready"
        proc.terminate()
        message = sock.recv(4096).decode()
        assert "STOPPING=1" in message, message
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        sock.close()
        shutil.rmtree(sockdir, ignore_errors=True)


def test_a_purge_takes_everything_away():
    """(Runs last: the module's fixture has purged by now only if this runs after it; so the
    purge is done here, and the fixture's own purge finds nothing.)"""
    run("dpkg", "--purge", "vouch", check=False)
    assert run("dpkg-query", "-W", "-f=${Status}", "vouch", check=False).stdout \
        != "install ok installed"
    for path in ("/var/lib/vouch", "/var/lib/vouch-signer", "/etc/vouch", "/usr/sbin/vouchd"):
        assert not os.path.exists(path), path
    for user in ("vouch", "vouch-signer"):
        with pytest.raises(KeyError):
            pwd.getpwnam(user)
