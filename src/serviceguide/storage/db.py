"""Engines and transactions for SQLite (default) and PostgreSQL.

``Database.read()`` gives a connection for queries; ``Database.write()`` a transaction that
commits when the block ends and rolls back on any exception. Writes that add rows to the polled
streams (orders, customers, events) pass ``ordered=True``: the ids of those rows then become
visible in id order, so polling with ``since_id`` never skips a row that commits late. On
PostgreSQL this is a transaction-scoped advisory lock (``hold_streams``; placing an order,
``set_status`` and ``add_message`` take it inside their one statement instead: storage.orders,
storage.order_changes); SQLite has a single writer already, and every write transaction starts
with ``BEGIN IMMEDIATE`` so that a read-then-write cannot fail half-way with SQLITE_BUSY.
``Database.reader`` runs the polling reads as plain SQL on the driver (storage.direct).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from serviceguide.storage.direct import Reader, Sql, reader_for

_PING = Sql.of("SELECT 1")

#: Key of the PostgreSQL advisory lock that orders writes to the polled streams.
STREAM_LOCK_KEY = 0x5E41CE


def unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot be reached or is not taking work right now
    (down, restarting, refusing connections, the pool exhausted, SQLite busy past its timeout),
    as opposed to a statement being wrong. Callers answer 503 and try again later."""
    import asyncpg
    import sqlalchemy.exc

    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = exc.orig if exc.orig is not None else exc
        # SQLAlchemy's adapter wraps the asyncpg error; the original is its __cause__.
        if exc.__cause__ is not None:
            exc = exc.__cause__
    if isinstance(exc, sqlalchemy.exc.TimeoutError | OSError | TimeoutError):
        return True  # pool exhausted; connection refused, reset or timed out
    if isinstance(exc, asyncpg.PostgresConnectionError):
        return True  # the connection is gone or was never made
    if isinstance(exc, asyncpg.InterfaceError):
        return "closed" in str(exc)  # "connection is closed"; not a bad argument (DataError)
    if isinstance(exc, asyncpg.PostgresError):
        # Class 08: connection exception; 53: insufficient resources; 57P: operator
        # intervention (admin shutdown, crash shutdown, cannot connect now).
        return str(getattr(exc, "sqlstate", "") or "").startswith(("08", "53", "57P"))
    if isinstance(exc, sqlite3.OperationalError):
        return "locked" in str(exc) or "busy" in str(exc) or "unable to open" in str(exc)
    return False


def async_url(url: str) -> str:
    """``sqlite:///x`` → ``sqlite+aiosqlite:///x``; ``postgresql://`` → ``postgresql+asyncpg://``."""
    u = make_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite":
        return str(u.set(drivername="sqlite+aiosqlite"))
    if backend == "postgresql":
        return u.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")


def sync_url(url: str) -> str:
    """The URL for synchronous tools (Alembic): the stdlib sqlite3 or psycopg 3."""
    u = make_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite":
        return str(u.set(drivername="sqlite"))
    if backend == "postgresql":
        return u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")


