"""The XSP API's protocol, without I/O: what a call is sent as, how an answer's envelope (XML or
JSON) is read or mapped to the right ``XspError``, which failures may be retried and how long to
wait, and the login hash's renewal. Both clients (``clients``) are built on ``ClientCore``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from defusedxml import ElementTree as SafeET

from .errors import (
    BadRequest,
    Conflict,
    NotFound,
    TooManyRequests,
    Unauthorized,
    XspError,
    XspUnavailable,
)
from .records import as_int, as_str

PATH = "/plain/serviceguide_log"
ARRAYS = {"order", "customer", "entry", "event"}
READS = {"orders", "customers", "order_info", "customer_info", "order_log", "events"}
STATUSES = ("new", "received", "active", "waiting", "cancelled", "delivered")
MESSAGE_TYPES = ("error", "alert", "system", "log")
DEFAULT_HASH_TTL = 1200.0
RENEW_AT = 0.8  # share of the hash's life after which it is renewed


_BY_CODE: dict[int, type[XspError]] = {
    400: BadRequest,
    401: Unauthorized,
    404: NotFound,
    409: Conflict,
}


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
    code = resp.status_code if resp.status_code != 200 else as_int(body.get("code"))
    message = as_str(body.get("message")) or f"HTTP {resp.status_code} {resp.reason_phrase}"
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


def records_of(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    found = body.get(name, [])
    return [x for x in found if isinstance(x, dict)] if isinstance(found, list) else []


@dataclass
class RetryPolicy:
    """How often and how long to retry: attempt n waits ``base * 2**n`` s (at most ``cap``)."""

    attempts: int = 5
    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int, retry_after: float = 0.0) -> float:
        return max(min(self.cap, self.base * 2**attempt), retry_after)


class ClientCore:
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
        self._hash = as_str(body.get("hash_key"))
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
