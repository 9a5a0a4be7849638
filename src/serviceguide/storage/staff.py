"""Queries and writes behind the staff pages: staff logins and sessions, the filtered order list,
the order page's extra details, per-organisation follow-up flags and the overview's figures.

Every order query is scoped like :mod:`serviceguide.storage.orders`: a TL sees the orders of its
services, a KO the orders on its network; anything else is not found.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    any_,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy import text as sql_text
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.listing import OrderFilter, OrderRow, search_terms
from serviceguide.domain.model import Caller, OrgKind
from serviceguide.domain.ordering import is_digits
from serviceguide.domain.roles import Role
from serviceguide.domain.status import OrderStatus
from serviceguide.storage.tables import (
    accesses,
    customers,
    networks,
    order_flags,
    orders,
    organisations,
    outbox,
    services,
    staff_sessions,
    staff_users,
    webhook_endpoints,
)


@dataclass(frozen=True, slots=True)
class StaffUserRecord:
    caller: Caller
    username: str
    password_hash: str
    active: bool  # the user and its organisation
    role: Role


@dataclass(frozen=True, slots=True)
class OrderExtras:
    """What the staff page shows beyond the API's order: customer, network, address, flag."""

    customer_id: int
    firstname: str
    surname: str
    serial: str
    email: str
    phone: str
    address: str
    zip: str
    city: str
    premise: str
    network_name: str
    access_address: str
    flagged: bool
    flagged_by: str | None
    flagged_at: datetime | None


@dataclass(frozen=True, slots=True)
class FailedNotification:
    id: int
    order_id: int
    kind: str
    attempts: int
    last_error: str | None
    created_at: datetime


# --- staff users and sessions -------------------------------------------------------------------

_user_cols = (
    staff_users.c.id,
    staff_users.c.name,
    staff_users.c.username,
    staff_users.c.password_hash,
    staff_users.c.active,
    staff_users.c.role,
    organisations.c.active.label("org_active"),
    organisations.c.id.label("org_id"),
    organisations.c.name.label("org_name"),
    organisations.c.kind,
)


def _user(r: Any) -> StaffUserRecord:
    return StaffUserRecord(
        caller=Caller(
            user_id=r.id,
            user_name=r.name,
            org_id=r.org_id,
            org_name=r.org_name,
            org_kind=OrgKind(r.kind),
        ),
        username=r.username,
        password_hash=r.password_hash,
        active=bool(r.active and r.org_active),
        role=Role(r.role),
    )


async def get_user(
    conn: AsyncConnection, *, username: str | None = None, user_id: int | None = None
) -> StaffUserRecord | None:
    q = select(*_user_cols).join(organisations, organisations.c.id == staff_users.c.org_id)
    if username is not None:
        q = q.where(staff_users.c.username == username)
    if user_id is not None:
        q = q.where(staff_users.c.id == user_id)
    r = (await conn.execute(q)).first()
    return None if r is None else _user(r)


async def set_password(conn: AsyncConnection, user_id: int, password_hash: str) -> None:
    await conn.execute(
        update(staff_users).where(staff_users.c.id == user_id).values(password_hash=password_hash)
    )


async def insert_session(
    conn: AsyncConnection, *, token_sha256: str, user_id: int, now: datetime, expires: datetime
) -> None:
    await conn.execute(
        insert(staff_sessions).values(
            token_sha256=token_sha256, staff_user_id=user_id, created_at=now, expires_at=expires
        )
    )


async def session_user(
    conn: AsyncConnection, token_sha256: str, now: datetime
) -> tuple[StaffUserRecord, datetime] | None:
    """The active user of an unexpired session, and when the session expires."""
    q = (
        select(*_user_cols, staff_sessions.c.expires_at)
        .select_from(staff_sessions)
        .join(staff_users, staff_users.c.id == staff_sessions.c.staff_user_id)
        .join(organisations, organisations.c.id == staff_users.c.org_id)
        .where(
            staff_sessions.c.token_sha256 == token_sha256,
            staff_sessions.c.expires_at > now,
            staff_users.c.active.is_(True),
            organisations.c.active.is_(True),
        )
    )
    r = (await conn.execute(q)).first()
    return None if r is None else (_user(r), r.expires_at)


async def extend_session(conn: AsyncConnection, token_sha256: str, expires: datetime) -> None:
    await conn.execute(
        update(staff_sessions)
        .where(staff_sessions.c.token_sha256 == token_sha256)
        .values(expires_at=expires)
    )


