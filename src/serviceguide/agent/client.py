"""A typed client for the XSP order API (``/plain/serviceguide_log``), sync and async.

Usable on its own by a TL's developers (``from serviceguide.client import XspClient``)::

    with XspClient("https://guide.example", api_user=3, api_key="…") as xsp:
        for order in xsp.iter_orders(since_id=0):
            info = xsp.order_info(order.id)
            customer = xsp.customer_info(info.customer)
            xsp.set_status(order.id, "received")

    async with AsyncXspClient("https://guide.example", api_user=3, api_key="…") as xsp:
        async for order in xsp.aiter_orders(since_id=0):
            ...

What it does for you:

- logs in lazily and renews the hash at 80 % of its life (``hash_ttl``, default 1200 s, the
  server's default), and once more if a call is answered 401 (expired or revoked hash);
- sends the hash as ``Authorization: Bearer`` and credentials in a POST form, so neither ends up
  in a proxy's URL log;
- parses the XML envelope (with defusedxml) or JSON (``fmt="json"``) into dataclasses;
- maps a failed call to an exception carrying the server's message and code: ``BadRequest``
  (400), ``Unauthorized`` (401), ``NotFound`` (404), ``Conflict`` (409), ``TooManyRequests``
  (429, with ``retry_after``), all subclasses of ``XspError``; ``XspUnavailable`` when the
  server cannot be reached or keeps failing;
- retries the reads (``orders``, ``customers``, ``order_info``, ``customer_info``,
  ``order_log``, ``events``) with exponential back-off on connection errors, timeouts, 5xx and
  429 (waiting at least ``Retry-After``). The writes (``set_status``, ``add_message``) are
  retried **only** when the connection could not be made at all, i.e. the request certainly
  never reached the server; any other failure of a write is raised, because ``add_message`` is
  not idempotent and the caller must decide (read ``order_log`` first, for instance).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, fields
from functools import partial
from typing import Any, TypeVar

import httpx
from defusedxml import ElementTree as SafeET

PATH = "/plain/serviceguide_log"
ARRAYS = {"order", "customer", "entry", "event"}
READS = {"orders", "customers", "order_info", "customer_info", "order_log", "events"}
STATUSES = ("new", "received", "active", "waiting", "cancelled", "delivered")
MESSAGE_TYPES = ("error", "alert", "system", "log")
DEFAULT_HASH_TTL = 1200.0
RENEW_AT = 0.8  # share of the hash's life after which it is renewed


# -- errors ---------------------------------------------------------------------------------------


class XspError(Exception):
    """A call failed. ``message`` and ``code`` are the server's (``code`` is the HTTP status, or
    0 when no answer came); ``method`` is the API method called."""

    def __init__(self, message: str, code: int = 0, method: str = "") -> None:
        super().__init__(f"{method}: {code} {message}" if method else f"{code} {message}")
        self.message = message
        self.code = code
        self.method = method


class BadRequest(XspError):
    """400: a missing or malformed parameter, an unknown status or message type."""


class Unauthorized(XspError):
    """401: wrong api_user/api_key, or a hash that is unknown or expired."""


class NotFound(XspError):
    """404: no such order or customer, or one the caller may not see."""


class Conflict(XspError):
    """409: the status change is not allowed from the order's current status."""


class TooManyRequests(XspError):
    """429: throttled; ``retry_after`` is the server's Retry-After in seconds."""

    def __init__(self, message: str, code: int = 429, method: str = "", retry_after: float = 0):
        super().__init__(message, code, method)
        self.retry_after = retry_after


class XspUnavailable(XspError):
    """The server could not be reached, timed out, or answered 5xx (after the retries)."""


_BY_CODE: dict[int, type[XspError]] = {
    400: BadRequest,
    401: Unauthorized,
    404: NotFound,
    409: Conflict,
}


# -- records --------------------------------------------------------------------------------------


def _int(value: Any) -> int:
    return int(value) if value not in (None, "") else 0


def _str(value: Any) -> str:
    return "" if value is None else str(value)


@dataclass(frozen=True, slots=True)
class Order:
    """An order in short form (``orders``). Dates are Europe/Stockholm local time strings."""

    id: int
    type: str
    date: str
    status: str
    service: int
    xsp: int
    delivery: str  # YYYY-MM-DD or "asap"
    customer: int

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> Order:
        return cls(**_short_order(d))


