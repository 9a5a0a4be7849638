"""The guide's session: what a customer has entered so far, kept on the server between the
steps so that every step is a page of its own URL (POST, then redirect to a GET), and Back,
Forward, reload and switching the language never ask to send a form again.

The browser holds a random token (256 bits) in a cookie; the database holds the draft under the
token's SHA-256 only, so a copy of the database does not lead to anyone's session. A draft lives
for :data:`IDLE` after it was last saved. Once the orders are placed, the personal details are
dropped from it: what remains is the link to the order that was placed.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import Any

from serviceguide.domain.clock import utcnow
from serviceguide.services.context import AppContext
from serviceguide.services.secrets import sha256_hex
from serviceguide.storage import guide_sessions as repo

#: How long a draft is kept after it was last saved.
IDLE = timedelta(hours=12)
#: Longest draft accepted (characters of JSON): a draft is a form of short fields.
DRAFT_MAX = 64 * 1024


def new_token() -> str:
    return secrets.token_urlsafe(32)


def valid_token(token: str | None) -> bool:
    return token is not None and 40 <= len(token) <= 64 and token.isascii()


async def load(ctx: AppContext, token: str | None) -> dict[str, Any] | None:
    """The session's draft, or None (no session, or expired)."""
    if not valid_token(token):
        return None
    assert token is not None
    async with ctx.db.read() as conn:
        raw = await repo.get(conn, sha256_hex(token), utcnow())
    if raw is None:
        return None
    found = json.loads(raw)
    return found if isinstance(found, dict) else None


async def save(ctx: AppContext, token: str, draft: dict[str, Any]) -> None:
    """Keep ``draft`` as the session's, for :data:`IDLE` from now."""
    raw = json.dumps(draft, ensure_ascii=False, separators=(",", ":"))
    if len(raw) > DRAFT_MAX:
        raise ValueError("draft too large")
    now = utcnow()
    async with ctx.db.write() as conn:
        await repo.put(conn, sha256_hex(token), raw, now, now + IDLE)
