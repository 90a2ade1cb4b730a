"""vouchd waits at start for a database it cannot reach (database_wait_seconds).

A node started with its cluster, or while a failover elects the new primary,
must not give up at once: it tries again every second, opens no listener
until the database answers, stops waiting on SIGTERM, and exits (status 1)
when the wait runs out.  See docs/deployment.md.
"""
import os
import re
import select
import signal
import socket
import subprocess
import threading
from urllib.parse import urlsplit

import pytest

from conftest import PG_URL, VOUCHD, Server, free_port, read_line, wait_for


def conf_set(server, **values):
    """Replaces (or adds) settings in the instance's vouchd.conf."""
    path = os.path.join(server.dir, "vouchd.conf")
    text = open(path).read()
    for key, value in values.items():
        line = f"{key} = {value}"
        text, n = re.subn(rf"(?m)^{key}\s*=.*$", line, text)
        if n == 0:
            text += line + "\n"
    open(path, "w").write(text)


def start(server):
    log = open(server.log_path, "a")
    proc = subprocess.Popen([VOUCHD, "-c", os.path.join(server.dir, "vouchd.conf")],
                            stdout=subprocess.PIPE, stderr=log, env=server.env)
    log.close()
    return proc


def listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_log(server, pattern, seconds=10):
    return wait_for(lambda: re.search(pattern, open(server.log_path).read()), seconds,
                    f"{pattern!r} in vouchd's log")


class Refuser:
    """A 'database' that accepts each connection and closes it at once, counting them: every
    attempt vouchd makes to open its database is one connection here."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", free_port()))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.attempts = 0
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.attempts += 1
            client.close()

    def close(self):
        self.listener.close()


@pytest.fixture
def stopped(tmp_path):
    """An initialised instance, stopped, whose database is a Refuser; (server, refuser)."""
    server = Server(str(tmp_path))
    server.stop()
    refuser = Refuser()
    conf_set(server, database=f"postgresql://vouch@127.0.0.1:{refuser.port}/vouch"
                              "?connect_timeout=2")
    yield server, refuser
    refuser.close()


def test_waits_opening_nothing_and_stops_on_sigterm(stopped):
    server, refuser = stopped
    conf_set(server, database_wait_seconds=60)
    proc = start(server)
    try:
        wait_log(server, r"waiting for the database")
        # It keeps trying (once a second) instead of giving up.
        wait_for(lambda: refuser.attempts >= 3 or proc.poll() is not None, 30,
                 "three attempts to open the database")
        assert proc.poll() is None, "vouchd gave up instead of waiting"
        # Nothing is served while there is no database: no listener, no ports line.
        assert not listening(server.api_port)
        assert not listening(server.public_port)
        assert not select.select([proc.stdout], [], [], 0)[0]
        proc.send_signal(signal.SIGTERM)
        # With 60 s of waiting left, only the signal can end it within the deadline.
        assert proc.wait(20) == 1, "SIGTERM did not end the wait"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "stopped while waiting for the database" in open(server.log_path).read()


def test_gives_up_after_database_wait_seconds(stopped):
    """database_wait_seconds = 2: a first attempt and at least one more a second later, then
    status 1 naming the database."""
    server, refuser = stopped
    conf_set(server, database_wait_seconds=2)
    proc = start(server)
    try:
        assert proc.wait(30) == 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert refuser.attempts >= 2, "vouchd gave up without trying again"
    assert re.search(r"database: .*cannot connect", open(server.log_path).read())


class Forwarder:
    """A TCP relay from a loopback port to the test's PostgreSQL server: the 'database coming up'."""

    def __init__(self, port, target):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(64)
        self.target = target
        self.sockets = []
        self.running = True
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while self.running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self.pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.running = False
        self.listener.close()
        for s in self.sockets:
            s.close()


@pytest.mark.runs_in("integration-pg", why="the database that comes late is PostgreSQL")
@pytest.mark.skipif(not PG_URL, reason="needs the PostgreSQL server of make integration-pg")
def test_starts_when_the_database_comes(tmp_path):
    server = Server(str(tmp_path))
    server.stop()
    pg = urlsplit(PG_URL)
    port = free_port()
    conf_set(server, database=f"{PG_URL.replace(pg.netloc, f'vouch@127.0.0.1:{port}')}"
                              f"/{server.pg_database}",
             database_wait_seconds=60)
    proc = start(server)
    forwarder = None
    try:
        assert wait_log(server, r"waiting for the database")
        assert proc.poll() is None and not listening(server.api_port)
        forwarder = Forwarder(port, (pg.hostname, pg.port))
        line = read_line(proc, 30, "vouchd once the database answered")
        assert '"api_port"' in line, line
        status = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                 f"http://127.0.0.1:{server.api_port}/readyz"],
                                capture_output=True, text=True, timeout=30).stdout
        assert status == "200"
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if forwarder:
            forwarder.close()
