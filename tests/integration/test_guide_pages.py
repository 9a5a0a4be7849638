"""Tjänsteguiden's pages in-process, the way a browser without JavaScript uses them: links are
followed and forms submitted with the values the page gives them (docs/guide-api.md)."""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from serviceguide.app import create_app
from serviceguide.domain.clock import today_local
from serviceguide.services.admin import add_access, create_ko
from serviceguide.services.context import AppContext
from serviceguide.storage import tables
from serviceguide.web import csrf
from tests.support.world import SERIALS, World, with_check_digit
from tests.support.xsp import XspClient

pytestmark = pytest.mark.integration

GOOD = {
    "firstname": "Eva",
    "surname": "Ek",
    "serial": SERIALS[0],
    "email": "eva.ek@example.se",
    "phone": "070-123 45 67",
    "premise": "",
    "delivery": "asap",
    "delivery_date": "",
    "message": "Ring på dörren",
}
SCRIPT = '<script>alert("x")</script>'


# --- a browser without JavaScript ---------------------------------------------------------------


@dataclass
class Form:
    attrs: dict[str, str]
    controls: list[dict[str, str]] = field(default_factory=list)
    buttons: list[dict[str, str]] = field(default_factory=list)

    @property
    def action(self) -> str:
        return self.attrs.get("action", "")

    @property
    def method(self) -> str:
        return self.attrs.get("method", "get").lower()

    def values(self) -> list[tuple[str, str]]:
        """What the browser sends: named controls, checkboxes and radios only when checked."""
        out = []
        for c in self.controls:
            if "name" not in c or c.get("type") in ("submit", "button"):
                continue
            if c.get("type") in ("checkbox", "radio") and "checked" not in c:
                continue
            out.append((c["name"], c.get("value", "")))
        return out


class Parsed(HTMLParser):
    """The forms, links and element texts of a page."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.links: list[tuple[str, str]] = []
        self._form: Form | None = None
        self._textarea: dict[str, str] | None = None
        self._select: dict[str, str] | None = None
        self._link: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._form = Form(a)
            self.forms.append(self._form)
        elif tag == "a" and "href" in a:
            self._link = [a["href"], ""]
        elif self._form is not None and tag == "input":
            self._form.controls.append(a)
        elif self._form is not None and tag == "button":
            self._form.buttons.append(a)
        elif self._form is not None and tag == "textarea":
            self._textarea = {**a, "value": ""}
            self._form.controls.append(self._textarea)
        elif self._form is not None and tag == "select":
            # What a browser sends: the selected option's value, else the first option's.
            self._select = {**a, "first": "1"}
            self._form.controls.append(self._select)
        elif (
            self._select is not None
            and tag == "option"
            and (self._select.pop("first", None) or "selected" in a)
        ):
            self._select["value"] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None
        elif tag == "a" and self._link is not None:
            self.links.append((self._link[0], self._link[1].strip()))
            self._link = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea["value"] += data
        if self._link is not None:
            self._link[1] += data


@dataclass
class Page:
    response: httpx.Response

    @property
    def html(self) -> str:
        return self.response.text

    @property
    def status(self) -> int:
        return self.response.status_code

    def form(self, action_ending: str) -> Form:
        parsed = Parsed(self.html)
        found = [
            f
            for f in parsed.forms
            if f.action.endswith(action_ending) or f.action.split("?")[0].endswith(action_ending)
        ]
        assert found, f"no form posting to …{action_ending}: {[f.action for f in parsed.forms]}"
        return found[-1]

    def link(self, text: str) -> str:
        for href, label in Parsed(self.html).links:
            if text in label:
                return href
        raise AssertionError(f"no link {text!r} on the page")

    def error_of(self, field_id: str) -> str:
        """The error text shown next to a field, checked to be tied to the field for AT."""
        m = re.search(rf'<p class="field__error" id="{field_id}-error">(.*?)</p>', self.html, re.S)
        assert m, f"no error shown next to #{field_id}"
        text = re.sub(r"<[^>]+>", "", m.group(1)).strip()
        assert f'href="#{field_id}"' in self.html, f"the error summary does not link #{field_id}"
        assert 'class="error-summary"' in self.html
        return text

    def field_is_invalid(self, field_id: str) -> bool:
        m = re.search(rf'<(?:input|textarea)[^>]*\bid="{field_id}"[^>]*>', self.html, re.S)
        assert m, f"no input #{field_id}"
        tag = m.group(0)
        return 'aria-invalid="true"' in tag and f"{field_id}-error" in tag


FORM_TYPE = {"content-type": "application/x-www-form-urlencoded"}


async def post_form(
    http: httpx.AsyncClient, url: str, values: list[tuple[str, str]]
) -> httpx.Response:
    """POST ``values`` (repeated names allowed) as a browser sends a form."""
    return await http.post(url, content=urlencode(values), headers=FORM_TYPE)


class Browser:
    """Cookies, links and forms, and nothing else: no JavaScript."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.url = "http://testserver/"

    async def get(self, url: str) -> Page:
        self.url = urljoin(self.url, url)
        return Page(await self.http.get(self.url))

    async def submit(
        self,
        form: Form,
        changes: dict[str, Any] | None = None,
        *,
        formaction: str | None = None,
        follow: bool = True,
    ) -> Page:
        """Submit ``form``; ``changes`` replace values by name (a list sets repeated names)."""
        values = form.values()
        for name, value in (changes or {}).items():
            values = [(k, v) for k, v in values if k != name]
            values += [(name, v) for v in (value if isinstance(value, list) else [value])]
        url = urljoin(self.url, formaction or form.action or self.url)
        if form.method == "get":
            return await self.get(url.split("?")[0] + "?" + urlencode(values))
        response = await post_form(self.http, url, values)
        if follow and response.status_code == 303:
            return await self.get(response.headers["location"])
        return Page(response)


