"""The staff pages in-process, used as a browser without JavaScript uses them: log in, follow links,
submit the forms the pages give. Another organisation's order is a 404 on every URL and nothing
changes; forms without a valid CSRF token are refused; text is shown as text."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import func, select, update

from serviceguide.app import create_app
from serviceguide.domain.clock import today_local, utcnow
from serviceguide.domain.ordering import CustomerInput, OrderRequest
from serviceguide.services import admin, placing
from serviceguide.services.context import AppContext
from serviceguide.storage import tables
from serviceguide.web import csrf
from serviceguide.web.staff.login import safe_next
from serviceguide.web.staff.overview import chart
from serviceguide.web.staff.page import SESSION_COOKIE
from tests.integration.test_guide_pages import Browser, Page, post_form
from tests.support.world import SERIALS, World, customer
from tests.support.xsp import XspClient

pytestmark = pytest.mark.integration

PASSWORD = "staff-password-0123"
SCRIPT = '<script>alert("x")</script>'
STAFF = {"TL1": ("tl1.anna", {"xsp": 1001}), "TL2": ("tl2.erik", {"xsp": 1002}),
         "KOA": ("koa.ko", {"coid": "KOA"}), "KOB": ("kob.ko", {"coid": "KOB"})}  # fmt: skip


@pytest.fixture
async def staff_world(ctx: AppContext, world: World) -> World:
    for key, (username, where) in STAFF.items():
        org = await admin.find_org(ctx, **where)  # type: ignore[arg-type]
        await admin.create_staff_user(ctx, org, username, f"{key} Person", password=PASSWORD)
    return world


class StaffBrowser(Browser):
    async def login(self, who: str, *, next_path: str = "") -> Page:
        page = await self.get(f"/staff/login?next={next_path}" if next_path else "/staff/login")
        assert page.status == 200
        return await self.submit(
            page.form("/staff/login"), {"username": STAFF[who][0], "password": PASSWORD}
        )

    async def post_with_token(self, url: str, values: dict[str, str]) -> httpx.Response:
        """A form POST carrying this browser's valid CSRF token."""
        page = await self.get("/staff/login")
        token = page.form("/staff/login").values()[0][1]
        return await post_form(self.http, url, [(csrf.FIELD, token), *values.items()])


def _client(ctx: AppContext, ip: str = "127.0.0.1") -> Any:
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def make() -> AsyncIterator[StaffBrowser]:
        app = create_app(ctx.settings)
        app.state.ctx = ctx
        transport = httpx.ASGITransport(app=app, client=(ip, 50002))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield StaffBrowser(http)

    return make()


@pytest.fixture
async def browser(ctx: AppContext, staff_world: World) -> AsyncIterator[StaffBrowser]:
    async with _client(ctx) as b:
        yield b


async def _as(ctx: AppContext, who: str) -> Any:
    b = _client(ctx)
    browser = await b.__aenter__()
    page = await browser.login(who)
    assert page.status == 200, page.html
    return b, browser


async def _snapshot(ctx: AppContext) -> dict[str, Any]:
    async with ctx.db.read() as conn:
        return {
            "orders": [tuple(r) for r in await conn.execute(select(tables.orders).order_by("id"))],
            "log": (
                await conn.execute(select(func.count()).select_from(tables.order_log))
            ).scalar(),
            "events": (
                await conn.execute(select(func.count()).select_from(tables.events))
            ).scalar(),
            "flags": [tuple(r) for r in await conn.execute(select(tables.order_flags))],
        }


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# --- login, logout, expiry, throttling ----------------------------------------------------------


async def test_a_page_without_a_session_leads_to_the_login_and_back(
    browser: StaffBrowser, staff_world: World
) -> None:
    o1 = staff_world.orders["o1"]
    response = await browser.http.get(f"/staff/orders/{o1}")
    assert response.status_code == 303
    location = response.headers["location"]
    assert urlsplit(location).path == "/staff/login"
    assert parse_qs(urlsplit(location).query)["next"] == [f"/staff/orders/{o1}"]
    login = await browser.get(location)
    assert 'lang="sv"' in login.html and "Logga in" in login.html
    page = await browser.submit(
        login.form("/staff/login"), {"username": "tl1.anna", "password": PASSWORD}
    )
    assert page.status == 200
    assert browser.url.endswith(f"/staff/orders/{o1}")
    assert f"Beställning {o1}" in page.html


