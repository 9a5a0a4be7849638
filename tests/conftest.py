"""Shared fixtures: a real database per backend (SQLite and PostgreSQL), a seeded world of
organisations, and an XSP API client that speaks the documented protocol."""

from __future__ import annotations

import copy
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from serviceguide.services.context import AppContext
from serviceguide.settings import Settings
from serviceguide.storage import migrate
from serviceguide.storage.db import Database
from serviceguide.storage.tables import metadata
from tests.support.world import World, build_world
from tests.support.xsp import XspClient

PG_ADMIN_URL = os.environ.get(
    "SERVICEGUIDE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_PG = os.environ.get("SERVICEGUIDE_REQUIRE_POSTGRES") == "1"


def _pg_available() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except Exception as e:
        return str(e)


@pytest.fixture(scope="session")
def pg_server() -> str:
    problem = _pg_available()
    if problem:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required (SERVICEGUIDE_REQUIRE_POSTGRES=1): {problem}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {problem}")
    return PG_ADMIN_URL


def create_pg_database(admin_url: str) -> str:
    """A new, empty PostgreSQL database; returns its URL."""
    name = f"sg_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(admin_url: str, url: str) -> None:
    name = make_url(url).database
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database of each backend, shared by the session's tests (emptied per test)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "test.sqlite3"
        url = f"sqlite:///{path}"
        migrate.upgrade(url)
        yield url
        return
    admin = request.getfixturevalue("pg_server")
    url = create_pg_database(admin)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        drop_pg_database(admin, url)


def make_settings(database_url: str, var_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "var_dir": var_dir,
        "secret_key": "test-secret-key-test-secret-key-0123456789",
        "password_hashing": "fast",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def empty_database(db: Database) -> None:
    async with db.write() as conn:
        if db.is_postgres:
            names = ", ".join(t.name for t in metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(metadata.sorted_tables):
                await conn.execute(table.delete())
            await conn.execute(text("DELETE FROM sqlite_sequence"))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path / "var")


@pytest.fixture
async def ctx(settings: Settings) -> AsyncIterator[AppContext]:
    db = Database(settings.database_url, pool_size=5)
    await empty_database(db)
    try:
        yield AppContext(db=db, settings=settings)
    finally:
        await db.dispose()


# The world, built once per database and then copied back in for every test that asks for it:
# building it takes dozens of small transactions, restoring it one.
_world_snapshots: dict[str, tuple[World, dict[str, list[dict[str, Any]]]]] = {}


async def _dump(db: Database) -> dict[str, list[dict[str, Any]]]:
    async with db.read() as conn:
        return {
            table.name: [dict(r._mapping) for r in await conn.execute(select(table))]
            for table in metadata.sorted_tables
        }


async def _restore(db: Database, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Put the rows back; PostgreSQL's sequences are moved past them (SQLite's AUTOINCREMENT
    bookkeeping follows the inserted ids by itself)."""
    async with db.write() as conn:
        for table in metadata.sorted_tables:
            if rows[table.name]:
                await conn.execute(table.insert(), rows[table.name])
        if db.is_postgres:
            for table in metadata.sorted_tables:
                key = next(iter(table.primary_key.columns))
                if table.name in _SERIAL_TABLES and rows[table.name]:
                    await conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', '{key.name}'),"
                            f" (SELECT max({key.name}) FROM {table.name}))"
                        )
                    )


_SERIAL_TABLES = {
    t.name
    for t in metadata.sorted_tables
    for c in t.primary_key.columns
    if c.autoincrement is True or (c.autoincrement == "auto" and c.type.python_type is int)
}


@pytest.fixture
async def world(ctx: AppContext) -> World:
    url = ctx.settings.database_url
    if url in _world_snapshots:
        built, rows = _world_snapshots[url]
        await _restore(ctx.db, rows)
        return copy.deepcopy(built)
    built = await build_world(ctx)
    _world_snapshots[url] = (built, await _dump(ctx.db))
    return copy.deepcopy(built)


@pytest.fixture
async def xsp(ctx: AppContext) -> AsyncIterator[XspClient]:
    async with XspClient.in_process(ctx) as client:
        yield client
