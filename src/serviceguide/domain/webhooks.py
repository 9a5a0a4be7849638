"""Webhook endpoints: which URLs may receive events, and which events they subscribe to."""

from __future__ import annotations

from urllib.parse import urlsplit

from serviceguide.domain.errors import InvalidInput
from serviceguide.domain.status import EventType

#: Hosts that may be reached over plain HTTP (tests and demos on one machine).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_URL_LENGTH = 500


def check_endpoint_url(url: str) -> str:
    """The URL as given if it may be registered: HTTPS, or HTTP to this machine only."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput("url", f"URL longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as e:
        raise InvalidInput("url", f"not a URL: {e}") from None
    if not host:
        raise InvalidInput("url", "URL must be absolute, e.g. https://example.se/hooks")
    if parts.username or parts.password:
        raise InvalidInput("url", "URL must not hold credentials; the signature authenticates")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and host in LOOPBACK_HOSTS:
        return url
    raise InvalidInput("url", "webhook URLs must use https:// (http:// only for 127.0.0.1)")


def parse_event_types(text: str | None) -> list[EventType]:
    """``"order_created,status_changed"`` → event types, in a fixed order; None or "" = all."""
    if not text or not text.strip():
        return list(EventType)
    wanted = set()
    for name in text.split(","):
        name = name.strip()
        if not name:
            continue
        try:
            wanted.add(EventType(name))
        except ValueError:
            known = ", ".join(t.value for t in EventType)
            raise InvalidInput("events", f"unknown event type {name!r} (known: {known})") from None
    return [t for t in EventType if t in wanted]


def format_event_types(types: list[EventType]) -> str:
    return ",".join(t.value for t in types)