@pytest.fixture
async def browser(ctx: AppContext) -> AsyncIterator[Browser]:
    async with _browser(ctx) as b:
        yield b


def _browser(ctx: AppContext) -> Any:
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def make() -> AsyncIterator[Browser]:
        app = create_app(ctx.settings)
        app.state.ctx = ctx
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield Browser(http)

    return make()


async def stored(ctx: AppContext) -> tuple[int, int]:
    """How many customers and orders the database holds."""
    async with ctx.db.read() as conn:
        customers = (await conn.execute(select(func.count()).select_from(tables.customers))).one()
        orders = (await conn.execute(select(func.count()).select_from(tables.orders))).one()
    return int(customers[0]), int(orders[0])


async def details_form(b: Browser, services: list[str] | None = None) -> Page:
    """From the start page to the details form for A1 on KOA with services 101 and 102."""
    start = await b.get("/")
    results = await b.submit(start.form("/"), {"q": "A-gatan 1"})
    services_page = await b.get(results.link("A-gatan 1, 12345 Teststad"))
    assert services_page.status == 200, services_page.html
    return await b.submit(
        services_page.form("/access/KOA/A1/details"), {"service": services or ["101", "102"]}
    )


async def review_of(b: Browser, **changes: Any) -> Page:
    details = await details_form(b)
    return await b.submit(details.form("/details"), {**GOOD, **changes})


def order_numbers(page: Page) -> list[int]:
    return [int(x) for x in re.findall(r'data-order-id="(\d+)"', page.html)]


# --- the whole flow -----------------------------------------------------------------------------


