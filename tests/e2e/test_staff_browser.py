"""The staff pages in a real browser (Chromium via Playwright) against the real server process,
with the demo data: a TL's employee follows the order mail's link to a delivered order, the KO
sees the same order, another TL cannot reach it; and screenshots of every page."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browser_support import PageProblems, check_screenshot, chromium, require_browser
from tests.e2e.conftest import Deployment, Server

pytestmark = pytest.mark.e2e

TL_XSP, OTHER_XSP, KO = 31420, 31421, "SNFDMO"
SHOTS = os.environ.get("SERVICEGUIDE_SCREENSHOTS")  # keep the screenshots here, to look at


@pytest.fixture(scope="module")
def server(deployment: Deployment) -> Iterator[Server]:
    require_browser()
    with deployment.serving(1) as (running,):
        yield running


def _staff(demo: dict[str, Any], **where: Any) -> tuple[str, str]:
    for s in demo["staff"]:
        if all(s.get(k) == v for k, v in where.items()):
            return s["username"], s["password"]
    raise AssertionError(f"no demo staff user {where}")


async def shoot(page: Any, folder: Path, name: str) -> Path:
    path = folder / f"staff-{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    check_screenshot(path)
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(SHOTS) / path.name)
    return path


async def log_in(page: Any, username: str, password: str) -> None:
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("button[type=submit]:has-text('Logga in')")


async def test_a_tl_handles_an_order_from_the_mail_link_and_the_ko_sees_it(
    server: Server, deployment: Deployment, tmp_path: Path
) -> None:
    demo = deployment.demo
    order = next(
        o for o in demo["orders"] if o["xsp"] == TL_XSP and o["coid"] == KO and o["status"] == "new"
    )
    oid = order["id"]
    link = f"{server.base_url}/staff/orders/{oid}"  # the order e-mail's link (notifications.md)
    async with chromium() as browser:
        # The TL's employee follows the link, logs in and lands on the order.
        context = await browser.new_context(java_script_enabled=False)
        page = await context.new_page()
        problems = PageProblems(page)
        await page.goto(link)
        assert "/staff/login" in page.url
        await shoot(page, tmp_path, "1-login")
        await log_in(page, *_staff(demo, xsp=TL_XSP))
        assert page.url == link
        assert await page.locator("h1").inner_text() == f"Beställning {oid} ny"
        serial = await page.locator("#serial").inner_text()
        assert serial.endswith("-****")

        await page.select_option("#new-status", "received")
        await page.click("button:has-text('Ändra status')")
        assert "Statusen är ändrad" in await page.locator(".notice").inner_text()
        await page.fill("#message", "Vi ringer kunden i morgon <b>om</b> installationen.")
        await page.select_option("#message-type", "alert")
        await page.click("button:has-text('Lägg till i loggen')")
        assert await page.locator(".log__entry--alert").count() == 1
        assert "<b>om</b>" in await page.locator(".log__entry--alert .log__text").inner_text()
        await page.click("button:has-text('Markera för uppföljning')")
        assert await page.locator("#flag .flag").count() == 1
        await page.click("button:has-text('Visa personnummer')")
        assert not (await page.locator("#serial").inner_text()).endswith("****")
        await shoot(page, tmp_path, "2-order-tl")

        # Later the same day: delivered. Only allowed next statuses are offered.
        await page.goto(link)
        offered = await page.locator("#new-status option").evaluate_all(
            "os => os.map(o => o.value)"
        )
        assert offered == ["active", "waiting", "cancelled", "delivered"]
        await page.select_option("#new-status", "delivered")
        await page.click("button:has-text('Ändra status')")
        assert "levererad" in await page.locator("h1").inner_text()
        assert await page.locator("#new-status").count() == 0
        types = await page.locator(".log__type").all_inner_texts()
        assert [t.lower() for t in types[-4:]] == ["system", "viktigt", "notering", "system"]

        # The overview: the order is no longer open, it is flagged, and the chart has data.
        await page.goto(f"{server.base_url}/staff/")
        flagged = page.locator("section:has(#flagged-h) a")
        assert await flagged.all_inner_texts() == [str(oid)]
        heights = await page.locator("rect.chart__bar").evaluate_all(
            "rs => rs.map(r => parseFloat(r.getAttribute('height')))"
        )
        assert len(heights) == 30 and heights[-1] > 0
        box = await page.locator("svg.chart").bounding_box()
        assert box and box["width"] > 300 and box["height"] > 100
        await shoot(page, tmp_path, "3-overview-tl")
        await page.goto(f"{server.base_url}/staff/orders")
        await shoot(page, tmp_path, "4-orders-tl")
        assert problems.seen == []
        await context.close()

        # The KO of the network sees the same order and log, and its own (empty) flags.
        context = await browser.new_context()
        page = await context.new_page()
        problems = PageProblems(page)
        await page.goto(link)
        await log_in(page, *_staff(demo, coid=KO))
        assert page.url == link
        log = await page.locator("#log").inner_text()
        assert "Vi ringer kunden i morgon <b>om</b> installationen." in log
        assert "Personnummer visat" in log
        assert "Inte markerad för uppföljning" in await page.locator("#flag").inner_text()
        await shoot(page, tmp_path, "5-order-ko")
        await page.goto(f"{server.base_url}/staff/")
        assert "Inga." in await page.locator("section:has(#flagged-h)").inner_text()
        assert problems.seen == []
        await context.close()

        # Another TL's employee cannot reach it by any URL.
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(link)
        await log_in(page, *_staff(demo, xsp=OTHER_XSP))
        assert "Sidan finns inte" in await page.locator("h1").inner_text()
        response = await page.goto(link)
        assert response is not None and response.status == 404
        await shoot(page, tmp_path, "6-other-tl-404")
        await page.goto(f"{server.base_url}/staff/orders?q={oid}")
        assert f'href="/staff/orders/{oid}"' not in await page.content()
        csv_response = await page.request.get(f"{server.base_url}/staff/orders.csv?q={oid}")
        body = (await csv_response.body()).decode("utf-8-sig")
        assert not re.search(rf"^{oid};", body, re.M)
        await context.close()


async def test_the_pages_switch_to_english(server: Server, deployment: Deployment) -> None:
    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(f"{server.base_url}/staff/login?lang=en")
        assert await page.locator("h1").inner_text() == "Log in"
        await log_in_en(page, *_staff(deployment.demo, coid=KO))
        assert await page.locator("h1").inner_text() == "Overview"
        assert await page.get_attribute("html", "lang") == "en"


async def log_in_en(page: Any, username: str, password: str) -> None:
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("button[type=submit]:has-text('Log in')")


async def test_the_admin_command_resets_a_password(server: Server, deployment: Deployment) -> None:
    """Last in the module: it changes a demo user's password."""
    username, old = _staff(deployment.demo, xsp=OTHER_XSP)
    out = deployment.run("staff", "reset-password", username).stdout
    new = out.strip().splitlines()[-1].strip()
    assert new and new != old and "shown once" in out
    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(f"{server.base_url}/staff/login")
        await log_in(page, username, old)
        assert "Fel användarnamn eller lösenord" in await page.locator("#login-error").inner_text()
        await log_in(page, username, new)
        assert await page.locator("h1").inner_text() == "Översikt"
