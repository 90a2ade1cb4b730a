"""Fixtures for the integration suite: a real vouchd on ephemeral loopback ports.

Each test module gets its own instance (`vouchd init` in a temporary directory,
then `vouchd -c`), stopped by PID at the end.  Checks use tools no one here
wrote: openssl, GnuTLS certtool, curl and python3-cryptography.

Rules this file gives the suite (tracker issue 25):
- no fixed sleep as synchronisation: wait_for() waits on a condition, with a deadline;
- no guessed port: an instance's ports are picked by the kernel and held by the test
  (port_hold) for the instance's life; vouchd binds them itself beside the holder
  (listen_reuse_port) and reports them on its start line, which is checked.  They are known
  before `vouchd init`, which writes the public one into the certificates it makes (CDP,
  AIA), and stay the same across restarts, so the node keeps its name (and its leases).
  (vouchd with port 0 takes an ephemeral port and reports it: test_setup.py.)
- every read from a child process has a timeout (read_line, subprocess timeouts);
- under make (VOUCH_TEST_TARGET set) a skipped test is an error unless it is marked
  runs_in(targets..., why=...): it names where it runs and why it cannot run here.
"""
import json
import os
import select
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import weakref

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("VOUCH_BUILD", os.path.join(ROOT, "build"))
VOUCHD = os.path.join(BUILD, "vouchd")
VOUCH = os.path.join(BUILD, "vouch")
# make integration-pg: a PostgreSQL server of the test run (tests/pg/pg.sh); every instance
# gets a database of its own there, owned by the application role.
PG_ADMIN = os.environ.get("VOUCH_TEST_PG_ADMIN")
PG_URL = os.environ.get("VOUCH_TEST_PG")


def pg_admin(sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", PG_ADMIN, "-c", sql],
                   check=True, capture_output=True, timeout=60)


def pg_database_new():
    """A new empty database owned by the role vouch; its URL for vouchd."""
    name = "vouch_" + os.urandom(6).hex()
    pg_admin(f"CREATE DATABASE {name} OWNER vouch")
    return name, f"{PG_URL}/{name}"


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port():
    """A loopback port free now, for a server not of ours that the test starts next (a DNS or
    SMTP server, HAProxy, PostgreSQL); vouchd's own ports are held with port_hold instead.  It is
    picked below the kernel's ephemeral range: a port from that range (what binding port 0
    gives) can be taken as the local end of any outgoing connection before the server binds it."""
    import random
    high = _ephemeral_low() - 1
    for _ in range(200):
        port = random.randint(max(1024, high - 12000), high)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free loopback port below the ephemeral range")


# The make target running the suite (integration, integration-hsm, integration-pg, ...): the
# CI path.  Unset when pytest is run by hand.
TARGET = os.environ.get("VOUCH_TEST_TARGET")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "runs_in(*targets, why): runs only under these make targets; elsewhere it is "
        "skipped, naming them and why it cannot run there")


def _runs_elsewhere(item):
    """The runs_in mark of item when the make target running it is not one it names; else None."""
    mark = item.get_closest_marker("runs_in")
    if mark is None:
        return None
    assert mark.kwargs.get("why"), f"{item.nodeid}: runs_in needs why= (why it cannot run here)"
    return mark if TARGET and TARGET not in mark.args else None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    mark = _runs_elsewhere(item)
    if mark is not None:
        pytest.skip(f"runs under make {' / '.join(mark.args)}, not {TARGET}: {mark.kwargs['why']}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under make, a skip fails the test unless the test is marked runs_in and the target
    running it is not one it names (whichever skip came first: the mark's or a skipif's)."""
    outcome = yield
    report = outcome.get_result()
    if TARGET and report.skipped and _runs_elsewhere(item) is None:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = (f"skipped under make {TARGET}, which is on the CI path: {reason} "
                           "(mark it runs_in(..., why=...) if it cannot run there)")


def wait_for(condition, timeout=30, what=None, interval=0.05):
    """Calls condition() until it returns something true, which is returned; fails the test
    (naming what, and the last value) if timeout seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what or condition.__name__}: "
                                 f"last {value!r}")
        time.sleep(interval)


