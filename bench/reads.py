"""The read paths' own scenarios and targets in the HTTP benchmark (bench.api runs them).

* ``customers`` by since_id, beside the ``orders`` and ``events`` polls bench.api drives;
* ``orders&date=`` reaching back over about 100 000 orders, read by one client: time to the
  first byte, the whole answer, and how much the serving worker's resident memory grew;
* reads during a login storm: ``order_info`` at 32 connections while 8 clients call
  ``api_login`` in a loop (argon2 runs off the event loop, below its priority);
* the targets of the read paths, judged on PostgreSQL at the largest size.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from bench import dataset, harness
from bench.harness import Load, Server, cpu_seconds, rss_mb, write_requests

if TYPE_CHECKING:
    from bench.api import Fixture, Phase, Scenario

DATE_ROWS = 100_000
STORM_LOGINS = 8  # clients logging in, each in a loop
STORM_READS = 32  # connections reading order_info meanwhile


def customers_since(url: str, tl_org: int) -> int:
    """The TL's customer 50 behind the newest one it can see."""
    from bench.api import query

    return int(
        query(
            url,
            "SELECT c.id FROM customers c WHERE EXISTS (SELECT 1 FROM orders o "
            "WHERE o.customer_id = c.id AND o.tl_org_id = :t) ORDER BY c.id DESC LIMIT 1 OFFSET 50",
            t=tl_org,
        )[0][0]
    )


def scenarios(url: str, fx: Fixture) -> list[Scenario]:
    """What bench.api's list lacks for the read targets."""
    from bench.api import Scenario, _xsp

    return [
        Scenario(
            "customers since_id",
            "`customers&since_id=` 50 behind the head",
            [_xsp(fx.hash, method="customers", since_id=customers_since(url, fx.tl_org))],
        )
    ]


# -- one long listing by date ------------------------------------------------------------------


@dataclass
class DateListing:
    day: str
    rows: int
    bytes: int
    first_byte_ms: float
    seconds: float
    growth_mb: float  # the largest growth of a worker's resident memory during the answer


class _Peaks:
    """The workers' resident memory, sampled every 20 ms while a request runs."""

    def __init__(self, server: Server) -> None:
        self.pids = server.worker_pids()
        self.before = {p: rss_mb(p) for p in self.pids}
        self.peak = dict(self.before)
        self._on = threading.Event()
        self._on.set()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while self._on.is_set():
            for p in self.pids:
                self.peak[p] = max(self.peak[p], rss_mb(p))
            time.sleep(0.02)

    def growth(self) -> float:
        return self.serving()[1]

    def serving(self) -> tuple[float, float]:
        """Peak and growth of the worker that grew most: the one that served."""
        self._on.clear()
        self._thread.join()
        pid = max(self.pids, key=lambda p: self.peak[p] - self.before[p])
        return self.peak[pid], self.peak[pid] - self.before[pid]


def date_listing(url: str, server: Server, fx: Fixture) -> DateListing | None:
    """``orders&date=`` for the day from which on the TL has about ``DATE_ROWS`` orders (None
    when it has fewer)."""
    from bench.api import STOCKHOLM, XSP, query

    found = query(
        url,
        "SELECT created_at FROM orders WHERE tl_org_id = :t ORDER BY id DESC LIMIT 1 OFFSET :n",
        t=fx.tl_org,
        n=DATE_ROWS - 1,
    )
    if not found:
        return None
    created = found[0][0]
    if isinstance(created, str):  # SQLite: naive UTC text
        from datetime import UTC, datetime

        created = datetime.fromisoformat(created).replace(tzinfo=UTC)
    day = created.astimezone(STOCKHOLM).date().isoformat()
    params = {"method": "orders", "date": day, "hash": fx.hash}
    server.settle()
    peaks = _Peaks(server)
    size = rows = 0
    first = 0.0
    t0 = time.perf_counter()
    with httpx.stream("GET", f"{server.url}{XSP}", params=params, timeout=600) as r:
        r.raise_for_status()
        tail = b""
        for chunk in r.iter_bytes():
            if not size:
                first = time.perf_counter() - t0
            size += len(chunk)
            window = tail + chunk
            rows += window.count(b"<order>") - tail.count(b"<order>")
            tail = window[-8:]
    seconds = time.perf_counter() - t0
    return DateListing(day, rows, size, first * 1000, seconds, peaks.growth())


# -- reads during a login storm ----------------------------------------------------------------


def login_storm(
    server: Server, work: Path, login: Scenario, reads: Scenario, seconds: float
) -> tuple[Load, Load]:
    """``reads`` at ``STORM_READS`` connections while ``STORM_LOGINS`` clients log in."""
    logins = write_requests(work / "storm_login.tsv", login.lines)
    info = write_requests(work / "storm_reads.tsv", reads.lines)
    server.settle()
    out: dict[str, Load] = {}

    def storm() -> None:
        out["login"] = harness.wrk(
            server.url, logins, connections=STORM_LOGINS, seconds=seconds + 4, threads=2
        )

    t = threading.Thread(target=storm)
    t.start()
    time.sleep(2)  # the storm under way: every worker busy with argon2
    out["reads"] = harness.wrk(server.url, info, connections=STORM_READS, seconds=seconds)
    t.join()
    server.settle()
    return out["reads"], out["login"]


@dataclass
class Extra:
    listing: DateListing | None = None
    storm: tuple[Load, Load] | None = None
    full_listing_mb: tuple[float, float] | None = None  # the serving worker's peak and growth
    full_listing_cpu: float | None = None  # CPU seconds the workers spent on it


