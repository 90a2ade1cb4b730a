"""kill -9 of vouchd under load (SQLite under make integration, PostgreSQL under
integration-pg): every certificate a client was given is stored, exactly once; a request
whose answer was lost, sent again with its Idempotency-Key after the restart, gets the one
certificate made for it or a first one, never a second; the audit chain still verifies."""
import os
import signal
import threading
import uuid

from conftest import make_csr, run, wait_for

THREADS = 4


class Load:
    """Threads issuing certificates, each request with a name and an Idempotency-Key of its
    own; what each request got (a serial, an error status, or no answer at all) is kept."""

    def __init__(self, server):
        self.server = server
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.answered = {}  # name -> serial (201)
        self.lost = {}      # name -> (key, csr): no answer (the connection broke)
        self.refused = []   # (name, status, body): an answer other than 201
        self.threads = [threading.Thread(target=self.run, args=(n,)) for n in range(THREADS)]
        for t in self.threads:
            t.start()

    def run(self, n):
        i = 0
        while not self.stop.is_set():
            i += 1
            name = f"crash-{n}-{i}.example"
            key = "crash-" + uuid.uuid4().hex
            csr, _ = make_csr(cn=name, dns=[name])
            try:
                r = issue(self.server, csr, key)
            except OSError:
                with self.lock:
                    self.lost[name] = (key, csr)
                return  # vouchd is gone
            with self.lock:
                if r.status == 201:
                    self.answered[name] = r.json()["serial"]
                else:
                    self.refused.append((name, r.status, r.body[:200]))

    def count(self):
        with self.lock:
            return len(self.answered)

    def join(self):
        self.stop.set()
        for t in self.threads:
            t.join(120)


def issue(server, csr, key):
    return server.request("POST", "/api/v1/t/default/certificates",
                          {"ca": "issuing", "profile": "tls-server", "csr": csr},
                          headers={"Idempotency-Key": key})


def stored(server, name):
    """The serials stored for the certificate named name."""
    return [r[0] for r in server.sql("SELECT serial FROM certs WHERE tenant = 'default' AND "
                                     "sans LIKE ?", (f"%{name}%",))]


def gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_kill_9_under_load_loses_and_doubles_no_certificate(server):
    load = Load(server)
    try:
        wait_for(lambda: load.count() >= 30, 120, "30 certificates before the kill")
        children = [int(p) for p in
                    run("pgrep", "-P", str(server.proc.pid), check=False).stdout.split()]
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait(30)
        # The signer goes with it (nothing of the old instance may serve or write on).
        wait_for(lambda: all(gone(p) for p in children), 30, "vouchd's children to end")
    finally:
        load.join()
    server.stop()  # closes what the dead instance left open
    server.start()

    print(f"answered {load.count()}, cut off {len(load.lost)}")
    assert load.refused == [], load.refused
    assert load.count() >= 30
    # Every certificate a client was given is stored, once, with the serial it was given.
    for name, serial in load.answered.items():
        assert stored(server, name) == [serial], (name, serial, stored(server, name))
        assert server.api("GET", f"/certificates/{serial}")["status"] == "good"
    # A request cut off by the kill, sent again with its key: one certificate for it.
    for name, (key, csr) in load.lost.items():
        before = stored(server, name)
        assert len(before) <= 1, (name, before)
        r = issue(server, csr, key)
        assert r.status == 201, r.body
        assert stored(server, name) == [r.json()["serial"]], (name, before, r.body[:200])
        if before:
            assert before == [r.json()["serial"]]
    # No serial twice in the tenant, the audit chain intact, and the database sound.
    assert server.sql("SELECT serial FROM certs GROUP BY tenant, serial HAVING count(*) > 1") == []
    assert server.api("GET", "/audit/verify")["ok"] is True
    issued = {e["object"] for e in server.audit() if e["action"] == "cert.issue"
              and e["result"] == "ok"}
    assert set(load.answered.values()) <= issued
    if server.pg_database is None:
        assert server.sql("PRAGMA integrity_check") == [("ok",)]
