"""``serviceguide audit list``: the admin log — every administrative change, from the pages and
from the command line, newest first."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from serviceguide.cli import output
from serviceguide.cli.common import console, run, when
from serviceguide.domain.audit import AuditEntry, AuditFilter
from serviceguide.domain.errors import NotFound
from serviceguide.services import audit, platform
from serviceguide.services.admin import find_org
from serviceguide.services.context import AppContext

audit_app = typer.Typer(help="The admin log of administrative changes.", no_args_is_help=True)


async def _org_id(ctx: AppContext, org: str) -> int:
    """``platform``, a KO's coId or a TL's xsp (a coId is tried first)."""
    if org.lower() == "platform":
        return (await platform.platform_org(ctx)).id
    try:
        return (await find_org(ctx, coid=org)).id
    except NotFound:
        if not org.isdigit():
            raise
    return (await find_org(ctx, xsp=int(org))).id


@audit_app.command("list")
def audit_list(
    org: Annotated[
        str | None, typer.Option(help="only this organisation: a coId, an xsp, or platform")
    ] = None,
    action: Annotated[str, typer.Option(help="only actions starting with this")] = "",
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="newest N entries")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON array")] = False,
) -> None:
    """The admin log, newest first: who, when, which organisation, what, before → after."""

    async def go(ctx: AppContext) -> list[AuditEntry]:
        org_id = await _org_id(ctx, org) if org else None
        f = AuditFilter(org_id=org_id, action=action)
        entries, _ = await audit.list_entries(ctx, audit.cli_actor(), f, limit=limit)
        return entries

    entries = run(go)
    if as_json:
        output.json_list(entries)
        return
    t = Table(title="Admin log")
    for col in ("id", "when", "who", "organisation", "action", "object", "before → after"):
        t.add_column(col, overflow="fold")
    for e in entries:
        change = " → ".join(
            json.dumps(v, ensure_ascii=False) for v in (e.before, e.after) if v is not None
        )
        t.add_row(
            str(e.id),
            when(e.at),
            Text(e.actor),
            Text(e.org_name),
            e.action,
            Text(e.object),
            Text(change),
        )
    console.print(t)
