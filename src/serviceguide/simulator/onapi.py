"""ON-API 2.4 ``orders`` as a KO serves it, for the service provider's agent in demos and tests.

Built to the public spec (on-api/on-api, 2.4.0/spec/orders.md and common/responses.md):
``POST /orders/`` → 201 + Location with state RECEIVED; the order then moves RECEIVED →
IN_PROGRESS → DONE_SUCCESS or DONE_FAILED as time passes (``delay``); re-posting the same
``spReference``, or an ACTIVATE for a service that already has an unfinished order, returns
200 with the existing order; a service of the same type already active on the access is a 409;
bad input is a 400; errors are ``{"cause": …}``; HTTP Basic auth.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from serviceguide.simulator.activation import Network

OPERATIONS = {"ACTIVATE", "DEACTIVATE"}
FINAL = {"DONE_SUCCESS", "DONE_FAILED"}


@dataclass
class SimConfig:
    username: str = "sim"
    password: str = "sim"  # noqa: S105 - the simulator's documented demo credential
    fail_rate: float = 0.0  # share of orders that end DONE_FAILED
    delay: float = 1.0  # seconds an order stays unfinished (half RECEIVED, half IN_PROGRESS)


@dataclass
class SimOrder:
    id: str
    coid: str
    access_id: str
    service: str
    operation: str
    sp_reference: str
    created: float
    fails: bool
    requested: str | None
    settled: str | None = None  # the final state, once reached and applied

    def state(self, now: float, delay: float) -> str:
        if self.settled:
            return self.settled
        elapsed = now - self.created
        if elapsed < delay / 2:
            return "RECEIVED"
        if elapsed < delay:
            return "IN_PROGRESS"
        return "DONE_FAILED" if self.fails else "DONE_SUCCESS"


@dataclass
class OrderBook:
    orders: dict[str, SimOrder] = field(default_factory=dict)


def service_type(uid: str) -> str:
    """Services of one type exclude each other on an access: TV*, TEL*/VOIP*, else broadband."""
    u = uid.upper()
    if u.startswith("TV") or u == "IPTV":
        return "TV"
    if u.startswith(("TEL", "VOIP")):
        return "VOIP"
    return "BROADBAND"


def cause(status: int, cause: str, **headers: str) -> JSONResponse:
    """An ON-API error answer: ``{"cause": …}`` with the status (the simulators share it)."""
    return JSONResponse({"cause": cause}, status_code=status, headers=headers or None)


def basic_auth_matches(request: Request, username: str, password: str) -> bool:
    """The request carries HTTP Basic credentials ``username:password`` (the simulators'
    one pair)."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, given = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return (user, given) == (username, password)


def _base(coid: str) -> str:
    return f"/{coid}/onapi/2.4/orders/"


def _settle(order: SimOrder, net: Network, now: float, delay: float) -> str:
    state = order.state(now, delay)
    if state in FINAL and not order.settled:
        order.settled = state
        if state == "DONE_SUCCESS":
            active = net.active.setdefault(order.access_id, set())
            if order.operation == "ACTIVATE":
                active.add(order.service)
            else:
                active.discard(order.service)
    return state


def _json(order: SimOrder, state: str, delay: float) -> dict[str, Any]:
    done_at = datetime.fromtimestamp(order.created + delay, UTC)
    return {
        "path": _base(order.coid) + order.id,
        "orderId": order.id,
        "accessId": order.access_id,
        "service": order.service,
        "operation": order.operation,
        "state": state,
        "forcedTakeover": False,
        "spReference": order.sp_reference,
        **({"requestedDateTime": order.requested} if order.requested else {}),
        "expectedCompletionDate": done_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "message": "Aktivering misslyckades i nätet (simulerat fel)"
        if state == "DONE_FAILED"
        else "",
    }


