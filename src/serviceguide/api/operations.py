"""What operators and orchestrators ask of the server: ``/healthz`` (alive), ``/readyz`` (the
database answers within a second) and ``/metrics`` (Prometheus text format, for the addresses
in ``SERVICEGUIDE_METRICS_ALLOW`` only; a 404 to anyone else, as if it did not exist)."""

from __future__ import annotations

import ipaddress
import logging
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from serviceguide.observability import metrics
from serviceguide.services import outbox
from serviceguide.services.availability import is_outage
from serviceguide.services.context import AppContext

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)

#: How long the database has to answer a readiness probe.
READY_TIMEOUT_SECONDS = 1.0
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive (it says nothing about the database: see /readyz)."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    """200 when the database answers within a second, else 503: take this server out of the
    load balancer's rotation until it does."""
    try:
        await _ctx(request).db.ping(READY_TIMEOUT_SECONDS)
    except Exception as e:
        if not (isinstance(e, TimeoutError) or is_outage(e)):
            log.warning("readiness: %s", type(e).__name__)
        return JSONResponse(
            {"status": "unavailable", "database": "not answering"},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    return JSONResponse({"status": "ready"})


def _allowed(request: Request, networks: str) -> bool:
    if not request.client or not networks:
        return False
    try:
        ip = ipaddress.ip_address(request.client.host)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n) for n in networks.split(","))


@router.get("/metrics")
async def metrics_endpoint(request: Request) -> Response:
    ctx = _ctx(request)
    if not _allowed(request, ctx.settings.metrics_allow):
        return JSONResponse({"detail": "Not Found"}, status_code=404)
    body = metrics.get().render() + metrics.render_samples(await _database_samples(ctx))
    return PlainTextResponse(body, media_type=CONTENT_TYPE)


async def _database_samples(ctx: AppContext) -> list[metrics.Sample]:
    """The outbox's backlog, read now; and whether the database could be read at all."""
    try:
        backlog = await outbox.backlog(ctx)
    except Exception as e:
        if not is_outage(e):
            log.exception("metrics: the outbox could not be read")
        return [metrics.Sample("serviceguide_database_up", _UP_HELP, {}, 0)]
    now = datetime.now(UTC)
    samples = [metrics.Sample("serviceguide_database_up", _UP_HELP, {}, 1)]
    for b in backlog:
        kind = {"kind": b.kind.value}
        age = (now - b.oldest_waiting).total_seconds() if b.oldest_waiting else 0.0
        samples += [
            metrics.Sample("serviceguide_outbox_pending", _PENDING_HELP, kind, b.waiting),
            metrics.Sample("serviceguide_outbox_failed", _FAILED_HELP, kind, b.failed),
            metrics.Sample("serviceguide_outbox_oldest_pending_age_seconds", _AGE_HELP, kind, age),
        ]
    return samples


_UP_HELP = "1 if this scrape could read the database, else 0 (the outbox figures are then absent)"
_PENDING_HELP = "Outbox messages not yet delivered (pending or being delivered), by kind"
_FAILED_HELP = "Outbox messages given up on after their last attempt (outbox retry), by kind"
_AGE_HELP = "Age of the oldest undelivered outbox message in seconds (0 when none), by kind"
