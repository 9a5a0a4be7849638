"""The simulator's ASGI application."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from serviceguide.services import demo
from serviceguide.simulator.activation import Network, activation
from serviceguide.simulator.onapi import OrderBook, SimConfig, orders_endpoint


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
