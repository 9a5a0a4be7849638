"""The market database in SQL: bulk writes of MdB2 rows, export, and the address search.

Bulk writes bypass SQLAlchemy's per-row work, which would cost more than the database does at
a million rows. ``upsert``: SQLite gets one ``INSERT … ON CONFLICT DO UPDATE … WHERE changed``
run by the driver's ``executemany``; PostgreSQL gets the batch by ``COPY`` into a temporary
table and one ``INSERT … SELECT … ON CONFLICT`` from it. Either way a row whose data is
unchanged is not written at all, so its ``updated_at`` (ON-API's Last-Modified) stays as it
was. ``insert_new`` is the faster path for rows known to be new (a network's first import):
a plain ``executemany`` insert, or on PostgreSQL a ``COPY`` straight into the table.

A retired access (``retired_at`` set: an import with ``--replace`` did not find it in the KO's
file) stays in the table for the orders placed on it, and is left out of every read that shows
accesses: the address search, the export, ON-API (storage.onapi) and the guide's look-up of one
(storage.catalogue). An upsert of it brings it back, as a change.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from asyncpg.exceptions import UniqueViolationError
from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.addresses import (
    KEY_END,
    AddressQuery,
    city_key,
    format_address,
    number_key,
    street_key,
)
from serviceguide.domain.mdb import AccessRow
from serviceguide.domain.model import AddressMatch
from serviceguide.storage.direct import Reader, Sql
from serviceguide.storage.tables import accesses
from serviceguide.storage.types import UTCDateTime

#: The MdB2 data of a row, in ``AccessRow`` order.
DATA_COLUMNS: tuple[str, ...] = (
    "access_id",
    "street_name",
    "street_number",
    "street_littera",
    "postal_code",
    "city",
    "country_code",
    "premises_type",
    "mdu_apartment_number",
    "mdu_distinguisher",
    "property_unit_designation",
    "sweref_type",
    "sweref_north",
    "sweref_east",
)
SEARCH_COLUMNS: tuple[str, ...] = ("search_street", "search_number", "search_city")
_COMPARED = DATA_COLUMNS[1:]  # the accessId is the identity, never changed by an upsert
_UPDATED = (*_COMPARED, *SEARCH_COLUMNS, "updated_at")


def search_keys(
    *, street_name: str, street_number: str, street_littera: str, city: str
) -> dict[str, str]:
    """The normalised search columns of an access, for every insert and update of one."""
    return {
        "search_street": street_key(street_name),
        "search_number": number_key(street_number, street_littera),
        "search_city": city_key(city),
    }


def _values(r: AccessRow) -> tuple[str, ...]:
    return (
        *r,
        street_key(r.street_name),
        number_key(r.street_number, r.street_littera),
        city_key(r.city),
    )


@dataclass(frozen=True, slots=True)
class UpsertCount:
    inserted: int
    updated: int


_ROW_COLUMNS = ("network_id", *DATA_COLUMNS, *SEARCH_COLUMNS, "updated_at")
_PG_STAGE_COLUMNS = (*DATA_COLUMNS, *SEARCH_COLUMNS)

# The statements below are built from the constant column names above only; every value is a
# bound parameter.
_INSERT_COLUMNS = ", ".join(_ROW_COLUMNS)
_SET = ", ".join([*(f"{c} = excluded.{c}" for c in _UPDATED), "retired_at = NULL"])
_CHANGED = (
    f"({', '.join(f'accesses.{c}' for c in _COMPARED)}) "
    f"<> ({', '.join(f'excluded.{c}' for c in _COMPARED)}) "
    "OR accesses.retired_at IS NOT NULL"
)
_SQLITE_INSERT = (
    f"INSERT INTO accesses ({_INSERT_COLUMNS}) "  # noqa: S608
    f"VALUES ({', '.join('?' * len(_ROW_COLUMNS))})"
)
_SQLITE_UPSERT = (
    f"{_SQLITE_INSERT} ON CONFLICT (network_id, access_id) DO UPDATE SET {_SET} WHERE {_CHANGED}"
)
_PG_STAGE = (
    "CREATE TEMPORARY TABLE mdb_stage ("
    + ", ".join(f"{c} text NOT NULL" for c in _PG_STAGE_COLUMNS)
    + ") ON COMMIT DROP"
)
_PG_UPSERT = text(
    "WITH up AS ("  # noqa: S608
    f" INSERT INTO accesses ({_INSERT_COLUMNS})"
    f" SELECT :network_id, {', '.join(_PG_STAGE_COLUMNS)}, :now FROM mdb_stage"
    f" ON CONFLICT (network_id, access_id) DO UPDATE SET {_SET} WHERE {_CHANGED}"
    " RETURNING (xmax = 0) AS inserted)"
    " SELECT count(*) FILTER (WHERE inserted) AS inserted,"
    " count(*) FILTER (WHERE NOT inserted) AS updated FROM up"
).bindparams(bindparam("now", type_=UTCDateTime))


class AlreadyStored(Exception):
    """``insert_new`` met an accessId that is stored already; the transaction is lost."""


async def insert_new(
    conn: AsyncConnection, network_id: int, rows: Sequence[AccessRow], now: datetime
) -> None:
    """Insert accesses that are not stored yet: the fast path for a network's first import.

    PostgreSQL gets them by ``COPY`` straight into the table. Raises AlreadyStored when one of
    them is there after all (then use ``upsert`` in a new transaction).
    """
    if not rows:
        return
    try:
        if conn.dialect.name == "postgresql":
            await conn.exec_driver_sql("SELECT 1")  # begins the driver's transaction
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            await driver.copy_records_to_table(
                "accesses",
                records=[(network_id, *_values(r), now) for r in rows],
                columns=_ROW_COLUMNS,
            )
        else:
            stamp = UTCDateTime().bind_processor(conn.dialect)
            stored_now = stamp(now) if stamp else now
            params = [(network_id, *_values(r), stored_now) for r in rows]
            await conn.exec_driver_sql(_SQLITE_INSERT, params)
    except (IntegrityError, UniqueViolationError) as e:  # asyncpg's own from the COPY
        raise AlreadyStored(str(e)) from e


async def upsert(
    conn: AsyncConnection, network_id: int, rows: Sequence[AccessRow], now: datetime
) -> UpsertCount:
    """Insert new accesses and update changed ones (stamping ``now``); leave the rest alone.

    The accessIds in ``rows`` must be distinct. Runs in the caller's transaction.
    """
    if not rows:
        return UpsertCount(0, 0)
    if conn.dialect.name == "postgresql":
        return await _upsert_postgresql(conn, network_id, rows, now)
    return await _upsert_sqlite(conn, network_id, rows, now)


async def _upsert_sqlite(
    conn: AsyncConnection, network_id: int, rows: Sequence[AccessRow], now: datetime
) -> UpsertCount:
    stamp = UTCDateTime().bind_processor(conn.dialect)
    stored_now = stamp(now) if stamp else now
    # Rows written by this statement are counted by total_changes(); new rows get rowids above
    # the largest before it (SQLite's single writer makes both exact).
    changes_before = await _sqlite_scalar(conn, "SELECT total_changes()")
    max_id_before = await _sqlite_scalar(conn, "SELECT coalesce(max(id), 0) FROM accesses")
    params = [(network_id, *_values(r), stored_now) for r in rows]
    await conn.exec_driver_sql(_SQLITE_UPSERT, params)
    changes = await _sqlite_scalar(conn, "SELECT total_changes()") - changes_before
    new_rows = select(func.count()).select_from(accesses).where(accesses.c.id > max_id_before)
    inserted = int((await conn.execute(new_rows)).scalar_one())
    return UpsertCount(inserted, changes - inserted)


async def _sqlite_scalar(conn: AsyncConnection, sql: str) -> int:
    return int((await conn.exec_driver_sql(sql)).scalar_one())


async def _upsert_postgresql(
    conn: AsyncConnection, network_id: int, rows: Sequence[AccessRow], now: datetime
) -> UpsertCount:
    await conn.exec_driver_sql(_PG_STAGE)  # also begins the driver's transaction
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    await driver.copy_records_to_table(
        "mdb_stage", records=[_values(r) for r in rows], columns=_PG_STAGE_COLUMNS
    )
    counted = (await conn.execute(_PG_UPSERT, {"network_id": network_id, "now": now})).one()
    await conn.exec_driver_sql("DROP TABLE mdb_stage")
    return UpsertCount(counted.inserted, counted.updated)


async def count(conn: AsyncConnection, network_id: int, *, retired: bool = True) -> int:
    """How many accesses a network has stored (``retired=False``: in use)."""
    q = select(func.count()).select_from(accesses).where(accesses.c.network_id == network_id)
    if not retired:
        q = q.where(accesses.c.retired_at.is_(None))
    return int((await conn.execute(q)).scalar_one())


#: Accesses retired per statement (bound parameters stay well below every driver's limit).
_RETIRE_BATCH = 5000


async def retire_absent(
    conn: AsyncConnection, network_id: int, keep: Collection[str], now: datetime
) -> int:
    """Retire the network's accesses in use whose accessId is not in ``keep``; how many.

    The network's accessIds are read in one pass and compared here: one indexed range read,
    where sending ``keep`` (up to a million ids) to the database would cost more.
    """
    q = select(accesses.c.id, accesses.c.access_id).where(
        accesses.c.network_id == network_id, accesses.c.retired_at.is_(None)
    )
    gone = [pk for pk, access_id in await conn.execute(q) if access_id not in keep]
    for start in range(0, len(gone), _RETIRE_BATCH):
        await conn.execute(
            update(accesses)
            .where(accesses.c.id.in_(gone[start : start + _RETIRE_BATCH]))
            .values(retired_at=now, updated_at=now)
        )
    return len(gone)


async def export_rows(conn: AsyncConnection, network_id: int) -> AsyncIterator[AccessRow]:
    """Every access in use of a network in MdB2 form, ordered by accessId, streamed."""
    q = (
        select(*(accesses.c[c] for c in DATA_COLUMNS))
        .where(accesses.c.network_id == network_id, accesses.c.retired_at.is_(None))
        .order_by(accesses.c.access_id)
        .execution_options(yield_per=5000)
    )
    result = await conn.stream(q)
    async for r in result:
        yield AccessRow(*r)


# --- address search ------------------------------------------------------------------------
#
# On the direct driver path (storage.direct): the guide searches as the customer types. Each
# statement is a range on one of the ix_accesses_search_* indexes, read in index order up to the
# limit; tests/integration/test_address_search.py checks the plans.

_SELECT = (
    "SELECT a.id, n.coid, a.access_id, a.street_name, a.street_number, a.street_littera, "
    "a.postal_code, a.city, a.mdu_apartment_number "
    "FROM accesses a JOIN networks n ON n.id = a.network_id WHERE a.retired_at IS NULL AND "
)
_ORDER = "a.search_number, a.mdu_apartment_number, a.id"


class _Plan:
    """One statement being written: ``$n`` placeholders for the values, in order."""

    def __init__(self) -> None:
        self.where: list[str] = []
        self.args: list[object] = []

    def arg(self, value: object) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def equals(self, column: str, value: str) -> _Plan:
        self.where.append(f"{column} = {self.arg(value)}")
        return self

    def range_of(self, column: str, prefix: str) -> str:
        """The condition "``column`` starts with ``prefix``"."""
        return f"({column} >= {self.arg(prefix)} AND {column} < {self.arg(prefix + KEY_END)})"

    def starts_with(self, column: str, prefix: str, *, strictly: bool = False) -> _Plan:
        """``column`` starts with ``prefix`` (``strictly``: and is not ``prefix`` itself)."""
        low = ">" if strictly else ">="
        self.where.append(
            f"{column} {low} {self.arg(prefix)} AND {column} < {self.arg(prefix + KEY_END)}"
        )
        return self

    def filters(self, q: AddressQuery, *, city: bool = True, wider: bool | None = None) -> _Plan:
        if q.number:
            # The number as typed (``wider``: only the other numbers it finds, or both).
            ranges = [] if wider is True else [self.range_of("a.search_number", q.number)]
            if wider is not False:
                for key, exact in q.number_also:
                    if exact:
                        ranges.append(f"a.search_number = {self.arg(key)}")
                    else:
                        ranges.append(self.range_of("a.search_number", key))
            self.where.append(ranges[0] if len(ranges) == 1 else f"({' OR '.join(ranges)})")
        if q.postal_code:
            if q.postal_is_prefix:
                self.starts_with("a.postal_code", q.postal_code)
            else:
                self.equals("a.postal_code", q.postal_code)
        if city and q.city:
            self.starts_with("a.search_city", q.city)
        return self

    def ordered(self, order: str, limit: int) -> tuple[str, list[object]]:
        sql = f"{_SELECT}{' AND '.join(self.where)} ORDER BY {order} LIMIT {self.arg(limit)}"
        return sql, self.args


def search_statements(q: AddressQuery, limit: int) -> list[tuple[str, list[object]]]:
    """The statements that answer ``q`` (``$n`` SQL and its values), best matches first."""
    plans = []
    if q.street:
        exact = _Plan().equals("a.search_street", q.street)
        if q.number_also:  # the number as typed first, then the others it finds
            plans.append(exact.filters(q, wider=False).ordered(_ORDER, limit))
            exact = _Plan().equals("a.search_street", q.street).filters(q, wider=True)
        else:
            exact = exact.filters(q)
        plans.append(exact.ordered(_ORDER, limit))
        if q.street_may_be_city:
            by_city = _Plan().equals("a.search_city", q.street)
            plans.append(by_city.ordered(f"a.search_street, {_ORDER}", limit))
        after = _Plan().starts_with("a.search_street", q.street, strictly=True).filters(q)
        plans.append(after.ordered(f"a.search_street, {_ORDER}", limit))
        if q.street_may_be_city:
            after_city = _Plan().starts_with("a.search_city", q.street, strictly=True)
            plans.append(after_city.ordered(f"a.search_city, a.search_street, {_ORDER}", limit))
    elif q.postal_code:
        plans.append(_Plan().filters(q).ordered(f"a.postal_code, a.search_street, {_ORDER}", limit))
    elif q.city:
        exact = _Plan().equals("a.search_city", q.city).filters(q, city=False)
        plans.append(exact.ordered(f"a.search_street, {_ORDER}", limit))
        after = _Plan().starts_with("a.search_city", q.city, strictly=True)
        plans.append(
            after.filters(q, city=False).ordered(f"a.search_city, a.search_street, {_ORDER}", limit)
        )
    return plans


@cache
def _sql(text: str) -> Sql:
    return Sql.of(text)


def _renumber(sql: str, offset: int) -> str:
    return re.sub(r"\$(\d+)", lambda m: f"${int(m.group(1)) + offset}", sql)


def one_statement(plans: list[tuple[str, list[object]]]) -> tuple[str, list[object]]:
    """The plans as one statement, one round trip: their rows one plan after the other, each
    plan's in its own order (a UNION ALL of ordered subqueries is read in sequence)."""
    parts: list[str] = []
    args: list[object] = []
    for k, (sql, values) in enumerate(plans):
        parts.append(f"SELECT * FROM ({_renumber(sql, len(args))}) AS p{k}")  # noqa: S608
        args += values
    return " UNION ALL ".join(parts), args


async def search(reader: Reader, q: AddressQuery, limit: int) -> list[AddressMatch]:
    """Up to ``limit`` accesses matching ``q``: exact street (or city) first, then prefixes."""
    plans = search_statements(q, limit)
    if not plans:
        return []
    sql, args = one_statement(plans)
    matches: list[AddressMatch] = []
    seen: set[int] = set()
    # Each plan reads up to the full limit: a row an earlier plan found is skipped.
    for r in await reader.fetch(_sql(sql), *args):
        if r["id"] in seen:
            continue
        seen.add(r["id"])
        matches.append(
            AddressMatch(
                coid=r["coid"],
                access_id=r["access_id"],
                address=format_address(
                    r["street_name"],
                    r["street_number"],
                    r["street_littera"],
                    r["postal_code"],
                    r["city"],
                ),
                premise=r["mdu_apartment_number"],
            )
        )
        if len(matches) >= limit:
            break
    return matches
