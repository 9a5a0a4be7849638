"""The guide's public JSON API (docs/guide-api.md): address search, services on an access, and
placing orders. The guide's web pages use the same services."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from serviceguide.api import textrules
from serviceguide.domain.clock import today_local
from serviceguide.domain.errors import (
    Conflict,
    DuplicateOrder,
    InvalidInput,
    NotFound,
    Throttled,
)
from serviceguide.domain.mailaddress import MAX_LENGTH as MAX_EMAIL
from serviceguide.domain.ordering import (
    MESSAGE_MAX,
    NAME_MAX,
    PHONE,
    CustomerInput,
    OrderRequest,
    ValidationFailed,
    validate_request,
)
from serviceguide.domain.status import OrderStatus
from serviceguide.services import addresses, guide, placing
from serviceguide.services.context import AppContext

router = APIRouter(prefix="/api/guide", tags=["Tjänsteguiden (JSON)"])

MAX_QUERY = 200
MAX_BODY = 64 * 1024
MAX_ID = 2**63 - 1  # ids are 64-bit integers (PostgreSQL bigint)
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
CUSTOMER_FIELDS = ("firstname", "surname", "serial", "email", "phone", "premise")
REQUIRED_CUSTOMER = CUSTOMER_FIELDS[:-1]


# The answers as documented in the OpenAPI description (the handlers build them by hand).
class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldError(_Doc):
    field: str = Field(description='the offending field, e.g. `customer.serial`; `""` if none')
    message: str


class Errors(_Doc):
    errors: list[FieldError]


class ConflictErrors(_Doc):
    errors: list[FieldError]
    existing_orders: list[int] | None = Field(
        default=None,
        description="for a duplicate: the person's open orders for the same services at this "
        "access, placed in the last 24 hours",
    )


class AddressOut(_Doc):
    coid: str
    accessId: str  # the contract's name
    address: str
    premise: str = Field(description='apartment number or premise id, `""` if none')


class ServiceOut(_Doc):
    id: int
    uid: str
    name: str
    xsp: int
    xsp_name: str
    price_monthly: float
    price_once: float
    direct_activation: bool
    description: str = Field(description="extension: speed or a short description")
    # Extensions: what customers compare, from the TL's ON-API products (None: not stated).
    offering_name: str | None = Field(description="extension: the offering, under `name`")
    price_period: str | None = Field(description="extension: ISO 8601, e.g. P1M; None: a month")
    agreement_length: str | None = Field(description="extension: binding time, ISO 8601")
    notice_period: str | None = Field(description="extension: notice period, ISO 8601")
    campaign: bool = Field(description="extension: a campaign offer")
    campaign_length: str | None = Field(description="extension: the campaign price's length")
    base_price: float | None = Field(description="extension: the price after the campaign")
    consumer_types: list[str] = Field(description="extension: residential, business, …")
    terms_url: str | None = Field(description="extension: the TL's terms and conditions")
    privacy_url: str | None = Field(description="extension: the TL's privacy policy")


class SpAnswerOut(_Doc):
    state: Literal["CONFIRMED", "REJECTED", "PENDING"] = Field(
        description="the TL's answer to the pushed order; PENDING: none yet (the provider will "
        "confirm by e-mail)"
    )
    externalMessage: str = Field(  # the spec's name
        description="the TL's words for the customer, to be shown as text; empty when PENDING"
    )


class PlacedOrderOut(_Doc):
    id: int
    service: int
    xsp: int
    status: OrderStatus = Field(
        description="`new`; `delivered` when directly activated; for an order pushed to its TL "
        "over ON-API, `received` or `cancelled` as the TL answered"
    )
    sp: SpAnswerOut | None = Field(
        default=None,
        description="only for an order pushed to its TL over ON-API (docs/onapi-sp.md)",
    )


class PlacementOut(_Doc):
    customer: int
    orders: list[PlacedOrderOut]


def _error_doc(description: str, **headers: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {"model": Errors, "description": description}
    if headers:
        doc["headers"] = headers
    return doc


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


#: The server's own answer to a body over its limit (serviceguide.middleware.RequestLimits).
_DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
    "additionalProperties": False,
}

_RETRY_AFTER = {"schema": {"type": "integer", "minimum": 0}, "required": True}

# What parse_order and the domain's checks take, as patterns (serviceguide.api.textrules); what
# no pattern can say is in the descriptions: a 422 names the field.
_SOMETHING = "^[^\\x00]*[^\\x00" + textrules.WS + "][^\\x00]*$"
_SERIAL = "[0-9](?: *[0-9]){5}(?:(?: *[0-9]){2})?(?: *[-+])?(?: *[0-9]){4}"
_ORDER_BODY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "coid": {
            "type": "string",
            "pattern": _SOMETHING,
            "description": "the network (KO) of the access; 422 if it has no such access",
        },
        "accessId": {"type": "string", "pattern": _SOMETHING},
        "services": {
            "type": "array",
            "items": {"type": "integer"},
            "minItems": 1,
            "uniqueItems": True,
            "description": "service ids offered on the access (see `…/services`); 422 names "
            "any that is not",
        },
        "customer": {
            "type": "object",
            "properties": {
                "firstname": {
                    "type": "string",
                    "pattern": textrules.trimmed(NAME_MAX, required=True),
                    "description": f"at most {NAME_MAX} characters once leading and trailing "
                    "whitespace is removed, no control characters",
                },
                "surname": {
                    "type": "string",
                    "pattern": textrules.trimmed(NAME_MAX, required=True),
                    "description": f"as `firstname`, at most {NAME_MAX} characters",
                },
                "serial": {
                    "type": "string",
                    "pattern": textrules.stripped(_SERIAL),
                    "description": "personnummer, 10 or 12 digits, `-` or `+` before the last "
                    "four, spaces anywhere; it must also hold a date of birth that is not in "
                    "the future and a right check digit",
                },
                "email": {
                    "type": "string",
                    "format": "email",
                    "pattern": textrules.EMAIL,
                    "not": {"pattern": textrules.EMAIL_RESERVED},
                    "maxLength": MAX_EMAIL,
                    "description": "an address mail can be sent to: ASCII before the `@`, a "
                    "domain name with a dot that is not reserved (`localhost`, `.test`, …)",
                },
                "phone": {"type": "string", "pattern": textrules.stripped(PHONE.pattern[1:-1])},
                "premise": {
                    "type": "string",
                    "pattern": textrules.stripped("[0-9A-Za-z\\- ]{0,20}"),
                    "description": "apartment number or premise id",
                },
            },
            "required": list(REQUIRED_CUSTOMER),
        },
        "delivery": {
            "anyOf": [
                {"const": "asap"},
                {"type": "string", "format": "date", "pattern": textrules.DATE},
            ],
            "description": '`"asap"` or a date `YYYY-MM-DD`, today up to one year ahead',
        },
        "message": {
            "type": "string",
            "pattern": textrules.trimmed(MESSAGE_MAX, required=False),
            "description": f"at most {MESSAGE_MAX} characters once leading and trailing "
            "whitespace is removed, no control characters other than tab and line breaks",
        },
        "confirm_duplicate": {
            "type": "boolean",
            "description": "order even if the same person has open orders for the same "
            "services at this access placed in the last 24 hours (else 409)",
        },
    },
    "required": ["coid", "accessId", "services", "customer", "delivery"],
}


def _errors(
    status: int, errors: list[InvalidInput], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"field": e.field, "message": e.message} for e in errors]},
        status_code=status,
        headers=headers,
    )


def _ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


@router.get(
    "/addresses",
    summary="Find accesses by address",
    responses={
        200: {"model": list[AddressOut]},
        422: _error_doc(f"`q` longer than {MAX_QUERY} characters"),
    },
    # Read from the query, not declared as an argument: the 422 is the handler's own.
    openapi_extra={
        "parameters": [
            {
                "name": "q",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "maxLength": MAX_QUERY, "default": ""},
                "description": "street and number, postal code or city, or part of them",
            }
        ]
    },
)
async def find_addresses(request: Request) -> Response:
    """Up to 20 accesses matching the text: street and number, postal code or city."""
    q = request.query_params.get("q", "")
    if len(q) > MAX_QUERY:
        return _errors(422, [InvalidInput("q", f"At most {MAX_QUERY} characters")])
    found = await addresses.search_addresses(_ctx(request), q, limit=20)
    return JSONResponse(
        [
            {"coid": a.coid, "accessId": a.access_id, "address": a.address, "premise": a.premise}
            for a in found
        ]
    )


@router.get(
    "/accesses/{coid}/{access_id}/services",
    summary="Services offered on an access",
    responses={
        200: {"model": list[ServiceOut]},
        404: _error_doc("no such access in that network"),
    },
    # Read from the path, not declared as arguments: any text is valid, so no 422 to document.
    openapi_extra={"parameters": [_path_param("coid"), _path_param("access_id")]},
)
async def access_services(request: Request) -> Response:
    """The services a customer at this access can order, with their provider and prices."""
    coid, access_id = request.path_params["coid"], request.path_params["access_id"]
    try:
        offered = await guide.services_for_access(_ctx(request), coid, access_id)
    except NotFound:
        return _errors(404, [InvalidInput("accessId", "No such access in that network")])
    return JSONResponse(
        [
            {
                "id": s.id,
                "uid": s.uid,
                "name": s.name,
                "xsp": s.xsp,
                "xsp_name": s.xsp_name,
                "price_monthly": float(s.price_monthly),
                "price_once": float(s.price_once),
                "direct_activation": s.direct_activation,
                "description": s.description,  # extension: speed or a short description
                "offering_name": s.offering_name,
                "price_period": s.price_period,
                "agreement_length": s.agreement_length,
                "notice_period": s.notice_period,
                "campaign": s.campaign,
                "campaign_length": s.campaign_length,
                "base_price": None if s.base_price is None else float(s.base_price),
                "consumer_types": list(s.consumer_types),
                "terms_url": s.terms_url,
                "privacy_url": s.privacy_url,
            }
            for s in offered
        ]
    )


_SURROGATE = re.compile("[\ud800-\udfff]")


def _unstorable(text: str) -> bool:
    """NUL, or a lone surrogate (JSON can escape one): text no database column can hold or be
    compared with, and that cannot even be encoded as UTF-8."""
    return "\x00" in text or (not text.isascii() and _SURROGATE.search(text) is not None)


def _text(
    errors: list[InvalidInput], doc: dict[str, Any], name: str, field: str, *, required: bool
) -> str:
    value = doc.get(name)
    if value is None:
        if required:
            errors.append(InvalidInput(field, "Required"))
        return ""
    if not isinstance(value, str):
        errors.append(InvalidInput(field, "Must be a string"))
        return ""
    if _unstorable(value):
        errors.append(InvalidInput(field, "Must not contain NUL or lone surrogate characters"))
        return ""
    return value


def parse_order(body: Any) -> OrderRequest:
    """The JSON body as an :class:`OrderRequest`; type errors name their field."""
    if not isinstance(body, dict):
        raise ValidationFailed([InvalidInput("body", "Expected a JSON object")])
    errors: list[InvalidInput] = []
    coid = _text(errors, body, "coid", "coid", required=True)
    access_id = _text(errors, body, "accessId", "accessId", required=True)
    services = body.get("services")
    service_ids: list[int] = []
    if not isinstance(services, list) or not all(
        isinstance(s, int) and not isinstance(s, bool) for s in services
    ):
        errors.append(InvalidInput("services", "Must be a list of service ids (integers)"))
    elif too_big := [s for s in services if not -MAX_ID <= s <= MAX_ID]:
        # No service has such an id, and the database cannot even compare with it.
        errors.append(InvalidInput("services", f"No such service: {str(too_big[0])[:40]}"))
    else:
        service_ids = services
    cust = body.get("customer")
    values = {}
    if not isinstance(cust, dict):
        errors.append(InvalidInput("customer", "Must be an object with the customer's details"))
        cust = {}
    for name in CUSTOMER_FIELDS:
        values[name] = _text(
            errors, cust, name, f"customer.{name}", required=name in REQUIRED_CUSTOMER
        )
    delivery: date | None = None
    raw_delivery = body.get("delivery")
    if raw_delivery is None:
        errors.append(InvalidInput("delivery", 'Required: "asap" or a date YYYY-MM-DD'))
    elif raw_delivery != "asap":
        try:
            if not isinstance(raw_delivery, str) or not re.fullmatch(
                r"\d{4}-\d\d-\d\d", raw_delivery
            ):
                raise ValueError
            delivery = date.fromisoformat(raw_delivery)
        except ValueError:
            errors.append(InvalidInput("delivery", 'Must be "asap" or a date YYYY-MM-DD'))
    message = _text(errors, body, "message", "message", required=False)
    req = OrderRequest(
        coid=coid,
        access_id=access_id,
        service_ids=service_ids,
        customer=CustomerInput(**values),
        delivery=delivery,
        message=message,
    )
    if errors:
        # Also run the domain's checks on whatever did parse, so one answer names every field.
        try:
            validate_request(req, today_local())
        except ValidationFailed as more:
            seen = {e.field for e in errors}
            errors += [e for e in more.errors if e.field not in seen]
        raise ValidationFailed(errors)
    return req


def receipt_language(accept_language: str) -> str:
    """``en`` when the client prefers English to Swedish (``Accept-Language``), else ``sv``:
    the language of the customer's receipt and order page."""
    best: dict[str, float] = {}
    for part in accept_language.split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        lang = tag.strip().lower()[:2]
        if lang in ("sv", "en"):
            best[lang] = max(best.get(lang, 0.0), q)
    return "en" if best.get("en", 0.0) > best.get("sv", 0.0) else "sv"


