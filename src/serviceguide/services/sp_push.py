"""The placing server's part in the ON-API pushes: right after the orders are committed, it
attempts their ``order`` pushes itself, in parallel, and the guide's answer waits for them at
most SERVICEGUIDE_SP_TIMEOUT_SECONDS; what gets no usable answer is PENDING, and a relay tries
it again from the outbox.

The push rows are written with the orders, due only after the first attempt's time
(:func:`first_attempt_due`), so relays leave them to the placing server; it claims them by id.
Should it stop between the commit and the push (a crash, kill -9), a relay pushes them once
they fall due. Notices (direct activations) are not waited for: relays send them at once.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import httpx

from serviceguide.domain.clock import utcnow
from serviceguide.domain.sp import SpAnswer
from serviceguide.notify import sp as sp_notify
from serviceguide.services import sp_answers
from serviceguide.services.context import AppContext
from serviceguide.storage import sp_push as repo

if TYPE_CHECKING:
    from serviceguide.services.placing import Placement

#: Beyond the first attempt's timeout, before relays may take a push the placing server has not
#: finished (its claim and its record of the outcome take a few round trips).
RESERVE_SECONDS = 5.0

_clients: dict[int, httpx.AsyncClient] = {}


def first_attempt_due(ctx: AppContext, now: datetime) -> datetime:
    """When relays may take an ``order`` push placed ``now``."""
    return now + timedelta(seconds=ctx.settings.sp_timeout_seconds + RESERVE_SECONDS)


def _lease(ctx: AppContext) -> timedelta:
    """The placing server's claim: past the push's own timeout, so that no relay takes the push
    over while the first attempt may still be under way."""
    s = ctx.settings
    return timedelta(seconds=max(s.outbox_lease_seconds, s.sp_timeout_seconds + RESERVE_SECONDS))


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


async def with_answers(ctx: AppContext, placement: Placement, *, first: bool) -> Placement:
    """``placement`` with the TL's answer on each pushed order: after the first attempt, made
    now, when ``first`` (the orders were just placed); as the log has it otherwise (a repeated
    request's answer)."""
    from serviceguide.notify.relay import Relay

    ids = [o.id for o in placement.orders]
    answers: dict[int, SpAnswer] = {}
    if first:
        token = uuid.uuid4().hex
        async with ctx.db.write() as conn:
            pushes = await repo.pushes_of(conn, ids)
            claims = await repo.claim_ids(
                conn, list(pushes.values()), now=utcnow(), lease=_lease(ctx), token=token
            )
        if claims:
            name = f"{socket.gethostname()}:{os.getpid()} (placing)"
            relay = Relay(ctx, name=name, http=_client())
            answers = await relay.push_claimed(claims, token)
    missing = [i for i in ids if i not in answers]
    if missing:
        async with ctx.db.read() as conn:
            answers.update(await sp_answers.answers_of(conn, missing))
    if not answers:
        return placement
    orders = [dataclasses.replace(o, sp=answers.get(o.id)) for o in placement.orders]
    return dataclasses.replace(placement, orders=orders)
