"""The offerings a TL publishes over ON-API, read from the SP simulator by the real command into
the real server, as customers compare them in a real browser: sv and en, at 1280 and 390
pixels, axe-core on each, the terms links reachable by keyboard, and the card still picks the
service (SQLite and PostgreSQL). The screenshot goes to ``SERVICEGUIDE_SCREENSHOTS`` when set."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from serviceguide.simulator.app import create_sp_simulator
from tests.e2e import axe
from tests.e2e.browser_support import check_screenshot, chromium, require_browser, tab_to
from tests.e2e.conftest import Deployment, Server
from tests.support.servers import serve_in_thread

pytestmark = pytest.mark.e2e

SHOTS = os.environ.get("SERVICEGUIDE_SCREENSHOTS")
WIDE, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}
XSP = 31420
PAGE = "/access/SNFDMO/AB123?adress=Demogatan+123%2C+12345+Demostad"


@pytest.fixture(scope="module")
def server(deployment: Deployment) -> Iterator[Server]:
    """The demo data with Demo Bredband AB's products read from an SP simulator of its own."""
    require_browser()
    axe.require_axe()
    with serve_in_thread(create_sp_simulator()) as sp:
        deployment.run(
            "tl", "set-onapi", str(XSP), f"{sp}/{XSP}/onapi/2.6", "--username", "sim",
            "--password", "sim",
        )  # fmt: skip
        read = deployment.run("tl", "sync-products", str(XSP))
        assert "services added" in read.stdout, read.stdout + read.stderr
        with deployment.serving(1) as (running,):
            yield running


async def test_customers_compare_the_offerings_in_both_languages_and_widths(
    server: Server, deployment: Deployment, tmp_path: Path
):
    async with chromium() as browser:
        for lang, texts in (
            ("sv", ("Halva priset i 3 månader", "Bindningstid 12 månader", "Villkor")),
            ("en", ("Special offer:", "Minimum term 12 months", "Privacy policy")),
        ):
            for name, viewport in (("wide", WIDE), ("phone", PHONE)):
                page = await (await browser.new_context(viewport=viewport)).new_page()
                await page.goto(f"{server.base_url}{PAGE}&lang={lang}")
                body = await page.inner_text("main")
                for text in texts:
                    assert text in body, (lang, name, text)
                await axe.check(page, f"services-offerings-{lang}-{name}")
                wide = await page.evaluate(
                    "() => document.documentElement.scrollWidth"
                    " - document.documentElement.clientWidth"
                )
                assert wide <= 0, f"{lang} {name}: scrolls sideways"
                path = tmp_path / f"guide-offerings-{lang}-{name}.png"
                await page.screenshot(path=str(path), full_page=True)
                check_screenshot(path)
                if SHOTS and deployment.backend == "sqlite" and (lang, name) == ("sv", "wide"):
                    Path(SHOTS).mkdir(parents=True, exist_ok=True)
                    shutil.copy(path, Path(SHOTS) / path.name)
                await page.context.close()


async def test_the_terms_link_is_reached_by_keyboard_and_the_card_still_picks_the_service(
    server: Server,
):
    async with chromium() as browser:
        page = await (await browser.new_context(viewport=WIDE)).new_page()
        await page.goto(f"{server.base_url}{PAGE}")
        link = 'a[href="https://demobredband.example/allmanna-villkor.pdf"]'
        await tab_to(page, link, limit=80)
        # A click on the card's text (its label's area, not the link) ticks the box.
        card = page.locator(".choice", has_text="Halva priset i 3 månader").first
        box = card.locator("input[type=checkbox]")
        assert not await box.is_checked()
        await card.locator(".choice__label").click()
        assert await box.is_checked()
        # The links lie above the card's click area: the browser finds the link itself there.
        link_el = card.locator(".choice__links a").first
        hit = await link_el.evaluate(
            """a => { const r = a.getBoundingClientRect();
                      const el = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
                      return el === a || a.contains(el); }"""
        )
        assert hit
