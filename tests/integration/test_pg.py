"""PostgreSQL only (make integration-pg): what nodes sharing one database rely on.

A second vouchd on the first one's configuration (other ports) is a second node of a
cluster: numbers that must be unique or strictly increasing come from the database, the
audit chain stays one chain, and a node survives its connections being cut.
"""
import os
import re
import subprocess
import threading
import time

import pytest

from conftest import (PG_URL, holds_for, make_csr, other_tenant, pg_admin, port_hold,
                      vouchd_start, wait_for)

pytestmark = [
    pytest.mark.runs_in("integration-pg", why="several nodes on one database need PostgreSQL"),
    pytest.mark.skipif(not PG_URL, reason="PostgreSQL only (make integration-pg)")]


class Node:
    """Another vouchd on server's configuration and database."""

    def __init__(self, server, base):
        # Its ports held by the test and bound by vouchd beside the holders (listen_reuse_port
        # is in the configuration it shares with server).
        self.holds = [port_hold(), port_hold()]
        self.api_port, self.public_port = (h.getsockname()[1] for h in self.holds)
        conf = open(os.path.join(server.dir, "vouchd.conf")).read()
        conf = re.sub(r"(?m)^api_port = .*$", f"api_port = {self.api_port}", conf)
        conf = re.sub(r"(?m)^public_port = .*$", f"public_port = {self.public_port}", conf)
        self.conf = os.path.join(base, "node2.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.log = open(os.path.join(base, "node2.log"), "w")
        self.proc, ports = vouchd_start(self.conf, server.env, self.log, "second node")
        assert ports["api_port"] == self.api_port, ports
        self.url = f"http://127.0.0.1:{self.api_port}"

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.log.close()
        for h in self.holds:
            h.close()


@pytest.fixture(scope="module")
def node2(server, tmp_path_factory):
    n = Node(server, str(tmp_path_factory.mktemp("node2")))
    yield n
    n.stop()


def both(server, node2, n, fn):
    """Runs fn(base_url, i) n times on each node at once; the results."""
    out = []
    lock = threading.Lock()

    def run(base, k):
        for i in range(n):
            r = fn(base, k * n + i)
            with lock:
                out.append(r)

    threads = [threading.Thread(target=run, args=(b, k))
               for k, b in enumerate((server.url, node2.url))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_crl_numbers_from_two_nodes_are_unique_and_the_latest_is_the_highest(server, node2):
    server.api("POST", "/cas", {"name": "pgcrl", "subject": "/CN=PG CRL", "parent": "root"},
               expect=201)

    def publish(base, i):
        return server.request("POST", "/api/v1/t/default/cas/pgcrl/crl", {}, base=base)

    results = both(server, node2, 8, publish)
    assert all(r.status == 201 for r in results), [(r.status, r.body) for r in results]
    numbers = [r.json()["number"] for r in results]
    assert len(set(numbers)) == len(numbers)
    assert server.api("GET", "/cas/pgcrl/crl")["number"] == max(numbers)


def test_certificates_issued_on_two_nodes_at_once_all_succeed_and_the_audit_chain_holds(
        server, node2):
    def issue(base, i):
        csr, _ = make_csr(cn=f"n{i}.example", dns=[f"n{i}.example"])
        return server.request("POST", "/api/v1/t/default/certificates",
                              {"ca": "issuing", "profile": "tls-server", "csr": csr}, base=base)

    results = both(server, node2, 10, issue)
    assert all(r.status == 201 for r in results), [(r.status, r.body) for r in results]
    serials = {r.json()["serial"] for r in results}
    assert len(serials) == len(results)
    assert server.api("GET", "/audit/verify")["ok"] is True


def test_one_idempotency_key_sent_to_two_nodes_at_once_issues_one_certificate(server, node2):
    csr, _ = make_csr(cn="idem-two.example", dns=["idem-two.example"])
    body = {"ca": "issuing", "profile": "tls-server", "csr": csr}

    def issue(base, i):
        return server.request("POST", "/api/v1/t/default/certificates", body, base=base,
                              headers={"Idempotency-Key": "two-nodes-1"})

    results = both(server, node2, 4, issue)
    assert all(r.status == 201 for r in results), [(r.status, r.body) for r in results]
    assert len({r.json()["serial"] for r in results}) == 1
    listed = server.api("GET", "/certificates?san=idem-two.example")["certificates"]
    assert len(listed) == 1


def test_a_node_replaces_connections_the_server_cut(server):
    server.api("GET", "/cas")
    pg_admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
             f"WHERE datname = '{server.pg_database}' AND pid <> pg_backend_pid()")
    for _ in range(5):
        server.api("GET", "/cas")
    assert server.request("GET", "/readyz", token=None).status == 200


def test_readyz_fails_while_the_database_cannot_be_reached_and_recovers(server):
    db = server.pg_database
    pg_admin(f"ALTER DATABASE {db} ALLOW_CONNECTIONS false")
    try:
        pg_admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                 f"WHERE datname = '{db}' AND pid <> pg_backend_pid()")
        r = server.request("GET", "/readyz", token=None)
        assert r.status == 503, r.body
        assert r.json()["database"] != "ok"
    finally:
        pg_admin(f"ALTER DATABASE {db} ALLOW_CONNECTIONS true")
    r = server.request("GET", "/readyz", token=None)
    assert r.status == 200, r.body
    server.api("GET", "/cas")