async def delete_session(conn: AsyncConnection, token_sha256: str) -> None:
    await conn.execute(delete(staff_sessions).where(staff_sessions.c.token_sha256 == token_sha256))


async def delete_sessions_of(
    conn: AsyncConnection, user_id: int, *, keep: str | None = None
) -> None:
    q = delete(staff_sessions).where(staff_sessions.c.staff_user_id == user_id)
    if keep is not None:
        q = q.where(staff_sessions.c.token_sha256 != keep)
    await conn.execute(q)


async def delete_expired_sessions(conn: AsyncConnection, now: datetime) -> None:
    await conn.execute(delete(staff_sessions).where(staff_sessions.c.expires_at <= now))


# --- orders -------------------------------------------------------------------------------------

tl_org = organisations.alias("staff_tl_org")


def _scope(caller: Caller) -> ColumnElement[bool]:
    col = orders.c.tl_org_id if caller.org_kind == OrgKind.TL else orders.c.ko_org_id
    return col == caller.org_id


def _flag_of(caller: Caller) -> ColumnElement[bool]:
    return exists().where(
        order_flags.c.order_id == orders.c.id, order_flags.c.org_id == caller.org_id
    )


def _contains(col: Any, term: str) -> ColumnElement[bool]:
    """``col`` holds ``term`` (a folded word: letters and digits only, no LIKE wildcards): a
    number as a whole word (house number 1 is not postal code 12345), letters anywhere."""
    return col.like(f"% {term} %" if term.isdigit() else f"%{term}%")


#: On PostgreSQL, a search whose words fit fewer customers than this starts from them.
FEW_CUSTOMERS = 2000


async def _few_customers(conn: AsyncConnection, text: str) -> bool:
    """Whether the words of ``text`` fit few customers, by PostgreSQL's own estimate from the
    trigram index's statistics (migration 0015): planning costs a millisecond where counting
    the customers of a common name cost tens. An estimate that is off makes a search slower,
    never different. A search needs a word of three letters or more for the index to go on."""
    terms = search_terms(text)
    if conn.dialect.name != "postgresql" or not any(len(t) >= 3 for t in terms):
        return False
    likes = " AND ".join(f"search_text LIKE :t{i}" for i in range(len(terms)))
    patterns = {f"t{i}": (f"% {t} %" if t.isdigit() else f"%{t}%") for i, t in enumerate(terms)}
    plan = (
        await conn.execute(
            sql_text(f"EXPLAIN (FORMAT JSON) SELECT id FROM customers WHERE {likes}"),  # noqa: S608
            patterns,
        )
    ).scalar_one()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return float(plan[0]["Plan"]["Plan Rows"]) < FEW_CUSTOMERS


def _text_match(text: str, few: bool = False) -> ColumnElement[bool]:
    """Every word of ``text`` in the customer's folded names and address (in any order, case
    and accents aside), or ``text`` is the accessId or the order's number.

    ``few`` (PostgreSQL, :func:`_few_customers`): the same test, written so that PostgreSQL
    starts from the customers with those words and the access of that accessId (each found on
    its index, their orders on theirs) instead of reading the organisation's orders newest
    first to the end when little or nothing matches."""
    terms = search_terms(text)
    if few:
        fits = select(customers.c.id).where(*(_contains(customers.c.search_text, t) for t in terms))
        named = select(accesses.c.id).where(func.lower(accesses.c.access_id) == text.lower())
        conditions = [
            orders.c.customer_id == any_(func.array(fits.scalar_subquery())),
            orders.c.access_pk == any_(func.array(named.scalar_subquery())),
        ]
    else:
        conditions = [func.lower(accesses.c.access_id) == text.lower()]
        if terms:
            conditions.append(and_(*(_contains(customers.c.search_text, t) for t in terms)))
    if is_digits(text) and len(text) < 19:
        conditions.append(orders.c.id == int(text))
    return or_(*conditions)


