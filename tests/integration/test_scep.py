"""SCEP (RFC 8894): enrollment endpoints of protocol scep, their RA key (in the tenant's key
store, purpose ra) and certificate (from the endpoint's CA), GetCACaps and GetCACert served to
strongSwan's pki (--scepca) and to urllib; enrollment (PKIOperation) with strongSwan's pki
--scep (POST) and certmonger (GET, under a D-Bus session bus of its own): enroll, renew, a
wrong challenge refused, an enrollment held for approval completed once approved; and bad
input refused with nothing changed."""
import base64
import datetime
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse

import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from conftest import Server, SoftHSM, own_token, wait_for


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One instance for the module: a SCEP endpoint `dev` of the default tenant issuing
    tls-client certificates from `issuing`."""
    base = tmp_path_factory.mktemp("vouch-scep")
    if os.environ.get("VOUCH_TEST_KEYSTORE") == "pkcs11":
        hsm = SoftHSM(tmp_path_factory.mktemp("softhsm"))
        s = Server(str(base), env=hsm.env, init_args=hsm.init_args())
    else:
        s = Server(str(base))
    s.dev = s.api("POST", "/enroll/endpoints", {"name": "dev", "protocol": "scep",
                                                "ca": "issuing", "profile": "tls-client"},
                  expect=201)
    s.dir_tmp = str(base)
    yield s
    s.stop()


def scep(server, endpoint="dev", base=None, method="GET", data=None, **query):
    url = f"/scep/default/{endpoint}?" + urllib.parse.urlencode(query)
    return server.request(method, url, data, token=None, base=base or server.public_url,
                          content_type="application/x-pki-message")


def ca_ra(server, endpoint="dev"):
    r = scep(server, endpoint, operation="GetCACert")
    assert r.status == 200, r.body
    assert r.headers["Content-Type"] == "application/x-x509-ca-ra-cert"
    certs = pkcs7.load_der_pkcs7_certificates(r.body)
    ra = [c for c in certs if c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
          == f"{endpoint} SCEP RA"]
    assert len(ra) == 1, [c.subject for c in certs]
    return ra[0], [c for c in certs if c is not ra[0]]


def test_an_endpoint_of_protocol_scep_has_an_ra_key_and_certificate_from_its_ca(server):
    ep = server.dev
    assert ep["protocol"] == "scep" and ep["urls"] == {"scep": "/scep/default/dev"}
    ra = ep["settings"]["ra"]
    cert = server.api("GET", f"/certificates/{ra['cert_serial']}")
    assert cert["ca"] == "issuing" and cert["status"] == "good"
    keys = {k["key_id"]: k for k in server.api("GET", "/keys")["keys"]}
    assert keys[ra["key_id"]]["users"] == ["scep-ra:dev"]
    assert keys[ra["key_id"]]["purpose"] == "ra" and keys[ra["key_id"]]["key_type"] == "rsa-2048"
    events = [e for e in server.audit() if e["action"] == "scep.ra" and e["object"] == "dev"]
    assert len(events) == 1 and events[0]["detail"]["key_id"] == ra["key_id"]
    # The RA key and certificate are the server's: no one sets them.
    r = server.request("PUT", "/api/v1/t/default/enroll/endpoints/dev",
                       {"ra": {"key_id": "k", "cert_serial": "1"}})
    assert r.status == 400 and b"ra:" in r.body


def test_getcacaps_lists_what_the_endpoint_accepts(server):
    for base in (server.public_url, server.url):
        r = scep(server, base=base, operation="GetCACaps")
        assert r.status == 200 and r.headers["Content-Type"] == "text/plain"
        caps = r.body.decode().split()
        assert {"AES", "SHA-256", "SHA-512", "POSTPKIOperation", "Renewal"} <= set(caps)
        assert "DES3" not in caps and "SHA-1" not in caps
    server.api("POST", "/enroll/endpoints", {"name": "old", "protocol": "scep", "ca": "issuing",
                                             "profile": "tls-client", "legacy_algorithms": True},
               expect=201)
    caps = scep(server, "old", operation="GetCACaps").body.decode().split()
    assert "DES3" in caps and "SHA-1" in caps


def test_getcacert_answers_the_ca_and_the_ra_certificate(server):
    ra, cas = ca_ra(server)
    issuing = x509.load_der_x509_certificate(
        server.request("GET", "/ca/default/issuing.crt", token=None, base=server.public_url).body)
    assert issuing in cas
    assert ra.issuer == issuing.subject
    assert isinstance(ra.public_key(), rsa.RSAPublicKey) and ra.public_key().key_size == 2048
    assert format(ra.serial_number, "x") == server.dev["settings"]["ra"]["cert_serial"]
    files = []
    for name, c in (("issuing.pem", issuing), ("ra.pem", ra)):
        files.append(os.path.join(server.dir_tmp, name))
        with open(files[-1], "wb") as f:
            f.write(c.public_bytes(serialization.Encoding.PEM))
    p = subprocess.run(["openssl", "verify", "-partial_chain", "-CAfile", *files],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr


def test_pki_scepca_fetches_the_ca_and_ra_certificates(server):
    out = os.path.join(server.dir_tmp, "pki")
    os.makedirs(out, exist_ok=True)
    p = subprocess.run(["pki", "--scepca", "--url", f"{server.public_url}/scep/default/dev",
                        "--caout", os.path.join(out, "ca.pem"),
                        "--raout", os.path.join(out, "ra.pem"), "--outform", "pem", "--force"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    ra, _ = ca_ra(server)
    files = sorted(os.listdir(out))
    got = [x509.load_pem_x509_certificate(open(os.path.join(out, f), "rb").read()) for f in files]
    assert ra in got, files
    assert any(c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value != "dev SCEP RA"
               for c in got), files


def test_a_ra_certificate_revoked_is_replaced_at_the_next_getcacert(server):
    old = server.api("GET", "/enroll/endpoints/dev")["settings"]["ra"]
    server.api("POST", f"/certificates/{old['cert_serial']}/revoke", {"reason": "superseded"})
    ra, _ = ca_ra(server)
    new = server.api("GET", "/enroll/endpoints/dev")["settings"]["ra"]
    assert new["cert_serial"] != old["cert_serial"] and new["key_id"] != old["key_id"]
    assert format(ra.serial_number, "x") == new["cert_serial"]
    keys = {k["key_id"] for k in server.api("GET", "/keys")["keys"]}
    assert new["key_id"] in keys and old["key_id"] not in keys
    server.dev["settings"]["ra"] = new


def test_a_new_ca_gives_the_endpoint_a_new_ra_certificate(server):
    server.api("POST", "/enroll/endpoints", {"name": "moving", "protocol": "scep",
                                             "ca": "issuing", "profile": "tls-client"},
               expect=201)
    old = server.api("GET", "/enroll/endpoints/moving")["settings"]["ra"]
    ep = server.api("PUT", "/enroll/endpoints/moving", {"ca": "root"})
    new = ep["settings"]["ra"]
    assert new["cert_serial"] != old["cert_serial"]
    assert server.api("GET", f"/certificates/{new['cert_serial']}")["ca"] == "root"
    ra, cas = ca_ra(server, "moving")
    assert format(ra.serial_number, "x") == new["cert_serial"]
    assert [c.subject.rfc4514_string() for c in cas] == [ra.issuer.rfc4514_string()]


def pki_message(ra_cert, digest=hashes.SHA256()):
    """Nearly a pkiMessage: a self-signed certificate's SignedData over an EnvelopedData for the
    RA (the CSR inside), but without the SCEP attributes (openssl cms cannot add them)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "device-1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    envelope = openssl_envelope(csr.public_bytes(serialization.Encoding.DER), ra_cert)
    return openssl_signed(envelope, cert, key, digest)