async def test_a_customer_orders_two_services_from_two_providers_by_forms_alone(
    ctx: AppContext, world: World, browser: Browser, xsp: XspClient
):
    before = await stored(ctx)
    start = await browser.get("/")
    assert start.status == 200 and '<html lang="sv">' in start.html
    results = await browser.submit(start.form("/"), {"q": "A-gatan 1"})
    assert results.status == 200
    services = await browser.get(results.link("A-gatan 1, 12345 Teststad"))
    assert "Tjänster på A-gatan 1, 12345 Teststad" in services.html
    for provider in ("Leverantör Ett AB", "Leverantör Två AB"):
        assert f'<h2 class="provider__name">{provider}</h2>' in services.html
    assert (
        "199,50\u00a0kr per månad" in services.html and "Startavgift 495\u00a0kr" in services.html
    )

    details = await browser.submit(
        services.form("/access/KOA/A1/details"), {"service": ["101", "102"]}
    )
    assert details.status == 200 and "Tjänst S1" in details.html and "Tjänst S2" in details.html
    review = await browser.submit(details.form("/details"), GOOD)
    assert review.status == 200, review.html
    assert "Granska din beställning" in review.html
    assert "Eva" in review.html and "19700101-" in review.html and "Ring på dörren" in review.html
    assert "498,50\u00a0kr" in review.html  # 299 + 199.50 a month
    assert await stored(ctx) == before  # nothing is stored before confirming

    confirm = review.form("/confirm")
    response = await post_form(browser.http, urljoin(browser.url, confirm.action), confirm.values())
    assert response.status_code == 303
    thanks_url = response.headers["location"]
    assert re.fullmatch(r"/thanks/[\w\-]{32}", thanks_url), thanks_url
    thanks = await browser.get(thanks_url)
    assert thanks.status == 200 and "Tack för din beställning, Eva!" in thanks.html
    numbers = order_numbers(thanks)
    assert len(numbers) == 2
    assert await stored(ctx) == (before[0] + 1, before[1] + 2)

    # A double click (or a reload) of the confirm POST places nothing more: the same page.
    again = await post_form(browser.http, urljoin(browser.url, confirm.action), confirm.values())
    assert again.status_code == 303 and again.headers["location"] == thanks_url
    assert await stored(ctx) == (before[0] + 1, before[1] + 2)

    # Each order reached its own provider only.
    for who, service in (("TL1", "101"), ("TL2", "102")):
        s = await xsp.session(world.users[who])
        mine = [o for o in numbers if (await s.call("order_info", id=o)).code == 200]
        assert len(mine) == 1
        info = (await s.call("order_info", id=mine[0])).one("order")
        assert info["service"] == service and info["socket"] == "A1"
        assert info["message"] == "Ring på dörren"


async def test_the_review_page_can_go_back_to_the_details_with_everything_kept(
    ctx: AppContext, world: World, browser: Browser
):
    review = await review_of(browser, firstname="Åsa", premise="1001")
    details = await browser.get(review.link("Ändra uppgifter"))
    assert details.status == 200
    form = details.form("/details")
    values = dict(form.values())
    assert values["firstname"] == "Åsa" and values["premise"] == "1001"
    assert values["message"] == "Ring på dörren"
    assert [v for k, v in form.values() if k == "service"] == ["101", "102"]


async def test_every_step_is_a_get_after_a_post_so_back_and_reload_never_resend_a_form(
    ctx: AppContext, world: World, browser: Browser
):
    details = await details_form(browser)
    sent = await post_form(
        browser.http,
        "http://testserver/access/KOA/A1/details",
        [*details.form("/details").values(), *GOOD.items()],
    )
    assert sent.status_code == 303 and sent.headers["location"] == "/access/KOA/A1/review"
    review = await browser.get(sent.headers["location"])
    assert review.status == 200 and "Granska din beställning" in review.html
    # Back to the details, forward to the review again: GETs showing what was entered.
    back = await browser.get("/access/KOA/A1/details")
    assert dict(back.form("/details").values())["email"] == GOOD["email"]
    assert (await browser.get("/access/KOA/A1/review")).html == review.html

    # An error is a GET too: the form again, with what is wrong and what was typed.
    bad = await post_form(
        browser.http,
        "http://testserver/access/KOA/A1/details",
        [*details.form("/details").values(), *{**GOOD, "email": "nope"}.items()],
    )
    assert bad.headers["location"] == "/access/KOA/A1/details?check=1"
    again = await browser.get(bad.headers["location"])
    assert again.status == 422 and "giltig e-postadress" in again.error_of("email")
    shown = await browser.http.get("http://testserver/access/KOA/A1/review")
    assert shown.status_code == 303 and shown.headers["location"].endswith("/details?check=1")

    # Placed: Back from the thank-you page leads to the placed orders, never to a form.
    fixed = await browser.submit(again.form("/details"), {"email": GOOD["email"]})
    thanks = await browser.submit(fixed.form("/confirm"))
    assert thanks.status == 200 and len(order_numbers(thanks)) == 2
    back = await browser.http.get("http://testserver/access/KOA/A1/review")
    assert back.status_code == 303 and back.headers["location"] == urlsplit(browser.url).path
    # ... and the details form is empty again: nothing personal is kept after placing.
    fresh = await browser.get("/access/KOA/A1/details?service=101")
    assert dict(fresh.form("/details").values())["serial"] == ""


