"""HTTP benchmark: the server as users run it, driven by wrk, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.api [--backends sqlite,postgresql] [--sizes 10000,1000000]
                                  [--accesses 1000000] [--connections 8,32,128] [--seconds 4]

For each backend: a fresh database with one network, four TLs with two services each and the
market database imported through the real importer (timed); then, for each size, that many
orders of history (customers, orders, logs, events) written in bulk. ``serviceguide serve
--workers 2`` is started on it and every scenario is driven by wrk at each concurrency, right
after the same server's bare ceiling (``/healthz``: routing, middleware and a JSON body, no
database). On PostgreSQL at the largest size it also runs the scale-out checks (bench.scaleout).
Writes the "HTTP API" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import httpx
import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import dataset, harness, reads
from bench import marketdb as mdb
from bench.harness import Load, Server, Timer, write_requests, wrk
from serviceguide.services import marketdb
from serviceguide.services.context import AppContext
from serviceguide.settings import Settings
from serviceguide.storage import migrate
from serviceguide.storage.db import Database, sync_url

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## HTTP API"
PG_ADMIN_URL = mdb.PG_ADMIN_URL
SECRET = "bench-secret-key-bench-secret-key-0123456789"
XSP = "/plain/serviceguide_log"
FORM = "application/x-www-form-urlencoded"
STOCKHOLM = ZoneInfo("Europe/Stockholm")


def server_env(url: str, var: Path, **extra: str) -> dict[str, str]:
    """Settings of the server under test: the defaults, except that the guide's per-address
    order throttle is off (every request comes from 127.0.0.1) and mail goes to files."""
    env = {
        "SERVICEGUIDE_DATABASE_URL": url,
        "SERVICEGUIDE_VAR_DIR": str(var),
        "SERVICEGUIDE_SECRET_KEY": SECRET,
        "SERVICEGUIDE_GUIDE_RATE": "0",
        "SERVICEGUIDE_BASE_URL": "http://127.0.0.1",
    }
    env.pop("SERVICEGUIDE_SMTP_URL", None)
    return {**env, **extra}


# -- databases ---------------------------------------------------------------------------------


def _pg_url(name: str) -> str:
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _pg_admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def fresh_database(backend: str, name: str, work: Path) -> str:
    if backend == "sqlite":
        path = work / f"{name}.sqlite3"
        for p in work.glob(f"{name}.sqlite3*"):
            p.unlink()
        return f"sqlite:///{path}"
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _pg_admin(f'CREATE DATABASE "{name}"')
    return _pg_url(name)


def clone_database(backend: str, src: str, name: str, work: Path) -> str:
    """A copy of ``src`` (which nothing may have open): a file copy or a template database."""
    if backend == "sqlite":
        src_path = make_url(src).database
        assert src_path
        with sqlite3.connect(src_path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        dst = work / f"{name}.sqlite3"
        shutil.copyfile(src_path, dst)
        return f"sqlite:///{dst}"
    src_name = make_url(src).database
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{src_name}"')
    return _pg_url(name)


def drop_database(backend: str, url: str) -> None:
    if backend == "postgresql":
        _pg_admin(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


def _settings(url: str, var: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        var_dir=var,
        secret_key=SECRET,
    )


@dataclass
class Base:
    url: str
    world: dataset.World
    import_s: float
    accesses: int
    streets: list[mdb.Street]


async def _build_base(url: str, var: Path, mdb_file: Path) -> tuple[dataset.World, float, int]:
    migrate.upgrade(url)
    db = Database(url)
    try:
        ctx = AppContext(db=db, settings=_settings(url, var))
        world = await dataset.create_world(ctx)
        report = await marketdb.import_accesses(ctx, dataset.COID, mdb_file)
        return world, report.seconds, report.imported
    finally:
        await db.dispose()


def build_base(backend: str, work: Path, mdb_file: Path, streets: list[mdb.Street]) -> Base:
    url = fresh_database(backend, "sg_bench", work)
    world, seconds, n = asyncio.run(_build_base(url, work / "var", mdb_file))
    say(f"[{backend}] imported {n:,} accesses in {seconds:.1f} s")
    return Base(url, world, seconds, n, streets)


def query(url: str, sql: str, **params: Any) -> list[Any]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params))
    finally:
        engine.dispose()


# -- scenarios -------------------------------------------------------------------------------


Line = tuple[str, str, str, str, str]


@dataclass
class Scenario:
    name: str
    what: str
    lines: list[Line]
    rows: int | None = None  # rows in one answer, where it is a list
    per_request: int = 1  # orders per request (placement)


@dataclass
class Fixture:
    """What the scenarios are made from, read off the database the server runs on."""

    hash: str
    tl_org: int
    order_ids: list[int]
    customer_ids: list[int]
    open_ids: list[int]
    since_order: int
    since_event: int
    day: str
    access_ids: list[str]


def _xsp(hash_: str, **params: object) -> Line:
    return ("GET", f"{XSP}?{urlencode({**params, 'hash': hash_})}", "", "", "")


def fixture(url: str, server: Server, world: dataset.World) -> Fixture:
    tl_org = world.tls[dataset.BENCH_XSP][0]
    login = httpx.post(
        f"{server.url}{XSP}",
        data={
            "method": "api_login",
            "api_user": world.api_user,
            "api_key": dataset.API_KEY,
            "output_format": "json",
        },
        timeout=30,
    ).json()
    hash_ = login["api_login"]["response"]["hash_key"]
    sample = query(
        url,
        "SELECT id, customer_id FROM orders WHERE tl_org_id = :t ORDER BY random() LIMIT 5000",
        t=tl_org,
    )
    open_ids = [
        r[0]
        for r in query(
            url,
            "SELECT id FROM orders WHERE tl_org_id = :t AND status IN ('active', 'waiting') "
            "ORDER BY id DESC LIMIT 2000",
            t=tl_org,
        )
    ]
    since_order, created = query(
        url,
        "SELECT id, created_at FROM orders WHERE tl_org_id = :t ORDER BY id DESC LIMIT 1 OFFSET 50",
        t=tl_org,
    )[0]
    if isinstance(created, str):  # SQLite: naive UTC text
        created = datetime.fromisoformat(created).replace(tzinfo=UTC)
    since_event = query(
        url,
        "SELECT id FROM events WHERE tl_org_id = :t ORDER BY id DESC LIMIT 1 OFFSET 50",
        t=tl_org,
    )[0][0]
    access_ids = [
        r[0] for r in query(url, "SELECT access_id FROM accesses ORDER BY random() LIMIT 5000")
    ]
    return Fixture(
        hash=hash_,
        tl_org=tl_org,
        order_ids=[r[0] for r in sample],
        customer_ids=sorted({r[1] for r in sample}),
        open_ids=open_ids,
        since_order=since_order,
        since_event=since_event,
        day=created.astimezone(STOCKHOLM).date().isoformat(),
        access_ids=access_ids,
    )


def _placements(world: dataset.World, fx: Fixture, count: int) -> list[Line]:
    rng = random.Random(17)
    internet = [s for s in world.services if s[2] not in dataset.EXTRA_UIDS]
    extra = [s for s in world.services if s[2] in dataset.EXTRA_UIDS]
    lines: list[Line] = []
    for i in range(count):
        first, last = rng.choice(dataset.FIRST), rng.choice(dataset.LAST)
        body = {
            "coid": dataset.COID,
            "accessId": rng.choice(fx.access_ids),
            "services": [rng.choice(internet)[0], rng.choice(extra)[0]],
            "customer": {
                "firstname": first,
                "surname": last,
                "serial": dataset.pnr(rng),
                "email": f"bench{i}@example.se",
                "phone": f"070{rng.randrange(10**7):07d}",
            },
            "delivery": "asap",
            # Random picks repeat an access and a service now and then: each is a placement
            # the customer has confirmed, not a 409 asking whether they meant it.
            "confirm_duplicate": True,
        }
        lines.append(
            (
                "POST",
                "/api/guide/orders",
                json.dumps(body, ensure_ascii=False),
                "application/json",
                "",
            )
        )
    return lines


def scenarios(world: dataset.World, fx: Fixture, streets: list[mdb.Street]) -> list[Scenario]:
    h = fx.hash
    rng = random.Random(13)
    basic = "Basic " + base64.b64encode(f"{world.api_user}:{dataset.API_KEY}".encode()).decode()
    login_body = urlencode(
        {"method": "api_login", "api_user": world.api_user, "api_key": dataset.API_KEY}
    )
    statuses = [(i, s) for i in fx.open_ids for s in ("active", "waiting")]
    rng.shuffle(statuses)
    return [
        Scenario("ceiling", "GET /healthz (no database)", [("GET", "/healthz", "", "", "")]),
        Scenario("api_login", "argon2 check + new hash", [("POST", XSP, login_body, FORM, "")]),
        Scenario(
            "orders since_id",
            "`orders&since_id=` 50 behind the head",
            [_xsp(h, method="orders", since_id=fx.since_order)],
        ),
        Scenario("orders date", f"`orders&date={fx.day}`", [_xsp(h, method="orders", date=fx.day)]),
        Scenario(
            "order_info",
            "random order of the TL",
            [_xsp(h, method="order_info", id=i) for i in fx.order_ids],
        ),
        Scenario(
            "customer_info",
            "random customer of the TL",
            [_xsp(h, method="customer_info", id=i) for i in fx.customer_ids],
        ),
        Scenario(
            "order_log",
            "random order of the TL",
            [_xsp(h, method="order_log", id=i) for i in fx.order_ids],
        ),
        Scenario(
            "events",
            "`events&since_id=` 50 behind the head",
            [_xsp(h, method="events", since_id=fx.since_event)],
        ),
        Scenario(
            "address search",
            "`/api/guide/addresses?q=` as people type",
            [
                ("GET", f"/api/guide/addresses?q={quote(q)}", "", "", "")
                for _, q in mdb.queries(streets, 3000)
            ],
        ),
        Scenario(
            "ON-API access",
            "`/plain/onapi/{coid}/accesses/{id}`, Basic auth",
            [
                ("GET", f"/plain/onapi/{dataset.COID}/accesses/{a}", "", "", basic)
                for a in fx.access_ids
            ],
        ),
        Scenario(
            "set_status",
            "active ⇄ waiting on open orders",
            [
                (
                    "POST",
                    XSP,
                    urlencode({"method": "set_status", "id": i, "status": s, "hash": h}),
                    FORM,
                    "",
                )
                for i, s in statuses
            ],
        ),
        Scenario(
            "add_message",
            "`type=log` on random orders",
            [
                (
                    "POST",
                    XSP,
                    urlencode(
                        {
                            "method": "add_message",
                            "id": i,
                            "type": "log",
                            "message": "Installation bokad till tisdag",
                            "hash": h,
                        }
                    ),
                    FORM,
                    "",
                )
                for i in fx.order_ids[:2000]
            ],
        ),
        Scenario(
            "guide placement",
            "two services, one customer (201 + outbox rows)",
            _placements(world, fx, 20000),
            per_request=2,
        ),
    ]


def probe_rows(server: Server, sc: Scenario) -> int | None:
    """How many list elements one request of the scenario answers with."""
    method, path, _, _, auth = sc.lines[0]
    if method != "GET":
        return None
    headers = {"Accept": "application/json"} | ({"Authorization": auth} if auth else {})
    r = httpx.get(server.url + path, headers=headers, timeout=30)
    r.raise_for_status()
    doc = r.json()
    if isinstance(doc, list):
        return len(doc)
    if isinstance(doc, dict) and len(doc) == 1:
        ((_root, body),) = doc.items()
        resp = body.get("response") if isinstance(body, dict) else None
        if isinstance(resp, dict) and len(resp) == 1:
            (value,) = resp.values()
            if isinstance(value, list):
                return len(value)
    return None


# -- a run -----------------------------------------------------------------------------------


@dataclass
class Measured:
    scenario: Scenario
    loads: dict[int, Load]


@dataclass
class Phase:
    backend: str
    orders: int
    history: dataset.History
    generate_s: float
    results: list[Measured] = field(default_factory=list)
    worker_mb: dict[str, float] = field(default_factory=dict)
    placed: int = 0
    outbox_mails: int = 0
    listing: tuple[float, int, int] | None = None  # seconds, bytes, accesses
    reads: reads.Extra | None = None  # the read paths' own measurements (bench.reads)

    def ceiling(self, c: int) -> float:
        return self.results[0].loads[c].rps

    def load(self, name: str, c: int) -> Load:
        return next(m.loads[c] for m in self.results if m.scenario.name == name)


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_phase(
    backend: str,
    url: str,
    base: Base,
    orders: int,
    history: dataset.History,
    gen_s: float,
    work: Path,
    connections: list[int],
    seconds: float,
) -> Phase:
    phase = Phase(backend, orders, history, gen_s)
    var = work / f"var-{backend}-{orders}"
    log = work / f"serve-{backend}-{orders}.log"
    with Server(server_env(url, var), log) as server:
        fx = fixture(url, server, base.world)
        outbox_before = query(url, "SELECT count(*) FROM outbox WHERE kind = 'mail'")[0][0]
        orders_before = query(url, "SELECT count(*) FROM orders")[0][0]
        # The reads' own scenarios go with the other reads, before the first write: a poll
        # "50 behind the head" must still be 50 behind it when it runs.
        scs = scenarios(base.world, fx, base.streets)
        first_write = next(i for i, sc in enumerate(scs) if sc.name == "set_status")
        scs[first_write:first_write] = reads.scenarios(url, fx)
        for sc in scs:
            sc.rows = probe_rows(server, sc)
            reqs = write_requests(work / f"{sc.name.replace(' ', '_')}.tsv", sc.lines)
            server.memory.label = sc.name
            wrk(server.url, reqs, connections=8, seconds=1)  # warm both workers' caches
            loads = {}
            for c in connections:
                loads[c] = wrk(server.url, reqs, connections=c, seconds=seconds)
                say(
                    f"[{backend} {orders:,}] {sc.name:16} c={c:<3} {loads[c].rps:8.0f} req/s "
                    f"p50 {loads[c].p50_ms:6.1f} p99 {loads[c].p99_ms:6.1f} ms "
                    f"errors {loads[c].errors}"
                )
            phase.results.append(Measured(sc, loads))
            server.settle()  # requests wrk gave up on may still be queued in the workers
        phase.reads = reads.run(url, server, fx, scs, work, seconds)
        server.memory.label = "ON-API full listing"
        phase.listing = reads.full_listing(server, base.world, fx, phase.reads, full_listing)
        phase.worker_mb = dict(server.memory.by_label)
        phase.worker_mb["peak"] = max(server.memory.peak.values())
        phase.placed = query(url, "SELECT count(*) FROM orders")[0][0] - orders_before
        phase.outbox_mails = (
            query(url, "SELECT count(*) FROM outbox WHERE kind = 'mail'")[0][0] - outbox_before
        )
    return phase


def full_listing(server: Server, world: dataset.World) -> tuple[float, int, int]:
    """One client reading the whole network through ON-API: seconds, bytes, accesses."""
    size = count = 0
    with (
        Timer() as t,
        httpx.stream(
            "GET",
            f"{server.url}/plain/onapi/{dataset.COID}/accesses",
            auth=(str(world.api_user), dataset.API_KEY),
            timeout=600,
        ) as r,
    ):
        r.raise_for_status()
        tail = b""
        for chunk in r.iter_bytes():
            size += len(chunk)
            window = tail + chunk  # a name split across two chunks is counted once
            count += window.count(b'"accessId"') - tail.count(b'"accessId"')
            tail = window[-16:]
    return t.seconds, size, count


def run_backend(
    backend: str,
    sizes: list[int],
    work: Path,
    mdb_file: Path,
    streets: list[mdb.Street],
    connections: list[int],
    seconds: float,
    scaleout: Callable[[str, Base, Path], Any] | None,
) -> tuple[Base, list[Phase], Any]:
    base = build_base(backend, work, mdb_file, streets)
    phases: list[Phase] = []
    end = datetime.now(UTC).replace(microsecond=0)
    extra = None
    for size in sorted(sizes):
        url = (
            base.url
            if size == max(sizes)
            else clone_database(backend, base.url, f"sg_bench_{size}", work)
        )
        with Timer() as t:
            history = dataset.write_history(url, base.world, size, end=end)
        say(
            f"[{backend}] wrote {size:,} orders ({history.log:,} log entries, "
            f"{history.events:,} events) in {t.seconds:.1f} s"
        )
        phases.append(
            run_phase(backend, url, base, size, history, t.seconds, work, connections, seconds)
        )
        if size == max(sizes) and scaleout is not None:
            extra = scaleout(url, base, work)
        if url != base.url:
            drop_database(backend, url)
    drop_database(backend, base.url)
    return base, phases, extra


# -- the report ------------------------------------------------------------------------------


def _cell(load: Load, ceiling: float, per_request: int) -> str:
    rate = f"{load.rps:,.0f}"
    if per_request > 1:
        rate += f" ({load.rps * per_request:,.0f} orders/s)"
    err = f", **{load.errors} errors**" if load.errors else ""
    return f"{rate} · {load.rps / ceiling:.2f}× · {load.p50_ms:.1f} / {load.p99_ms:.1f} ms{err}"


def phase_table(p: Phase, connections: list[int]) -> list[str]:
    out = [
        f"### {p.backend}, {p.orders:,} orders",
        "",
        f"History written in {p.generate_s:.0f} s: {p.history.customers:,} customers, "
        f"{p.history.orders:,} orders, {p.history.log:,} log entries, {p.history.events:,} "
        "events. Each cell: requests/s · ratio to the ceiling at the same concurrency · "
        "p50 / p99 latency.",
        "",
        "| scenario | rows | " + " | ".join(f"{c} connections" for c in connections) + " |",
        "|---|---:|" + "---|" * len(connections),
    ]
    for m in p.results:
        cells = [_cell(m.loads[c], p.ceiling(c), m.scenario.per_request) for c in connections]
        rows = "" if m.scenario.rows is None else str(m.scenario.rows)
        out.append(
            f"| {m.scenario.name} ({m.scenario.what}) | {rows} | " + " | ".join(cells) + " |"
        )
    if p.listing:
        secs, size, n = p.listing
        out += [
            "",
            f"ON-API full listing (one client, whole network): {n:,} accesses, "
            f"{size / 1e6:,.0f} MB of JSON in {secs:.1f} s ({n / secs:,.0f} accesses/s).",
        ]
    out += ["", *reads.lines(p)]
    out += [
        f"Guide placement: {p.placed:,} orders placed during the run, "
        f"{p.outbox_mails:,} order mails enqueued in the outbox with them.",
        "",
        "Largest resident memory of a worker: "
        + ", ".join(f"{k} {v:.0f} MB" for k, v in p.worker_mb.items())
        + ".",
        "",
    ]
    return out


def targets(phases: list[Phase], bases: dict[str, Base], c: int) -> list[str]:
    pg = [p for p in phases if p.backend == "postgresql"]
    if not pg:
        return ["No PostgreSQL run: the targets are judged on PostgreSQL.", ""]
    big, small = max(pg, key=lambda p: p.orders), min(pg, key=lambda p: p.orders)
    rows: list[tuple[str, str, str, bool]] = reads.targets(big, c)
    for name in ("set_status", "add_message"):
        ld = big.load(name, c)
        ratio = ld.rps / big.ceiling(c)
        rows.append(
            (
                f"`{name}` ≥ 0.15× ceiling, p99 ≤ 50 ms at {c} connections",
                f"{big.orders:,} orders",
                f"{ratio:.2f}×, p99 {ld.p99_ms:.1f} ms ({ld.rps:,.0f} req/s)",
                ratio >= 0.15 and ld.p99_ms <= 50,
            )
        )
    a, b = small.load("orders since_id", c), big.load("orders since_id", c)
    rows.append(
        (
            "`orders` by since_id at 1M within 1.25× of 10k",
            f"{small.orders:,} → {big.orders:,}",
            f"{a.rps:,.0f} → {b.rps:,.0f} req/s ({a.rps / b.rps:.2f}×)",
            a.rps / b.rps <= 1.25,
        )
    )
    best = max(big.load("guide placement", cc).rps for cc in big.results[0].loads) * 2
    rows.append(
        (
            "guide placement ≥ 300 orders/s with outbox rows",
            f"{big.orders:,} orders",
            f"{best:,.0f} orders/s (best concurrency), {big.outbox_mails:,} mails queued "
            f"for {big.placed:,} orders",
            best >= 300 and big.outbox_mails == big.placed,
        )
    )
    for cc in sorted({min(big.results[0].loads), c}):
        s = big.load("address search", cc)
        rows.append(
            (
                f"address search p99 ≤ 20 ms, {cc} connections",
                f"{bases['postgresql'].accesses:,} accesses",
                f"p99 {s.p99_ms:.1f} ms ({s.rps:,.0f} req/s)",
                s.p99_ms <= 20,
            )
        )
    for backend, base in bases.items():
        rows.append(
            (
                "market-database import ≤ 60 s",
                f"{backend}, {base.accesses:,} accesses",
                f"{base.import_s:.1f} s",
                base.import_s <= 60,
            )
        )
    peak = max(p.worker_mb["peak"] for p in phases)
    rows.append(
        (
            "≤ 200 MB resident per worker under load",
            "every run",
            f"{peak:.0f} MB at most",
            peak <= 200,
        )
    )
    out = ["| target | data | measured | met |", "|---|---|---|---|"]
    out += [f"| {t} | {d} | {m} | {'yes' if ok else '**no**'} |" for t, d, m, ok in rows]
    return [*out, ""]


def markdown(
    phases: list[Phase],
    bases: dict[str, Base],
    connections: list[int],
    command: str,
    scaleout_md: list[str],
) -> str:
    c = 32 if 32 in connections else connections[len(connections) // 2]
    lines = [
        SECTION,
        "",
        f"Machine: {mdb._machine()}. Load average when the run began: "
        f"{os.getloadavg()[0]:.2f}. Server, database and wrk share the machine's cores.",
        "",
        f"Command: `{command}` (`make bench` runs it and the market-database benchmark).",
        "",
        "Server: `serviceguide serve --workers 2` with the default settings, except that the "
        "guide's per-address order throttle is off (every request comes from 127.0.0.1) and "
        "order mails go to files (no SMTP server); the outbox relay runs in the workers as "
        "usual. Load: `wrk -t2` with `bench/wrk.lua`, each scenario warmed for 1 s and then "
        "measured at each concurrency; XML answers (the API's default).",
        "",
        "### Targets (PostgreSQL)",
        "",
        *targets(phases, bases, c),
        'Where a target is not met, docs/performance.md ("What limits each figure") says what '
        "limits it and what would move it.",
        "",
    ]
    for p in phases:
        lines += phase_table(p, connections)
    lines += scaleout_md
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--sizes", default="10000,1000000")
    ap.add_argument("--accesses", type=int, default=1_000_000)
    ap.add_argument("--connections", default="8,32,128")
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--no-scaleout", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = ap.parse_args()
    backends = args.backends.split(",")
    sizes = [int(s) for s in args.sizes.split(",")]
    connections = [int(c) for c in args.connections.split(",")]
    command = " ".join(
        ["make bench"] if len(sys.argv) == 1 else [".venv/bin/python -m bench.api", *sys.argv[1:]]
    )
    harness.ensure_wrk()
    from bench import scaleout

    work = Path(tempfile.mkdtemp(prefix="sg-bench-"))
    try:
        mdb_file = work / "accesses.csv"
        streets = mdb.write_mdb_file(mdb_file, args.accesses)
        phases: list[Phase] = []
        bases: dict[str, Base] = {}
        scaleout_md: list[str] = []
        for backend in backends:
            so = None if args.no_scaleout or backend != "postgresql" else scaleout.run
            base, ph, extra = run_backend(
                backend, sizes, work, mdb_file, streets, connections, args.seconds, so
            )
            bases[backend] = base
            phases += ph
            if extra:
                scaleout_md = extra
        text_ = markdown(phases, bases, connections, command, scaleout_md)
        print(text_)
        if not args.no_write:
            mdb.write_section(text_, ROOT / "BENCHMARKS.md", SECTION)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        time.sleep(0)


if __name__ == "__main__":
    main()
