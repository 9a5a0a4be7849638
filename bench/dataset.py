"""Realistic data for the HTTP benchmark: a network, its TLs and services, and order history.

The organisations, services and API users are made through the same services the CLI uses;
the accesses come in through the market-database importer (timed: it is one of the figures).
Order history — customers, orders, their logs and the event stream — is written in bulk
(COPY on PostgreSQL, ``executemany`` in one transaction on SQLite), because placing a million
orders one by one through the guide would take hours and measure nothing new.

The history looks like a network that has taken ``ORDERS_PER_DAY`` orders a day for as long as
the requested count takes: old orders are delivered or cancelled after two or three status
changes, recent ones are still new, received, active or waiting. Six in ten customers order two
services at once (internet and TV from different providers).
"""

from __future__ import annotations

import itertools
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from serviceguide.domain.listing import search_text
from serviceguide.domain.model import status_change_text
from serviceguide.domain.personnummer import with_check_digit
from serviceguide.domain.status import OrderStatus
from serviceguide.services import admin
from serviceguide.services.context import AppContext

COID = "BENCH"
ORDERS_PER_DAY = 1000
#: The TLs on the benchmark network: (xsp, name, services as (uid, name, monthly, once)).
PROVIDERS = [
    (
        101,
        "Fiberbolaget",
        [("FB100", "Bredband 100/100", "299", "0"), ("FB1000", "Bredband 1000/1000", "499", "0")],
    ),
    (102, "Snabbnät", [("SN250", "Bredband 250/250", "349", "0"), ("SNTV", "TV Bas", "199", "99")]),
    (103, "Kanalbolaget", [("KBTV", "TV Mellan", "249", "0"), ("KBTEL", "Telefoni", "49", "0")]),
    (
        104,
        "Stadsbredband",
        [("SB500", "Bredband 500/500", "399", "0"), ("SBTV", "TV Stor", "349", "0")],
    ),
]
#: TV and telephony: ordered together with a broadband service.
EXTRA_UIDS = frozenset({"SNTV", "KBTV", "KBTEL", "SBTV"})
BENCH_XSP = 101  # the TL whose API user drives the XSP scenarios
API_KEY = "bench-api-key-0123456789abcdef"  # the benchmark's own throwaway database only
KO_API_KEY = "bench-ko-api-key-0123456789abcdef"

FIRST = [
    "Anna",
    "Erik",
    "Maria",
    "Lars",
    "Karin",
    "Anders",
    "Eva",
    "Johan",
    "Sara",
    "Per",
    "Åsa",
    "Björn",
    "Ingrid",
    "Örjan",
    "Linnéa",
    "Gösta",
    "Märta",
    "Nils",
    "Elsa",
    "Olof",
]
LAST = [
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Gustafsson",
    "Pettersson",
    "Jonsson",
    "Lindström",
    "Åberg",
    "Öberg",
    "Bäckström",
    "Sjögren",
    "Ekström",
    "Håkansson",
    "Lundqvist",
]
NOTES = ["Installation bokad", "Kunden nås bäst efter 17", "Router skickad", "Väntar på kund"]
GUIDE = "Tjänsteguiden"


@dataclass(frozen=True)
class World:
    """What the load scripts need to know about the generated data."""

    ko_org_id: int
    tls: dict[int, tuple[int, str]]  # xsp -> (org id, name)
    services: list[tuple[int, int, str]]  # (service id, tl org id, uid)
    api_user: int  # the bench TL's
    ko_api_user: int
    # What an order copies from its service when placed: service id -> (uid, name, prices).
    offers: dict[int, tuple[str, str, str, str]]


async def create_world(ctx: AppContext) -> World:
    """The KO and its network, four TLs with two services each, and API users."""
    ko_org_id = await admin.create_ko(ctx, COID, "Bänkstadens Stadsnät")
    tls: dict[int, tuple[int, str]] = {}
    services: list[tuple[int, int, str]] = []
    offers: dict[int, tuple[str, str, str, str]] = {}
    for xsp, name, offered in PROVIDERS:
        org_id = await admin.create_tl(ctx, xsp, name, f"order@{xsp}.example")
        tls[xsp] = (org_id, name)
        for uid, sname, monthly, once in offered:
            sid = await admin.create_service(
                ctx,
                xsp=xsp,
                coid=COID,
                uid=uid,
                name=sname,
                price_monthly=monthly,
                price_once=once,
            )
            services.append((sid, org_id, uid))
            offers[sid] = (uid, sname, monthly, once)
    tl = await admin.find_org(ctx, xsp=BENCH_XSP)
    ko = await admin.find_org(ctx, coid=COID)
    api_user = (await admin.create_api_user(ctx, tl, "bench", api_key=API_KEY)).ident
    ko_api_user = (await admin.create_api_user(ctx, ko, "bench-ko", api_key=KO_API_KEY)).ident
    assert isinstance(api_user, int) and isinstance(ko_api_user, int)
    return World(ko_org_id, tls, services, api_user, ko_api_user, offers)