async def test_typed_details_survive_changing_the_services_and_the_language(
    ctx: AppContext, world: World, browser: Browser
):
    details = await details_form(browser, ["101"])
    # "Ändra tjänster" sends what was typed (not yet checked) with it.
    typed = {"firstname": "Åsa", "email": "halvfärdig@", "then": "services"}
    services = await browser.submit(details.form("/details"), typed)
    assert services.status == 200 and urlsplit(str(services.response.url)).path == "/access/KOA/A1"
    assert 'value="101" id="services" checked' in services.html  # the choice is kept too
    details = await browser.submit(
        services.form("/access/KOA/A1/details"), {"service": ["101", "102"]}
    )
    values = dict(details.form("/details").values())
    assert values["firstname"] == "Åsa" and values["email"] == "halvfärdig@"
    assert "Tjänst S2" in details.html and "Fel:" not in details.html

    # The language switch on the form is a button of the form: nothing typed is lost.
    assert 'form="flow-form" name="then" value="lang"' in details.html
    english = await browser.submit(details.form("/details"), {"surname": "Öst", "then": "lang"})
    assert '<html lang="en">' in english.html and "Your details" in english.html
    values = dict(english.form("/details").values())
    assert (values["firstname"], values["surname"]) == ("Åsa", "Öst")


# --- CSRF ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("step", ["details", "confirm"])
async def test_a_post_without_a_valid_csrf_token_is_refused_and_stores_nothing(
    ctx: AppContext, world: World, browser: Browser, step: str
):
    review = await review_of(browser)
    values = review.form("/confirm").values() + list(GOOD.items())
    url = f"http://testserver/access/KOA/A1/{step}"
    before = await stored(ctx)

    without = [(k, v) for k, v in values if k != csrf.FIELD]
    forged = [*without, (csrf.FIELD, "0" * 64)]
    for data in (without, forged):
        r = await post_form(browser.http, url, data)
        assert r.status_code == 403, r.text
        assert "Formuläret kunde inte skickas" in r.text

    # A valid token from one browser is worthless in another (its cookie is missing).
    async with _browser(ctx) as stranger:
        r = await post_form(stranger.http, url, values)
        assert r.status_code == 403
    # ... and a planted cookie does not help without the token that matches it.
    async with _browser(ctx) as stranger:
        stranger.http.cookies.set(csrf.COOKIE, "planted-cookie-value-0123456789")
        r = await post_form(stranger.http, url, values)
        assert r.status_code == 403
    assert await stored(ctx) == before

    ok = await post_form(browser.http, url, values)
    assert ok.status_code in (200, 303)


# --- bad input ----------------------------------------------------------------------------------

