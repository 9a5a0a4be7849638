"""Tjänsteguiden's pages: find the address, choose services, give details, review, confirm.

Every step works with plain HTML forms. Nothing is kept on the server between steps: the
choices travel in the URL (address, services) and, once personal data is involved, in hidden
fields of POSTed forms; every step checks all it receives again, and confirming is checked by
``place_order`` once more. The review page creates a random idempotency key, so a double click
or a reload of the confirm POST places the orders once. After confirming, the browser is
redirected (POST-redirect-GET) to a thank-you page whose link is signed.

URLs::

    GET  /                                   address search form; ?q=TEXT lists matches
    GET  /access/{coid}/{accessId}           the services on that access, to choose from
    GET  /access/{coid}/{accessId}/details   ?service=ID&… → the customer's details form
    POST /access/{coid}/{accessId}/details   the same form, filled in again (from review)
    POST /access/{coid}/{accessId}/review    check the details, show everything to confirm
    POST /access/{coid}/{accessId}/confirm   place the orders, redirect to the thank-you page
    GET  /thanks/{customer}?t=SIGNED         the order numbers

Every page takes ``?lang=en`` (remembered in a cookie) and ``?adress=`` carries the address
text chosen in the search (shown only once the address search confirms it is that access).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from serviceguide import __version__
from serviceguide.domain.clock import today_local
from serviceguide.domain.errors import Conflict, NotFound, Throttled
from serviceguide.domain.model import AddressMatch, OfferedService
from serviceguide.domain.ordering import (
    MESSAGE_MAX,
    NAME_MAX,
    CleanCustomer,
    CustomerInput,
    OrderRequest,
    ValidationFailed,
    validate_request,
)
from serviceguide.domain.status import OrderStatus
from serviceguide.services import placing
from serviceguide.services.addresses import search_addresses
from serviceguide.services.context import AppContext
from serviceguide.services.guide import services_for_access
from serviceguide.web import csrf, i18n, secure_cookies

router = APIRouter(include_in_schema=False)

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

LANG_COOKIE = "sg_lang"
QUERY_MAX = 200
ADDRESS_MAX = 200
FIELD_MAX = 5000  # longer submissions are cut here; the limits that matter are far below
THANKS_MAX_AGE = 60 * 60 * 24 * 30
IDEMPOTENCY_PREFIX = "guide-web:"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

STEPS = ["address", "services", "details", "review", "done"]

# CONTRACT §3 field names → the id of the input that shows the error.
FIELD_IDS = {
    "customer.firstname": "firstname",
    "customer.surname": "surname",
    "customer.serial": "serial",
    "customer.email": "email",
    "customer.phone": "phone",
    "customer.premise": "premise",
    "delivery": "delivery_date",
    "message": "message",
    "services": "services",
    "q": "q",
}
LABELS = {"q": "search.label", "coid": "field.address", "accessId": "field.address"}


# --- plumbing -----------------------------------------------------------------------------------


def _app_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def _secret(request: Request) -> str:
    cached: str | None = getattr(request.app.state, "web_secret", None)
    if cached is None:
        cached = _app_ctx(request).settings.resolved_secret_key()
        request.app.state.web_secret = cached
    return cached


def _thanks_signer(request: Request) -> csrf.LinkSigner:
    return csrf.LinkSigner(_secret(request), "thanks")


class Page:
    """One response in the making: its language, its texts, and how it is rendered."""

    def __init__(self, request: Request) -> None:
        self.request = request
        asked = request.query_params.get("lang")
        self.remember_lang = asked in i18n.LANGS
        self.lang = i18n.pick(asked if self.remember_lang else request.cookies.get(LANG_COOKIE))
        self.t = i18n.translator(self.lang)
        self.guard = csrf.CsrfGuard(_secret(request))

    def money(self, amount: Decimal) -> str:
        return i18n.money(amount, self.lang)

    def switch_url(self) -> str:
        """This page in the other language (for GET pages)."""
        params = [(k, v) for k, v in self.request.query_params.multi_items() if k != "lang"]
        params.append(("lang", self.t("lang.other")))
        return f"{self.request.url.path}?{urlencode(params)}"

    def render(self, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
        errors: dict[str, str] = values.pop("errors", {})
        summary = [
            (
                FIELD_IDS.get(name, ""),
                self.t(LABELS.get(name, f"field.{name.removeprefix('customer.')}")),
                text,
            )
            for name, text in errors.items()
        ]
        html = TEMPLATES.get_template(template).render(
            lang=self.lang,
            t=self.t,
            money=self.money,
            version=__version__,
            csrf_field=csrf.FIELD,
            csrf_token=self.guard.token(self.request),
            switch_url=self.switch_url(),
            switch_draft=values.pop("switch_draft", None),
            switch_action=f"{values.pop('switch_path', '')}?lang={self.t('lang.other')}",
            errors={FIELD_IDS.get(k, k): v for k, v in errors.items()},
            error_summary=summary,
            steps=STEPS,
            **values,
        )
        response = HTMLResponse(html, status_code=status)
        self.finish(response)
        return response

    def finish(self, response: Response) -> None:
        response.headers.update(SECURITY_HEADERS)
        self.guard.set_cookie(self.request, response)
        if self.remember_lang:
            response.set_cookie(
                LANG_COOKIE,
                self.lang,
                max_age=60 * 60 * 24 * 365,
                httponly=True,
                samesite="lax",
                secure=secure_cookies(self.request),
            )

    def redirect(self, url: str) -> Response:
        response = RedirectResponse(url, status_code=303)
        self.finish(response)
        return response

    def problem(self, status: int, title_key: str, text_key: str) -> HTMLResponse:
        return self.render("problem.html", status=status, title_key=title_key, text_key=text_key)


def _text(value: object) -> str:
    """A form or query value as text (an uploaded file counts as empty), cut at FIELD_MAX."""
    return value[:FIELD_MAX] if isinstance(value, str) else ""


# --- the customer's draft order -----------------------------------------------------------------


@dataclass
class Draft:
    """Everything the customer has entered so far, exactly as entered."""

    service: list[str] = field(default_factory=list)
    adress: str = ""
    firstname: str = ""
    surname: str = ""
    serial: str = ""
    email: str = ""
    phone: str = ""
    premise: str = ""
    delivery: str = "asap"  # "asap" or "date"
    delivery_date: str = ""
    message: str = ""

    @classmethod
    def from_form(cls, form: Any) -> Draft:
        values: dict[str, Any] = {
            f.name: _text(form.get(f.name)) for f in fields(cls) if f.name != "service"
        }
        values["service"] = [_text(v) for v in form.getlist("service")][:50]
        values["adress"] = values["adress"][:ADDRESS_MAX]
        values["delivery"] = "date" if values["delivery"] == "date" else "asap"
        return cls(**values)

    def hidden(self) -> list[tuple[str, str]]:
        """The draft as hidden form fields, in a stable order."""
        out = [("service", s) for s in self.service]
        out += [(f.name, getattr(self, f.name)) for f in fields(self) if f.name != "service"]
        return out

    def services_query(self) -> str:
        return urlencode([("service", s) for s in self.service] + [("adress", self.adress)])


@dataclass
class Checked:
    """The result of checking a draft: what it means, or what is wrong with it."""

    errors: dict[str, str]
    chosen: list[OfferedService]
    request: OrderRequest | None = None
    customer: CleanCustomer | None = None
    message: str = ""


def _choose(
    offered: list[OfferedService], raw: list[str], t: i18n.Translate
) -> tuple[list[OfferedService], str | None]:
    """The chosen services in the order offered, or the text of what is wrong with the choice."""
    if not raw:
        return [], t("err.services.none")
    ids: list[int] = []
    for r in raw:
        try:
            ids.append(int(r.strip()))
        except ValueError:
            return [], t("err.services.not_offered")
    by_id = {s.id: s for s in offered}
    if any(i not in by_id for i in ids):
        return [], t("err.services.not_offered")
    if len(set(ids)) != len(ids):
        return [], t("err.services.twice")
    return [s for s in offered if s.id in ids], None


def _delivery(draft: Draft, t: i18n.Translate, today: date) -> tuple[date | None, str | None]:
    if draft.delivery != "date":
        return None, None
    raw = draft.delivery_date.strip()
    if not raw:
        return None, t("err.delivery.missing")
    try:
        return date.fromisoformat(raw), None
    except ValueError:
        example = (today + timedelta(days=14)).isoformat()
        return None, t("err.delivery.format", example=example)


def check_draft(
    coid: str, access_id: str, offered: list[OfferedService], draft: Draft, t: i18n.Translate
) -> Checked:
    """Every rule the order must meet, with each failure worded for the field it concerns."""
    today = today_local()
    errors: dict[str, str] = {}
    chosen, services_error = _choose(offered, draft.service, t)
    if services_error:
        errors["services"] = services_error
    delivery, delivery_error = _delivery(draft, t, today)
    if delivery_error:
        errors["delivery"] = delivery_error
    req = OrderRequest(
        coid=coid,
        access_id=access_id,
        service_ids=[s.id for s in chosen] or [0],  # a bad choice is reported above already
        customer=CustomerInput(
            firstname=draft.firstname,
            surname=draft.surname,
            serial=draft.serial,
            email=draft.email,
            phone=draft.phone,
            premise=draft.premise,
        ),
        delivery=delivery,
        message=draft.message,
    )
    try:
        customer, message = validate_request(req, today)
    except ValidationFailed as e:
        for err in e.errors:
            errors.setdefault(err.field, i18n.error_text(t, err.field, err.message))
        # An empty field is better answered with "fill it in" than with its format.
        for name in ("serial", "email", "phone"):
            if f"customer.{name}" in errors and not getattr(draft, name).strip():
                errors[f"customer.{name}"] = t(f"err.required.{name}")
        return Checked(_ordered(errors), chosen)
    if errors:
        return Checked(_ordered(errors), chosen)
    return Checked({}, chosen, req, customer, message)


def _ordered(errors: dict[str, str]) -> dict[str, str]:
    """Errors in the order their fields appear on the page, for the summary."""
    rank = {name: i for i, name in enumerate(FIELD_IDS)}
    return dict(sorted(errors.items(), key=lambda kv: rank.get(kv[0], -1)))


# --- lookups ------------------------------------------------------------------------------------


async def _verified_address(
    ctx: AppContext, coid: str, access_id: str, claimed: str
) -> AddressMatch | None:
    """The address as the market database has it, if ``claimed`` really leads to this access."""
    claimed = claimed.strip()[:ADDRESS_MAX]
    if not claimed:
        return None
    for match in await search_addresses(ctx, claimed):
        if match.coid == coid and match.access_id == access_id:
            return match
    return None


def _address_text(page: Page, coid: str, access_id: str, found: AddressMatch | None) -> str:
    if found is None:
        return page.t("access.label", access=access_id, coid=coid)
    if found.premise:
        return f"{found.address}, {page.t('search.premise', p=found.premise)}"
    return found.address


def _groups(offered: list[OfferedService]) -> list[tuple[str, list[OfferedService]]]:
    """Services by provider, in the order offered (by provider name, then price)."""
    groups: dict[int, tuple[str, list[OfferedService]]] = {}
    for s in offered:
        groups.setdefault(s.xsp, (s.xsp_name, []))[1].append(s)
    return list(groups.values())


@dataclass(frozen=True)
class _Access:
    """The access a page is about: its services, and its address once the search confirms it."""

    coid: str
    access_id: str
    offered: list[OfferedService]
    found: AddressMatch | None

    @property
    def base(self) -> str:
        return f"/access/{self.coid}/{self.access_id}"


async def _load_access(page: Page, coid: str, access_id: str, adress: str) -> _Access | None:
    ctx = _app_ctx(page.request)
    try:
        offered = await services_for_access(ctx, coid, access_id)
    except NotFound:
        return None
    return _Access(coid, access_id, offered, await _verified_address(ctx, coid, access_id, adress))


def _unknown_access(page: Page) -> HTMLResponse:
    return page.problem(404, "access.unknown.title", "access.unknown.text")


# --- pages --------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def start(request: Request) -> Response:
    """Address search: the form, and with ``q`` the matching addresses as links."""
    page = Page(request)
    raw = request.query_params.get("q")
    if raw is None:
        return page.render("search.html", q="", results=[])
    q = raw.strip()
    errors: dict[str, str] = {}
    results: list[dict[str, str]] = []
    if not q:
        errors["q"] = page.t("search.empty")
    elif len(q) > QUERY_MAX:
        errors["q"] = page.t("search.too_long", n=QUERY_MAX)
    else:
        for m in await search_addresses(_app_ctx(request), q):
            text = _address_text(page, m.coid, m.access_id, m)
            url = f"/access/{m.coid}/{m.access_id}?{urlencode({'adress': m.address})}"
            results.append({"text": text, "url": url})
        if not results:
            errors["q"] = page.t("search.none", q=q)
    return page.render("search.html", q=raw[:FIELD_MAX], results=results, errors=errors)


@router.get("/access/{coid}/{access_id}", response_class=HTMLResponse)
async def services_page(request: Request, coid: str, access_id: str) -> Response:
    """The services a customer at this access can order, grouped by provider."""
    page = Page(request)
    adress = _text(request.query_params.get("adress"))
    access = await _load_access(page, coid, access_id, adress)
    if access is None:
        return _unknown_access(page)
    selected = request.query_params.getlist("service")
    return _render_services(page, access, adress, selected, {})


def _render_services(
    page: Page, access: _Access, adress: str, selected: list[str], errors: dict[str, str]
) -> HTMLResponse:
    if access.found is None:
        heading = page.t("services.title.access", access=access.access_id, coid=access.coid)
    else:
        heading = page.t("services.title", address=_address_text(page, "", "", access.found))
    return page.render(
        "services.html",
        status=422 if errors else 200,
        access=access,
        heading=heading,
        adress=adress[:ADDRESS_MAX],
        groups=_groups(access.offered),
        selected=set(selected),
        errors=errors,
    )


@router.get("/access/{coid}/{access_id}/details", response_class=HTMLResponse)
async def details_page(request: Request, coid: str, access_id: str) -> Response:
    """The customer's details form, for the services chosen on the previous page."""
    page = Page(request)
    draft = Draft.from_form(request.query_params)
    access = await _load_access(page, coid, access_id, draft.adress)
    if access is None:
        return _unknown_access(page)
    chosen, problem = _choose(access.offered, draft.service, page.t)
    if problem:
        return _render_services(page, access, draft.adress, draft.service, {"services": problem})
    if access.found is not None:
        draft.premise = access.found.premise
    return _render_details(page, access, draft, chosen, {})


