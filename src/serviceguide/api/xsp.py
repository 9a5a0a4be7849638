"""The XSP order API, ``/plain/serviceguide_log``, compatible with the original platform.

One URL; the method is named by the ``method`` parameter. Authentication is checked first (401),
then parameters (400), then visibility (404). See docs/api.md for every method and field.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from serviceguide.api import params as p
from serviceguide.api.envelope import Node, render_json, render_xml
from serviceguide.api.xsp_rows import RowList
from serviceguide.domain.clock import fmt_seconds
from serviceguide.domain.errors import (
    AuthenticationFailed,
    DomainError,
    InvalidInput,
    NotFound,
    Throttled,
    TransitionNotAllowed,
)
from serviceguide.domain.model import Caller, OrderSummary
from serviceguide.domain.status import EventType, MessageType, OrderStatus
from serviceguide.observability import metrics
from serviceguide.services import auth
from serviceguide.services import orders as svc
from serviceguide.services.availability import RETRY_AFTER_SECONDS, is_outage
from serviceguide.services.context import AppContext

log = logging.getLogger(__name__)
router = APIRouter()

PATH = "/plain/serviceguide_log"
ERROR_ROOT = "serviceguide_log"


@dataclass(slots=True)
class Call:
    ctx: AppContext
    params: dict[str, str]
    request: Request
    caller: Caller | None = None


Handler = Callable[[Call], Awaitable[list[Node] | RowList]]


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _order_fields(o: OrderSummary) -> list[Node]:
    return [
        ("id", o.id),
        ("type", "order"),
        ("date", fmt_seconds(o.created_at)),
        ("status", o.status.value),
        ("service", o.service_id),
        ("xsp", o.xsp),
        ("delivery", "asap" if o.delivery is None else o.delivery.isoformat()),
        ("customer", o.customer_id),
    ]


async def _api_login(call: Call) -> list[Node]:
    api_user = p.api_user(p.required(call.params, "api_user"))
    api_key = p.required(call.params, "api_key")
    login = await auth.api_login(call.ctx, api_user, api_key, _client_ip(call.request))
    return [
        ("message", f"{login.caller.user_name} logged in"),
        ("hash_key", login.hash_key),
    ]


def _window(params: dict[str, str]) -> tuple[date | None, int | None, int | None]:
    """``date``, ``since_id`` and ``limit`` of a list method. ``limit`` is checked whenever it
    is given but applies only to ``since_id`` polling: a query by date alone returns every
    matching row, as the original platform does."""
    since_id = p.optional_since_id(params)
    day = p.parse_date(params) if since_id is None or "date" in params else None
    limit = p.optional_limit(params)
    return day, since_id, (limit if since_id is not None else None)


async def _orders(call: Call) -> RowList:
    assert call.caller
    day, since_id, limit = _window(call.params)
    rows = await svc.list_orders(call.ctx, call.caller, day=day, since_id=since_id, limit=limit)
    return RowList.of("order", rows)


async def _customers(call: Call) -> RowList:
    assert call.caller
    day, since_id, limit = _window(call.params)
    rows = await svc.list_customers(
        call.ctx,
        call.caller,
        day=day,
        since_id=since_id,
        limit=limit,
        client=_client_ip(call.request),
    )
    return RowList.of("customer", rows)


async def _order_info(call: Call) -> list[Node]:
    assert call.caller
    o = await svc.order_info(call.ctx, call.caller, p.positive_int(call.params, "id"))
    return [
        (
            "order",
            [
                *_order_fields(o.summary),
                ("service_uid", o.service_uid),
                ("service_name", o.service_name),
                ("xsp_name", o.xsp_name),
                ("coid", o.coid),
                ("socket", o.socket),
                ("price_monthly", o.price_monthly),
                ("price_once", o.price_once),
                ("message", o.message),
                ("updated", fmt_seconds(o.updated_at)),
            ],
        )
    ]


async def _customer_info(call: Call) -> list[Node]:
    assert call.caller
    c = await svc.customer_info(
        call.ctx, call.caller, p.positive_int(call.params, "id"), _client_ip(call.request)
    )
    s = c.summary
    return [
        (
            "customer",
            [
                ("id", s.id),
                ("socket", s.socket),
                ("serial", s.serial),
                ("firstname", s.firstname),
                ("surname", s.surname),
                ("email", c.email),
                ("address", c.address),
                ("zip", c.zip),
                ("city", c.city),
            ],
        ),
        ("data", [("phone", c.phone), ("premise", c.premise)]),
    ]


async def _order_log(call: Call) -> RowList:
    assert call.caller
    entries = await svc.order_log(call.ctx, call.caller, p.positive_int(call.params, "id"))
    return RowList.of("entry", entries)


async def _set_status(call: Call) -> list[Node]:
    assert call.caller
    order_id = p.positive_int(call.params, "id")
    status = p.status(call.params)
    await svc.set_status(call.ctx, call.caller, order_id, status)
    return [("message", f"Status changed to {status.value} for order {order_id}")]


async def _add_message(call: Call) -> list[Node]:
    assert call.caller
    order_id = p.positive_int(call.params, "id")
    mtype = p.message_type(call.params)
    text = p.message_text(call.params, call.ctx.settings.message_max_length)
    await svc.add_message(call.ctx, call.caller, order_id, text, mtype)
    return [("message", f"Message added to order {order_id}")]


async def _events(call: Call) -> RowList:
    assert call.caller
    since_id = p.optional_since_id(call.params)
    if since_id is None:
        raise InvalidInput("since_id", "Missing parameter: since_id")
    limit = p.optional_limit(call.params)
    rows = await svc.events(call.ctx, call.caller, since_id=since_id, limit=limit)
    return RowList.of("event", rows)


HANDLERS: dict[str, Handler] = {
    "api_login": _api_login,
    "orders": _orders,
    "customers": _customers,
    "order_info": _order_info,
    "customer_info": _customer_info,
    "order_log": _order_log,
    "set_status": _set_status,
    "add_message": _add_message,
    "events": _events,
}

#: The element each list method repeats; in JSON it is present (as []) even when empty.
LIST_ELEMENT = {"orders": "order", "customers": "customer", "order_log": "entry", "events": "event"}


def _wants_json(request: Request, params: dict[str, str], problems: list[InvalidInput]) -> bool:
    fmt = params.get("output_format")
    if fmt in ("xml", "json"):
        return fmt == "json"
    if fmt is not None:
        problems.append(
            InvalidInput("output_format", "Parameter output_format must be xml or json")
        )
    return "application/json" in request.headers.get("accept", "")


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def _authenticate(call: Call, method: str) -> Caller:
    hash_key = call.params.get("hash") or _bearer(call.request)
    if not hash_key and method == "add_message" and "api_user" in call.params:
        try:
            api_user = p.api_user(call.params["api_user"])
        except InvalidInput:
            raise AuthenticationFailed("Invalid api_user") from None
        return await auth.caller_for_allowlisted_user(call.ctx, api_user, _client_ip(call.request))
    return await auth.caller_for_hash(call.ctx, hash_key)


def _respond(
    root: str,
    nodes: list[Node] | RowList,
    status: str,
    code: int,
    as_json: bool,
    headers: dict[str, str] | None = None,
) -> Response:
    media = "application/json" if as_json else "application/xml; charset=utf-8"
    h = {"Cache-Control": "no-store"}
    if headers:
        h.update(headers)
    metrics.xsp_call(root, code)
    if isinstance(nodes, RowList):  # a list method's rows, written as they come
        if nodes.streamed:
            return StreamingResponse(nodes.chunks(root, as_json), media_type=media, headers=h)
        return Response(nodes.body(root, as_json), status_code=code, media_type=media, headers=h)
    arrays = (LIST_ELEMENT[root],) if root in LIST_ELEMENT and status == "success" else ()
    body = render_json(root, nodes, status, arrays) if as_json else render_xml(root, nodes, status)
    return Response(body, status_code=code, media_type=media, headers=h)


def _failure(root: str, message: str, code: int, as_json: bool, **headers: str) -> Response:
    return _respond(root, [("message", message), ("code", code)], "failed", code, as_json, headers)


_DOC = """The XSP order API. GET with query parameters or POST a form with the same fields
(the query string and the form are merged); `method` names the call. Answers XML by default,
JSON with `output_format=json` or `Accept: application/json`. See docs/api.md for each
method's parameters and fields."""