def _short_order(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": _int(d.get("id")),
        "type": _str(d.get("type")),
        "date": _str(d.get("date")),
        "status": _str(d.get("status")),
        "service": _int(d.get("service")),
        "xsp": _int(d.get("xsp")),
        "delivery": _str(d.get("delivery")),
        "customer": _int(d.get("customer")),
    }


@dataclass(frozen=True, slots=True)
class OrderInfo:
    """An order in long form (``order_info``): the short fields plus the service's product code
    (``service_uid``), the network (``coid``) and access (``socket``), prices and the note."""

    id: int
    type: str
    date: str
    status: str
    service: int
    xsp: int
    delivery: str
    customer: int
    service_uid: str
    service_name: str
    xsp_name: str
    coid: str
    socket: str
    price_monthly: float
    price_once: float
    message: str
    updated: str

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> OrderInfo:
        return cls(
            **_short_order(d),
            service_uid=_str(d.get("service_uid")),
            service_name=_str(d.get("service_name")),
            xsp_name=_str(d.get("xsp_name")),
            coid=_str(d.get("coid")),
            socket=_str(d.get("socket")),
            price_monthly=float(d.get("price_monthly") or 0),
            price_once=float(d.get("price_once") or 0),
            message=_str(d.get("message")),
            updated=_str(d.get("updated")),
        )


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer. From ``customers``: the short fields and ``date``; from ``customer_info``:
    also email, address, zip, city, phone and premise (``date`` is then "")."""

    id: int
    socket: str
    serial: str
    firstname: str
    surname: str
    date: str = ""
    email: str = ""
    address: str = ""
    zip: str = ""
    city: str = ""
    phone: str = ""
    premise: str = ""

    @classmethod
    def from_api(cls, d: dict[str, Any], data: dict[str, Any] | None = None) -> Customer:
        merged = {**d, **(data or {})}
        names = {f.name for f in fields(cls)}
        values: dict[str, Any] = {k: _str(v) for k, v in merged.items() if k in names}
        values["id"] = _int(merged.get("id"))
        return cls(**values)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One entry of an order's log (``order_log``)."""

    id: int
    date: str
    type: str
    message: str
    user: str
    org: str

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> LogEntry:
        return cls(
            id=_int(d.get("id")),
            **{k: _str(d.get(k)) for k in ("date", "type", "message", "user", "org")},
        )


@dataclass(frozen=True, slots=True)
class Event:
    """One change in the ``events`` feed; ``message_type`` is None unless ``message_added``."""

    id: int
    date: str
    type: str
    order: int
    status: str
    message_type: str | None

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> Event:
        return cls(
            id=_int(d.get("id")),
            date=_str(d.get("date")),
            type=_str(d.get("type")),
            order=_int(d.get("order")),
            status=_str(d.get("status")),
            message_type=d.get("message_type") or None,
        )


# -- the protocol, without I/O ---------------------------------------------------------------------


def _element(el: Any) -> Any:
    children = list(el)
    if not children:
        return el.text or ""
    out: dict[str, Any] = {}
    for child in children:
        value = _element(child)
        if child.tag in ARRAYS and isinstance(value, dict):
            out.setdefault(child.tag, []).append(value)
        else:
            out[child.tag] = value
    return out


def parse_envelope(resp: httpx.Response, method: str) -> dict[str, Any]:
    """The ``<response>`` of a successful call as dicts and lists; raises ``XspError`` (the right
    subclass) for a failed one."""
    ctype = resp.headers.get("content-type", "")
    status, body = "", None
    try:
        if ctype.startswith("application/json"):
            doc = json.loads(resp.content)
            inner = next(iter(doc.values()))
            status, body = inner.get("status", ""), inner.get("response")
        elif ctype.startswith(("application/xml", "text/xml")):
            root = SafeET.fromstring(resp.content)
            parts = {child.tag: child for child in root}
            status = (parts["status"].text or "") if "status" in parts else ""
            body = _element(parts["response"]) if "response" in parts else None
    except (ValueError, KeyError, StopIteration, AttributeError, SafeET.ParseError):
        body = None
    if not isinstance(body, dict):
        body = {}
    if resp.status_code == 200 and status == "success":
        return body
    code = resp.status_code if resp.status_code != 200 else _int(body.get("code"))
    message = _str(body.get("message")) or f"HTTP {resp.status_code} {resp.reason_phrase}"
    if code == 429:
        raise TooManyRequests(message, code, method, _retry_after(resp))
    if code >= 500 or not status:
        raise XspUnavailable(message, code, method)
    raise _BY_CODE.get(code, XspError)(message, code, method)


