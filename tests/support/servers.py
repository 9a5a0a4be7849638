"""Real HTTP servers on 127.0.0.1 inside the test process, for peers outside the system (a KO)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ReservedPort:
    """A loopback port for a server that a test switches off and on again.

    While the server is off, a socket bound to the port (and not listening) keeps it: a
    connection to it is refused, as to a closed port, but no other process — another test of a
    parallel run asking for a free port, or a client's outgoing connection — can take the port
    meanwhile and keep the server from coming back on it."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self.hold()
        assert self._sock is not None
        self.port = int(self._sock.getsockname()[1])

    def hold(self) -> None:
        """Keep the port (the server is off). SO_REUSEADDR lets it be bound while the stopped
        server's last connections are in TIME_WAIT; a port asked for with bind(0) or taken by
        an outgoing connection is never one that is bound."""
        if self._sock is not None:
            return
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", getattr(self, "port", 0)))
        except OSError:
            sock.close()  # taken meanwhile: the server's own bind will say so
            return
        self._sock = sock

    def release(self) -> None:
        """Let go of the port, for the server to bind it right away."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None


@contextmanager
def serve_in_thread(app: Any, *, lifespan: bool = False, port: int | None = None) -> Iterator[str]:
    """Serve an ASGI app on a free loopback port (or ``port``) until the block ends; yields its
    base URL. ``lifespan``: run the app's startup and shutdown (serviceguide's app opens its
    database there, on the server thread's own event loop)."""
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on" if lifespan else "off",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