_STATUSES = [s.value for s in OrderStatus]
_MESSAGE_TYPES = [t.value for t in MessageType]
_FIELDS: list[tuple[str, dict[str, Any], str]] = [
    ("method", {"type": "string", "enum": list(HANDLERS)}, "the call"),
    ("api_user", {"type": "integer"}, "api_login; add_message from an allow-listed address"),
    ("api_key", {"type": "string"}, "api_login"),
    ("hash", {"type": "string"}, "login hash from api_login (or Authorization: Bearer)"),
    ("date", {"type": "string", "format": "date"}, "orders, customers: created on or after"),
    ("since_id", {"type": "integer", "minimum": 0}, "orders, customers, events: ids above"),
    ("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "with since_id, events"),
    ("id", {"type": "integer", "minimum": 1}, "order or customer id"),
    ("status", {"type": "string", "enum": _STATUSES}, "set_status"),
    ("type", {"type": "string", "enum": _MESSAGE_TYPES}, "add_message"),
    ("message", {"type": "string"}, "add_message: the text"),
    ("output_format", {"type": "string", "enum": ["xml", "json"]}, "response format"),
]

_PARAMS = [
    {"name": n, "in": "query", "required": n == "method", "schema": s, "description": d}
    for n, s, d in _FIELDS
]

_FORM = {
    "type": "object",
    "properties": {n: {**s, "description": d} for n, s, d in _FIELDS},
    "required": ["method"],
}


# The JSON form of the envelope (api/envelope.py): {"METHOD": {"response": {...}, "status": ...}}.
def _obj(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


_INT = {"type": "integer"}
_TEXT = {"type": "string"}
_SECONDS = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"}
_MINUTES = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$"}
_STATUS = {"type": "string", "enum": _STATUSES}
_ORDER = {
    "id": _INT,
    "type": {"const": "order"},
    "date": _SECONDS,
    "status": _STATUS,
    "service": _INT,
    "xsp": _INT,
    "delivery": {"type": "string", "pattern": r"^(asap|\d{4}-\d{2}-\d{2})$"},
    "customer": _INT,
}
_CUSTOMER = {
    "id": _INT,
    "socket": _TEXT,
    "serial": {"type": "string", "pattern": r"^\d{12}$"},
    "firstname": _TEXT,
    "surname": _TEXT,
}


def _array(item: dict[str, Any], one: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "array", "items": _obj(item)}
    if one:
        schema |= {"minItems": 1, "maxItems": 1}
    return schema


_RESPONSES: dict[str, dict[str, Any]] = {
    "api_login": {"message": _TEXT, "hash_key": {"type": "string", "pattern": "^[0-9a-f]{32}$"}},
    "orders": {"order": _array(_ORDER)},
    "customers": {"customer": _array({**_CUSTOMER, "date": _MINUTES})},
    "order_info": {
        "order": _array(
            {
                **_ORDER,
                "service_uid": _TEXT,
                "service_name": _TEXT,
                "xsp_name": _TEXT,
                "coid": _TEXT,
                "socket": _TEXT,
                "price_monthly": {"type": "number"},
                "price_once": {"type": "number"},
                "message": _TEXT,
                "updated": _SECONDS,
            },
            one=True,
        )
    },
    "customer_info": {
        "customer": _array(
            {**_CUSTOMER, "email": _TEXT, "address": _TEXT, "zip": _TEXT, "city": _TEXT}, one=True
        ),
        "data": _obj({"phone": _TEXT, "premise": _TEXT}),
    },
    "order_log": {
        "entry": _array(
            {
                "id": _INT,
                "date": _SECONDS,
                "type": {"type": "string", "enum": _MESSAGE_TYPES},
                "message": _TEXT,
                "user": _TEXT,
                "org": _TEXT,
            }
        )
    },
    "set_status": {"message": _TEXT},
    "add_message": {"message": _TEXT},
    "events": {
        "event": _array(
            {
                "id": _INT,
                "date": _SECONDS,
                "type": {"type": "string", "enum": [t.value for t in EventType]},
                "order": _INT,
                "status": _STATUS,
                "message_type": {"enum": [*_MESSAGE_TYPES, None]},
            }
        )
    },
}


def _envelope(roots: dict[str, dict[str, Any]], status: str) -> dict[str, Any]:
    """Exactly one of ``roots`` (the root element: the method's name) with its response."""
    return {
        "type": "object",
        "properties": {
            root: _obj({"response": response, "status": {"const": status}})
            for root, response in roots.items()
        },
        "minProperties": 1,
        "maxProperties": 1,
        "additionalProperties": False,
    }


_XML = {"application/xml": {"schema": {"type": "string", "description": "the same tree in XML"}}}
_NO_STORE = {"Cache-Control": {"schema": {"const": "no-store"}, "required": True}}


def _success() -> dict[str, Any]:
    roots = {m: _obj(fields) for m, fields in _RESPONSES.items()}
    return {
        "description": "`<METHOD><response>…</response><status>success</status></METHOD>`; "
        "the JSON form holds the same tree, with `order`, `customer`, `entry` and `event` "
        "always arrays",
        "headers": _NO_STORE,
        "content": {"application/json": {"schema": _envelope(roots, "success")}, **_XML},
    }


def _failed(code: int, description: str) -> dict[str, Any]:
    body = _obj({"message": _TEXT, "code": {"const": code}})
    # The root is the method's name, or serviceguide_log when the method is missing or unknown.
    roots = dict.fromkeys([*HANDLERS, ERROR_ROOT], body)
    headers = dict(_NO_STORE)
    if code == 429:
        headers["Retry-After"] = {"schema": {"type": "integer", "minimum": 0}, "required": True}
    return {
        "description": f"{description}; `<status>failed</status>` with `<message>` and `<code>`",
        "headers": headers,
        "content": {"application/json": {"schema": _envelope(roots, "failed")}, **_XML},
    }


_OPENAPI_RESPONSES = {
    "200": _success(),
    "400": _failed(400, "missing or malformed parameter, unknown method"),
    "401": _failed(401, "bad credentials, or a missing, unknown or expired hash"),
    "404": _failed(404, "no such order/customer, or not visible to the caller"),
    "409": _failed(409, "status change not allowed"),
    "429": _failed(429, "too many failed logins; see Retry-After"),
}
#: A body over the server's limit on any request (serviceguide.middleware.RequestLimits).
_TOO_LARGE = {
    "description": "body larger than `SERVICEGUIDE_MAX_REQUEST_BYTES`; not in the envelope",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"detail": {"type": "string"}},
                "required": ["detail"],
                "additionalProperties": False,
            }
        }
    },
}