def openssl_envelope(data, ra_cert):
    """EnvelopedData (AES-256-CBC) of data for ra_cert, by openssl cms."""
    pem = ra_cert.public_bytes(serialization.Encoding.PEM)
    with tempfile.TemporaryDirectory() as d:
        open(os.path.join(d, "ra.pem"), "wb").write(pem)
        open(os.path.join(d, "in"), "wb").write(data)
        subprocess.run(["openssl", "cms", "-encrypt", "-binary", "-aes256", "-in",
                        os.path.join(d, "in"), "-outform", "DER", "-out", os.path.join(d, "out"),
                        os.path.join(d, "ra.pem")], check=True, capture_output=True, timeout=60)
        return open(os.path.join(d, "out"), "rb").read()


def openssl_signed(content, cert, key, digest):
    """SignedData of content by cert/key, by openssl cms -sign."""
    with tempfile.TemporaryDirectory() as d:
        open(os.path.join(d, "c.pem"), "wb").write(cert.public_bytes(serialization.Encoding.PEM))
        open(os.path.join(d, "k.pem"), "wb").write(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        open(os.path.join(d, "in"), "wb").write(content)
        cmd = ["openssl", "cms", "-sign", "-binary", "-nodetach", "-md", digest.name,
               "-in", os.path.join(d, "in"), "-signer", os.path.join(d, "c.pem"),
               "-inkey", os.path.join(d, "k.pem"), "-outform", "DER",
               "-out", os.path.join(d, "out")]
        p = subprocess.run(cmd, capture_output=True, timeout=60)
        assert p.returncode == 0, p.stderr
        return open(os.path.join(d, "out"), "rb").read()


def test_bad_input_is_refused_with_a_reason_and_nothing_changes(server):
    before = server.api("GET", "/enroll/endpoints/dev")
    assert scep(server, operation="Nonsense").status == 400
    assert scep(server).status == 400  # no operation
    assert scep(server, "nothere", operation="GetCACaps").status == 404
    assert scep(server, method="POST", data=b"x", operation="GetCACaps").status == 405
    server.api("POST", "/enroll/endpoints", {"name": "esty", "ca": "issuing",
                                             "profile": "tls-client"}, expect=201)
    assert scep(server, "esty", operation="GetCACert").status == 404  # an EST endpoint
    for data in (b"", b"\x30\x03\x02\x01\x01", os.urandom(300)):
        r = scep(server, method="POST", data=data, operation="PKIOperation")
        assert r.status == 400, (data, r.status, r.body)
    r = scep(server, operation="PKIOperation", message="not base64!")
    assert r.status == 400
    # a SignedData over an envelope for the RA, without the SCEP attributes: refused
    ra, _ = ca_ra(server)
    msg = pki_message(ra)
    r = scep(server, method="POST", data=msg, operation="PKIOperation")
    assert r.status == 400 and b"messageType" in r.body, r.body
    # the same by GET, base64 in a URL of several KB (as certmonger sends it)
    r = scep(server, operation="PKIOperation", message=base64.b64encode(msg).decode())
    assert r.status == 400 and b"messageType" in r.body, r.body
    # a SHA-1 signature is refused where legacy algorithms are off
    r = scep(server, method="POST", data=pki_message(ra, digest=hashes.SHA1()),
             operation="PKIOperation")
    assert r.status == 400 and b"digest" in r.body, r.body
    server.api("PUT", "/enroll/endpoints/dev", {"status": "disabled"})
    assert scep(server, operation="GetCACaps").status == 403
    server.api("PUT", "/enroll/endpoints/dev", {"status": "active"})
    after = server.api("GET", "/enroll/endpoints/dev")
    assert after["settings"] == before["settings"]


def test_the_cli_makes_a_scep_endpoint(server):
    p = server.cli("est", "endpoint", "create", "phones", "--protocol", "scep", "--ca", "issuing",
                   "--profile", "tls-client", "--legacy-algorithms", "no")
    ep = server.api("GET", "/enroll/endpoints/phones")
    assert ep["protocol"] == "scep" and "ra" in ep["settings"], p.stdout
    assert "legacy_algorithms" not in ep["settings"]


# ---- enrollment with strongSwan's pki (--scep) ----------------------------------------------

PKI_NOISE = ("TPM 2.0", "plugin 'tpm'")


def pki(*args, check=True, timeout=120):
    p = subprocess.run(["pki", *args], capture_output=True, text=True, timeout=timeout)
    err = "\n".join(l for l in p.stderr.splitlines() if not l.startswith(PKI_NOISE))
    if check:
        assert p.returncode == 0, err[-3000:]
    return p.returncode, p.stdout, err


def credential(server, reusable=True, endpoint="dev"):
    c = server.api("POST", f"/enroll/endpoints/{endpoint}/credentials", {"reusable": reusable},
                   expect=201)
    return c["id"], c["secret"]


def pem_file(server, name, cert):
    path = os.path.join(server.dir_tmp, name)
    with open(path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return path


def scep_trust(server, endpoint="dev"):
    """pki's --cacert-enc and --cacert-sig (the RA certificate) and --cacert (the CA)."""
    ra, cas = ca_ra(server, endpoint)
    ra_pem = pem_file(server, f"{endpoint}-ra.pem", ra)
    args = ["--cacert-enc", ra_pem, "--cacert-sig", ra_pem]
    for i, c in enumerate(cas):
        args += ["--cacert", pem_file(server, f"{endpoint}-ca{i}.pem", c)]
    return args


def rsa_key(server, name):
    path = os.path.join(server.dir_tmp, name + ".key")
    with open(path, "w") as f:
        f.write(pki("--gen", "--type", "rsa", "--size", "2048", "--outform", "pem")[1])
    return path


def pki_scep(server, key, cn, *extra, endpoint="dev", check=True):
    return pki("--scep", "--url", f"{server.public_url}/scep/default/{endpoint}", "--in", key,
               "--dn", f"CN={cn}", "--san", cn, *scep_trust(server, endpoint), "--outform", "pem",
               *extra, check=check)


def cert_count(server):
    return int(server.sql("SELECT COUNT(*) FROM certs WHERE tenant = 'default'")[0][0])


def assert_issued_as_rest(server, cert, cn):
    """Chains to the tenant's root through `issuing`, tls-client extensions, in the records;
    returns its serial."""
    root = x509.load_der_x509_certificate(
        server.request("GET", "/ca/default/root.crt", token=None, base=server.public_url).body)
    issuing = x509.load_der_x509_certificate(
        server.request("GET", "/ca/default/issuing.crt", token=None, base=server.public_url).body)
    leaf = pem_file(server, "leaf.pem", cert)
    p = subprocess.run(["openssl", "verify", "-x509_strict", "-purpose", "sslclient", "-CAfile",
                        pem_file(server, "root.pem", root), "-untrusted",
                        pem_file(server, "issuing.pem", issuing), leaf],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == cn
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
    assert cert.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    serial = format(cert.serial_number, "x")
    shown = server.api("GET", f"/certificates/{serial}")
    assert shown["ca"] == "issuing" and shown["status"] == "good"
    return serial


def test_pki_scep_enrolls_with_a_challenge_and_renews_with_the_old_certificate(server):
    cid, secret = credential(server)
    key = rsa_key(server, "pki1")
    _, out, err = pki_scep(server, key, "pki1.example.com", "--password", f"{cid}:{secret}")
    cert = x509.load_pem_x509_certificate(out.encode())
    serial = assert_issued_as_rest(server, cert, "pki1.example.com")
    issued = [e for e in server.audit() if e["action"] == "cert.issue" and
              e["object"] == serial]
    assert len(issued) == 1 and issued[0]["actor"] == f"scep:dev/{cid}", issued
    # Renewal (RenewalReq): signed with the old certificate and key, a new key.
    old = pem_file(server, "pki1.crt", cert)
    key2 = rsa_key(server, "pki1b")
    _, out, err = pki_scep(server, key2, "pki1.example.com", "--cert", old, "--key", key)
    renewed = x509.load_pem_x509_certificate(out.encode())
    serial2 = assert_issued_as_rest(server, renewed, "pki1.example.com")
    assert serial2 != serial
    assert server.api("GET", f"/certificates/{serial2}")["renewed_from"] == serial


def test_pki_scep_with_a_wrong_or_used_challenge_is_refused_and_audited(server):
    before, events = cert_count(server), len(server.audit())
    cid, secret = credential(server, reusable=False)
    key = rsa_key(server, "pkiwrong")
    rc, out, err = pki_scep(server, key, "wrong.example.com", "--password", f"{cid}:nope",
                            check=False)
    assert rc != 0 and "badRequest" in err, err[-800:]
    rc, out, err = pki_scep(server, key, "wrong.example.com", "--password", "no-colon",
                            check=False)
    assert rc != 0 and "badRequest" in err, err[-800:]
    assert cert_count(server) == before
    # The first refusal of a second is audited at once (the others summed up after it).
    wait_for(lambda: [e for e in server.audit()[events:] if e["action"] == "scep.refused" and
                      "challengePassword" in json.dumps(e)], what="the scep.refused event")
    # The one-time credential works once, then is used.
    pki_scep(server, key, "once.example.com", "--password", f"{cid}:{secret}")
    key2 = rsa_key(server, "pkiagain")
    rc, out, err = pki_scep(server, key2, "again.example.com", "--password", f"{cid}:{secret}",
                            check=False)
    assert rc != 0 and "badRequest" in err, err[-800:]
    assert cert_count(server) == before + 1


@pytest.fixture(scope="module")
def officer_token(server):
    """An RA officer who did not make the credentials (their maker may not approve)."""
    p = server.api("POST", "/principals", {"name": "scep-officer", "kind": "user"}, expect=201)
    server.api("POST", "/roles/bind", {"principal": p["id"], "role": "ra-officer"}, expect=201)
    return own_token(server, p["id"], "scep-officer")


@pytest.fixture
def officer(server, officer_token):
    """The officer's token while tls-client issuance needs one approval."""
    server.api("PUT", "/workflows/profile:tls-client", {"required": 1, "expires_hours": 24})
    yield officer_token
    server.api("DELETE", "/workflows/profile:tls-client", expect=204)


def pending_of(server, actor):
    return [r["id"] for r in server.api("GET", "/requests?status=pending")["requests"]
            if r["requester"] == actor]


def test_pki_scep_enrollment_under_approval_completes_after_approval(server, officer):
    cid, secret = credential(server, reusable=False)
    key = rsa_key(server, "pkiheld")
    result = {}

    def enroll():  # PENDING, then CertPoll every second until the certificate comes
        result["out"] = pki_scep(server, key, "held.example.com", "--password",
                                 f"{cid}:{secret}", "--interval", "1", "--maxpolltime", "60",
                                 check=False)
    t = threading.Thread(target=enroll)
    t.start()
    try:
        rid = wait_for(lambda: pending_of(server, f"scep:dev/{cid}"), what="the request")[0]
        # The credential's maker (the admin) may not approve what its credential asked for.
        server.api("POST", f"/requests/{rid}/approve", {}, expect=403)
        server.api("POST", f"/requests/{rid}/approve", {}, token=officer)
    finally:
        t.join(90)
    assert not t.is_alive()
    rc, out, err = result["out"]
    assert rc == 0, err[-2000:]
    cert = x509.load_pem_x509_certificate(out.encode())
    assert_issued_as_rest(server, cert, "held.example.com")
    assert server.api("GET", f"/requests/{rid}")["status"] == "done"


# ---- certmonger, under a D-Bus session bus of its own ---------------------------------------


class Certmonger:
    """dbus-daemon (a session bus of its own, in dir) and certmonger -s on it, its requests,
    CAs and local CA in dir too (CERTMONGER_*_DIR), so nothing of the machine's is used."""

    def __init__(self, d):
        self.dir = d
        conf = os.path.join(d, "bus.conf")
        with open(conf, "w") as f:
            f.write(f"""<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:path={d}/bus</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/>
<allow eavesdrop="true"/><allow own="*"/></policy></busconfig>
""")
        state = {k: os.path.join(d, k) for k in ("requests", "cas", "local", "tmp", "home")}
        for path in state.values():
            os.makedirs(path, exist_ok=True)
        self.env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=f"unix:path={d}/bus",
                        HOME=state["home"], XDG_CONFIG_HOME=state["home"],
                        CERTMONGER_REQUESTS_DIR=state["requests"],
                        CERTMONGER_CAS_DIR=state["cas"], CERTMONGER_LOCAL_CA_DIR=state["local"],
                        CERTMONGER_TMPDIR=state["tmp"], CERTMONGER_CONFIG_DIR=d,
                        CERTMONGER_SYSTEM_LOCK_FILE=os.path.join(d, "lock"))
        # dbus-daemon prints its address once it listens.
        self.bus = subprocess.Popen(["dbus-daemon", "--config-file", conf, "--nofork",
                                     "--print-address"], env=self.env, stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL, text=True)
        assert self.bus.stdout.readline().startswith("unix:path="), "dbus-daemon did not start"
        self.log = open(os.path.join(d, "certmonger.log"), "w")
        self.daemon = subprocess.Popen(["certmonger", "-s", "-n", "-B", "-d", "1"], env=self.env,
                                       stdout=self.log, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: self.daemon.poll() is not None or
                     self.getcert("list-cas", check=False).returncode == 0,
                     what="certmonger on the bus")
            assert self.daemon.poll() is None, open(self.log.name).read()[-2000:]
        except BaseException:
            self.stop()  # nothing left running
            raise

    def getcert(self, *args, check=True, timeout=120):
        p = subprocess.run(["getcert", args[0], "-s", *args[1:]], env=self.env,
                           capture_output=True, text=True, timeout=timeout)
        if check:
            assert p.returncode == 0, p.stdout + p.stderr
        return p

    def status(self, nick):
        out = self.getcert("list", "-i", nick).stdout
        return [l.split(":", 1)[1].strip() for l in out.splitlines()
                if l.strip().startswith("status:")][0]

    def stop(self):
        for p in (self.daemon, self.bus):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.log.close()


@pytest.fixture(scope="module")
def certmonger(server):
    cm = Certmonger(tempfile.mkdtemp(prefix="cm-", dir=server.dir_tmp))
    cm.getcert("add-scep-ca", "-c", "vouch", "-u", f"{server.public_url}/scep/default/dev")
    yield cm
    cm.stop()


def test_certmonger_enrolls_by_get_and_renews(server, certmonger):
    cid, secret = credential(server)
    crt, key = (os.path.join(certmonger.dir, "cm1." + x) for x in ("crt", "key"))
    certmonger.getcert("request", "-c", "vouch", "-I", "cm1", "-f", crt, "-k", key, "-N",
                       "CN=cm1.example.com", "-D", "cm1.example.com", "-L", f"{cid}:{secret}",
                       "-w")
    assert certmonger.status("cm1") == "MONITORING"
    cert = x509.load_pem_x509_certificate(open(crt, "rb").read())
    serial = assert_issued_as_rest(server, cert, "cm1.example.com")
    # certmonger (0.79) sends PKIOperation by GET only: the pkiMessage base64 in the URL (~3 KB).
    issued = [e for e in server.audit() if e["action"] == "cert.issue" and e["object"] == serial]
    assert issued[0]["actor"] == f"scep:dev/{cid}"
    # Renewal: certmonger resubmits (PKCSReq again, its challenge kept) with a new key.
    certmonger.getcert("rekey", "-i", "cm1", "-w")
    assert certmonger.status("cm1") == "MONITORING"
    renewed = x509.load_pem_x509_certificate(open(crt, "rb").read())
    assert renewed.serial_number != cert.serial_number
    assert renewed.public_key() != cert.public_key()
    assert_issued_as_rest(server, renewed, "cm1.example.com")


def test_certmonger_with_a_wrong_challenge_is_refused(server, certmonger):
    cid, _ = credential(server)
    before = cert_count(server)
    crt, key = (os.path.join(certmonger.dir, "cmbad." + x) for x in ("crt", "key"))
    certmonger.getcert("request", "-c", "vouch", "-I", "cmbad", "-f", crt, "-k", key, "-N",
                       "CN=cmbad.example.com", "-L", f"{cid}:wrong", "-w", check=False)
    assert certmonger.status("cmbad") in ("CA_REJECTED", "CA_UNREACHABLE"), \
        certmonger.getcert("list", "-i", "cmbad").stdout
    assert not os.path.exists(crt)
    assert cert_count(server) == before


def test_certmonger_enrollment_under_approval_completes_after_approval(server, certmonger,
                                                                      officer):
    cid, secret = credential(server, reusable=False)
    crt, key = (os.path.join(certmonger.dir, "cmheld." + x) for x in ("crt", "key"))
    certmonger.getcert("request", "-c", "vouch", "-I", "cmheld", "-f", crt, "-k", key, "-N",
                       "CN=cmheld.example.com", "-L", f"{cid}:{secret}")
    rid = wait_for(lambda: pending_of(server, f"scep:dev/{cid}"), what="the request")[0]
    wait_for(lambda: certmonger.status("cmheld") == "CA_WORKING", what="certmonger waiting")
    server.api("POST", f"/requests/{rid}/approve", {}, token=officer)
    # certmonger polls (CertPoll) on its own schedule; resubmitting asks at once (the same
    # transaction: its answer is the approved certificate).
    certmonger.getcert("resubmit", "-i", "cmheld", "-w")
    assert certmonger.status("cmheld") == "MONITORING"
    cert = x509.load_pem_x509_certificate(open(crt, "rb").read())
    assert_issued_as_rest(server, cert, "cmheld.example.com")
    assert server.api("GET", f"/requests/{rid}")["status"] == "done"


# ---- pkiMessages built here (pyasn1): what no client sends ------------------------------------

OID_MESSAGE_TYPE = "2.16.840.1.113733.1.9.2"
OID_PKI_STATUS = "2.16.840.1.113733.1.9.3"
OID_FAIL_INFO = "2.16.840.1.113733.1.9.4"
OID_SENDER_NONCE = "2.16.840.1.113733.1.9.5"
OID_RECIPIENT_NONCE = "2.16.840.1.113733.1.9.6"
OID_TRANSACTION_ID = "2.16.840.1.113733.1.9.7"
DIGEST_OIDS = {"sha256": "2.16.840.1.101.3.4.2.1", "sha1": "1.3.14.3.2.26"}


def self_signed(cn, key=None):
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    return cert, key


def csr_with_challenge(key, cn, challenge, sans=None):
    b = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if challenge is not None:
        b = b.add_attribute(x509.oid.AttributeOID.CHALLENGE_PASSWORD, challenge.encode())
    return b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def signed_pki_message(envelope, msg_type, signer, key, txid, nonce, digest="sha256"):
    """A pkiMessage (RFC 8894 §3.2): SignedData over envelope signed by signer/key with the
    SCEP attributes messageType, transactionID and senderNonce."""
    from pyasn1.codec.der import decoder, encoder
    from pyasn1.type import char, univ
    from pyasn1_modules import rfc5280, rfc5652
    from cryptography.hazmat.primitives.asymmetric import padding

    md = {"sha256": hashes.SHA256(), "sha1": hashes.SHA1()}[digest]
    h = hashes.Hash(md)
    h.update(envelope)

    def attr(oid, value):
        a = rfc5652.Attribute()
        a["attrType"] = univ.ObjectIdentifier(oid)
        a["attrValues"].append(value)
        return a
    attrs = rfc5652.SignedAttributes()
    for a in (attr("1.2.840.113549.1.9.3", univ.ObjectIdentifier("1.2.840.113549.1.7.1")),
              attr("1.2.840.113549.1.9.4", univ.OctetString(h.finalize())),
              attr(OID_MESSAGE_TYPE, char.PrintableString(str(msg_type))),
              attr(OID_TRANSACTION_ID, char.PrintableString(txid)),
              attr(OID_SENDER_NONCE, univ.OctetString(nonce))):
        attrs.append(a)
    to_sign = encoder.encode(attrs)  # DER SET OF Attribute, tag 0x31 (RFC 5652 §5.4)
    signature = key.sign(to_sign, padding.PKCS1v15(), md)
    cert, _ = decoder.decode(signer.public_bytes(serialization.Encoding.DER),
                             asn1Spec=rfc5280.Certificate())
    si = rfc5652.SignerInfo()
    si["version"] = 1
    si["sid"]["issuerAndSerialNumber"]["issuer"] = cert["tbsCertificate"]["issuer"]
    si["sid"]["issuerAndSerialNumber"]["serialNumber"] = cert["tbsCertificate"]["serialNumber"]
    si["digestAlgorithm"]["algorithm"] = univ.ObjectIdentifier(DIGEST_OIDS[digest])
    si.setComponentByName("signedAttrs")
    for a in attrs:
        si["signedAttrs"].append(a)
    si["signatureAlgorithm"]["algorithm"] = univ.ObjectIdentifier("1.2.840.113549.1.1.1")
    si["signature"] = signature
    sd = rfc5652.SignedData()
    sd["version"] = 1
    alg = rfc5280.AlgorithmIdentifier()
    alg["algorithm"] = univ.ObjectIdentifier(DIGEST_OIDS[digest])
    sd["digestAlgorithms"].append(alg)
    sd["encapContentInfo"]["eContentType"] = univ.ObjectIdentifier("1.2.840.113549.1.7.1")
    sd["encapContentInfo"]["eContent"] = envelope
    choice = rfc5652.CertificateChoices()
    choice["certificate"] = cert
    sd.setComponentByName("certificates")
    sd["certificates"].append(choice)
    sd["signerInfos"].append(si)
    ci = rfc5652.ContentInfo()
    ci["contentType"] = rfc5652.id_signedData
    ci["content"] = sd
    return encoder.encode(ci)


def openssl_encrypt(data, to_cert, cipher="-aes256"):
    """EnvelopedData of data for to_cert, by openssl cms (cipher -aes128, -aes256, -des3)."""
    with tempfile.TemporaryDirectory() as d:
        open(os.path.join(d, "to.pem"), "wb").write(to_cert.public_bytes(
            serialization.Encoding.PEM))
        open(os.path.join(d, "in"), "wb").write(data)
        subprocess.run(["openssl", "cms", "-encrypt", "-binary", cipher, "-in",
                        os.path.join(d, "in"), "-outform", "DER", "-out", os.path.join(d, "out"),
                        os.path.join(d, "to.pem")], check=True, capture_output=True, timeout=60)
        return open(os.path.join(d, "out"), "rb").read()


class CertRep:
    """A CertRep (RFC 8894 §3.3.2) read back: its SCEP attributes, its signature checked
    against the RA certificate, and its content decrypted with the requester's key."""

    def __init__(self, der, ra, cert, key):
        from pyasn1.codec.der import decoder
        from pyasn1_modules import rfc5652
        with tempfile.TemporaryDirectory() as d:
            paths = {n: os.path.join(d, n) for n in ("rep", "ra.pem", "c.pem", "k.pem", "out")}
            open(paths["rep"], "wb").write(der)
            open(paths["ra.pem"], "wb").write(ra.public_bytes(serialization.Encoding.PEM))
            # Signed by the RA certificate's key, whatever certificates the message carries.
            p = subprocess.run(["openssl", "cms", "-verify", "-noverify", "-nointern", "-binary",
                                "-inform", "DER", "-in", paths["rep"], "-certfile",
                                paths["ra.pem"], "-out", paths["out"]],
                               capture_output=True, timeout=60)
            assert p.returncode == 0, p.stderr
            content = open(paths["out"], "rb").read()
            self.certs, self.crls = [], []
            if content:
                open(paths["c.pem"], "wb").write(cert.public_bytes(serialization.Encoding.PEM))
                open(paths["k.pem"], "wb").write(key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption()))
                p = subprocess.run(["openssl", "cms", "-decrypt", "-binary", "-inform", "DER",
                                    "-in", paths["out"], "-recip", paths["c.pem"], "-inkey",
                                    paths["k.pem"], "-out", paths["rep"]],
                                   capture_output=True, timeout=60)
                assert p.returncode == 0, p.stderr
                inner = open(paths["rep"], "rb").read()
                ci, _ = decoder.decode(inner, asn1Spec=rfc5652.ContentInfo())
                sd, _ = decoder.decode(bytes(ci["content"]), asn1Spec=rfc5652.SignedData())
                from pyasn1.codec.der import encoder
                self.certs = [x509.load_der_x509_certificate(encoder.encode(c["certificate"]))
                              for c in sd["certificates"]] if sd["certificates"].isValue else []
                self.crls = [x509.load_der_x509_crl(encoder.encode(c["crl"]))
                             for c in sd["crls"]] if sd["crls"].isValue else []
        ci, _ = decoder.decode(der, asn1Spec=rfc5652.ContentInfo())
        sd, _ = decoder.decode(bytes(ci["content"]), asn1Spec=rfc5652.SignedData())
        attrs = {}
        for a in sd["signerInfos"][0]["signedAttrs"]:
            value, _ = decoder.decode(bytes(a["attrValues"][0]))
            attrs[str(a["attrType"])] = bytes(value) if value.typeId == 4 else str(value)
        self.attrs = attrs
        self.status = attrs[OID_PKI_STATUS]
        self.fail = attrs.get(OID_FAIL_INFO)


class Device:
    """A device speaking SCEP with messages built here: its key, its signing certificate
    (self-signed, or one the CA issued), a transactionID."""

    def __init__(self, server, cn, endpoint="dev"):
        self.server, self.endpoint, self.cn = server, endpoint, cn
        self.cert, self.key = self_signed(cn)
        self.txid = os.urandom(8).hex()
        self.ra, self.cas = ca_ra(server, endpoint)

    def send(self, msg_type, inner, by="POST", cipher="-aes256", digest="sha256", to=None,
             envelope=None):
        nonce = os.urandom(16)
        env = envelope if envelope is not None else openssl_encrypt(inner, to or self.ra, cipher)
        msg = signed_pki_message(env, msg_type, self.cert, self.key, self.txid, nonce, digest)
        if by == "POST":
            r = scep(self.server, self.endpoint, method="POST", data=msg,
                     operation="PKIOperation")
        else:
            r = scep(self.server, self.endpoint, operation="PKIOperation",
                     message=base64.b64encode(msg).decode())
        assert r.status == 200, (r.status, r.body)
        assert r.headers["Content-Type"] == "application/x-pki-message"
        rep = CertRep(r.body, self.ra, self.cert, self.key)
        assert rep.attrs[OID_MESSAGE_TYPE] == "3"
        assert rep.attrs[OID_TRANSACTION_ID] == self.txid
        assert rep.attrs[OID_RECIPIENT_NONCE] == nonce
        assert len(rep.attrs[OID_SENDER_NONCE]) == 16 and rep.attrs[OID_SENDER_NONCE] != nonce
        return rep

    def pkcsreq(self, challenge, **kw):
        return self.send(19, csr_with_challenge(self.key, self.cn, challenge), **kw)


def issuer_and_serial(issuer, serial):
    from pyasn1.codec.der import decoder, encoder
    from pyasn1_modules import rfc2315, rfc5280
    name, _ = decoder.decode(issuer.public_bytes(), asn1Spec=rfc5280.Name())
    ias = rfc2315.IssuerAndSerialNumber()
    ias["issuer"] = name
    ias["serialNumber"] = serial
    return encoder.encode(ias)


def issuer_and_subject(issuer, subject):
    from pyasn1.codec.der import decoder, encoder
    from pyasn1.type import namedtype, univ
    from pyasn1_modules import rfc5280

    class IssuerAndSubject(univ.Sequence):
        componentType = namedtype.NamedTypes(namedtype.NamedType("issuer", rfc5280.Name()),
                                             namedtype.NamedType("subject", rfc5280.Name()))
    v = IssuerAndSubject()
    v["issuer"], _ = decoder.decode(issuer.public_bytes(), asn1Spec=rfc5280.Name())
    v["subject"], _ = decoder.decode(subject.public_bytes(), asn1Spec=rfc5280.Name())
    return encoder.encode(v)


def test_pkcsreq_by_get_of_several_kb_then_certpoll_getcert_and_getcrl(server):
    cid, secret = credential(server)
    dev = Device(server, "built.example.com")
    msg_len = len(base64.b64encode(signed_pki_message(
        openssl_encrypt(csr_with_challenge(dev.key, dev.cn, "x"), dev.ra), 19, dev.cert, dev.key,
        dev.txid, os.urandom(16))))
    assert msg_len > 3000  # a URL of several KB
    rep = dev.pkcsreq(f"{cid}:{secret}", by="GET")
    assert rep.status == "0" and rep.fail is None, rep.attrs
    (cert,) = rep.certs
    serial = assert_issued_as_rest(server, cert, "built.example.com")
    issuing = [c for c in dev.cas if c.subject == cert.issuer][0]
    # CertPoll (GetCertInitial) of the same transaction: the certificate issued.
    rep = dev.send(20, issuer_and_subject(issuing.subject, cert.subject))
    assert rep.status == "0" and [c.serial_number for c in rep.certs] == [cert.serial_number]
    # A CertPoll of a transaction never seen: badCertId.
    other = Device(server, "nobody.example.com")
    rep = other.send(20, issuer_and_subject(issuing.subject, cert.subject))
    assert (rep.status, rep.fail) == ("2", "4")
    # GetCert: a device holding a certificate of the CA gets one by issuer and serial...
    holder = Device(server, "built.example.com")
    holder.cert = cert
    holder.key = dev.key
    rep = holder.send(21, issuer_and_serial(issuing.subject, cert.serial_number), by="GET")
    assert rep.status == "0" and rep.certs == [cert]
    rep = holder.send(21, issuer_and_serial(issuing.subject, 12345))
    assert (rep.status, rep.fail) == ("2", "4")
    # ... a self-signed one does not.
    rep = other.send(21, issuer_and_serial(issuing.subject, cert.serial_number))
    assert (rep.status, rep.fail) == ("2", "2")
    # GetCRL: the CA's latest CRL.
    server.api("POST", "/cas/issuing/crl", {}, expect=201)
    rep = holder.send(22, issuer_and_serial(issuing.subject, cert.serial_number))
    assert rep.status == "0" and len(rep.crls) == 1
    assert rep.crls[0].issuer == issuing.subject
    assert rep.crls[0].is_signature_valid(issuing.public_key())
    assert server.api("GET", f"/certificates/{serial}")["status"] == "good"


def bad_signature(der):
    """der (a CSR) with a byte of its signature changed."""
    b = bytearray(der)
    b[-10] ^= 0x01
    return bytes(b)


def test_bad_messages_get_a_certrep_failure_an_audit_event_and_change_nothing(server):
    cid, secret = credential(server)
    good = f"{cid}:{secret}"
    dev = Device(server, "bad.example.com")
    before, events = cert_count(server), len(server.audit())
    # A CSR whose signature does not verify: badMessageCheck, audited.
    rep = dev.send(19, bad_signature(csr_with_challenge(dev.key, dev.cn, good)))
    assert (rep.status, rep.fail) == ("2", "1") and not rep.certs
    # Audited as a refusal of an unproven sender: at once, or (another such refusal in the same
    # second) summed up in one event when the second is over.
    wait_for(lambda: [e for e in server.audit()[events:] if e["action"] == "scep.refused" and
                      ("signature" in json.dumps(e) or "refused" in e["detail"])],
             what="the scep.refused event")
    # No challenge, a wrong one: badRequest, audited.
    assert (dev.pkcsreq(None).fail, dev.pkcsreq(f"{cid}:wrong").fail) == ("2", "2")
    # Names the profile refuses (21 DNS names: at most 20): badRequest, refused by the door.
    many = [x509.DNSName(f"h{i}.example.com") for i in range(21)]
    rep = dev.send(19, csr_with_challenge(dev.key, dev.cn, good, sans=many))
    assert (rep.status, rep.fail) == ("2", "2")
    assert [e for e in server.audit() if e["action"] == "cert.issue"][-1]["result"] == "refused"
    # An envelope for another certificate than the RA's: badMessageCheck.
    stranger, _ = self_signed("stranger")
    rep = dev.send(19, csr_with_challenge(dev.key, dev.cn, good), to=stranger)
    assert (rep.status, rep.fail) == ("2", "1")
    # 3DES where legacy algorithms are off: badAlg.
    rep = dev.send(19, csr_with_challenge(dev.key, dev.cn, good), cipher="-des3")
    assert (rep.status, rep.fail) == ("2", "0")
    # An envelope that is garbage (a SignedData over bytes that are no EnvelopedData): 400,
    # and so is a truncated pkiMessage (no CertRep can be addressed to either).
    msg = signed_pki_message(os.urandom(200), 19, dev.cert, dev.key, dev.txid, os.urandom(16))
    r = scep(server, method="POST", data=msg, operation="PKIOperation")
    assert r.status == 400 and b"EnvelopedData" in r.body, r.body
    r = scep(server, method="POST", data=msg[:len(msg) // 2], operation="PKIOperation")
    assert r.status == 400
    # A RenewalReq signed by a self-signed certificate: badRequest.
    rep = dev.send(17, csr_with_challenge(dev.key, dev.cn, None))
    assert (rep.status, rep.fail) == ("2", "2")
    # GetCert and GetCRL naming another issuer: badCertId.
    rep = dev.send(22, issuer_and_serial(stranger.subject, 1))
    assert (rep.status, rep.fail) == ("2", "4")
    assert cert_count(server) == before
    assert server.api("GET", "/enroll/endpoints/dev/credentials")["credentials"]
    assert len(server.audit()) > events


def test_legacy_algorithms_only_where_the_endpoint_enables_them(server):
    server.api("POST", "/enroll/endpoints", {"name": "legacy", "protocol": "scep",
                                             "ca": "issuing", "profile": "tls-client",
                                             "legacy_algorithms": True}, expect=201)
    cid, secret = credential(server, endpoint="legacy")
    dev = Device(server, "legacy.example.com", endpoint="legacy")
    # 3DES envelope and a SHA-1 signature: served (the CertRep is signed with SHA-256).
    rep = dev.pkcsreq(f"{cid}:{secret}", cipher="-des3", digest="sha1")
    assert rep.status == "0", rep.attrs
    assert_issued_as_rest(server, rep.certs[0], "legacy.example.com")
    # The same on `dev` (legacy off): a SHA-1 signature is 400, 3DES badAlg.
    plain = Device(server, "legacy.example.com")
    rep = plain.pkcsreq(f"{cid}:{secret}", cipher="-des3")
    assert (rep.status, rep.fail) == ("2", "0")


def test_enrollments_count_against_the_tenants_quota(server):
    """SCEP issuance is counted as any other: over certs_per_hour a PKCSReq is a CertRep
    FAILURE badRequest, and nothing is issued."""
    cid, secret = credential(server)
    issued = cert_count(server)
    r = server.request("PUT", "/api/v1/tenants/default/limits", {"certs_per_hour": 1},
                       token="system")
    assert r.status == 200, r.body
    try:
        before = cert_count(server)
        rep = Device(server, "quota.example.com").pkcsreq(f"{cid}:{secret}")
        assert (rep.status, rep.fail) == ("2", "2") and not rep.certs
        assert cert_count(server) == before
        refused = [e for e in server.audit() if e["action"] == "cert.issue"][-1]
        assert refused["result"] == "refused" and refused["actor"] == f"scep:dev/{cid}"
    finally:
        r = server.request("PUT", "/api/v1/tenants/default/limits", {"certs_per_hour": 0},
                           token="system")
        assert r.status == 200, r.body
    assert issued > 1  # the hour's count was over the limit of 1 already
