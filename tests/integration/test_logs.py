"""Logs as JSON lines (log_format = json), the access log at info level (access_log = yes) and
the request id: in the X-Request-Id answer header, on every line logged about the request, and
taken from a trusted proxy's X-Request-Id."""
import http.client
import json
import re

import pytest

from conftest import Server, wait_for

PROXY = "127.0.0.2"
RANDOM_ID = re.compile(r"^[0-9a-f]{12}$")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("vouch")),
               conf=f"log_format = json\naccess_log = yes\ntrusted_proxies = {PROXY}\n")
    yield s
    s.stop()


def lines(server):
    with open(server.log_path) as f:
        return [json.loads(l) for l in f if l.strip()]


def get(server, path, source="127.0.0.1", headers=None, token="admin"):
    """GET path on the API listener from source; (status, X-Request-Id)."""
    hdrs = dict(headers or {})
    if token:
        hdrs["Authorization"] = "Bearer " + (server.token if token == "admin" else token)
    c = http.client.HTTPConnection("127.0.0.1", server.api_port, timeout=30,
                                   source_address=(source, 0))
    c.request("GET", path, headers=hdrs)
    r = c.getresponse()
    r.read()
    c.close()
    return r.status, r.getheader("X-Request-Id")


def logged(server, request_id, **fields):
    """The lines about request_id with these fields, once there is one."""
    def found():
        return [l for l in lines(server) if l.get("request_id") == request_id
                and all(l.get(k) == v for k, v in fields.items())]
    return wait_for(found, timeout=10, what=f"a log line of request {request_id} with {fields}")


def test_every_line_is_one_json_object_with_time_level_and_message(server):
    get(server, "/api/v1/t/default/cas")
    all_lines = wait_for(lambda: lines(server), what="log lines")
    for l in all_lines:
        assert l["level"] in ("debug", "info", "warn", "error"), l
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", l["time"]), l
        assert isinstance(l["message"], str), l
    assert any("vouchd: API on" in l["message"] for l in all_lines)


def test_each_answer_has_an_access_line_with_its_request_id(server):
    status, rid = get(server, "/api/v1/t/default/cas")
    assert status == 200 and RANDOM_ID.match(rid), rid
    (line,) = logged(server, rid, event="access")
    assert line["level"] == "info" and line["tenant"] == "default", line
    assert (line["listener"], line["method"], line["path"], line["status"]) == \
        ("api", "GET", "/api/v1/t/default/cas", 200), line
    assert line["remote_addr"] == "127.0.0.1" and "proxy_addr" not in line, line
    assert line["duration_ms"] >= 0
    # a request with no route is logged too, with no tenant
    status, rid = get(server, "/nowhere")
    assert status == 404
    (line,) = logged(server, rid, event="access")
    assert line["status"] == 404 and "tenant" not in line, line


def test_a_line_logged_while_serving_a_request_names_it(server):
    """A refused credential is logged by the layer that refuses it (svc), inside the request:
    the line carries the request's id (the one the client got) and tenant."""
    status, rid = get(server, "/api/v1/t/default/cas", token="vt_not-a-token")
    assert status == 401
    refused = logged(server, rid, tenant="default")
    assert any(l["message"].startswith("refused") for l in refused), refused
    assert any(l.get("event") == "access" and l["status"] == 401 for l in refused), refused


def test_a_trusted_proxy_names_the_request_id_and_the_client(server):
    status, rid = get(server, "/api/v1/t/default/cas", source=PROXY,
                      headers={"X-Request-Id": "lb-7f3a.1:2", "X-Forwarded-For": "192.0.2.9"})
    assert status == 200 and rid == "lb-7f3a.1:2"
    (line,) = logged(server, rid, event="access")
    assert line["remote_addr"] == "192.0.2.9" and line["proxy_addr"] == PROXY, line


@pytest.mark.parametrize("source, sent", [
    ("127.0.0.1", "chosen-by-the-client"),  # not a trusted proxy: its header means nothing
    (PROXY, "has space"),                   # a proxy's id that is not of the form
    (PROXY, "x" * 65),                      # or too long
    (PROXY, "forged\"}, {\"level\": \"error"),
])
def test_an_id_from_anyone_else_or_malformed_is_replaced(server, source, sent):
    status, rid = get(server, "/api/v1/t/default/cas", source=source,
                      headers={"X-Request-Id": sent})
    assert status == 200 and rid != sent and RANDOM_ID.match(rid), rid
    logged(server, rid, event="access")
    assert not any(l.get("request_id") == sent for l in lines(server))