def _render_details(
    page: Page,
    access: _Access,
    draft: Draft,
    chosen: list[OfferedService],
    errors: dict[str, str],
    *,
    status: int | None = None,
) -> HTMLResponse:
    today = today_local()
    return page.render(
        "details.html",
        status=status or (422 if errors else 200),
        access=access,
        address=_address_text(page, access.coid, access.access_id, access.found),
        draft=draft,
        chosen=chosen,
        errors=errors,
        today=today.isoformat(),
        last_day=(today + timedelta(days=365)).isoformat(),
        name_max=NAME_MAX,
        message_max=MESSAGE_MAX,
        switch_draft=draft if page.request.method == "POST" else None,
        switch_path=f"{access.base}/review" if errors else f"{access.base}/details",
    )


async def _posted(
    request: Request, coid: str, access_id: str
) -> tuple[Page, Draft, _Access] | Response:
    """A POSTed step's form, or the answer refusing it: 403 without a valid CSRF token (before
    anything else is looked at), 404 for no such access."""
    page = Page(request)
    form = await request.form()
    if not page.guard.valid(request, form):
        return page.problem(403, "forbidden.title", "forbidden.text")
    draft = Draft.from_form(form)
    access = await _load_access(page, coid, access_id, draft.adress)
    if access is None:
        return _unknown_access(page)
    return page, draft, access


