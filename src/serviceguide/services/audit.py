"""The admin log: writing an entry in the transaction of the change it records, and reading the
log as an organisation's admin (its own entries), a platform admin or the operator (all).

Every administrative use case calls :func:`record` inside its write transaction, so an entry
exists exactly when its change does. Values pass :func:`serviceguide.domain.audit.values`,
which refuses secrets.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain import audit as rules
from serviceguide.domain.audit import AuditEntry, AuditFilter
from serviceguide.domain.clock import utcnow
from serviceguide.domain.model import Organisation, OrgKind
from serviceguide.domain.roles import Actor, require_admin
from serviceguide.services.context import AppContext
from serviceguide.storage import audit as repo

PAGE_SIZE = 50
ALL_KINDS = (OrgKind.KO, OrgKind.TL, OrgKind.PLATFORM)


def cli_actor() -> Actor:
    """The operator at the command line, named by the system user running the command."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return Actor.operator(who)


async def record(
    conn: AsyncConnection,
    actor: Actor,
    org: Organisation | None,
    action: str,
    obj: str,
    *,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> None:
    """One entry, in the caller's transaction ``conn``."""
    await repo.append(
        conn,
        at=utcnow(),
        org_id=org.id if org else None,
        org_name=org.name if org else "",
        actor=actor.name,
        actor_org=actor.org_name,
        action=action,
        object=obj,
        before=rules.values(before),
        after=rules.values(after),
    )


async def list_entries(
    ctx: AppContext,
    actor: Actor,
    f: AuditFilter,
    *,
    before_id: int | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[list[AuditEntry], int | None]:
    """A page of entries, newest first, and the ``before_id`` of the next page (None: last).
    An organisation's admin sees its own organisation's entries only, whatever ``f`` asks."""
    require_admin(actor, *ALL_KINDS)
    if not (actor.is_operator or actor.is_platform):
        f = replace(f, org_id=actor.org_id)
    async with ctx.db.read() as conn:
        rows = await repo.entries(conn, f, before_id=before_id, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


async def actions(ctx: AppContext, actor: Actor) -> list[str]:
    require_admin(actor, *ALL_KINDS)
    own = None if actor.is_operator or actor.is_platform else actor.org_id
    async with ctx.db.read() as conn:
        return await repo.actions(conn, own)
