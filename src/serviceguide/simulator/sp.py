"""A TL's ON-API 2.6 service-provider endpoints (spec_sp order.md, ordernotice.md, products.md),
as ``serviceguide sp-simulator`` serves them for every demo TL at ``/{xsp}/onapi/2.6/``: for
demos, tests and benchmarks of the guide's pushes.

``POST order/`` checks the body against the spec (a bad one: 400 with ``{"cause": …}``) and
answers CONFIRMED — or REJECTED for the share ``reject_rate`` of orders, chosen by the
``X-Order-ID`` so that a repeat gets the same answer — with an ``externalMessage`` for the
customer. As in the spec's own two examples, a confirmation names its state ``status`` and a
rejection ``state``. A repeated ``X-Order-ID`` is answered as the first time and not counted
again. ``POST activationnotice/`` answers 200 with an empty body. ``GET products/`` and
``products/{accessId}`` serve simulator.sp_products. HTTP Basic auth (``sim``/``sim``);
``delay`` seconds before each answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from serviceguide.simulator.onapi import basic_auth_matches, cause
from serviceguide.simulator.sp_products import products_for

DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,4})?Z$")
IDENTITY = re.compile(r"^(\d{8}|\d{6})-\d{4}$")
CONFIRMED_TEXT = (
    "Tack för din beställning! Vi aktiverar tjänsten och skickar ett e-postmeddelande med "
    "information om hur du kommer igång."
)
REJECTED_TEXT = (
    "Tyvärr kan vi inte leverera det valda erbjudandet på din adress. Kontakta oss för andra "
    "alternativ."
)


@dataclass
class SpSimConfig:
    username: str = "sim"
    password: str = "sim"  # noqa: S105 - the simulator's documented demo credential
    reject_rate: float = 0.0
    delay: float = 0.0  # seconds before each answer


@dataclass
class Received:
    """What the simulator has been sent (tests read it; a demo can look at it)."""

    orders: dict[str, dict[str, Any]] = field(default_factory=dict)  # by X-Order-ID
    answers: dict[str, dict[str, str]] = field(default_factory=dict)
    notices: dict[str, dict[str, Any]] = field(default_factory=dict)
    posts: int = 0  # every POST of order/, repeats included


def _rejects(order_id: str, rate: float) -> bool:
    digest = hashlib.sha256(order_id.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < rate


def check_order(body: Any, *, notice: bool = False) -> str | None:
    """The first thing wrong with an ``order`` (or ``activationnotice``) body; None if none."""
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    for name in ("coAccessId", "operation", "orderDateTime", "requestedDateTime"):
        if not isinstance(body.get(name), str) or not body[name]:
            return f"{name}: missing"
    if body["operation"] != "ACTIVATE":
        return "operation: only ACTIVATE is supported"
    for name in ("orderDateTime", "requestedDateTime"):
        if not DATETIME.match(body[name]):
            return f"{name}: not an RFC 3339 UTC time"
    products = body.get("products")
    if not isinstance(products, list) or len(products) != 1 or not isinstance(products[0], dict):
        return "products: exactly one product offering"
    wanted = ("productId", "offeringId") + (("coProduct",) if notice else ())
    for name in wanted:
        if not products[0].get(name):
            return f"products[0].{name}: missing"
    details = body.get("customerDetails")
    if not isinstance(details, dict):
        return "customerDetails: missing"
    pin = details.get("personalIdentityNumber")
    if pin is not None and (not isinstance(pin, str) or not IDENTITY.match(pin)):
        return "customerDetails.personalIdentityNumber: not YYYYMMDD-XXXX"
    if not (details.get("firstName") or details.get("firstname")):
        return "customerDetails.firstName: missing"
    return None


async def _body(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        return None


async def order_endpoint(request: Request) -> Response:
    cfg: SpSimConfig = request.app.state.sp_config
    got: Received = request.app.state.sp_received
    if not basic_auth_matches(request, cfg.username, cfg.password):
        return cause(401, "Invalid credentials", **{"WWW-Authenticate": 'Basic realm="onapi"'})
    if cfg.delay:
        await asyncio.sleep(cfg.delay)
    got.posts += 1
    order_id = request.headers.get("x-order-id", "")
    if not order_id:
        return cause(400, "X-Order-ID: missing")
    if order_id in got.answers:
        return JSONResponse(got.answers[order_id])
    body = await _body(request)
    if (wrong := check_order(body)) is not None:
        return cause(400, wrong)
    got.orders[order_id] = body
    if _rejects(order_id, cfg.reject_rate):
        answer = {"state": "REJECTED", "externalMessage": REJECTED_TEXT}
    else:
        answer = {"status": "CONFIRMED", "externalMessage": CONFIRMED_TEXT}
    got.answers[order_id] = answer
    return JSONResponse(answer)


async def notice_endpoint(request: Request) -> Response:
    cfg: SpSimConfig = request.app.state.sp_config
    got: Received = request.app.state.sp_received
    if not basic_auth_matches(request, cfg.username, cfg.password):
        return cause(401, "Invalid credentials", **{"WWW-Authenticate": 'Basic realm="onapi"'})
    if cfg.delay:
        await asyncio.sleep(cfg.delay)
    body = await _body(request)
    if (wrong := check_order(body, notice=True)) is not None:
        return cause(400, wrong)
    got.notices[request.headers.get("x-order-id", str(len(got.notices) + 1))] = body
    return Response(status_code=200)


async def products_endpoint(request: Request) -> Response:
    cfg: SpSimConfig = request.app.state.sp_config
    if not basic_auth_matches(request, cfg.username, cfg.password):
        return cause(401, "Invalid credentials", **{"WWW-Authenticate": 'Basic realm="onapi"'})
    try:
        xsp = int(request.path_params["xsp"])
    except ValueError:
        return cause(404, "No such service provider")
    doc = products_for(xsp)
    if doc is None:
        return cause(404, f"No such service provider: {xsp}")
    return JSONResponse(doc)


async def endpoints_endpoint(request: Request) -> Response:
    base = f"/{request.path_params['xsp']}/onapi/2.6"
    return JSONResponse(
        [
            {"name": name, "endpoint": f"{base}/{name}/", "version": "2.6", "documentation": doc}
            for name, doc in (
                ("order", "spec_sp/order.md"),
                ("activationnotice", "spec_sp/ordernotice.md"),
                ("products", "spec_sp/products.md"),
            )
        ]
    )