async def test_the_session_cookie_is_httponly_lax_and_stored_hashed(
    ctx: AppContext, browser: StaffBrowser
) -> None:
    page = await browser.get("/staff/login")
    values = dict(page.form("/staff/login").values())
    values.update(username="tl1.anna", password=PASSWORD)
    response = await post_form(browser.http, "/staff/login", list(values.items()))
    assert response.status_code == 303
    cookie = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/staff" in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    token = value.rsplit(".", 1)[0]
    async with ctx.db.read() as conn:
        stored = [r.token_sha256 for r in await conn.execute(select(tables.staff_sessions))]
    assert len(stored) == 1 and token not in stored[0] and len(stored[0]) == 64


async def test_a_wrong_password_is_refused_and_a_tampered_cookie_is_no_session(
    browser: StaffBrowser,
) -> None:
    page = await browser.get("/staff/login")
    page = await browser.submit(
        page.form("/staff/login"), {"username": "tl1.anna", "password": "wrong"}
    )
    assert page.status == 401 and "Fel användarnamn eller lösenord" in page.html
    browser.http.cookies.set(SESSION_COOKIE, "forged.value", path="/staff")
    response = await browser.http.get("/staff/")
    assert response.status_code == 303 and "/staff/login" in response.headers["location"]


async def test_failed_logins_are_throttled_with_429(ctx: AppContext, staff_world: World) -> None:
    limit = ctx.settings.login_failures
    async with _client(ctx, ip="10.9.8.7") as b:
        page = await b.get("/staff/login")
        form = page.form("/staff/login")
        for _ in range(limit):
            page = await b.submit(form, {"username": "tl1.anna", "password": "wrong"})
            assert page.status == 401
        page = await b.submit(form, {"username": "tl1.anna", "password": PASSWORD})
        assert page.status == 429
        assert page.response.headers["Retry-After"].isdigit()
        assert "För många misslyckade inloggningar" in page.html


async def test_logout_ends_the_session(ctx: AppContext, browser: StaffBrowser) -> None:
    page = await browser.login("TL1")
    old_cookie = browser.http.cookies.get(SESSION_COOKIE)
    page = await browser.submit(page.form("/staff/logout"))
    assert browser.url.endswith("/staff/login?out=1") and "Du är utloggad" in page.html
    browser.http.cookies.set(SESSION_COOKIE, old_cookie or "", path="/staff")
    response = await browser.http.get("/staff/")
    assert response.status_code == 303
    async with ctx.db.read() as conn:
        left = (
            await conn.execute(select(func.count()).select_from(tables.staff_sessions))
        ).scalar()
    assert left == 0


async def test_an_idle_session_expires(
    ctx: AppContext, browser: StaffBrowser, staff_world: World
) -> None:
    await browser.login("TL1")
    assert (await browser.http.get("/staff/")).status_code == 200
    async with ctx.db.write() as conn:
        await conn.execute(
            update(tables.staff_sessions).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    response = await browser.http.get("/staff/orders")
    assert response.status_code == 303
    assert "expired=1" in response.headers["location"]
    o1 = staff_world.orders["o1"]
    response = await browser.post_with_token(f"/staff/orders/{o1}/flag", {"flag": "on"})
    assert response.status_code == 303
    assert parse_qs(urlsplit(response.headers["location"]).query)["next"] == [f"/staff/orders/{o1}"]
    page = await browser.get(response.headers["location"])
    assert "Du har loggats ut" in page.html


async def test_a_deactivated_user_can_neither_log_in_nor_keep_a_session(
    ctx: AppContext, browser: StaffBrowser
) -> None:
    await browser.login("TL1")
    async with ctx.db.write() as conn:
        await conn.execute(
            update(tables.staff_users)
            .where(tables.staff_users.c.username == "tl1.anna")
            .values(active=False)
        )
    assert (await browser.http.get("/staff/")).status_code == 303
    page = await browser.get("/staff/login")
    page = await browser.submit(
        page.form("/staff/login"), {"username": "tl1.anna", "password": PASSWORD}
    )
    assert page.status == 401


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/staff/orders/5", "/staff/orders/5"),
        ("https://evil.example/staff", "/staff/"),
        ("//evil.example/staff", "/staff/"),
        ("/staff\\..\\x", "/staff/"),
        ("/other", "/staff/"),
        ("", "/staff/"),
    ],
)
def test_next_only_leads_to_local_staff_paths(raw: str, expected: str) -> None:
    assert safe_next(raw) == expected