today = today_local()
BAD_DETAILS = [
    # (changes, id of the field, words of the message)
    ({"firstname": ""}, "firstname", "Fyll i ditt förnamn"),
    ({"firstname": "x" * 101}, "firstname", "högst 100 tecken"),
    ({"surname": "   "}, "surname", "Fyll i ditt efternamn"),
    ({"surname": "y" * 101}, "surname", "högst 100 tecken"),
    ({"serial": ""}, "serial", "Fyll i ditt personnummer"),
    ({"serial": "12345"}, "serial", "10 eller 12 siffror"),
    ({"serial": SERIALS[0][:-1] + str((int(SERIALS[0][-1]) + 1) % 10)}, "serial", "sista siffran"),
    ({"serial": "19701301-1234"}, "serial", "giltigt födelsedatum"),
    ({"serial": SCRIPT}, "serial", "10 eller 12 siffror"),
    ({"email": "inte-en-adress"}, "email", "giltig e-postadress"),
    ({"email": f"{SCRIPT}@example.se"}, "email", "giltig e-postadress"),
    ({"email": "a" * 250 + "@example.se"}, "email", "giltig e-postadress"),
    ({"phone": "ring mig"}, "phone", "giltigt telefonnummer"),
    ({"phone": "<b>070</b>"}, "phone", "giltigt telefonnummer"),
    ({"phone": "0" * 30}, "phone", "giltigt telefonnummer"),
    ({"premise": SCRIPT}, "premise", "högst 20 bokstäver"),
    ({"premise": "1" * 21}, "premise", "högst 20 bokstäver"),
    (
        {"delivery": "date", "delivery_date": (today - timedelta(days=1)).isoformat()},
        "delivery_date",
        "från i dag och högst ett år framåt",
    ),
    (
        {"delivery": "date", "delivery_date": (today + timedelta(days=366)).isoformat()},
        "delivery_date",
        "från i dag och högst ett år framåt",
    ),
    ({"delivery": "date", "delivery_date": SCRIPT}, "delivery_date", "ÅÅÅÅ-MM-DD"),
    ({"delivery": "date", "delivery_date": ""}, "delivery_date", "vilket datum"),
    ({"message": "m" * 1001}, "message", "högst 1000 tecken"),
    ({"message": "hej\x00då"}, "message", "kontrolltecken"),
    ({"service": []}, "services", "Välj minst en tjänst"),
    ({"service": ["101", "101"]}, "services", "två gånger"),
    ({"service": ["101", "103"]}, "services", "finns inte på den här adressen"),
    ({"service": [SCRIPT]}, "services", "finns inte på den här adressen"),
]


@pytest.mark.parametrize(
    ("changes", "field_id", "words"),
    BAD_DETAILS,
    ids=[f"{c[1]}-{i}" for i, c in enumerate(BAD_DETAILS)],
)
async def test_each_bad_detail_is_shown_next_to_its_field_on_review_and_confirm_and_stores_nothing(
    ctx: AppContext,
    world: World,
    browser: Browser,
    changes: dict[str, Any],
    field_id: str,
    words: str,
):
    details = await details_form(browser)
    before = await stored(ctx)
    page = await browser.submit(details.form("/details"), {**GOOD, **changes})
    assert page.status == 422, page.html
    assert words in page.error_of(field_id)
    if field_id != "services":
        assert page.field_is_invalid(field_id)
    assert SCRIPT not in page.html
    assert "<title>Fel: " in page.html
    # No review of the bad draft: it leads back to the form.
    review = await browser.http.get("http://testserver/access/KOA/A1/review")
    assert review.status_code == 303 and review.headers["location"].endswith("?check=1")
    assert await stored(ctx) == before


async def test_confirm_places_only_the_version_the_review_showed(
    ctx: AppContext, world: World, browser: Browser
):
    review = await review_of(browser)
    stale = review.form("/confirm")
    # The details are changed meanwhile (another tab): the old review confirms nothing.
    await browser.submit((await browser.get("/access/KOA/A1/details")).form("/details"), GOOD)
    before = await stored(ctx)
    page = await browser.submit(stale)
    assert page.status == 409 and "Beställningen ändrades" in page.html
    assert await stored(ctx) == before
    # Fields added to the confirm form change nothing: what is placed is the session's draft.
    thanks = await browser.submit(page.form("/confirm"), {"firstname": "Mallory", "service": "103"})
    assert thanks.status == 200 and "Tack för din beställning, Eva!" in thanks.html
    async with ctx.db.read() as conn:
        names = (await conn.execute(select(tables.customers.c.firstname))).scalars().all()
    assert "Mallory" not in names


