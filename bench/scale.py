"""National scale on PostgreSQL: 200 networks, 10⁷ accesses, 10⁷ orders of history.

    .venv/bin/python -m bench.scale [--scale 1] [--networks 200] [--no-write]

``--scale`` multiplies the accesses and the orders (1: 10 000 000 of each, as a national
platform holds after some years; 0.1: a million of each, what a shared machine manages in a
quarter of an hour). Not part of ``make bench``: ``make bench-scale`` (about an hour at scale 1).

1. A fresh database (``sg_bench_scale``) with the benchmark's world (bench.dataset: the TLs,
   their services and API users on the first network) and ``--networks`` networks in all, each
   with its own market-database file imported through the real importer (timed, one network
   after the other, as each KO uploads its own).
2. A copy of it gets a tenth of the orders of history, the database itself all of them (bulk,
   bench.dataset). On each, ``serve --workers 2`` is driven by wrk: ``orders`` by since_id
   (50 behind the head), ``order_info``, ``events`` by since_id, the address search over the
   whole country, each at 32 connections after the same server's ``/healthz``.
3. On the full database: the size on disk of every table and index; the address search
   in-process (p50/p99 over 2 000 searches across the networks); the stream lock's writes/s
   from 1, 2 and 4 servers and from the database alone (bench.streamlock).

Writes the "National scale" section of BENCHMARKS.md; docs/performance.md's capacity model is
read off it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import api, dataset, harness, streamlock
from bench import marketdb as mdb
from bench.harness import Load, Server, Timer, write_requests, wrk
from serviceguide.services import admin, marketdb
from serviceguide.services.addresses import search_addresses
from serviceguide.services.context import AppContext
from serviceguide.storage import migrate
from serviceguide.storage.db import Database

SECTION = "## National scale"
NAME = "sg_bench_scale"
HTTP = ("ceiling", "orders since_id", "order_info", "events", "address search")


@dataclass
class Built:
    url: str
    world: dataset.World
    networks: int
    accesses: int
    import_s: float
    slowest_network_s: float
    streets: list[mdb.Street]


async def _build(url: str, work: Path, networks: int, accesses: int) -> Built:
    migrate.upgrade(url)
    db = Database(url)
    ctx = AppContext(db=db, settings=api._settings(url, work / "var"))
    per = accesses // networks
    streets: list[mdb.Street] = []
    total = slowest = 0.0
    imported = 0
    try:
        world = await dataset.create_world(ctx)
        for i in range(networks):
            coid = dataset.COID if i == 0 else f"N{i:03d}"
            if i:
                await admin.create_ko(ctx, coid, f"Stadsnät {i:03d}")
            path = work / f"{coid}.csv"
            found = mdb.write_mdb_file(path, per, seed=100 + i, coid=coid)
            if i % 10 == 0:  # the address searches are made from a sample of the networks
                streets += found
            report = await marketdb.import_accesses(ctx, coid, path)
            path.unlink()
            total += report.seconds
            slowest = max(slowest, report.seconds)
            imported += report.imported
            if i % 20 == 0 or i == networks - 1:
                api.say(
                    f"[scale] network {i + 1}/{networks}: {imported:,} accesses, "
                    f"{total:.0f} s importing"
                )
        async with db.write() as conn:
            await conn.exec_driver_sql("ANALYZE")
    finally:
        await db.dispose()
    return Built(url, world, networks, imported, total, slowest, streets)


@dataclass
class Polled:
    orders: int
    written_s: float
    loads: dict[str, Load] = field(default_factory=dict)


def http(url: str, built: Built, orders: int, written_s: float, work: Path, c: int) -> Polled:
    out = Polled(orders, written_s)
    var = work / f"var-{orders}"
    with Server(api.server_env(url, var), work / f"serve-{orders}.log") as server:
        fx = api.fixture(url, server, built.world)
        for sc in api.scenarios(built.world, fx, built.streets):
            if sc.name not in HTTP:
                continue
            reqs = write_requests(work / f"{sc.name.replace(' ', '_')}.tsv", sc.lines)
            wrk(server.url, reqs, connections=8, seconds=1)
            out.loads[sc.name] = ld = wrk(server.url, reqs, connections=c, seconds=5)
            api.say(
                f"[scale {orders:,}] {sc.name:16} {ld.rps:8.0f} req/s p50 {ld.p50_ms:6.1f} "
                f"p99 {ld.p99_ms:6.1f} ms errors {ld.errors}"
            )
            server.settle()
    return out


async def _search(url: str, work: Path, streets: list[mdb.Street]) -> tuple[float, float, float]:
    db = Database(url)
    ctx = AppContext(db=db, settings=api._settings(url, work / "var"))
    try:
        qs = mdb.queries(streets, 2200)
        for _, q in qs[:200]:
            await search_addresses(ctx, q)
        gc.collect()
        times, hits = [], 0
        for _, q in qs[200:]:
            t0 = time.perf_counter()
            hits += len(await search_addresses(ctx, q))
            times.append((time.perf_counter() - t0) * 1000)
        return statistics.median(times), mdb._p(times, 0.99), hits / len(times)
    finally:
        await db.dispose()


def sizes(url: str) -> list[tuple[str, str, int]]:
    """(table, index or "", bytes): each table's heap (with TOAST) and each of its indexes."""
    rows = api.query(
        url,
        "SELECT t.relname, '' AS idx, pg_table_size(t.oid) FROM pg_class t "
        "WHERE t.relnamespace = 'public'::regnamespace AND t.relkind = 'r' "
        "UNION ALL "
        "SELECT t.relname, i.relname, pg_relation_size(i.oid) FROM pg_index x "
        "JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE t.relnamespace = 'public'::regnamespace",
    )
    return [(r[0], r[1], int(r[2])) for r in rows]