async def test_login_does_not_redirect_off_site(browser: StaffBrowser) -> None:
    page = await browser.get("/staff/login?next=https://evil.example/")
    values = dict(page.form("/staff/login").values())
    assert values["next"] == "/staff/"
    values.update(username="tl1.anna", password=PASSWORD, next="https://evil.example/")
    response = await post_form(browser.http, "/staff/login", list(values.items()))
    assert response.headers["location"] == "/staff/"


async def test_a_user_changes_their_password(ctx: AppContext, browser: StaffBrowser) -> None:
    await browser.login("TL1")
    page = await browser.get("/staff/password")
    form = page.form("/staff/password")
    page = await browser.submit(form, {"current": "nope", "new": "x" * 12, "repeat": "x" * 12})
    assert page.status == 400 and "Fel lösenord" in page.html
    page = await browser.submit(form, {"current": PASSWORD, "new": "short", "repeat": "short"})
    assert page.status == 400 and "mellan 10 och 200" in page.html
    page = await browser.submit(form, {"current": PASSWORD, "new": "y" * 12, "repeat": "z" * 12})
    assert page.status == 400 and "inte lika" in page.html
    new = "a-brand-new-password"
    page = await browser.submit(form, {"current": PASSWORD, "new": new, "repeat": new})
    assert page.status == 200 and "Lösenordet är bytt" in page.html
    async with _client(ctx, ip="10.1.1.1") as other:
        login = await other.get("/staff/login")
        page = await other.submit(
            login.form("/staff/login"), {"username": "tl1.anna", "password": PASSWORD}
        )
        assert page.status == 401
        page = await other.submit(
            login.form("/staff/login"), {"username": "tl1.anna", "password": new}
        )
        assert page.status == 200


async def test_the_admin_command_resets_a_password(ctx: AppContext, staff_world: World) -> None:
    from serviceguide.services import staff as staff_service

    new = await staff_service.reset_password(ctx, "tl2.erik")
    async with _client(ctx) as b:
        login = await b.get("/staff/login")
        page = await b.submit(login.form("/staff/login"), {"username": "tl2.erik", "password": new})
        assert page.status == 200 and "TL2 Person" in page.html


# --- the pages ----------------------------------------------------------------------------------


async def test_every_page_renders_in_swedish_and_in_english(
    browser: StaffBrowser, staff_world: World
) -> None:
    await browser.login("TL1")
    o1 = staff_world.orders["o1"]
    for url in ("/staff/", "/staff/orders", f"/staff/orders/{o1}", "/staff/password"):
        page = await browser.get(url)
        assert page.status == 200, url
        assert 'lang="sv"' in page.html
        assert page.response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    page = await browser.get(browser.url + "?lang=en")
    assert 'lang="en"' in page.html and "Change password" in page.html
    page = await browser.get(f"/staff/orders/{o1}")
    assert 'lang="en"' in page.html and f"Order {o1}" in page.html


async def test_the_list_shows_only_the_callers_orders_newest_first(
    ctx: AppContext, staff_world: World
) -> None:
    for who in ("TL1", "TL2", "KOA", "KOB"):
        b, browser = await _as(ctx, who)
        try:
            page = await browser.get("/staff/orders")
            ids = [int(i) for i in re.findall(r'href="/staff/orders/(\d+)"', page.html)]
            assert ids == sorted(staff_world.visible_orders(who), reverse=True), who
        finally:
            await b.__aexit__(None, None, None)


async def test_the_list_filters(ctx: AppContext, browser: StaffBrowser, staff_world: World) -> None:
    o = staff_world.orders
    await browser.login("KOA")

    async def ids(query: str) -> list[int]:
        page = await browser.get(f"/staff/orders?{query}")
        assert page.status == 200
        return [int(i) for i in re.findall(r'href="/staff/orders/(\d+)"', page.html)]

    assert await ids("service=101") == [o["o4"], o["o1"]]
    assert await ids("network=KOA") == sorted([o["o1"], o["o2"], o["o4"], o["o5"]], reverse=True)
    assert await ids("network=KOB") == []
    assert await ids(f"q={o['o2']}") == [o["o2"]]
    assert await ids("q=förnamn4") == [o["o5"], o["o4"]]
    assert await ids("q=A3") == [o["o5"], o["o4"]]
    assert await ids("q=A-gatan 1") == [o["o1"]]
    assert await ids("q=%25") == []
    today = today_local().isoformat()
    assert len(await ids(f"from={today}&to={today}")) == 4
    assert await ids("to=2000-01-01") == []
    page = await browser.get("/staff/orders?from=not-a-date")
    assert page.status == 200 and "ÅÅÅÅ-MM-DD" in page.html
    await browser.post_with_token(f"/staff/orders/{o['o2']}/status", {"status": "received"})
    assert await ids("status=received") == [o["o2"]]
    await browser.post_with_token(f"/staff/orders/{o['o1']}/flag", {"flag": "on"})
    assert await ids("flagged=1") == [o["o1"]]
    assert await ids("flagged=1&status=received") == []
    # the filter form keeps what was asked
    page = await browser.get("/staff/orders?status=received&q=abc")
    assert '<option value="received" selected>' in page.html and 'value="abc"' in page.html


