"""A TL's ON-API ``products`` endpoint for tests, on a real loopback port: it serves whatever
document (or raw body and status) the test sets, checks HTTP Basic auth and records every
request, so a test can see how many reads arrived and with which credentials. It also takes
``order`` pushes (answered CONFIRMED) and keeps their bodies, to see which product and offering
an order names."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.servers import free_port


@dataclass
class ProductsServer:
    url: str = ""  # the ON-API base: {url}/products/ is served
    username: str = "sim"
    password: str = "sim"
    document: Any = None
    raw: bytes | None = None  # served instead of the document
    status: int = 200
    requests: list[dict[str, str]] = field(default_factory=list)
    orders: list[Any] = field(default_factory=list)  # the bodies of pushed orders
    lock: threading.Lock = field(default_factory=threading.Lock)

    def serve(self, document: Any) -> None:
        self.document, self.raw, self.status = document, None, 200

    @property
    def reads(self) -> int:
        with self.lock:
            return len(self.requests)


def _handler(server: ProductsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            with server.lock:
                server.requests.append(
                    {"path": self.path, "authorization": self.headers.get("Authorization", "")}
                )
            if self.path != "/onapi/2.6/products/":
                self._send(404, b'{"cause": "no such endpoint"}')
                return
            expected = base64.b64encode(f"{server.username}:{server.password}".encode()).decode()
            if self.headers.get("Authorization") != f"Basic {expected}":
                self._send(401, b'{"cause": "invalid credentials"}')
                return
            if server.raw is not None:
                self._send(server.status, server.raw)
                return
            self._send(server.status, json.dumps(server.document).encode())

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path != "/onapi/2.6/order/":
                self._send(404, b'{"cause": "no such endpoint"}')
                return
            with server.lock:
                server.orders.append(json.loads(body))
            self._send(200, b'{"state": "CONFIRMED", "externalMessage": "Tack!"}')

    return Handler


@contextmanager
def products_server() -> Iterator[ProductsServer]:
    port = free_port()
    state = ProductsServer(url=f"http://127.0.0.1:{port}/onapi/2.6")
    httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler(state))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
