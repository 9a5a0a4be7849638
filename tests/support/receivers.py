"""Receivers for the fault-injection tests: an SMTP server and a webhook receiver on 127.0.0.1
that can be switched, while the system under test keeps sending, between

* ``up``: healthy;
* ``down``: the port is closed (connections are refused);
* failing: SMTP answers ``451`` (a temporary failure) to the message; the webhook receiver
  answers ``500``/``503``;
* slow: slower than the sender's timeout. For SMTP in two ways — ``tarpit`` (the server stalls
  before it has the message: ``RCPT`` is answered too late, nothing is accepted) and
  ``slow-ack`` (the server takes the whole message and keeps it, but answers the final dot too
  late: the sender cannot know it was accepted). The webhook receiver in ``slow`` mode reads and
  handles the request, then answers 200 too late. In ``drip`` mode it handles the request and
  answers at once, but sends its (short) answer one byte every ``drip_interval`` seconds: each
  read is quicker than the sender's timeout, the whole answer is not.

Everything received is kept with the mode it arrived in, so a test can tell an avoidable
duplicate (a message sent again although it had been accepted in time) from an unavoidable one
(a copy the receiver kept although it answered only after the sender had given up).
"""

from __future__ import annotations

import asyncio
import email
import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from aiosmtpd.controller import Controller

from tests.support.servers import ReservedPort
from tests.support.smtp import Received

SmtpMode = Literal["up", "down", "tempfail", "tarpit", "slow-ack"]
WebhookMode = Literal["up", "down", "failing", "slow", "drip"]

TEMPFAIL_REPLY = "451 4.3.0 Temporary failure, please try again later"
#: Webhook receivers reject signatures whose timestamp is further than this from their clock.
SIGNATURE_TOLERANCE = 300


# -- SMTP --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Copy:
    """One message the SMTP server accepted (kept), and whether it said so in time."""

    received: Received
    mode: str
    late: bool  # the 250 came after the sender's timeout (``slow-ack``)
    at: float  # time.time() when the server had the whole message

    @property
    def order_id(self) -> int:
        return self.received.order_id

    @property
    def message_id(self) -> str:
        return self.received.message_id


class SwitchableSmtp:
    """An SMTP server (aiosmtpd) on a fixed 127.0.0.1 port whose behaviour can be switched."""

    def __init__(self, slow_seconds: float) -> None:
        self._port = ReservedPort()
        self.port = self._port.port
        self.slow_seconds = slow_seconds
        self.mode: SmtpMode = "down"
        self.copies: list[Copy] = []
        #: What the server saw per mode: "tempfail" refusals, "tarpit" stalls, "slow-ack" late 250s.
        self.seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def set_mode(self, mode: SmtpMode) -> None:
        if mode == "down":
            self._stop()
        elif self._controller is None:
            controller = Controller(_SmtpHandler(self), hostname="127.0.0.1", port=self.port)
            self._port.release()
            controller.start()
            self._controller = controller
        self.mode = mode

    def _stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        self._port.hold()

    def close(self) -> None:
        self._stop()
        self._port.release()

    def messages(self) -> list[Copy]:
        with self._lock:
            return list(self.copies)

    def by_order(self) -> dict[int, list[Copy]]:
        """The TL's order mails, by order (the customers' receipts aside)."""
        out: dict[int, list[Copy]] = {}
        for c in self.messages():
            if c.order_id:
                out.setdefault(c.order_id, []).append(c)
        return out

    def _keep(self, copy: Copy) -> None:
        with self._lock:
            self.copies.append(copy)

    def _saw(self, what: str) -> None:
        with self._lock:
            self.seen[what] += 1


class _SmtpHandler:
    def __init__(self, owner: SwitchableSmtp) -> None:
        self.owner = owner

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.owner.mode == "tarpit":
            self.owner._saw("tarpit")
            await asyncio.sleep(self.owner.slow_seconds)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mode = self.owner.mode
        if mode == "tempfail":
            self.owner._saw("tempfail")
            return TEMPFAIL_REPLY
        raw = bytes(envelope.original_content or envelope.content)
        msg = email.message_from_bytes(raw, policy=default)
        assert isinstance(msg, EmailMessage)
        late = mode == "slow-ack"
        received = Received(envelope.mail_from, list(envelope.rcpt_tos), raw, msg)
        # Kept before answering, like an MTA that has queued the message when the dot arrives.
        self.owner._keep(Copy(received, mode, late, time.time()))
        if late:
            self.owner._saw("slow-ack")
            await asyncio.sleep(self.owner.slow_seconds)
        return "250 OK: queued"