async def _place(ctx: AppContext, n: int, **customer: str) -> list[int]:
    ids: list[int] = []
    for i in range(n):
        values = {
            "firstname": f"Massa{i}",
            "surname": "Kund",
            "serial": SERIALS[i % len(SERIALS)],
            "email": f"m{i}@example.se",
            "phone": "070-1234567",
        }
        values.update(customer)
        placed = await placing.place_order(
            ctx,
            OrderRequest(
                coid="KOA",
                access_id="A5",
                service_ids=[101],
                customer=CustomerInput(**values),  # type: ignore[arg-type]
                delivery=None,
                message="",
            ),
        )
        ids += [x.id for x in placed.orders]
    return ids


async def test_paging_is_by_id_and_reaches_every_order_once(
    ctx: AppContext, browser: StaffBrowser, staff_world: World
) -> None:
    await _place(ctx, 57)
    await browser.login("TL1")
    seen: list[int] = []
    page = await browser.get("/staff/orders")
    pages = 0
    while True:
        pages += 1
        seen += [int(i) for i in re.findall(r'href="/staff/orders/(\d+)"', page.html)]
        m = re.search(r'href="([^"]*before=\d+[^"]*)" rel="next"', page.html)
        if not m:
            break
        assert "offset" not in m.group(1)
        page = await browser.get(m.group(1).replace("&amp;", "&"))
    assert pages == 2
    assert seen == sorted(set(seen), reverse=True)
    assert len(seen) == 57 + 3
    assert "Till de senaste" in page.html


async def test_the_csv_export_has_the_filtered_list_without_personnummer(
    ctx: AppContext, browser: StaffBrowser, staff_world: World
) -> None:
    await _place(ctx, 1, firstname="=cmd|' /C calc'!A0")
    await browser.login("TL1")
    response = await browser.http.get("/staff/orders.csv?service=101")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body[1:]), delimiter=";"))
    assert rows[0][0] == "Nr"
    ids = [int(r[0]) for r in rows[1:]]
    assert staff_world.orders["o2"] not in ids and staff_world.orders["o3"] not in ids
    assert ids == sorted(ids, reverse=True) and len(ids) == 3
    assert all(s not in body and s[:6] not in body for s in SERIALS)
    assert "'=cmd" in body
    other = await browser.http.get("/staff/orders.csv?q=Efternamn2")
    assert other.content.decode("utf-8").count("\r\n") == 1  # the header only
    # The status in the reader's words, and its code beside it for a spreadsheet's formulas.
    status, code = rows[0].index("Status"), rows[0].index("Statuskod")
    assert code == status + 1 and {(r[status], r[code]) for r in rows[1:]} == {("ny", "new")}
    english = await browser.http.get("/staff/orders.csv?service=101&lang=en")
    head = next(csv.reader(io.StringIO(english.content.decode("utf-8")[1:]), delimiter=";"))
    assert "Status code" in head


async def test_the_log_is_shown_in_the_readers_language_and_the_api_text_is_unchanged(
    ctx: AppContext, browser: StaffBrowser, staff_world: World, xsp: XspClient
) -> None:
    o1 = staff_world.orders["o1"]
    await browser.login("TL1")
    await browser.post_with_token(f"/staff/orders/{o1}/status", {"status": "received"})
    await browser.post_with_token(f"/staff/orders/{o1}/message", {"message": "Ring kunden"})
    swedish = await browser.get(f"/staff/orders/{o1}")
    log = _section(swedish.html, "log")
    assert "Beställd via Tjänsteguiden" in log
    assert "Status ändrad från ny till mottagen av TL1 Person (Leverantör Ett AB)" in log
    assert "Status changed" not in log and "Order placed" not in log
    assert "Ring kunden" in log  # a person's words as written
    english = _section((await browser.get(f"/staff/orders/{o1}?lang=en")).html, "log")
    assert "Ordered through Tjänsteguiden" in english
    assert "Status changed from new to received by TL1 Person (Leverantör Ett AB)" in english
    assert "Beställd" not in english and "Ring kunden" in english
    tl1 = await xsp.session(staff_world.users["TL1"])
    texts = [e["message"] for e in (await tl1.call("order_log", id=o1)).items("entry")]
    assert texts[0] == "Order placed through Tjänsteguiden"
    assert "Status changed from new to received by TL1 Person (Leverantör Ett AB)" in texts


