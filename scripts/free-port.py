#!/usr/bin/python3
"""Prints a loopback TCP port free now, for a server started next by a test or a script.

It is picked below the kernel's ephemeral range (net.ipv4.ip_local_port_range): a port from
that range, which binding port 0 gives, can be taken as the local end of any outgoing
connection between the pick and the server's bind.  tests/integration/conftest.py's
free_port() does the same."""
import random
import socket
import sys


def ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port():
    high = ephemeral_low() - 1
    for _ in range(200):
        port = random.randint(max(1024, high - 12000), high)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    sys.exit("no free loopback port below the ephemeral range")


if __name__ == "__main__":
    print(free_port())