@router.post("/access/{coid}/{access_id}/details", response_class=HTMLResponse)
async def details_again(request: Request, coid: str, access_id: str) -> Response:
    """The details form filled in with what was posted (the review page's "change" button)."""
    posted = await _posted(request, coid, access_id)
    if isinstance(posted, Response):
        return posted
    page, draft, access = posted
    chosen, problem = _choose(access.offered, draft.service, page.t)
    if problem:
        return _render_services(page, access, draft.adress, draft.service, {"services": problem})
    return _render_details(page, access, draft, chosen, {})


@router.post("/access/{coid}/{access_id}/review", response_class=HTMLResponse)
async def review_page(request: Request, coid: str, access_id: str) -> Response:
    """Check everything; show it for confirmation, or the form again with what is wrong."""
    posted = await _posted(request, coid, access_id)
    if isinstance(posted, Response):
        return posted
    page, draft, access = posted
    checked = check_draft(coid, access_id, access.offered, draft, page.t)
    if checked.errors:
        return _render_details(page, access, draft, checked.chosen, checked.errors)
    return _render_review(page, access, draft, checked)


def _render_review(
    page: Page,
    access: _Access,
    draft: Draft,
    checked: Checked,
    *,
    status: int = 200,
    notice: str = "",
) -> HTMLResponse:
    assert checked.request is not None and checked.customer is not None
    serial = checked.customer.serial
    return page.render(
        "review.html",
        status=status,
        access=access,
        address=_address_text(page, access.coid, access.access_id, access.found),
        draft=draft,
        chosen=checked.chosen,
        customer=checked.customer,
        serial=f"{serial[:8]}-{serial[8:]}",
        delivery=checked.request.delivery,
        message=checked.message,
        total_monthly=sum((s.price_monthly for s in checked.chosen), Decimal(0)),
        total_once=sum((s.price_once for s in checked.chosen), Decimal(0)),
        idempotency_key=secrets.token_urlsafe(24),
        notice=notice,
        switch_draft=draft,
        switch_path=f"{access.base}/review",
    )