@dataclass
class History:
    """Counts of what :func:`write_history` wrote."""

    customers: int = 0
    orders: int = 0
    log: int = 0
    events: int = 0


def pnr(rng: random.Random) -> str:
    born = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 62))
    nine = f"{born:%y%m%d}{rng.randrange(0, 1000):03d}"
    ten = with_check_digit(nine)
    return f"{born.year // 100}{ten}"


def _lifecycle(age_days: float, rng: random.Random) -> list[str]:
    """The statuses an order has been through, ``new`` first, by how old it is."""
    r = rng.random()
    if age_days > 30:
        if r < 0.6:
            return ["new", "received", "delivered"]
        if r < 0.9:
            return ["new", "received", "active", "delivered"]
        return ["new", "received", "cancelled"]
    if age_days > 2:
        paths = [
            (0.45, ["new", "received", "active", "delivered"]),
            (0.65, ["new", "received", "active"]),
            (0.80, ["new", "received", "active", "waiting"]),
            (0.95, ["new", "received"]),
            (1.00, ["new", "cancelled"]),
        ]
    else:
        paths = [
            (0.40, ["new"]),
            (0.70, ["new", "received"]),
            (0.90, ["new", "received", "active"]),
            (1.00, ["new", "received", "active", "waiting"]),
        ]
    return next(path for bound, path in paths if r < bound)


Rows = dict[str, list[tuple[Any, ...]]]


def _history(
    world: World,
    accesses: list[tuple[int, str, str, str, str]],
    count: int,
    end: datetime,
    seed: int,
) -> Iterator[Rows]:
    """Rows for ``count`` orders ending at ``end``, in chunks of a few thousand orders."""
    rng = random.Random(seed)
    by_tl = {org: name for org, name in world.tls.values()}
    internet = [s[:2] for s in world.services if s[2] not in EXTRA_UIDS]
    tv = [s[:2] for s in world.services if s[2] in EXTRA_UIDS]
    span = timedelta(days=count / ORDERS_PER_DAY)
    start = end - span
    step = span / count
    order_id = log_id = event_id = customer_id = 0
    made = 0
    chunk: Rows = {"customers": [], "orders": [], "order_log": [], "events": []}
    while made < count:
        at = start + step * made
        customer_id += 1
        access_pk, street, postal, city, flat = accesses[rng.randrange(len(accesses))]
        first, last = rng.choice(FIRST), rng.choice(LAST)
        chunk["customers"].append(
            (
                customer_id,
                access_pk,
                pnr(rng),
                first,
                last,
                f"{first.lower()}.{last.lower()}{customer_id}@example.se",
                f"070-{rng.randrange(10**7):07d}",
                street,
                postal,
                city,
                flat,
                search_text(first, last, street, postal, city),
                at,
            )
        )
        chosen = [rng.choice(internet)]
        if rng.random() < 0.6:
            chosen.append(rng.choice(tv))
        for service_id, tl_org in chosen[: count - made]:
            order_id += 1
            made += 1
            age = (end - at) / timedelta(days=1)
            path = _lifecycle(age, rng)
            entries: list[tuple[datetime, str, str, str, str, int | None, str]] = [
                (
                    at,
                    "system",
                    "Order placed through Tjänsteguiden",
                    GUIDE,
                    GUIDE,
                    None,
                    "order_created",
                )
            ]
            t = at
            for old, new in itertools.pairwise(path):
                t = min(end, t + timedelta(hours=rng.uniform(0.5, 72)))
                org = world.ko_org_id if new == "delivered" and rng.random() < 0.2 else tl_org
                who, org_name = (
                    ("KO-system", "Bänkstadens Stadsnät")
                    if org == world.ko_org_id
                    else ("agent", by_tl[tl_org])
                )
                entries.append(
                    (
                        t,
                        "system",
                        status_change_text(OrderStatus(old), OrderStatus(new), who, org_name),
                        who,
                        org_name,
                        org,
                        "status_changed",
                    )
                )  # type: ignore[arg-type]
            if rng.random() < 0.1:
                t = min(end, t + timedelta(hours=1))
                entries.append(
                    (t, "log", rng.choice(NOTES), "agent", by_tl[tl_org], tl_org, "message_added")
                )
            status = path[-1]
            uid, sname, monthly, once = world.offers[service_id]
            chunk["orders"].append(
                (
                    order_id,
                    customer_id,
                    service_id,
                    access_pk,
                    tl_org,
                    world.ko_org_id,
                    status,
                    None,
                    "",
                    at,
                    t,
                    uid,
                    sname,
                    float(monthly),
                    float(once),
                )
            )
            current = "new"
            for when, mtype, text, who, org_name, org, etype in entries:
                log_id += 1
                chunk["order_log"].append((log_id, order_id, when, mtype, text, who, org_name, org))
                if etype == "status_changed":
                    current = text.split(" to ", 1)[1].split(" by ", 1)[0]
                event_id += 1
                chunk["events"].append(
                    (
                        event_id,
                        order_id,
                        when,
                        etype,
                        current,
                        mtype if etype == "message_added" else None,
                        tl_org,
                        world.ko_org_id,
                    )
                )
        if len(chunk["orders"]) >= 20_000 or made >= count:
            yield chunk
            chunk = {"customers": [], "orders": [], "order_log": [], "events": []}


