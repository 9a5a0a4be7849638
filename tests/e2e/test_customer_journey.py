"""The customer's whole journey and the pages people meet, in a real browser against the real
server (SQLite and PostgreSQL), by keyboard alone, with axe-core on every page at 1280 and 390
pixels: the guide's steps as GETs after POST-redirect-GET (Back never resends a form), typed
details kept across "change services" and the language switch, a later delivery date left to
the provider, the thank-you page behind an opaque link, the provider's contact details, the
receipt and the order page, the duplicate warning, phone width, the error pages and /docs, and
the staff pages. The screenshots go to ``SERVICEGUIDE_SCREENSHOTS`` when it is set
(docs/images/ holds the ones docs/guide.md shows)."""

from __future__ import annotations

import email
import os
import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from email.policy import default
from pathlib import Path
from typing import Any

import pytest

from serviceguide.domain.clock import today_local
from serviceguide.simulator.app import create_simulator
from tests.e2e import axe
from tests.e2e.browser_support import (
    PageProblems,
    check_screenshot,
    chromium,
    focused,
    order_ids,
    require_browser,
    tab_to,
)
from tests.e2e.conftest import Deployment, Server
from tests.support.servers import serve_in_thread

pytestmark = pytest.mark.e2e

SHOTS = os.environ.get("SERVICEGUIDE_SCREENSHOTS")
CUSTOMER = {
    "firstname": "Åsa",
    "surname": "Tangentsson",
    "serial": "19811218-9876",
    "email": "asa@example.se",
    "phone": "070-111 22 33",
}
BROADBAND, TV = 2440, 2442  # Demo Bredband AB's 100/100; Exempel Fiber AB's TV Bas (direct)
CONTACT = ("0771-10 20 30", "kund@demobredband.example.se", "https://demobredband.example.se")
WIDE, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def server(deployment: Deployment) -> Iterator[Server]:
    """One server (demo data) with the direct-activation network on a KO simulator of its own,
    and Demo Bredband AB's contact details set as its staff would set them."""
    require_browser()
    axe.require_axe()
    deployment.run(
        "tl", "update", "31420", "--phone", CONTACT[0], "--contact-email", CONTACT[1],
        "--website", CONTACT[2], "--opening-hours", "Vardagar 8–17",
    )  # fmt: skip
    with serve_in_thread(create_simulator()) as ko:
        deployment.run("networks", "set-activation-url", "SNFDMO", f"{ko}/SNFDMO/activation")
        with deployment.serving(1) as (running,):
            yield running


class Shots:
    def __init__(self, folder: Path, backend: str) -> None:
        self.folder, self.backend = folder, backend

    async def take(self, page: Any, name: str) -> None:
        path = self.folder / f"{name}.png"
        await page.screenshot(path=str(path), full_page=True)
        check_screenshot(path)
        if SHOTS and self.backend == "sqlite":
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(SHOTS) / path.name)


async def press(page: Any, selector: str, key: str = "Enter", *, limit: int = 60) -> None:
    """Tab to ``selector`` (its focus checked to show) and press ``key`` there."""
    await tab_to(page, selector, limit=limit)
    await page.keyboard.press(key)


async def type_in(page: Any, selector: str, text: str) -> None:
    await tab_to(page, selector, limit=60)
    await page.keyboard.press("Control+A")
    await page.keyboard.type(text)


async def no_sideways_scroll(page: Any) -> None:
    wide = await page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert wide <= 0, f"{page.url} scrolls {wide}px sideways"


