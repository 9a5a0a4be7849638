"""The simulator's ASGI application."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from serviceguide.services import demo
from serviceguide.simulator.activation import Network, activation
from serviceguide.simulator.onapi import OrderBook, SimConfig, orders_endpoint
from serviceguide.simulator.sp import (
    Received,
    SpSimConfig,
    endpoints_endpoint,
    notice_endpoint,
    order_endpoint,
    products_endpoint,
)


def demo_networks() -> dict[str, Network]:
    """The demo data's networks, ports and products (the guide services' uids)."""
    sockets: dict[str, set[str]] = {}
    for coid, access_id, *_ in demo.ACCESSES:
        sockets.setdefault(coid, set()).add(access_id)
    products: dict[str, set[str]] = {}
    for s in demo.SERVICES:
        products.setdefault(s.coid, set()).add(s.uid)
    return {
        ko.coid: Network(
            ko.coid, sockets.get(ko.coid, set()), services=products.get(ko.coid, set())
        )
        for ko in demo.KOS
    }


def create_simulator(
    networks: dict[str, Network] | None = None, config: SimConfig | None = None
) -> Starlette:
    methods = ["GET", "POST", "DELETE"]
    app = Starlette(
        routes=[
            Route("/{coid}/activation", activation, methods=["GET", "POST"]),
            Route("/{coid}/onapi/2.4/orders/", orders_endpoint, methods=methods),
            Route("/{coid}/onapi/2.4/orders", orders_endpoint, methods=methods),
            Route("/{coid}/onapi/2.4/orders/{order_id}", orders_endpoint, methods=methods),
        ]
    )
    app.state.networks = networks if networks is not None else demo_networks()
    app.state.config = config or SimConfig()
    app.state.book = OrderBook()
    return app


def create_sp_simulator(config: SpSimConfig | None = None) -> Starlette:
    """``serviceguide sp-simulator``: a TL's ON-API 2.6 endpoints, for every demo TL."""
    base = "/{xsp:int}/onapi/2.6"
    app = Starlette(
        routes=[
            Route(f"{base}/", endpoints_endpoint, methods=["GET"]),
            Route(f"{base}/order/", order_endpoint, methods=["POST"]),
            Route(f"{base}/order", order_endpoint, methods=["POST"]),
            Route(f"{base}/activationnotice/", notice_endpoint, methods=["POST"]),
            Route(f"{base}/activationnotice", notice_endpoint, methods=["POST"]),
            Route(f"{base}/products/", products_endpoint, methods=["GET"]),
            Route(f"{base}/products", products_endpoint, methods=["GET"]),
            Route(f"{base}/products/{{access_id}}", products_endpoint, methods=["GET", "POST"]),
        ]
    )
    app.state.sp_config = config or SpSimConfig()
    app.state.sp_received = Received()
    return app