def ensure_sqlite_dir(url: str) -> None:
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_setup(engine: AsyncEngine, begin: str, busy_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={busy_ms:d}")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)


def _close_on_timeout(engine: AsyncEngine) -> None:
    """A statement that ran out of time leaves its connection waiting for the server to confirm
    the cancel; rolling it back before it goes back to the pool would wait a second timeout
    against a database that stopped answering. Close that connection at once instead (only that
    one: the others may be fine)."""

    @event.listens_for(engine.sync_engine, "handle_error")
    def _timed_out(ctx: ExceptionContext) -> None:
        if isinstance(ctx.original_exception, TimeoutError) and ctx.connection is not None:
            driver = ctx.connection.connection.driver_connection
            if driver is not None:
                driver.terminate()
            ctx.is_disconnect = True
            ctx.invalidate_pool_on_disconnect = False


class Database:
    """Statements' parameters are kept out of error messages (``hide_parameters``): they hold
    customers' personal data, and error messages end up in logs.

    ``timeout`` (seconds) bounds every wait for PostgreSQL: making a connection, getting one
    from a pool, and each statement. A database that stops answering without closing anything
    (a network partition, a frozen host) then fails requests with :func:`unavailable` errors
    instead of hanging them. The server and the relay set it
    (``SERVICEGUIDE_DB_TIMEOUT_SECONDS``); commands run by hand — an import, a migration, an
    anonymisation — leave it unset and take as long as they take. SQLite waits for a lock at
    most ``timeout`` (30 s unset)."""

    def __init__(self, url: str, *, pool_size: int = 10, timeout: float | None = None) -> None:
        self.url = url
        self.backend = make_url(url).get_backend_name()
        aurl = async_url(url)
        if self.backend == "sqlite":
            ensure_sqlite_dir(url)
            busy_ms = round((timeout or 30.0) * 1000)
            self.engine = create_async_engine(aurl, hide_parameters=True)
            _sqlite_setup(self.engine, "BEGIN", busy_ms)
            # One writer connection per process: SQLite serialises writers anyway, and
            # queueing in the pool is cheaper than spinning on the busy timeout.
            self.write_engine = create_async_engine(
                aurl, pool_size=1, max_overflow=0, hide_parameters=True
            )
            _sqlite_setup(self.write_engine, "BEGIN IMMEDIATE", busy_ms)
        else:
            bounded: dict[str, Any] = {}
            if timeout is not None:
                bounded = {
                    "pool_timeout": timeout,
                    "connect_args": {"timeout": timeout, "command_timeout": timeout},
                }
            self.engine = create_async_engine(
                aurl,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_pre_ping=False,
                hide_parameters=True,
                **bounded,
            )
            self.write_engine = self.engine
            if timeout is not None:
                _close_on_timeout(self.engine)
        #: Plain SQL on the driver for the hot reads (storage.direct).
        self.reader: Reader = reader_for(url, pool_size, timeout)

    @property
    def is_postgres(self) -> bool:
        return self.backend == "postgresql"

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            yield conn

    @asynccontextmanager
    async def write(self, *, ordered: bool = False) -> AsyncIterator[AsyncConnection]:
        async with self.write_engine.begin() as conn:
            if ordered:
                await self.hold_streams(conn)
            yield conn

    @asynccontextmanager
    async def single_statement(self) -> AsyncIterator[AsyncConnection]:
        """A connection without an explicit transaction: each statement commits by itself. For
        a write that is one statement, this saves the BEGIN and COMMIT round trips, and a lock
        the statement takes is released the moment it ends."""
        async with self.write_engine.connect() as conn:
            yield await conn.execution_options(isolation_level="AUTOCOMMIT")

    async def hold_streams(self, conn: AsyncConnection) -> None:
        """Order this write transaction with every other one that adds to the polled streams,
        from here until it ends (``write(ordered=True)`` does it first thing). A transaction
        may read what it needs before, to hold the lock for fewer round trips."""
        if self.is_postgres:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": STREAM_LOCK_KEY})

    async def ping(self, timeout: float) -> None:
        """Raise unless the database answers a trivial query within ``timeout`` seconds, on a
        connection of its own (readiness: the pools the requests use are not disturbed)."""
        import asyncio

        async with asyncio.timeout(timeout):
            if self.is_postgres:
                import asyncpg

                dsn = make_url(self.url).set(drivername="postgresql")
                conn = await asyncpg.connect(
                    dsn.render_as_string(hide_password=False), timeout=timeout
                )
                try:
                    await conn.fetchval("SELECT 1", timeout=timeout)
                finally:
                    conn.terminate()
            else:
                await self.reader.fetchrow(_PING)

    def connections_in_use(self) -> dict[str, int]:
        """Connections checked out of this process's pools right now, by pool."""
        pools = [self.engine.pool] + (
            [self.write_engine.pool] if self.write_engine is not self.engine else []
        )
        in_use = sum(getattr(p, "checkedout", lambda: 0)() for p in pools)
        return {"sqlalchemy": in_use, "direct": self.reader.in_use()}

    async def dispose(self) -> None:
        await self.reader.close()
        await self.engine.dispose()
        if self.write_engine is not self.engine:
            await self.write_engine.dispose()
