"""``XspClient`` and ``AsyncXspClient``: the same API methods, blocking and awaited, over
``httpx``; each call logs in when the hash is due, retries as ``ClientCore`` decides, and returns
typed records."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from typing import Any

import httpx

from .errors import NotFound, TooManyRequests, Unauthorized, XspUnavailable
from .protocol import PATH, ClientCore, parse_envelope, records_of
from .records import Customer, Event, LogEntry, Order, OrderInfo, as_str


class XspClient(ClientCore):
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
        return [Order.from_api(d) for d in records_of(body, "order")]

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
        return [Customer.from_api(d) for d in records_of(body, "customer")]

    def order_info(self, order_id: int) -> OrderInfo:
        found = records_of(self.call("order_info", id=order_id), "order")
        if not found:
            raise NotFound(f"No order with id {order_id}", 404, "order_info")
        return OrderInfo.from_api(found[0])

    def customer_info(self, customer_id: int) -> Customer:
        body = self.call("customer_info", id=customer_id)
        found = records_of(body, "customer")
        if not found:
            raise NotFound(f"No customer with id {customer_id}", 404, "customer_info")
        data = body.get("data")
        return Customer.from_api(found[0], data if isinstance(data, dict) else None)

    def order_log(self, order_id: int) -> list[LogEntry]:
        return [
            LogEntry.from_api(d) for d in records_of(self.call("order_log", id=order_id), "entry")
        ]

    def events(self, since_id: int = 0, *, limit: int | None = None) -> list[Event]:
        body = self.call("events", since_id=since_id, limit=limit)
        return [Event.from_api(d) for d in records_of(body, "event")]

    def set_status(self, order_id: int, status: str) -> str:
        """Change the order's status; returns the server's message. Not retried unless the
        connection could not be made."""
        return as_str(self.call("set_status", id=order_id, status=status).get("message"))

    def add_message(self, order_id: int, message: str, type: str = "log") -> str:
        """Add a message (type error, alert, system or log) to the order's log. Not idempotent:
        not retried unless the connection could not be made."""
        return as_str(
            self.call("add_message", id=order_id, message=message, type=type).get("message")
        )


class AsyncXspClient(ClientCore):
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
        return [Order.from_api(d) for d in records_of(body, "order")]

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
        return [Customer.from_api(d) for d in records_of(body, "customer")]

    async def order_info(self, order_id: int) -> OrderInfo:
        found = records_of(await self.call("order_info", id=order_id), "order")
        if not found:
            raise NotFound(f"No order with id {order_id}", 404, "order_info")
        return OrderInfo.from_api(found[0])

    async def customer_info(self, customer_id: int) -> Customer:
        body = await self.call("customer_info", id=customer_id)
        found = records_of(body, "customer")
        if not found:
            raise NotFound(f"No customer with id {customer_id}", 404, "customer_info")
        data = body.get("data")
        return Customer.from_api(found[0], data if isinstance(data, dict) else None)

    async def order_log(self, order_id: int) -> list[LogEntry]:
        body = await self.call("order_log", id=order_id)
        return [LogEntry.from_api(d) for d in records_of(body, "entry")]

    async def events(self, since_id: int = 0, *, limit: int | None = None) -> list[Event]:
        body = await self.call("events", since_id=since_id, limit=limit)
        return [Event.from_api(d) for d in records_of(body, "event")]

    async def set_status(self, order_id: int, status: str) -> str:
        body = await self.call("set_status", id=order_id, status=status)
        return as_str(body.get("message"))

    async def add_message(self, order_id: int, message: str, type: str = "log") -> str:
        body = await self.call("add_message", id=order_id, message=message, type=type)
        return as_str(body.get("message"))