def test_a_due_crl_is_published_by_one_node_only(server, node2):
    def runs():
        return [e for e in server.audit()
                if e["action"] == "crl.generate" and e["actor"] == "scheduler"
                and e["object"] == "pglease"]

    def wait_for_runs(n):
        wait_for(lambda: len(runs()) >= n, 30, f"{n} scheduled CRL run(s)")
        # No second run while both schedulers (each every second) look three times more.
        holds_for(lambda: len(runs()) <= n, 3, "one scheduled run")
        return runs()

    server.api("POST", "/cas", {"name": "pglease", "subject": "/CN=PG lease", "parent": "root"},
               expect=201)
    # Take the CA's first CRL away: both nodes' schedulers (every second) find it due.
    server.sql("DELETE FROM crls WHERE tenant = 'default' AND ca = 'pglease'")
    done = wait_for_runs(1)
    assert len(done) == 1, [(e["seq"], e["time"], e["detail"]) for e in done]
    (holder,) = server.sql("SELECT holder FROM leases WHERE tenant = 'default' "
                           "AND job = 'crl/pglease'")
    # A node's name on leases: "<host>:<api port>:<public port>", the same after a restart.
    assert holder[0].split(":", 1)[1] in (f"{server.api_port}:{server.public_port}",
                                          f"{node2.api_port}:{node2.public_port}"), holder


def test_due_ocsp_responses_are_presigned_by_the_node_holding_the_lease(server, node2):
    for i in range(3):
        csr, _ = make_csr(cn=f"due{i}.example", dns=[f"due{i}.example"])
        server.api("POST", "/certificates", {"ca": "issuing", "profile": "tls-server",
                                             "csr": csr}, expect=201)
    server.sql("DELETE FROM leases WHERE tenant = 'default' AND job = 'ocsp/issuing'")
    # Every response of the CA due now: both nodes' pre-signers (every second) see them.
    server.sql("UPDATE ocsp_responses SET refresh_at = 0 WHERE tenant = 'default' "
               "AND ca = 'issuing'")
    wait_for(lambda: server.sql(
        "SELECT count(*) FROM ocsp_responses WHERE tenant = 'default' AND ca = 'issuing' "
        "AND refresh_at = 0")[0][0] == "0", 20, "every due response pre-signed")
    assert server.sql("SELECT count(*) FROM ocsp_responses WHERE tenant = 'default' "
                      "AND ca = 'issuing' AND refresh_at = 0")[0][0] == "0"
    (holder,) = server.sql("SELECT holder FROM leases WHERE tenant = 'default' "
                           "AND job = 'ocsp/issuing'")
    assert holder[0].split(":", 1)[1] in (f"{server.api_port}:{server.public_port}",
                                          f"{node2.api_port}:{node2.public_port}"), holder


def test_two_nodes_share_a_tenants_api_rate(server, node2):
    """Each node holds a presence lease; a tenant's requests_per_second is split between the
    nodes holding one, so two nodes together admit the rate, not twice it."""
    token = other_tenant(server, "shared")
    r = server.request("PUT", "/api/v1/tenants/shared/limits", {"requests_per_second": 4},
                       token="system")
    assert r.status == 200, r.body
    # Wait until node 1 knows of both nodes (presence is renewed every 5 s).
    def shared():
        r = server.request("GET", "/api/v1/t/shared/cas", token=token)
        return r.status == 429 and "shared by 2 nodes" in r.json()["detail"]
    wait_for(shared, 20, "node 1 to count both nodes", interval=0)
    # Both buckets refill: each node serves the tenant again.
    for base in (server.url, node2.url):
        wait_for(lambda: server.request("GET", "/api/v1/t/shared/cas", token=token,
                                        base=base).status == 200, 10, f"{base} to serve again")
    counts = {server.url: 0, node2.url: 0}
    start = time.monotonic()
    while time.monotonic() - start < 2.0:
        for base in counts:
            r = server.request("GET", "/api/v1/t/shared/cas", token=token, base=base)
            assert r.status in (200, 429), r.body
            counts[base] += r.status == 200
    elapsed = time.monotonic() - start
    # Each node: a bucket of 2 (its share of 4), refilled at 2 a second.
    for base, n in counts.items():
        assert 1 <= n <= 2 + 2 * elapsed + 1, (base, counts, elapsed)
    assert sum(counts.values()) <= 4 + 4 * elapsed + 2, (counts, elapsed)
    r = server.request("PUT", "/api/v1/tenants/shared/limits", {"requests_per_second": 0},
                       token="system")
    assert r.status == 200, r.body


def test_an_acme_nonce_from_one_node_is_accepted_once_by_any_node(server, node2):
    """ACME needs no sticky sessions: a nonce handed out by one node is good on the other, once;
    replayed on either node it is badNonce."""
    from acme_client import Client, jws
    server.api("POST", "/acme/endpoints", {"name": "pg", "ca": "issuing", "caa_check": False,
                                           "profiles": [{"name": "tls-server"}]}, expect=201)
    c1 = Client(f"{server.url}/acme/default/pg/directory", None)
    c1.new_account()
    acct = c1.kid.rsplit("/", 1)[1]
    order = {"identifiers": [{"type": "dns", "value": "two-nodes.example"}]}

    def signed(base, nonce):
        url = f"{base}/acme/default/pg/new-order"
        return url, jws(c1.key, url, order, nonce, kid=f"{base}/acme/default/pg/acct/{acct}")

    nonce = c1.new_nonce()  # from the first node
    url2, body2 = signed(node2.url, nonce)
    assert c1.request("POST", url2, body2).status == 201
    assert c1.request("POST", url2, body2).problem() == "badNonce"
    url1, body1 = signed(server.url, nonce)
    assert c1.request("POST", url1, body1).problem() == "badNonce"
    fresh = c1.new_nonce()
    url1, body1 = signed(server.url, fresh)
    assert c1.request("POST", url1, body1).status == 201
