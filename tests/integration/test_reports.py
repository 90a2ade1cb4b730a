"""Issue 21 point 3: reports per tenant and per CA, as JSON and CSV from the API and the CLI,
computed by the database; each checked against what the test itself did."""
import csv
import io
import json

import pytest

from conftest import make_csr, own_token, wait_for

CA = "rep-ca"


def issue(server, cn, profile="tls-server"):
    csr, _ = make_csr(cn, dns=[cn])
    return server.api("POST", "/certificates", {"ca": CA, "profile": profile, "csr": csr},
                      expect=201)["serial"]


@pytest.fixture(scope="module")
def made(server):
    """A CA of its own with 4 server and 2 client certificates: one revoked for key compromise,
    one for superseded, one suspended; a revocation that waited for an approval; a CRL."""
    server.api("POST", "/cas", {"name": CA, "subject": "/C=XX/O=Reports/CN=Rep CA",
                                "parent": "root"}, expect=201)
    servers = [issue(server, f"s{i}.rep.example") for i in range(4)]
    clients = [issue(server, f"c{i}.rep.example", "tls-client") for i in range(2)]
    server.api("POST", f"/certificates/{servers[0]}/revoke", {"reason": "keyCompromise"})
    server.api("POST", f"/certificates/{servers[1]}/revoke", {"reason": "superseded"})
    server.api("POST", f"/certificates/{clients[0]}/suspend", {})
    # One revocation through a workflow, approved by another person.
    officer = server.api("POST", "/principals", {"name": "rep-officer", "kind": "user"},
                         expect=201)["id"]
    server.api("POST", "/roles/bind", {"principal": officer, "role": "ra-officer"}, expect=201)
    officer_token = own_token(server, officer, "rep-officer")
    server.api("PUT", "/workflows/cert.revoke", {"required": 1})
    req = server.api("POST", f"/certificates/{servers[2]}/revoke", {"reason": "keyCompromise"},
                     expect=202)
    server.api("POST", f"/requests/{req['id']}/approve", {}, token=officer_token)
    server.api("DELETE", "/workflows/cert.revoke", expect=204)
    server.api("POST", f"/cas/{CA}/crl", {}, expect=201)
    # The CA's delegated OCSP responder is made by the scheduler: counts are stable once it is.
    wait_for(lambda: responders(server) == 1, 60, "the CA's OCSP responder certificate")
    return {"servers": servers, "clients": clients}


def responders(server):
    """Certificates of the CA's delegated OCSP responders (the scheduler makes them)."""
    return sum(x["count"] for x in report(server, "certificates")["rows"]
               if x["profile"] == "ocsp-signing")


def report(server, name, **query):
    q = "&".join(f"{k}={v}" for k, v in dict({"ca": CA}, **query).items())
    return server.api("GET", f"/reports/{name}?{q}")


def test_certificates_by_status_and_profile(server, made):
    r = report(server, "certificates")
    assert r["report"] == "certificates" and r["ca"] == CA
    assert r["columns"] == ["ca", "profile", "status", "count"]
    got = {(row["profile"], row["status"]): row["count"] for row in r["rows"]
           if row["profile"] != "ocsp-signing"}
    assert got == {("tls-server", "revoked"): 3, ("tls-server", "good"): 1,
                   ("tls-client", "hold"): 1, ("tls-client", "good"): 1}, got
    # Every CA of the tenant without ?ca=: this CA's rows are among them.
    everyone = server.api("GET", "/reports/certificates")["rows"]
    assert {(x["ca"], x["profile"], x["status"], x["count"]) for x in everyone} >= \
        {(CA, p, s, n) for (p, s), n in got.items()}