#: More digits than any field takes (ids are 64-bit); also far below Python's 4 300-digit limit
#: on converting text to int, which would make valid JSON fail to parse.
_INT_DIGITS = 100


def _bounded_int(text: str) -> int:
    """A JSON integer, or for one of more than :data:`_INT_DIGITS` digits a number as far out
    of every field's range, so that the answer names the field instead of calling valid JSON
    invalid."""
    if len(text.lstrip("-")) <= _INT_DIGITS:
        return int(text)
    return -(10**_INT_DIGITS) if text.startswith("-") else 10**_INT_DIGITS


def _is_json(content_type: str) -> bool:
    return content_type.partition(";")[0].strip().lower() == "application/json"


@router.post(
    "/orders",
    status_code=201,
    summary="Place orders: one customer, one order per service",
    responses={
        201: {"model": PlacementOut, "description": "the customer and one order per service"},
        409: {
            "model": ConflictErrors,
            "description": "the Idempotency-Key was used before with another body; or the same "
            "person has open orders for the same services at this access placed in the last 24 "
            'hours (`existing_orders`; send `"confirm_duplicate": true` to order again)',
        },
        413: {
            "description": f"body larger than {MAX_BODY} bytes (`errors`), or than the server's "
            "limit on any request (`detail`, `SERVICEGUIDE_MAX_REQUEST_BYTES`)",
            "content": {
                "application/json": {
                    "schema": {"anyOf": [{"$ref": "#/components/schemas/Errors"}, _DETAIL]}
                }
            },
        },
        415: _error_doc("the body is not sent as `application/json`"),
        422: _error_doc("bad input; every offending field is named"),
        429: _error_doc(
            "too many orders from this client address; see Retry-After",
            **{"Retry-After": _RETRY_AFTER},
        ),
    },
    openapi_extra={
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,200}$"},
                "description": "a repeat with the same key and body returns the first answer",
            }
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ORDER_BODY}},
        },
    },
)
async def create_orders(request: Request) -> Response:
    """Stores the customer and one order per service in one transaction, or nothing.
    Bad input: 422 naming every offending field. `Idempotency-Key`: a repeat with the same key
    and body returns the first answer; the same key with another body is a 409. The customer
    is sent a receipt with a link to their order page, in English when `Accept-Language`
    prefers English to Swedish, else in Swedish."""
    ctx = _ctx(request)
    if not _is_json(request.headers.get("content-type", "")):
        # A form or text/plain body is what any web page can make a visitor's browser send
        # without asking (no CORS preflight): refused, so that no other site can order.
        return _errors(415, [InvalidInput("Content-Type", "Send the order as application/json")])
    key = request.headers.get("idempotency-key")
    if key is not None and not _KEY.match(key):
        return _errors(422, [InvalidInput("Idempotency-Key", "1-200 visible ASCII characters")])
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return _errors(413, [InvalidInput("body", "Request body is too large")])
    try:
        body = json.loads(raw, parse_int=_bounded_int)
    except (ValueError, UnicodeDecodeError):
        return _errors(422, [InvalidInput("body", "Not valid JSON")])
    except RecursionError:  # thousands of nested [ or { fit in the body limit
        return _errors(422, [InvalidInput("body", "JSON nested too deeply")])
    confirm = body.get("confirm_duplicate", False) if isinstance(body, dict) else False
    try:
        req = parse_order(body)
        if not isinstance(confirm, bool):
            raise ValidationFailed([InvalidInput("confirm_duplicate", "Must be true or false")])
        placement = await placing.place_order(
            ctx,
            req,
            client_ip=request.client.host if request.client else None,
            idempotency_key=key,
            lang=receipt_language(request.headers.get("accept-language", "")),
            confirm_duplicate=confirm,
        )
    except ValidationFailed as e:
        return _errors(422, e.errors)
    except Throttled as e:
        return _errors(429, [InvalidInput("", str(e))], {"Retry-After": str(e.retry_after)})
    except DuplicateOrder as e:
        return JSONResponse(
            {
                "errors": [{"field": "confirm_duplicate", "message": str(e)}],
                "existing_orders": e.orders,
            },
            status_code=409,
        )
    except Conflict as e:
        return _errors(409, [InvalidInput("Idempotency-Key", str(e))])
    return JSONResponse(placement.to_public(), status_code=201)
