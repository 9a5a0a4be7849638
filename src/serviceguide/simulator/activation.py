"""The KO's direct-activation endpoint ("Aktiverings-API"), as the guide calls it:
``GET /{coid}/activation?method=port_status|service_deliverable|service_order&…``."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response

from serviceguide.api.envelope import Node, render_xml


@dataclass
class Network:
    coid: str
    sockets: set[str]
    #: sockets whose hardware cannot carry more services (answers 428), for demos of refusals
    insufficient: set[str] = field(default_factory=set)
    active: dict[str, set[str]] = field(default_factory=dict)  # socket -> service uids
    #: the ON-API service names this KO offers (the guide services' uids); empty = any
    services: set[str] = field(default_factory=set)


def _reply(method: str, nodes: list[Node], ok: bool, code: int = 200) -> Response:
    return Response(
        render_xml(method, nodes, "success" if ok else "failed"),
        status_code=code,
        media_type="application/xml; charset=utf-8",
    )


def _failed(method: str, code: int, message: str) -> Response:
    # The platform's convention: the HTTP status carries the code as well.
    return _reply(method, [("message", message), ("code", code)], False, code)


async def activation(request: Request) -> Response:
    networks: dict[str, Network] = request.app.state.networks
    net = networks.get(request.path_params["coid"])
    params = request.query_params
    method = params.get("method", "")
    if method not in ("port_status", "service_deliverable", "service_order"):
        return _failed(method or "activation", 400, "Unknown method")
    if net is None:
        return _failed(method, 404, "Unknown network")
    socket = params.get("socket", "")
    if socket not in net.sockets:
        return _failed(method, 404, f"Unknown access {socket}")
    services = net.active.setdefault(socket, set())
    if method == "port_status":
        return _reply(
            method, [("socket", socket), *(("service", s) for s in sorted(services))], True
        )
    uid = params.get("service_uid", "")
    if not uid:
        return _failed(method, 400, "Missing parameter: service_uid")
    if socket in net.insufficient:
        return _failed(method, 428, "Hardware insufficient for this service")
    if method == "service_deliverable":
        return _reply(method, [("message", f"{uid} can be delivered on {socket}")], True)
    services.add(uid)
    return _reply(
        method, [("message", f"{uid} ordered on {socket}"), ("date", params.get("date", ""))], True
    )