# --- the order page -----------------------------------------------------------------------------


async def test_the_order_page_masks_the_personnummer_until_revealed_and_logs_it(
    ctx: AppContext, browser: StaffBrowser, staff_world: World
) -> None:
    o1 = staff_world.orders["o1"]
    page = await browser.login("TL1", next_path=f"/staff/orders/{o1}")
    serial = "19" + SERIALS[1]
    assert f"{serial[:8]}-****" in page.html and serial not in page.html
    before = await _snapshot(ctx)
    page = await browser.submit(page.form(f"/staff/orders/{o1}/reveal"))
    assert page.status == 200 and f"{serial[:8]}-{serial[8:]}" in page.html
    after = await _snapshot(ctx)
    assert after["log"] == before["log"] + 1 and after["events"] == before["events"]
    assert "Personnummer visat för TL1 Person (Leverantör Ett AB)" in page.html
    # the KO sees the reveal in the shared log
    b, ko = await _as(ctx, "KOA")
    try:
        ko_page = await ko.get(f"/staff/orders/{o1}")
        assert "Personnummer visat för TL1 Person" in ko_page.html
        assert f"{serial[:8]}-{serial[8:]}" not in ko_page.html
    finally:
        await b.__aexit__(None, None, None)


async def test_status_message_and_flag_through_the_forms(
    ctx: AppContext, browser: StaffBrowser, staff_world: World
) -> None:
    o1 = staff_world.orders["o1"]
    await browser.login("TL1")
    page = await browser.get(f"/staff/orders/{o1}")
    options = re.findall(r'<option value="(\w+)">', page.html.split('id="new-status"')[1])
    assert options[:5] == ["received", "active", "waiting", "cancelled", "delivered"]
    page = await browser.submit(page.form(f"/staff/orders/{o1}/status"), {"status": "received"})
    assert "Statusen är ändrad" in page.html
    assert "status--received" in page.html
    page = await browser.submit(
        page.form(f"/staff/orders/{o1}/message"), {"type": "alert", "message": "Ring kunden"}
    )
    assert "Meddelandet är tillagt" in page.html
    assert "log__entry--alert" in page.html and "Ring kunden" in page.html
    page = await browser.submit(page.form(f"/staff/orders/{o1}/flag"))
    assert "markerad för uppföljning" in page.html
    assert "Ta bort markeringen" in page.html
    async with ctx.db.read() as conn:
        log = list(
            await conn.execute(select(tables.order_log).where(tables.order_log.c.order_id == o1))
        )
        events = list(
            await conn.execute(select(tables.events).where(tables.events.c.order_id == o1))
        )
    assert [r.type for r in log][-2:] == ["system", "alert"]
    assert [e.type for e in events][-2:] == ["status_changed", "message_added"]
    # the KO's flag is its own: the TL's flag does not show for the KO
    b, ko = await _as(ctx, "KOA")
    try:
        ko_page = await ko.get(f"/staff/orders/{o1}")
        assert "Inte markerad för uppföljning" in ko_page.html
        assert "Ring kunden" in ko_page.html
        ko_list = await ko.get("/staff/orders?flagged=1")
        assert f'href="/staff/orders/{o1}"' not in ko_list.html
    finally:
        await b.__aexit__(None, None, None)
    # and clearing it
    page = await browser.submit(page.form(f"/staff/orders/{o1}/flag"))
    assert "Markeringen är borttagen" in page.html


def _section(html: str, ident: str) -> str:
    """The HTML of the page's section ``id=ident``."""
    start = html.index(f'<section class="panel" id="{ident}"')
    return html[start : html.index("</section>", start)]


