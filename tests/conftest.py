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
from tests.support.lanes import PROCESS
from tests.support.world import World, build_world
from tests.support.xsp import XspClient

PG_ADMIN_URL = os.environ.get(
    "SERVICEGUIDE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_PG = os.environ.get("SERVICEGUIDE_REQUIRE_POSTGRES") == "1"


#: Fixture scopes whose value a module's tests share: under pytest-xdist, such tests are kept
#: together on one worker (see ``pytest_collection_modifyitems``).
_SHARED_SCOPES = {"module", "class", "package"}
#: Tests with these marks, or in these directories, run ``serviceguide`` (or a browser) as
#: separate processes (tests/faults/conftest.py marks its tests only after this file's hook).
_PROCESS_MARKS = ("e2e", "faults")
_PROCESS_DIRS = ("tests/e2e/", "tests/faults/")


def xdist_group_of(item: pytest.Item) -> str | None:
    """The pytest-xdist group of a test, or None to hand it out on its own.

    Tests that share a module-scoped fixture form one group per module and parameters of those
    fixtures (e.g. ``tests/e2e/test_server.py:postgresql``). A process test always has a group,
    whose name starts with ``lanes.PROCESS``: the scheduler keeps such tests to half the
    workers (tests/support/lanes.py)."""
    module = item.path.relative_to(item.config.rootpath).as_posix()
    info = getattr(item, "_fixtureinfo", None)
    shared = [
        name
        for name in (info.names_closure if info else [])
        if (defs := info.name2fixturedefs.get(name)) and defs[-1].scope in _SHARED_SCOPES
    ]
    params = getattr(getattr(item, "callspec", None), "params", {})
    values = [str(params[name]) for name in sorted(shared) if name in params]
    # No brackets: xdist takes what follows the last "]" of a node id for its group.
    group = (f"{module}:{'-'.join(values)}" if values else module) if shared else None
    if module.startswith(_PROCESS_DIRS) or any(map(item.get_closest_marker, _PROCESS_MARKS)):
        return PROCESS + (group or item.nodeid.replace("[", "(").replace("]", ")"))
    return group


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With pytest-xdist (``make test``), put each test in its group (``xdist_group_of``): the
    tests that share a module-scoped fixture — a deployment with its ``serviceguide serve``
    processes, a browser test's server — run on one worker, so that each such fixture is set
    up once and not once per worker."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        group = xdist_group_of(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """A worker of ``--dist loadgroup`` must see each group in its tests' node ids
    (``…@group``, added by pytest-xdist): otherwise the tests that share a deployment are
    spread over the workers, and those that build on each other's state fail."""
    if not getattr(session.config.option, "loadgroup", False):
        return
    lost = [
        i.nodeid
        for i in session.items
        if i.get_closest_marker("xdist_group") and "@" not in i.nodeid
    ]
    if lost:
        raise pytest.UsageError(
            "pytest-xdist did not put the xdist_group of the tests in their node ids "
            f"(e.g. {lost[0]}); this pytest and pytest-xdist do not work together here"
        )


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup`` with process tests kept to half the workers (tests/support/lanes.py)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from tests.support.lanes import LaneScheduling

    return LaneScheduling(config, log)


def _pg_available() -> str | None:
    try:
        # A server that is down refuses at once; one that is busy (a loaded machine, parallel
        # workers) may take seconds to accept.
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=30):
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


def create_pg_database(
    admin_url: str, *, name: str | None = None, template: str | None = None
) -> str:
    """A new PostgreSQL database (named ``name``, or a fresh test name), empty or a copy of the
    database ``template`` (which must have no connections); returns its URL."""
    name = name or f"sg_test_{uuid.uuid4().hex[:12]}"
    copy_of = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy_of}')
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(admin_url: str, url: str) -> None:
    name = make_url(url).database
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def _migrated_databases(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, tuple[str, str | None]]]:
    """backend → (URL, PostgreSQL admin URL or None): each made and migrated once per session
    (per worker under pytest-xdist), dropped at its end."""
    made: dict[str, tuple[str, str | None]] = {}
    yield made
    for url, admin in made.values():
        if admin is not None:
            drop_pg_database(admin, url)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    _migrated_databases: dict[str, tuple[str, str | None]],
) -> str:
    """A migrated database of each backend, shared by the session's tests (emptied per test).

    pytest finishes a parametrized session fixture whenever the next test wants the other
    parameter, which happens often when pytest-xdist hands a worker tests in its own order; the
    databases therefore live in ``_migrated_databases`` and are made only once."""
    backend = str(request.param)
    if backend not in _migrated_databases:
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
            migrate.upgrade(url)
            _migrated_databases[backend] = (url, None)
        else:
            admin = request.getfixturevalue("pg_server")
            url = create_pg_database(admin)
            try:
                migrate.upgrade(url)
            except BaseException:
                drop_pg_database(admin, url)
                raise
            _migrated_databases[backend] = (url, admin)
    return _migrated_databases[backend][0]


def make_settings(database_url: str, var_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "var_dir": var_dir,
        "secret_key": "test-secret-key-test-secret-key-0123456789",
        "password_hashing": "fast",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


#: PostgreSQL: every sequence owned by a column (serial or identity), to its first value.
_RESTART_OWNED_SEQUENCES = text(
    "SELECT setval(s.seqrelid, s.seqstart, false) FROM pg_sequence s"
    " JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid"
    " AND d.deptype IN ('a', 'i')"
)


#: Every table emptied, dependants first, and the ids counting from 1 again: one script, sent to
#: the driver at once (one round trip, where a statement per table cost 40).
_EMPTY_SCRIPT = {
    "postgresql": "".join(f'DELETE FROM "{t.name}";' for t in reversed(metadata.sorted_tables))
    + _RESTART_OWNED_SEQUENCES.text,
    "sqlite": "BEGIN;"
    + "".join(f'DELETE FROM "{t.name}";' for t in reversed(metadata.sorted_tables))
    + "DELETE FROM sqlite_sequence;COMMIT;",
}


async def empty_database(db: Database) -> None:
    """Every table emptied and every id counting from 1 again. On PostgreSQL this is what
    ``TRUNCATE … RESTART IDENTITY`` does, done with DELETE and ``setval``: for the few rows a
    test leaves, TRUNCATE's new files for every table and index cost half a second per test."""
    async with db.write() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        if db.is_postgres:
            await raw.execute(_EMPTY_SCRIPT["postgresql"])  # asyncpg: simple query, many statements
        else:
            await raw.executescript(_EMPTY_SCRIPT["sqlite"])


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
        moved = [
            f"setval(pg_get_serial_sequence('{t.name}', '{_key(t)}'), (SELECT max({_key(t)})"
            f" FROM {t.name}))"
            for t in metadata.sorted_tables
            if t.name in _SERIAL_TABLES and rows[t.name]
        ]
        if db.is_postgres and moved:
            await conn.execute(text("SELECT " + ", ".join(moved)))  # one round trip for all


def _key(table: Any) -> str:
    return str(next(iter(table.primary_key.columns)).name)


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
