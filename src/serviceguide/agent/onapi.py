"""A client for a KO's ON-API 2.4 (github.com/on-api/on-api, 2.4.0/spec/orders.md, accesses.md).

HTTP Basic auth; JSON bodies; errors are ``{"cause": "…"}``. ``create_order`` sends an ACTIVATE
with ``spReference`` = our order id: the KO answers 201 with a new order, or 200 with the order
it already has for that reference (or for that service on that access), so repeating the call
after a crash never creates a second order. That also makes ``create_order`` safe to retry on a
timeout or a 5xx. 429 waits for ``Retry-After``; 5xx, 429 and timeouts are retried with
exponential back-off, then ``OnApiUnavailable`` is raised.

>>> url = "http://127.0.0.1:8001/SNFDMO/onapi/2.4"
>>> with OnApiClient(url, "sim", "sim") as ko:  # doctest: +SKIP
...     placed = ko.create_order("AB123", "AB100100", sp_reference="1")
...     ko.get_order(placed.order_id).state
'IN_PROGRESS'
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from serviceguide.agent.client import RetryPolicy

FINAL_STATES = ("DONE_SUCCESS", "DONE_FAILED")


class OnApiError(Exception):
    """An ON-API call failed: ``status`` is the HTTP status (0: no answer), ``cause`` the KO's."""

    def __init__(self, status: int, cause: str) -> None:
        super().__init__(f"{status} {cause}")
        self.status = status
        self.cause = cause


class OnApiRefused(OnApiError):
    """400: the KO refuses the order as given (unknown access or service, bad field)."""


class OnApiConflict(OnApiError):
    """409: the service type is already active or claimed on the access."""


class OnApiNotFound(OnApiError):
    """404: no such order or access (or network)."""


class OnApiUnavailable(OnApiError):
    """5xx, 429, a timeout or no connection, after the retries: try again later."""


_BY_STATUS: dict[int, type[OnApiError]] = {
    400: OnApiRefused,
    404: OnApiNotFound,
    409: OnApiConflict,
}


@dataclass(frozen=True, slots=True)
class OnApiOrder:
    """An ON-API order as the KO describes it. ``created`` is True when this call created it
    (201) and False when the KO returned an order it already had (200). ``order_id`` may be
    empty when the KO answers that the service is already active (no new order needed)."""

    order_id: str
    path: str
    access_id: str
    service: str
    operation: str
    state: str
    sp_reference: str
    message: str
    created: bool = False

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    @classmethod
    def from_api(cls, d: dict[str, Any], created: bool = False) -> OnApiOrder:
        def s(key: str) -> str:
            value = d.get(key)
            return "" if value is None else str(value)

        return cls(
            order_id=s("orderId"),
            path=s("path"),
            access_id=s("accessId"),
            service=s("service"),
            operation=s("operation"),
            state=s("state"),
            sp_reference=s("spReference"),
            message=s("message"),
            created=created,
        )


class OnApiClient:
    """One KO's ON-API at ``base_url`` (ending in ``/onapi/2.4``)."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        timeout: float = 15.0,
        retry: RetryPolicy | None = None,
        http: httpx.Client | None = None,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy(attempts=3, base=0.5, cap=10.0)
        self.http = http or httpx.Client(timeout=timeout)
        self.auth = httpx.BasicAuth(username, password)
        self._sleep = sleep

    def __enter__(self) -> OnApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def _send(self, verb: str, path: str, **kwargs: Any) -> httpx.Response:
        url = self.base_url + path
        attempt = 0
        while True:
            least = 0.0
            try:
                resp = self.http.request(verb, url, auth=self.auth, **kwargs)
            except httpx.TransportError as e:
                failure: OnApiError = OnApiUnavailable(0, f"{type(e).__name__}: {e}")
            else:
                if resp.status_code < 400:
                    return resp
                cause = _cause(resp)
                if resp.status_code == 429 or resp.status_code >= 500:
                    failure = OnApiUnavailable(resp.status_code, cause)
                    least = _retry_after(resp)
                else:
                    raise _BY_STATUS.get(resp.status_code, OnApiError)(resp.status_code, cause)
            if attempt + 1 >= self.retry.attempts:
                raise failure
            self._sleep(self.retry.delay(attempt, least))
            attempt += 1

    def create_order(
        self,
        access_id: str,
        service: str,
        sp_reference: str,
        requested: str | None = None,
    ) -> OnApiOrder:
        """ACTIVATE ``service`` on ``access_id``. Returns the new order (``created``) or the
        one the KO already has for this ``sp_reference`` (a repeat, e.g. after a crash)."""
        body: dict[str, Any] = {
            "accessId": access_id,
            "service": service,
            "operation": "ACTIVATE",
            "forcedTakeover": False,
            "spReference": sp_reference,
        }
        if requested:
            body["requestedDateTime"] = requested
        resp = self._send("POST", "/orders/", json=body)
        return OnApiOrder.from_api(_json(resp), created=resp.status_code == 201)

    def get_order(self, order_id: str) -> OnApiOrder:
        """The order's current state (RECEIVED, IN_PROGRESS, DONE_SUCCESS, DONE_FAILED)."""
        return OnApiOrder.from_api(_json(self._send("GET", f"/orders/{order_id}")))

    def get_access(self, access_id: str) -> dict[str, Any]:
        """The access record (address, accessState, services…) as the KO serves it."""
        return _json(self._send("GET", f"/accesses/{access_id}"))


def _json(resp: httpx.Response) -> dict[str, Any]:
    try:
        doc = resp.json()
    except ValueError as e:
        raise OnApiUnavailable(resp.status_code, f"answer is not JSON: {e}") from e
    if not isinstance(doc, dict):
        raise OnApiUnavailable(resp.status_code, "answer is not a JSON object")
    return doc


def _cause(resp: httpx.Response) -> str:
    try:
        doc = resp.json()
    except ValueError:
        doc = None
    if isinstance(doc, dict) and doc.get("cause"):
        return str(doc["cause"])
    return f"HTTP {resp.status_code} {resp.reason_phrase}"


def _retry_after(resp: httpx.Response) -> float:
    try:
        return max(0.0, float(resp.headers.get("retry-after", "0")))
    except ValueError:
        return 0.0