async def test_several_bad_fields_are_all_listed_in_the_summary_in_page_order(
    ctx: AppContext, world: World, browser: Browser
):
    details = await details_form(browser)
    page = await browser.submit(
        details.form("/details"), {**GOOD, "phone": "x", "firstname": "", "email": "nope"}
    )
    assert page.status == 422
    summary = page.html[page.html.index("error-summary") : page.html.index("</ul>")]
    assert re.findall(r'href="#(\w+)"', summary) == ["firstname", "email", "phone"]
    assert "Det finns 3 fel som behöver rättas" in summary
    values = dict(page.form("/details").values())  # what was typed is kept
    assert values["phone"] == "x" and values["email"] == "nope" and values["surname"] == "Ek"


async def test_an_unknown_address_is_said_next_to_the_search_field(
    ctx: AppContext, world: World, browser: Browser
):
    for q, words in (
        ("Finnsintegatan 99", "Vi hittade ingen adress som matchar"),
        ("   ", "Skriv din gatuadress"),
        ("a" * 201, "högst 200 tecken"),
        (SCRIPT, "Vi hittade ingen adress"),
    ):
        page = await browser.get("/?" + urlencode({"q": q}))
        assert page.status == 200
        assert words in page.error_of("q")
        assert page.field_is_invalid("q")
        assert SCRIPT not in page.html


async def test_no_service_chosen_is_said_on_the_services_page(
    ctx: AppContext, world: World, browser: Browser
):
    page = await browser.get("/access/KOA/A1/details?adress=x")
    assert page.status == 422
    assert "Välj minst en tjänst" in page.error_of("services")
    page = await browser.get("/access/KOA/A1/details?service=101&service=103")
    assert "finns inte på den här adressen" in page.error_of("services")
    page = await browser.get("/access/KOA/A1/details?service=102&service=102")
    assert "två gånger" in page.error_of("services")
    assert 'value="102" id="service-102" checked' in page.html  # the choice is kept


async def test_an_unknown_access_is_a_404_page_and_one_without_services_says_so(
    ctx: AppContext, world: World, browser: Browser
):
    for url in ("/access/KOA/NOPE", "/access/NOPE/A1", "/access/KOA/NOPE/details?service=101"):
        page = await browser.get(url)
        assert page.status == 404 and "Adressen finns inte" in page.html
    await create_ko(ctx, "KOC", "Stadsnät C")
    await add_access(
        ctx,
        coid="KOC",
        access_id="C1",
        street_name="C-gatan",
        street_number="1",
        postal_code="12345",
        city="Teststad",
    )
    page = await browser.get("/access/KOC/C1?adress=C-gatan+1%2C+12345+Teststad")
    assert page.status == 200
    assert "Tjänster på C-gatan 1, 12345 Teststad" in page.html
    assert "Det finns ännu inga tjänster att beställa på den här adressen." in page.html
    before = await stored(ctx)
    details = await browser.get("/access/KOC/C1/details?service=101")
    assert details.status == 422 and await stored(ctx) == before


async def test_a_claimed_address_that_is_not_the_access_is_not_shown(
    ctx: AppContext, world: World, browser: Browser
):
    page = await browser.get("/access/KOA/A1?adress=B-gatan+1%2C+12345+Teststad")
    assert page.status == 200
    assert "Tjänster på anslutning A1 i KOA" in page.html and "Tjänster på B-gatan" not in page.html


# --- escaping -----------------------------------------------------------------------------------


async def test_script_in_names_and_message_is_shown_as_text_on_review_and_thanks(
    ctx: AppContext, world: World, browser: Browser
):
    evil = {"firstname": SCRIPT, "surname": "<img src=x onerror=alert(1)>", "message": SCRIPT}
    review = await review_of(browser, **evil)
    assert review.status == 200, review.html
    for raw in (SCRIPT, "<img src=x"):
        assert raw not in review.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in review.html
    assert "&lt;img src=x onerror=alert(1)&gt;" in review.html
    assert "firstname" not in dict(review.form("/confirm").values())  # kept on the server

    thanks = await browser.submit(review.form("/confirm"))
    assert thanks.status == 200 and len(order_numbers(thanks)) == 2
    assert SCRIPT not in thanks.html
    assert "Tack för din beställning, &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;!" in (
        thanks.html
    )
    async with ctx.db.read() as conn:
        names = (await conn.execute(select(tables.customers.c.firstname))).scalars().all()
    assert SCRIPT in names  # stored as typed: it is text, and shown as text


