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
import time
from urllib.parse import urlsplit

import pytest

from conftest import PG_URL, VOUCHD, Server, free_port


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
                            stdout=subprocess.PIPE, stderr=log, text=True, env=server.env)
    log.close()
    return proc


def listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_log(server, pattern, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if re.search(pattern, open(server.log_path).read()):
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def stopped(tmp_path):
    """An initialised instance, stopped, whose database is moved to a port where nothing listens."""
    server = Server(str(tmp_path))
    server.stop()
    conf_set(server, database=f"postgresql://vouch@127.0.0.1:{free_port()}/vouch?connect_timeout=2")
    return server


def test_waits_opening_nothing_and_stops_on_sigterm(stopped):
    conf_set(stopped, database_wait_seconds=60)
    proc = start(stopped)
    try:
        assert wait_log(stopped, r"waiting for the database"), open(stopped.log_path).read()
        time.sleep(1.5)
        assert proc.poll() is None, "vouchd gave up instead of waiting"
        # Nothing is served while there is no database: no listener, no ports line.
        assert not listening(stopped.api_port)
        assert not listening(stopped.public_port)
        assert not select.select([proc.stdout], [], [], 0)[0]
        started = time.time()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 1
        assert time.time() - started < 5, "SIGTERM did not end the wait"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "stopped while waiting for the database" in open(stopped.log_path).read()


def test_gives_up_after_database_wait_seconds(stopped):
    conf_set(stopped, database_wait_seconds=2)
    started = time.time()
    proc = start(stopped)
    try:
        assert proc.wait(30) == 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert time.time() - started >= 2
    assert re.search(r"database: .*cannot connect", open(stopped.log_path).read())


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
        ready = select.select([proc.stdout], [], [], 20)[0]
        assert ready, "vouchd did not start once the database answered"
        assert '"api_port"' in proc.stdout.readline()
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