async def test_each_confirmation_is_shown_in_the_section_where_the_change_was_made(
    ctx: AppContext, browser: StaffBrowser, staff_world: World
) -> None:
    o1 = staff_world.orders["o1"]
    await browser.login("TL1")
    for path, form, section, words in (
        ("status", {"status": "received"}, "status", "Statusen är ändrad"),
        ("message", {"type": "log", "message": "Hej"}, "log", "Meddelandet är tillagt"),
        ("flag", {"flag": "on"}, "flag", "markerad för uppföljning"),
    ):
        r = await browser.post_with_token(f"/staff/orders/{o1}/{path}", form)
        assert r.status_code == 303 and r.headers["location"].endswith("#notice")
        page = await browser.get(r.headers["location"].split("#")[0])
        notice = re.search(r'<div class="notice notice--success" id="notice"[^>]*>(.*?)</div>',
                           page.html, re.S)  # fmt: skip
        assert notice and words in notice.group(1), path
        assert 'id="notice"' in _section(page.html, section), path
        assert page.html.count('id="notice"') == 1


@pytest.mark.parametrize("new", ["cancelled", "delivered"])
async def test_ending_a_new_order_at_once_asks_first_and_a_cancel_needs_a_reason(
    ctx: AppContext, browser: StaffBrowser, staff_world: World, xsp: XspClient, new: str
) -> None:
    o1 = staff_world.orders["o1"]
    await browser.login("TL1")
    before = await _snapshot(ctx)
    r = await browser.post_with_token(f"/staff/orders/{o1}/status", {"status": new})
    assert r.status_code == 303 and r.headers["location"].endswith(f"?confirm={new}#confirm")
    assert await _snapshot(ctx) == before  # only asked
    page = await browser.get(r.headers["location"].split("#")[0])
    box = _section(page.html, "status")
    assert 'id="confirm"' in box and 'name="confirmed" value="1"' in box
    assert ('name="reason"' in box) == (new == "cancelled")
    if new == "cancelled":
        for reason, words in (("  ", "Skriv varför"), ("x" * 501, "högst 500"), ("a\x00b", "")):
            r = await browser.post_with_token(
                f"/staff/orders/{o1}/status",
                {"status": new, "confirmed": "1", "reason": reason},
            )
            assert r.status_code == 400 and words in r.text
            assert await _snapshot(ctx) == before
    reason = "Kunden ångrade sig" if new == "cancelled" else ""
    page = await browser.submit(page.form(f"/staff/orders/{o1}/status"), {"reason": reason})
    assert "Statusen är ändrad" in page.html
    # The reason is in the log, after the change it explains; the API's text starts as ever.
    tl1 = await xsp.session(staff_world.users["TL1"])
    entries = (await tl1.call("order_log", id=o1)).items("entry")
    expected = f"Status changed from new to {new} by TL1 Person (Leverantör Ett AB)"
    assert entries[-1]["message"] == (f"{expected}: {reason}" if reason else expected)


async def test_a_disallowed_status_change_is_refused_on_the_page(
    ctx: AppContext, browser: StaffBrowser, staff_world: World
) -> None:
    o1 = staff_world.orders["o1"]
    await browser.login("TL1")
    await browser.post_with_token(
        f"/staff/orders/{o1}/status", {"status": "delivered", "confirmed": "1"}
    )
    page = await browser.get(f"/staff/orders/{o1}")
    assert "kan inte ändras mer" in page.html
    assert f"/staff/orders/{o1}/status" not in page.html
    before = await _snapshot(ctx)
    response = await browser.post_with_token(f"/staff/orders/{o1}/status", {"status": "new"})
    assert response.status_code == 409
    assert "kunde inte ändras från levererad till ny" in response.text
    response = await browser.post_with_token(f"/staff/orders/{o1}/status", {"status": "bogus"})
    assert response.status_code == 409
    assert await _snapshot(ctx) == before


async def test_an_empty_message_is_refused_with_a_message(
    ctx: AppContext, browser: StaffBrowser, staff_world: World
) -> None:
    o1 = staff_world.orders["o1"]
    await browser.login("TL1")
    before = await _snapshot(ctx)
    response = await browser.post_with_token(f"/staff/orders/{o1}/message", {"message": "  "})
    assert response.status_code == 400 and "Skriv ett meddelande." in response.text
    assert 'aria-invalid="true"' in response.text
    assert await _snapshot(ctx) == before


async def test_script_in_customer_fields_and_messages_is_shown_as_text(
    ctx: AppContext, browser: StaffBrowser, staff_world: World
) -> None:
    (oid,) = await _place(ctx, 1, firstname=SCRIPT[:100], surname="<b>x</b>")
    await browser.login("TL1")
    await browser.post_with_token(f"/staff/orders/{oid}/message", {"message": SCRIPT})
    await browser.post_with_token(f"/staff/orders/{oid}/flag", {"flag": "on"})
    for url in (f"/staff/orders/{oid}", "/staff/orders", "/staff/"):
        page = await browser.get(url)
        assert SCRIPT not in page.html and "<b>x</b>" not in page.html, url
        assert "&lt;script&gt;" in page.html, url


