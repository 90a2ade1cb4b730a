"""Expiry notices (issue 21, point 2): per tenant, at thresholds before a certificate or a CA
expires, an audit event, a certificate.expiring webhook event and a mail through a real SMTP
server on loopback (aiosmtpd, with STARTTLS and authentication required)."""
import datetime
import email
import email.policy
import http.server
import json
import os
import ssl
import subprocess
import threading
import time

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import VOUCHD, Server, free_port, holds_for, make_csr, wait_for, write

TEAM = "pki-team@example.org"
OWNER = "owner@example.com"
SMTP_USER, SMTP_PASSWORD = "vouch", "s3cret-relay"


def smtp_certificate(tmp):
    """A self-signed certificate for 127.0.0.1, the SMTP server's and the trust anchor vouchd's
    smtp_ca_file names."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtp test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path = write(tmp / "smtp.pem", cert.public_bytes(serialization.Encoding.PEM).decode())
    key_path = write(tmp / "smtp.key", key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode())
    return cert_path, key_path


class Mailbox:
    """Keeps every message the SMTP server accepted, with whether it came over TLS and
    authenticated."""

    def __init__(self):
        self.messages = []
        self.refused = []

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        if "flaky.example" in msg.get_content() and not self.refused:
            self.refused.append(str(msg["Subject"]))
            return "451 4.3.0 try again later"
        self.messages.append({"to": sorted(envelope.rcpt_tos), "from": envelope.mail_from,
                              "subject": str(msg["Subject"]), "body": msg.get_content(),
                              "tls": session.ssl is not None,
                              "authenticated": session.authenticated})
        return "250 OK"

    def about(self, word):
        return [m for m in self.messages if word in m["subject"]]


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == SMTP_USER.encode() and auth_data.password == SMTP_PASSWORD.encode()
    return AuthResult(success=ok)


class Receiver:
    """A webhook receiver on loopback."""

    def __init__(self):
        self.events = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                outer.events.append(json.loads(self.rfile.read(
                    int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def about(self, serial):
        return [e for e in self.events if e["event"] == "certificate.expiring" and
                serial in json.dumps(e)]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def mailbox(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("smtp")
    cert, key = smtp_certificate(tmp)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    box = Mailbox()
    box.ca_file = cert
    box.port = free_port()
    ctl = Controller(box, hostname="127.0.0.1", port=box.port, tls_context=ctx,
                     require_starttls=True, authenticator=authenticate, auth_required=True)
    ctl.start()
    yield box
    ctl.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory, mailbox):
    tmp = tmp_path_factory.mktemp("vouch")
    password = write(tmp / "smtp-password", SMTP_PASSWORD + "\n")
    os.chmod(password, 0o600)
    conf = (f"webhooks_enabled = yes\nnotice_check_seconds = 1\n"
            f"smtp_url = smtp://127.0.0.1:{mailbox.port}\nsmtp_from = vouch@example.net\n"
            f"smtp_user = {SMTP_USER}\nsmtp_password_file = {password}\n"
            f"smtp_ca_file = {mailbox.ca_file}\n")
    s = Server(str(tmp), conf=conf)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def hook(server):
    r = Receiver()
    server.api("PUT", "/webhook", {"url": r.url})
    # The tenant's own notice address, through the CLI (the default thresholds: 30, 14, 7, 1).
    shown = json.loads(server.cli("notice", "set", "--recipient", TEAM, "--json").stdout)
    assert shown["thresholds"] == [30, 14, 7, 1] and shown["recipients"] == [TEAM], shown
    yield r
    r.stop()


def issue(server, cn, days, entity=None):
    body = {"ca": "issuing", "profile": "tls-server", "validity_days": days,
            "csr": make_csr(cn=cn, dns=[cn])[0]}
    if entity:
        body["entity"] = entity
    return server.api("POST", "/certificates", body, expect=201)


def audited(server, action, obj):
    return [e for e in server.audit() if e["action"] == action and e["object"] == obj]


def test_crossing_several_thresholds_sends_one_notice_for_the_nearest(server, mailbox, hook):
    owner = server.api("POST", "/entities", {"name": "web-1", "kind": "service",
                                             "email": OWNER}, expect=201)
    cert = issue(server, "soon.example", 3, entity=owner["id"])
    serial = cert["serial"]
    mail = wait_for(lambda: mailbox.about(serial), 30, "the notice mail")
    # 30, 14 and 7 days crossed at once: one notice, for 7 days
    assert len(mail) == 1 and "7 day(s)" in mail[0]["subject"], mail
    assert mail[0]["to"] == sorted([OWNER, TEAM]) and mail[0]["from"] == "vouch@example.net"
    assert mail[0]["tls"] and mail[0]["authenticated"], mail[0]
    assert "soon.example" in mail[0]["body"] and "issuing" in mail[0]["body"]
    events = wait_for(lambda: hook.about(serial), 30, "the certificate.expiring event")
    assert events[0]["data"]["threshold_days"] == 7, events
    decided = wait_for(lambda: audited(server, "cert.expiring", serial), 10, "cert.expiring")
    assert len(decided) == 1 and decided[0]["actor"] == "scheduler"
    wait_for(lambda: audited(server, "notice.mailed", serial), 10, "notice.mailed")
    # Later ticks (every second) send nothing again.
    holds_for(lambda: len(mailbox.about(serial)) == 1 and len(hook.about(serial)) == 1, 2.5,
              "one notice")
    assert server.sql("SELECT threshold, state, attempts FROM notices WHERE serial = ?",
                      (serial,)) == [("7", "sent", "1")]
    # Under a day left: the 1-day notice, once.
    server.sql("UPDATE certs SET not_after = ? WHERE tenant = 'default' AND serial = ?",
               (int(time.time()) + 3600, serial))
    later = wait_for(lambda: len(mailbox.about(serial)) == 2 and mailbox.about(serial), 30,
                     "the 1-day notice")
    assert "1 day(s)" in later[1]["subject"]
    holds_for(lambda: len(mailbox.about(serial)) == 2, 2.5, "two notices in all")
    assert sorted(server.sql("SELECT threshold FROM notices WHERE serial = ?", (serial,))) == \
        [("1",), ("7",)]


def test_revoked_and_renewed_certificates_get_no_notice(server, mailbox, hook):
    # Issued outside every threshold, then brought inside by the test.
    revoked = issue(server, "revoked.example", 40)["serial"]
    renewed = issue(server, "renewed.example", 40)["serial"]
    control = issue(server, "control.example", 40)["serial"]
    server.api("POST", f"/certificates/{revoked}/revoke", {"reason": "superseded"})
    server.api("POST", f"/certificates/{renewed}/renew", {}, expect=201)
    for serial in (revoked, renewed, control):
        server.sql("UPDATE certs SET not_after = ? WHERE tenant = 'default' AND serial = ?",
                   (int(time.time()) + 2 * 86400, serial))
    wait_for(lambda: mailbox.about(control), 30, "the control certificate's notice")
    holds_for(lambda: not mailbox.about(revoked) and not mailbox.about(renewed), 2.5,
              "no notice for the revoked and the renewed certificate")
    assert not hook.about(revoked) and not hook.about(renewed)
    assert server.sql("SELECT count(*) FROM notices WHERE serial IN (?, ?)",
                      (revoked, renewed)) == [("0",)]


def test_a_cas_expiry_is_told_to_the_tenants_addresses(server, mailbox, hook):
    server.api("POST", "/cas", {"name": "shortlived", "subject": "/CN=Short-lived CA"},
               expect=201)
    server.sql("UPDATE cas SET not_after = ? WHERE tenant = 'default' AND name = 'shortlived'",
               (int(time.time()) + 10 * 86400,))
    mail = wait_for(lambda: mailbox.about("CA shortlived"), 30, "the CA's notice")
    assert len(mail) == 1 and mail[0]["to"] == [TEAM] and "14 day(s)" in mail[0]["subject"]
    assert len(audited(server, "ca.expiring", "ca:shortlived")) == 1
    holds_for(lambda: len(mailbox.about("CA shortlived")) == 1, 2.5, "one CA notice")


def test_certificates_vouchd_renews_itself_get_no_notice(server, mailbox, hook):
    """Delegated OCSP responder certificates (7 days by default, renewed by vouchd) and a CA's
    own certificate (its CA is told instead) are no one's to renew."""
    wait_for(lambda: mailbox.about("CA shortlived"), 30, "the CA's notice")
    own = server.sql("SELECT serial FROM certs WHERE profile IN ('ocsp-signing', 'sub-ca')")
    assert len(own) >= 3, own  # a responder per CA, the sub-CAs' certificates
    serials = [s for (s,) in own]
    assert not [m for m in mailbox.messages if any(s in m["subject"] for s in serials)]
    assert server.sql("SELECT count(*) FROM notices WHERE serial IN (%s)" %
                      ", ".join("?" * len(serials)), tuple(serials)) == [("0",)]


