"""The customer's draft order: everything entered so far, carried from step to step in the URL or
in hidden fields, and ``check_draft``, which checks all of it again at every step and words each
failure for the field it concerns."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from serviceguide.domain.clock import today_local
from serviceguide.domain.model import OfferedService
from serviceguide.domain.ordering import (
    CleanCustomer,
    CustomerInput,
    OrderRequest,
    ValidationFailed,
    validate_request,
)
from serviceguide.web import i18n
from serviceguide.web.guide.page import ADDRESS_MAX, FIELD_IDS, form_text


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
            f.name: form_text(form.get(f.name)) for f in fields(cls) if f.name != "service"
        }
        values["service"] = [form_text(v) for v in form.getlist("service")][:50]
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


def choose(
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
    chosen, services_error = choose(offered, draft.service, t)
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
        return Checked(ordered(errors), chosen)
    if errors:
        return Checked(ordered(errors), chosen)
    return Checked({}, chosen, req, customer, message)


def ordered(errors: dict[str, str]) -> dict[str, str]:
    """Errors in the order their fields appear on the page, for the summary."""
    rank = {name: i for i, name in enumerate(FIELD_IDS)}
    return dict(sorted(errors.items(), key=lambda kv: rank.get(kv[0], -1)))