async def test_a_customer_orders_by_keyboard_alone_and_follows_the_order(
    server: Server, deployment: Deployment, tmp_path: Path
):
    shots = Shots(tmp_path, deployment.backend)
    later = (today_local() + timedelta(days=21)).isoformat()
    async with chromium() as browser:
        page = await (await browser.new_context(viewport=WIDE)).new_page()
        problems = PageProblems(page)
        seen: dict[str, str] = {}

        async def step(name: str) -> None:
            await axe.check(page, name)
            seen[name] = page.url
            await shots.take(page, f"guide-{name}")

        await page.goto(f"{server.base_url}/")
        await step("1-start")
        # While the number is typed, suggestions keep coming: "Demogatan 1" suggests 101-123.
        await type_in(page, "#q", "Demogatan 1")
        await page.locator("#q-listbox").wait_for(state="visible")
        suggested = await page.locator("#q-listbox [role=option]").all_inner_texts()
        assert any(s.startswith("Demogatan 101,") for s in suggested), suggested
        await page.keyboard.type("23")
        await page.wait_for_function(
            """() => [...document.querySelectorAll('#q-listbox [role=option]')]
                .every(o => o.textContent.startsWith('Demogatan 123'))"""
        )
        for _ in range(25):
            await page.keyboard.press("ArrowDown")
            active = await page.get_attribute("#q", "aria-activedescendant")
            if active and (await page.locator(f"#{active}").inner_text()).startswith(
                "Demogatan 123,"
            ):
                break
        await page.keyboard.press("Enter")
        await page.wait_for_url("**/access/SNFDMO/AB123?**")
        await step("2-services")

        for service in (BROADBAND, TV):
            await press(page, f'input[name="service"][value="{service}"]', "Space")
        await press(page, "button[type=submit]:has-text('Fortsätt')")
        await page.wait_for_url("**/details?**")
        await step("3-details")

        # The date field shows only when a date is asked for.
        assert await page.locator("#delivery_date").is_hidden()
        for name, value in CUSTOMER.items():
            await type_in(page, f"#{name}", value)
        # "Change services" keeps what was typed; so does the language switch.
        await press(page, "#services")
        await page.wait_for_url("**/access/SNFDMO/AB123?**")
        for service in (BROADBAND, TV):
            assert await page.is_checked(f'input[name="service"][value="{service}"]')
        await press(page, "button[type=submit]:has-text('Fortsätt')")
        await page.wait_for_url("**/details?**")
        assert await page.input_value("#firstname") == CUSTOMER["firstname"]
        await press(page, "button:has-text('In English')")
        await page.wait_for_url("**/details?lang=en")
        assert await page.input_value("#serial") == CUSTOMER["serial"]
        assert await page.get_attribute("html", "lang") == "en"
        await press(page, "button:has-text('På svenska')")
        await page.wait_for_url("**/details?lang=sv")

        # A delivery date three weeks ahead: the TV is not activated today.
        await tab_to(page, "#delivery-asap")
        await page.keyboard.press("ArrowDown")  # the radio group: "on a date of my choice"
        assert await page.is_checked("#delivery-date")
        assert await page.locator("#delivery_date").is_visible()
        await tab_to(page, "#delivery_date")
        await page.locator("#delivery_date").fill(later)  # the date widget's own keys vary
        await press(page, "button[type=submit]:has-text('Fortsätt till granskning')")
        await page.wait_for_url("**/review")
        await step("4-review")
        review = await page.locator("main").inner_text()
        assert "Aktiveras på önskat datum" in review and "Aktiveras direkt" not in review

        await press(page, "button:has-text('Bekräfta beställning')")
        await page.wait_for_url("**/thanks/**")
        await step("5-thanks")
        token = page.url.rsplit("/", 1)[1]
        assert re.fullmatch(r"[\w-]{32}", token)
        orders = await order_ids(page)
        assert sorted(orders.values()) == [BROADBAND, TV]
        text = await page.locator("main").inner_text()
        assert f"som levererar {later}" in text  # the truth about the TV's date
        assert "Aktiverad direkt" not in text
        assert CONTACT[0] in text and CONTACT[1] in text  # Demo Bredband AB's details
        thanks_url = page.url

        # Back: the placed orders again, never "Confirm form resubmission".
        await page.go_back()
        assert page.url == thanks_url and "Tack för din beställning" in await page.inner_text("h1")
        await page.go_back()  # further back: a page of the guide again, as it is now
        assert page.url.startswith(server.base_url), page.url
        assert await page.locator("h1").count() == 1, page.url
        if await page.locator("#serial").count():  # nothing personal is kept after placing
            assert await page.input_value("#serial") == ""

        # The order page, as the receipt links it.
        await page.goto(f"{server.base_url}/my-orders/{token}")
        await step("6-order-page")
        assert "Skickad till leverantören" in await page.locator("main").inner_text()

        # Everything again at phone width: nothing cut off, nothing to scroll sideways.
        await page.set_viewport_size(PHONE)
        for name, url in seen.items():
            if name in ("4-review",):
                continue  # placed: the review now leads to the thank-you page
            await page.goto(url)
            await axe.check(page, name)
            await no_sideways_scroll(page)
        await page.goto(f"{server.base_url}/no/such/page")
        await axe.check(page, "error-404")
        await page.set_viewport_size(WIDE)
        await axe.check(page, "error-404")
        assert problems.seen == [] or all("404" in p for p in problems.seen), problems.seen

    # The receipt, delivered by the server's relay (no SMTP: an .eml file), links the same page.
    receipt = await _receipt(deployment, token)
    assert receipt["To"] == CUSTOMER["email"]
    body = receipt.get_body(("plain",)).get_content()
    assert f"/my-orders/{token}" in body and CONTACT[0] in body
    assert CUSTOMER["serial"][2:8] not in body and CUSTOMER["serial"].replace("-", "") not in body


async def _receipt(deployment: Deployment, token: str) -> Any:
    import asyncio

    for _ in range(100):  # the relay runs in the server: within a few seconds
        for path in (deployment.workdir / "var" / "mail").glob("*.eml"):
            msg = email.message_from_bytes(path.read_bytes(), policy=default)
            if token in msg.get_body(("plain",)).get_content():
                return msg
        await asyncio.sleep(0.1)
    raise AssertionError("no receipt with the order page's link")


