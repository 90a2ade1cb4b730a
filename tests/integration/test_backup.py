"""Backups of a whole instance while it serves, encrypted with age; restore into an empty
directory; scheduled backups with retention (vouchd backup / vouchd restore, issue 21)."""
import json
import os
import re
import subprocess
import threading

import pytest

from conftest import (PG_ADMIN, PG_URL, VOUCHD, Server, SoftHSM, make_csr, pg_database_new, vouchd_start,
                      wait_for, write)

OLD_BACKUPS = ["vouch-backup-20200101T000000Z.tar.age", "vouch-backup-20200102T000000Z.tar.age",
               "vouch-backup-20200103T000000Z.tar.age"]


def age_key(path):
    """A new age identity file at path; its recipient (public key)."""
    subprocess.run(["age-keygen", "-o", path], check=True, capture_output=True, timeout=30)
    out = subprocess.run(["age-keygen", "-y", path], check=True, capture_output=True, text=True,
                         timeout=30)
    return out.stdout.strip()


@pytest.fixture(scope="module")
def inst(tmp_path_factory):
    """One instance, with scheduled backups (every hour, 2 kept) into a directory that already
    holds three old ones; the operator's age key pair."""
    base = tmp_path_factory.mktemp("backup")
    keys = str(base / "operator.key")
    recipient = age_key(keys)
    bdir = base / "scheduled"
    bdir.mkdir()
    for i, name in enumerate(OLD_BACKUPS):
        write(str(bdir / name), "old\n")
        os.utime(bdir / name, (1577836800 + i * 86400,) * 2)
    conf = (f"backup_dir = {bdir}\nbackup_interval_hours = 1\nbackup_keep = 2\n"
            f"backup_recipients = {recipient}\n")
    hsm = None
    if os.environ.get("VOUCH_TEST_KEYSTORE") == "pkcs11":
        hsm = SoftHSM(tmp_path_factory.mktemp("softhsm"))
        s = Server(str(base), conf=conf, env=hsm.env, init_args=hsm.init_args())
    else:
        s = Server(str(base), conf=conf)
    s.base, s.age_identity, s.age_recipient, s.backup_dir = base, keys, recipient, bdir
    if s.pg_database:  # vouchd's role cannot read every tenant's rows: pg_dump as the superuser
        s.stop()
        with open(os.path.join(s.dir, "vouchd.conf"), "a") as f:
            f.write(f"backup_database = {PG_ADMIN.rsplit('/', 1)[0]}/{s.pg_database}\n")
        s.start()
    yield s
    if s.proc.poll() is None or not s.log.closed:
        s.stop()


def issue(s, name):
    r = s.request("POST", "/api/v1/t/default/certificates",
                  {"ca": "issuing", "profile": "tls-server", "csr": make_csr(cn=name, dns=[name])[0]})
    assert r.status == 201, r.body
    return r.json()["serial"]


def system_audit(s):
    r = s.request("GET", "/api/v1/audit?limit=10000", token="system")
    assert r.status == 200, r.body
    return [json.loads(l) for l in r.body.decode().splitlines() if l]


def backup(s, out, *extra):
    return subprocess.run([VOUCHD, "backup", "-c", os.path.join(s.dir, "vouchd.conf"),
                           "--out", str(out), "--recipient", s.age_recipient, *extra],
                          capture_output=True, text=True, timeout=300, env=s.env)


def restore(s, src, identity, to, *extra, cwd=None):
    return subprocess.run([VOUCHD, "restore", "--from", str(src), "--identity", str(identity),
                           "--to", str(to), *extra],
                          capture_output=True, text=True, timeout=300, env=s.env, cwd=cwd)