def _retry_after(resp: httpx.Response) -> float:
    try:
        return max(0.0, float(resp.headers.get("retry-after", "0")))
    except ValueError:
        return 0.0


def _records(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    found = body.get(name, [])
    return [x for x in found if isinstance(x, dict)] if isinstance(found, list) else []


R = TypeVar("R")


@dataclass
class RetryPolicy:
    """How often and how long to retry: attempt n waits ``base * 2**n`` s (at most ``cap``)."""

    attempts: int = 5
    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int, retry_after: float = 0.0) -> float:
        return max(min(self.cap, self.base * 2**attempt), retry_after)


class _Core:
    """What the sync and async clients share: credentials, the hash and its age, the
    request shape and the decision to retry."""

    def __init__(
        self,
        base_url: str,
        api_user: int,
        api_key: str,
        *,
        fmt: str = "xml",
        hash_ttl: float = DEFAULT_HASH_TTL,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if fmt not in ("xml", "json"):
            raise ValueError("fmt must be 'xml' or 'json'")
        self.base_url = base_url.rstrip("/")
        self.api_user = api_user
        self.api_key = api_key
        self.fmt = fmt
        self.hash_ttl = hash_ttl
        self.retry = retry or RetryPolicy()
        self._clock = clock
        self._hash: str | None = None
        self._hash_at = 0.0

    def _needs_login(self) -> bool:
        return self._hash is None or self._clock() - self._hash_at >= RENEW_AT * self.hash_ttl

    def _login_form(self) -> dict[str, str]:
        return {
            "method": "api_login",
            "api_user": str(self.api_user),
            "api_key": self.api_key,
            "output_format": self.fmt,
        }

    def _store_hash(self, body: dict[str, Any], issued_at: float) -> None:
        self._hash = _str(body.get("hash_key"))
        self._hash_at = issued_at
        if not self._hash:
            raise XspError("api_login answered without a hash_key", 200, "api_login")

    def _request(self, method: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The HTTP verb and keyword arguments for ``httpx`` for one API call."""
        data = {"method": method, "output_format": self.fmt}
        data.update({k: str(v) for k, v in params.items() if v is not None})
        headers = {"Authorization": f"Bearer {self._hash}"}
        if method in READS:
            return "GET", {"params": data, "headers": headers}
        return "POST", {"data": data, "headers": headers}

    @staticmethod
    def _retryable(method: str, error: Exception) -> tuple[bool, float]:
        """Whether a failed attempt may be repeated, and the least wait (Retry-After)."""
        if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            return True, 0.0  # the request never reached the server: safe for writes too
        if method not in READS and method != "api_login":
            return False, 0.0
        if isinstance(error, httpx.TransportError | XspUnavailable):
            return True, 0.0
        if isinstance(error, TooManyRequests) and method != "api_login":
            # A throttled login waits minutes (failed-login window): the caller decides.
            return True, error.retry_after
        return False, 0.0


class XspClient(_Core):
    """The synchronous client. See the module docstring; every method raises ``XspError``.

    >>> with XspClient("http://127.0.0.1:8000", api_user=3, api_key="…") as xsp:  # doctest: +SKIP
    ...     info = xsp.order_info(1)
    ...     xsp.add_message(1, "Aktivering beställd hos nätet", "log")
    """

    def __init__(
        self,
        base_url: str,
        api_user: int,
        api_key: str,
        *,
        timeout: float = 30.0,
        http: httpx.Client | None = None,
        sleep: Callable[[float], object] = time.sleep,
        **options: Any,
    ) -> None:
        super().__init__(base_url, api_user, api_key, **options)
        self.http = http or httpx.Client(base_url=self.base_url, timeout=timeout)
        self._sleep = sleep

    def __enter__(self) -> XspClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def login(self) -> str:
        """Log in now (normally done for you); returns the new hash."""
        issued = self._clock()
        resp = self._with_retries(
            "api_login", lambda: self.http.post(PATH, data=self._login_form())
        )
        self._store_hash(parse_envelope(resp, "api_login"), issued)
        assert self._hash is not None
        return self._hash

    def _with_retries(self, method: str, send: Callable[[], httpx.Response]) -> httpx.Response:
        attempt = 0
        while True:
            try:
                resp = send()
                if resp.status_code >= 500 or resp.status_code == 429:
                    parse_envelope(resp, method)  # raises the mapped error
                return resp
            except (httpx.TransportError, XspUnavailable, TooManyRequests) as e:
                again, least = self._retryable(method, e)
                if not again or attempt + 1 >= self.retry.attempts:
                    if isinstance(e, httpx.TransportError):
                        raise XspUnavailable(f"{type(e).__name__}: {e}", 0, method) from e
                    raise
                self._sleep(self.retry.delay(attempt, least))
                attempt += 1

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Call any method; returns what is inside ``<response>`` as dicts and lists."""
        for renewed in (False, True):
            if self._needs_login():
                self.login()
            verb, kwargs = self._request(method, params)
            resp = self._with_retries(method, partial(self.http.request, verb, PATH, **kwargs))
            try:
                return parse_envelope(resp, method)
            except Unauthorized:
                if renewed:
                    raise
                self._hash = None  # expired or revoked: log in once more and repeat
        raise AssertionError("unreachable")

    # -- the methods ------------------------------------------------------------------------------

    def orders(
        self, *, date: str | None = None, since_id: int | None = None, limit: int | None = None
    ) -> list[Order]:
        """Orders in short form, ascending id, by ``date`` (YYYY-MM-DD) and/or ``since_id``."""
        body = self.call("orders", date=date, since_id=since_id, limit=limit)
        return [Order.from_api(d) for d in _records(body, "order")]

    def iter_orders(self, since_id: int = 0, *, limit: int = 1000) -> Iterator[Order]:
        """Every order after ``since_id``, page by page (``limit`` per call), ascending id."""
        while True:
            page = self.orders(since_id=since_id, limit=limit)
            yield from page
            if len(page) < limit:
                return
            since_id = page[-1].id

    def customers(
        self, *, date: str | None = None, since_id: int | None = None, limit: int | None = None
    ) -> list[Customer]:
        body = self.call("customers", date=date, since_id=since_id, limit=limit)
        return [Customer.from_api(d) for d in _records(body, "customer")]

    def order_info(self, order_id: int) -> OrderInfo:
        found = _records(self.call("order_info", id=order_id), "order")
        if not found:
            raise NotFound(f"No order with id {order_id}", 404, "order_info")
        return OrderInfo.from_api(found[0])

    def customer_info(self, customer_id: int) -> Customer:
        body = self.call("customer_info", id=customer_id)
        found = _records(body, "customer")
        if not found:
            raise NotFound(f"No customer with id {customer_id}", 404, "customer_info")
        data = body.get("data")
        return Customer.from_api(found[0], data if isinstance(data, dict) else None)

    def order_log(self, order_id: int) -> list[LogEntry]:
        return [
            LogEntry.from_api(d) for d in _records(self.call("order_log", id=order_id), "entry")
        ]

    def events(self, since_id: int = 0, *, limit: int | None = None) -> list[Event]:
        body = self.call("events", since_id=since_id, limit=limit)
        return [Event.from_api(d) for d in _records(body, "event")]

    def set_status(self, order_id: int, status: str) -> str:
        """Change the order's status; returns the server's message. Not retried unless the
        connection could not be made."""
        return _str(self.call("set_status", id=order_id, status=status).get("message"))

    def add_message(self, order_id: int, message: str, type: str = "log") -> str:
        """Add a message (type error, alert, system or log) to the order's log. Not idempotent:
        not retried unless the connection could not be made."""
        return _str(
            self.call("add_message", id=order_id, message=message, type=type).get("message")
        )


class AsyncXspClient(_Core):
    """The asynchronous twin of ``XspClient``: the same methods, awaited.

    >>> async with AsyncXspClient(url, api_user=3, api_key="…") as xsp:  # doctest: +SKIP
    ...     async for order in xsp.aiter_orders(since_id=0):
    ...         print(order.id, order.status)
    """

    def __init__(
        self,
        base_url: str,
        api_user: int,
        api_key: str,
        *,
        timeout: float = 30.0,
        http: httpx.AsyncClient | None = None,
        **options: Any,
    ) -> None:
        super().__init__(base_url, api_user, api_key, **options)
        self.http = http or httpx.AsyncClient(base_url=self.base_url, timeout=timeout)

    async def __aenter__(self) -> AsyncXspClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def login(self) -> str:
        issued = self._clock()
        resp = await self._with_retries(
            "api_login", lambda: self.http.post(PATH, data=self._login_form())
        )
        self._store_hash(parse_envelope(resp, "api_login"), issued)
        assert self._hash is not None
        return self._hash

    async def _with_retries(self, method: str, send: Callable[[], Any]) -> httpx.Response:
        attempt = 0
        while True:
            try:
                resp: httpx.Response = await send()
                if resp.status_code >= 500 or resp.status_code == 429:
                    parse_envelope(resp, method)
                return resp
            except (httpx.TransportError, XspUnavailable, TooManyRequests) as e:
                again, least = self._retryable(method, e)
                if not again or attempt + 1 >= self.retry.attempts:
                    if isinstance(e, httpx.TransportError):
                        raise XspUnavailable(f"{type(e).__name__}: {e}", 0, method) from e
                    raise
                await asyncio.sleep(self.retry.delay(attempt, least))
                attempt += 1

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        for renewed in (False, True):
            if self._needs_login():
                await self.login()
            verb, kwargs = self._request(method, params)
            resp = await self._with_retries(
                method, partial(self.http.request, verb, PATH, **kwargs)
            )
            try:
                return parse_envelope(resp, method)
            except Unauthorized:
                if renewed:
                    raise
                self._hash = None
        raise AssertionError("unreachable")

    async def orders(
        self, *, date: str | None = None, since_id: int | None = None, limit: int | None = None
    ) -> list[Order]:
        body = await self.call("orders", date=date, since_id=since_id, limit=limit)
        return [Order.from_api(d) for d in _records(body, "order")]

    async def aiter_orders(self, since_id: int = 0, *, limit: int = 1000) -> AsyncIterator[Order]:
        while True:
            page = await self.orders(since_id=since_id, limit=limit)
            for order in page:
                yield order
            if len(page) < limit:
                return
            since_id = page[-1].id

    async def customers(
        self, *, date: str | None = None, since_id: int | None = None, limit: int | None = None
    ) -> list[Customer]:
        body = await self.call("customers", date=date, since_id=since_id, limit=limit)
        return [Customer.from_api(d) for d in _records(body, "customer")]

    async def order_info(self, order_id: int) -> OrderInfo:
        found = _records(await self.call("order_info", id=order_id), "order")
        if not found:
            raise NotFound(f"No order with id {order_id}", 404, "order_info")
        return OrderInfo.from_api(found[0])

    async def customer_info(self, customer_id: int) -> Customer:
        body = await self.call("customer_info", id=customer_id)
        found = _records(body, "customer")
        if not found:
            raise NotFound(f"No customer with id {customer_id}", 404, "customer_info")
        data = body.get("data")
        return Customer.from_api(found[0], data if isinstance(data, dict) else None)

    async def order_log(self, order_id: int) -> list[LogEntry]:
        body = await self.call("order_log", id=order_id)
        return [LogEntry.from_api(d) for d in _records(body, "entry")]

    async def events(self, since_id: int = 0, *, limit: int | None = None) -> list[Event]:
        body = await self.call("events", since_id=since_id, limit=limit)
        return [Event.from_api(d) for d in _records(body, "event")]

    async def set_status(self, order_id: int, status: str) -> str:
        body = await self.call("set_status", id=order_id, status=status)
        return _str(body.get("message"))

    async def add_message(self, order_id: int, message: str, type: str = "log") -> str:
        body = await self.call("add_message", id=order_id, message=message, type=type)
        return _str(body.get("message"))
