"""CPU per request: what each read costs the server's workers, a figure a busy machine inflates
far less than it does requests/s or latency.

    .venv/bin/python -m bench.cpu [--orders 1000000] [--accesses 1000000] [--seconds 4]

A fresh PostgreSQL database as bench.api makes it, ``serviceguide serve --workers 2`` on it;
for each read scenario wrk at 32 connections, and the CPU both workers spent (user + system,
from /proc) divided by the requests answered; then the ON-API full listing's CPU. Prints a
Markdown table (BENCHMARKS.md, "The read paths, second round").
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench import api, dataset, harness, reads
from bench import marketdb as mdb

SCENARIOS = [
    "ceiling",
    "orders since_id",
    "events",
    "customers since_id",
    "order_info",
    "customer_info",
    "order_log",
    "address search",
    "ON-API access",
]


def measure(
    url: str, world: dataset.World, streets: list[mdb.Street], work: Path, secs: float
) -> list[str]:
    out = ["| scenario | CPU per request |", "|---|---:|"]
    env = api.server_env(url, work / "var")
    with harness.Server(env, work / "serve-cpu.log", workers=2) as server:
        fx = api.fixture(url, server, world)
        scs = {s.name: s for s in api.scenarios(world, fx, streets) + reads.scenarios(url, fx)}
        for name in SCENARIOS:
            requests = harness.write_requests(work / "cpu.tsv", scs[name].lines)
            harness.wrk(server.url, requests, connections=8, seconds=1)
            server.settle()
            pids = server.worker_pids()
            before = sum(harness.cpu_seconds(p) for p in pids)
            load = harness.wrk(server.url, requests, connections=32, seconds=secs)
            spent = sum(harness.cpu_seconds(p) for p in pids) - before
            out.append(f"| {name} | {1e6 * spent / max(load.requests, 1):,.0f} µs |")
            server.settle()
        extra = reads.Extra()
        reads.full_listing(server, world, fx, extra, api.full_listing)
        out.append(f"| ON-API full listing (all of it) | {extra.full_listing_cpu or 0:.1f} s |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--accesses", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=4)
    args = ap.parse_args()
    harness.ensure_wrk()
    work = Path(tempfile.mkdtemp(prefix="sg-bench-cpu-"))
    try:
        mdb_file = work / "accesses.csv"
        streets = mdb.write_mdb_file(mdb_file, args.accesses)
        base = api.build_base("postgresql", work, mdb_file, streets)
        end = datetime.now(UTC).replace(microsecond=0)
        dataset.write_history(base.url, base.world, args.orders, end=end)
        print("\n".join(measure(base.url, base.world, streets, work, args.seconds)))
        api.drop_database("postgresql", base.url)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
