"""GET /metrics on the metrics listener: Prometheus's own promtool accepts the output, and the
values follow what the test did (certificates issued and revoked, OCSP answers, time-stamp
tokens, CRLs, requests pending approval, HTTP requests by route and status)."""
import datetime
import http.client
import os
import re
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from conftest import ROOT, Server, make_csr, own_token, port_hold, run, wait_for, write

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One instance with a metrics listener on a held loopback port, open to 127.0.0.1 only."""
    hold = port_hold()
    port = hold.getsockname()[1]
    env, init = {}, ()
    if os.environ.get("VOUCH_TEST_KEYSTORE") == "pkcs11":
        from conftest import SoftHSM
        hsm = SoftHSM(tmp_path_factory.mktemp("softhsm"))
        env, init = hsm.env, hsm.init_args()
    s = Server(str(tmp_path_factory.mktemp("vouch")), env=env, init_args=init,
               conf=f"metrics_address = 127.0.0.1\nmetrics_port = {port}\n"
                    "metrics_allow = 127.0.0.1\n")
    s.metrics_port = port
    s.metrics_hold = hold
    yield s
    s.stop()
    hold.close()


def scrape_text(server, source="127.0.0.1"):
    c = http.client.HTTPConnection("127.0.0.1", server.metrics_port, timeout=30,
                                   source_address=(source, 0))
    c.request("GET", "/metrics")
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    return r.status, r.getheader("Content-Type"), body


def parse(text):
    """{(name, frozenset of (label, value)): value} of every sample."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def scrape(server):
    status, ctype, body = scrape_text(server)
    assert status == 200, body
    assert ctype.startswith("text/plain; version=0.0.4"), ctype
    return parse(body)


def value(samples, name, **labels):
    """The sum of name's samples whose labels include these (0 if none)."""
    want = set(labels.items())
    return sum(v for (n, l), v in samples.items() if n == name and want <= set(l))


def issue(server, cn):
    csr, _ = make_csr(cn=cn, dns=[cn])
    return server.api("POST", "/certificates", {"ca": "issuing", "profile": "tls-server",
                                                "csr": csr}, expect=201)


def test_promtool_accepts_the_output(server, tmp_path):
    issue(server, "promtool.example")  # families with series of their own
    status, _, body = scrape_text(server)
    assert status == 200
    p = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    names = {n for n, _ in parse(body)}
    for family in ("vouch_build_info", "vouch_certificates_issued_total",
                   "vouch_ocsp_responses_total", "vouch_signer_request_duration_seconds_count",
                   "vouch_signer_errors_total", "vouch_signer_up", "vouch_db_connections_in_use",
                   "vouch_db_connections_max", "vouch_db_commit_duration_seconds_count",
                   "vouch_http_requests_total", "vouch_http_request_duration_seconds_bucket",
                   "vouch_approval_requests_pending", "vouch_webhook_events_pending"):
        assert family in names, family


def test_build_info_names_the_version(server):
    samples = scrape(server)
    version = open(os.path.join(ROOT, "VERSION")).read().strip()
    (labels,) = [dict(l) for n, l in samples if n == "vouch_build_info"]
    assert labels["version"] == version and labels["commit"], labels


def test_issued_and_revoked_certificates_count_by_tenant_ca_and_profile(server):
    key = dict(tenant="default", ca="issuing", profile="tls-server")
    before = scrape(server)
    certs = [issue(server, f"count{i}.example") for i in range(3)]
    server.api("POST", f"/certificates/{certs[0]['serial']}/revoke", {"reason": "superseded"})
    after = scrape(server)
    assert (value(after, "vouch_certificates_issued_total", **key)
            - value(before, "vouch_certificates_issued_total", **key)) == 3
    assert (value(after, "vouch_certificates_revoked_total", **key)
            - value(before, "vouch_certificates_revoked_total", **key)) == 1
    # the HTTP layer counted the three 201s of the route and timed them
    route = dict(listener="api", method="POST", route="/api/v1/t/{tenant}/certificates")
    assert (value(after, "vouch_http_requests_total", status="201", **route)
            - value(before, "vouch_http_requests_total", status="201", **route)) == 3
    assert (value(after, "vouch_http_request_duration_seconds_count", **route)
            - value(before, "vouch_http_request_duration_seconds_count", **route)) == 3
    inf = value(after, "vouch_http_request_duration_seconds_bucket", le="+Inf", **route)
    assert inf == value(after, "vouch_http_request_duration_seconds_count", **route)
    # every issuance signed through the signer and committed
    assert (value(after, "vouch_signer_request_duration_seconds_count")
            - value(before, "vouch_signer_request_duration_seconds_count")) >= 3
    assert (value(after, "vouch_db_commit_duration_seconds_count")
            - value(before, "vouch_db_commit_duration_seconds_count")) >= 4
    assert value(after, "vouch_db_connections_max") == 64


