"""What the agent does with an order it imports for the first time, by the status the order has
then: the real server over HTTP (on SQLite and PostgreSQL), the KO simulator as the network's
ON-API, the agent in this process."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from serviceguide.agent.config import parse_config
from serviceguide.agent.runner import Agent
from serviceguide.agent.state import FINAL, Step
from serviceguide.app import create_app
from serviceguide.services.context import AppContext
from serviceguide.simulator.activation import Network
from serviceguide.simulator.app import create_simulator
from serviceguide.simulator.onapi import SimConfig
from tests.support.servers import serve_in_thread
from tests.support.world import World
from tests.support.xsp import XspClient

pytestmark = pytest.mark.integration


@pytest.fixture
def servers(ctx: AppContext, world: World) -> Iterator[dict[str, str]]:
    settings = ctx.settings.model_copy(update={"relay_in_serve": False})
    ko = create_simulator(
        {"KOA": Network("KOA", {"A1", "A2", "A3", "A4", "A5"})}, SimConfig(delay=0.0)
    )
    with serve_in_thread(create_app(settings), lifespan=True) as api, serve_in_thread(ko) as sim:
        yield {"api": api, "onapi": f"{sim}/KOA/onapi/2.4/orders/"}


def onapi_orders(onapi: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    with httpx.Client(auth=("sim", "sim")) as http:
        for state in ("RECEIVED", "IN_PROGRESS", "DONE_SUCCESS", "DONE_FAILED"):
            found += http.get(onapi, params={"state": state}).json()
    return found


def agent_for(world: World, servers: dict[str, str], tmp_path: Path) -> Agent:
    login = world.users["TL1"]
    config = parse_config(
        f'[api]\nbase_url = "{servers["api"]}"\napi_user = {login.api_user}\n'
        f'api_key = "{login.api_key}"\n[state]\npath = "agent.sqlite3"\n'
        '[sink]\njsonl = "orders.jsonl"\n'
        # The URL as a KO may hand it out: with the orders endpoint.
        f'[onapi.KOA]\nurl = "{servers["onapi"]}"\nusername = "sim"\npassword = "sim"\n'
        'services = { S1UID = "S1UID" }\n',
        tmp_path,
    )
    return Agent(config)


def settle(agent: Agent, *orders: int) -> dict[int, Step]:
    """Passes until the orders are in a final step; how many passes that took is not fixed."""
    deadline = time.monotonic() + 30
    while True:
        agent.run_pass()
        steps = {o: agent.state.get(o).step for o in orders}  # type: ignore[union-attr]
        if all(s in FINAL for s in steps.values()):
            return steps
        assert time.monotonic() < deadline, steps
        time.sleep(0.05)


async def test_an_order_already_active_is_imported_but_not_activated_again(
    world: World, xsp: XspClient, servers: dict[str, str], tmp_path: Path
):
    # TL1's orders: o1 (A1) active by hand before the agent ever ran, o4 (A3) received (read
    # by someone, not activated), o3 (on KOB, no ON-API configured) delivered by hand.
    o1, o3, o4 = (world.orders[o] for o in ("o1", "o3", "o4"))
    tl1 = await xsp.session(world.users["TL1"])
    for order, status in ((o1, "active"), (o4, "received"), (o3, "delivered")):
        assert (await tl1.call("set_status", id=order, status=status)).code == 200

    def run() -> tuple[dict[int, Step], dict[int, str], list[int]]:
        agent = agent_for(world, servers, tmp_path)  # the agent is synchronous: its own thread
        try:
            steps = settle(agent, o1, o3, o4)
            followups = {r.id: r.reason for r in agent.state.followups()}
            with agent.sink.path.open(encoding="utf-8") as lines:
                return steps, followups, [json.loads(line)["order_id"] for line in lines]
        finally:
            agent.close()

    steps, followups, imported = await asyncio.to_thread(run)

    assert steps == {o1: Step.MANUAL, o3: Step.DELIVERED, o4: Step.DELIVERED}
    assert followups == {o1: "was active when imported: handled elsewhere, not activated again"}
    references = [o["spReference"] for o in onapi_orders(servers["onapi"])]
    assert references == [str(o4)]  # received: activated; active and delivered: not
    assert sorted(imported) == sorted((o1, o3, o4))  # each imported once
    assert (await tl1.call("order_info", id=o1)).one("order")["status"] == "active"
    assert (await tl1.call("order_info", id=o4)).one("order")["status"] == "delivered"