@router.get(
    PATH,
    summary="XSP order API (all methods), query parameters",
    description=_DOC,
    tags=["XSP order API"],
    operation_id="serviceguide_log_get",
    openapi_extra={"parameters": _PARAMS, "responses": _OPENAPI_RESPONSES},
)
@router.post(
    PATH,
    summary="XSP order API (all methods), form fields",
    description=_DOC,
    tags=["XSP order API"],
    operation_id="serviceguide_log_post",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {"schema": _FORM},
                "multipart/form-data": {"schema": _FORM},
            },
        },
        "responses": {**_OPENAPI_RESPONSES, "413": _TOO_LARGE},
    },
)
async def serviceguide_log(request: Request) -> Response:
    ctx: AppContext = request.app.state.ctx
    as_json = "application/json" in request.headers.get("accept", "")
    root = ERROR_ROOT
    try:
        parsed = await p.read_params(request)
        params, problems = parsed.values, list(parsed.problems)
        as_json = _wants_json(request, params, problems)
        method = params.get("method", "").strip()
        if not method:
            # A body too large to be read may be where the method was: say that, not "missing".
            body = [e for e in problems if e.field == "body"]
            raise body[0] if body else InvalidInput("method", "Missing parameter: method")
        handler = HANDLERS.get(method)
        if handler is None:
            raise InvalidInput("method", f"Unknown method {method[:40]!r}")
        root = method
        call = Call(ctx, params, request)
        if method != "api_login":  # authentication first (401), then parameters (400)
            call.caller = await _authenticate(call, method)
        if problems:
            raise problems[0]
        nodes = await handler(call)
        return _respond(root, nodes, "success", 200, as_json)
    except AuthenticationFailed as e:
        return _failure(root, str(e), 401, as_json)
    except InvalidInput as e:
        return _failure(root, e.message, 400, as_json)
    except NotFound as e:
        return _failure(root, str(e), 404, as_json)
    except TransitionNotAllowed as e:
        return _failure(root, str(e), 409, as_json)
    except Throttled as e:
        return _failure(root, str(e), 429, as_json, **{"Retry-After": str(e.retry_after)})
    except DomainError as e:  # pragma: no cover - every domain error is mapped above
        log.error("unmapped domain error: %s", e)
        return _failure(root, str(e), 400, as_json)
    except Exception as e:
        # Same envelope for what is not the caller's fault; nothing about the code in it.
        if is_outage(e):
            log.warning("%s: database unavailable (%s)", root, type(e).__name__)
            return _failure(
                root,
                "Service temporarily unavailable, try again shortly",
                503,
                as_json,
                **{"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        log.exception("%s failed", root)
        return _failure(root, "Internal error", 500, as_json)