# --- another organisation's orders --------------------------------------------------------------


async def test_another_organisations_order_is_404_on_every_route_and_nothing_changes(
    ctx: AppContext, browser: StaffBrowser, staff_world: World
) -> None:
    o2 = staff_world.orders["o2"]  # TL2's, on KOA
    missing = 999_999
    await browser.login("TL1")
    before = await _snapshot(ctx)
    answers: dict[str, list[tuple[int, str]]] = {}
    for oid in (o2, missing):
        got = []
        r = await browser.http.get(f"/staff/orders/{oid}")
        got.append((r.status_code, _text(r.text).replace(str(oid), "ID")))
        for action, values in (
            ("status", {"status": "received"}),
            ("message", {"message": "hej", "type": "log"}),
            ("message", {"message": "", "type": "log"}),
            ("flag", {"flag": "on"}),
            ("reveal", {}),
        ):
            r = await browser.post_with_token(f"/staff/orders/{oid}/{action}", values)
            got.append((r.status_code, _text(r.text).replace(str(oid), "ID")))
            assert SERIALS[1] not in r.text
        answers[str(oid == missing)] = got
    assert all(code == 404 for code, _ in answers["False"])
    assert answers["False"] == answers["True"]
    csv_body = (await browser.http.get(f"/staff/orders.csv?q={o2}")).text
    assert csv_body.count("\r\n") == 1
    listed = await browser.get(f"/staff/orders?q={o2}")
    assert f'href="/staff/orders/{o2}"' not in listed.html
    assert (await browser.http.get("/staff/orders/abc")).status_code == 404
    assert await _snapshot(ctx) == before


async def test_a_ko_does_not_reach_another_networks_order(
    ctx: AppContext, staff_world: World
) -> None:
    o3 = staff_world.orders["o3"]  # on KOB
    b, koa = await _as(ctx, "KOA")
    try:
        before = await _snapshot(ctx)
        assert (await koa.http.get(f"/staff/orders/{o3}")).status_code == 404
        r = await koa.post_with_token(f"/staff/orders/{o3}/status", {"status": "received"})
        assert r.status_code == 404
        assert await _snapshot(ctx) == before
    finally:
        await b.__aexit__(None, None, None)


# --- CSRF ---------------------------------------------------------------------------------------


async def test_forms_without_a_valid_csrf_token_are_refused(
    ctx: AppContext, browser: StaffBrowser, staff_world: World
) -> None:
    o1 = staff_world.orders["o1"]
    await browser.login("TL1")
    before = await _snapshot(ctx)
    for action, values in (
        ("status", [("status", "received")]),
        ("message", [("message", "hej")]),
        ("flag", [("flag", "on")]),
        ("reveal", []),
    ):
        for token in ([], [(csrf.FIELD, "forged")]):
            r = await post_form(browser.http, f"/staff/orders/{o1}/{action}", token + values)
            assert r.status_code == 403, action
            assert SERIALS[1] not in r.text
    for url in ("/staff/password", "/staff/logout", "/staff/login"):
        r = await post_form(browser.http, url, [("username", "tl1.anna"), ("password", PASSWORD)])
        assert r.status_code == 403, url
    assert await _snapshot(ctx) == before
    assert (await browser.http.get("/staff/")).status_code == 200  # still logged in


# --- the overview -------------------------------------------------------------------------------


