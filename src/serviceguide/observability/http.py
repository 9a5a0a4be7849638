"""The layer every HTTP request passes first: it gives the request its id, times it, counts it
by route template and status, writes its log line, and makes the method answers honest.

* ``X-Request-ID``: kept from the request when sane (observability.request_id), else made;
  on every answer, and current while the request is handled (log lines, outbox rows).
* Metrics: ``serviceguide_http_requests_total`` and the duration histogram, labelled by the
  route's template (``/api/guide/accesses/{coid}/{access_id}/services``), never the raw path;
  a path no route knows is ``unmatched``. Label values are built once per route and status.
* The request line: in the text format the client, method, masked path and query, status and
  duration; in JSON the same as fields, the path as its route template and no query values.
* ``HEAD`` is answered wherever ``GET`` is, without a body; a 405 lists in ``Allow`` every
  method some route takes for that path (FastAPI's lists only the first route's).

Plain ASGI, one wrapper around ``send`` for all of it: this runs on every request, and what
it costs shows in every figure (docs/performance.md).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serviceguide.observability import metrics, request_id
from serviceguide.observability.redact import redact_path, redact_query

access_log = logging.getLogger("serviceguide.access")

UNMATCHED = "unmatched"
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_HEADER = b"x-request-id"


class Observe:
    def __init__(self, app: ASGIApp, routes: list[Any]) -> None:
        self.app = app
        self.routes = routes  # the application's routes, for 405's Allow
        self._m = metrics.get()
        self._labels: dict[int, str] = {}  # id(route) -> its template
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}

    def _route_label(self, route: Any) -> str:
        label = self._labels.get(id(route))
        if label is None:
            path = getattr(route, "path", None) or UNMATCHED
            label = f"{path}/{{path}}" if isinstance(route, Mount) else path
            self._labels[id(route)] = label
        return label

    def _record(self, route: str, status: int, seconds: float) -> None:
        children = self._children.get((route, status))
        if children is None:
            children = (
                self._m.http_requests.labels(route, str(status)),
                self._m.http_duration.labels(route),
            )
            self._children[(route, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    def _allowed(self, scope: Scope) -> bytes:
        """Every method some route takes at this path (asked of the routes themselves, so
        that included routers and mounts answer as they would route)."""
        methods = set()
        for method in _METHODS:
            probe = {**scope, "method": method}
            for route in self.routes:
                if route.matches(probe)[0] is Match.FULL:
                    if not isinstance(route, Mount) or method == "GET":  # static files
                        methods.add(method)
                    break
        if "GET" in methods:
            methods.add("HEAD")
        return ", ".join(sorted(methods)).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        incoming = None
        for name, value in scope["headers"]:
            if name == _HEADER:
                incoming = value
                break
        rid = request_id.from_header(incoming)
        token = request_id.bind(rid)
        head = scope["method"] == "HEAD"
        if head:
            scope = dict(scope, method="GET")
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(n, v) for n, v in message.get("headers", ()) if n != _HEADER]
                headers.append((_HEADER, rid.encode()))
                if status == 405:
                    headers = [(n, v) for n, v in headers if n.lower() != b"allow"]
                    headers.append((b"allow", self._allowed(scope)))
                message["headers"] = headers
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            seconds = time.perf_counter() - start
            route = scope.get("route")
            label = self._route_label(route) if route is not None else UNMATCHED
            self._record(label, status, seconds)
            if access_log.isEnabledFor(logging.INFO):
                _log_request(scope, "HEAD" if head else scope["method"], label, status, seconds)
            request_id.unbind(token)


def _log_request(scope: Scope, method: str, route: str, status: int, seconds: float) -> None:
    query = scope.get("query_string", b"").decode("latin-1")
    client = scope.get("client")
    host = client[0] if client else "-"
    path = redact_path(scope["path"])
    access_log.info(
        '%s "%s %s%s" %d %.1fms',
        host,
        method,
        path,
        "?" + redact_query(query) if query else "",
        status,
        seconds * 1000,
        extra={
            "redacted": True,
            "method": method,
            "path": route if route != UNMATCHED else path,
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
            "client": host,
            "json_message": f"{method} {route if route != UNMATCHED else path} {status}",
        },
    )
