"""The customer's draft order: everything entered so far, kept in the guide's server-side session
between the steps (services.guide_sessions), and ``check_draft``, which checks all of it again at
every step and words each failure for the field it concerns."""

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

#: The customer's own details: kept when the customer moves on to another address.
PERSONAL = ("firstname", "surname", "serial", "email", "phone")


@dataclass
class Draft:
    """Everything the customer has entered so far, exactly as entered, and where the order is:
    ``key`` names this version of the draft (a review page confirms only the version it
    showed, once: it is the placement's idempotency key); ``token`` is the order page's token
    the placement gets; ``placed`` is set once the orders are placed (the draft then holds no
    personal details any more)."""

    coid: str = ""
    access_id: str = ""
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
    key: str = ""
    token: str = ""
    placed: str = ""

    @classmethod
    def from_form(cls, form: Any, coid: str, access_id: str) -> Draft:
        """What the details form sent (never ``key``, ``token`` or ``placed``)."""
        values: dict[str, Any] = {name: form_text(form.get(name)) for name in _FORM_FIELDS}
        values["service"] = [form_text(v) for v in form.getlist("service")][:50]
        values["adress"] = values["adress"][:ADDRESS_MAX]
        values["delivery"] = "date" if values["delivery"] == "date" else "asap"
        return cls(coid=coid, access_id=access_id, **values)

    @classmethod
    def from_dict(cls, saved: dict[str, Any] | None) -> Draft | None:
        """A draft as the session kept it; None for none or one that does not fit."""
        if not saved:
            return None
        try:
            values = {f.name: saved[f.name] for f in fields(cls)}
        except KeyError:
            return None
        if not all(isinstance(v, str) for k, v in values.items() if k != "service"):
            return None
        if not isinstance(values["service"], list):
            return None
        values["service"] = [str(v) for v in values["service"]][:50]
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def is_for(self, coid: str, access_id: str) -> bool:
        return (self.coid, self.access_id) == (coid, access_id)

    def carried_to(self, coid: str, access_id: str) -> Draft:
        """This draft as the start of an order at an access: all of it for the same access while
        it is not placed; else only the customer's own details (none once placed)."""
        if self.is_for(coid, access_id) and not self.placed:
            return Draft(**self.to_dict())
        if self.placed:
            return Draft(coid=coid, access_id=access_id)
        return Draft(
            coid=coid, access_id=access_id, **{name: getattr(self, name) for name in PERSONAL}
        )

    def services_query(self) -> str:
        return urlencode([("service", s) for s in self.service] + [("adress", self.adress)])


_FORM_FIELDS = (
    "adress",
    "firstname",
    "surname",
    "serial",
    "email",
    "phone",
    "premise",
    "delivery",
    "delivery_date",
    "message",
)


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
