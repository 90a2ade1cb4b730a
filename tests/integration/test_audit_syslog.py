"""Live forwarding of audit events to a SIEM: a real rsyslog receiving RFC 5424 over TCP and TLS."""
import datetime
import ipaddress
import os
import re
import signal
import socket
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import Server, free_port, make_csr, other_tenant, wait_for, write

RSYSLOGD = "/usr/sbin/rsyslogd"
pytestmark = pytest.mark.skipif(not os.path.exists(RSYSLOGD), reason="rsyslog not installed")

# One line per message: PRI, TIMESTAMP, HOSTNAME, APP-NAME, MSGID, STRUCTURED-DATA, MSG.
TEMPLATE = ("%pri%\\t%timereported:::date-rfc3339%\\t%hostname%\\t%app-name%\\t%msgid%\\t"
            "%structured-data%\\t%msg%\\n")


class Rsyslog:
    """rsyslogd with its own configuration, on a loopback port, writing to out.log."""

    def __init__(self, base, port, tls=None):
        self.dir = str(base)
        self.out = os.path.join(self.dir, "out.log")
        self.pidfile = os.path.join(self.dir, "rsyslogd.pid")
        glob = f'workDirectory="{self.dir}"'
        load = 'module(load="imtcp")'
        if tls:
            glob += (f' DefaultNetstreamDriver="ossl" DefaultNetstreamDriverCAFile="{tls["ca"]}"'
                     f' DefaultNetstreamDriverCertFile="{tls["cert"]}"'
                     f' DefaultNetstreamDriverKeyFile="{tls["key"]}"')
            load = ('module(load="imtcp" StreamDriver.Name="ossl" StreamDriver.Mode="1" '
                    'StreamDriver.AuthMode="anon")')
        conf = write(os.path.join(self.dir, "rsyslog.conf"),
                     f"global({glob})\n{load}\n"
                     f'template(name="vouch" type="string" string="{TEMPLATE}")\n'
                     f'input(type="imtcp" port="{port}" address="127.0.0.1")\n'
                     f'action(type="omfile" file="{self.out}" template="vouch")\n')
        self.log = open(os.path.join(self.dir, "rsyslogd.log"), "w")
        self.proc = subprocess.Popen([RSYSLOGD, "-n", "-f", conf, "-i", self.pidfile],
                                     stdout=self.log, stderr=self.log)
        wait_for(lambda: self.proc.poll() is not None or listening(port), 20,
                 f"rsyslogd listening on {port}")
        assert self.proc.poll() is None, open(self.log.name).read()

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()

    def messages(self):
        if not os.path.exists(self.out):
            return []
        out = []
        for line in open(self.out, encoding="utf-8"):
            pri, stamp, host, app, msgid, sd, msg = line.rstrip("\n").split("\t", 6)
            params = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', sd))
            out.append({"pri": int(pri), "time": stamp, "host": host, "app": app, "msgid": msgid,
                        "sd": sd, "params": params, "msg": msg.lstrip("\ufeff")})
        return out

    def wait_for(self, count_fn, timeout=20):
        return wait_for(lambda: (lambda got: count_fn(got) and got)(self.messages()), timeout,
                        "rsyslog's messages")


def listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_log(server, text, timeout=20):
    return wait_for(lambda: text in open(server.log_path).read(), timeout,
                    f"{text!r} in {server.log_path}")


def seqs(msgs, tenant="default"):
    return [int(m["params"]["seq"]) for m in msgs if m["params"].get("tenant") == tenant]


def server_with_siem(base, port, transport="tcp", ca=None):
    conf = (f"syslog_host = 127.0.0.1\nsyslog_port = {port}\nsyslog_transport = {transport}\n"
            + (f"syslog_ca_file = {ca}\n" if ca else ""))
    return Server(str(base), conf=conf)