def test_scheduled_backups_start_when_due_keep_the_newest_and_are_audited(inst):
    bdir = inst.backup_dir

    def made():
        return [n for n in os.listdir(bdir) if n.startswith("vouch-backup-2") and
                n not in OLD_BACKUPS and n.endswith(".tar.age")]

    wait_for(lambda: made() and len(os.listdir(bdir)) == 2, timeout=120,
             what="a scheduled backup, and the oldest removed")
    # Kept: the new one and the newest old one (backup_keep = 2); nothing half written left.
    assert sorted(os.listdir(bdir)) == sorted([OLD_BACKUPS[2]] + made())
    events = [e for e in system_audit(inst) if e["action"] == "backup.create"]
    assert events and events[-1]["result"] == "ok", events
    assert events[-1]["detail"]["by"] == "scheduler"
    # It decrypts with the operator's identity and holds the manifest.
    out = subprocess.run(["age", "--decrypt", "--identity", inst.age_identity,
                          str(bdir / made()[0])], capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    listing = subprocess.run(["tar", "--list"], input=out.stdout, capture_output=True,
                             timeout=60).stdout.decode().split()
    assert "./manifest.json" in listing and "./vouchd.conf" in listing, listing


def test_backup_under_load_restores_into_a_new_directory_that_serves(inst, tmp_path):
    before = [issue(inst, f"before{i}.example") for i in range(5)]
    # The chain has a signed checkpoint: restore checks it against the restored audit key.
    wait_for(lambda: inst.api("GET", "/audit/verify")["checkpoints"] > 0, what="a checkpoint")
    stop, issued, errors = threading.Event(), [], []

    def load():
        while not stop.is_set():
            try:
                issued.append(issue(inst, f"load{len(issued)}.example"))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(str(e))

    threads = [threading.Thread(target=load) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(issued) >= 2, what="issuance under way")
        out = tmp_path / "b.tar.age"
        p = backup(inst, out, "--verify-identity", inst.age_identity)
    finally:
        stop.set()
        for t in threads:
            t.join(120)
    assert p.returncode == 0, p.stderr
    assert "decrypted and compared" in p.stdout
    assert not errors, errors[:3]
    assert os.path.getsize(out) > 0 and not os.path.exists(str(out) + ".partial")
    events = [e for e in system_audit(inst) if e["action"] == "backup.create"]
    assert events[-1]["detail"]["by"] == "command", events[-1]
    assert events[-1]["object"] == str(out)
    manifest = decrypted_manifest(inst, out)
    assert manifest["keys"]["included"] == (os.environ.get("VOUCH_TEST_KEYSTORE") != "pkcs11")

    # A wrong identity fails clearly, and leaves nothing behind.
    wrong = tmp_path / "wrong.key"
    age_key(str(wrong))
    target = tmp_path / "wrong-target"
    r = restore(inst, out, wrong, target)
    assert r.returncode != 0 and "cannot be decrypted" in r.stderr, r.stderr
    assert os.listdir(target) == []

    # A directory that is not empty is refused, and left as it was.
    busy = tmp_path / "busy"
    busy.mkdir()
    write(str(busy / "keep"), "x\n")
    r = restore(inst, out, inst.age_identity, busy)
    assert r.returncode != 0 and "not empty" in r.stderr, r.stderr
    assert os.listdir(busy) == ["keep"]

    extra = []
    if PG_URL:
        _, url = pg_database_new()
        extra = ["--database", url]
    to = tmp_path / "restored"  # named relative to the working directory: made absolute
    r = restore(inst, out, inst.age_identity, "restored", *extra, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "audit chain default:" in r.stdout and "audit chain _system:" in r.stdout
    assert "BROKEN" not in r.stdout and "every audit chain verifies" in r.stdout
    assert re.search(r"audit chain default: \d+ events, [1-9]\d* checkpoints: ok", r.stdout), r.stdout

    # The restored instance serves on the same ports once the original is stopped.
    inst.stop()
    conf = to / "vouchd.conf"
    text = conf.read_text()
    assert f"database = sqlite:{to}/vouch.db" in text or PG_URL, text
    log = open(tmp_path / "restored.log", "a")
    proc, _ = vouchd_start(str(conf), inst.env, log, "restored vouchd")
    try:
        for serial in before:
            r = inst.request("GET", f"/api/v1/t/default/certificates/{serial}")
            assert r.status == 200, (serial, r.status)
        verify = inst.api("GET", "/audit/verify")
        assert verify["ok"] is True, verify
        assert inst.request("GET", "/api/v1/audit/verify", token="system").json()["ok"] is True
        issue(inst, "after-restore.example")
        assert any(e["action"] == "backup.restore" for e in system_audit(inst))
    finally:
        proc.terminate()
        proc.wait(30)
        proc.stdout.close()
        log.close()


def decrypted_manifest(s, path):
    out = subprocess.run(["age", "--decrypt", "--identity", s.age_identity, str(path)],
                         capture_output=True, timeout=60, check=True)
    m = subprocess.run(["tar", "--extract", "--to-stdout", "./manifest.json"], input=out.stdout,
                       capture_output=True, timeout=60, check=True)
    return json.loads(m.stdout)


def test_backup_needs_a_recipient(inst, tmp_path):
    p = subprocess.run([VOUCHD, "backup", "-c", os.path.join(inst.dir, "vouchd.conf"), "--out",
                        str(tmp_path / "x")], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "--recipient" in p.stderr
    assert not os.path.exists(tmp_path / "x")
