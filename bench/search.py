"""The staff search at scale: the order list's free-text filter over a million orders, on SQLite
and PostgreSQL.

    .venv/bin/python -m bench.search [--orders 1000000] [--accesses 100000] [--backend both]

For each backend: a fresh database with the benchmark's world (bench.dataset), an access file
imported through the real importer, and ``--orders`` orders of history written in bulk with
their customers' folded search text. Then, signed in as the benchmark's TL, the staff order
list (``services.staff.list_orders``: the first page, 50 rows, newest first) is asked for
searches that people make — a first name with Å, a surname with Ö typed without it, a first and
last name together and the other way round, an order number, a word that finds nothing — each
``--repeat`` times after one warm-up. Writes the "Staff search" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import api, dataset
from bench import marketdb as mdb
from bench.api import ROOT, _settings, fresh_database
from serviceguide.domain.listing import OrderFilter
from serviceguide.domain.model import Caller, OrgKind
from serviceguide.services import marketdb
from serviceguide.services import staff as staff_service
from serviceguide.services.context import AppContext
from serviceguide.storage import migrate
from serviceguide.storage.db import Database

SECTION = "## Staff search"
NOTE = (
    "A search that finds its 50 rows among the newest orders is quick on both databases. One "
    "whose words fit few customers reads, on SQLite, the TL's orders newest first to the end, "
    "each with its customer (a LIKE on a text no index serves): seconds at this size. On "
    "PostgreSQL such a search starts from the customers that hold the words (a `pg_trgm` GIN "
    "index on `customers.search_text`) and the access the text may name (an index on the "
    "lower-cased accessId), when the planner estimates them to be fewer than 2 000; otherwise "
    "it reads the newest orders as before. SQLite's FTS5 trigram tokenizer would serve it the "
    "same way; not built."
)
SEARCHES = [
    ("first name with Å", "Åsa"),
    ("surname with Ö, typed without", "Oberg"),
    ("first and last name", "Karin Lindström"),
    ("last and first name, folded", "lindstrom karin"),
    ("street and number", "{street}"),
    ("order number", "{order}"),
    ("nothing matches", "Zyxwvut"),
]


async def _run(
    backend: str, work: Path, orders: int, accesses: int, repeat: int, reuse: Path | None = None
) -> list[str]:
    if reuse is not None:  # a PostgreSQL database that bench.streamlock --keep left
        from bench import streamlock

        kept = streamlock.load(reuse / "prepared.json")
        url, world, written = kept.url, kept.world, kept.history_s
        migrate.upgrade(url)
        streets = mdb.write_mdb_file(work / "accesses.csv", kept.accesses)
        history = dataset.History(orders=kept.orders)
        history.customers = int(api.query(url, "SELECT count(*) FROM customers")[0][0])
    else:
        url = fresh_database(backend, "sg_bench_search", work)
        migrate.upgrade(url)
        db = Database(url)
        ctx = AppContext(db=db, settings=_settings(url, work / "var"))
        try:
            world = await dataset.create_world(ctx)
            mdb_file = work / "accesses.csv"
            streets = mdb.write_mdb_file(mdb_file, accesses)
            await marketdb.import_accesses(ctx, dataset.COID, mdb_file)
        finally:
            await db.dispose()
        t0 = time.perf_counter()
        history = dataset.write_history(url, world, orders, end=datetime.now(UTC))
        written = time.perf_counter() - t0
    db = Database(url)
    ctx = AppContext(db=db, settings=_settings(url, work / "var"))
    org_id, name = world.tls[dataset.BENCH_XSP]
    tl = Caller(1, "bench", org_id, name, OrgKind.TL)
    rows = [
        f"| {backend} | {history.orders:,} orders, {history.customers:,} customers "
        f"(written in {written:.0f} s) | | | |"
    ]
    try:
        newest, _ = await staff_service.list_orders(ctx, tl, OrderFilter(), before=None)
        street = streets[len(streets) // 2]
        values = {"street": f"{street.name} 1", "order": str(newest[len(newest) // 2].id)}
        for what, pattern in SEARCHES:
            q = pattern.format(**values)
            f = OrderFilter(text=q)
            found, _ = await staff_service.list_orders(ctx, tl, f, before=None)  # warm-up
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                await staff_service.list_orders(ctx, tl, f, before=None)
                times.append((time.perf_counter() - t) * 1000)
            times.sort()
            p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
            rows.append(
                f"| {backend} | {what}: `{q}` | {len(found)} | "
                f"{statistics.median(times):.1f} | {p95:.1f} |"
            )
            print(rows[-1], flush=True)
    finally:
        await db.dispose()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--accesses", type=int, default=100_000)
    ap.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    ap.add_argument(
        "--reuse", type=Path, help="PostgreSQL only: the database bench.streamlock --keep left"
    )
    args = ap.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    if args.reuse:
        backends = ["postgresql"]
    rows: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        for backend in backends:
            rows += asyncio.run(
                _run(backend, Path(tmp), args.orders, args.accesses, args.repeat, args.reuse)
            )
    command = (
        f".venv/bin/python -m bench.search --orders {args.orders} --accesses {args.accesses} "
        f"--backend {args.backend} --repeat {args.repeat}"
    )
    text = "\n".join(
        [
            SECTION,
            "",
            "The staff order list's free-text search (the first page: 50 orders, newest first) "
            "as the benchmark's TL, whose share of the orders is about a quarter. Every word "
            "must be found in the customer's folded names and address (`customers.search_text`,"
            " written by the application: the same matching on both databases), or the text is "
            "the order number or accessId. Milliseconds in-process, after one warm-up; "
            f"`{command}` (`make bench-search`).",
            "",
            "| backend | search | rows | median ms | p95 ms |",
            "|---|---|---|---|---|",
            *rows,
            "",
            NOTE,
        ]
    )
    print(text)
    if not args.no_write:
        mdb.write_section(text, ROOT / "BENCHMARKS.md", SECTION)


if __name__ == "__main__":
    main()
