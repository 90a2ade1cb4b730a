"""A slowloris on loopback, for test_connection_limits.py (run as its own process so that it
does not share the measuring process's interpreter lock).

    slowloris.py PORT SECONDS ADDRESS... --per-address N --interval S

From each source ADDRESS (127.0.0.0/8) it opens N connections to 127.0.0.1:PORT, each sending
an unfinished request header, then one more byte of it every S seconds; a connection the
server closes is opened again, as a slowloris does.  It stops after SECONDS and prints JSON:
how many connections it opened, how many the server closed at once (refused), how many it
closed later (cut), the longest life of a connection that kept sending, and how many of each
address's first connections the server kept (admitted)."""
import json
import os
import resource
import socket
import sys
import time

HEAD = b"GET /crl/default/x HTTP/1.1\r\nHost: x\r\nX-Slow: "


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 65536)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


class Slow:
    def __init__(self, source, port, stats):
        self.source = source
        self.started = time.monotonic()
        self.sock = socket.socket()
        self.sock.bind((source, 0))
        self.sock.settimeout(2)
        stats["opened"] += 1
        self.kept = False  # seen open at a round after its start: the server admitted it
        try:
            self.sock.connect(("127.0.0.1", port))
            self.sock.sendall(HEAD)
            self.sock.setblocking(False)
            self.alive = True
        except OSError:
            self.alive = False

    def closed_by_peer(self):
        try:
            return self.sock.recv(4096) == b"" or False
        except BlockingIOError:
            return False
        except OSError:
            return True

    def trickle(self):
        try:
            self.sock.send(b"a")
            return True
        except OSError:
            return False


def main():
    args = sys.argv[1:]
    per = int(args[args.index("--per-address") + 1])
    interval = float(args[args.index("--interval") + 1])
    rest = [a for i, a in enumerate(args)
            if not a.startswith("--") and not args[i - 1].startswith("--")]
    port, seconds, sources = int(rest[0]), float(rest[1]), rest[2:]
    raise_fd_limit()
    stats = {"opened": 0, "refused": 0, "cut": 0, "longest": 0.0, "admitted": {}}
    conns = [Slow(src, port, stats) for src in sources for _ in range(per)]
    deadline = time.monotonic() + seconds
    first = True
    while time.monotonic() < deadline:
        time.sleep(interval)
        now = time.monotonic()
        for i, c in enumerate(conns):
            if not c.alive or c.closed_by_peer() or not c.trickle():
                if c.kept:
                    stats["cut"] += 1  # admitted, then closed by the server
                    stats["longest"] = max(stats["longest"], now - c.started)
                else:
                    stats["refused"] += 1  # closed by the server at once
                c.sock.close()
                conns[i] = Slow(c.source, port, stats)
            else:
                c.kept = True
                stats["longest"] = max(stats["longest"], now - c.started)
                if first:
                    stats["admitted"][c.source] = stats["admitted"].get(c.source, 0) + 1
        first = False
    stats["still_open"] = sum(1 for c in conns if c.alive and not c.closed_by_peer())
    for c in conns:
        c.sock.close()
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