def test_a_mail_the_server_refused_is_sent_again_later(server, mailbox, hook):
    serial = issue(server, "flaky.example", 3)["serial"]
    wait_for(lambda: mailbox.refused, 30, "the refused delivery")
    row = wait_for(lambda: server.sql("SELECT state, attempts FROM notices WHERE serial = ? "
                                      "AND attempts = 1", (serial,)), 10, "the failed try")
    assert row == [("pending", "1")] and not mailbox.about(serial)
    # The webhook event and the audit event went with the decision, once.
    wait_for(lambda: hook.about(serial), 30, "the certificate.expiring event")
    # The next try is minutes away: bring it forward.
    server.sql("UPDATE notices SET next_try = 0 WHERE serial = ?", (serial,))
    mail = wait_for(lambda: mailbox.about(serial), 30, "the mail sent again")
    assert len(mail) == 1 and "7 day(s)" in mail[0]["subject"]
    # Recorded once the server's answer is in (after the server kept the message).
    wait_for(lambda: server.sql("SELECT state, attempts FROM notices WHERE serial = ?",
                                (serial,)) == [("sent", "2")], 10, "the notice recorded sent")
    assert len(audited(server, "cert.expiring", serial)) == 1
    assert len(hook.about(serial)) == 1
    listed = [n for n in server.api("GET", "/notices?state=sent")["notices"]
              if n["serial"] == serial]
    assert len(listed) == 1 and listed[0]["attempts"] == 2 and listed[0]["threshold_days"] == 7
    assert listed[0]["sent_at"].endswith("Z") and listed[0]["next_try"] is None
    assert serial in server.cli("notice", "list", "--state", "sent").stdout
    r = server.request("GET", "/api/v1/t/default/notices?state=lost")
    assert r.status == 400, r.body


