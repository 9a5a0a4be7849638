"""Run the Alembic migrations programmatically (``serviceguide migrate``), and say what ran."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool

from serviceguide.storage.db import ensure_sqlite_dir, sync_url

HERE = Path(__file__).parent


@dataclass(frozen=True, slots=True)
class Revision:
    """One migration: its number and what it does (the first line of its description)."""

    id: str
    title: str


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE / "migrations"))
    cfg.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    return cfg


def current(url: str) -> str | None:
    """The revision the database is at; None for a database never migrated."""
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def between(url: str, lower: str | None, upper: str | None) -> list[Revision]:
    """The revisions after ``lower`` up to and including ``upper``, oldest first."""
    if upper is None or upper == lower:
        return []
    script = ScriptDirectory.from_config(alembic_config(url))
    found = script.iterate_revisions(upper, lower or "base")
    return [
        Revision(r.revision, (r.doc or "").strip().splitlines()[0] if r.doc else "")
        for r in reversed(list(found))
        if r.revision != lower
    ]


def upgrade(url: str, revision: str = "head") -> list[Revision]:
    """Bring the schema up to ``revision``; the revisions applied, oldest first (none when it
    was up to date already)."""
    ensure_sqlite_dir(url)
    before = current(url)
    command.upgrade(alembic_config(url), revision)
    return between(url, before, current(url))


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)
