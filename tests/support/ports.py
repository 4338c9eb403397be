"""Loopback ports for tests."""

import random
import socket
from pathlib import Path

# Where the kernel takes ports for `bind(port 0)` and outgoing connections.
_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")


def closed_port() -> int:
    """A loopback port nothing listens on: connecting to it fails at once, for real."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_for_a_server() -> int:
    """A free loopback port for a server that binds it later (Rasa takes half a minute).

    Chosen below the kernel's ephemeral range: a port from there, once released, can be
    handed to any test's outgoing connection or `bind(0)` before the server binds it;
    below it, only another explicit choice could take it."""
    try:
        low = int(_EPHEMERAL.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    chooser = random.SystemRandom()
    for _ in range(200):
        port = chooser.randrange(max(1024, low - 12000), low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port below the ephemeral range")
