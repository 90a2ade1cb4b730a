"""The local cluster (deploy/cluster.sh) under failures: three vouchd nodes behind HAProxy on a
PostgreSQL primary + standby with pg_auto_failover, all on loopback, all stopped at the end.

Under a steady load through HAProxy — issuance, OCSP and CRLs, in two tenants — a vouchd node
is killed with -9 (no request may fail after one client retry, and no OCSP request at all: the
public frontend retries on another node), then the database primary
(its keeper and its PostgreSQL, -9: the standby must take over), then the new primary's
postmaster alone (its keeper restarts it, or the monitor fails over). After each database
kill service must resume within 30 s, and what clients got must all be in the database,
serials unique, CRL numbers strictly increasing, audit chains intact.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("VOUCH_BUILD", os.path.join(ROOT, "build"))
SCRIPT = os.path.join(ROOT, "deploy", "cluster.sh")
TENANTS = ("default", "second")
# Issuances the load clients asked for, each under an Idempotency-Key of its own (its retry
# reuses the key): the cluster may store at most this many load certificates per tenant.
ASKED = {t: 0 for t in TENANTS}


class Cluster:
    def __init__(self, path):
        self.dir = path
        env = dict(os.environ, VOUCH_BUILD=BUILD)
        p = subprocess.run([SCRIPT, "start", path], capture_output=True, text=True, env=env,
                           timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr + self.logs()
        self.env = {}
        with open(os.path.join(path, "env")) as f:
            for line in f:
                k, v = line.rstrip("\n").split("=", 1)
                self.env[k] = v
        self.api = self.env["VOUCH_CLUSTER_API"]
        self.public = self.env["VOUCH_CLUSTER_PUBLIC"]
        self.tokens = {"default": self.env["VOUCH_CLUSTER_TOKEN"]}

    def script(self, *args):
        p = subprocess.run([SCRIPT, args[0], self.dir, *args[1:]], capture_output=True,
                           text=True, env=dict(os.environ, VOUCH_BUILD=BUILD), timeout=120)
        assert p.returncode == 0, p.stdout + p.stderr
        return p.stdout.strip()

    def pid(self, name):
        with open(os.path.join(self.dir, "pids")) as f:
            pids = dict(line.split() for line in f if line.strip())
        return int(pids[name])

    def logs(self):
        out = ""
        for name in sorted(os.listdir(os.path.join(self.dir, "log"))):
            with open(os.path.join(self.dir, "log", name), errors="replace") as f:
                out += f"\n==== {name}\n" + f.read()[-3000:]
        return out

    def call(self, method, url, body=None, token=None, ctype="application/json", headers=None):
        """(status, body bytes); status is None when there was no HTTP answer at all."""
        headers = dict(headers or {})
        if body is not None:
            headers["Content-Type"] = ctype
        if token:
            headers["Authorization"] = "Bearer " + token
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=20) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except OSError:
            return None, b""

    def sql(self, query):
        p = subprocess.run(["psql", "-XAtq", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-d",
                            self.env["VOUCH_CLUSTER_DB"], "-c", query], capture_output=True,
                           text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        return [tuple(line.split("\t")) for line in p.stdout.splitlines() if line]


@pytest.fixture(scope="module")
def cluster():
    path = tempfile.mkdtemp(prefix="vouch-cluster-test-")
    c = None
    try:
        c = Cluster(path)
        status, body = c.call("POST", c.api + "/api/v1/tenants", {"name": "second"},
                              c.env["VOUCH_CLUSTER_SYSTEM_TOKEN"])
        assert status == 201, body
        status, body = c.call("POST", c.api + "/api/v1/tenants/second/tokens", {"name": "t"},
                              c.env["VOUCH_CLUSTER_SYSTEM_TOKEN"])
        assert status == 201, body
        c.tokens["second"] = json.loads(body)["token"]
        for cas in ({"name": "root", "subject": "/CN=Second Root"},
                    {"name": "issuing", "subject": "/CN=Second Issuing", "parent": "root"}):
            status, body = c.call("POST", c.api + "/api/v1/t/second/cas", cas, c.tokens["second"])
            assert status == 201, body
        yield c
    finally:
        subprocess.run([SCRIPT, "stop", path], capture_output=True, timeout=300)
        shutil.rmtree(path, ignore_errors=True)


def wait_for(condition, timeout, what, interval=0.1):
    """condition()'s first true value, polled until timeout seconds pass (then the test fails)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}: last {value!r}"
        time.sleep(interval)


