"""Loopback ports for tests."""

import socket


def closed_port() -> int:
    """A loopback port nothing listens on: connecting to it fails at once, for real."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
