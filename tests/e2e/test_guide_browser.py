"""Tjänsteguiden in a real browser (Chromium via Playwright) against the real server process,
with JavaScript on and off, by keyboard alone, and as screenshots; then the XSP API shows each
order to its own service provider only (docs/api.md and docs/guide-api.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from serviceguide.simulator.app import create_simulator
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
from tests.support.xsp import Session, XspClient

pytestmark = pytest.mark.e2e

CUSTOMER = {
    "firstname": "Ebba",
    "surname": "Webbläsare",
    "serial": "19700404-1237",  # a valid check digit; nobody in the demo data
    "email": "ebba@example.se",
    "phone": "070-765 43 21",
}
ADDRESS = "adress=Demogatan+123%2C+12345+Demostad"
WANTED = [2440, 2442]  # Demo Bredband AB's 100/100 and Exempel Fiber AB's TV Bas (direct)
DIRECT = 2442


@pytest.fixture(scope="module")
def server(deployment: Deployment) -> Iterator[Server]:
    """One server process on the module's deployment (demo data loaded), with the demo's
    direct-activation network pointed at a KO simulator of this test's own."""
    require_browser()
    with serve_in_thread(create_simulator()) as ko:
        deployment.run("networks", "set-activation-url", "SNFDMO", f"{ko}/SNFDMO/activation")
        with deployment.serving(1) as (running,):
            yield running


