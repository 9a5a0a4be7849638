"""What every command shares: the consoles it prints to, how it runs a use case against the
database (``run``: a fresh connection per command, a domain error printed as one line and exit
code 1), the logging set-up of the long-running commands, and the small printing helpers
(times with their zone); printing secrets and JSON lists is ``output``'s."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import typer
from rich.console import Console

from serviceguide.domain.clock import fmt_zoned
from serviceguide.domain.errors import DomainError
from serviceguide.observability import logs
from serviceguide.services import admin
from serviceguide.services.context import AppContext
from serviceguide.settings import get_settings
from serviceguide.storage.db import Database

console = Console()
err = Console(stderr=True)
T = TypeVar("T")


def run(
    fn: Callable[[AppContext], Awaitable[T]],
    *,
    service: bool = False,
    passing: tuple[type[DomainError], ...] = (),
) -> T:
    """Run a use case with a fresh database connection; domain errors end the command cleanly,
    but for those in ``passing``, which the command handles itself. A ``service`` (the relay)
    waits for the database at most SERVICEGUIDE_DB_TIMEOUT_SECONDS at a time, as the server
    does; other commands wait as long as their statements take."""
    settings = get_settings()

    async def go() -> T:
        timeout = settings.db_timeout_seconds if service else None
        db = Database(settings.database_url, timeout=timeout)
        try:
            return await fn(AppContext(db=db, settings=settings))
        finally:
            await db.dispose()

    try:
        return asyncio.run(go())
    except passing:
        raise
    except DomainError as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(1) from None


def log_config() -> dict[str, Any]:
    """The log configuration of the commands that run for long (serve, relay, simulators), in
    ``SERVICEGUIDE_LOG_FORMAT`` (observability.logs)."""
    return logs.log_config(get_settings().log_format)


def org_of(ctx: AppContext, coid: str | None, xsp: int | None) -> Awaitable[Any]:
    if (coid is None) == (xsp is None):
        raise typer.BadParameter("give exactly one of --coid or --xsp")
    return admin.find_org(ctx, coid=coid, xsp=xsp)


def when(dt: datetime | None) -> str:
    """A time for a table: Stockholm time with its offset from UTC; empty for None."""
    return fmt_zoned(dt) if dt else ""
