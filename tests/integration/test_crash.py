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


class MixedLoad:
    """Revocations of certificates issued beforehand and CRL generations, side by side, until
    stopped; what each got is kept (a revocation answered 200 must stay revoked, a CRL answered
    must be stored with its number)."""

    def __init__(self, server, serials):
        self.server = server
        self.todo = list(serials)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.revoked = []  # serials answered 200
        self.crls = []     # CRL numbers answered
        self.other = []    # (what, status, body) answers that are neither ok nor unavailable
        self.threads = [threading.Thread(target=self.revoker),
                        threading.Thread(target=self.publisher)]
        for t in self.threads:
            t.start()

    def note(self, what, r, ok, want=200):
        with self.lock:
            if r.status == want:
                ok()
            elif r.status != 503:  # a signer being replaced answers 503 with Retry-After
                self.other.append((what, r.status, r.body[:200]))

    def revoker(self):
        while not self.stop.is_set() and self.todo:
            serial = self.todo.pop()
            try:
                r = self.server.request("POST", f"/api/v1/t/default/certificates/{serial}/revoke",
                                        {"reason": "keyCompromise"})
            except OSError:
                return
            self.note(serial, r, lambda: self.revoked.append(serial))

    def publisher(self):
        while not self.stop.is_set():
            try:
                r = self.server.request("POST", "/api/v1/t/default/cas/issuing/crl", {})
            except OSError:
                return
            self.note("crl", r, lambda: self.crls.append(r.json()["number"]), 201)

    def count(self):
        with self.lock:
            return len(self.revoked), len(self.crls)

    def join(self):
        self.stop.set()
        for t in self.threads:
            t.join(120)


def crl_numbers_hold(server):
    """Every stored CRL of the issuing CA (the latest few: older ones are pruned): numbers
    unique, later numbers never older, the number inside each CRL the one it is stored under."""
    from cryptography import x509
    rows = server.sql("SELECT shard, delta_base, number, this_update, hex(der) FROM crls WHERE "
                      "tenant = 'default' AND ca = 'issuing' ORDER BY number"
                      if server.pg_database is None else
                      "SELECT shard, delta_base, number, this_update, encode(der, 'hex') FROM crls "
                      "WHERE tenant = 'default' AND ca = 'issuing' ORDER BY number")
    numbers = [int(r[2]) for r in rows]
    assert len(numbers) == len(set(numbers)), numbers
    times = [int(r[3]) for r in rows]
    assert times == sorted(times), list(zip(numbers, times))
    for shard, base, number, _, der in rows:
        crl = x509.load_der_x509_crl(bytes.fromhex(der))
        ext = crl.extensions.get_extension_for_class(x509.CRLNumber).value
        assert ext.crl_number == int(number), (number, ext.crl_number)
    return numbers


def revocations_hold(server, load):
    """Every revocation a client was told of is there, in the CRL made after the restart; the
    audit chain verifies."""
    from cryptography import x509
    for serial in load.revoked:
        assert server.api("GET", f"/certificates/{serial}")["status"] == "revoked", serial
    r = server.request("POST", "/api/v1/t/default/cas/issuing/crl", {})
    assert r.status == 201, r.body
    after = r.json()["number"]
    der = server.request("GET", "/crl/default/issuing.crl", token=None,
                         base=server.public_url).body
    listed = {format(e.serial_number, "x") for e in x509.load_der_x509_crl(der)}
    assert {s.lower().lstrip("0") for s in load.revoked} <= {s.lstrip("0") for s in listed}
    # CRL numbers: each answer's above the one before, and none given again after the crash
    # (older CRLs are pruned: only the latest are stored, checked by crl_numbers_hold).
    assert load.crls == sorted(set(load.crls)), load.crls
    assert after > max(load.crls), (after, load.crls[-3:])
    assert after in crl_numbers_hold(server)
    assert server.api("GET", "/audit/verify")["ok"] is True
    if server.pg_database is None:
        assert server.sql("PRAGMA integrity_check") == [("ok",)]


def issued_beforehand(server, n):
    out = []
    for _ in range(n):
        name = f"mixed-{uuid.uuid4().hex[:8]}.example"
        csr, _ = make_csr(cn=name, dns=[name])
        r = issue(server, csr, "mixed-" + uuid.uuid4().hex)
        assert r.status == 201, r.body
        out.append(r.json()["serial"])
    return out


def test_kill_9_under_revocation_and_crl_load_keeps_every_answer(server):
    load = MixedLoad(server, issued_beforehand(server, 60))
    try:
        wait_for(lambda: load.count()[0] >= 10 and load.count()[1] >= 3, 120,
                 "revocations and CRLs before the kill")
        children = [int(p) for p in
                    run("pgrep", "-P", str(server.proc.pid), check=False).stdout.split()]
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait(30)
        wait_for(lambda: all(gone(p) for p in children), 30, "vouchd's children to end")
    finally:
        load.join()
    server.stop()
    server.start()
    print(f"revoked {len(load.revoked)}, CRLs {len(load.crls)}")
    assert load.other == [], load.other
    revocations_hold(server, load)


def test_kill_9_of_the_signer_under_revocation_and_crl_load_keeps_every_answer(server):
    load = MixedLoad(server, issued_beforehand(server, 60))
    try:
        wait_for(lambda: load.count()[0] >= 10 and load.count()[1] >= 3, 120,
                 "revocations and CRLs before the kill")
        (keeper,) = [int(p) for p in
                     run("pgrep", "-P", str(server.proc.pid), check=False).stdout.split()]
        (signer,) = [int(p) for p in run("pgrep", "-P", str(keeper), check=False).stdout.split()]
        done = load.count()
        os.kill(signer, signal.SIGKILL)
        # The signer comes back by itself and the load goes on: more of both after the kill.
        wait_for(lambda: load.count()[0] > done[0] + 5 and load.count()[1] > done[1] + 1, 120,
                 "revocations and CRLs after the signer's restart")
    finally:
        load.join()
    print(f"revoked {len(load.revoked)}, CRLs {len(load.crls)}")
    assert load.other == [], load.other
    revocations_hold(server, load)