def _list_query(caller: Caller, f: OrderFilter, few: bool = False) -> Select[Any]:
    flag = _flag_of(caller).label("flagged")
    q = (
        select(
            orders.c.id,
            orders.c.created_at,
            orders.c.status,
            orders.c.service_id,
            orders.c.delivery,
            orders.c.customer_id,
            orders.c.service_name,
            tl_org.c.name.label("xsp_name"),
            networks.c.coid,
            networks.c.name.label("network_name"),
            accesses.c.access_id,
            accesses.c.street_name,
            accesses.c.street_number,
            accesses.c.street_littera,
            accesses.c.city,
            customers.c.firstname,
            customers.c.surname,
            flag,
        )
        .join(tl_org, tl_org.c.id == orders.c.tl_org_id)
        .join(accesses, accesses.c.id == orders.c.access_pk)
        .join(networks, networks.c.id == accesses.c.network_id)
        .join(customers, customers.c.id == orders.c.customer_id)
        .where(_scope(caller))
    )
    if f.status is not None:
        q = q.where(orders.c.status == f.status.value)
    if f.coid:
        q = q.where(networks.c.coid == f.coid)
    if f.service_id is not None:
        q = q.where(orders.c.service_id == f.service_id)
    if f.created_from is not None:
        q = q.where(orders.c.created_at >= f.created_from)
    if f.created_before is not None:
        q = q.where(orders.c.created_at < f.created_before)
    if f.flagged:
        q = q.where(_flag_of(caller))
    if f.text:
        q = q.where(_text_match(f.text, few))
    return q


def _row(r: Any) -> OrderRow:
    number = f"{r.street_number}{r.street_littera}"
    return OrderRow(
        id=r.id,
        created_at=r.created_at,
        status=OrderStatus(r.status),
        service_id=r.service_id,
        service_name=r.service_name,
        xsp_name=r.xsp_name,
        coid=r.coid,
        network_name=r.network_name,
        access_id=r.access_id,
        address=f"{r.street_name} {number}, {r.city}",
        customer_id=r.customer_id,
        customer_name=f"{r.firstname} {r.surname}",
        delivery=r.delivery,
        flagged=bool(r.flagged),
    )


async def list_orders(
    conn: AsyncConnection, caller: Caller, f: OrderFilter, *, before: int | None, limit: int
) -> list[OrderRow]:
    """Newest first, keyset-paged: ids below ``before``. Walks the (org, id) index backwards."""
    few = bool(f.text) and await _few_customers(conn, f.text)
    q = _list_query(caller, f, few).order_by(orders.c.id.desc()).limit(limit)
    if before is not None:
        q = q.where(orders.c.id < before)
    return [_row(r) for r in await conn.execute(q)]


async def order_extras(conn: AsyncConnection, caller: Caller, order_id: int) -> OrderExtras | None:
    q = (
        select(
            customers.c.id.label("customer_id"),
            customers.c.firstname,
            customers.c.surname,
            customers.c.serial,
            customers.c.email,
            customers.c.phone,
            customers.c.address,
            customers.c.zip,
            customers.c.city,
            customers.c.premise,
            networks.c.name.label("network_name"),
            accesses.c.street_name,
            accesses.c.street_number,
            accesses.c.street_littera,
            accesses.c.postal_code,
            accesses.c.city.label("access_city"),
            order_flags.c.set_by,
            order_flags.c.at,
        )
        .select_from(orders)
        .join(customers, customers.c.id == orders.c.customer_id)
        .join(accesses, accesses.c.id == orders.c.access_pk)
        .join(networks, networks.c.id == accesses.c.network_id)
        .outerjoin(
            order_flags,
            and_(order_flags.c.order_id == orders.c.id, order_flags.c.org_id == caller.org_id),
        )
        .where(orders.c.id == order_id, _scope(caller))
    )
    r = (await conn.execute(q)).first()
    if r is None:
        return None
    return OrderExtras(
        customer_id=r.customer_id,
        firstname=r.firstname,
        surname=r.surname,
        serial=r.serial,
        email=r.email,
        phone=r.phone,
        address=r.address,
        zip=r.zip,
        city=r.city,
        premise=r.premise,
        network_name=r.network_name,
        access_address=(
            f"{r.street_name} {r.street_number}{r.street_littera}, {r.postal_code} {r.access_city}"
        ),
        flagged=r.set_by is not None,
        flagged_by=r.set_by,
        flagged_at=r.at,
    )


async def set_flag(
    conn: AsyncConnection, order_id: int, org_id: int, *, on: bool, by: str, at: datetime
) -> None:
    await conn.execute(
        delete(order_flags).where(
            order_flags.c.order_id == order_id, order_flags.c.org_id == org_id
        )
    )
    if on:
        await conn.execute(
            insert(order_flags).values(order_id=order_id, org_id=org_id, set_by=by, at=at)
        )


