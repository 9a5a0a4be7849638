"""Webhook endpoints: registering, listing, rotating secrets, disabling, replaying events, and the
recent delivery attempts and failures of an organisation's endpoints.

The same functions serve the ``webhooks`` commands and the administration page. ``actor`` is
who acts: a KO's or TL's admin reaches only its own organisation's endpoints (another's is not
found); None is the operator at the command line, who reaches every endpoint. Every change is
written to the admin log; a secret never is.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.clock import utcnow
from serviceguide.domain.errors import Conflict, InvalidInput, NotFound
from serviceguide.domain.model import Organisation, OrgKind
from serviceguide.domain.roles import Actor, require_admin, require_own
from serviceguide.domain.webhooks import check_endpoint_url, format_event_types, parse_event_types
from serviceguide.services import audit
from serviceguide.services.context import AppContext
from serviceguide.storage import organisations as orgs
from serviceguide.storage import outbox as outbox_repo
from serviceguide.storage import webhooks as repo
from serviceguide.storage.webhooks import DeliveryAttempt, EndpointRecord

HOOK_KINDS = (OrgKind.KO, OrgKind.TL)
RECENT = 50


@dataclass(frozen=True, slots=True)
class EndpointSecret:
    endpoint_id: int
    secret: str  # shown once, on registration or rotation


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _actor(actor: Actor | None) -> Actor:
    actor = actor or audit.cli_actor()
    require_admin(actor, *HOOK_KINDS)
    return actor


async def register(
    ctx: AppContext,
    org: Organisation,
    url: str,
    events: str | None = None,
    *,
    actor: Actor | None = None,
) -> EndpointSecret:
    """A new active endpoint of ``org`` for the given event types (default: all)."""
    actor = _actor(actor)
    if not actor.is_operator and org.id != actor.org_id:
        raise NotFound("organisation", org.id)
    url = check_endpoint_url(url)
    types = format_event_types(parse_event_types(events))
    secret = new_secret()
    async with ctx.db.write() as conn:
        endpoint_id = await repo.insert_endpoint(
            conn, org_id=org.id, url=url, event_types=types, secret=secret, now=utcnow()
        )
        await audit.record(
            conn,
            actor,
            org,
            "webhook.register",
            f"webhook {endpoint_id}",
            after={"url": url, "events": types},
        )
    return EndpointSecret(endpoint_id, secret)


async def list_endpoints(ctx: AppContext, actor: Actor | None = None) -> list[EndpointRecord]:
    """Every endpoint (the operator), or the admin's organisation's."""
    actor = _actor(actor)
    async with ctx.db.read() as conn:
        found = await repo.list_endpoints(conn)
    return found if actor.is_operator else [e for e in found if e.org_id == actor.org_id]


async def _endpoint(conn: AsyncConnection, actor: Actor, endpoint_id: int) -> EndpointRecord:
    found = await repo.get_endpoint(conn, endpoint_id)
    require_own(actor, found.org_id if found else None, "webhook endpoint", endpoint_id)
    assert found is not None
    return found


async def _log(
    conn: AsyncConnection, actor: Actor, endpoint: EndpointRecord, action: str, **change: object
) -> None:
    org = await orgs.by_id(conn, endpoint.org_id)
    await audit.record(conn, actor, org, action, f"webhook {endpoint.id}", after=change)


async def rotate(
    ctx: AppContext, endpoint_id: int, *, actor: Actor | None = None
) -> EndpointSecret:
    """A new secret, used from the next delivery attempt on (queued ones included)."""
    actor = _actor(actor)
    secret = new_secret()
    async with ctx.db.write() as conn:
        endpoint = await _endpoint(conn, actor, endpoint_id)
        await repo.set_secret(conn, endpoint_id, secret)
        await _log(conn, actor, endpoint, "webhook.rotate", signing="new value issued")
    return EndpointSecret(endpoint_id, secret)


async def disable(ctx: AppContext, endpoint_id: int, *, actor: Actor | None = None) -> None:
    """No new deliveries are queued; queued ones are marked failed when their turn comes."""
    actor = _actor(actor)
    async with ctx.db.write() as conn:
        endpoint = await _endpoint(conn, actor, endpoint_id)
        if endpoint.active:
            await repo.set_active(conn, endpoint_id, False)
            await _log(conn, actor, endpoint, "webhook.disable", active=False)


async def replay(
    ctx: AppContext, endpoint_id: int, since_event_id: int, *, actor: Actor | None = None
) -> int:
    """Queue again, for one endpoint, every event with an id above ``since_event_id`` that its
    organisation sees and it subscribes to; returns how many deliveries were queued."""
    actor = _actor(actor)
    if since_event_id < 0 or since_event_id >= 2**62:
        raise InvalidInput("since_event", "an event number, 0 or more")
    async with ctx.db.write() as conn:
        endpoint = await _endpoint(conn, actor, endpoint_id)
        if not endpoint.active:
            raise Conflict(f"Webhook endpoint {endpoint_id} is disabled")
        queued = await outbox_repo.enqueue_replay(
            conn,
            endpoint_id=endpoint_id,
            org_id=endpoint.org_id,
            types=endpoint.event_types,
            since_event_id=since_event_id,
            at=utcnow(),
        )
        await _log(
            conn, actor, endpoint, "webhook.replay", since_event=since_event_id, queued=queued
        )
    return queued


async def attempts(
    ctx: AppContext, actor: Actor, *, failed_only: bool = False, limit: int = RECENT
) -> list[DeliveryAttempt]:
    """The latest delivery attempts to the admin's organisation's endpoints, newest first
    (``failed_only``: deliveries that gave up, with their last error)."""
    actor = _actor(actor)
    if actor.org_id is None:
        raise InvalidInput("org", "the command line uses `serviceguide outbox`")
    async with ctx.db.read() as conn:
        if failed_only:
            return await repo.failed_deliveries(conn, actor.org_id, limit)
        return await repo.recent_attempts(conn, actor.org_id, limit)