def _idempotency_key(form_value: str) -> str | None:
    key = form_value.strip()
    if 16 <= len(key) <= 64 and all(c.isalnum() or c in "-_" for c in key):
        return IDEMPOTENCY_PREFIX + key
    return None


@router.post("/access/{coid}/{access_id}/confirm", response_class=HTMLResponse)
async def confirm(request: Request, coid: str, access_id: str) -> Response:
    """Place the orders (once per idempotency key) and redirect to the thank-you page."""
    posted = await _posted(request, coid, access_id)
    if isinstance(posted, Response):
        return posted
    page, draft, access = posted
    checked = check_draft(coid, access_id, access.offered, draft, page.t)
    if checked.errors or checked.request is None:
        return _render_details(page, access, draft, checked.chosen, checked.errors)
    form = await request.form()
    try:
        placement = await placing.place_order(
            _app_ctx(request),
            checked.request,
            client_ip=request.client.host if request.client else None,
            idempotency_key=_idempotency_key(_text(form.get("idempotency_key"))),
        )
    except ValidationFailed as e:
        errors = {err.field: i18n.error_text(page.t, err.field, err.message) for err in e.errors}
        return _render_details(page, access, draft, checked.chosen, _ordered(errors))
    except Throttled as e:
        response = _render_review(
            page, access, draft, checked, status=429, notice=page.t("throttled", n=e.retry_after)
        )
        response.headers["Retry-After"] = str(e.retry_after)
        return response
    except Conflict:
        return _render_review(page, access, draft, checked, status=409, notice=page.t("conflict"))
    assert checked.customer is not None
    token = _thanks_signer(request).dumps(
        {
            "c": placement.customer_id,
            "n": checked.customer.firstname,
            "k": coid,
            "x": access_id,
            "a": _address_text(page, coid, access_id, access.found),
            "o": [[o.id, o.service_id, str(o.status)] for o in placement.orders],
        }
    )
    return page.redirect(f"/thanks/{placement.customer_id}?{urlencode({'t': token})}")


@router.get("/thanks/{customer_id}", response_class=HTMLResponse)
async def thanks(request: Request, customer_id: str) -> Response:
    """The order numbers, for whoever holds the signed link made when the orders were placed."""
    page = Page(request)
    data = _thanks_signer(request).loads(_text(request.query_params.get("t")), THANKS_MAX_AGE)
    if not isinstance(data, dict) or str(data.get("c")) != customer_id:
        return page.problem(404, "thanks.invalid.title", "thanks.invalid.text")
    try:
        offered = await services_for_access(_app_ctx(request), str(data["k"]), str(data["x"]))
    except NotFound:
        offered = []
    names = {s.id: s for s in offered}
    orders = [
        {
            "id": oid,
            "service": names.get(sid),
            "service_id": sid,
            "direct": status == OrderStatus.DELIVERED.value,
            "status": status,
        }
        for oid, sid, status in data["o"]
    ]
    return page.render(
        "thanks.html",
        name=str(data.get("n", "")),
        address=str(data.get("a", "")),
        orders=orders,
        direct_count=sum(1 for o in orders if o["direct"]),
    )