def ocsp_post(server, der):
    return server.request("POST", "", der, token=None, content_type="application/ocsp-request",
                          base=f"{server.public_url}/ocsp/default/issuing")


def test_ocsp_answers_count_by_source_and_status(server):
    cert = issue(server, "ocsp.example")
    issuer = server.api("GET", "/cas/issuing")["certificate"]
    leaf = x509.load_pem_x509_certificate(cert["certificate"].encode())
    ca = x509.load_pem_x509_certificate(issuer.encode())
    b = ocsp.OCSPRequestBuilder().add_certificate(leaf, ca, hashes.SHA1())
    with_nonce = b.add_extension(x509.OCSPNonce(os.urandom(16)), critical=False).build()
    name = "vouch_ocsp_responses_total"
    before = scrape(server)
    r = ocsp_post(server, with_nonce.public_bytes(serialization.Encoding.DER))
    assert r.status == 200 and ocsp.load_der_ocsp_response(r.body).certificate_status == \
        ocsp.OCSPCertStatus.GOOD
    r = ocsp_post(server, b"\x30\x03\x02\x01\x01")  # not an OCSPRequest
    assert ocsp.load_der_ocsp_response(r.body).response_status == \
        ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    after = scrape(server)
    assert (value(after, name, source="live", status="successful")
            - value(before, name, source="live", status="successful")) == 1
    assert (value(after, name, source="none", status="malformedRequest")
            - value(before, name, source="none", status="malformedRequest")) == 1
    # without a nonce, once pre-signed: the stored response (from the database or the cache)
    plain = b.build().public_bytes(serialization.Encoding.DER)

    def stored():
        now = scrape(server)
        ocsp_post(server, plain)
        later = scrape(server)
        return sum(value(later, name, source=s, status="successful")
                   - value(now, name, source=s, status="successful")
                   for s in ("presigned", "cache")) == 1
    wait_for(stored, timeout=30, what="an answer from a pre-signed response")


def test_time_stamp_tokens_count(server, tmp_path):
    server.api("POST", "/tsa", {"name": "ts-m", "ca": "issuing", "policy": "1.3.6.1.4.1.4146.2.3"},
               expect=201)
    write(tmp_path / "data", "metered time")
    run("openssl", "ts", "-query", "-data", str(tmp_path / "data"), "-sha256", "-cert", "-out",
        str(tmp_path / "q.tsq"))
    key = dict(tenant="default", unit="ts-m")
    before = scrape(server)
    r = server.request("POST", "/tsa/default/ts-m", open(tmp_path / "q.tsq", "rb").read(),
                       token=None, content_type="application/timestamp-query",
                       base=server.public_url)
    assert r.status == 200
    r = server.request("POST", "/tsa/default/ts-m", b"\x30\x00", token=None,
                       content_type="application/timestamp-query", base=server.public_url)
    assert r.status == 200
    after = scrape(server)
    assert (value(after, "vouch_tsa_responses_total", status="granted", **key)
            - value(before, "vouch_tsa_responses_total", status="granted", **key)) == 1
    assert (value(after, "vouch_tsa_responses_total", status="rejection", **key)
            - value(before, "vouch_tsa_responses_total", status="rejection", **key)) == 1