# --- language -----------------------------------------------------------------------------------


async def test_english_is_chosen_with_lang_en_and_kept_until_changed(
    ctx: AppContext, world: World, browser: Browser
):
    page = await browser.get("/?lang=en")
    assert '<html lang="en">' in page.html and "Find your address" in page.html
    assert 'href="/?lang=sv"' in page.html and "På svenska" in page.html

    page = await browser.get("/?q=A-gatan+1")  # the choice is remembered
    assert '<html lang="en">' in page.html and "address found." in page.html
    details = await details_form(browser)
    assert "Your details" in details.html and "First name" in details.html
    bad = await browser.submit(details.form("/details"), {**GOOD, "email": "nope"})
    assert "Enter a valid e-mail address" in bad.error_of("email")
    assert "SEK 299 per month" in bad.html

    review = await browser.submit(bad.form("/details"), GOOD)
    assert "Review your order" in review.html
    # The review is a GET page: its switch is a plain link, and the draft is kept.
    swedish = await browser.get(review.link("På svenska"))
    assert '<html lang="sv">' in swedish.html and "Granska din beställning" in swedish.html
    assert "Eva" in swedish.html

    page = await browser.get("/")
    assert '<html lang="sv">' in page.html and "Hitta din adress" in page.html
    page = await browser.get("/access/KOA/A1?lang=en&service=101")
    assert "Services at" in page.html
    assert 'href="/access/KOA/A1?service=101&amp;lang=sv"' in page.html


# --- the thank-you page -------------------------------------------------------------------------


async def test_the_thank_you_page_is_opened_by_an_opaque_token_only(
    ctx: AppContext, world: World, browser: Browser
):
    thanks = await browser.submit((await review_of(browser)).form("/confirm"))
    numbers = order_numbers(thanks)
    assert len(numbers) == 2
    path = urlsplit(browser.url).path
    token = path.rsplit("/", 1)[1]
    # Nothing in the link but randomness: no name, no address, no customer number.
    assert re.fullmatch(r"[\w\-]{32}", token) and "Eva" not in token
    assert thanks.response.headers["x-robots-tag"].startswith("noindex")
    assert '<meta name="robots" content="noindex' in thanks.html
    async with ctx.db.read() as conn:
        stored_pages = (await conn.execute(select(tables.order_pages.c.token_sha256))).all()
    assert hashlib.sha256(token.encode()).hexdigest() in {r[0] for r in stored_pages}
    assert token not in {r[0] for r in stored_pages}  # only its hash is kept

    async with _browser(ctx) as stranger:
        assert order_numbers(await stranger.get(path)) == numbers  # the link works anywhere
        for url in (f"{path[:-2]}xx", f"{path}x", "/thanks/1", f"/thanks/{token.upper()}"):
            page = await stranger.get(url)
            assert page.status == 404, url
            assert "Sidan kan inte visas" in page.html
            assert not order_numbers(page) and "Eva" not in page.html


async def test_the_thank_you_page_says_which_orders_were_activated_directly(
    ctx: AppContext, world: World, browser: Browser
):
    thanks = await browser.submit((await review_of(browser)).form("/confirm"))
    first, second = numbers = order_numbers(thanks)
    async with ctx.db.write() as conn:
        await conn.execute(
            tables.orders.update().where(tables.orders.c.id == first).values(status="delivered")
        )
    page = await browser.get(browser.url)
    assert order_numbers(page) == numbers
    before, after = page.html.split(f'data-order-id="{second}"')
    assert "Aktiverad direkt" in before and "Aktiverad direkt" not in after
    assert "1 av 2 tjänster aktiverades direkt" in page.html
    english = await browser.get(browser.url + "?lang=en")
    assert "1 of the 2 services was activated immediately" in english.html


