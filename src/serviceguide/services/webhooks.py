"""Webhook endpoints: registering, listing, rotating secrets, disabling, replaying events."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from serviceguide.domain.clock import utcnow
from serviceguide.domain.errors import Conflict, NotFound
from serviceguide.domain.model import Organisation
from serviceguide.domain.webhooks import check_endpoint_url, format_event_types, parse_event_types
from serviceguide.services.context import AppContext
from serviceguide.storage import outbox as outbox_repo
from serviceguide.storage import webhooks as repo
from serviceguide.storage.webhooks import EndpointRecord


@dataclass(frozen=True, slots=True)
class EndpointSecret:
    endpoint_id: int
    secret: str  # shown once, on registration or rotation


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


async def register(
    ctx: AppContext, org: Organisation, url: str, events: str | None = None
) -> EndpointSecret:
    """A new active endpoint of ``org`` for the given event types (default: all)."""
    url = check_endpoint_url(url)
    types = format_event_types(parse_event_types(events))
    secret = new_secret()
    async with ctx.db.write() as conn:
        endpoint_id = await repo.insert_endpoint(
            conn, org_id=org.id, url=url, event_types=types, secret=secret, now=utcnow()
        )
    return EndpointSecret(endpoint_id, secret)


async def list_endpoints(ctx: AppContext) -> list[EndpointRecord]:
    async with ctx.db.read() as conn:
        return await repo.list_endpoints(conn)


async def rotate(ctx: AppContext, endpoint_id: int) -> EndpointSecret:
    """A new secret, used from the next delivery attempt on (queued ones included)."""
    secret = new_secret()
    async with ctx.db.write() as conn:
        if not await repo.set_secret(conn, endpoint_id, secret):
            raise NotFound("webhook endpoint", endpoint_id)
    return EndpointSecret(endpoint_id, secret)


async def disable(ctx: AppContext, endpoint_id: int) -> None:
    """No new deliveries are queued; queued ones are marked failed when their turn comes."""
    async with ctx.db.write() as conn:
        if not await repo.set_active(conn, endpoint_id, False):
            raise NotFound("webhook endpoint", endpoint_id)


async def replay(ctx: AppContext, endpoint_id: int, since_event_id: int) -> int:
    """Queue again, for one endpoint, every event with an id above ``since_event_id`` that its
    organisation sees and it subscribes to; returns how many deliveries were queued."""
    async with ctx.db.write() as conn:
        endpoint = await repo.get_endpoint(conn, endpoint_id)
        if endpoint is None:
            raise NotFound("webhook endpoint", endpoint_id)
        if not endpoint.active:
            raise Conflict(f"Webhook endpoint {endpoint_id} is disabled")
        return await outbox_repo.enqueue_replay(
            conn,
            endpoint_id=endpoint_id,
            org_id=endpoint.org_id,
            types=endpoint.event_types,
            since_event_id=since_event_id,
            at=utcnow(),
        )
