"""The exceptions of the XSP API client: ``XspError`` and one subclass per kind of failure, each
carrying the server's message, the HTTP status (0 when no answer came) and the method called."""

from __future__ import annotations


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
