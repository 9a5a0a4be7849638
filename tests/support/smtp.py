"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it accepts, for mail tests."""

from __future__ import annotations

import asyncio
import email
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.servers import free_port


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage

    @property
    def order_id(self) -> int:
        """The TL's order mail's order; 0 for a customer's receipt (it has several)."""
        value = self.message["X-Order-ID"]
        return int(str(value)) if value is not None else 0

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    def text(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content())  # type: ignore[attr-defined]

    def html(self) -> str:
        part = self.message.get_body(("html",))
        assert part is not None
        return str(part.get_content())  # type: ignore[attr-defined]


@dataclass
class Sink:
    """What the server accepted, and how it behaves.

    ``refuse``: an SMTP reply (e.g. ``"550 …"``) given to every DATA instead of accepting it.
    ``gate``: when set up (``hold()``), accepted messages are recorded and then held before the
    server answers, until ``release()`` — a relay killed meanwhile has had its message accepted
    without learning it.
    """

    port: int
    refuse: str | None = None
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _gate: threading.Event | None = None
    _held: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def messages(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def by_order(self) -> dict[int, list[Received]]:
        """The TL's order mails (those with ``X-Order-ID``), by order."""
        out: dict[int, list[Received]] = {}
        for r in self.messages():
            if r.message["X-Order-ID"] is not None:
                out.setdefault(r.order_id, []).append(r)
        return out

    def receipts(self) -> list[Received]:
        """The customers' receipts."""
        return [r for r in self.messages() if r.message_id.startswith("<receipt-")]

    def hold(self) -> None:
        self._gate = threading.Event()

    def release(self) -> None:
        if self._gate is not None:
            self._gate.set()

    def wait_held(self, count: int, timeout: float = 30.0) -> None:
        """Block until ``count`` messages are being held."""
        for _ in range(count):
            if not self._held.acquire(timeout=timeout):
                raise TimeoutError(f"fewer than {count} messages reached the SMTP server")

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return self.refuse
        raw = bytes(envelope.original_content or envelope.content)
        msg = email.message_from_bytes(raw, policy=default)
        assert isinstance(msg, EmailMessage)
        with self._lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), raw, msg))
        gate = self._gate
        if gate is not None:
            self._held.release()
            while not gate.is_set():
                await asyncio.sleep(0.01)
        return "250 OK: queued"


@contextmanager
def smtp_server(port: int | None = None, *, refuse: str | None = None) -> Iterator[Sink]:
    """An SMTP server on 127.0.0.1 (a free port unless given) until the block ends."""
    sink = Sink(port=port or free_port(), refuse=refuse)
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        sink.release()
        controller.stop()
