"""What every page of the guide (and the staff pages, which look the same) is made with: the
templates, the security headers on every answer, the language chosen, the CSRF token, and
``Page``, which renders a template or redirects with all of those applied."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from serviceguide import __version__
from serviceguide.services.context import AppContext
from serviceguide.web import TEMPLATE_DIR, csrf, i18n, secure_cookies

TEMPLATES = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

LANG_COOKIE = "sg_lang"
ADDRESS_MAX = 200
FIELD_MAX = 5000  # longer submissions are cut here; the limits that matter are far below

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

# The field names of the guide's JSON API (docs/guide-api.md) → the id of the input that shows
# the error.
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


def app_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def web_secret(request: Request) -> str:
    cached: str | None = getattr(request.app.state, "web_secret", None)
    if cached is None:
        cached = app_ctx(request).settings.resolved_secret_key()
        request.app.state.web_secret = cached
    return cached


class Page:
    """One response in the making: its language, its texts, and how it is rendered."""

    def __init__(self, request: Request) -> None:
        self.request = request
        asked = request.query_params.get("lang")
        self.remember_lang = asked in i18n.LANGS
        self.lang = i18n.pick(asked if self.remember_lang else request.cookies.get(LANG_COOKIE))
        self.t = i18n.translator(self.lang)
        self.guard = csrf.CsrfGuard(web_secret(request))

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
            switch_form=values.pop("switch_form", None),
            noindex=values.pop("noindex", False),
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


def form_text(value: object, limit: int = FIELD_MAX) -> str:
    """A form or query value as text (an uploaded file counts as empty), cut at ``limit``."""
    return value[:limit] if isinstance(value, str) else ""
