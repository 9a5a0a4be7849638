"""The simulator's ASGI application."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from serviceguide.services import demo
from serviceguide.simulator.activation import Network, activation


def demo_networks() -> dict[str, Network]:
    sockets: dict[str, set[str]] = {}
    for coid, access_id, *_ in demo.ACCESSES:
        sockets.setdefault(coid, set()).add(access_id)
    return {ko.coid: Network(ko.coid, sockets.get(ko.coid, set())) for ko in demo.KOS}


def create_simulator(networks: dict[str, Network] | None = None) -> Starlette:
    app = Starlette(routes=[Route("/{coid}/activation", activation, methods=["GET", "POST"])])
    app.state.networks = networks if networks is not None else demo_networks()
    return app