def holds_for(condition, seconds, what=None, interval=0.1):
    """Asserts that condition() stays true for the whole window: the check of something that
    must not happen (a second run, an event sent twice), watched for as long as the jobs that
    could do it need to run several times.  Not a wait: it fails as soon as the condition does."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        assert value, f"{what or condition.__name__} stopped holding: {value!r}"
        if time.monotonic() > deadline:
            return value
        time.sleep(interval)


def read_line(proc, timeout, what="child", stream=None):
    """One line (bytes decoded) from proc's stdout pipe (or stream, another of its pipes),
    waiting at most timeout seconds; "" at end of file.  Reads byte by byte from the file
    descriptor: nothing after the line is taken from the pipe."""
    fd = (stream or proc.stdout).fileno()
    line = b""
    deadline = time.monotonic() + timeout
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError(f"{what}: no line within {timeout} s (so far {line!r})")
        byte = os.read(fd, 1)
        if not byte:
            break
        line += byte
    return line.decode()


def port_hold():
    """A loopback port picked by the kernel, held until the returned socket is closed: bound
    with SO_REUSEPORT and not listening, so connections to it are refused until a server of
    ours binds it too (vouchd with listen_reuse_port = yes), and no one else can take it."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", 0))
    return s


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


START_SECONDS = 120  # a start under ASan with keys in SoftHSM2 on a busy machine


def vouchd_start(conf, env, log, what="vouchd"):
    """Starts vouchd -c conf; (process, its start line as a dict).  The start line is read with
    a deadline; a vouchd that exits or hangs before it is stopped and the error names its log."""
    proc = subprocess.Popen([VOUCHD, "-c", conf], stdout=subprocess.PIPE, stderr=log, env=env)
    try:
        line = read_line(proc, START_SECONDS, what)
    except TimeoutError:
        line = ""
    if not line:
        proc.kill()
        proc.wait(30)
        proc.stdout.close()
        raise RuntimeError(f"{what} did not start (log: {log.name})")
    return proc, json.loads(line)


