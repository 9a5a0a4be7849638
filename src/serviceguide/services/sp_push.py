"""The placing server's part in the ON-API pushes: right after the orders are committed, it
attempts their ``order`` pushes itself, in parallel, and the guide's answer waits for them at
most SERVICEGUIDE_SP_TIMEOUT_SECONDS; what gets no usable answer is PENDING, and a relay tries
it again from the outbox.

The push rows are written with the orders, already claimed by the placing server
(:func:`claim_until`) for the first attempt's time and a few seconds more, so relays leave them to
it. Should it stop between the commit and the push (a crash, kill -9), the claim runs out and a
relay pushes them (the lost attempt is in the attempt log). Notices (direct activations) are not
waited for: relays send them at once.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import httpx

from serviceguide.domain.sp import SpAnswer
from serviceguide.domain.status import OrderStatus
from serviceguide.notify import sp as sp_notify
from serviceguide.services import sp_answers
from serviceguide.services.context import AppContext
from serviceguide.storage import sp_push as repo

if TYPE_CHECKING:
    from serviceguide.services.placing import PlacedOrder, Placement

#: Beyond the first attempt's timeout, before relays may take a push the placing server has not
#: finished (its claim and its record of the outcome take a few round trips).
RESERVE_SECONDS = 5.0

_clients: dict[int, httpx.AsyncClient] = {}


def new_claim() -> str:
    """The token of the placing server's claim on the pushes it is about to write."""
    return uuid.uuid4().hex


def claim_until(ctx: AppContext, now: datetime) -> datetime:
    """Until when the placing server's claim holds: past the push's own timeout, so that no
    relay takes a push over while its first attempt may still be under way, and no longer, so
    that a crash delays the push little."""
    return now + timedelta(seconds=ctx.settings.sp_timeout_seconds + RESERVE_SECONDS)


def _client() -> httpx.AsyncClient:
    """This process's client for first attempts (one per event loop: tests run many)."""
    import asyncio

    key = id(asyncio.get_running_loop())
    client = _clients.get(key)
    if client is None or client.is_closed:
        _clients.clear()  # an earlier loop's client is of no use any more
        client = _clients[key] = httpx.AsyncClient(
            follow_redirects=False,
            headers={"User-Agent": sp_notify.USER_AGENT},
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )
    return client


async def close_client() -> None:
    for client in list(_clients.values()):
        await client.aclose()
    _clients.clear()


async def with_answers(
    ctx: AppContext, placement: Placement, *, claim: str | None = None
) -> Placement:
    """``placement`` with the TL's answer on each pushed order: after the first attempt, made
    now, of the pushes written under ``claim`` (the orders were just placed); as the log has
    it otherwise (a repeated request's answer)."""
    from serviceguide.notify.relay import Relay

    ids = [o.id for o in placement.orders]
    answers: dict[int, SpAnswer] = {}
    if claim is not None:
        async with ctx.db.read() as conn:
            claims = await repo.claimed_by(conn, ids, claim)
        if claims:
            name = f"{socket.gethostname()}:{os.getpid()} (placing)"
            relay = Relay(ctx, name=name, http=_client())
            answers = await relay.push_claimed(claims, claim)
    missing = [i for i in ids if i not in answers]
    if missing:
        async with ctx.db.read() as conn:
            answers.update(await sp_answers.answers_of(conn, missing))
    if not answers:
        return placement
    orders = [_answered(o, answers.get(o.id)) for o in placement.orders]
    return dataclasses.replace(placement, orders=orders)


def _answered(order: PlacedOrder, answer: SpAnswer | None) -> PlacedOrder:
    """The order with the TL's answer, and the status that answer gave a ``new`` order."""
    status = order.status
    if answer is not None and status == OrderStatus.NEW:
        status = sp_answers.STATUS_OF.get(answer.state, status)
    return dataclasses.replace(order, sp=answer, status=status)
