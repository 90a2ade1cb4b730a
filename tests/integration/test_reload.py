"""SIGHUP reads vouchd.conf again: what may change while serving is applied without closing a
connection (log format, access log, trusted proxies, webhooks), what may not is named in the log
as waiting for a restart, and a file with an error changes nothing."""
import http.client
import json
import os
import signal

import pytest

from conftest import Server, wait_for


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("vouch")))
    s.conf_path = os.path.join(s.dir, "vouchd.conf")
    s.conf_text = open(s.conf_path).read()
    yield s
    s.stop()


def log_lines(server):
    with open(server.log_path) as f:
        return f.read().splitlines()


def reload(server, extra):
    """Writes the original configuration plus extra, sends SIGHUP and waits for the reload's
    summary line (or its error line); returns the lines logged since."""
    start = len(log_lines(server))
    with open(server.conf_path, "w") as f:
        f.write(server.conf_text + extra)
    server.proc.send_signal(signal.SIGHUP)

    def done():
        new = log_lines(server)[start:]
        return new if any("reload: " in l and ("read:" in l or "nothing changed" in l)
                          for l in new) else None
    return wait_for(done, timeout=30, what="the reload's summary in the log")


def get(conn, path, token, headers=None):
    conn.request("GET", path, headers={"Authorization": "Bearer " + token, **(headers or {})})
    r = conn.getresponse()
    r.read()
    return r


def test_reloadable_settings_apply_without_closing_a_connection(server):
    pid = server.proc.pid
    conn = http.client.HTTPConnection("127.0.0.1", server.api_port, timeout=30)
    assert get(conn, "/api/v1/t/default/cas", server.token).status == 200
    sock = conn.sock
    before = http.client.HTTPConnection("127.0.0.1", server.api_port, timeout=30,
                                        source_address=("127.0.0.2", 0))
    r = get(before, "/api/v1/t/default/cas", server.token, {"X-Request-Id": "lb-1"})
    assert r.status == 200 and r.getheader("X-Request-Id") != "lb-1"  # not trusted yet

    new = reload(server, "log_format = json\naccess_log = yes\ntrusted_proxies = 127.0.0.2\n"
                         "threads = 3\n")
    text = "\n".join(new)
    assert "reload: threads changed: it takes effect at the next restart" in text, text
    assert '"message":"reload: ' in text and "3 setting(s) applied, 1 waiting for a restart" \
        in text, text

    # the kept-alive connection was not closed: the same socket answers again
    assert get(conn, "/api/v1/t/default/cas", server.token).status == 200
    assert conn.sock is sock
    # the proxy is trusted now, and every line is JSON with the access line at info
    proxy = http.client.HTTPConnection("127.0.0.1", server.api_port, timeout=30,
                                       source_address=("127.0.0.2", 0))
    r = get(proxy, "/api/v1/t/default/cas", server.token,
            {"X-Request-Id": "lb-2", "X-Forwarded-For": "192.0.2.7"})
    assert r.status == 200 and r.getheader("X-Request-Id") == "lb-2"

    def access_line():
        for l in log_lines(server):
            if l.startswith("{") and json.loads(l).get("request_id") == "lb-2":
                return json.loads(l)
    line = wait_for(access_line, timeout=10, what="the proxy's request in the access log")
    assert line["event"] == "access" and line["remote_addr"] == "192.0.2.7", line
    assert server.proc.pid == pid and server.proc.poll() is None
    for c in (conn, before, proxy):
        c.close()


def test_a_configuration_with_an_error_changes_nothing(server):
    reload(server, "log_format = json\naccess_log = yes\n")
    new = reload(server, "log_format = json\naccess_log = yes\nlog_level = loud\n")
    assert any("log_level: debug, info, warn or error: nothing changed" in l for l in new), new
    assert server.request("GET", "/api/v1/t/default/cas").status == 200
    assert server.proc.poll() is None


def test_webhooks_are_turned_on_and_off_by_a_reload(server):
    hook = {"url": "http://127.0.0.1:9/hook"}
    r = server.request("PUT", "/api/v1/t/default/webhook", hook)
    assert r.status == 403 and "webhooks_enabled" in r.body.decode(), r.body
    reload(server, "webhooks_enabled = yes\n")
    assert server.request("PUT", "/api/v1/t/default/webhook", hook).status == 200
    reload(server, "")
    r = server.request("PUT", "/api/v1/t/default/webhook", hook)
    assert r.status == 403, r.body