COLUMNS = {
    "customers": (
        "id",
        "access_pk",
        "serial",
        "firstname",
        "surname",
        "email",
        "phone",
        "address",
        "zip",
        "city",
        "premise",
        "search_text",
        "created_at",
    ),
    "orders": (
        "id",
        "customer_id",
        "service_id",
        "access_pk",
        "tl_org_id",
        "ko_org_id",
        "status",
        "delivery",
        "message",
        "created_at",
        "updated_at",
        "service_uid",
        "service_name",
        "price_monthly",
        "price_once",
    ),
    "order_log": (
        "id",
        "order_id",
        "created_at",
        "type",
        "message",
        "user_name",
        "org_name",
        "org_id",
    ),
    "events": (
        "id",
        "order_id",
        "created_at",
        "type",
        "status",
        "message_type",
        "tl_org_id",
        "ko_org_id",
    ),
}


def _sqlite_value(v: Any) -> Any:
    # SQLAlchemy's SQLite DATETIME storage format: naive UTC with microseconds.
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return v


def _load_accesses_sqlite(path: str) -> list[tuple[int, str, str, str, str]]:
    with sqlite3.connect(path) as conn:
        return _sample(conn.execute(_ACCESS_SQL).fetchall())


def _sample(rows: list[tuple[Any, ...]]) -> list[tuple[int, str, str, str, str]]:
    rng = random.Random(11)
    picked = rows if len(rows) <= 200_000 else rng.sample(rows, 200_000)
    return [(r[0], f"{r[1]} {r[2]}{r[3]}", r[4], r[5], r[6]) for r in picked]


_ACCESS_SQL = (
    "SELECT id, street_name, street_number, street_littera, postal_code, city, "
    "mdu_apartment_number FROM accesses"
)


def write_history(url: str, world: World, count: int, *, end: datetime, seed: int = 5) -> History:
    """Write ``count`` orders (with their customers, logs and events) into an empty history."""
    u = make_url(url)
    done = History()
    if u.get_backend_name() == "sqlite":
        assert u.database
        accesses = _load_accesses_sqlite(u.database)
        with sqlite3.connect(u.database) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=OFF")
            for chunk in _history(world, accesses, count, end, seed):
                for table, rows in chunk.items():
                    cols = COLUMNS[table]
                    marks = ", ".join("?" * len(cols))
                    conn.executemany(
                        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})",
                        ([_sqlite_value(v) for v in row] for row in rows),
                    )
                _count(done, chunk)
            conn.execute("ANALYZE")
        return done
    dsn = u.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=False) as conn:
        accesses = _sample(conn.execute(_ACCESS_SQL).fetchall())
        for chunk in _history(world, accesses, count, end, seed):
            for table, rows in chunk.items():
                with conn.cursor().copy(
                    f"COPY {table} ({', '.join(COLUMNS[table])}) FROM STDIN"
                ) as copy:
                    for row in rows:
                        copy.write_row(row)
            _count(done, chunk)
        for table in COLUMNS:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return done


def _count(done: History, chunk: Rows) -> None:
    done.customers += len(chunk["customers"])
    done.orders += len(chunk["orders"])
    done.log += len(chunk["order_log"])
    done.events += len(chunk["events"])