def db_states(cluster):
    """{database node: (reported state, goal state)} as the pg_auto_failover monitor has them."""
    out = cluster.script("status")
    return {f[0]: (f[2], f[3]) for f in (line.split() for line in out.splitlines())
            if len(f) == 4 and f[0] in ("node1", "node2")}


def wait_replicated(cluster):
    """Both database nodes back in their places: a primary with a streaming, caught-up standby
    (pg_auto_failover reports "secondary" only once the standby has caught up)."""
    want = {("primary", "primary"), ("secondary", "secondary")}
    wait_for(lambda: set(db_states(cluster).values()) == want, 180,
             "a primary and a caught-up standby")


def csr_pem(cn):
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
           .sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM).decode()


class Load:
    """Client threads through HAProxy: issuance and OCSP in each tenant, CRLs of one CA.
    Each request that fails is tried once more; what still fails is recorded."""

    def __init__(self, c):
        self.c = c
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.failed = []        # (time, what, status) after the retry
        self.first_failed = []  # (time, what, status) of first attempts
        self.issued = {t: [] for t in TENANTS}   # serials returned to clients
        self.crl_numbers = []   # in the order the one CRL client got them
        self.ok_times = []      # completion times of successful issuances
        self.csr = {t: csr_pem(f"load.{t}.example") for t in TENANTS}
        status, der = c.call("GET", c.public + "/ca/default/issuing.crt")
        assert status == 200
        self.issuer = x509.load_der_x509_certificate(der)
        self.threads = [threading.Thread(target=self.issuer_loop, args=(t,)) for t in TENANTS]
        self.threads += [threading.Thread(target=self.ocsp_loop),
                         threading.Thread(target=self.crl_loop)]
        self.ocsp_req = None

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(60)

    def wait_issued(self, n, after=0.0, timeout=60, what="issuances"):
        """Waits until n issuances completed after time `after`; their completion times."""
        def done():
            with self.lock:
                got = [t for t in self.ok_times if t > after]
            return got if len(got) >= n else None
        return wait_for(done, timeout, f"{n} {what}")

    def attempt(self, what, fn):
        """fn() -> (ok, status); one retry after a short pause."""
        ok, status = fn()
        if not ok:
            with self.lock:
                self.first_failed.append((time.time(), what, status))
            time.sleep(0.3)
            ok, status = fn()
        if not ok:
            with self.lock:
                self.failed.append((time.time(), what, status))
        return ok

    def issuer_loop(self, tenant):
        body = {"ca": "issuing", "profile": "tls-server", "csr": self.csr[tenant]}
        key = [None]

        def once():
            status, out = self.c.call("POST", f"{self.c.api}/api/v1/t/{tenant}/certificates",
                                      body, self.c.tokens[tenant],
                                      headers={"Idempotency-Key": key[0]})
            if status == 201:
                serial = json.loads(out)["serial"]
                with self.lock:
                    self.issued[tenant].append(serial)
                    self.ok_times.append(time.time())
                if tenant == "default" and self.ocsp_req is None:
                    cert = x509.load_pem_x509_certificate(json.loads(out)["certificate"].encode())
                    self.ocsp_req = (ocsp.OCSPRequestBuilder()
                                     .add_certificate(cert, self.issuer, hashes.SHA1()).build()
                                     .public_bytes(serialization.Encoding.DER))
            return status == 201, status

        while not self.stop.is_set():
            key[0] = "load-" + uuid.uuid4().hex
            with self.lock:
                ASKED[tenant] += 1
            self.attempt("issue " + tenant, once)

    def ocsp_loop(self):
        def once():
            status, out = self.c.call("POST", self.c.public + "/ocsp/default/issuing",
                                      self.ocsp_req, ctype="application/ocsp-request")
            if status != 200:
                return False, status
            r = ocsp.load_der_ocsp_response(out)
            return r.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL, r.response_status

        while not self.stop.is_set():
            if self.ocsp_req is None:  # until the first certificate is issued
                time.sleep(0.05)
                continue
            self.attempt("ocsp", once)

    def crl_loop(self):
        def once():
            status, out = self.c.call("POST", self.c.api + "/api/v1/t/default/cas/issuing/crl",
                                      {}, self.c.tokens["default"])
            if status == 201:
                with self.lock:
                    self.crl_numbers.append(int(json.loads(out)["number"]))
            return status == 201, status

        while not self.stop.is_set():
            self.attempt("crl", once)
            time.sleep(0.2)