def test_issued_and_revoked_per_day_and_revocations_by_reason(server, made):
    days = report(server, "daily")["rows"]
    issued = 6 + responders(server)
    assert sum(d["issued"] for d in days) == issued and sum(d["revoked"] for d in days) == 3, days
    assert all(len(d["day"]) == 10 for d in days)  # YYYY-MM-DD
    reasons = {x["reason"]: x["count"] for x in report(server, "revocations")["rows"]}
    assert reasons == {"keyCompromise": 2, "superseded": 1}, reasons
    # A period that ends before anything was made: nothing.
    empty = report(server, "daily", to="2001-01-01T00:00:00Z")
    assert empty["rows"] == []


def test_expiring_within_n_days(server, made):
    certs = server.api("GET", f"/certificates?ca={CA}&status=good")["certificates"]
    rows = report(server, "expiring", days=3650)["rows"]
    assert sum(x["count"] for x in rows) == len(certs) == 2 + responders(server), (rows, certs)
    soon = report(server, "expiring", days=1)["rows"]  # only a responder (days, renewed at half)
    assert all(x["profile"] == "ocsp-signing" for x in soon), soon


def test_crl_and_ocsp_freshness(server, made):
    rows = report(server, "freshness")["rows"]
    assert len(rows) == 1 and rows[0]["ca"] == CA, rows
    f = rows[0]
    crl = server.api("GET", f"/cas/{CA}/crl")
    assert f["crl_number"] == crl["number"] and f["crl_this_update"] == crl["this_update"]
    assert f["crl_age_seconds"] >= 0 and f["crl_seconds_left"] > 0
    assert f["ocsp_responses"] == 6 + responders(server)  # one per certificate of the CA
    # The pre-signer signs them in the background: once it has, none is left unsigned.
    wait_for(lambda: report(server, "freshness")["rows"][0]["ocsp_unsigned"] == 0, 60,
             "OCSP responses signed")
    f = report(server, "freshness")["rows"][0]
    assert f["ocsp_soonest_next_update"] is not None


def test_approvals_by_outcome_and_time_to_decision(server, made):
    rows = server.api("GET", "/reports/approvals")["rows"]
    done = [x for x in rows if x["kind"] == "cert.revoke" and x["status"] == "done"]
    assert len(done) == 1 and done[0]["count"] >= 1 and done[0]["decided"] >= 1, rows
    assert done[0]["mean_seconds_to_decision"] is not None
    assert done[0]["max_seconds_to_decision"] >= done[0]["mean_seconds_to_decision"] >= 0


def test_csv_and_the_cli(server, made):
    r = server.request("GET", f"/api/v1/t/default/reports/certificates?ca={CA}&format=csv")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv"), r.headers
    table = list(csv.reader(io.StringIO(r.body.decode())))
    assert table[0] == ["ca", "profile", "status", "count"]
    as_json = report(server, "certificates")["rows"]
    assert sorted(table[1:]) == sorted([x["ca"], x["profile"], x["status"], str(x["count"])]
                                       for x in as_json)
    p = server.cli("report", "certificates", "--ca", CA)
    assert "revoked" in p.stdout and "tls-client" in p.stdout, p.stdout
    p = server.cli("report", "revocations", "--ca", CA, "--format", "csv")
    assert p.stdout.splitlines()[0] == "ca,reason,count"
    p = server.cli("report", "daily", "--ca", CA, "--json")
    assert json.loads(p.stdout)["report"] == "daily"


def test_bad_reports_are_refused_and_a_requester_may_not_read_them(server, made):
    server.api("GET", "/reports/everything", expect=404)
    server.api("GET", "/reports/expiring?days=0", expect=400)
    server.api("GET", "/reports/daily?from=2026-12-01T00:00:00Z&to=2026-11-01T00:00:00Z",
               expect=400)
    server.api("GET", "/reports/daily?from=yesterday", expect=400)
    server.api("GET", "/reports/daily?format=xml", expect=400)
    req = server.api("POST", "/principals", {"name": "rep-requester", "kind": "application"},
                     expect=201)["id"]
    server.api("POST", "/roles/bind", {"principal": req, "role": "requester"}, expect=201)
    token = own_token(server, req, "rep-requester")
    server.api("GET", "/reports/certificates", expect=403, token=token)
