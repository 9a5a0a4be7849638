"""The SP simulator's products, read over real HTTP by ``serviceguide tl sync-products``, and what
the guide then shows customers to compare (sv and en, the page and the JSON API); on SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from serviceguide.app import create_app
from serviceguide.cli import app as cli_app
from serviceguide.services import admin, sp_settings
from serviceguide.services.context import AppContext
from serviceguide.settings import get_settings
from serviceguide.simulator.app import create_sp_simulator
from serviceguide.storage.tables import services
from tests.support.commands import size_consoles
from tests.support.servers import serve_in_thread

pytestmark = pytest.mark.integration

XSP = 31420  # a demo TL: the simulator has its products


@pytest.fixture
def simulator() -> Iterator[str]:
    with serve_in_thread(create_sp_simulator()) as url:
        yield url


@pytest.fixture
async def shop(ctx: AppContext, simulator: str) -> AppContext:
    """A network whose product codes are the demo's, a demo TL selling one of them there."""
    await admin.create_ko(ctx, "SNFDMO", "Demo Stadsnät")
    await admin.create_tl(ctx, XSP, "Demo Bredband AB", "orders@demobredband.example")
    await admin.add_access(
        ctx,
        coid="SNFDMO",
        access_id="AB123",
        street_name="Demogatan",
        street_number="123",
        postal_code="12345",
        city="Demostad",
    )
    await admin.create_service(
        ctx,
        xsp=XSP,
        coid="SNFDMO",
        uid="AB100100",
        name="Tjänst 100/100",
        price_monthly="299",
        price_once="0",
        service_id=2440,
    )
    await sp_settings.set_onapi(
        ctx, XSP, f"{simulator}/{XSP}/onapi/2.6", username="sim", password="sim"
    )
    return ctx


@pytest.fixture
def cli(ctx: AppContext, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in (
        ("DATABASE_URL", ctx.settings.database_url),
        ("VAR_DIR", str(ctx.settings.var_dir)),
        ("SECRET_KEY", ctx.settings.secret_key or ""),
        ("PASSWORD_HASHING", "fast"),
    ):
        monkeypatch.setenv(f"SERVICEGUIDE_{name}", value)
    monkeypatch.setenv("COLUMNS", "250")
    size_consoles("250")  # as wide as a new process would make them, whatever ran before
    get_settings.cache_clear()
    runner = CliRunner()

    async def invoke(*args: str) -> Any:
        return await asyncio.to_thread(runner.invoke, cli_app, list(args))

    yield invoke
    get_settings.cache_clear()


@pytest.fixture
async def http(shop: AppContext) -> AsyncIterator[httpx.AsyncClient]:
    web = create_app(shop.settings)
    web.state.ctx = shop
    transport = httpx.ASGITransport(app=web, client=("127.0.0.1", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_the_command_reads_the_simulators_products(shop: AppContext, cli: Any):
    r = await cli("tl", "sync-products", str(XSP))
    assert r.exit_code == 0, r.output
    # Three demo products; AB100100 is the only one the network knows: its four offerings.
    assert "12 offerings read; 4 services added" in r.output
    assert r.output.count("left out:") == 2
    async with shop.db.read() as conn:
        rows = (await conn.execute(select(services).where(services.c.source == "onapi"))).all()
    assert sorted(r.offering_id for r in rows) == ["12m", "flex", "foretag", "kampanj"]
    assert {r.product_id for r in rows} == {f"{XSP}-ab100100"}
    r = await cli("tl", "sync-products", str(XSP))
    assert "0 services added, 0 updated, 4 unchanged, 0 retired" in r.output


async def test_the_command_says_why_nothing_changed(shop: AppContext, cli: Any):
    await sp_settings.set_onapi(shop, XSP, "http://127.0.0.1:9/onapi/2.6")
    r = await cli("tl", "sync-products", str(XSP))
    assert r.exit_code == 1
    assert f"the products of TL {XSP} could not be read, nothing changed" in r.output
    r = await cli("tl", "sync-products", "4242")
    assert r.exit_code == 1


async def _synced(shop: AppContext, cli: Any) -> None:
    r = await cli("tl", "sync-products", str(XSP))
    assert r.exit_code == 0, r.output


def _text(page: str) -> str:
    """The page's text: tags out, runs of ASCII white space as one space (no-break spaces
    stay)."""
    return re.sub(r"[ \t\r\n]+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


async def test_the_guide_shows_what_customers_compare_in_swedish(
    shop: AppContext, cli: Any, http: httpx.AsyncClient
):
    await _synced(shop, cli)
    r = await http.get("/access/SNFDMO/AB123?lang=sv")
    assert r.status_code == 200
    page = _text(r.text)
    for expected in (
        "Tjänst 100/100 Utan bindningstid",
        "299\u00a0kr per månad",
        "Ingen bindningstid",
        "Uppsägningstid 1 månad",
        "Bindningstid 12 månader",
        "Kampanj: 150\u00a0kr per månad i 3 månader, sedan 299\u00a0kr per månad",
        "För privatpersoner",
        "För företag",
        "Bindningstid 24 månader",
        "Uppsägningstid 3 månader",
    ):
        assert expected in page, expected
    assert 'href="https://demobredband.example/allmanna-villkor.pdf"' in r.text
    assert 'href="https://demobredband.example/integritetspolicy"' in r.text
    assert ">Villkor</a>" in r.text and ">Integritetspolicy</a>" in r.text


async def test_the_guide_shows_what_customers_compare_in_english(
    shop: AppContext, cli: Any, http: httpx.AsyncClient
):
    await _synced(shop, cli)
    r = await http.get("/access/SNFDMO/AB123?lang=en")
    page = _text(r.text)
    for expected in (
        "SEK 299 per month",
        "No minimum term",
        "Minimum term 12 months",
        "Notice period 1 month",
        "Special offer: SEK 150 per month for 3 months, then SEK 299 per month",
        "For households",
        "For businesses",
        ">Terms</a>",
        ">Privacy policy</a>",
    ):
        assert expected in page or expected in r.text, expected


async def test_the_guide_api_lists_the_same(shop: AppContext, cli: Any, http: httpx.AsyncClient):
    await _synced(shop, cli)
    r = await http.get("/api/guide/accesses/SNFDMO/AB123/services")
    assert r.status_code == 200
    found = {s["offering_name"]: s for s in r.json()}
    camp = found["Halva priset i 3 månader"]
    assert camp["price_monthly"] == 150.0 and camp["base_price"] == 299.0
    assert (camp["campaign"], camp["campaign_length"], camp["agreement_length"]) == (
        True,
        "P3M",
        "P12M",
    )
    assert found["Företag"]["consumer_types"] == ["business"]
    assert found["Företag"]["notice_period"] == "P3M"
    assert camp["terms_url"] == "https://demobredband.example/allmanna-villkor.pdf"
    manual = found[None]
    assert manual["name"] == "Tjänst 100/100" and manual["consumer_types"] == []
