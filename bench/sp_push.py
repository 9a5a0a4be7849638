"""ON-API push benchmark: placing guide orders for a TL that takes them over ON-API 2.6, with
``serviceguide sp-simulator`` answering each push after a set delay.

    .venv/bin/python -m bench.sp_push [--backends postgresql,sqlite] [--delays 0,50,200,1000]
                                      [--connections 32,128] [--seconds 4] [--no-write]

For each backend: a fresh database with one network, 2,000 accesses and one TL with two
services; ``serviceguide serve --workers 2`` on it and ``serviceguide sp-simulator --delay D``
for each delay D. First the same placements for the TL with delivery ``mail`` (no push: the
baseline), then with delivery ``onapi`` at each delay. Each request places one customer and two
orders (both services of the TL), so the two pushes go in parallel. wrk drives it; after each
run the database is checked: every order placed has its push, and none is pushed twice.
Writes the "ON-API push" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import dataset, harness
from bench.api import SECRET, drop_database, fresh_database, query, server_env
from bench.harness import Load, Process, Server, free_port, write_requests, wrk
from serviceguide.services import admin, sp_settings
from serviceguide.services.context import AppContext
from serviceguide.settings import Settings
from serviceguide.storage import migrate
from serviceguide.storage.db import Database

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## ON-API push"
XSP = 4100
COID = "SNBSP"
ACCESSES = 2000
TARGET = 300  # orders/s with the simulator answering in 50 ms


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


async def _build(url: str, var: Path) -> list[int]:
    migrate.upgrade(url)
    db = Database(url)
    try:
        ctx = AppContext(db=db, settings=_settings(url, var))
        await admin.create_ko(ctx, COID, "Pushstadens Stadsnät")
        await admin.create_tl(ctx, XSP, "Push Bredband AB", "order@push.example")
        for n in range(1, ACCESSES + 1):
            await admin.add_access(
                ctx,
                coid=COID,
                access_id=f"P{n:05d}",
                street_name="Pushgatan",
                street_number=str(n),
                postal_code="12345",
                city="Pushby",
            )
        return [
            await admin.create_service(
                ctx, xsp=XSP, coid=COID, uid=uid, name=name, price_monthly=m, price_once="0"
            )
            for uid, name, m in (("PB100", "Bredband 100/100", "299"), ("PBTV", "TV Bas", "149"))
        ]
    finally:
        await db.dispose()


def _settings(url: str, var: Path) -> Settings:
    values: dict[str, Any] = {"database_url": url, "var_dir": var, "secret_key": SECRET}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def _deliver(url: str, var: Path, base: str | None) -> None:
    db = Database(url)
    try:
        ctx = AppContext(db=db, settings=_settings(url, var))
        if base is None:
            await sp_settings.set_onapi(ctx, XSP, "none")
        else:
            await sp_settings.set_onapi(
                ctx, XSP, base, username="sim", password="sim", delivery="onapi"
            )
    finally:
        await db.dispose()


def _lines(services: list[int], count: int, run: int) -> list[tuple[str, str, str, str, str]]:
    """Placements no earlier run has made: a repeat would be refused as a duplicate order."""
    rng = random.Random(29 + run)
    lines = []
    for i in range(run * count, (run + 1) * count):
        body = {
            "coid": COID,
            "accessId": f"P{rng.randrange(1, ACCESSES + 1):05d}",
            "services": services,
            "customer": {
                "firstname": rng.choice(dataset.FIRST),
                "surname": rng.choice(dataset.LAST),
                "serial": dataset.pnr(rng),
                "email": f"push{i}@example.se",
                "phone": f"070{rng.randrange(10**7):07d}",
            },
            "delivery": "asap",
            # wrk replays the file from the same points in each pass: a repeat is meant.
            "confirm_duplicate": True,
        }
        lines.append(("POST", "/api/guide/orders", json.dumps(body), "application/json", ""))
    return lines


@dataclass
class Run:
    label: str  # "mail (no push)" or "onapi, 50 ms"
    delay_ms: int | None
    loads: dict[int, Load]
    orders: int
    pushed: int
    confirmed: int
    twice: int


def _counts(url: str, since: int) -> tuple[int, int, int, int]:
    orders = query(url, "SELECT count(*) FROM orders WHERE id > :s", s=since)[0][0]
    pushed = query(
        url,
        "SELECT count(*) FROM outbox WHERE kind = 'sp_order' AND order_id > :s",
        s=since,
    )[0][0]
    confirmed = query(
        url, "SELECT count(*) FROM orders WHERE id > :s AND status = 'received'", s=since
    )[0][0]
    twice = query(
        url,
        "SELECT count(*) FROM (SELECT order_id FROM order_log WHERE code = 'sp_confirmed' "
        "AND order_id > :s GROUP BY order_id HAVING count(*) > 1) AS t",
        s=since,
    )[0][0]
    return orders, pushed, confirmed, twice


def run_backend(backend: str, args: argparse.Namespace, work: Path) -> list[Run]:
    url = fresh_database(backend, "sg_bench_sp", work)
    var = work / "var"
    services = asyncio.run(_build(url, var))
    runs: list[Run] = []
    try:
        plan: list[int | None] = [None, *args.delays]
        for run, delay in enumerate(plan):
            reqs = write_requests(work / f"placements-{run}.tsv", _lines(services, 20000, run))
            sim_port = free_port()
            sim = Process(
                ["sp-simulator", "--port", str(sim_port), "--delay", str((delay or 0) / 1000)],
                {},
                work / f"sim-{delay}.log",
            )
            base = None if delay is None else f"http://127.0.0.1:{sim_port}/{XSP}/onapi/2.6"
            asyncio.run(_deliver(url, var, base))
            sim.start()
            try:
                env = server_env(url, var)
                with Server(env, work / f"server-{backend}-{delay}.log") as server:
                    since = query(url, "SELECT coalesce(max(id), 0) FROM orders")[0][0]
                    loads = {}
                    for c in args.connections:
                        wrk(server.url, reqs, connections=c, seconds=1)  # warm-up
                        server.settle()
                        loads[c] = wrk(server.url, reqs, connections=c, seconds=args.seconds)
                        server.settle()
                    orders, pushed, confirmed, twice = _counts(url, since)
            finally:
                sim.stop()
            label = "mail (no push)" if delay is None else f"onapi, SP answers in {delay} ms"
            run = Run(label, delay, loads, orders, pushed, confirmed, twice)
            runs.append(run)
            best = max(ld.rps for ld in loads.values()) * 2
            errors = sum(ld.errors for ld in loads.values())
            say(
                f"[{backend}] {label}: {best:,.0f} orders/s best; {orders} orders, "
                f"{pushed} pushes, {errors} errors"
            )
    finally:
        drop_database(backend, url)
    return runs


def _cell(ld: Load) -> str:
    return (
        f"{ld.rps * 2:,.0f} orders/s ({ld.rps:,.0f} req/s) · {ld.p50_ms:.1f} / {ld.p99_ms:.1f} ms"
    )


def report(results: dict[str, list[Run]], args: argparse.Namespace, load_avg: float) -> str:
    conns = args.connections
    lines = [
        SECTION,
        "",
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}. Load average "
        f"when the run began: {load_avg:.2f}. Server, database, simulator and wrk share the "
        "machine's cores.",
        "",
        "Command: `make bench-sp` (part of `make bench`).",
        "",
        "Server: `serviceguide serve --workers 2`, default settings "
        "(SERVICEGUIDE_SP_TIMEOUT_SECONDS 10) except the guide's per-address throttle (off). "
        "`serviceguide sp-simulator --delay D` answers every push after D. Each request places "
        "one customer and two orders, both for the pushing TL: their two pushes go in parallel "
        "after the commit, and the answer waits for them. Each cell: orders/s (requests/s) "
        "· p50 / p99 latency of the customer's answer.",
        "",
    ]
    for backend, runs in results.items():
        lines += [f"### {backend}", ""]
        lines.append(
            "| delivery | "
            + " | ".join(f"{c} connections" for c in conns)
            + " | orders placed | pushed | received | answered twice |"
        )
        lines.append("|---|" + "---|" * len(conns) + "---:|---:|---:|---:|")
        for r in runs:
            cells = " | ".join(_cell(r.loads[c]) for c in conns)
            counts = f"{r.orders:,} | {r.pushed:,} | {r.confirmed:,} | {r.twice}"
            lines.append(f"| {r.label} | {cells} | {counts} |")
        lines.append("")
        at50 = next((r for r in runs if r.delay_ms == 50), None)
        if at50 is not None:
            best = max(ld.rps for ld in at50.loads.values()) * 2
            met = "yes" if best >= TARGET and at50.twice == 0 else "**no**"
            lines.append(
                f"Target: placing ≥ {TARGET} orders/s for a pushing TL with the SP answering in "
                f"50 ms — {best:,.0f} orders/s at the best concurrency: {met}."
            )
            lines.append("")
        base = next((r for r in runs if r.delay_ms is None), None)
        if base is not None:
            c = conns[0]
            grows = ", ".join(
                f"{r.delay_ms} ms → p50 {r.loads[c].p50_ms:.0f} ms"
                for r in runs
                if r.delay_ms is not None
            )
            lines.append(
                f"The customer's wait at {c} connections: without a push p50 "
                f"{base.loads[c].p50_ms:.0f} ms; with the SP answering in {grows}. The answer "
                "waits for the pushes, which run in parallel after the commit: the wait grows by "
                "about the SP's answer time (never more than SERVICEGUIDE_SP_TIMEOUT_SECONDS), "
                "while the throughput is bounded by connections ÷ latency until the server's "
                "cores are the limit."
            )
            lines.append("")
    return "\n".join(lines) + "\n"


def write_section(text: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    doc = path.read_text(encoding="utf-8")
    start = doc.find(SECTION + "\n")
    if start < 0:
        doc = doc.rstrip("\n") + "\n\n" + text
    else:
        end = doc.find("\n## ", start + len(SECTION))
        doc = doc[:start] + text + (doc[end + 1 :] if end >= 0 else "")
    path.write_text(doc, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--backends", default="postgresql,sqlite")
    ap.add_argument("--delays", default="0,50,200,1000", help="the SP's answer time, ms")
    ap.add_argument("--connections", default="32,128")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--no-write", action="store_true", help="print, do not touch BENCHMARKS.md")
    args = ap.parse_args()
    args.delays = [int(d) for d in args.delays.split(",") if d]
    args.connections = [int(c) for c in args.connections.split(",") if c]
    harness.ensure_wrk()
    load_avg = os.getloadavg()[0]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="sg-bench-sp-") as tmp:
        for backend in args.backends.split(","):
            results[backend] = run_backend(backend, args, Path(tmp))
    text = report(results, args, load_avg)
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