def _fails(sp_reference: str, rate: float) -> bool:
    """Deterministic per spReference, so a re-post gets the same fate."""
    digest = hashlib.sha256(sp_reference.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < rate


async def orders_endpoint(request: Request) -> Response:
    cfg: SimConfig = request.app.state.config
    book: OrderBook = request.app.state.book
    networks: dict[str, Network] = request.app.state.networks
    if not basic_auth_matches(request, cfg.username, cfg.password):
        return cause(401, "Invalid credentials", **{"WWW-Authenticate": 'Basic realm="ON-API"'})
    coid = request.path_params["coid"]
    net = networks.get(coid)
    if net is None:
        return cause(404, f"Unknown network {coid}")
    now = time.time()
    order_id = request.path_params.get("order_id")
    if request.method == "GET" and order_id:
        order = book.orders.get(order_id)
        if order is None or order.coid != coid:
            return cause(404, f"Unknown order {order_id}")
        return JSONResponse(_json(order, _settle(order, net, now, cfg.delay), cfg.delay))
    if request.method == "GET":
        wanted_state = request.query_params.get("state", "").strip('"')
        wanted_access = request.query_params.get("accessId")
        found = []
        for order in book.orders.values():
            if order.coid != coid:
                continue
            state = _settle(order, net, now, cfg.delay)
            if wanted_access and order.access_id != wanted_access:
                continue
            if (wanted_state and state != wanted_state) or (not wanted_state and state in FINAL):
                continue  # without a state filter: all unfinished orders, as the spec says
            found.append(_json(order, state, cfg.delay))
        return JSONResponse(found)
    if request.method == "DELETE" and order_id:
        order = book.orders.get(order_id)
        if order is None or order.coid != coid:
            return cause(404, f"Unknown order {order_id}")
        if _settle(order, net, now, cfg.delay) != "RECEIVED":
            return cause(409, "Only an order in state RECEIVED can be cancelled")
        del book.orders[order_id]
        return Response(status_code=204)
    if request.method != "POST" or order_id:
        return cause(405, "Method not allowed")
    return await _post(request, cfg, book, net, coid, now)


async def _post(
    request: Request, cfg: SimConfig, book: OrderBook, net: Network, coid: str, now: float
) -> Response:
    try:
        body = json.loads(await request.body())
    except ValueError:
        return cause(400, "Incorrect JSON")
    if not isinstance(body, dict):
        return cause(400, "Incorrect JSON: expected an object")
    for name in ("accessId", "service", "operation", "spReference"):
        if not isinstance(body.get(name), str) or not body[name]:
            return cause(400, f"Missing obligatory field: {name}")
    access_id, service, operation = body["accessId"], body["service"], body["operation"]
    sp_reference = body["spReference"]
    if operation not in OPERATIONS:
        return cause(400, f"Unsupported operation: {operation!r}")
    if access_id not in net.sockets:
        return cause(400, f"Unknown accessId: {access_id!r}")
    if net.services and service not in net.services:
        return cause(400, f"Unknown service: {service!r}")
    for order in book.orders.values():
        if order.coid == coid and order.sp_reference == sp_reference:
            return JSONResponse(_json(order, _settle(order, net, now, cfg.delay), cfg.delay))
    for order in book.orders.values():
        state = _settle(order, net, now, cfg.delay)
        same = (order.coid, order.access_id, order.service, order.operation) == (
            coid,
            access_id,
            service,
            operation,
        )
        if same and state not in FINAL:
            return JSONResponse(_json(order, state, cfg.delay))
    active = net.active.get(access_id, set())
    if operation == "ACTIVATE":
        if service in active:
            return JSONResponse(
                {
                    "accessId": access_id,
                    "service": service,
                    "operation": operation,
                    "state": "DONE_SUCCESS",
                    "message": "",
                }
            )
        if any(service_type(s) == service_type(service) for s in active):
            return cause(409, "ServiceType is already claimed by other Service Provider.")
    order = SimOrder(
        id=uuid.uuid4().hex,
        coid=coid,
        access_id=access_id,
        service=service,
        operation=operation,
        sp_reference=sp_reference,
        created=now,
        fails=_fails(sp_reference, cfg.fail_rate),
        requested=body.get("requestedDateTime"),
    )
    book.orders[order.id] = order
    doc = _json(order, order.state(now, cfg.delay), cfg.delay)
    return JSONResponse(doc, status_code=201, headers={"Location": doc["path"]})
