"""A TL's ON-API 2.6 endpoints for the push tests: a recording server on 127.0.0.1 whose answer
can be switched — ``confirm`` (answers ``{"state": "CONFIRMED", …}``), ``status`` (the same
with ``status`` instead of ``state``), ``reject``, ``500``, ``garbage`` (not JSON), ``nostate``
(JSON without a state) — and delayed (``delay`` seconds, e.g. past the guide's timeout). It
keeps every request it was sent, also those it answered after the sender had given up; while
``down`` it is not listening (connections are refused)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.servers import serve_in_thread

Mode = Literal["confirm", "status", "reject", "500", "garbage", "nostate"]
MESSAGES = {
    "confirm": "Tack! Tjänsten aktiveras i dag.",
    "status": "Tack! Tjänsten aktiveras i dag.",
    "reject": "Erbjudandet finns inte på din adress.",
}


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def order_id(self) -> int:
        return int(self.headers["x-order-id"])

    @property
    def basic(self) -> tuple[str, str] | None:
        scheme, _, encoded = self.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        user, _, password = base64.b64decode(encoded).decode().partition(":")
        return user, password


@dataclass
class RecordingSp:
    url: str = ""
    mode: Mode = "confirm"
    delay: float = 0.0
    calls: list[Call] = field(default_factory=list)
    #: Hold each request until this many are in flight at once (at most 5 s): with 2, two
    #: pushes sent one after the other cannot both be answered before the first gives up.
    together: int = 0
    in_flight: int = 0
    most_in_flight: int = 0

    def base(self, xsp: int) -> str:
        return f"{self.url}/{xsp}/onapi/2.6"

    def orders(self) -> list[Call]:
        return [c for c in self.calls if c.path.endswith("/order/")]

    def notices(self) -> list[Call]:
        return [c for c in self.calls if c.path.endswith("/activationnotice/")]

    async def handle(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw
        self.calls.append(Call(request.url.path, dict(request.headers), body))
        mode, delay = self.mode, self.delay
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            for _ in range(500):
                if self.in_flight >= self.together:
                    break
                await asyncio.sleep(0.01)
            if delay:
                await asyncio.sleep(delay)
        finally:
            self.in_flight -= 1
        if request.url.path.endswith("/activationnotice/"):
            return Response(status_code=500 if mode == "500" else 200)
        if mode == "500":
            return JSONResponse({"cause": "Internt fel 12345"}, status_code=500)
        if mode == "garbage":
            return Response(b"<html>oops", status_code=200, media_type="text/html")
        if mode == "nostate":
            return JSONResponse({"externalMessage": "hm"})
        key = "status" if mode == "status" else "state"
        state = "REJECTED" if mode == "reject" else "CONFIRMED"
        return JSONResponse({key: state, "externalMessage": MESSAGES[mode]})


@contextmanager
def recording_sp(mode: Mode = "confirm", port: int | None = None) -> Iterator[RecordingSp]:
    sp = RecordingSp(mode=mode)
    app = Starlette(routes=[Route("/{path:path}", sp.handle, methods=["POST"])])
    with serve_in_thread(app, port=port) as url:
        sp.url = url
        yield sp