def test_allowlists_see_the_client_behind_haproxy(cluster):
    """HAProxy connects to the nodes from 127.0.0.2 and names the client (127.0.0.1 here) in
    X-Forwarded-For; the nodes believe that header from HAProxy's address only. An application
    allowed from 127.0.0.1 alone passes; one allowed from elsewhere is refused, whatever the
    client writes into the header itself."""
    api = cluster.api + "/api/v1/t/default"
    admin = cluster.tokens["default"]
    tokens = {}
    for name, allow in (("lb-near", ["127.0.0.1/32"]), ("lb-far", ["198.51.100.0/24"])):
        status, body = cluster.call("POST", api + "/principals",
                                    {"name": name, "kind": "application", "allow": allow}, admin)
        assert status == 201, body
        pid = json.loads(body)["id"]
        status, body = cluster.call("POST", api + "/roles/bind",
                                    {"principal": pid, "role": "auditor"}, admin)
        assert status == 201, body
        status, body = cluster.call("POST", api + "/tokens",
                                    {"name": name, "principal": pid, "expires_days": 0}, admin)
        assert status == 201, body
        tokens[name] = json.loads(body)["token"]
    for _ in range(4):  # leastconn spreads these over the nodes
        status, body = cluster.call("GET", api + "/audit?limit=1", token=tokens["lb-near"])
        assert status == 200, body
        status, body = cluster.call("GET", api + "/audit?limit=1", token=tokens["lb-far"],
                                    headers={"X-Forwarded-For": "198.51.100.7"})
        assert status == 403 and b"127.0.0.1" in body, body


def issued_once(cluster):
    """No retry made a second certificate: the load's certificates are at most the issuances
    its clients asked for (a retry after a lost answer gets the first one, by its key)."""
    for tenant in TENANTS:
        (n,) = cluster.sql(f"SELECT count(*) FROM certs WHERE tenant = '{tenant}' AND "
                           f"subject LIKE '%load.{tenant}.example%'")[0]
        assert 0 < int(n) <= ASKED[tenant], (tenant, n, ASKED[tenant])


def stored_once(cluster, load):
    """Every serial the load's clients were given is stored, once, in its tenant."""
    for tenant in TENANTS:
        got = load.issued[tenant]
        assert len(got) == len(set(got)), "a serial was returned twice"
        stored = {r[0] for r in cluster.sql(
            f"SELECT serial FROM certs WHERE tenant = '{tenant}'")}
        missing = set(got) - stored
        assert not missing, f"{len(missing)} certificates returned to clients are not stored"
    assert cluster.sql("SELECT tenant, serial FROM certs GROUP BY tenant, serial "
                       "HAVING count(*) > 1") == []