# --- limits and headers -------------------------------------------------------------------------


async def test_too_many_orders_from_one_address_are_refused_with_retry_after(
    ctx: AppContext, world: World
):
    # The limit counts orders: two, i.e. one customer ordering two services.
    limited = AppContext(db=ctx.db, settings=ctx.settings.model_copy(update={"guide_rate": 2}))
    async with _browser(limited) as b:
        ok = await b.submit((await review_of(b)).form("/confirm"))
        assert len(order_numbers(ok)) == 2
        before = await stored(ctx)
        nils = await review_of(b, firstname="Nils", serial=with_check_digit("851212567"))
        page = await b.submit(nils.form("/confirm"))
        assert page.status == 429
        assert "för många beställningar" in page.html
        assert int(page.response.headers["retry-after"]) > 0
        assert page.form("/confirm")  # the review is shown again, to confirm later
        assert await stored(ctx) == before


async def test_pages_carry_security_headers_and_no_inline_script(
    ctx: AppContext, world: World, browser: Browser
):
    pages = [await browser.get("/"), await details_form(browser), await review_of(browser)]
    for page in pages:
        h = page.response.headers
        csp = h["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "no-referrer"
        assert "no-store" in h["cache-control"]
        assert re.findall(r"<script[^>]*>", page.html) == [
            f'<script src="/static/guide.js?v={_version()}" defer></script>'.removesuffix(
                "</script>"
            )
        ]
        assert " style=" not in page.html and " on" + "click=" not in page.html
        assert re.search(r'<a class="skip-link" href="#main">', page.html)
    for path, ctype in (("/static/guide.css", "text/css"), ("/static/guide.js", "javascript")):
        r = await browser.http.get(path)
        assert r.status_code == 200 and ctype in r.headers["content-type"]
        assert r.headers["x-content-type-options"] == "nosniff"
    cookie = next(c for c in browser.http.cookies.jar if c.name == csrf.COOKIE)
    assert cookie.has_nonstandard_attr("HttpOnly")


def _version() -> str:
    from serviceguide import __version__

    return __version__


async def test_every_input_has_a_label_and_headings_go_in_order(
    ctx: AppContext, world: World, browser: Browser
):
    details = await details_form(browser)
    review = await browser.submit(details.form("/details"), {**GOOD, "email": "x"})
    for page in (await browser.get("/"), await browser.get("/access/KOA/A1"), details, review):
        html = page.html
        for m in re.finditer(r"<(input|textarea)\b([^>]*)>", html):
            attrs = m.group(2)
            if 'type="hidden"' in attrs:
                continue
            ident = re.search(r'\bid="([^"]+)"', attrs)
            assert ident, f"an input without id: {m.group(0)}"
            assert f'for="{ident.group(1)}"' in html, f"no label for #{ident.group(1)}"
        levels = [int(x) for x in re.findall(r"<h([1-6])\b", html)]
        assert levels and levels[0] == 1 and levels.count(1) == 1
        assert all(b - a <= 1 for a, b in itertools.pairwise(levels)), levels


def test_every_text_exists_in_both_languages_and_prices_read_naturally():
    from decimal import Decimal

    from serviceguide.web import i18n

    assert set(i18n.SV) == set(i18n.EN)
    assert i18n.money(Decimal("1295.50"), "sv") == "1\u202f295,50\u00a0kr"
    assert i18n.money(Decimal("299"), "sv") == "299\u00a0kr"
    assert i18n.money(Decimal("1295.50"), "en") == "SEK 1,295.50"
    t = i18n.translator("sv")
    assert i18n.error_text(t, "customer.firstname", "At most 100 characters") == (
        "Skriv högst 100 tecken"
    )
    assert i18n.error_text(t, "customer.email", "anything new") == t("err.email")
    assert i18n.error_text(t, "unknown", "whatever") == t("err.generic")
