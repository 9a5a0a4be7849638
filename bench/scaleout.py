"""Scale-out on PostgreSQL: two ``serviceguide serve`` processes and two relays, one database.

Run by bench.api on the largest PostgreSQL data set. Each server is started as if on its own
machine (its own port, one worker, no relay inside); two ``serviceguide relay`` processes
deliver the order mails to one SMTP server (aiosmtpd) that counts them. Shows: a hash from one
server works on the other; throughput of the two together against one alone; every order mail
delivered exactly once; the guide's throttle counting orders across both servers.
"""

from __future__ import annotations

import email
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller

from bench import api, dataset
from bench.harness import Load, Process, Server, free_port, write_requests, wrk


class CountingSink:
    """An SMTP server that counts the order mails it accepts, by ``X-Order-ID``, and the other
    mails (the customers' receipts, which carry no order id) apart."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.orders: Counter[int] = Counter()
        self.others = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content)
        order = msg["X-Order-ID"]
        with self.lock:
            if order is None:
                self.others += 1
            else:
                self.orders[int(str(order))] += 1
        return "250 OK"


def _together(jobs: list[tuple[str, Path, int]], seconds: float) -> list[Load]:
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = [
            pool.submit(wrk, url, reqs, connections=c, seconds=seconds, threads=1)
            for url, reqs, c in jobs
        ]
        return [f.result() for f in futures]


def _hash(server: Server, world: dataset.World) -> str:
    doc = httpx.post(
        f"{server.url}{api.XSP}",
        data={
            "method": "api_login",
            "api_user": world.api_user,
            "api_key": dataset.API_KEY,
            "output_format": "json",
        },
        timeout=30,
    ).json()
    return str(doc["api_login"]["response"]["hash_key"])


def _status(server: Server, hash_: str, order_id: int) -> int:
    r = httpx.get(
        f"{server.url}{api.XSP}",
        params={"method": "order_info", "id": order_id, "hash": hash_},
        timeout=30,
    )
    return r.status_code


def run(url: str, base: api.Base, work: Path, seconds: float = 6) -> list[str]:
    world = base.world
    sink = CountingSink()
    smtp = Controller(sink, hostname="127.0.0.1", port=free_port())
    smtp.start()
    var = work / "var-scaleout"
    env = api.server_env(
        url,
        var,
        SERVICEGUIDE_RELAY_IN_SERVE="false",
        SERVICEGUIDE_SMTP_URL=f"smtp://127.0.0.1:{smtp.port}",
        SERVICEGUIDE_OUTBOX_POLL_SECONDS="0.2",
        SERVICEGUIDE_OUTBOX_BATCH_SIZE="50",
    )
    relays = [Process(["relay"], env, work / f"relay-{i}.log") for i in (1, 2)]
    out: list[str] = ["### Scale-out on PostgreSQL", ""]
    try:
        with (
            Server(env, work / "serve-a.log", workers=1) as a,
            Server(env, work / "serve-b.log", workers=1) as b,
        ):
            fx = api.fixture(url, a, world)
            some = fx.order_ids[0]
            hash_b = _hash(b, world)
            cross = (_status(b, fx.hash, some), _status(a, hash_b, some))
            api.say(f"[scale-out] hash of A on B: {cross[0]}, of B on A: {cross[1]}")

            info = write_requests(
                work / "so_info.tsv",
                [api._xsp(fx.hash, method="order_info", id=i) for i in fx.order_ids],
            )
            wrk(a.url, info, connections=8, seconds=1)
            wrk(b.url, info, connections=8, seconds=1)
            alone = _together([(a.url, info, 32)], seconds)[0]
            both = _together([(a.url, info, 16), (b.url, info, 16)], seconds)
            api.say(
                f"[scale-out] order_info: A alone {alone.rps:.0f}, A+B "
                f"{sum(x.rps for x in both):.0f} req/s"
            )

            first_new = api.query(url, "SELECT coalesce(max(id), 0) FROM orders")[0][0]
            placing = write_requests(work / "so_place.tsv", api._placements(world, fx, 20000))
            for r in relays:
                r.start()
            placed_load = _together([(a.url, placing, 16), (b.url, placing, 16)], seconds)
            a.settle()  # placements wrk gave up on may still be finishing
            b.settle()
            placed = [
                r[0] for r in api.query(url, "SELECT id FROM orders WHERE id > :f", f=first_new)
            ]
            t0 = time.monotonic()
            while time.monotonic() - t0 < 300:
                left = api.query(
                    url, "SELECT count(*) FROM outbox WHERE state IN ('pending', 'delivering')"
                )[0][0]
                if not left:
                    break
                time.sleep(0.5)
            drain = time.monotonic() - t0
            with sink.lock:
                got = {o: n for o, n in sink.orders.items() if o > first_new}
            twice = sum(1 for n in got.values() if n > 1)
            missing = len(set(placed) - set(got))
            api.say(
                f"[scale-out] {len(placed)} orders, {sum(got.values())} mails, "
                f"{twice} twice, {missing} missing, drained {drain:.1f} s after the load"
            )
        # The throttle, across both servers: 20 orders a minute from one address.
        env_t = {**env, "SERVICEGUIDE_GUIDE_RATE": "20"}
        with (
            Server(env_t, work / "serve-a2.log", workers=1) as a2,
            Server(env_t, work / "serve-b2.log", workers=1) as b2,
        ):
            bodies = api._placements(world, fx, 30)
            codes = []
            for i, (_, path, body, ctype, _) in enumerate(bodies):
                doc = json.loads(body)
                doc["services"] = doc["services"][:1]
                target = (a2, b2)[i % 2]
                codes.append(
                    httpx.post(
                        target.url + path,
                        content=json.dumps(doc),
                        headers={"Content-Type": ctype},
                        timeout=30,
                    ).status_code
                )
            accepted = codes.count(201)
            api.say(
                f"[scale-out] throttle: {accepted} of {len(codes)} accepted, codes {Counter(codes)}"
            )
    finally:
        for r in relays:
            r.stop()
        smtp.stop()

    total = sum(x.rps for x in both)
    placed_rps = sum(x.rps for x in placed_load)
    out += [
        "Two `serviceguide serve --workers 1` processes (A and B, own ports, no relay inside) and "
        "two `serviceguide relay` processes against one PostgreSQL database with "
        f"{base.accesses:,} accesses and the largest order history, on the same 2 cores.",
        "",
        "| check | result |",
        "|---|---|",
        f"| a hash from `api_login` on A, used on B (and B's on A) | HTTP {cross[0]} and "
        f"{cross[1]} |",
        f"| `order_info`, A alone at 32 connections | {alone.rps:,.0f} req/s, p99 "
        f"{alone.p99_ms:.1f} ms |",
        f"| `order_info`, A and B at 16 connections each | {total:,.0f} req/s together "
        f"({total / alone.rps:.2f}× A alone), p99 {max(x.p99_ms for x in both):.1f} ms |",
        f"| guide placement (two services), A and B at 16 connections each | "
        f"{placed_rps:,.0f} req/s = {placed_rps * 2:,.0f} orders/s |",
        f"| order mails, two relays | {len(placed):,} orders placed → "
        f"{sum(got.values()):,} mails received, {len(got):,} distinct orders, "
        f"{twice} sent twice, {missing} missing; queue empty {drain:.1f} s after the load |",
        f"| guide throttle, limit 20 orders/min per address, 30 one-service orders alternating "
        f"A and B | {accepted} accepted, {len(codes) - accepted} refused with 429 |",
        "",
        'On one machine the two servers share the cores the single one had, so "adds up" here '
        "means the pair loses nothing to coordination; on two machines each brings its own "
        "cores and the database becomes the shared limit (docs/deployment.md).",
        "",
    ]
    return out