def test_killing_a_vouchd_node_fails_no_request_after_one_retry(cluster):
    try:
        with Load(cluster) as load:
            load.wait_issued(5, what="issuances before the kill")
            os.kill(cluster.pid("vouchd1"), signal.SIGKILL)
            killed = time.time()
            # The other nodes carry on (HAProxy's checks take the dead one out).
            load.wait_issued(6, after=killed + 1, what="issuances after the kill")
            load.wait_issued(4, after=time.time(), what="more issuances")
    finally:
        cluster.script("node-start", "1")
    assert load.failed == [], load.failed
    # OCSP goes through the public frontend, which sends a request again to another node
    # when its node dies before answering: no OCSP client saw the kill, not even once.
    assert [f for f in load.first_failed if f[1] == "ocsp"] == [], load.first_failed
    # What the killed node answered before it died is stored, like everything else.
    stored_once(cluster, load)
    issued_once(cluster)


def outage(cluster, kill):
    """Runs the load, calls kill() after 3 s; checks that service resumed within 30 s and that
    nothing a client was given is lost or doubled."""
    before = cluster.sql("SELECT count(*) FROM certs")[0][0]
    with Load(cluster) as load:
        load.wait_issued(5, what="issuances before the kill")
        kill()
        killed = time.time()
        try:
            resumed = load.wait_issued(1, after=killed + 0.5, timeout=30,
                                       what="an issuance within 30 s of the kill")
        except AssertionError as e:
            raise AssertionError(f"{e}\n{cluster.logs()}") from None
        print(f"service resumed {resumed[0] - killed:.1f} s after the kill")
        load.wait_issued(10, after=resumed[0], what="issuances after service resumed")
        # CRLs published across the outage, enough to see their numbers' order
        count = len(load.crl_numbers)
        wait_for(lambda: len(load.crl_numbers) >= max(3, count + 1), 60,
                 "a CRL published after service resumed")
    # Everything a client was given is in the (new) primary's database, once.
    stored_once(cluster, load)
    assert int(cluster.sql("SELECT count(*) FROM certs")[0][0]) > int(before)
    # CRL numbers: strictly increasing as the client got them, and as stored.
    nums = load.crl_numbers
    assert len(nums) > 2 and all(a < b for a, b in zip(nums, nums[1:])), nums
    stored = [int(r[0]) for r in cluster.sql(
        "SELECT number FROM crls WHERE tenant = 'default' AND ca = 'issuing' ORDER BY number")]
    # (older CRLs are pruned as new ones are stored: the latest is there, and no number twice)
    assert stored and stored[-1] >= nums[-1] and len(stored) == len(set(stored)), stored
    # Every tenant's audit chain verifies end to end.
    for tenant in TENANTS:
        status, out = cluster.call("GET", f"{cluster.api}/api/v1/t/{tenant}/audit/verify",
                                   token=cluster.tokens[tenant])
        assert status == 200 and json.loads(out)["ok"] is True, out
    # Requests that failed did so only while there was no primary (or were under way then).
    assert all(t < resumed[0] + 5 for t, _, _ in load.failed), load.failed
    issued_once(cluster)


def test_killing_the_database_primary_resumes_within_30_seconds_and_loses_nothing(cluster):
    primary = cluster.script("pg-primary")
    try:
        # Its keeper and its PostgreSQL: pg_auto_failover promotes the standby.
        outage(cluster, lambda: os.killpg(cluster.pid(primary), signal.SIGKILL))
        assert cluster.script("pg-primary") != primary
    finally:
        cluster.script("pg-start", primary)  # it comes back as the standby
    # The next test starts from a primary with a caught-up standby again.
    wait_replicated(cluster)


def test_killing_the_primary_postmaster_resumes_within_30_seconds_and_loses_nothing(cluster):
    primary = cluster.script("pg-primary")
    data = os.path.join(cluster.dir, "pg", primary)
    with open(os.path.join(data, "postmaster.pid")) as f:
        postmaster = int(f.readline())
    # Its keeper restarts it, or the monitor promotes the standby: either way service resumes.
    outage(cluster, lambda: os.kill(postmaster, signal.SIGKILL))
