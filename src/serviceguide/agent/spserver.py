"""The HTTP side of ``[sp]``: ON-API 2.6 ``order`` and ``activationnotice`` under the configured
base path (``/onapi/2.6`` by default, so the portal's URL is ``http://HOST:PORT/onapi/2.6``),
plus the spec's endpoint list at the base itself. HTTP Basic auth on everything; errors are
``{"cause": …}`` as common/responses.md says. Served by uvicorn in a thread of the agent's
process; the work of a push runs in a worker thread with its own ``Desk`` (push.py), at most
``[sp] workers`` at a time."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import anyio
import uvicorn
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from serviceguide.agent.client import XspError
from serviceguide.agent.config import SpConfig
from serviceguide.agent.push import Desk, PushError
from serviceguide.agent.spbody import BadBody, check_notice, check_order, order_id

log = logging.getLogger("serviceguide.agent.sp")

BODY_MAX = 64 * 1024  # an order is a few hundred bytes; anything this large is not one
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
SPEC = "https://github.com/on-api/on-api/blob/master/2.6.0/spec_sp"


def _cause(status: int, cause: str, **headers: str) -> JSONResponse:
    return JSONResponse({"cause": cause}, status_code=status, headers=headers or None)


class BasicAuth:
    """The portal's credentials, against ``[sp] username`` and ``password`` or
    ``password_hash`` (argon2). A header that passed the argon2 check is remembered by its
    SHA-256, so that each push does not pay for argon2 again."""

    def __init__(self, sp: SpConfig) -> None:
        self.username = sp.username.encode()
        self.password = sp.password.encode()
        self.password_hash = sp.password_hash
        self._known: set[str] = set()
        self._lock = threading.Lock()

    def check(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or not encoded:
            return False
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).partition(b":")
        except (binascii.Error, ValueError):
            return False
        if not sep:
            return False
        user_ok = hmac.compare_digest(user, self.username)
        if not self.password_hash:
            return hmac.compare_digest(password, self.password) and user_ok
        digest = hashlib.sha256(header.encode()).hexdigest()
        with self._lock:
            if digest in self._known:
                return True
        good = _argon2_ok(self.password_hash, password)
        if good and user_ok:
            with self._lock:
                if len(self._known) >= 16:
                    self._known.clear()
                self._known.add(digest)
        return bool(good and user_ok)


def _argon2_ok(stored: str, password: bytes) -> bool:
    try:
        return bool(PasswordHasher().verify(stored, password))
    except (VerificationError, InvalidHashError):
        return False


class Desks:
    """Up to ``size`` desks, made when first needed and reused; one request per desk."""

    def __init__(self, make: Callable[[], Desk], size: int) -> None:
        self._make = make
        self._free: queue.LifoQueue[Desk] = queue.LifoQueue()
        self._all: list[Desk] = []
        self._lock = threading.Lock()
        self.limiter = anyio.CapacityLimiter(size)

    def prefill(self, size: int) -> None:
        """Make ``size`` desks now, with their KO clients, and log each in to the XSP API, so
        that the first pushes wait neither for a login (argon2 on the guide's side: slow by
        design) nor for setting up HTTP clients. A guide that cannot be reached now is no
        reason not to start: those desks log in when first used."""
        for _ in range(size):
            desk = self._make()
            with self._lock:
                self._all.append(desk)
            for coid in desk.agent.config.networks:
                desk.agent.onapi(coid)
            try:
                desk.agent.xsp.login()
            except XspError as e:
                log.warning("logging in to the XSP API ahead of the pushes: %s", e)
            self._free.put(desk)

    def run(self, work: Callable[[Desk], Any]) -> Any:
        try:
            desk = self._free.get_nowait()
        except queue.Empty:
            desk = self._make()
            with self._lock:
                self._all.append(desk)
        try:
            return work(desk)
        finally:
            self._free.put(desk)

    def close(self) -> None:
        with self._lock:
            for desk in self._all:
                desk.close()
            self._all.clear()


def create_sp_app(sp: SpConfig, desks: Desks) -> Starlette:
    auth = BasicAuth(sp)
    # One check at a time: an argon2 check holds 64 MiB and a core for tens of milliseconds,
    # and wrong passwords (never remembered) must not pile them up.
    auth_limiter = anyio.CapacityLimiter(1)
    base = sp.base_path

    async def dispatch(request: Request) -> Response:
        path = request.url.path
        if path != base and not path.startswith(base + "/"):
            return _cause(404, f"not found: the ON-API is under {base}/")
        header = request.headers.get("authorization", "")
        if not await anyio.to_thread.run_sync(auth.check, header, limiter=auth_limiter):
            log.warning(
                "refused credentials from %s", request.client.host if request.client else "?"
            )
            return _cause(
                401, "Invalid credentials", **{"WWW-Authenticate": 'Basic realm="ON-API"'}
            )
        endpoint = path[len(base) :].strip("/")
        if endpoint == "":
            if request.method not in ("GET", "HEAD"):
                return _cause(405, "method not allowed: GET", Allow="GET, HEAD")
            return JSONResponse(_endpoints(base))
        if endpoint not in ("order", "activationnotice"):
            return _cause(501, f"not implemented: {endpoint}")
        if request.method != "POST":
            return _cause(405, "method not allowed: POST", Allow="POST")
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > BODY_MAX:
                return _cause(413, f"body larger than {BODY_MAX} bytes")
        try:
            doc = json.loads(raw)
        except ValueError:
            return _cause(400, "body: not valid JSON")
        try:
            if endpoint == "order":
                ident = order_id(request.headers.get("x-order-id"), required=True)
                assert ident is not None
                check_order(doc)
            else:
                ident = order_id(request.headers.get("x-order-id"), required=False)
                check_notice(doc)
        except BadBody as e:
            log.info("%s refused: %s", endpoint, e.cause, extra={"order": None})
            return _cause(400, e.cause)
        try:
            if endpoint == "order":
                answer = await anyio.to_thread.run_sync(
                    desks.run, lambda d: d.order(ident, doc), limiter=desks.limiter
                )
                return JSONResponse(answer.body())
            await anyio.to_thread.run_sync(
                desks.run, lambda d: d.notice(ident, doc), limiter=desks.limiter
            )
            return Response(status_code=200)
        except PushError as e:
            headers = {"Retry-After": str(e.retry_after)} if e.retry_after else {}
            return _cause(e.status, e.cause, **headers)

    return Starlette(routes=[Route("/{path:path}", dispatch, methods=ALL_METHODS)])


def _endpoints(base: str) -> list[dict[str, str]]:
    """The spec's endpoint list (common/endpoints.md) for what the agent serves."""
    return [
        {
            "name": "order",
            "endpoint": f"{base}/order/",
            "version": "2.6",
            "documentation": f"{SPEC}/order.md",
        },
        {
            "name": "activationnotice",
            "endpoint": f"{base}/activationnotice/",
            "version": "2.6",
            "documentation": f"{SPEC}/ordernotice.md",
        },
    ]