async def shoot(page: Any, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    check_screenshot(path)
    return path


async def fill_details(page: Any, serial: str = CUSTOMER["serial"]) -> None:
    """The customer's details; a test of its own passes another person's personnummer (the
    same person ordering the same again is asked to confirm it)."""
    for name, value in {**CUSTOMER, "serial": serial}.items():
        await page.fill(f"#{name}", value)


async def assert_each_order_is_visible_to_its_own_tl_only(
    server: Server, demo: dict[str, Any], orders: dict[int, int]
) -> None:
    seller = {s["id"]: tl["xsp"] for tl in demo["tls"] for s in tl["services"]}
    async with XspClient.over_http(server.base_url) as client:
        for tl in demo["tls"]:
            s = Session(client, await client.login(tl["api_user"], tl["api_key"]))
            for oid, service in orders.items():
                r = await s.call("order_info", id=oid)
                if seller[service] == tl["xsp"]:
                    assert (r.code, r.status) == (200, "success"), (tl["xsp"], oid, r.response)
                    order = r.one("order")
                    assert order["service"] == str(service) and order["socket"] == "AB123"
                    # TV Bas is activated directly by the network while it is ordered.
                    expected = "delivered" if service == DIRECT else "new"
                    assert order["status"] == expected, order
                else:
                    assert r.code == 404, (tl["xsp"], oid, r.code)


async def test_with_javascript_the_address_is_picked_from_suggestions_by_keyboard(
    server: Server, deployment: Deployment, tmp_path: Path
):
    async with chromium() as browser:
        page = await (await browser.new_context()).new_page()
        problems = PageProblems(page)
        await page.goto(f"{server.base_url}/")
        field = page.locator("#q")
        await field.click()
        await field.press_sequentially("Demog", delay=40)
        listbox = page.locator("#q-listbox")
        await listbox.wait_for(state="visible")
        assert await field.get_attribute("role") == "combobox"
        assert await field.get_attribute("aria-expanded") == "true"
        assert await field.get_attribute("aria-controls") == "q-listbox"
        assert await listbox.get_attribute("role") == "listbox"
        await shoot(page, tmp_path, "1-suggestions")

        for _ in range(25):
            await field.press("ArrowDown")
            active = await field.get_attribute("aria-activedescendant")
            assert active, "ArrowDown made no option active"
            option = page.locator(f"#{active}")
            if (await option.inner_text()).startswith("Demogatan 123,"):
                break
        else:
            pytest.fail("Demogatan 123 was not among the suggestions")
        assert await option.get_attribute("role") == "option"
        assert await option.get_attribute("aria-selected") == "true"
        await field.press("Enter")
        await page.wait_for_url("**/access/SNFDMO/AB123?**")
        assert "Demogatan 123, 12345 Demostad" in await page.locator("h1").inner_text()

        for service in WANTED:
            await page.check(f'input[name="service"][value="{service}"]')
        await page.click("button:has-text('Fortsätt')")
        await page.wait_for_url("**/details?**")
        await fill_details(page)
        await page.click("button:has-text('Fortsätt till granskning')")
        assert await page.locator("h1").inner_text() == "Granska din beställning"
        assert "Ebba" in await page.locator("#review-firstname").inner_text()

        await page.click("button:has-text('Bekräfta beställning')")
        await page.wait_for_url("**/thanks/**")
        orders = await order_ids(page)
        assert sorted(orders.values()) == WANTED, orders
        assert "Tack för din beställning, Ebba!" in await page.locator("h1").inner_text()
        assert "1 av 2 tjänster aktiverades direkt" in await page.locator("main").inner_text()
        assert problems.seen == []
    await assert_each_order_is_visible_to_its_own_tl_only(server, deployment.demo, orders)


async def test_when_the_suggestions_fail_the_plain_search_still_works(server: Server):
    async with chromium() as browser:
        page = await (await browser.new_context()).new_page()
        problems = PageProblems(page)
        asked: list[str] = []

        async def broken(route: Any) -> None:
            asked.append(route.request.url)
            await route.fulfill(status=503, body="down")

        await page.route("**/api/guide/addresses?**", broken)
        await page.goto(f"{server.base_url}/")
        await page.locator("#q").press_sequentially("Demogatan 123", delay=30)
        await page.wait_for_timeout(600)
        assert asked, "the page never asked for suggestions"
        assert await page.locator("#q-listbox").is_hidden()
        assert await page.get_attribute("#q", "aria-expanded") == "false"
        await page.press("#q", "Enter")
        await page.wait_for_url("**/?q=Demogatan+123")
        await page.click("a:has-text('Demogatan 123, 12345 Demostad')")
        await page.wait_for_url("**/access/SNFDMO/AB123?**")
        # The failed requests are the only complaint: the script itself raised nothing.
        assert [p for p in problems.seen if "503" not in p] == []


async def test_without_javascript_the_whole_order_is_made_with_plain_forms(
    server: Server, deployment: Deployment, tmp_path: Path
):
    async with chromium() as browser:
        context = await browser.new_context(java_script_enabled=False)
        page = await context.new_page()
        await page.goto(f"{server.base_url}/")
        await page.fill("#q", "Demogatan 123")
        await page.press("#q", "Enter")  # the search form, submitted as a plain GET
        await page.wait_for_url("**/?q=Demogatan+123")
        assert await page.locator("#q-listbox").is_hidden()
        await shoot(page, tmp_path, "results")
        await page.click("a:has-text('Demogatan 123, 12345 Demostad')")
        await page.wait_for_url("**/access/SNFDMO/AB123?**")

        await page.click("button:has-text('Fortsätt')")  # nothing chosen yet
        assert "Välj minst en tjänst" in await page.locator("#services-error").inner_text()
        for service in WANTED:
            await page.check(f'input[name="service"][value="{service}"]')
        await page.click("button:has-text('Fortsätt')")
        await fill_details(page, "19700202-1231")
        await page.fill("#email", "inte en adress")
        await page.click("button:has-text('Fortsätt till granskning')")
        assert "giltig e-postadress" in await page.locator("#email-error").inner_text()
        assert await page.get_attribute("#email", "aria-invalid") == "true"
        await page.fill("#email", CUSTOMER["email"])
        await page.click("button:has-text('Fortsätt till granskning')")
        await page.click("button:has-text('Bekräfta beställning')")
        await page.wait_for_url("**/thanks/**")  # POST, then a redirect to a GET
        orders = await order_ids(page)
        assert sorted(orders.values()) == WANTED, orders

        # Reloading the thank-you page is a harmless GET: still the same two orders.
        await page.reload()
        assert await order_ids(page) == orders
    await assert_each_order_is_visible_to_its_own_tl_only(server, deployment.demo, orders)


async def test_every_page_is_reachable_by_keyboard_with_visible_focus_and_screenshots(
    server: Server, tmp_path: Path
):
    shots: list[Path] = []
    async with chromium() as browser:
        page = await (await browser.new_context(viewport={"width": 1100, "height": 900})).new_page()
        problems = PageProblems(page)
        await page.goto(f"{server.base_url}/")
        assert await page.get_attribute("html", "lang") == "sv"
        shots.append(await shoot(page, tmp_path, "1-start"))

        # The first Tab shows the skip link; following it puts the search field next in line.
        await page.keyboard.press("Tab")
        state = await focused(page)
        assert state["text"] == "Hoppa till innehållet" and state["onScreen"], state
        shots.append(await shoot(page, tmp_path, "2-skip-link"))
        await page.keyboard.press("Enter")
        await tab_to(page, "#q", limit=1)
        await page.keyboard.type("Demogatan 123")
        await page.locator("#q-listbox").wait_for(state="visible")
        for _ in range(25):
            await page.keyboard.press("ArrowDown")
            active = await page.get_attribute("#q", "aria-activedescendant")
            if (await page.locator(f"#{active}").inner_text()).startswith("Demogatan 123,"):
                break
        await page.keyboard.press("Enter")
        await page.wait_for_url("**/access/SNFDMO/AB123?**")
        shots.append(await shoot(page, tmp_path, "3-services"))

        for service in WANTED:
            await tab_to(page, f'input[name="service"][value="{service}"]')
            await page.keyboard.press("Space")
            assert await page.is_checked(f'input[name="service"][value="{service}"]')
        shots.append(await shoot(page, tmp_path, "4-services-chosen"))
        await tab_to(page, "button[type=submit]")
        await page.keyboard.press("Enter")
        await page.wait_for_url("**/details?**")

        # The details in tab order; the e-mail typed wrong on purpose.
        order = ["#firstname", "#surname", "#serial", "#email", "#phone", "#premise"]
        values = {**CUSTOMER, "serial": "19700303-1239", "email": "fel", "premise": ""}
        await tab_to(page, order[0])
        for i, selector in enumerate(order):
            if i:
                await page.keyboard.press("Tab")
                assert await page.evaluate("s => document.activeElement.matches(s)", selector)
            await page.keyboard.type(values[selector[1:]])
        await page.keyboard.press("Tab")
        assert (await focused(page))["id"] == "delivery-asap"  # one stop for the radio group
        shots.append(await shoot(page, tmp_path, "5-details"))
        await tab_to(page, "button[type=submit]:has-text('Fortsätt till granskning')")
        async with page.expect_navigation():
            await page.keyboard.press("Enter")

        # The error summary takes the focus; its link leads to the field.
        assert (await focused(page))["id"] == "error-summary"
        shots.append(await shoot(page, tmp_path, "6-details-error"))
        await tab_to(page, "#error-summary a", limit=1)
        await page.keyboard.press("Enter")
        assert (await focused(page))["id"] == "email"
        await page.keyboard.press("Control+A")
        await page.keyboard.type(CUSTOMER["email"])
        await tab_to(page, "button[type=submit]:has-text('Fortsätt till granskning')")
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        assert await page.locator("h1").inner_text() == "Granska din beställning"
        shots.append(await shoot(page, tmp_path, "7-review"))

        await tab_to(page, "button:has-text('Bekräfta beställning')")
        await page.keyboard.press("Enter")
        await page.wait_for_url("**/thanks/**")
        assert len(await order_ids(page)) == 2
        shots.append(await shoot(page, tmp_path, "8-thanks"))

        # The same guide in English, through the visible switch.
        await page.goto(f"{server.base_url}/access/SNFDMO/AB123?{ADDRESS}")
        await page.click("a:has-text('In English')")
        assert await page.get_attribute("html", "lang") == "en"
        assert await page.locator("h1").inner_text() == "Services at Demogatan 123, 12345 Demostad"
        shots.append(await shoot(page, tmp_path, "9-services-en"))

        # A narrow phone screen.
        await page.set_viewport_size({"width": 390, "height": 844})
        await page.goto(f"{server.base_url}/access/SNFDMO/AB123?{ADDRESS}&lang=sv")
        shots.append(await shoot(page, tmp_path, "10-services-phone"))
        assert problems.seen == []
    assert len({p.read_bytes() for p in shots}) == len(shots)  # every page looks different
