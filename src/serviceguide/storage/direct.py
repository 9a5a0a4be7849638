"""Plain SQL on the database driver itself, for the reads every poll makes.

The XSP API's read methods (and the login-hash check in front of them) are what service
providers call all day. On that path SQLAlchemy's statement building, compiling and result
processing cost more than the database does (docs/performance.md), so these few queries are
written as SQL text, prepared once per connection and run straight on the driver:

* PostgreSQL: an asyncpg pool per process; asyncpg keeps each statement prepared per
  connection, so a poll is one round trip (Bind/Execute) with no BEGIN/ROLLBACK around it.
* SQLite: one read connection per process, used on the event loop: an indexed read of a few
  rows takes microseconds, less than handing it to a thread. In WAL mode a reader never waits
  for the writer.

Statements are written with ``$1``-style parameters; :class:`Sql` keeps the SQLite spelling
(``?1``) beside it. Values come back as the driver gives them; :func:`ts`, :func:`day` and
:func:`money` turn SQLite's text and numbers into what asyncpg returns. Everything that writes
stays on SQLAlchemy (storage.db).
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy.engine import make_url

Row = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Sql:
    """One statement in both spellings."""

    text: str
    sqlite: str

    @classmethod
    def of(cls, text: str) -> Sql:
        return cls(text, re.sub(r"\$(\d+)", r"?\1", text))


class Reader(Protocol):
    #: "postgresql" or "sqlite": which spelling of a statement runs, and what values come back
    dialect: str

    async def fetch(self, q: Sql, *args: Any) -> Sequence[Row]: ...

    def batches(self, q: Sql, *args: Any, size: int) -> AsyncIterator[Sequence[Row]]:
        """The rows of a long answer ``size`` at a time, read as they are written out: a
        listing of any length holds one batch in memory, never the whole answer."""
        ...

    async def fetchrow(self, q: Sql, *args: Any) -> Row | None: ...

    async def close(self) -> None: ...

    def in_use(self) -> int: ...


async def _keep_session(_conn: Any) -> None:
    """Nothing to undo when a read connection goes back to the pool: these statements never
    open a transaction or change session state, so asyncpg's default reset (a round trip of
    RESET ALL, UNLISTEN, CLOSE ALL …) would be pure cost."""


class PostgresReader:
    """``timeout`` bounds connecting and each statement (see storage.db.Database)."""

    dialect = "postgresql"

    def __init__(self, url: str, pool_size: int, timeout: float | None = None) -> None:
        self._dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._size = pool_size
        self._timeout = timeout
        self._pool: Any = None
        self._lock = asyncio.Lock()

    async def _get_pool(self) -> Any:
        if self._pool is None:
            async with self._lock:
                if self._pool is None:
                    import asyncpg

                    bounded = {}
                    if self._timeout is not None:
                        bounded = {"timeout": self._timeout, "command_timeout": self._timeout}
                    self._pool = await asyncpg.create_pool(
                        self._dsn, min_size=1, max_size=self._size, reset=_keep_session, **bounded
                    )
        return self._pool

    async def _run(self, method: str, q: Sql, args: tuple[Any, ...]) -> Any:
        pool = self._pool or await self._get_pool()
        # No timeout on the wait for a pooled connection: on Python < 3.12 asyncpg makes it a
        # task per request. Each connection is held at most one statement's timeout, and a new
        # one at most the connect timeout, so the wait is bounded without it.
        async with pool.acquire() as conn:
            try:
                return await getattr(conn, method)(q.text, *args)
            except TimeoutError:
                # The pool would wait for the server to confirm the cancel before taking the
                # connection back: as long again against a database that stopped answering.
                conn.terminate()
                raise

    async def fetch(self, q: Sql, *args: Any) -> Sequence[Row]:
        rows: Sequence[Row] = await self._run("fetch", q, args)
        return rows

    async def fetchrow(self, q: Sql, *args: Any) -> Row | None:
        row: Row | None = await self._run("fetchrow", q, args)
        return row

    async def execute(self, q: Sql, *args: Any) -> None:
        """A one-statement write that commits by itself (an audit row on a read path)."""
        await self._run("execute", q, args)

    async def batches(self, q: Sql, *args: Any, size: int) -> AsyncIterator[Sequence[Row]]:
        """A server-side cursor in a read-only transaction, on one pooled connection for as
        long as the answer is being written (``timeout`` bounds each fetch, not the whole)."""
        pool = self._pool or await self._get_pool()
        async with pool.acquire() as conn, conn.transaction(readonly=True):
            cursor = await conn.cursor(q.text, *args)
            while True:
                rows: Sequence[Row] = await cursor.fetch(size, timeout=self._timeout)
                if rows:
                    yield rows
                if len(rows) < size:
                    return

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def in_use(self) -> int:
        pool = self._pool
        return 0 if pool is None else int(pool.get_size() - pool.get_idle_size())


def _sqlite_arg(value: Any) -> Any:
    if isinstance(value, datetime):  # SQLAlchemy's storage format: naive UTC, microseconds
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return value


class SqliteReader:
    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA query_only=ON")
        conn.execute("PRAGMA busy_timeout=5000")
        return conn

    def _connect(self) -> sqlite3.Connection:
        self._conn = self._open()
        return self._conn

    async def fetch(self, q: Sql, *args: Any) -> Sequence[Row]:
        conn = self._conn or self._connect()
        rows: list[Row] = conn.execute(q.sqlite, [_sqlite_arg(a) for a in args]).fetchall()
        return rows

    async def fetchrow(self, q: Sql, *args: Any) -> Row | None:
        conn = self._conn or self._connect()
        row: Row | None = conn.execute(q.sqlite, [_sqlite_arg(a) for a in args]).fetchone()
        return row

    async def batches(self, q: Sql, *args: Any, size: int) -> AsyncIterator[Sequence[Row]]:
        """On a connection of its own, whose statement stays open between batches (one
        snapshot for the whole answer) while the shared one serves everything else."""
        conn = self._open()
        try:
            cursor = conn.execute(q.sqlite, [_sqlite_arg(a) for a in args])
            while True:
                rows: list[Row] = cursor.fetchmany(size)
                if rows:
                    yield rows
                if len(rows) < size:
                    return
        finally:
            conn.close()

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def in_use(self) -> int:
        return 0  # one connection, used without ever waiting: never held across an await


def reader_for(url: str, pool_size: int, timeout: float | None = None) -> Reader:
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        assert u.database, "SQLite needs a file (an in-memory database is one per connection)"
        return SqliteReader(u.database)
    return PostgresReader(url, pool_size, timeout)


def ts(value: Any) -> datetime:
    """A stored time as an aware UTC datetime (asyncpg gives one; SQLite gives text)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def money(value: Any) -> Decimal:
    """``Numeric(10, 2)`` as a Decimal with two places, as SQLAlchemy would give it."""
    if isinstance(value, Decimal):
        return value
    return (
        Decimal(f"{value:.2f}")
        if isinstance(value, float)
        else Decimal(value).quantize(Decimal("0.01"))
    )