@contextmanager
def switchable_smtp(slow_seconds: float, mode: SmtpMode = "up") -> Iterator[SwitchableSmtp]:
    smtp = SwitchableSmtp(slow_seconds)
    smtp.set_mode(mode)
    try:
        yield smtp
    finally:
        smtp.close()


# -- webhooks ----------------------------------------------------------------------------------


def verify_signature(secret: str, headers: Any, body: bytes) -> bool:
    """docs/notifications.md, "Verifying a delivery", verbatim in substance."""
    timestamp = headers.get("X-Serviceguide-Timestamp", "")
    signature = headers.get("X-Serviceguide-Signature", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > SIGNATURE_TOLERANCE:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest("v1=" + expected.hexdigest(), signature)


@dataclass(frozen=True)
class Delivery:
    """One webhook request as the receiver got it, and what it answered."""

    path: str
    event_id: int | None
    event_type: str | None
    body: dict[str, Any] | None
    signature_ok: bool
    status: int
    mode: str
    late: bool  # answered (200) only after the sender's timeout
    at: float

    @property
    def accepted_in_time(self) -> bool:
        return 200 <= self.status < 300 and not self.late


@dataclass
class WebhookReceiver:
    """A small HTTP server in a thread on 127.0.0.1 that checks every request's signature with
    the secret registered for its path (``secrets[path]``)."""

    slow_seconds: float
    _port: ReservedPort = field(default_factory=ReservedPort)
    secrets: dict[str, str] = field(default_factory=dict)
    mode: WebhookMode = "down"
    failing_statuses: tuple[int, ...] = (500, 503)
    drip_interval: float = 0.5
    drip_bytes: int = 12
    deliveries: list[Delivery] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _failures: int = 0

    @property
    def port(self) -> int:
        return self._port.port

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def set_mode(self, mode: WebhookMode) -> None:
        if mode == "down":
            self._stop()
        elif self._server is None:
            self._port.release()
            server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_for(self))
            server.daemon_threads = True
            server.block_on_close = False  # type: ignore[attr-defined]
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
            thread.daemon = True
            thread.start()
            self._server, self._thread = server, thread
        self.mode = mode

    def _stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join(10)
            self._server = self._thread = None
        self._port.hold()

    def close(self) -> None:
        self._stop()
        self._port.release()

    def received(self) -> list[Delivery]:
        with self._lock:
            return list(self.deliveries)

    def by_event(self) -> dict[tuple[str, int], list[Delivery]]:
        """(path, event id) → every request for it."""
        out: dict[tuple[str, int], list[Delivery]] = {}
        for d in self.received():
            if d.event_id is not None:
                out.setdefault((d.path, d.event_id), []).append(d)
        return out

    def _answer_for(self, mode: str) -> int:
        if mode != "failing":
            return 200
        with self._lock:
            self._failures += 1
            return self.failing_statuses[self._failures % len(self.failing_statuses)]

    def _record(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)


def _handler_for(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            mode = receiver.mode
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = self.path.strip("/")
            secret = receiver.secrets.get(path)
            ok = secret is not None and verify_signature(secret, self.headers, body)
            doc: dict[str, Any] | None = None
            if ok:  # parse only what is genuine, as a receiver should
                doc = json.loads(body)
            status = receiver._answer_for(mode) if ok else 401
            late = ok and mode in ("slow", "drip")
            receiver._record(
                Delivery(
                    path=path,
                    event_id=doc["id"] if doc else None,
                    event_type=self.headers.get("X-Serviceguide-Event"),
                    body=doc,
                    signature_ok=ok,
                    status=status,
                    mode=mode,
                    late=late,
                    at=time.time(),
                )
            )
            if late and mode == "slow":
                time.sleep(receiver.slow_seconds)
            dripping = late and mode == "drip"
            try:
                self.send_response(status)
                self.send_header("Content-Length", str(receiver.drip_bytes if dripping else 0))
                self.end_headers()
                self.wfile.flush()
                for _ in range(receiver.drip_bytes if dripping else 0):
                    time.sleep(receiver.drip_interval)
                    self.wfile.write(b".")
                    self.wfile.flush()
            except OSError:
                pass  # the sender gave up (slow mode): what a real receiver would see

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def webhook_receiver(slow_seconds: float, mode: WebhookMode = "up") -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(slow_seconds)
    receiver.set_mode(mode)
    try:
        yield receiver
    finally:
        receiver.close()
