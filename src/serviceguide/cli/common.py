"""What every command shares: the consoles it prints to, how it runs a use case against the
database (``run``: a fresh connection per command, a domain error printed as one line and exit
code 1), the logging set-up of the long-running commands, and the small printing helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import typer
from rich.console import Console

from serviceguide.domain.clock import fmt_seconds
from serviceguide.domain.errors import DomainError
from serviceguide.observability import logs
from serviceguide.services import admin
from serviceguide.services.context import AppContext
from serviceguide.settings import get_settings
from serviceguide.storage.db import Database

console = Console()
err = Console(stderr=True)
T = TypeVar("T")


def run(fn: Callable[[AppContext], Awaitable[T]], *, service: bool = False) -> T:
    """Run a use case with a fresh database connection; domain errors end the command cleanly.
    A ``service`` (the relay) waits for the database at most SERVICEGUIDE_DB_TIMEOUT_SECONDS at
    a time, as the server does; other commands wait as long as their statements take."""
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
    except DomainError as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(1) from None


def log_config() -> dict[str, Any]:
    """The log configuration of the commands that run for long (serve, relay, simulators), in
    ``SERVICEGUIDE_LOG_FORMAT`` (observability.logs)."""
    return logs.log_config(get_settings().log_format)


def show_secret(what: str, ident: Any, secret: str) -> None:
    console.print(f"{what} [bold]{ident}[/bold] created. Its secret is shown once, keep it now:")
    console.print(f"  [bold green]{secret}[/bold green]")


def org_of(ctx: AppContext, coid: str | None, xsp: int | None) -> Awaitable[Any]:
    if (coid is None) == (xsp is None):
        raise typer.BadParameter("give exactly one of --coid or --xsp")
    return admin.find_org(ctx, coid=coid, xsp=xsp)


def when(dt: datetime | None) -> str:
    return fmt_seconds(dt) if dt else ""
