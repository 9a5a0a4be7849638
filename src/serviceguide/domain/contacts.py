"""A service provider's contact details, as its customers see them (the receipt, the thank-you
page): phone, e-mail, website and opening hours. Each is optional; an empty value clears it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from serviceguide.domain.errors import InvalidInput
from serviceguide.domain.mailaddress import normalise_email
from serviceguide.domain.ordering import PHONE, has_control_chars

WEBSITE_MAX = 500
OPENING_HOURS_MAX = 200


@dataclass(frozen=True, slots=True)
class ContactDetails:
    phone: str | None = None
    email: str | None = None
    website: str | None = None
    opening_hours: str | None = None


def _phone(value: str) -> str:
    if not PHONE.match(value):
        raise InvalidInput(
            "phone", f"Not a phone number like 08-123 456 78 or +46 8 123 456 78: {value!r}"
        )
    return value


def _website(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidInput("website", f"Not a web address like https://example.se/: {value!r}")
    if len(value) > WEBSITE_MAX or has_control_chars(value) or " " in value:
        raise InvalidInput(
            "website", f"Not a web address (at most {WEBSITE_MAX} characters, no spaces)"
        )
    return value


def _opening_hours(value: str) -> str:
    if len(value) > OPENING_HOURS_MAX or has_control_chars(value):
        raise InvalidInput(
            "opening_hours", f"Opening hours are one line of at most {OPENING_HOURS_MAX} characters"
        )
    return value


def clean_contact_details(
    *,
    phone: str | None = None,
    email: str | None = None,
    website: str | None = None,
    opening_hours: str | None = None,
) -> dict[str, str | None]:
    """The details given (not None), checked, by column name: ``phone``, ``contact_email``,
    ``website``, ``opening_hours``. An empty or blank value becomes None: the detail is cleared.
    Raises :class:`InvalidInput` naming the first bad one."""
    given = {
        "phone": (phone, _phone),
        "contact_email": (email, lambda v: normalise_email(v, field="contact_email")),
        "website": (website, _website),
        "opening_hours": (opening_hours, _opening_hours),
    }
    cleaned: dict[str, str | None] = {}
    for column, (value, check) in given.items():
        if value is None:
            continue
        value = " ".join(value.split()) if column == "opening_hours" else value.strip()
        cleaned[column] = check(value) if value else None
    return cleaned
