"""The administration in a real browser (Chromium via Playwright) against the real server, with
the demo data: one journey per kind of admin through every action of its sections, axe-core on
every page at 1280 px and at 390 px wide, and the screenshots of docs/admin.md.

The journeys run on SQLite; the authorisation matrix and the in-process tests run every action
on both databases. JavaScript is on (axe-core needs it); that the pages need none is shown by
the in-process tests, which use them as a browser without JavaScript does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.axe import assert_accessible
from tests.e2e.browser_support import PageProblems, check_screenshot, chromium, require_browser
from tests.e2e.conftest import Deployment, Server

pytestmark = pytest.mark.e2e

DOCS = Path(__file__).resolve().parents[2] / "docs" / "admin"
WIDE, NARROW = {"width": 1280, "height": 900}, {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


@pytest.fixture(scope="module")
def server(deployment: Deployment) -> Iterator[Server]:
    require_browser()
    with deployment.serving(1) as (running,):
        yield running


def real(problems: PageProblems) -> list[str]:
    """Script errors and refused resources; not the 4xx answers a form with errors gets on
    purpose (the pages answer bad input with 400, 403, 409 or 413)."""
    return [p for p in problems.seen if not re.search(r"status of 4\d\d", p)]


def _user(demo: dict[str, Any], username: str) -> str:
    return next(s["password"] for s in demo["staff"] if s["username"] == username)


async def _login(page: Any, base: str, username: str, password: str) -> None:
    await page.goto(f"{base}/staff/login?next=/staff/admin/")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("button[type=submit]:has-text('Logga in')")


async def check(page: Any, name: str, *, shot: bool = True) -> None:
    """axe at both widths; the screenshot for the docs at the wide one."""
    await page.set_viewport_size(NARROW)
    await assert_accessible(page, f"{name} at 390 px")
    await page.set_viewport_size(WIDE)
    await assert_accessible(page, f"{name} at 1280 px")
    if shot:
        DOCS.mkdir(parents=True, exist_ok=True)
        path = DOCS / f"{name}.png"
        await page.screenshot(path=str(path), full_page=True)
        check_screenshot(path)


async def test_a_tl_admin_runs_services_delivery_keys_webhooks_staff_and_reads_the_log(
    server: Server, deployment: Deployment
) -> None:
    base, demo = server.base_url, deployment.demo
    async with chromium() as browser:
        context = await browser.new_context(viewport=WIDE)
        page = await context.new_page()
        problems = PageProblems(page)
        await _login(page, base, "lisa.admin", _user(demo, "lisa.admin"))
        assert page.url.endswith("/staff/admin/services")

        # Services: create, change, retire; the guide follows at once.
        await page.select_option("#new-coid", "SNFDMO")
        await page.fill("#new-uid", "AB500500")
        await page.fill("#new-name", "Tjänst 500/500")
        await page.fill("#new-price_monthly", "449,50")
        await page.fill("#new-price_once", "0")
        await page.click("button:has-text('Skapa tjänsten')")
        assert "Tjänsten är skapad" in await page.locator(".notice").inner_text()
        await check(page, "services")
        guide = await context.new_page()
        await guide.goto(f"{base}/access/SNFDMO/AB123")
        assert "Tjänst 500/500" in await guide.content()
        edit = page.locator("details.edit-service", has_text="Tjänst 500/500")
        await edit.locator("summary").click()
        await edit.locator("input[name=price_monthly]").fill("399")
        await edit.locator("button:has-text('Spara ändringar')").click()
        assert "Tjänsten är ändrad" in await page.locator(".notice").inner_text()
        edit = page.locator("details.edit-service", has_text="Tjänst 500/500")
        await edit.locator("summary").click()
        await edit.locator("button:has-text('Avveckla')").click()
        assert "avvecklad" in await page.locator(".notice").inner_text()
        await guide.reload()
        assert "Tjänst 500/500" not in await guide.content()
        # A bad price is marked next to its field.
        await page.fill("#new-uid", "AB600600")
        await page.fill("#new-name", "Fel pris")
        await page.fill("#new-price_monthly", "gratis")
        await page.click("button:has-text('Skapa tjänsten')")
        assert await page.locator("#new-price_monthly").get_attribute("aria-invalid") == "true"
        await check(page, "services-error", shot=False)

        # Order delivery.
        await page.click("nav.admin-nav a:has-text('Orderleverans')")
        await page.fill("#phone", "08-123 456 78")
        await page.fill("#opening_hours", "Vardagar 8–17")
        await page.click("button:has-text('Spara')")
        assert "Uppgifterna är sparade" in await page.locator(".notice").inner_text()
        await check(page, "delivery")

        # API users: the number and key shown once.
        await page.click("nav.admin-nav a:has-text('API-användare')")
        await page.fill("#name", "Ordersystem")
        await page.fill("#allow_ip", "192.0.2.10")
        await page.click("button:has-text('Skapa')")
        number = await page.locator('[data-field="api_user"]').inner_text()
        key = await page.locator('[data-field="api_key"]').inner_text()
        assert number.isdigit() and len(key) > 20
        await check(page, "api-users")
        row = page.locator(f"#api-user-{number}")
        await row.locator("button:has-text('Ny nyckel')").click()
        assert await page.locator('[data-field="api_key"]').inner_text() != key
        row = page.locator(f"#api-user-{number}")
        await row.locator("button:has-text('Stäng av')").click()
        assert "avstängd" in await page.locator(".notice").inner_text()
        row = page.locator(f"#api-user-{number}")
        await row.locator("button:has-text('Aktivera')").click()
        assert "aktiverad" in await page.locator(".notice").inner_text()
        row = page.locator(f"#api-user-{number}")
        await row.locator("input[name=allow_ip]").fill("198.51.100.0/24")
        await row.locator("button:has-text('Spara adresser')").click()
        assert "sparade" in await page.locator(".notice").inner_text()
        assert await page.locator(f"#allow-{number}").input_value() == "198.51.100.0/24"

        # Webhooks: register (secret once), rotate, replay, disable.
        await page.click("nav.admin-nav a:has-text('Webhooks')")
        await page.fill("#url", "http://127.0.0.1:9/hook")
        await page.check("#event-order_created")
        await page.click("button:has-text('Registrera')")
        secret = await page.locator('[data-field="secret"]').inner_text()
        assert secret.startswith("whsec_")
        hook = await page.locator('[data-field="webhook"]').inner_text()
        await check(page, "webhooks")
        await page.locator(f"#webhook-{hook} button:has-text('Ny hemlighet')").click()
        assert await page.locator('[data-field="secret"]').inner_text() != secret
        await page.locator(f"#webhook-{hook} button:has-text('Skicka igen')").click()
        assert "leveranser är köade" in await page.locator(".notice").inner_text()
        await page.locator(f"#webhook-{hook} button:has-text('Stäng av')").click()
        assert "avstängd" in await page.locator(".notice").inner_text()

        # Staff: a new handler, its role, a new password, disable.
        await page.click("nav.admin-nav a:has-text('Personal')")
        await page.fill("#username", "ny.handlaggare")
        await page.fill("#name", "Ny Handläggare")
        await page.click("button:has-text('Lägg till')")
        password = await page.locator('[data-field="password"]').inner_text()
        assert len(password) >= 10
        await check(page, "users")
        user_row = page.locator("tr", has_text="ny.handlaggare")
        await user_row.locator("select").select_option("admin")
        await user_row.locator("button:has-text('Byt roll')").click()
        assert "Rollen är ändrad" in await page.locator(".notice").inner_text()
        user_row = page.locator("tr", has_text="ny.handlaggare")
        await user_row.locator("button:has-text('Nytt lösenord')").click()
        assert await page.locator('[data-field="password"]').inner_text() != password
        user_row = page.locator("tr", has_text="ny.handlaggare")
        await user_row.locator("button:has-text('Stäng av')").click()
        assert "avstängd" in await page.locator(".notice").inner_text()
        user_row = page.locator("tr", has_text="ny.handlaggare")
        await user_row.locator("button:has-text('Aktivera')").click()
        assert "aktiverad" in await page.locator(".notice").inner_text()

        # The log says all of it, without a secret.
        await page.click("nav.admin-nav a:has-text('Administrationslogg')")
        text = await page.locator("main").inner_text()
        for action in ("service.create", "tl.update", "api_user.rotate", "webhook.register",
                       "staff.role"):  # fmt: skip
            assert action in text, action
        assert key not in text and secret not in text and password not in text
        await check(page, "log")
        await page.select_option("#action", "staff.role")
        await page.click("button:has-text('Visa')")
        filtered = await page.locator("main table").inner_text()
        assert "staff.role" in filtered and "service.create" not in filtered
        await page.goto(f"{base}/staff/admin/log?lang=en")
        await check(page, "log-en", shot=False)
        assert real(problems) == []
        await context.close()


async def test_a_ko_admin_runs_the_network_and_uploads_the_market_database(
    server: Server, deployment: Deployment, tmp_path: Path
) -> None:
    base, demo = server.base_url, deployment.demo
    async with chromium() as browser:
        context = await browser.new_context(viewport=WIDE)  # with JavaScript
        page = await context.new_page()
        problems = PageProblems(page)
        await _login(page, base, "snfdmo.admin", _user(demo, "snfdmo.admin"))
        assert page.url.endswith("/staff/admin/network")
        await page.click("button:has-text('Testa')")
        assert await page.locator("#test-answer").count() == 1  # the simulator is not running
        await check(page, "network")
        tls = page.locator("#tls")
        await tls.locator("tr", has_text="Exempel Fiber AB").locator("button").click()
        assert "tillbakadragen" in await page.locator(".notice").inner_text()
        guide = await context.new_page()
        await guide.goto(f"{base}/access/SNFDMO/AB123")
        assert "Exempel Fiber AB" not in await guide.content()
        await page.select_option("#xsp", "31421")
        await page.click("button:has-text('Släpp in')")
        assert "insläppt" in await page.locator(".notice").inner_text()
        await guide.reload()
        assert "Exempel Fiber AB" in await guide.content()
        await page.fill("#name", "Demo Stadsnät")
        await page.click("#settings-h ~ form button:has-text('Spara')")
        assert "sparade" in await page.locator(".notice").inner_text()

        # The market database: upload, progress, the result with the rejected rows.
        await page.click("nav.admin-nav a:has-text('Marknadsdatabasen')")
        await check(page, "accesses")
        file = tmp_path / "snfdmo.csv"
        file.write_text(
            "coId,accessId,streetName,streetNumber,postalCode,city,premisesType\r\n"
            "SNFDMO,WEB1,Webbgatan,1,12345,Demostad,OTHER\r\n"
            "SNFDMO,WEB2,Webbgatan,2,01234,Demostad,OTHER\r\n"
            "SNFDMO,WEB3,Webbgatan,3,12345,Demostad,SLOTT\r\n"
            "SNFDMO,WEB4,Webbgatan,4,12345,Demostad,OTHER\r\n",
            encoding="utf-8",
        )
        await page.check("#format-csv")
        await page.set_input_files("#file", str(file))
        await page.click("button:has-text('Ladda upp och importera')")
        assert "/staff/admin/accesses/imports/" in page.url
        for _ in range(30):  # the page refreshes itself until the import is done
            if await page.locator('[data-state="done"]').count():
                break
            await page.wait_for_timeout(500)
        assert await page.locator('[data-field="imported"]').inner_text() == "2"
        lines = await page.locator("tr[data-line]").evaluate_all(
            "rows => rows.map(r => r.dataset.line)"
        )
        assert lines == ["3", "4"]
        await check(page, "import")
        async with page.expect_download() as download:
            await page.click("a:has-text('Ladda ner de avvisade raderna som CSV')")
        saved = await (await download.value).path()
        assert "3," in Path(str(saved)).read_text(encoding="utf-8-sig")
        await page.click("nav.admin-nav a:has-text('Marknadsdatabasen')")
        assert await page.locator('[data-field="accesses"]').inner_text() != "0"
        async with page.expect_download() as download:
            await page.click("a:has-text('Som CSV')")
        exported = Path(str(await (await download.value).path())).read_text(encoding="utf-8")
        assert "WEB1" in exported and "WEB2" not in exported
        # A file that is not an MdB2 file is marked and nothing is imported.
        await page.click("nav.admin-nav a:has-text('Marknadsdatabasen')")
        bad = tmp_path / "bad.csv"
        bad.write_bytes("namn,ålder\r\nEva,4\r\n".encode("utf-16"))
        await page.set_input_files("#file", str(bad))
        await page.click("button:has-text('Ladda upp och importera')")
        assert await page.locator("#file").get_attribute("aria-invalid") == "true"
        await check(page, "accesses-error", shot=False)
        assert real(problems) == []
        await context.close()


async def test_the_platform_creates_organisations_and_a_handler_is_kept_out(
    server: Server, deployment: Deployment
) -> None:
    base, demo = server.base_url, deployment.demo
    async with chromium() as browser:
        context = await browser.new_context(viewport=WIDE)
        page = await context.new_page()
        problems = PageProblems(page)
        await _login(page, base, "plattform.admin", _user(demo, "plattform.admin"))
        assert page.url.endswith("/staff/admin/platform")
        await page.fill("#ko-coid", "NYDMO")
        await page.fill("#ko-name", "Nytt Stadsnät")
        await page.fill("#ko-username", "nytt.admin")
        await page.fill("#ko-admin_name", "Ny Admin")
        await page.click("#ko-h ~ form button:has-text('Skapa')")
        password = await page.locator('[data-field="password"]').inner_text()
        await page.fill("#tl-xsp", "31999")
        await page.fill("#tl-name", "Ny Leverantör AB")
        await page.fill("#tl-order_email", "order@nyleverantor.example")
        await page.fill("#tl-username", "ny.tladmin")
        await page.fill("#tl-admin_name", "Ny TL-admin")
        await page.click("#tl-h ~ form button:has-text('Skapa')")
        assert await page.locator('[data-field="password"]').count() == 1
        await check(page, "platform")
        row = page.locator("tr", has_text="Exempel Fiber AB")
        await row.locator("button:has-text('Stäng av')").click()
        assert "avstängd" in await page.locator(".notice").inner_text()
        row = page.locator("tr", has_text="Exempel Fiber AB")
        await row.locator("button:has-text('Aktivera')").click()
        await page.click("a:has-text('Demo Stadsnät')")
        assert "Insläppta leverantörer" in await page.locator("main").inner_text()
        await check(page, "platform-org")
        orders = await page.goto(f"{base}/staff/orders")
        assert orders is not None and orders.status == 403
        assert real(problems) == []
        await context.close()

        # The new KO's admin logs in; a handler is refused the administration.
        context = await browser.new_context(viewport=WIDE)
        page = await context.new_page()
        await _login(page, base, "nytt.admin", password)
        assert page.url.endswith("/staff/admin/network")
        await context.close()
        context = await browser.new_context(viewport=WIDE)
        page = await context.new_page()
        await _login(page, base, "anna.tl", _user(demo, "anna.tl"))
        answer = await page.goto(f"{base}/staff/admin/users")
        assert answer is not None and answer.status == 403
        assert re.search("behörighet", await page.locator("h1").inner_text())
        await check(page, "forbidden", shot=False)
        await context.close()