def test_every_event_reaches_rsyslog_over_tcp_as_rfc5424(tmp_path):
    port = free_port()
    os.makedirs(tmp_path / "rs")
    rs = Rsyslog(tmp_path / "rs", port)
    s = server_with_siem(tmp_path / "v", port)
    try:
        csr, _ = make_csr(cn="siem.example", dns=["siem.example"])
        cert = s.api("POST", "/certificates", {"ca": "issuing", "profile": "tls-server",
                                               "csr": csr}, expect=201)
        r = s.request("POST", "/api/v1/t/default/certificates",
                      {"ca": "issuing", "profile": "tls-server", "csr": "garbage"})
        assert r.status == 400
        events = s.audit()
        msgs = rs.wait_for(lambda got: len(seqs(got)) >= len(events))
        assert seqs(msgs) == [e["seq"] for e in events]
        byseq = {int(m["params"]["seq"]): m for m in msgs if m["params"]["tenant"] == "default"}
        issued = [e for e in events if e["action"] == "cert.issue" and e["result"] == "ok"][-1]
        m = byseq[issued["seq"]]
        assert m["pri"] == 13 * 8 + 6 and m["app"] == "vouchd" and m["msgid"] == "cert.issue"
        assert m["params"]["object"] == cert["serial"] and m["params"]["hash"] == issued["hash"]
        assert m["params"]["result"] == "ok" and m["time"].startswith(issued["time"][:16])
        refused = byseq[events[-1]["seq"]]
        assert refused["pri"] == 13 * 8 + 4 and refused["params"]["result"] == "refused"
        # The _system chain goes to the SIEM too (tenant creation, audit keys).
        assert any(m["params"]["tenant"] == "_system" for m in msgs)
    finally:
        s.stop()
        rs.stop()


def test_events_wait_for_a_receiver_that_is_down_and_none_is_sent_twice(tmp_path):
    port = free_port()
    s = server_with_siem(tmp_path / "v", port)
    os.makedirs(tmp_path / "rs")
    rs = None
    try:
        s.api("POST", "/entities", {"name": "while-down", "kind": "device"}, expect=201)
        # vouchd tried the receiver while it was down, with the event waiting.
        wait_log(s, f"audit forwarding: cannot connect to 127.0.0.1:{port}")
        rs = Rsyslog(tmp_path / "rs", port)
        n = len(s.audit())
        rs.wait_for(lambda got: len(seqs(got)) >= n)
        # A restart of vouchd resends nothing already delivered.
        s.stop()
        s.start()
        s.api("POST", "/entities", {"name": "after-restart", "kind": "device"}, expect=201)
        n = len(s.audit())
        # Events go out in order from the last one delivered: anything sent twice after the
        # restart would arrive before the last event, which is waited for.
        got = rs.wait_for(lambda got: n in seqs(got))
        assert seqs(got) == list(range(1, n + 1))
        assert [m["msgid"] for m in got].count("entity.create") == 2
    finally:
        s.stop()
        if rs:
            rs.stop()


