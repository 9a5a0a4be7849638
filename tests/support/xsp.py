"""A client that speaks only the documented XSP protocol, over ASGI in-process or real HTTP."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from serviceguide.app import create_app
from serviceguide.services.context import AppContext

PATH = "/plain/serviceguide_log"
ARRAYS = {"order", "customer", "entry", "event"}


def _element(el: ET.Element) -> Any:
    children = list(el)
    if not children:
        return el.text or ""
    out: dict[str, Any] = {}
    for child in children:
        value = _element(child)
        if child.tag in ARRAYS and list(child):
            out.setdefault(child.tag, []).append(value)
        else:
            out[child.tag] = value
    return out


def norm(value: Any) -> Any:
    """Scalars as XML carries them (strings; None as ""), so XML and JSON replies compare."""
    if isinstance(value, dict):
        return {k: norm(v) for k, v in value.items()}
    if isinstance(value, list):
        return [norm(v) for v in value]
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


@dataclass
class Reply:
    http: httpx.Response
    root: str
    status: str  # "success" or "failed"
    response: Any  # what is inside <response>, as dicts and lists

    @property
    def code(self) -> int:
        return self.http.status_code

    @property
    def message(self) -> str:
        return str(self.response.get("message", "")) if isinstance(self.response, dict) else ""

    def items(self, name: str) -> list[dict[str, Any]]:
        if not isinstance(self.response, dict):
            return []
        return [norm(x) for x in self.response.get(name, [])]

    def one(self, name: str) -> dict[str, Any]:
        found = self.items(name)
        assert len(found) == 1, f"expected one <{name}>, got {found!r}"
        return found[0]


def parse(resp: httpx.Response) -> Reply:
    ctype = resp.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        doc = json.loads(resp.content)
        assert len(doc) == 1, doc
        root, inner = next(iter(doc.items()))
        assert set(inner) == {"response", "status"}, inner
        return Reply(resp, root, inner["status"], inner["response"])
    assert ctype.startswith("application/xml"), ctype
    el = ET.fromstring(resp.content)
    assert [c.tag for c in el] == ["response", "status"], [c.tag for c in el]
    response = _element(el[0])
    return Reply(resp, el.tag, el[1].text or "", response if response != "" else {})


class XspClient:
    def __init__(self, http: httpx.AsyncClient, ctx: AppContext | None = None) -> None:
        self.http = http
        self.ctx = ctx  # in-process only: lets a test look at the database behind the API

    @classmethod
    @asynccontextmanager
    async def in_process(
        cls, ctx: AppContext, client: tuple[str, int] = ("127.0.0.1", 50000)
    ) -> AsyncIterator[XspClient]:
        app = create_app(ctx.settings)
        app.state.ctx = ctx
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield cls(http, ctx)

    @classmethod
    @asynccontextmanager
    async def over_http(cls, base_url: str) -> AsyncIterator[XspClient]:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            yield cls(http)

    async def call(
        self,
        method: str | None,
        *,
        fmt: str | None = None,
        post: bool = False,
        headers: dict[str, str] | None = None,
        **params: Any,
    ) -> Reply:
        query: dict[str, Any] = {} if method is None else {"method": method}
        query.update({k: v for k, v in params.items() if v is not None})
        if fmt:
            query["output_format"] = fmt
        if post:
            resp = await self.http.post(PATH, data=query, headers=headers)
        else:
            resp = await self.http.get(PATH, params=query, headers=headers)
        return parse(resp)

    async def login(self, api_user: int, api_key: str) -> str:
        r = await self.call("api_login", api_user=api_user, api_key=api_key)
        assert r.code == 200 and r.status == "success", (r.code, r.response)
        return str(r.response["hash_key"])

    async def session(self, login: Any) -> Session:
        return Session(self, await self.login(login.api_user, login.api_key))


@dataclass
class Session:
    client: XspClient
    hash: str

    async def call(self, method: str, **params: Any) -> Reply:
        return await self.client.call(method, hash=self.hash, **params)