def _mb(n: float) -> str:
    return f"{n / 2**20:,.0f}" if n >= 2**20 else f"{n / 2**20:,.2f}"


def markdown(
    built: Built,
    polled: list[Polled],
    table_sizes: list[tuple[str, str, int]],
    db_bytes: int,
    search: tuple[float, float, float],
    spreads: list[streamlock.Spread],
    directs: list[streamlock.Direct],
    scale: float,
    command: str,
    c: int,
) -> str:
    small, big = polled
    lines = [
        SECTION,
        "",
        f"Machine: {mdb._machine()}. Load average when the run began: "
        f"{os.getloadavg()[0]:.2f}. Servers, PostgreSQL and wrk share the machine's cores.",
        "",
        f"Command: `{command}` (`make bench-scale`). Scale {scale:g}: "
        + (
            "the national figures themselves."
            if scale >= 1
            else f"a {1 / scale:g}th of the national figures (10⁷ accesses, 10⁷ orders), as "
            "this shared machine allows; the capacity model in docs/performance.md says how "
            "each figure grows."
        ),
        "",
        "| what | measured |",
        "|---|---|",
        f"| networks | {built.networks:,} |",
        f"| accesses imported (the real importer, one network after the other) | "
        f"{built.accesses:,} in {built.import_s:,.0f} s ({built.accesses / built.import_s:,.0f}/s;"
        f" slowest network {built.slowest_network_s:.1f} s) |",
        f"| order history written in bulk | {small.orders:,} in {small.written_s:,.0f} s; "
        f"{big.orders:,} in {big.written_s:,.0f} s |",
        f"| database on disk | {_mb(db_bytes)} MB |",
        f"| address search in-process, 2 000 searches over the country | p50 {search[0]:.2f} ms, "
        f"p99 {search[1]:.2f} ms, {search[2]:.1f} hits each |",
    ]
    lines += [
        "",
        f"Over HTTP, `serve --workers 2`, {c} connections (req/s · ratio to `/healthz` · "
        "p50 / p99 ms):",
        "",
        f"| scenario | {small.orders:,} orders | {big.orders:,} orders | ratio |",
        "|---|---|---|---:|",
    ]
    for name in HTTP:
        a, b = small.loads[name], big.loads[name]
        cells = [
            f"{x.rps:,.0f} · {x.rps / p.loads['ceiling'].rps:.2f}× · {x.p50_ms:.1f} / "
            f"{x.p99_ms:.1f}"
            for x, p in ((a, small), (b, big))
        ]
        lines.append(f"| {name} | {cells[0]} | {cells[1]} | {b.rps / a.rps:.2f}× |")
    if spreads:
        one = spreads[0].rps
        lines += [
            "",
            "Stream lock, on the full database (half `set_status`, half `add_message`):",
            "",
            "| `serve --workers 1` processes | writes/s together | vs one | p99 ms |",
            "|---:|---:|---:|---:|",
            *(
                f"| {s.servers} | {s.rps:,.0f} | {s.rps / one:.2f}× | {s.p99:.1f} |"
                for s in spreads
            ),
        ]
    if directs:
        lines += [
            "",
            "| database alone, connections | writes/s, stream lock | writes/s, no contention |",
            "|---:|---:|---:|",
            *(f"| {d.connections} | {d.locked:,.0f} | {d.unlocked:,.0f} |" for d in directs),
        ]
    by_table: dict[str, list[tuple[str, int]]] = {}
    for table, idx, n in table_sizes:
        by_table.setdefault(table, []).append((idx, n))
    ranked = sorted(by_table.items(), key=lambda kv: -sum(n for _, n in kv[1]))
    lines += [
        "",
        "Size on disk (MB; the table with its TOAST, then each index):",
        "",
        "| table | table | indexes | each index |",
        "|---|---:|---:|---|",
    ]
    for table, parts in ranked:
        heap = sum(n for i, n in parts if not i)
        idx = [(i, n) for i, n in parts if i]
        if heap + sum(n for _, n in idx) < 2**20:
            continue
        each = ", ".join(f"{i} {_mb(n)}" for i, n in sorted(idx, key=lambda x: -x[1]))
        lines.append(f"| {table} | {_mb(heap)} | {_mb(sum(n for _, n in idx))} | {each} |")
    lines += ["", "Tables under 1 MB left out.", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--networks", type=int, default=200)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--servers", default="1,2,4")
    ap.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = ap.parse_args()
    harness.ensure_wrk()
    accesses = orders = round(10_000_000 * args.scale)
    command = " ".join(
        ["make bench-scale"]
        if len(sys.argv) == 1
        else [".venv/bin/python -m bench.scale", *sys.argv[1:]]
    )
    c = args.connections
    with tempfile.TemporaryDirectory(prefix="sg-scale-") as tmp:
        work = Path(tmp)
        url = api.fresh_database("postgresql", NAME, work)
        small_url = None
        try:
            built = asyncio.run(_build(url, work, args.networks, accesses))
            random.Random(3).shuffle(built.streets)
            small_url = api.clone_database("postgresql", url, f"{NAME}_small", work)
            end = datetime.now(UTC).replace(microsecond=0)
            polled = []
            for target, n in ((small_url, orders // 10), (url, orders)):
                with Timer() as t:
                    dataset.write_history(target, built.world, n, end=end)
                api.say(f"[scale] wrote {n:,} orders in {t.seconds:.0f} s")
                polled.append(http(target, built, n, t.seconds, work, c))
                if target == small_url:
                    api.drop_database("postgresql", small_url)
                    small_url = None
            search = asyncio.run(_search(url, work, built.streets))
            api.say(f"[scale] address search p50 {search[0]:.2f} p99 {search[1]:.2f} ms")
            table_sizes = sizes(url)
            db_bytes = int(api.query(url, "SELECT pg_database_size(current_database())")[0][0])
            counts = [int(n) for n in args.servers.split(",") if n]
            spreads: list[streamlock.Spread] = []
            directs: list[streamlock.Direct] = []
            try:  # what was measured so far is reported even if this fails
                spreads = streamlock.spread(url, built.world, work, counts, c, 5)
                directs = streamlock.direct(url, built.world, [1, 4, 16], 4)
            except Exception as e:
                api.say(f"[scale] stream lock not measured: {e!r}")
            text = markdown(
                built,
                polled,
                table_sizes,
                db_bytes,
                search,
                spreads,
                directs,
                args.scale,
                command,
                c,
            )
        finally:
            if small_url:
                api.drop_database("postgresql", small_url)
            api.drop_database("postgresql", url)
    print(text)
    if not args.no_write:
        mdb.write_section(text, api.ROOT / "BENCHMARKS.md", SECTION)


if __name__ == "__main__":
    main()
