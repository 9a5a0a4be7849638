"""How the commands print what people copy and scripts read.

* A **secret** (an API key, a password, a webhook's signing secret) is printed on a line of its
  own, with nothing else on that line, straight to stdout: never through Rich, which would wrap
  or crop it to the terminal's width and break it in two for whoever copies it. The line that
  says what it is comes before it.
* ``--json`` on a list prints **one JSON array** on stdout and nothing else: ids as numbers,
  times as ISO 8601 (UTC), prices as numbers, enumerations by their value.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from serviceguide.cli.common import console


def secret(label: str, value: str) -> None:
    """``label`` (plain text), then ``value`` alone on the next line, unwrapped."""
    console.print(label, markup=False, highlight=False, soft_wrap=True)
    sys.stdout.flush()
    sys.stdout.write(value + "\n")
    sys.stdout.flush()


def credential(what: str, ident: object, value: str) -> None:
    """A new API key or password: what it belongs to, then the secret on its own line."""
    secret(f"{what} {ident} created. Its secret is shown once, keep it now:", value)


def plain(value: Any) -> Any:
    """``value`` as JSON can hold it."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Enum):
        return value.value
    return value


def json_list(rows: Iterable[Any]) -> None:
    """One JSON array on stdout."""
    sys.stdout.write(json.dumps([plain(r) for r in rows], ensure_ascii=False) + "\n")