def make_pki(d):
    """A CA and a certificate for 127.0.0.1 signed by it (PEM files in d)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SIEM test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    files = {"ca": os.path.join(d, "ca.pem"), "cert": os.path.join(d, "cert.pem"),
             "key": os.path.join(d, "key.pem")}
    open(files["ca"], "wb").write(ca.public_bytes(pem))
    open(files["cert"], "wb").write(cert.public_bytes(pem))
    open(files["key"], "wb").write(key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return files


def test_events_reach_rsyslog_over_tls_and_only_a_receiver_the_ca_vouches_for(tmp_path):
    os.makedirs(tmp_path / "rs")
    os.makedirs(tmp_path / "pki")
    os.makedirs(tmp_path / "other")
    pki = make_pki(str(tmp_path / "pki"))
    stranger = make_pki(str(tmp_path / "other"))
    port = free_port()
    rs = Rsyslog(tmp_path / "rs", port, tls=pki)
    wrong = server_with_siem(tmp_path / "w", port, "tls", stranger["ca"])
    s = server_with_siem(tmp_path / "v", port, "tls", pki["ca"])
    try:
        s.api("POST", "/entities", {"name": "over-tls", "kind": "device"}, expect=201)
        n = len(s.audit())
        msgs = rs.wait_for(lambda got: len(seqs(got)) >= n)
        assert "entity.create" in [m["msgid"] for m in msgs]
        # The instance trusting another CA refuses the receiver: nothing of it arrives.
        wait_log(wrong, f"TLS with 127.0.0.1:{port} failed")
        assert len(seqs(rs.messages())) == n
    finally:
        s.stop()
        wrong.stop()
        rs.stop()


def test_a_tenant_sends_its_own_events_to_its_own_siem(tmp_path):
    os.makedirs(tmp_path / "rs")
    os.makedirs(tmp_path / "pki")
    pki = make_pki(str(tmp_path / "pki"))
    port = free_port()
    rs = Rsyslog(tmp_path / "rs", port, tls=pki)
    s = Server(str(tmp_path / "v"), conf="syslog_tenant_targets = yes\n")
    try:
        token = other_tenant(s, "siem-owner")
        bad = s.request("PUT", "/api/v1/t/siem-owner/audit/forwarding",
                        {"host": "127.0.0.1", "port": port, "transport": "tls"}, token=token)
        assert bad.status == 400 and "ca_pem" in bad.json()["detail"]
        # transport defaults to tls, which needs ca_pem too
        bad = s.request("PUT", "/api/v1/t/siem-owner/audit/forwarding",
                        {"host": "127.0.0.1", "port": port}, token=token)
        assert bad.status == 400 and "ca_pem" in bad.json()["detail"]
        target = {"host": "127.0.0.1", "port": port, "transport": "tls",
                  "ca_pem": open(pki["ca"]).read()}
        r = s.request("PUT", "/api/v1/t/siem-owner/audit/forwarding", target, token=token)
        assert r.status == 200, r.body
        shown = s.request("GET", "/api/v1/t/siem-owner/audit/forwarding", token=token).json()
        assert shown["host"] == "127.0.0.1" and shown["transport"] == "tls"
        s.request("POST", "/api/v1/t/siem-owner/entities", {"name": "mine", "kind": "device"},
                  token=token)
        s.api("POST", "/entities", {"name": "not-theirs", "kind": "device"}, expect=201)
        events = s.audit("siem-owner", token=token)
        assert events[-2]["action"] == "audit.forwarding.set"
        msgs = rs.wait_for(lambda got: len(seqs(got, "siem-owner")) >= len(events))
        # The whole chain from seq 1, and nothing of another tenant or of _system.
        assert seqs(msgs, "siem-owner") == [e["seq"] for e in events]
        assert {m["params"]["tenant"] for m in msgs} == {"siem-owner"}
        # Another tenant's admin cannot read or change it; both refusals are audited.
        assert s.request("GET", "/api/v1/t/siem-owner/audit/forwarding").status == 403
        assert s.request("DELETE", "/api/v1/t/siem-owner/audit/forwarding").status == 403
        assert [e["result"] for e in s.audit("siem-owner", token=token)[-2:]] == \
            ["refused", "refused"]
        assert s.request("DELETE", "/api/v1/t/siem-owner/audit/forwarding",
                         token=token).status == 204
        assert s.audit("siem-owner", token=token)[-1]["action"] == "audit.forwarding.delete"
    finally:
        s.stop()
        rs.stop()


def test_tenant_targets_are_refused_unless_the_operator_enables_them(server):
    r = server.request("PUT", "/api/v1/t/default/audit/forwarding",
                       {"host": "127.0.0.1", "port": 6514, "transport": "tcp"})
    assert r.status == 403
    last = server.audit()[-1]
    assert last["action"] == "audit.forwarding.set" and last["result"] == "refused"