async def test_the_overview_counts_charts_and_lists_what_needs_attention(
    ctx: AppContext, browser: StaffBrowser, staff_world: World
) -> None:
    o = staff_world.orders
    await browser.login("TL1")
    await browser.post_with_token(f"/staff/orders/{o['o3']}/status", {"status": "waiting"})
    await browser.post_with_token(f"/staff/orders/{o['o4']}/flag", {"flag": "on"})
    async with ctx.db.write() as conn:
        await conn.execute(
            update(tables.outbox)
            .where(tables.outbox.c.order_id.in_([o["o1"], o["o2"]]))
            .values(state="failed", last_error="SMTP 550 <no such user>", attempts=8)
        )
    page = await browser.get("/staff/")
    assert page.status == 200
    found = re.findall(r'counts__n">(\d+)</span> <span class="status status--(\w+)"', page.html)
    counts = {status: n for n, status in found}
    assert counts == {"new": "2", "received": "0", "active": "0", "waiting": "1",
                      "cancelled": "0", "delivered": "0"}  # fmt: skip
    svg = page.html.split("<svg")[1].split("</svg>")[0]
    assert "<title" in svg and "<desc" in svg and "3 beställningar" in svg
    heights = [float(h) for h in re.findall(r'<rect class="chart__bar"[^>]*height="([\d.]+)"', svg)]
    assert len(heights) == 30 and heights[-1] > 0 and sum(1 for h in heights if h) == 1
    table = page.html.split('class="chart__data"')[1]
    assert f'<td>{today_local().isoformat()}</td><td class="num">3</td>' in table
    oldest = page.html.split('id="oldest-h"')[1].split("</section>")[0]
    assert re.findall(r'href="/staff/orders/(\d+)"', oldest) == [
        str(o[k]) for k in ("o1", "o3", "o4")
    ]
    flagged = page.html.split('id="flagged-h"')[1].split("</section>")[0]
    assert re.findall(r'href="/staff/orders/(\d+)"', flagged) == [str(o["o4"])]
    failed = page.html.split('id="failed-h"')[1].split("</section>")[0]
    assert re.findall(r'href="/staff/orders/(\d+)"', failed) == [str(o["o1"])]  # not TL2's o2
    assert "SMTP 550 &lt;no such user&gt;" in failed
    # The network owner sees both orders, but those mails were the service providers' business.
    b, ko = await _as(ctx, "KOA")
    try:
        ko_page = await ko.get("/staff/")
        assert "SMTP 550" not in ko_page.html
    finally:
        await b.__aexit__(None, None, None)


def test_the_chart_scales_to_the_busiest_day() -> None:
    days = [(today_local() - timedelta(days=2 - i), n) for i, n in enumerate([0, 5, 10])]
    c = chart(days)
    assert c["max"] == 10 and c["total"] == 15
    heights = [b["h"] for b in c["bars"]]
    assert heights[0] == 0 and heights[2] == 2 * heights[1] > 0
    assert all(b["y"] + b["h"] == c["base"] for b in c["bars"])


async def test_the_password_page_throttles_guesses_of_the_current_password(
    ctx: AppContext, staff_world: World
) -> None:
    strict = AppContext(ctx.db, ctx.settings.model_copy(update={"login_failures": 3}))
    async with _client(strict, ip="10.2.2.2") as browser:
        await browser.login("TL1")
        form = (await browser.get("/staff/password")).form("/staff/password")
        for i in range(3):
            guess = f"guess-{i}"
            page = await browser.submit(
                form, {"current": guess, "new": "x" * 12, "repeat": "x" * 12}
            )
            assert page.status == 400 and "Fel lösenord" in page.html
        new = "a-brand-new-password"
        page = await browser.submit(form, {"current": PASSWORD, "new": new, "repeat": new})
        assert page.status == 429 and "Försök igen om" in page.html
    # Nothing changed: the old password still logs in from another address.
    async with _client(strict, ip="10.2.2.3") as other:
        assert (await other.login("TL1")).status == 200


async def test_search_ignores_case_and_accents_and_takes_names_in_any_order(
    ctx: AppContext, browser: StaffBrowser, staff_world: World
) -> None:
    """The same answers on SQLite and PostgreSQL: Å, Ä and Ö fold to A, A and O (so "Ostberg"
    finds "Östberg"), and every word must be found somewhere in the names and address."""
    await browser.login("TL1")
    placed = await placing.place_order(
        ctx,
        OrderRequest(
            coid="KOA",
            access_id="A2",
            service_ids=[101],
            customer=customer(3, firstname="Åsa-Märta", surname="Öst Berg"),
            delivery=None,
        ),
    )
    (order_id,) = [o.id for o in placed.orders]

    async def ids(q: str) -> list[int]:
        page = await browser.get(f"/staff/orders?{urlencode({'q': q})}")
        assert page.status == 200
        return [int(x) for x in re.findall(r'href="/staff/orders/(\d+)"', page.html)]

    for q in ("Åsa", "åsa", "ÅSA", "asa", "märta", "MARTA", "Öst", "ost berg", "Östberg"[:3],
              "Åsa-Märta Öst Berg", "öst åsa", "asa marta ost", "A-gatan 2 åsa"):  # fmt: skip
        assert order_id in await ids(q), q
    for q in ("Åsa Nilsson", "åsa 12", "Öst Uppsala"):
        assert order_id not in await ids(q), q
