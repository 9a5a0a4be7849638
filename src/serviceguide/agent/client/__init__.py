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

The package needs only ``httpx`` and ``defusedxml`` and its modules import one another
relatively, so the folder can be copied into another project as it is: ``errors`` (the
exceptions), ``records`` (the typed results), ``protocol`` (the envelope, the request shape and
the retry decisions, without I/O) and ``clients`` (the two clients' methods).
"""

from __future__ import annotations

from .clients import AsyncXspClient, XspClient
from .errors import (
    BadRequest,
    Conflict,
    NotFound,
    TooManyRequests,
    Unauthorized,
    XspError,
    XspUnavailable,
)
from .protocol import (
    ARRAYS,
    DEFAULT_HASH_TTL,
    MESSAGE_TYPES,
    PATH,
    READS,
    RENEW_AT,
    STATUSES,
    RetryPolicy,
    parse_envelope,
)
from .records import Customer, Event, LogEntry, Order, OrderInfo

__all__ = [
    "ARRAYS",
    "DEFAULT_HASH_TTL",
    "MESSAGE_TYPES",
    "PATH",
    "READS",
    "RENEW_AT",
    "STATUSES",
    "AsyncXspClient",
    "BadRequest",
    "Conflict",
    "Customer",
    "Event",
    "LogEntry",
    "NotFound",
    "Order",
    "OrderInfo",
    "RetryPolicy",
    "TooManyRequests",
    "Unauthorized",
    "XspClient",
    "XspError",
    "XspUnavailable",
    "parse_envelope",
]