class Server:
    """One vouch instance: `vouchd init` then `vouchd -c`, on loopback."""

    def __init__(self, base, tls=False, conf=None, env=None, init_args=()):
        self.dir = os.path.join(base, "inst")
        self.tls = tls
        holds = self.port_holds = [port_hold(), port_hold()]
        for h in holds:
            weakref.finalize(self, h.close)
        self.api_port, self.public_port = (h.getsockname()[1] for h in holds)
        cmd = [VOUCHD, "init", self.dir, "--api-port", str(self.api_port),
               "--public-port", str(self.public_port), "--json"]
        if not tls:
            cmd.append("--no-tls")
        cmd += list(init_args)
        self.pg_database = None
        if PG_URL and "--database" not in cmd:
            self.pg_database, url = pg_database_new()
            cmd += ["--database", url]
        self.env = dict(os.environ, **(env or {}))
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=self.env)
        assert out.returncode == 0, f"vouchd init: {out.stderr}"
        info = json.loads(out.stdout)
        self.system_token = info["system_token"]
        self.token = info["admin_token"]
        self.cacert = info["cacert"] if tls else None
        # The CRL scheduler looks every second, so tests can watch it work.
        with open(os.path.join(self.dir, "vouchd.conf"), "a") as f:
            f.write("crl_check_seconds = 1\nocsp_check_seconds = 1\naudit_checkpoint_seconds = 1\n"
                    "listen_reuse_port = yes\n" + (conf or ""))
        self.log_path = os.path.join(base, "vouchd.log")
        self.start()

    def start(self):
        """Starts vouchd on the instance (again, after stop(): same config, database, keys,
        ports)."""
        self.log = open(self.log_path, "a")
        try:
            self.proc, ports = vouchd_start(os.path.join(self.dir, "vouchd.conf"), self.env,
                                            self.log)
        except RuntimeError:
            self.log.close()
            raise RuntimeError("vouchd did not start: " + open(self.log_path).read()[-3000:])
        assert (ports["api_port"], ports["public_port"]) == (self.api_port, self.public_port), ports
        scheme = "https" if self.tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.api_port}"
        self.public_url = f"http://127.0.0.1:{self.public_port}"
        self.ctx = ssl.create_default_context(cafile=self.cacert) if self.tls else None

    def release_ports(self):
        """Closes the test's holds on the ports: for a vouchd run as another user, whose
        SO_REUSEPORT socket cannot share a port with root's."""
        for h in self.port_holds:
            h.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        self.proc.stdout.close()
        self.log.close()
        # A PostgreSQL database stays (tests read it after a stop); the server goes at the end.

    def sql(self, query, params=()):
        """Runs one SQL statement on the instance's database, behind vouchd's back (tests that
        tamper or backdate): SQLite file or PostgreSQL database (as the superuser, which row-level
        security does not bind).  `?` placeholders (int, str or bytes); returns the rows as
        tuples of text."""
        if self.pg_database is None:
            import sqlite3
            db = sqlite3.connect(os.path.join(self.dir, "vouch.db"), timeout=30)
            with db:
                rows = db.execute(query, params).fetchall()
            db.close()
            return [tuple(str(v) for v in r) for r in rows]
        parts = query.split("?")
        assert len(parts) == len(params) + 1, query
        text = parts[0]
        for v, rest in zip(params, parts[1:]):
            if isinstance(v, bytes):
                text += "'\\x" + v.hex() + "'::bytea"
            elif isinstance(v, int):
                text += str(int(v))
            else:
                text += "'" + str(v).replace("'", "''") + "'"
            text += rest
        url = PG_ADMIN.rsplit("/", 1)[0] + "/" + self.pg_database
        out = subprocess.run(["psql", "-q", "-X", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                              "-d", url, "-c", text], check=True, capture_output=True, text=True,
                             timeout=60)
        return [tuple(line.split("\t")) for line in out.stdout.splitlines() if line]

    def request(self, method, path, body=None, token="admin", content_type="application/json",
                base=None, headers=None):
        url = (base or self.url) + path
        data = None
        hdrs = dict(headers or {})
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            if content_type:
                hdrs["Content-Type"] = content_type
        if token == "admin":
            token = self.token
        elif token == "system":
            token = self.system_token
        if token:
            hdrs["Authorization"] = "Bearer " + token
        req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
        ctx = self.ctx if url.startswith("https") else None
        try:
            with urllib.request.urlopen(req, timeout=60, context=ctx) as r:
                return Response(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            return Response(e.code, e.headers, e.read())

    def api(self, method, path, body=None, expect=200, tenant="default", **kw):
        """Calls /api/v1/t/<tenant><path> and checks the status; returns the JSON."""
        r = self.request(method, f"/api/v1/t/{tenant}{path}", body, **kw)
        assert r.status == expect, f"{method} {path}: {r.status} {r.body[:500]!r}"
        return r.json() if r.body else None

    def cli(self, *args, check=True, token=None, input=None):
        env = dict(os.environ, VOUCH_URL=self.url, VOUCH_TOKEN=token or self.token,
                   VOUCH_TENANT="default")
        if self.cacert:
            env["VOUCH_CACERT"] = self.cacert
        p = subprocess.run([VOUCH, *args], capture_output=True, text=True, env=env, timeout=60,
                           input=input)
        if check:
            assert p.returncode == 0, f"vouch {' '.join(args)}: {p.returncode} {p.stderr}"
        return p

    def audit(self, tenant="default", token="admin"):
        r = self.request("GET", f"/api/v1/t/{tenant}/audit?limit=10000", token=token)
        assert r.status == 200, r.body
        return [json.loads(l) for l in r.body.decode().splitlines() if l]


SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
SOFTHSM_PIN = "2468-pin"


class SoftHSM:
    """A SoftHSM2 configuration in a temporary directory with tokens vouch-a and vouch-b."""

    def __init__(self, base):
        self.base = str(base)
        self.tokens = os.path.join(self.base, "tokens")
        os.makedirs(self.tokens)
        self.conf = write(os.path.join(self.base, "softhsm2.conf"),
                          f"directories.tokendir = {self.tokens}\n"
                          "objectstore.backend = file\nlog.level = ERROR\n")
        self.env = {"SOFTHSM2_CONF": self.conf}
        self.pin_file = write(os.path.join(self.base, "pin"), SOFTHSM_PIN + "\n")
        self.dirs = {}
        self.away = set()
        for label in ("vouch-a", "vouch-b"):
            before = set(os.listdir(self.tokens))
            subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label,
                            "--pin", SOFTHSM_PIN, "--so-pin", "87654321"], check=True,
                           capture_output=True, env=dict(os.environ, **self.env))
            (new,) = set(os.listdir(self.tokens)) - before
            self.dirs[label] = os.path.join(self.tokens, new)

    def init_args(self, backup=True):
        args = ["--pkcs11-module", SOFTHSM_MODULE, "--pkcs11-token", "vouch-a",
                "--pkcs11-pin-file", self.pin_file]
        return args + (["--pkcs11-backup-token", "vouch-b"] if backup else [])

    def fail(self, label):
        """The token's files leave the token directory: the token is gone."""
        os.rename(self.dirs[label], os.path.join(self.base, "away-" + label))
        self.away.add(label)

    def heal(self, label):
        """The token's files come back (nothing to do if they are there)."""
        if label in self.away:
            os.rename(os.path.join(self.base, "away-" + label), self.dirs[label])
            self.away.discard(label)

    def heal_all(self):
        """Every failed token back: what a test that failed half-way leaves is undone."""
        for label in list(self.away):
            self.heal(label)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # VOUCH_TEST_KEYSTORE=pkcs11 (make integration-hsm): every module's instance keeps its
    # keys in two SoftHSM2 tokens made for it.
    if os.environ.get("VOUCH_TEST_KEYSTORE") == "pkcs11":
        hsm = SoftHSM(tmp_path_factory.mktemp("softhsm"))
        s = Server(str(tmp_path_factory.mktemp("vouch")), env=hsm.env,
                   init_args=hsm.init_args())
    else:
        s = Server(str(tmp_path_factory.mktemp("vouch")))
    yield s
    s.stop()


