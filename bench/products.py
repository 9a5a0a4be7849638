"""Reading a large products document, and serving a TL's offerings back, on SQLite and
PostgreSQL.

    .venv/bin/python -m bench.products [--products 250] [--networks 4] [--backend both]

For each backend: a fresh database with ``--networks`` networks that admit one TL and know the
``--products`` product codes; a TL's ON-API products endpoint on a loopback port serving
``--products`` products of four offerings each (every offering fits every network, so the
catalogue gets products × 4 × networks services). Timed: the first read (every service
inserted), a read of the same document (nothing changes), a read where every price changed (every
service updated), a read of a document without half the products (those retired); then
``GET /plain/onapi/{xsp}/products`` as the TL, in-process, ``--repeat`` times after one warm-up.
Writes the "ON-API products" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from bench import marketdb as mdb
from bench.api import ROOT, _settings, fresh_database
from serviceguide.app import create_app
from serviceguide.services import admin, products, sp_settings
from serviceguide.services.context import AppContext
from serviceguide.storage import migrate
from serviceguide.storage.db import Database

SECTION = "## ON-API products"
XSP = 7001


def document(count: int, price: int = 299) -> dict[str, Any]:
    def offering(oid: str, name: str, monthly: int, **more: Any) -> dict[str, Any]:
        return {
            "offeringId": oid,
            "marketingInformation": {
                "offeringName": name,
                "consumerTypes": ["residential", "business"],
                "description": f"{name}: snabbt bredband",
                "startPrice": "0",
                "price": str(monthly),
                "pricePeriod": "P1M",
                "periodOfNotice": "P1M",
                **more,
            },
        }

    at = "2026-11-01T08:00Z"
    files = [
        {"type": "TermsAndConditions", "url": "https://sp.example/villkor.pdf", "updated": at},
        {"type": "PrivacyPolicy", "url": "https://sp.example/integritet", "updated": at},
    ]
    return {
        "serviceProvider": {
            "phone": "010-123 45 67",
            "email": "kund@sp.example",
            "website": "https://sp.example",
            "presentation": "Bench AB",
            "files": files,
        },
        "products": [
            {
                "coProducts": [f"BB{n:05d}"],
                "productId": f"p{n}",
                "marketingInformation": {
                    "productName": f"Bredband {n}",
                    "categories": ["internet"],
                    "description": "Bredband",
                },
                "files": [],
                "offerings": [
                    offering("flex", "Utan bindningstid", price),
                    offering("12m", "12 månader", price - 20, agreementLength="P12M"),
                    offering(
                        "kampanj",
                        "Halva priset",
                        price // 2,
                        agreementLength="P12M",
                        campaign=True,
                        campaignLength="P3M",
                        basePrice=str(price),
                    ),
                    offering("foretag", "Företag", price - 40, consumerTypes=["business"]),
                ],
            }
            for n in range(count)
        ],
    }


@contextmanager
def serving(state: dict[str, bytes]) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            body = state["body"]
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/onapi/2.6"
    finally:
        httpd.shutdown()
        httpd.server_close()


async def _world(ctx: AppContext, networks: int, count: int) -> Any:
    await admin.create_tl(ctx, XSP, "Bench AB", "order@sp.example")
    for k in range(networks):
        coid = f"BENCH{k}"
        await admin.create_ko(ctx, coid, f"Stadsnät {k}")
        # A service entered by hand for each product code makes the codes the network's.
        for n in range(count):
            await admin.create_service(
                ctx,
                xsp=XSP,
                coid=coid,
                uid=f"BB{n:05d}",
                name=f"Bredband {n}",
                price_monthly="299",
                price_once="0",
            )
    return await admin.create_api_user(
        ctx, await admin.find_org(ctx, xsp=XSP), "bench", api_key="bench-key-0123456789"
    )


async def _run(backend: str, work: Path, count: int, networks: int, repeat: int) -> list[str]:
    url = fresh_database(backend, "sg_bench_products", work)
    migrate.upgrade(url)
    db = Database(url)
    ctx = AppContext(db=db, settings=_settings(url, work / "var"))
    rows: list[str] = []
    try:
        cred = await _world(ctx, networks, count)
        state = {"body": json.dumps(document(count)).encode()}
        with serving(state) as base:
            await sp_settings.set_onapi(ctx, XSP, base)
            services = count * 4 * networks
            size = len(state["body"]) // 1024
            dearer = document(count, 319)
            half = {**dearer, "products": dearer["products"][: count // 2]}
            steps = [
                ("first read: every service inserted", state["body"]),
                ("the same document again: nothing changes", state["body"]),
                ("every price changed: every service updated", json.dumps(dearer).encode()),
                ("half the products gone: retired", json.dumps(half).encode()),
            ]
            for label, body in steps:
                state["body"] = body
                t0 = time.perf_counter()
                report = await products.sync_products(ctx, XSP)
                took = time.perf_counter() - t0
                rows.append(
                    f"| {backend} | {label} | {report.added} / {report.updated} / "
                    f"{report.unchanged} / {report.retired} | {took * 1000:.0f} |"
                )
        web = create_app(ctx.settings)
        web.state.ctx = ctx
        transport = httpx.ASGITransport(app=web, client=("127.0.0.1", 1))
        auth = httpx.BasicAuth(str(cred.ident), "bench-key-0123456789")
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            times = []
            for i in range(repeat + 1):
                t0 = time.perf_counter()
                r = await http.get(f"/plain/onapi/{XSP}/products", auth=auth)
                took = time.perf_counter() - t0
                assert r.status_code == 200, r.text
                if i:
                    times.append(took * 1000)
            served = sum(len(p["offerings"]) for p in r.json()["products"])
            times.sort()
            p95 = times[max(0, int(len(times) * 0.95) - 1)]
            rows.append(
                f"| {backend} | `GET /plain/onapi/{{xsp}}/products`: {served} offerings, "
                f"{len(r.content) // 1024} KiB | median {statistics.median(times):.0f}, "
                f"p95 {p95:.0f} | |"
            )
        rows.insert(
            0,
            f"| {backend} | {count} products × 4 offerings × {networks} networks = {services} "
            f"services; the document {size} KiB | | |",
        )
    finally:
        await db.dispose()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--products", type=int, default=250)
    ap.add_argument("--networks", type=int, default=4)
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            rows += asyncio.run(_run(backend, Path(tmp), args.products, args.networks, args.repeat))
    command = (
        f"`.venv/bin/python -m bench.products --products {args.products} --networks "
        f"{args.networks} --backend {args.backend} --repeat {args.repeat}` (`make bench-products`)"
    )
    text = "\n".join(
        [
            SECTION,
            "",
            "`serviceguide tl sync-products` against a TL serving a large products document on a "
            "loopback port (each step: the fetch, the check of the whole document and the one "
            "transaction that applies it), then the served products read back as the TL, "
            f"in-process. Milliseconds; {command}.",
            "",
            "| backend | step | added / updated / unchanged / retired | ms |",
            "|---|---|---|---|",
            *rows,
            "",
        ]
    )
    print(text)
    mdb.write_section(text, ROOT / "BENCHMARKS.md", SECTION)


if __name__ == "__main__":
    main()
