"""The guide's public JSON API (CONTRACT.md §3): address search, services on an access, and
placing orders. The guide's web pages use the same services."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from serviceguide.domain.clock import today_local
from serviceguide.domain.errors import Conflict, InvalidInput, NotFound, Throttled
from serviceguide.domain.ordering import (
    CustomerInput,
    OrderRequest,
    ValidationFailed,
    validate_request,
)
from serviceguide.services import addresses, guide, placing
from serviceguide.services.context import AppContext

router = APIRouter(prefix="/api/guide", tags=["Tjänsteguiden (JSON)"])

MAX_QUERY = 200
MAX_BODY = 64 * 1024
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
CUSTOMER_FIELDS = ("firstname", "surname", "serial", "email", "phone", "premise")
REQUIRED_CUSTOMER = CUSTOMER_FIELDS[:-1]


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


@router.get("/addresses", summary="Find accesses by address")
async def find_addresses(request: Request, q: str = "") -> Response:
    """Up to 20 accesses matching the text: street and number, postal code or city."""
    if len(q) > MAX_QUERY:
        return _errors(422, [InvalidInput("q", f"At most {MAX_QUERY} characters")])
    found = await addresses.search_addresses(_ctx(request), q, limit=20)
    return JSONResponse(
        [
            {"coid": a.coid, "accessId": a.access_id, "address": a.address, "premise": a.premise}
            for a in found
        ]
    )


@router.get("/accesses/{coid}/{access_id}/services", summary="Services offered on an access")
async def access_services(request: Request, coid: str, access_id: str) -> Response:
    """The services a customer at this access can order, with their provider and prices."""
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
            }
            for s in offered
        ]
    )


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


@router.post(
    "/orders", status_code=201, summary="Place orders: one customer, one order per service"
)
async def create_orders(request: Request) -> Response:
    """Stores the customer and one order per service in one transaction, or nothing.
    Bad input: 422 naming every offending field. `Idempotency-Key`: a repeat with the same key
    and body returns the first answer; the same key with another body is a 409."""
    ctx = _ctx(request)
    key = request.headers.get("idempotency-key")
    if key is not None and not _KEY.match(key):
        return _errors(422, [InvalidInput("Idempotency-Key", "1-200 visible ASCII characters")])
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return _errors(413, [InvalidInput("body", "Request body is too large")])
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return _errors(422, [InvalidInput("body", "Not valid JSON")])
    try:
        req = parse_order(body)
        placement = await placing.place_order(
            ctx,
            req,
            client_ip=request.client.host if request.client else None,
            idempotency_key=key,
        )
    except ValidationFailed as e:
        return _errors(422, e.errors)
    except Throttled as e:
        return _errors(429, [InvalidInput("", str(e))], {"Retry-After": str(e.retry_after)})
    except Conflict as e:
        return _errors(409, [InvalidInput("Idempotency-Key", str(e))])
    return JSONResponse(placement.to_public(), status_code=201)