def test_crl_size_and_age_are_the_latest_crls(server):
    """The gauges are those of the CA's latest complete CRL: the one served (the scheduler may
    publish another between two reads, so a read of both that agree is waited for)."""
    server.api("POST", "/cas/issuing/crl", {}, expect=201)
    key = dict(tenant="default", ca="issuing")

    def utc(t):
        return t.replace(tzinfo=datetime.timezone.utc).timestamp()

    def agree():
        der = server.request("GET", "/crl/default/issuing.crl", token=None,
                             base=server.public_url).body
        s = scrape(server)
        crl = x509.load_der_x509_crl(der)
        if value(s, "vouch_crl_this_update_timestamp_seconds", **key) != utc(crl.last_update):
            return None
        return s, der, crl
    s, der, crl = wait_for(agree, timeout=30, what="gauges of the CRL served")
    assert value(s, "vouch_crl_size_bytes", **key) == len(der)
    assert value(s, "vouch_crl_next_update_timestamp_seconds", **key) == utc(crl.next_update)
    assert 0 <= value(s, "vouch_crl_age_seconds", **key) < 3600
    # and the CA's own expiry, for the alert on an expiring CA
    ca = x509.load_pem_x509_certificate(server.api("GET", "/cas/issuing")["certificate"].encode())
    assert value(s, "vouch_ca_not_after_timestamp_seconds", **key) == utc(ca.not_valid_after)


def test_requests_pending_approval_are_the_queue(server):
    server.api("PUT", "/workflows/profile:tls-server", {"required": 1, "expires_hours": 1})
    try:
        csr, _ = make_csr(cn="queued.example", dns=["queued.example"])
        r = server.request("POST", "/api/v1/t/default/certificates",
                           {"ca": "issuing", "profile": "tls-server", "csr": csr})
        assert r.status == 202, r.body
        rid = r.json()["id"]
    finally:
        server.api("DELETE", "/workflows/profile:tls-server", expect=204)
    wait_for(lambda: value(scrape(server), "vouch_approval_requests_pending",
                           tenant="default") == 1, timeout=30, what="one request pending")
    officer = server.api("POST", "/principals", {"name": "officer", "kind": "user"}, expect=201)
    server.api("POST", "/roles/bind", {"principal": officer["id"], "role": "ra-officer"},
               expect=201)
    server.api("POST", f"/requests/{rid}/reject", {"reason": "test"},
               token=own_token(server, officer["id"], "officer"))
    wait_for(lambda: value(scrape(server), "vouch_approval_requests_pending",
                           tenant="default") == 0, timeout=30, what="no request pending")


def test_only_allowed_addresses_read_the_metrics(server):
    status, _, body = scrape_text(server, source="127.0.0.2")
    assert status == 403 and "metrics_allow" in body, body
    # the API listener serves no metrics
    assert server.request("GET", "/metrics", token=None).status == 404
    assert server.request("GET", "/metrics", token=None, base=server.public_url).status == 404


def test_the_key_store_and_its_tokens_are_up(server):
    samples = scrape(server)
    assert value(samples, "vouch_keystore_up") == 1
    tokens = {dict(l)["token"]: v for (n, l), v in samples.items()
              if n == "vouch_keystore_token_up"}
    if os.environ.get("VOUCH_TEST_KEYSTORE") == "pkcs11":  # two SoftHSM2 tokens, both well
        assert tokens == {"vouch-a": 1, "vouch-b": 1}, tokens
        assert value(samples, "vouch_keystore_signing_with_backup") == 0
    else:  # the software key store has no token
        assert tokens == {}, tokens


def test_the_documented_alert_rules_load_in_prometheus(server, tmp_path):
    """docs/operations.md's alert rules (an expiring CA, a stale CRL, a failing signer) use the
    names vouchd writes; promtool checks their syntax."""
    text = open(os.path.join(ROOT, "docs", "operations.md")).read()
    rules = text.split("Alert rules", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    names = set(re.findall(r"\b(vouch_[a-z_]+)", rules))
    assert {"vouch_ca_not_after_timestamp_seconds", "vouch_crl_next_update_timestamp_seconds",
            "vouch_signer_up"} <= names
    _, _, body = scrape_text(server)
    written = set(re.findall(r"^# TYPE (\S+) ", body, re.M))
    assert names <= written, names - written
    p = subprocess.run(["promtool", "check", "rules", write(tmp_path / "rules.yml", rules)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