def test_notice_settings_are_checked_and_audited(server, hook):
    before = server.api("GET", "/notices/settings")
    assert before["enabled"] is True and before["recipients"] == [TEAM]
    assert before["updated"].endswith("Z")
    for bad in ({"thresholds": []}, {"thresholds": [7, 7]}, {"thresholds": [0]},
                {"thresholds": list(range(1, 10))}, {"thresholds": ["7"]},
                {"recipients": ["not-an-address"]}, {"recipients": ["a@b.example\r\nBcc: x@y"]},
                {"recipients": ["<a@b.example>"]}, {"enabled": "yes"}, {"color": "red"}):
        r = server.request("PUT", "/api/v1/t/default/notices/settings", bad)
        assert r.status == 400, (bad, r.status, r.body)
    assert server.api("GET", "/notices/settings") == before  # nothing changed
    got = server.api("PUT", "/notices/settings", {"thresholds": [1, 60, 10],
                                                   "recipients": [TEAM], "enabled": True})
    assert got["thresholds"] == [60, 10, 1], got
    assert [e for e in server.audit() if e["action"] == "notice.settings"]
    # The defaults back (the other tests' settings).
    server.api("PUT", "/notices/settings", {"recipients": [TEAM]})


def test_smtp_settings_are_checked_at_start(server, tmp_path):
    conf = open(os.path.join(server.dir, "vouchd.conf")).read()
    for line, word in (("smtp_url = http://127.0.0.1:25", "smtp_url"),
                       ("smtp_from = not an address", "smtp_from"),
                       ("smtp_user = someone-without-a-password-file", "smtp_user")):
        keep = [l for l in conf.splitlines() if not l.startswith(line.split(" =")[0]) and
                not (word == "smtp_user" and l.startswith("smtp_password_file"))]
        bad = write(tmp_path / "bad.conf", "\n".join(keep + [line]) + "\n")
        p = subprocess.run([VOUCHD, "-c", bad, "--check"], capture_output=True, text=True,
                           timeout=60)
        assert p.returncode != 0 and word in p.stderr, (line, p.returncode, p.stderr)
    # The password file is a secret: others may not read it.
    password = [l.split("= ", 1)[1] for l in conf.splitlines()
                if l.startswith("smtp_password_file")][0]
    os.chmod(password, 0o644)
    try:
        p = subprocess.run([VOUCHD, "-c", os.path.join(server.dir, "vouchd.conf"), "--check"],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode != 0 and "smtp_password_file" in p.stderr, p.stderr
    finally:
        os.chmod(password, 0o600)
