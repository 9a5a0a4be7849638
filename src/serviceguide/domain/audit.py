"""The admin log's entries: what an administrative change records, and the rule that it never
records a secret.

An entry says who (a staff user, or the command line), when, which organisation the change
concerns, what was done (``action``: a dotted name such as ``service.update``), to which object,
and the values before and after. Values are plain JSON (strings, numbers, booleans, lists).
A password, an API key or a webhook secret is never among them: :func:`values` refuses any key
that names one, so a programming mistake fails loudly instead of storing a secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

#: Parts of a key that say its value is a secret.
SECRET_WORDS = ("password", "secret", "key_hash", "api_key", "token", "hash")


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def values(mapping: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``mapping`` as the log stores it; a key naming a secret is a programming error."""
    if mapping is None:
        return None
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        if any(word in key.lower() for word in SECRET_WORDS):
            raise ValueError(f"the admin log never records a secret ({key!r})")
        out[key] = _plain(value)
    return out


def changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict, dict]:
    """Only the keys whose values differ, before and after."""
    keys = [k for k in after if before.get(k) != after[k]]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    org_id: int | None
    org_name: str
    actor: str
    actor_org: str
    action: str
    object: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class AuditFilter:
    org_id: int | None = None
    action: str = ""  # a prefix: "service" finds service.create, service.update, …
    actor: str = ""  # part of the actor's name or username
    since: datetime | None = None  # inclusive, UTC
    before_at: datetime | None = None  # exclusive, UTC