async def test_ordering_the_same_again_is_warned_about_and_needs_a_ticked_box(
    server: Server, deployment: Deployment, tmp_path: Path
):
    async with chromium() as browser:
        page = await (await browser.new_context(viewport=PHONE)).new_page()

        async def order() -> None:
            await page.goto(f"{server.base_url}/access/SNFDMO/AB110?adress=Demogatan+110")
            await page.check(f'input[name="service"][value="{BROADBAND}"]')
            await page.click("button:has-text('Fortsätt')")
            for name, value in {**CUSTOMER, "serial": "19790505-1236"}.items():
                await page.fill(f"#{name}", value)
            await page.click("button:has-text('Fortsätt till granskning')")
            await page.wait_for_url("**/review")

        await order()
        # Phone width: the review's table fits, and its region is a tab stop.
        region = page.locator(".table-wrap")
        assert await region.get_attribute("tabindex") == "0"
        fits = await region.evaluate("el => el.scrollWidth <= el.clientWidth")
        assert fits, "the review's table is cut off at 390 px"
        await no_sideways_scroll(page)
        await page.click("button:has-text('Bekräfta beställning')")
        await page.wait_for_url("**/thanks/**")
        first = set(await order_ids(page))

        await order()
        warning = await page.locator("#duplicates").inner_text()
        assert "Du har redan beställt det här" in warning
        assert all(str(n) in warning for n in first)
        await axe.check(page, "review-duplicate")
        await Shots(tmp_path, deployment.backend).take(page, "guide-7-duplicate-phone")
        await page.click("button:has-text('Bekräfta beställning')")  # the box is required
        assert "/review" in page.url
        await page.check("#confirm_duplicate")
        await page.click("button:has-text('Bekräfta beställning')")
        await page.wait_for_url("**/thanks/**")
        assert first.isdisjoint(await order_ids(page))


async def test_the_staff_pages_and_the_api_reference_pass_axe_at_both_widths(
    server: Server, deployment: Deployment, tmp_path: Path
):
    user = next(s for s in deployment.demo["staff"] if s.get("xsp") == 31420)
    new = next(o for o in deployment.demo["orders"] if o["xsp"] == 31420 and o["status"] == "new")
    async with chromium() as browser:
        page = await (await browser.new_context(viewport=WIDE)).new_page()
        await page.goto(f"{server.base_url}/staff/login")
        await axe.check(page, "staff-login")
        await page.fill("#username", user["username"])
        await page.fill("#password", user["password"])
        await page.click("button[type=submit]:has-text('Logga in')")
        await page.wait_for_url("**/staff/")
        order_url = f"{server.base_url}/staff/orders/{new['id']}"
        pages = [f"{server.base_url}/staff/", f"{server.base_url}/staff/orders?q=åsa", order_url]
        for viewport in (WIDE, PHONE):
            await page.set_viewport_size(viewport)
            for url in pages:
                await page.goto(url)
                await axe.check(page, url.rsplit("/", 1)[1] or "overview")

        # Cancelling a new order asks first, with a reason; the confirmation is in view after.
        await page.goto(order_url)
        await page.select_option("#new-status", "cancelled")
        await page.click("button:has-text('Ändra status')")
        await page.wait_for_url("**?confirm=cancelled*")
        await axe.check(page, "staff-confirm")
        await Shots(tmp_path, deployment.backend).take(page, "staff-confirm-cancel")
        await page.fill("#reason", "Kunden ångrade sig i telefon")
        await page.click("button:has-text('Ja, avbryt beställningen')")
        await page.wait_for_url("**?done=status*")
        notice = page.locator("#notice")
        assert "Statusen är ändrad" in await notice.inner_text()
        box = await notice.bounding_box()
        assert box is not None and -2 <= box["y"] <= PHONE["height"] - box["height"], box
        assert "Kunden ångrade sig i telefon" in await page.locator("#log").inner_text()

        await page.set_viewport_size(WIDE)
        await page.goto(f"{server.base_url}/docs")
        title = page.locator(".swagger-ui .info .title")
        await title.wait_for(state="visible")  # drawn from the server's own files
        assert "serviceguide" in await title.inner_text()


async def test_keyboard_focus_goes_to_the_error_summary_after_a_redirect(server: Server):
    async with chromium() as browser:
        page = await (await browser.new_context(viewport=WIDE)).new_page()
        await page.goto(
            f"{server.base_url}/access/SNFDMO/AB123/details?service={BROADBAND}&adress=x"
        )
        await press(page, "button[type=submit]:has-text('Fortsätt till granskning')")
        await page.wait_for_url("**/details?check=1")
        assert (await focused(page))["id"] == "error-summary"
        await axe.check(page, "details-errors")
