"""``serviceguide.client``: the typed XSP API client (see ``serviceguide.agent.client``)."""

from serviceguide.agent.client import (
    AsyncXspClient,
    BadRequest,
    Conflict,
    Customer,
    Event,
    LogEntry,
    NotFound,
    Order,
    OrderInfo,
    RetryPolicy,
    TooManyRequests,
    Unauthorized,
    XspClient,
    XspError,
    XspUnavailable,
)

__all__ = [
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
]