def full_listing(
    server: Server,
    world: Any,
    fx: Fixture,
    extra: Extra,
    listing: Callable[[Server, Any], tuple[float, int, int]],
) -> tuple[float, int, int]:
    """bench.api's ON-API full listing, with the serving worker's memory: its credentials
    checked beforehand on every worker (argon2's 64 MiB are not the listing's), then sampled
    every 20 ms while it runs."""
    auth = (str(world.api_user), dataset.API_KEY)
    for a in fx.access_ids[:24]:
        httpx.get(
            f"{server.url}/plain/onapi/{dataset.COID}/accesses/{a}", auth=auth, timeout=60
        ).raise_for_status()
    server.settle()
    peaks = _Peaks(server)
    cpu = sum(cpu_seconds(p) for p in peaks.pids)
    result = listing(server, world)
    extra.full_listing_cpu = sum(cpu_seconds(p) for p in peaks.pids) - cpu
    extra.full_listing_mb = peaks.serving()
    return result


def run(
    url: str, server: Server, fx: Fixture, scs: list[Scenario], work: Path, seconds: float
) -> Extra:
    by_name = {s.name: s for s in scs}
    extra = Extra()
    server.memory.label = "orders date (long)"
    extra.listing = date_listing(url, server, fx)
    server.memory.label = "login storm"
    extra.storm = login_storm(server, work, by_name["api_login"], by_name["order_info"], seconds)
    return extra


def lines(p: Phase) -> list[str]:
    """The phase's own paragraphs in BENCHMARKS.md."""
    e: Extra | None = p.reads
    if e is None:
        return []
    out = []
    if e.full_listing_mb:
        mb, grew = e.full_listing_mb
        out.append(
            f"ON-API full listing: the serving worker's resident memory at most {mb:.0f} MB "
            f"(it grew by {grew:.0f} MB while it wrote the listing); the workers spent "
            f"{e.full_listing_cpu or 0:.1f} s of CPU on it (a figure other work on the machine "
            "does not inflate as it does the time)."
        )
    if e.listing:
        d = e.listing
        out.append(
            f"`orders&date={d.day}` (one client, XML): {d.rows:,} orders, {d.bytes / 1e6:,.1f} MB "
            f"in {d.seconds:.1f} s, first byte after {d.first_byte_ms:.0f} ms; the serving "
            f"worker's resident memory grew by {d.growth_mb:.1f} MB."
        )
    if e.storm:
        r, lg = e.storm
        out.append(
            f"Reads during a login storm: `order_info` at {STORM_READS} connections "
            f"{r.rps:,.0f} req/s, p50 / p99 {r.p50_ms:.1f} / {r.p99_ms:.1f} ms, while "
            f"{STORM_LOGINS} clients called `api_login` in a loop: {lg.requests:,} answers in "
            f"{lg.seconds:.0f} s, {lg.errors:,} of them not a success (429 when more than the "
            "failed-login limit were in flight at once, or no answer within 10 s)."
        )
    return [x for line in out for x in (line, "")]


def targets(big: Phase, c: int) -> list[tuple[str, str, str, bool]]:
    """The read paths' targets (PostgreSQL, the largest size, ``c`` connections)."""
    rows: list[tuple[str, str, str, bool]] = []
    data = f"{big.orders:,} orders"

    def ratio_row(name: str, floor: float, p99: float) -> None:
        ld = big.load(name, c)
        ratio = ld.rps / big.ceiling(c)
        rows.append(
            (
                f"`{name}` ≥ {floor}× ceiling, p99 ≤ {p99:.0f} ms at {c} connections",
                data,
                f"{ratio:.2f}×, p99 {ld.p99_ms:.1f} ms ({ld.rps:,.0f} req/s)",
                ratio >= floor and ld.p99_ms <= p99,
            )
        )

    for name in ("orders since_id", "customers since_id", "events"):
        ratio_row(name, 0.4, 25)
    for name in ("order_info", "customer_info", "order_log"):
        ratio_row(name, 0.45, 25)
    ratio_row("ON-API access", 0.3, 25)
    e: Extra | None = big.reads
    if big.listing and e and e.full_listing_mb:
        secs, _, n = big.listing
        mb, grew = e.full_listing_mb
        rows.append(
            (
                "ON-API full listing streamed in ≤ 25 s, worker RSS ≤ 150 MB",
                f"{n:,} accesses",
                f"{secs:.1f} s, serving worker {mb:.0f} MB (grew {grew:.0f} MB)",
                secs <= 25 and mb <= 150,
            )
        )
    if e and e.listing:
        d = e.listing
        rows.append(
            (
                "`orders&date=` streamed: first byte ≤ 200 ms, worker growth ≤ 20 MB",
                f"{d.rows:,} orders in the answer",
                f"first byte {d.first_byte_ms:.0f} ms, growth {d.growth_mb:.1f} MB, "
                f"{d.seconds:.1f} s in all",
                d.first_byte_ms <= 200 and d.growth_mb <= 20,
            )
        )
    if e and e.storm:
        r, lg = e.storm
        rows.append(
            (
                f"`order_info` p99 ≤ 50 ms while {STORM_LOGINS} clients log in in a loop",
                data,
                f"p99 {r.p99_ms:.1f} ms ({r.rps:,.0f} req/s; {lg.rps:,.1f} logins/s)",
                r.p99_ms <= 50,
            )
        )
    return rows
