"""Market database benchmark: import a realistic MdB2 file, then search addresses in it.

    .venv/bin/python -m bench.marketdb [--rows N] [--backend sqlite|postgresql|both]

Generates an MdB2 CSV of N accesses (Swedish street names with å ä ö, numbers with litteras,
apartment buildings), imports it into a fresh SQLite file and a fresh PostgreSQL database,
imports it again unchanged, and times ~2 000 address searches as a customer would type them.
Prints a Markdown table and writes it into BENCHMARKS.md under "## Market database".
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gc
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from serviceguide.domain.mdb import COLUMNS
from serviceguide.services import admin, marketdb
from serviceguide.services.addresses import search_addresses
from serviceguide.services.context import AppContext
from serviceguide.settings import Settings
from serviceguide.storage import migrate
from serviceguide.storage.db import Database

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Market database"
COID = "BENCH"
PG_ADMIN_URL = os.environ.get(
    "SERVICEGUIDE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)

STEMS = [
    "Björk",
    "Ek",
    "Lind",
    "Gran",
    "Tall",
    "Asp",
    "Al",
    "Rönn",
    "Sjö",
    "Kyrk",
    "Skol",
    "Stor",
    "Lill",
    "Norr",
    "Söder",
    "Öster",
    "Väster",
    "Mölle",
    "Kvarn",
    "Åker",
    "Äng",
    "Hag",
    "Berg",
    "Dal",
    "Back",
    "Strand",
    "Hamn",
    "Torg",
    "Prästgårds",
    "Ryttar",
    "Smed",
    "Gärdes",
    "Tegel",
    "Kungs",
    "Drottning",
    "Slotts",
    "Park",
    "Stations",
    "Järnvägs",
    "Fabriks",
    "Industri",
    "Bruks",
    "Blåbärs",
    "Lingon",
    "Hallon",
    "Vinbärs",
    "Päron",
    "Äpple",
    "Körsbärs",
    "Syren",
    "Ros",
    "Lilje",
    "Tulpan",
    "Vitsippe",
    "Gök",
    "Trast",
    "Lärk",
    "Svan",
    "Örn",
    "Hök",
    "Falk",
    "Älg",
    "Räv",
    "Björn",
    "Varg",
    "Lo",
    "Hjort",
    "Rådjurs",
    "Skogs",
    "Myr",
    "Mosse",
    "Kärr",
    "Bäck",
    "Å",
    "Fors",
    "Ström",
    "Holm",
    "Ö",
    "Näs",
    "Udde",
    "Vik",
    "Sund",
    "Fjärd",
    "Klint",
    "Hög",
    "Brink",
    "Lid",
    "Slätt",
    "Ängs",
    "Tå",
    "Gästgivare",
    "Post",
    "Tull",
    "Kvarnbergs",
    "Solhems",
    "Fridhems",
    "Rosen",
    "Lugnets",
    "Vilans",
    "Tornets",
    "Klockar",
    "Kantors",
    "Kaplans",
    "Prost",
    "Biskops",
]
SUFFIXES = ("gatan", "vägen", "stigen", "gränd", "backen", "allén", "torget", "leden", "slingan")
QUARTERS = ("", "", "", "", "", "Östra ", "Västra ", "Norra ", "Södra ", "Lilla ", "Stora ")
CITIES = [
    "Stockholm",
    "Göteborg",
    "Malmö",
    "Uppsala",
    "Västerås",
    "Örebro",
    "Linköping",
    "Helsingborg",
    "Jönköping",
    "Norrköping",
    "Lund",
    "Umeå",
    "Gävle",
    "Borås",
    "Södertälje",
    "Eskilstuna",
    "Halmstad",
    "Växjö",
    "Karlstad",
    "Sundsvall",
    "Östersund",
    "Trollhättan",
    "Luleå",
    "Lidingö",
    "Borlänge",
    "Tumba",
    "Kristianstad",
    "Kalmar",
    "Falun",
    "Skövde",
    "Karlskrona",
    "Skellefteå",
    "Uddevalla",
    "Varberg",
    "Åkersberga",
    "Örnsköldsvik",
    "Landskrona",
    "Nyköping",
    "Vallentuna",
    "Motala",
    "Trelleborg",
    "Ängelholm",
    "Karlskoga",
    "Märsta",
    "Lerum",
    "Alingsås",
    "Sandviken",
    "Laholm",
    "Visby",
    "Piteå",
    "Kiruna",
    "Hässleholm",
    "Ystad",
    "Enköping",
    "Mölndal",
    "Kungsbacka",
    "Härnösand",
    "Köping",
    "Värnamo",
    "Åre",
    "Älmhult",
    "Säffle",
]


@dataclass(frozen=True)
class Street:
    name: str
    city: str
    postal: str
    numbers: list[tuple[str, str, int]]  # (number, littera, apartments)


def _streets(rows: int, rng: random.Random) -> list[Street]:
    names = [f"{q}{s}{x}" for s in STEMS for x in SUFFIXES for q in QUARTERS[:6]]
    names = sorted(set(names))
    streets: list[Street] = []
    total = 0
    postal_base = {c: 10000 + 1400 * i for i, c in enumerate(CITIES)}
    while total < rows:
        city = rng.choice(CITIES)
        name = rng.choice(names)
        postal = str(postal_base[city] + rng.randrange(0, 1400))
        numbers: list[tuple[str, str, int]] = []
        for n in range(1, rng.randint(5, 80)):
            number = str(n) if rng.random() > 0.02 else f"{n}-{rng.randint(1, 40)}"
            litteras = [""] if rng.random() > 0.12 else ["", "A", "B", "C"][: rng.randint(2, 4)]
            for littera in litteras:
                apartments = 0 if rng.random() > 0.25 else rng.randint(4, 60)
                numbers.append((number, littera, apartments))
                total += max(1, apartments)
        streets.append(Street(name, city, postal, numbers))
    return streets


def write_mdb_file(path: Path, rows: int, seed: int = 3, coid: str = COID) -> list[Street]:
    """A realistic MdB2 CSV of exactly ``rows`` accesses of network ``coid``; returns the
    streets it holds."""
    rng = random.Random(seed)
    streets = _streets(rows, rng)
    written = 0
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(COLUMNS)
        for s in streets:
            for number, littera, apartments in s.numbers:
                north = rng.randint(6_100_000, 7_600_000)
                east = rng.randint(270_000, 920_000)
                fastighet = (
                    f"{s.city} {s.name.split()[-1][:8]} {rng.randint(1, 40)}:{rng.randint(1, 300)}"
                )
                flats = (
                    [""]
                    if not apartments
                    else [f"{floor}{flat:02d}" for floor in range(10, 17) for flat in range(1, 10)][
                        :apartments
                    ]
                )
                for apartment in flats:
                    if written == rows:
                        return streets
                    written += 1
                    w.writerow(
                        [
                            coid,
                            f"BX{written:08d}",
                            s.name,
                            number,
                            littera,
                            s.postal,
                            s.city,
                            "SE",
                            "RENTAL_APARTMENT" if apartment else "RESIDENTIAL_HOUSE",
                            apartment,
                            "",
                            fastighet,
                            "SWEREF99TM",
                            str(north),
                            str(east),
                        ]
                    )
    return streets


def _fold_lightly(text: str, rng: random.Random) -> str:
    """How people type: sometimes lower case, sometimes without å ä ö."""
    r = rng.random()
    if r < 0.3:
        return text.lower()
    if r < 0.45:
        return text.lower().translate(str.maketrans("åäöÅÄÖ", "aaoAAO"))
    return text


KINDS = ("street prefix", "full address", "abbreviated", "postal code", "city prefix")


def queries(streets: list[Street], count: int, seed: int = 7) -> list[tuple[str, str]]:
    """(kind, query): street prefixes of 3+ letters, full addresses, postal codes, cities."""
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    while len(out) < count:
        s = rng.choice(streets)
        number, littera, _ = rng.choice(s.numbers)
        kind = rng.random()
        if kind < 0.40:
            out.append((KINDS[0], _fold_lightly(s.name[: rng.randint(3, len(s.name))], rng)))
        elif kind < 0.70:
            lit = f" {littera.lower()}" if littera and rng.random() < 0.5 else littera
            tail = rng.choice(["", f", {s.city}", f", {s.postal[:3]} {s.postal[3:]} {s.city}"])
            out.append((KINDS[1], _fold_lightly(f"{s.name} {number}{lit}{tail}", rng)))
        elif kind < 0.80:
            abbreviated = s.name.replace("gatan", "g.").replace("vägen", "v.")
            out.append((KINDS[2], _fold_lightly(f"{abbreviated} {number}", rng)))
        elif kind < 0.92:
            out.append((KINDS[3], rng.choice([s.postal, f"{s.postal[:3]} {s.postal[3:]}"])))
        else:
            out.append((KINDS[4], _fold_lightly(s.city[: rng.randint(3, len(s.city))], rng)))
    return out


def _p(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


@dataclass
class Result:
    backend: str
    rows: int
    import_s: float
    reimport_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    mean_hits: float
    rejected: int
    by_kind: dict[str, tuple[int, float, float]]  # kind: (queries, p50, p99)


def _settings(url: str, var: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        var_dir=var,
        secret_key="bench-secret-key-bench-secret-key-0123456789",
        password_hashing="fast",
    )


async def run_backend(
    backend: str,
    url: str,
    path: Path,
    qs: list[tuple[str, str]],
    warmup: list[tuple[str, str]],
    var: Path,
) -> Result:
    migrate.upgrade(url)
    db = Database(url)
    ctx = AppContext(db=db, settings=_settings(url, var))
    try:
        await admin.create_ko(ctx, COID, "Benchmark network")
        print(f"[{backend}] importing {path.name} …", file=sys.stderr, flush=True)
        first = await marketdb.import_accesses(ctx, COID, path)
        print(
            f"[{backend}] imported {first.imported} rows in {first.seconds:.1f} s",
            file=sys.stderr,
            flush=True,
        )
        again = await marketdb.import_accesses(ctx, COID, path)
        assert again.inserted == 0 and again.updated == 0, again
        print(f"[{backend}] re-import {again.seconds:.1f} s", file=sys.stderr, flush=True)
        if db.is_postgres:  # what autovacuum does soon after a large import anyway
            async with db.write() as conn:
                await conn.exec_driver_sql("ANALYZE accesses")
        for _, q in warmup:  # warm the caches and the statement cache
            await search_addresses(ctx, q)
        gc.collect()
        times: dict[str, list[float]] = {kind: [] for kind in KINDS}
        hits = 0
        for kind, q in qs:
            t0 = time.perf_counter()
            found = await search_addresses(ctx, q)
            times[kind].append((time.perf_counter() - t0) * 1000)
            hits += len(found)
        every = [t for ts in times.values() for t in ts]
        return Result(
            backend=backend,
            rows=first.imported,
            import_s=first.seconds,
            reimport_s=again.seconds,
            p50_ms=statistics.median(every),
            p99_ms=_p(every, 0.99),
            max_ms=max(every),
            mean_hits=hits / len(qs),
            rejected=first.rejected_rows,
            by_kind={
                k: (len(ts), statistics.median(ts), _p(ts, 0.99)) for k, ts in times.items() if ts
            },
        )
    finally:
        await db.dispose()


def _machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    pg = ""
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            pg = f", PostgreSQL {row[0]}" if row else ""
    except Exception:
        pg = ""
    import sqlite3

    return (
        f"{os.cpu_count()} cores (nproc), {model}, {ram} RAM; Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}{pg}"
    )


def markdown(results: list[Result], queries_count: int, command: str, load: str) -> str:
    lines = [
        SECTION,
        "",
        f"Machine: {_machine()}. Load average when the run began: {load} (the machine is shared "
        "with other work, so read the figures as an order of magnitude).",
        "",
        f"Command: `{command}` (also `make bench-marketdb`)",
        "",
        "| backend | accesses | import s | import rows/s | re-import (unchanged) s "
        "| search p50 ms | search p99 ms | search max ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.backend} | {r.rows:,} | {r.import_s:.1f} | {r.rows / r.import_s:,.0f} "
            f"| {r.reimport_s:.1f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.max_ms:.2f} |"
        )
    lines += [
        "",
        "Search latency by kind of query (p50 / p99 ms):",
        "",
        "| kind | queries | " + " | ".join(r.backend for r in results) + " |",
        "|---|---:|" + "---:|" * len(results),
    ]
    for kind in KINDS:
        if kind not in results[0].by_kind:
            continue
        cells = [f"{r.by_kind[kind][1]:.2f} / {r.by_kind[kind][2]:.2f}" for r in results]
        lines.append(f"| {kind} | {results[0].by_kind[kind][0]} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Import: `services.marketdb.import_accesses` of a generated MdB2 CSV (Swedish street "
        "names with å ä ö, numbers with litteras, apartment buildings) into a fresh, migrated "
        "database with every index in place; then the same file again, when nothing changes and "
        "nothing is written. Search: `services.addresses.search_addresses` in-process, limit 20, "
        f"{queries_count} queries after 200 warm-up ones — street prefixes of 3+ letters, full "
        'addresses with or without littera, postal code and city, "g."/"v." abbreviations, '
        "postal codes and city prefixes, in mixed case and with or without å ä ö; "
        f"{results[0].mean_hits:.1f} hits per query on average.",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str, path: Path = ROOT / "BENCHMARKS.md", section: str = SECTION) -> None:
    """Put ``text`` in place of a benchmark's section, leaving other sections alone."""
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    start = old.find(section)
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        nxt = old.find("\n## ", start + len(section))
        new = old[:start] + text.rstrip("\n") + "\n\n" + (old[nxt + 1 :] if nxt >= 0 else "")
    path.write_text(new.rstrip("\n") + "\n", encoding="utf-8")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--queries", type=int, default=2000)
    p.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = p.parse_args()
    command = f".venv/bin/python -m bench.marketdb --rows {args.rows} --backend {args.backend}"
    if args.queries != 2000:
        command += f" --queries {args.queries}"

    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-mdb-") as tmp:
        work = Path(tmp)
        path = work / "mdb.csv"
        t0 = time.perf_counter()
        streets = write_mdb_file(path, args.rows)
        print(
            f"generated {args.rows} rows ({path.stat().st_size / 1e6:.0f} MB) "
            f"in {time.perf_counter() - t0:.1f} s",
            file=sys.stderr,
        )
        every = queries(streets, args.queries + 200)
        warmup, qs = every[:200], every[200:]
        del streets
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        if args.backend in ("sqlite", "both"):
            url = f"sqlite:///{work / 'bench.sqlite3'}"
            results.append(asyncio.run(run_backend("SQLite", url, path, qs, warmup, work / "var")))
        if args.backend in ("postgresql", "both"):
            name = f"sg_bench_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
            try:
                results.append(
                    asyncio.run(run_backend("PostgreSQL", url, path, qs, warmup, work / "var"))
                )
            finally:
                with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    text = markdown(results, len(qs), command, load)
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