class SpServer:
    """uvicorn on a socket bound here (so a port that is taken is an error at start, and port 0
    is a free port), serving in a thread until ``stop``."""

    def __init__(self, sp: SpConfig, desks: Desks) -> None:
        self.desks = desks
        self.sock = socket.socket(socket.AF_INET6 if ":" in sp.host else socket.AF_INET)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((sp.host, sp.port))
        except OSError:
            self.sock.close()
            raise
        self.host = sp.host
        self.port = int(self.sock.getsockname()[1])
        self.server = uvicorn.Server(
            uvicorn.Config(
                create_sp_app(sp, desks),
                log_config=None,
                access_log=False,
                lifespan="off",
                timeout_keep_alive=5,
                timeout_graceful_shutdown=int(sp.answer_within) + 5,
            )
        )
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, name="sp-server", daemon=True
        )

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise OSError(f"the ON-API server did not start on {self.url}")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()
        self.desks.close()


def start_sp(agent: Any) -> SpServer:
    """Serve ``agent.config.sp`` beside ``agent``'s loop: the desks share its order locks and
    its stop event, and have connections of their own."""
    from serviceguide.agent.runner import Agent

    cfg = agent.config
    sp: SpConfig = cfg.sp

    def make() -> Desk:
        worker = Agent(
            cfg,
            stop=agent.stop,
            locks=agent.locks,
            stale_after=agent.stale_after,
            quick=sp.answer_within,
        )
        return Desk(worker, sp)

    desks = Desks(make, sp.workers)
    desks.prefill(sp.workers)
    server = SpServer(sp, desks)
    server.start()
    return server