async def filter_choices(
    conn: AsyncConnection, caller: Caller
) -> tuple[list[tuple[int, str]], list[tuple[str, str]]]:
    """The services and the networks the caller's orders can be on, for the filter form."""
    if caller.org_kind == OrgKind.TL:
        where = services.c.tl_org_id == caller.org_id
    else:
        where = networks.c.ko_org_id == caller.org_id
    q = (
        select(services.c.id, services.c.name, networks.c.coid, networks.c.name.label("network"))
        .join(networks, networks.c.id == services.c.network_id)
        .where(where)
        .order_by(services.c.name, services.c.id)
    )
    rows = list(await conn.execute(q))
    svc = [(r.id, r.name) for r in rows]
    nets = sorted({(r.coid, r.network) for r in rows}, key=lambda n: n[1])
    if caller.org_kind == OrgKind.KO:
        own = select(networks.c.coid, networks.c.name).where(networks.c.ko_org_id == caller.org_id)
        nets = sorted(
            set(nets) | {(r.coid, r.name) for r in await conn.execute(own)}, key=lambda n: n[1]
        )
    return svc, nets


# --- the overview -------------------------------------------------------------------------------


async def status_counts(conn: AsyncConnection, caller: Caller) -> dict[OrderStatus, int]:
    q = select(orders.c.status, func.count()).where(_scope(caller)).group_by(orders.c.status)
    found = {OrderStatus(s): int(n) for s, n in await conn.execute(q)}
    return {s: found.get(s, 0) for s in OrderStatus}


async def created_per_hour(
    conn: AsyncConnection, caller: Caller, since: datetime
) -> list[tuple[datetime, int]]:
    """How many of the caller's orders were created in each UTC hour since ``since``.

    Grouped in the database (at most 24 rows a day however many orders there are); hours, not
    days, because the Stockholm day boundary moves with summer time and only the caller knows
    the zone. Stockholm's offsets are whole hours, so an hour falls in exactly one local day."""
    if conn.dialect.name == "postgresql":
        hour: ColumnElement[str] = func.to_char(
            func.timezone("UTC", orders.c.created_at), "YYYY-MM-DD HH24"
        )
    else:  # SQLite keeps UTC text "YYYY-MM-DD HH:MM:SS.ffffff"
        hour = func.substr(orders.c.created_at, 1, 13)
    q = (
        select(hour.label("hour"), func.count())
        .where(_scope(caller), orders.c.created_at >= since)
        .group_by(hour)
    )
    return [
        (datetime.strptime(h, "%Y-%m-%d %H").replace(tzinfo=UTC), int(n))
        for h, n in await conn.execute(q)
    ]


async def oldest_open(conn: AsyncConnection, caller: Caller, limit: int) -> list[OrderRow]:
    f = OrderFilter()
    q = (
        _list_query(caller, f)
        .where(orders.c.status.in_([OrderStatus.NEW.value, OrderStatus.WAITING.value]))
        .order_by(orders.c.id)
        .limit(limit)
    )
    return [_row(r) for r in await conn.execute(q)]


async def flagged_orders(conn: AsyncConnection, caller: Caller, limit: int) -> list[OrderRow]:
    return await list_orders(conn, caller, OrderFilter(flagged=True), before=None, limit=limit)


async def failed_notifications(
    conn: AsyncConnection, caller: Caller, limit: int
) -> list[FailedNotification]:
    """Deliveries to the caller's organisation that gave up, for orders it can see."""
    q = (
        select(
            outbox.c.id,
            outbox.c.order_id,
            outbox.c.kind,
            outbox.c.attempts,
            outbox.c.last_error,
            outbox.c.created_at,
        )
        .join(orders, orders.c.id == outbox.c.order_id)
        .outerjoin(webhook_endpoints, webhook_endpoints.c.id == outbox.c.endpoint_id)
        .where(
            outbox.c.state == "failed",
            _scope(caller),
            # Its own: the order mail sent to it, or a webhook to one of its endpoints (another
            # organisation's endpoint URL and errors are not its business).
            or_(outbox.c.org_id == caller.org_id, webhook_endpoints.c.org_id == caller.org_id),
        )
        .order_by(outbox.c.id.desc())
        .limit(limit)
    )
    return [
        FailedNotification(
            id=r.id,
            order_id=r.order_id,
            kind=r.kind,
            attempts=r.attempts,
            last_error=r.last_error,
            created_at=r.created_at,
        )
        for r in await conn.execute(q)
    ]
