"""The stream lock's ceiling: writes per second on one PostgreSQL, from 1, 2 and 4 servers.

    .venv/bin/python -m bench.streamlock [--orders 1000000] [--accesses 100000]
                                         [--servers 1,2,4] [--connections 32] [--seconds 5]
                                         [--keep DIR | --reuse DIR] [--no-write]

Every write that adds to the polled streams (orders, customers, events) takes one
transaction-scoped advisory lock, so that ``since_id`` polling never skips a row
(docs/decisions.md, "Polling guarantee"): writes are serialised across all servers on the
database. This measures what that costs and where it ends:

1. the writes as the HTTP benchmark's targets put them: ``serve --workers 2``, 32 connections,
   ``set_status`` and ``add_message`` against the same server's ``/healthz``;
2. the same writes, half ``set_status`` and half ``add_message``, from 1, 2 and 4
   ``serve --workers 1`` processes at once (each its own port, the connections shared out among
   them), as if each ran on its own machine: writes/s all together;
3. the database alone: the one-statement writes run straight on asyncpg from 1, 4 and 16
   connections, with the stream lock and, as the comparison, with a lock of each connection's
   own (no contention): what the lock allows once Python is not the limit.

A fresh database (``sg_bench_streamlock``) with the benchmark's world (bench.dataset), the
accesses imported through the real importer and ``--orders`` orders of history; ``--keep DIR``
keeps it and notes what a later ``--reuse DIR`` needs. Writes the "Stream lock" section of
BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import asyncpg
from sqlalchemy.engine import make_url

from bench import api, dataset, harness
from bench import marketdb as mdb
from bench.harness import Load, Server, Timer, write_requests, wrk
from serviceguide.domain.model import Caller, OrgKind
from serviceguide.domain.status import MessageType, OrderStatus
from serviceguide.services import marketdb
from serviceguide.services.context import AppContext
from serviceguide.storage import migrate, order_changes
from serviceguide.storage.db import STREAM_LOCK_KEY, Database

SECTION = "## Stream lock"
NAME = "sg_bench_streamlock"


# -- the database --------------------------------------------------------------------------


@dataclass
class Prepared:
    url: str
    world: dataset.World
    accesses: int
    orders: int
    import_s: float
    history_s: float


async def _base(url: str, var: Path, mdb_file: Path) -> tuple[dataset.World, float, int]:
    migrate.upgrade(url)
    db = Database(url)
    try:
        ctx = AppContext(db=db, settings=api._settings(url, var))
        world = await dataset.create_world(ctx)
        report = await marketdb.import_accesses(ctx, dataset.COID, mdb_file)
        return world, report.seconds, report.imported
    finally:
        await db.dispose()


def prepare(name: str, accesses: int, orders: int, work: Path) -> Prepared:
    """A fresh PostgreSQL database: the world, ``accesses`` imported, ``orders`` of history."""
    url = api.fresh_database("postgresql", name, work)
    mdb_file = work / f"{name}.csv"
    mdb.write_mdb_file(mdb_file, accesses)
    world, import_s, n = asyncio.run(_base(url, work / "var", mdb_file))
    mdb_file.unlink()
    api.say(f"[{name}] imported {n:,} accesses in {import_s:.1f} s")
    with Timer() as t:
        history = dataset.write_history(url, world, orders, end=datetime.now(UTC))
    api.say(f"[{name}] wrote {history.orders:,} orders in {t.seconds:.1f} s")
    return Prepared(url, world, n, history.orders, import_s, t.seconds)


def save(p: Prepared, path: Path) -> None:
    d = dataclasses.asdict(p)
    d["world"]["tls"] = {str(k): v for k, v in d["world"]["tls"].items()}
    d["world"]["offers"] = {str(k): v for k, v in d["world"]["offers"].items()}
    path.write_text(json.dumps(d))


def load(path: Path) -> Prepared:
    d = json.loads(path.read_text())
    w = d.pop("world")
    world = dataset.World(
        ko_org_id=w["ko_org_id"],
        tls={int(k): tuple(v) for k, v in w["tls"].items()},  # type: ignore[misc]
        services=[tuple(s) for s in w["services"]],  # type: ignore[misc]
        api_user=w["api_user"],
        ko_api_user=w["ko_api_user"],
        offers={int(k): tuple(v) for k, v in w["offers"].items()},  # type: ignore[misc]
    )
    return Prepared(world=world, **d)


# -- over HTTP -------------------------------------------------------------------------------


def _env(url: str, var: Path) -> dict[str, str]:
    return api.server_env(url, var, SERVICEGUIDE_RELAY_IN_SERVE="false")


def _post(hash_: str, **params: object) -> api.Line:
    return ("POST", api.XSP, urlencode({**params, "hash": hash_}), api.FORM, "")


def _writes(fx: api.Fixture, kind: str) -> list[api.Line]:
    """``set_status`` (active ⇄ waiting on open orders), ``add_message`` or both, mixed."""
    rng = random.Random(29)
    lines: list[api.Line] = []
    if kind in ("set_status", "mixed"):
        for i in fx.open_ids:
            for s in ("active", "waiting"):
                lines.append(_post(fx.hash, method="set_status", id=i, status=s))
    if kind in ("add_message", "mixed"):
        for i in fx.order_ids[:2000]:
            lines.append(
                _post(
                    fx.hash,
                    method="add_message",
                    id=i,
                    type="log",
                    message="Installation bokad till tisdag",
                )
            )
    rng.shuffle(lines)
    return lines


@dataclass
class Targets:
    ceiling: Load
    set_status: Load
    add_message: Load


def targets(url: str, world: dataset.World, work: Path, c: int, seconds: float) -> Targets:
    with Server(_env(url, work / "var-t"), work / "serve-t.log", workers=2) as server:
        fx = api.fixture(url, server, world)
        loads = {}
        for name in ("ceiling", "set_status", "add_message"):
            lines = [("GET", "/healthz", "", "", "")] if name == "ceiling" else _writes(fx, name)
            reqs = write_requests(work / f"t-{name}.tsv", lines)
            wrk(server.url, reqs, connections=8, seconds=1)
            loads[name] = wrk(server.url, reqs, connections=c, seconds=seconds)
            api.say(f"[stream lock] serve --workers 2, {name}: {_fmt(loads[name])}")
            server.settle()
    return Targets(loads["ceiling"], loads["set_status"], loads["add_message"])


def _fmt(ld: Load) -> str:
    return f"{ld.rps:,.0f} req/s, p50 {ld.p50_ms:.1f} p99 {ld.p99_ms:.1f} ms, {ld.errors} errors"


@dataclass
class Spread:
    servers: int
    loads: list[Load]

    @property
    def rps(self) -> float:
        return sum(x.rps for x in self.loads)

    @property
    def p99(self) -> float:
        return max(x.p99_ms for x in self.loads)

    @property
    def errors(self) -> int:
        return sum(x.errors for x in self.loads)


def spread(
    url: str, world: dataset.World, work: Path, counts: list[int], c: int, seconds: float
) -> list[Spread]:
    out = []
    env = _env(url, work / "var-s")
    for n in counts:
        servers = [
            Server(env, work / f"serve-s{n}-{i}.log", workers=1).__enter__() for i in range(n)
        ]
        try:
            fx = api.fixture(url, servers[0], world)
            reqs = write_requests(work / f"s{n}.tsv", _writes(fx, "mixed"))
            for s in servers:
                wrk(s.url, reqs, connections=4, seconds=1)
            each = max(1, c // n)
            with ThreadPoolExecutor(n) as pool:
                futures = [
                    pool.submit(wrk, s.url, reqs, connections=each, seconds=seconds, threads=1)
                    for s in servers
                ]
                loads = [f.result() for f in futures]
            out.append(Spread(n, loads))
            api.say(
                f"[stream lock] {n} servers × {each} connections: {out[-1].rps:,.0f} writes/s, "
                f"p99 {out[-1].p99:.1f} ms, {out[-1].errors} errors"
            )
        finally:
            for s in servers:
                s.__exit__(None, None, None)
    return out


# -- the database alone ----------------------------------------------------------------------


@dataclass
class Direct:
    connections: int
    locked: float  # writes/s with the stream lock
    unlocked: float  # with a lock of each connection's own


async def _direct(
    url: str, world: dataset.World, conns: int, seconds: float, shared: bool
) -> float:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    pool = await asyncpg.create_pool(dsn, min_size=conns, max_size=conns)
    assert pool is not None
    org_id, name = world.tls[dataset.BENCH_XSP]
    tl = Caller(1, "bench", org_id, name, OrgKind.TL)
    ids = [
        r["id"]
        for r in await pool.fetch(
            "SELECT id FROM orders WHERE tl_org_id = $1 AND status IN ('active', 'waiting') "
            "ORDER BY id DESC LIMIT 4000",
            org_id,
        )
    ]
    done = 0
    stop = time.monotonic() + seconds

    async def one(n: int) -> None:
        nonlocal done
        rng = random.Random(n)
        key = STREAM_LOCK_KEY if shared else STREAM_LOCK_KEY + 1 + n
        async with pool.acquire() as conn:
            while time.monotonic() < stop:
                oid = rng.choice(ids)
                if rng.random() < 0.5:
                    sql, args = order_changes.set_status_statement(
                        tl,
                        oid,
                        rng.choice((OrderStatus.ACTIVE, OrderStatus.WAITING)),
                        "",
                        datetime.now(UTC),
                        None,
                        lock_key=key,
                    )
                else:
                    sql, args = order_changes.add_message_statement(
                        tl,
                        oid,
                        "Installation bokad till tisdag",
                        MessageType.LOG,
                        datetime.now(UTC),
                        None,
                        lock_key=key,
                    )
                await conn.fetchrow(sql.text, *args)
                done += 1

    try:
        t0 = time.monotonic()
        await asyncio.gather(*(one(n) for n in range(conns)))
        return done / (time.monotonic() - t0)
    finally:
        await pool.close()


def direct(url: str, world: dataset.World, counts: list[int], seconds: float) -> list[Direct]:
    out = []
    for n in counts:
        locked = asyncio.run(_direct(url, world, n, seconds, shared=True))
        unlocked = asyncio.run(_direct(url, world, n, seconds, shared=False))
        out.append(Direct(n, locked, unlocked))
        api.say(
            f"[stream lock] database alone, {n} connections: {locked:,.0f} writes/s with the "
            f"stream lock, {unlocked:,.0f} without contention"
        )
    return out


# -- the report ------------------------------------------------------------------------------


def pg_settings(url: str) -> str:
    rows = api.query(
        url,
        "SELECT name, setting, unit FROM pg_settings WHERE name IN "
        "('fsync', 'synchronous_commit', 'shared_buffers', 'max_connections', 'wal_sync_method')",
    )
    return ", ".join(f"{n} {s}{'×' + u if u and u != 'ms' else ''}" for n, s, u in rows)


def markdown(
    p: Prepared,
    t: Targets | None,
    spreads: list[Spread],
    directs: list[Direct],
    c: int,
    command: str,
    settings: str,
) -> str:
    lines = [
        SECTION,
        "",
        f"Machine: {mdb._machine()}. Load average when the run began: "
        f"{os.getloadavg()[0]:.2f}. Servers, PostgreSQL, wrk and the direct clients share the "
        f"machine's cores. PostgreSQL settings: {settings}.",
        "",
        f"Command: `{command}` (`make bench-streamlock`, part of `make bench`).",
        "",
        f"Data: {p.accesses:,} accesses, {p.orders:,} orders of history. Writes: `set_status` "
        "(active ⇄ waiting on open orders of the TL) and `add_message` (`type=log` on random "
        "orders of the TL), each one statement that takes the stream lock, writes, and commits.",
        "",
    ]
    if t is not None:
        rows = []
        for name, ld in (("set_status", t.set_status), ("add_message", t.add_message)):
            ratio = ld.rps / t.ceiling.rps
            met = ratio >= 0.15 and ld.p99_ms <= 50
            rows.append(
                f"| `{name}` ≥ 0.15× ceiling, p99 ≤ 50 ms at {c} connections | {p.orders:,} "
                f"orders | {ratio:.2f}×, p99 {ld.p99_ms:.1f} ms ({ld.rps:,.0f} req/s; ceiling "
                f"{t.ceiling.rps:,.0f}) | {'yes' if met else '**no**'} |"
            )
        lines += [
            "### Targets (`serve --workers 2`)",
            "",
            "| target | data | measured | met |",
            "|---|---|---|---|",
            *rows,
            "",
        ]
    if spreads:
        one = spreads[0].rps
        lines += [
            f"### Servers on one database ({c} connections shared out among them)",
            "",
            "| `serve --workers 1` processes | writes/s together | vs one | p99 ms | errors |",
            "|---:|---:|---:|---:|---:|",
            *(
                f"| {s.servers} | {s.rps:,.0f} | {s.rps / one:.2f}× | {s.p99:.1f} | {s.errors} |"
                for s in spreads
            ),
            "",
        ]
    if directs:
        lines += [
            "### The database alone (the statements on asyncpg, no HTTP)",
            "",
            "| connections | writes/s, stream lock | writes/s, no contention | lock's share |",
            "|---:|---:|---:|---:|",
            *(
                f"| {d.connections} | {d.locked:,.0f} | {d.unlocked:,.0f} | "
                f"{d.locked / d.unlocked:.2f}× |"
                for d in directs
            ),
            "",
        ]
    lines += [
        "What the figures mean for a deployment, and how writes grow past one database: "
        'docs/performance.md, "The stream lock".',
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--accesses", type=int, default=100_000)
    ap.add_argument("--servers", default="1,2,4")
    ap.add_argument("--direct", default="1,4,16", help="connections for the database alone")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--keep", type=Path, help="keep the database; note it in this directory")
    ap.add_argument("--reuse", type=Path, help="the database a --keep run left")
    ap.add_argument("--no-targets", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = ap.parse_args()
    harness.ensure_wrk()
    command = " ".join([".venv/bin/python -m bench.streamlock", *sys.argv[1:]])
    with tempfile.TemporaryDirectory(prefix="sg-streamlock-") as tmp:
        work = Path(tmp)
        if args.reuse:
            p = load(args.reuse / "prepared.json")
        else:
            p = prepare(NAME, args.accesses, args.orders, work)
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                save(p, args.keep / "prepared.json")
        try:
            t = (
                None
                if args.no_targets
                else targets(p.url, p.world, work, args.connections, args.seconds)
            )
            counts = [int(n) for n in args.servers.split(",") if n]
            spreads = spread(p.url, p.world, work, counts, args.connections, args.seconds)
            directs = direct(p.url, p.world, [int(n) for n in args.direct.split(",") if n], 4)
            text = markdown(p, t, spreads, directs, args.connections, command, pg_settings(p.url))
        finally:
            if not (args.keep or args.reuse):
                api.drop_database("postgresql", p.url)
    print(text)
    if not args.no_write:
        mdb.write_section(text, api.ROOT / "BENCHMARKS.md", SECTION)


if __name__ == "__main__":
    main()
