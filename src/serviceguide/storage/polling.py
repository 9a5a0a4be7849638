"""The XSP API's lists as rows ready to be written: what every poll reads.

The list methods (``orders``, ``customers``, ``events``, ``order_log``) answer with rows whose
values go into the answer as they are (api/xsp_rows.py writes them). Turning each row into a
domain object and then into a tree of nodes cost more than the database's work for the whole
request (docs/performance.md), so these statements return each value as the answer shows it,
in a fixed column order:

* a time as Stockholm wall-clock text: on PostgreSQL ``to_char(… AT TIME ZONE …)`` in the
  database, on SQLite (which knows no time zones) formatted here from its stored UTC text;
* an order's delivery day as ``YYYY-MM-DD``, or ``asap``.

Every statement is scoped to the caller as in storage.orders: a TL sees the orders of its
services, a KO the orders on its network; a row outside the scope is not found.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from serviceguide.domain.clock import STOCKHOLM, fmt_minutes, fmt_seconds
from serviceguide.domain.model import Caller, OrgKind
from serviceguide.storage.direct import Reader, Sql, ts

#: A row read by position: asyncpg's Record, sqlite3.Row, or a list where SQLite's times were
#: formatted here.
Record = Any

#: Rows fetched at a time for an answer that is streamed (a listing by date has no limit).
BATCH = 1000

_SCOPE = {OrgKind.TL: "tl_org_id", OrgKind.KO: "ko_org_id"}
_TZ = STOCKHOLM.key
_FORMATS = {"seconds": "YYYY-MM-DD HH24:MI:SS", "minutes": "YYYY-MM-DD HH24:MI"}
_SQLITE_FORMAT: dict[str, Callable[[Any], str]] = {
    "seconds": lambda v: fmt_seconds(ts(v)),
    "minutes": lambda v: fmt_minutes(ts(v)),
}
_MARK = re.compile(r"\b(seconds|minutes|delivery)\(([a-z_.]+)\)")


@dataclass(frozen=True, slots=True)
class Shape:
    """A statement in both spellings, and what SQLite's row needs to look like PostgreSQL's."""

    sql: Sql
    #: columns (by position) that SQLite gives as stored UTC text, with their formatter
    sqlite_times: tuple[tuple[int, Callable[[Any], str]], ...]

    def rows(self, reader: Reader, found: Sequence[Record]) -> Sequence[Record]:
        if reader.dialect != "sqlite" or not self.sqlite_times:
            return found
        fixed = []
        for r in found:
            values = list(r)
            for i, fmt in self.sqlite_times:
                values[i] = fmt(values[i])
            fixed.append(values)
        return fixed


def _shape(sql: str) -> Shape:
    """``sql`` with ``seconds(col)``, ``minutes(col)`` and ``delivery(col)`` written out for
    each backend; ``$n`` placeholders."""
    select = sql[: sql.index(" FROM ")]
    columns = [c.strip() for c in select.removeprefix("SELECT ").split(", ")]
    times = tuple(
        (i, _SQLITE_FORMAT[m.group(1)])
        for i, c in enumerate(columns)
        if (m := _MARK.fullmatch(c)) and m.group(1) != "delivery"
    )

    def postgres(m: re.Match[str]) -> str:
        kind, col = m.groups()
        if kind == "delivery":
            return f"coalesce(to_char({col}, 'YYYY-MM-DD'), 'asap')"
        return f"to_char({col} AT TIME ZONE '{_TZ}', '{_FORMATS[kind]}')"

    def sqlite(m: re.Match[str]) -> str:
        kind, col = m.groups()
        return f"coalesce({col}, 'asap')" if kind == "delivery" else col

    pg = _MARK.sub(postgres, sql)
    lite = re.sub(r"\$(\d+)", r"?\1", _MARK.sub(sqlite, sql))
    return Shape(Sql(pg, lite), times)


@dataclass(frozen=True, slots=True)
class Rows:
    """A list's rows: ``first`` and, for an answer longer than one batch, the ``rest`` still
    to be read while the answer is written."""

    first: Sequence[Record]
    rest: AsyncIterator[Sequence[Record]] | None = None


# -- orders ------------------------------------------------------------------------------------

#: id, date, status, service, xsp, delivery, customer: api/xsp_rows.py's order.
_ORDERS = (
    "SELECT o.id, seconds(o.created_at), o.status, o.service_id, t.xsp, delivery(o.delivery), "
    "o.customer_id FROM orders o JOIN organisations t ON t.id = o.tl_org_id "
    "WHERE o.{scope} = $1{where} ORDER BY o.id"
)


#: The lowest id created at or after ``$2`` (within the caller's scope ``$1``, for orders), from
#: the index on the creation time. ``+ 0``: PostgreSQL would otherwise look for ``min(id)`` by
#: walking the primary key from its start, past every older row.
_FIRST_ID = {
    "o": "(SELECT min(f.id + 0) FROM orders f WHERE f.{scope} = $1 AND f.created_at >= $2)",
    "c": "(SELECT min(f.id + 0) FROM customers f WHERE f.created_at >= $2)",
}


@cache
def _window(base: str, alias: str, kind: OrgKind, created: bool, since: bool, limit: bool) -> Shape:
    """``base`` (scoped by ``$1``) with the optional date, since_id and limit of a list."""
    where, n = [], 1
    if created:
        n += 1
        # Also from the first id created on the day on: the rows then come in id order from
        # the (scope, id) index, the first at once, instead of all of them sorted by id first.
        first = _FIRST_ID[alias].format(scope=_SCOPE[kind])
        where += [f"{alias}.created_at >= $2", f"{alias}.id >= {first}"]
    if since:
        n += 1
        where.append(f"{alias}.id > ${n}")
    sql = base.format(scope=_SCOPE[kind], where="".join(f" AND {w}" for w in where))
    return _shape(sql + (f" LIMIT ${n + 1}" if limit else ""))


async def _listing(
    reader: Reader,
    base: str,
    alias: str,
    caller: Caller,
    created_from: datetime | None,
    since_id: int | None,
    limit: int | None,
) -> Rows:
    """``base`` within the window. With a limit, one fetch; without one (a listing by date),
    one batch now and a cursor for the rest, if there is more."""
    shape = _window(
        base,
        alias,
        caller.org_kind,
        created_from is not None,
        since_id is not None,
        limit is not None,
    )
    args = [caller.org_id, *(a for a in (created_from, since_id, limit) if a is not None)]
    if limit is not None:
        return Rows(shape.rows(reader, await reader.fetch(shape.sql, *args)))
    batches = reader.batches(shape.sql, *args, size=BATCH)
    first: Sequence[Record] = await anext(batches, [])
    if len(first) < BATCH:
        await batches.aclose()  # type: ignore[attr-defined]
        return Rows(shape.rows(reader, first))

    async def rest() -> AsyncIterator[Sequence[Record]]:
        try:
            async for batch in batches:
                yield shape.rows(reader, batch)
        finally:
            await batches.aclose()  # type: ignore[attr-defined]

    return Rows(shape.rows(reader, first), rest())


async def orders(
    reader: Reader,
    caller: Caller,
    *,
    created_from: datetime | None,
    since_id: int | None,
    limit: int | None,
) -> Rows:
    """Orders created at or after ``created_from`` and/or with an id above ``since_id``."""
    return await _listing(reader, _ORDERS, "o", caller, created_from, since_id, limit)


# -- customers ---------------------------------------------------------------------------------

#: id, socket, serial, firstname, surname, date: api/xsp_rows.py's customer. A customer is
#: visible to the organisations of its orders.
_CUSTOMERS = (
    "SELECT c.id, a.access_id, c.serial, c.firstname, c.surname, minutes(c.created_at) "
    "FROM customers c JOIN accesses a ON a.id = c.access_pk "
    "WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.{scope} = $1)"
    "{where} ORDER BY c.id"
)


async def customers(
    reader: Reader,
    caller: Caller,
    *,
    created_from: datetime | None,
    since_id: int | None,
    limit: int | None,
) -> Sequence[Record]:
    """Customers of the caller's orders, created at or after ``created_from`` and/or with an id
    above ``since_id``. Read whole, never streamed: each row's read is recorded before the answer
    goes out (services.privacy), and that needs a connection of its own."""
    shape = _window(
        _CUSTOMERS,
        "c",
        caller.org_kind,
        created_from is not None,
        since_id is not None,
        limit is not None,
    )
    args = [caller.org_id, *(a for a in (created_from, since_id, limit) if a is not None)]
    return shape.rows(reader, await reader.fetch(shape.sql, *args))


# -- events and an order's log -----------------------------------------------------------------

#: id, date, type, order, status, message_type: api/xsp_rows.py's event.
_EVENTS = {
    kind: _shape(
        "SELECT id, seconds(created_at), type, order_id, status, message_type FROM events "
        f"WHERE {col} = $1 AND id > $2 ORDER BY id LIMIT $3"
    )
    for kind, col in _SCOPE.items()
}


async def events(reader: Reader, caller: Caller, *, since_id: int, limit: int) -> Sequence[Record]:
    shape = _EVENTS[caller.org_kind]
    return shape.rows(reader, await reader.fetch(shape.sql, caller.org_id, since_id, limit))


# The order's log, and whether the order is visible at all, in one statement: no row means no
# such order (for this caller); one row with a NULL id means an order without entries.
#: id, date, type, message, user, org: api/xsp_rows.py's entry.
_LOG = {
    kind: _shape(
        "SELECT l.id, seconds(l.created_at), l.type, l.message, l.user_name, l.org_name "
        "FROM orders o LEFT JOIN order_log l ON l.order_id = o.id "
        f"WHERE o.id = $1 AND o.{col} = $2 ORDER BY l.id"
    )
    for kind, col in _SCOPE.items()
}


async def order_log(reader: Reader, caller: Caller, order_id: int) -> Sequence[Record] | None:
    """The order's log, oldest first; None when the caller cannot see the order."""
    shape = _LOG[caller.org_kind]
    found = await reader.fetch(shape.sql, order_id, caller.org_id)
    if not found:
        return None
    if found[0]["id"] is None:  # the order, without entries (the LEFT JOIN's one row)
        return []
    return shape.rows(reader, found)
