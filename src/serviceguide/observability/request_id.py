"""The request id: taken from an incoming ``X-Request-ID`` when it is sane, else generated;
returned on every answer, put on every log line written while the request is handled, and
stored with the outbox rows the request writes, so that the relay's lines about their delivery
carry it too."""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

#: At most 64 characters of letters, digits, ``.``, ``_`` and ``-``: safe in a log line, a
#: header and a column, whatever a client or proxy sends.
_SANE = re.compile(rb"[A-Za-z0-9._-]{1,64}")
MAX_LENGTH = 64

_current: ContextVar[str | None] = ContextVar("request_id", default=None)


def from_header(value: bytes | None) -> str:
    """The incoming id if it is sane, else a new one (24 hex characters)."""
    if value is not None and _SANE.fullmatch(value):
        return value.decode("ascii")
    return secrets.token_hex(12)


def current() -> str | None:
    """The id of the request being handled by this task, if any."""
    return _current.get()


def bind(request_id: str | None) -> object:
    """Make ``request_id`` current; returns the token for :func:`unbind`."""
    return _current.set(request_id)


def unbind(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]
