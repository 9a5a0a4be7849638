"""Shared fixtures: a real database per backend (SQLite and PostgreSQL), a seeded world of
organisations, and an XSP API client that speaks the documented protocol."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
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


@pytest.fixture
async def world(ctx: AppContext) -> World:
    return await build_world(ctx)


@pytest.fixture
async def xsp(ctx: AppContext) -> AsyncIterator[XspClient]:
    async with XspClient.in_process(ctx) as client:
        yield client
