"""The XSP order API, ``/plain/serviceguide_log``, compatible with the original platform.

One URL; the method is named by the ``method`` parameter. Authentication is checked first (401),
then parameters (400), then visibility (404). See docs/api.md for every method and field.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from serviceguide.api import params as p
from serviceguide.api import xsp_openapi as doc
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
    if "api_user" in call.params:  # checked even when a hash made it unnecessary
        p.api_user(call.params["api_user"])
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


@router.get(
    PATH,
    summary="XSP order API (all methods), query parameters",
    description=doc.DESCRIPTION,
    tags=["XSP order API"],
    operation_id="serviceguide_log_get",
    openapi_extra=doc.GET_EXTRA,
)
@router.post(
    PATH,
    summary="XSP order API (all methods), form fields",
    description=doc.DESCRIPTION,
    tags=["XSP order API"],
    operation_id="serviceguide_log_post",
    openapi_extra=doc.POST_EXTRA,
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
        problems += [p.repeated(n) for n in sorted(parsed.repeated & doc.FIELDS[method])]
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
