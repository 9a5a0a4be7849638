"""The agent's answer to the portal's push ([sp]): how long the portal waits for CONFIRMED or
REJECTED, and how many pushes the agent answers per second, as the KO's time to finish grows.

    .venv/bin/python -m bench.agentsp [--orders 60] [--answer-within 2]

A fresh SQLite database with the demo data and ``--orders`` orders per KO case on accesses of
their own, ``serviceguide serve`` (one worker) as the guide, the KO simulator in this process
(on a network of the bench's accesses, so every ACTIVATE is a new ON-API order), and the agent
with its [sp] server in this process. Each case pushes its orders over real HTTP as the portal
does, first one at a time, then four at once (``[sp] workers`` = 4), and measures each push
from the request to the answer. Writes the "Agent: answering the portal's push" section of
BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from bench.api import ROOT, _settings, fresh_database, server_env
from bench.harness import Server, free_port
from serviceguide.agent.config import parse_config
from serviceguide.agent.runner import Agent
from serviceguide.agent.spserver import start_sp
from serviceguide.domain.ordering import CustomerInput, OrderRequest
from serviceguide.domain.personnummer import with_check_digit
from serviceguide.services import admin, demo, placing
from serviceguide.services.context import AppContext
from serviceguide.simulator.activation import Network
from serviceguide.simulator.app import create_simulator
from serviceguide.simulator.onapi import SimConfig
from serviceguide.storage import migrate
from serviceguide.storage.db import Database

SECTION = "## Agent: answering the portal's push"
TL, SERVICE, UID, COID = 31420, 2440, "AB100100", "SNFDMO"
PORTAL = ("portal", "portal-secret")
#: (label, KO simulator delay in seconds: its orders finish after that long)
CASES = [
    ("KO finishes at once", 0.0),
    ("KO finishes in 1 s", 1.0),
    ("KO slower than the wait", 30.0),
]


@dataclass
class Result:
    case: str
    delay: float
    concurrency: int
    pushes: int
    answers: dict[str, int]
    median_ms: float
    p95_ms: float
    per_second: float


def say(msg: str) -> None:
    print(msg, flush=True)


async def _prepare(url: str, var: Path, cases: int, orders: int) -> list[list[tuple[int, str]]]:
    """Demo data, then per case ``orders`` orders of the demo TL on accesses of their own."""
    migrate.upgrade(url)
    db = Database(url)
    ctx = AppContext(db=db, settings=_settings(url, var))
    try:
        await demo.load(ctx)
        placed: list[list[tuple[int, str]]] = []
        for c in range(cases):
            batch = []
            for i in range(orders):
                access = f"AGSP{c}{i:05d}"
                await admin.add_access(
                    ctx,
                    coid=COID,
                    access_id=access,
                    street_name="Pushgatan",
                    street_number=str(c * orders + i + 1),
                    postal_code="12345",
                    city="Benchby",
                )
                p = await placing.place_order(
                    ctx,
                    OrderRequest(
                        coid=COID,
                        access_id=access,
                        service_ids=[SERVICE],
                        customer=CustomerInput(
                            firstname=f"Push{i}",
                            surname="Bench",
                            serial=with_check_digit("850505123"),
                            email=f"push{c}-{i}@example.se",
                            phone="070-5550000",
                        ),
                        delivery=None,
                        message="",
                    ),
                )
                batch.append((p.orders[0].id, access))
            placed.append(batch)
        described = await demo.describe(ctx)
    finally:
        await db.dispose()
    tl = next(t for t in described["tls"] if t["xsp"] == TL)
    _credentials.update(api_user=tl["api_user"], api_key=tl["api_key"])
    return placed


_credentials: dict[str, Any] = {}


def _body(access: str) -> dict[str, Any]:
    return {
        "coAccessId": access,
        "operation": "ACTIVATE",
        "orderDateTime": "2026-12-03T08:00:00Z",
        "requestedDateTime": "2026-12-03T08:00:00Z",
        "products": [{"productId": "bredband", "offeringId": UID}],
        "customerDetails": {"firstName": "Push", "lastName": "Bench", "email": "p@example.se"},
    }


class Ko:
    """The KO simulator on a network of the bench's accesses, in a thread."""

    def __init__(self, accesses: set[str], delay: float) -> None:
        self.port = free_port()
        app = create_simulator({COID: Network(COID, accesses)}, SimConfig(delay=delay))
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Ko:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def _push(url: str, order_id: int, access: str) -> tuple[float, str]:
    started = time.perf_counter()
    r = httpx.post(
        f"{url}/order/",
        json=_body(access),
        headers={"X-Order-ID": str(order_id)},
        auth=PORTAL,
        timeout=60,
    )
    took = time.perf_counter() - started
    state = (
        r.json().get("state", str(r.status_code)) if r.status_code == 200 else str(r.status_code)
    )
    return took, state


