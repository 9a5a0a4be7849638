"""A TL as an ON-API 2.6 service provider: how its orders reach it (the delivery), which
base URLs and credentials the guide may use to push them, and its answer to a pushed order."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from serviceguide.domain.errors import InvalidInput
from serviceguide.domain.ordering import has_control_chars
from serviceguide.domain.webhooks import LOOPBACK_HOSTS

MAX_URL_LENGTH = 500
MAX_USERNAME_LENGTH = 200
MAX_PASSWORD_LENGTH = 200


class Delivery(StrEnum):
    """How a TL's new orders reach it."""

    MAIL = "mail"  # the order e-mail only (every TL without ON-API settings)
    ONAPI = "onapi"  # the push only; the e-mail only after 15 minutes of failed pushes
    BOTH = "both"  # the push and the e-mail

    @property
    def pushes(self) -> bool:
        return self is not Delivery.MAIL

    @property
    def mails_at_once(self) -> bool:
        return self is not Delivery.ONAPI


def parse_delivery(value: str) -> Delivery:
    try:
        return Delivery(value.strip().lower())
    except ValueError:
        known = ", ".join(d.value for d in Delivery)
        raise InvalidInput("delivery", f"unknown delivery {value!r} (known: {known})") from None


def check_base_url(url: str) -> str:
    """The ON-API base URL as stored: HTTPS (HTTP only to this machine, as the password goes in
    every request), absolute, without credentials, query or fragment, without a trailing
    slash (calls go to ``URL/order/`` and so on)."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput("url", f"URL longer than {MAX_URL_LENGTH} characters")
    if has_control_chars(url) or " " in url:
        raise InvalidInput("url", "URL must not hold spaces or control characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as e:
        raise InvalidInput("url", f"not a URL: {e}") from None
    if not host or parts.scheme not in ("http", "https"):
        raise InvalidInput("url", "URL must be absolute, e.g. https://sp.example/onapi/2.6")
    if parts.username or parts.password:
        raise InvalidInput("url", "URL must not hold credentials: give --username and --password")
    if parts.query or parts.fragment:
        raise InvalidInput("url", "URL must not have a query or fragment")
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        raise InvalidInput("url", "ON-API URLs must use https:// (http:// only for 127.0.0.1)")
    return url.rstrip("/")


def check_username(value: str) -> str:
    if not value or len(value) > MAX_USERNAME_LENGTH or has_control_chars(value) or ":" in value:
        raise InvalidInput(
            "username",
            f"a Basic username is 1 to {MAX_USERNAME_LENGTH} characters, without ':' or "
            "control characters",
        )
    return value


def check_password(value: str) -> str:
    if not value or len(value) > MAX_PASSWORD_LENGTH or has_control_chars(value):
        raise InvalidInput(
            "password",
            f"a Basic password is 1 to {MAX_PASSWORD_LENGTH} characters, without control "
            "characters",
        )
    return value


class SpState(StrEnum):
    CONFIRMED = "CONFIRMED"
    REJECTED = "REJECTED"
    PENDING = "PENDING"  # no usable answer yet: the push is retried


@dataclass(frozen=True, slots=True)
class SpAnswer:
    state: SpState
    external_message: str = ""

    def to_public(self) -> dict[str, str]:
        return {"state": self.state.value, "externalMessage": self.external_message}


PENDING = SpAnswer(SpState.PENDING)
