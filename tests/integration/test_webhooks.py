"""Webhooks against a real HTTP receiver on 127.0.0.1: every event the endpoint's organisation may
see arrives, signed; failures (500, timeouts, redirects) are retried; replay sends again."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import func, or_, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from serviceguide.domain.errors import Conflict, InvalidInput
from serviceguide.notify.webhooks import verify
from serviceguide.services import admin, webhooks
from serviceguide.services.context import AppContext
from serviceguide.storage.tables import events
from tests.support.notify import (
    attempts,
    command,
    command_process,
    drain,
    later,
    place,
    rows,
    with_settings,
)
from tests.support.servers import serve_in_thread
from tests.support.world import World
from tests.support.xsp import XspClient

pytestmark = pytest.mark.integration
#: How long the receiver's "slow" answer takes, and the sender's timeout in that scenario: well
#: below it, and still room for the good answer on a loaded machine.
SLOW_SECONDS = 3.0
SLOW_TIMEOUT = 1.0


@dataclass
class Call:
    name: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        doc = json.loads(self.body)
        assert isinstance(doc, dict)
        return doc


@dataclass
class Receiver:
    """Records every POST to ``/hook/{name}``; answers as ``script[name]`` says, one entry per
    request ("ok", "500", "slow", "302"), then "ok"."""

    base_url: str = ""
    script: dict[str, list[str]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, name: str) -> str:
        return f"{self.base_url}/hook/{name}"

    def received(self, name: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.name == name]

    async def hook(self, request: Request) -> Response:
        name = request.path_params["name"]
        body = await request.body()
        with self.lock:
            self.calls.append(Call(name, dict(request.headers), body))
            todo = self.script.get(name) or ["ok"]
            what = todo.pop(0) if len(todo) > 1 or name not in self.script else todo[0]
        if what == "500":
            return Response("boom", status_code=500)
        if what == "302":
            return RedirectResponse(self.url("elsewhere"), status_code=302)
        if what == "slow":
            await asyncio.sleep(SLOW_SECONDS)
        return JSONResponse({"ok": True})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    app = Starlette(routes=[Route("/hook/{name}", r.hook, methods=["POST"])])
    with serve_in_thread(app) as base_url:
        r.base_url = base_url
        yield r


def assert_signed(call: Call, secret: str) -> None:
    h = call.headers
    assert h["x-serviceguide-event"] == call.event["type"]
    assert h["x-serviceguide-signature"].startswith("v1=")
    assert h["content-type"] == "application/json"
    assert verify(
        secret, h["x-serviceguide-timestamp"], h["x-serviceguide-signature"], call.body
    ), "signature does not verify"
    assert abs(int(h["x-serviceguide-timestamp"]) - time.time()) < 300


def as_feed(doc: dict[str, Any]) -> tuple[str, str, str, str, str]:
    return (
        str(doc["id"]),
        doc["type"],
        str(doc["order"]),
        doc["status"],
        doc.get("message_type") or "",
    )


async def test_a_tls_receiver_gets_every_event_it_may_see_once_signed_and_like_the_feed(
    ctx: AppContext, world: World, xsp: XspClient, receiver: Receiver
):
    tl1_org = await admin.find_org(ctx, xsp=1001)
    hook = await webhooks.register(ctx, tl1_org, receiver.url("tl1"))
    tl1 = await xsp.session(world.users["TL1"])
    tl2 = await xsp.session(world.users["TL2"])
    koa = await xsp.session(world.users["KOA"])
    seen = (await tl1.call("events", since_id=0)).items("event")
    since = int(seen[-1]["id"])

    mine, theirs = await place(ctx, [101, 102])
    assert (await tl1.call("set_status", id=mine, status="received")).code == 200
    assert (await koa.call("set_status", id=mine, status="active")).code == 200  # the KO's change
    r = await koa.call("add_message", id=mine, message="Fibern är inkopplad", type="alert")
    assert r.code == 200
    assert (await tl2.call("set_status", id=theirs, status="received")).code == 200  # not TL1's
    assert (await tl1.call("set_status", id=mine, status="active")).code == 200  # no change

    assert (await drain(ctx)).failed == 0
    calls = receiver.received("tl1")
    for call in calls:
        assert_signed(call, hook.secret)
    feed = (await tl1.call("events", since_id=since)).items("event")
    # Deliveries run concurrently and may arrive in any order; the event id orders them.
    calls = sorted(calls, key=lambda c: int(c.event["id"]))
    assert [as_feed(c.event) for c in calls] == [
        (e["id"], e["type"], e["order"], e["status"], e["message_type"]) for e in feed
    ]
    assert [c.event["type"] for c in calls] == [
        "order_created",
        "status_changed",
        "status_changed",
        "message_added",
    ]
    assert {c.event["order"] for c in calls} == {mine}
    assert calls[-1].event["message_type"] == "alert"
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", c.event["date"]) for c in calls)
    assert (await drain(ctx)).delivered == 0  # nothing twice


async def test_the_kos_status_change_reaches_an_endpoint_subscribed_to_status_changes_only(
    ctx: AppContext, world: World, xsp: XspClient, receiver: Receiver
):
    tl1_org = await admin.find_org(ctx, xsp=1001)
    hook = await webhooks.register(ctx, tl1_org, receiver.url("status"), "status_changed")
    koa = await xsp.session(world.users["KOA"])
    o1 = world.orders["o1"]
    assert (await koa.call("set_status", id=o1, status="waiting")).code == 200
    await koa.call("add_message", id=o1, message="Hej", type="log")  # not subscribed
    await place(ctx, [101])  # order_created: not subscribed either
    await drain(ctx)
    (call,) = receiver.received("status")
    assert_signed(call, hook.secret)
    assert call.event["type"] == "status_changed"
    assert (call.event["order"], call.event["status"]) == (o1, "waiting")


@pytest.mark.parametrize(
    ("behaviour", "error"), [("500", "HTTP 500"), ("slow", "timed out")], ids=["500", "timeout"]
)
async def test_a_failing_receiver_is_retried_after_a_back_off_until_it_answers(
    ctx: AppContext, world: World, receiver: Receiver, behaviour: str, error: str
):
    # A short timeout only where the scenario needs one: an in-process receiver on a loaded
    # machine has answered a plain 500 later than 0.6 s.
    c = with_settings(ctx, webhook_timeout_seconds=SLOW_TIMEOUT) if behaviour == "slow" else ctx
    tl1_org = await admin.find_org(ctx, xsp=1001)
    hook = await webhooks.register(ctx, tl1_org, receiver.url("flaky"))
    receiver.script["flaky"] = [behaviour, "ok"]
    (order,) = await place(ctx, [101])

    assert (await drain(c)).retrying == 1
    (row,) = await rows(c, kind="webhook")
    assert (row.state, row.attempts) == ("pending", 1) and error in row.last_error

    assert (await drain(c, clock=later(hours=1))).delivered == 1
    first, second = receiver.received("flaky")
    assert first.body == second.body and second.event["order"] == order
    assert_signed(second, hook.secret)
    (row,) = await rows(c, kind="webhook")
    assert (row.state, row.attempts, row.last_error) == ("delivered", 2, None)
    log = await attempts(c, row.id)
    assert [a.outcome for a in log] == ["error", "delivered"] and error in log[0].error


async def test_a_redirect_is_not_followed_and_fails_after_the_last_attempt(
    ctx: AppContext, world: World, receiver: Receiver
):
    c = with_settings(ctx, outbox_max_attempts=2, outbox_backoff_base_seconds=0)
    tl1_org = await admin.find_org(ctx, xsp=1001)
    await webhooks.register(ctx, tl1_org, receiver.url("moved"))
    receiver.script["moved"] = ["302"]
    await place(ctx, [101])
    assert (await drain(c)).failed == 1
    assert len(receiver.received("moved")) == 2
    assert receiver.received("elsewhere") == []
    (row,) = await rows(c, kind="webhook")
    assert (row.state, row.attempts) == ("failed", 2)
    assert "302" in row.last_error and "not followed" in row.last_error


async def test_webhook_commands_register_list_rotate_and_replay(
    ctx: AppContext, world: World, receiver: Receiver, database_url: str
):
    reg = await command_process(  # a real process
        database_url, "webhooks", "register", "--xsp", "1001", receiver.url("cli")
    )
    assert reg.returncode == 0, reg.stderr
    endpoint_id, secret = re.search(r"endpoint (\d+) .*\n\s*(whsec_\S+)", reg.stdout).groups()
    await place(ctx, [101])
    await drain(ctx)
    (call,) = receiver.received("cli")
    assert_signed(call, secret)

    listed = await command(database_url, "webhooks", "list")
    assert listed.returncode == 0 and receiver.url("cli") in listed.stdout
    assert secret not in listed.stdout

    rotated = await command(database_url, "webhooks", "rotate", endpoint_id)
    assert rotated.returncode == 0, rotated.stderr
    (new_secret,) = re.findall(r"whsec_\S+", rotated.stdout)
    assert new_secret != secret

    replay = await command(database_url, "webhooks", "replay", endpoint_id, "--since-event", "0")
    assert replay.returncode == 0, replay.stderr
    tl1 = await admin.find_org(ctx, xsp=1001)
    async with ctx.db.read() as conn:
        visible = (
            await conn.execute(
                select(func.count())
                .select_from(events)
                .where(or_(events.c.tl_org_id == tl1.id, events.c.ko_org_id == tl1.id))
            )
        ).scalar()
    assert f"{visible} deliveries queued" in replay.stdout
    await drain(ctx)
    replayed = receiver.received("cli")[1:]
    assert len(replayed) == visible
    assert call.event in [c.event for c in replayed]  # the same event, sent again
    for c in replayed:
        assert_signed(c, new_secret)
        assert not verify(
            secret,
            c.headers["x-serviceguide-timestamp"],
            c.headers["x-serviceguide-signature"],
            c.body,
        )


async def test_a_disabled_endpoint_gets_nothing_more(
    ctx: AppContext, world: World, receiver: Receiver
):
    tl1_org = await admin.find_org(ctx, xsp=1001)
    hook = await webhooks.register(ctx, tl1_org, receiver.url("off"))
    await place(ctx, [101])  # queued while still active
    await webhooks.disable(ctx, hook.endpoint_id)
    await place(ctx, [101])  # not queued at all
    assert (await drain(ctx)).failed == 1
    (row,) = await rows(ctx, kind="webhook")
    assert row.state == "failed" and "disabled" in row.last_error
    assert receiver.received("off") == []
    with pytest.raises(Conflict, match="disabled"):
        await webhooks.replay(ctx, hook.endpoint_id, 0)


@pytest.mark.parametrize(
    "url", ["http://tl.example/hooks", "https://user:pw@tl.example/", "ftp://tl.example/"]
)
async def test_registration_refuses_urls_that_are_not_https(
    ctx: AppContext, world: World, url: str
):
    tl1_org = await admin.find_org(ctx, xsp=1001)
    with pytest.raises(InvalidInput):
        await webhooks.register(ctx, tl1_org, url)
    with pytest.raises(InvalidInput):
        await webhooks.register(ctx, tl1_org, "https://tl.example/h", "order_created,nope")