def _case(
    guide: str, work: Path, label: str, delay: float, orders: list[tuple[int, str]], within: float
) -> list[Result]:
    with Ko({a for _, a in orders}, delay) as ko:
        config = parse_config(
            f'[api]\nbase_url = "{guide}"\napi_user = {_credentials["api_user"]}\n'
            f'api_key = "{_credentials["api_key"]}"\n'
            f'[state]\npath = "agent-{delay}.sqlite3"\n[sink]\njsonl = "orders-{delay}.jsonl"\n'
            f'[onapi.{COID}]\nurl = "http://127.0.0.1:{ko.port}/{COID}/onapi/2.4"\n'
            f'username = "sim"\npassword = "sim"\nservices = {{ {UID} = "{UID}" }}\n'
            f'[sp]\nport = 0\nusername = "{PORTAL[0]}"\npassword = "{PORTAL[1]}"\n'
            f"answer_within = {within}\nworkers = 4\n",
            work,
        )
        agent = Agent(config)
        server = start_sp(agent)
        url = f"{server.url}/onapi/2.6"
        results = []
        try:
            half = len(orders) // 2
            for concurrency, batch in ((1, orders[:half]), (4, orders[half:])):
                started = time.perf_counter()
                with ThreadPoolExecutor(concurrency) as pool:
                    done = list(pool.map(lambda o: _push(url, *o), batch))
                wall = time.perf_counter() - started
                times = sorted(t for t, _ in done)
                answers: dict[str, int] = {}
                for _, state in done:
                    answers[state] = answers.get(state, 0) + 1
                results.append(
                    Result(
                        label,
                        delay,
                        concurrency,
                        len(batch),
                        answers,
                        statistics.median(times) * 1000,
                        times[max(0, int(len(times) * 0.95) - 1)] * 1000,
                        len(batch) / wall,
                    )
                )
                say(f"  {label}, {concurrency} at a time: {results[-1]}")
        finally:
            server.stop()
            agent.close()
    return results


def markdown(results: list[Result], orders: int, within: float, command: str) -> list[str]:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        SECTION,
        "",
        f"Machine: {os.cpu_count()} cores (nproc), Python {platform.python_version()}, SQLite. "
        f"Load average when the run began: {load}.",
        "",
        f"Command: `{command}`",
        "",
        "| KO | KO's time to finish | pushes at once | pushes | answers | median ms | p95 ms "
        "| pushes/s |",
        "|---|---:|---:|---:|---|---:|---:|---:|",
    ]
    for r in results:
        answers = ", ".join(f"{k} {v}" for k, v in sorted(r.answers.items()))
        lines.append(
            f"| {r.case} | {r.delay:g} s | {r.concurrency} | {r.pushes} | {answers} "
            f"| {r.median_ms:.0f} | {r.p95_ms:.0f} | {r.per_second:.1f} |"
        )
    lines += [
        "",
        f"`serviceguide serve --workers 1` on SQLite as the guide; the KO simulator and the "
        f"agent (`[sp] answer_within = {within:g}`, `workers = 4`) in the benchmark's process; "
        f"{orders} orders per KO case, each pushed once, half one at a time and half four at "
        "once; the machine shared with other work (see the load). A push costs the agent two "
        "reads of the XSP API (the order and its customer), the sink line, the ON-API ACTIVATE "
        "and a few writes of its state file, and then one read of the KO's order every 0.25 s "
        "until the KO has finished or the wait is over. So the portal waits for the KO's time "
        "to finish plus the agent's own work (the first row); a KO slower than "
        "`answer_within` is answered CONFIRMED, activation under way, after about "
        "`answer_within`, whatever the KO's time. With such a KO the agent answers at most "
        "`workers` / `answer_within` pushes per second (4 / 2 s here); further pushes wait for "
        "a free worker.",
        "",
    ]
    return lines


def write_section(lines: list[str]) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text(encoding="utf-8")
    if SECTION in text:
        start = text.index(SECTION)
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + "\n".join(lines) + ("\n" + text[end + 1 :] if end != -1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(lines)
    path.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=60, help="orders per KO case")
    parser.add_argument("--answer-within", type=float, default=2.0)
    parser.add_argument("--no-write", action="store_true", help="print, do not edit BENCHMARKS.md")
    args = parser.parse_args()
    command = f".venv/bin/python -m bench.agentsp --orders {args.orders} --answer-within " + (
        f"{args.answer_within:g}"
    )
    with tempfile.TemporaryDirectory(prefix="sg-bench-agentsp-") as tmp:
        work = Path(tmp)
        url = fresh_database("sqlite", "sg_bench_agentsp", work)
        say("preparing the database …")
        placed = asyncio.run(_prepare(url, work / "var", len(CASES), args.orders))
        results: list[Result] = []
        with Server(server_env(url, work / "var"), work / "server.log", workers=1) as guide:
            for (label, delay), orders in zip(CASES, placed, strict=True):
                say(f"{label} …")
                results += _case(guide.url, work, label, delay, orders, args.answer_within)
    lines = markdown(results, args.orders, args.answer_within, command)
    print("\n".join(lines))
    if not args.no_write:
        write_section(lines)


if __name__ == "__main__":
    main()
