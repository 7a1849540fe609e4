"""Ports on 127.0.0.1 for the servers the tests start."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator

# pytest-xdist runs one worker per core, each starting servers of its own. A port picked by the
# kernel (bind to port 0) is free when picked but not reserved: another worker could pick the
# same one before the server binds it. Each worker therefore picks from its own block of ports
# below the kernel's ephemeral range (32768 and up), which outgoing connections never take.
FIRST_PORT = 20_000
BLOCK = 1_000
_next: list[int] = []


def _worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")  # "gw0", "gw1", ...
    return int(worker[2:]) if worker[2:].isdigit() else 0


def free_port() -> int:
    """A port of 127.0.0.1 that is free now and that no other test worker will hand out."""
    start = FIRST_PORT + BLOCK * _worker_index()
    if not _next:
        _next.append(start)
    for _ in range(BLOCK):
        port = _next[0]
        _next[0] = start + (port + 1 - start) % BLOCK
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # in use: a server of an earlier test, or something else
            return port
    raise RuntimeError(f"no free port in 127.0.0.1:{start}..{start + BLOCK - 1}")


@contextlib.contextmanager
def stalled_server() -> Iterator[str]:
    """An HTTP address on 127.0.0.1 that accepts connections and never answers (a hung
    service): connections complete in the listen backlog and wait there."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port()))
        sock.listen(64)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def wait_for_port(port: int, deadline_seconds: float = 120.0) -> None:
    """Until something listens on 127.0.0.1:port (a generous deadline: busy machines)."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