def own_token(server, principal, name, tenant="default"):
    """A token of principal that no one else holds: the tenant administrator makes one (which
    counts for the administrator too) and the principal rotates it at once (POST
    /tokens/rotate), as a person handed a token does on first use."""
    made = server.api("POST", "/tokens", {"name": name, "principal": principal}, expect=201,
                      tenant=tenant)
    assert made["creators"], made  # the administrator stands behind it until it is rotated
    own = server.api("POST", "/tokens/rotate", {"name": name}, expect=201, tenant=tenant,
                     token=made["token"])
    assert own["principal"] == principal and own["creators"] == [], own
    return own["token"]


def other_tenant(server, name):
    """Creates tenant `name` (if new) and returns an admin token of it: the system route makes
    a tenant's first token only, so later calls get a new token from that first one."""
    tokens = server.__dict__.setdefault("tenant_tokens", {})
    if name in tokens:
        r = server.request("POST", f"/api/v1/t/{name}/tokens", {"name": "t"}, token=tokens[name])
        assert r.status == 201, r.body
        return r.json()["token"]
    r = server.request("POST", "/api/v1/tenants", {"name": name}, token="system")
    assert r.status in (201, 409), r.body
    r = server.request("POST", f"/api/v1/tenants/{name}/tokens", {"name": "t"}, token="system")
    assert r.status == 201, r.body
    # the tenant's administrator takes the token over: the system administrator made it
    r = server.request("POST", f"/api/v1/t/{name}/tokens/rotate", {"name": "t"},
                       token=r.json()["token"])
    assert r.status == 201 and r.json()["creators"] == [], r.body
    tokens[name] = r.json()["token"]
    return tokens[name]


def new_key(kind="ec-p256"):
    if kind == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ec-p384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind.startswith("rsa-"):
        return rsa.generate_private_key(65537, int(kind[4:]))
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(kind)


def make_csr(cn=None, dns=(), ips=(), emails=(), key=None, org=None, extra_ext=None, ou=None,
             country=None):
    """A PEM CSR (str) and its key."""
    import ipaddress
    key = key or new_key()
    attrs = []
    if country:
        attrs.append(x509.NameAttribute(NameOID.COUNTRY_NAME, country))
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    if ou:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    if cn:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    b = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs))
    sans = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    sans += [x509.RFC822Name(e) for e in emails]
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if extra_ext is not None:
        b = b.add_extension(extra_ext, critical=True)
    algo = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    csr = b.sign(key, algo)
    return csr.public_bytes(serialization.Encoding.PEM).decode(), key


def ber_indefinite(der):
    """The same DER value with its outer length made indefinite ("30 80 ... 00 00"): BER that
    OpenSSL's decoders take; the contents (and a signature over them) do not change."""
    length = der[1]
    if length < 0x80:
        head, n = 2, length
    else:
        k = length & 0x7F
        head, n = 2 + k, int.from_bytes(der[2:2 + k], "big")
    assert head + n == len(der), "not one DER value"
    return bytes([der[0], 0x80]) + der[head:] + b"\x00\x00"


def run(*cmd, check=True, input=None):
    p = subprocess.run(list(cmd), capture_output=True, text=True, timeout=120, input=input)
    if check:
        assert p.returncode == 0, f"{' '.join(cmd)}: {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p


def write(path, text):
    """Writes text to path, a new file made mode 0600 (PIN files among them: vouchd refuses
    secrets that others can read)."""
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(text)
    return str(path)


def refused_total(events):
    """How many refusals audit events record: a refusal of a request that proved no identity
    (401, a forged ACME request) is audited at a bounded rate, several of one second summed up
    in one event whose detail says how many ("refused": N)."""
    return sum(e["detail"].get("refused", 1) if isinstance(e.get("detail"), dict) else 1
               for e in events)


def refusals_audited(server, tenant, token, expected=None, action="auth.refused", timeout=5):
    """The tenant's audit events of action once they record `expected` refusals (the summary of
    a second is written after that second, within about two), or after timeout seconds.
    expected None: once the summaries of earlier refusals are surely written (a baseline)."""
    if expected is None:
        time.sleep(2.2)
        expected = 0
    deadline = time.time() + timeout
    while True:
        events = [e for e in server.audit(tenant, token=token) if e["action"] == action]
        if refused_total(events) >= expected or time.time() > deadline:
            return events
        time.sleep(0.2)
