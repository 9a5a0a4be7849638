"""ON-API lists the services the guide offers on the network, in one statement with the access:
the same services as the guide's own rule (storage.admissions.offered), whatever is switched off."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import delete, select, update

from serviceguide.app import create_app
from serviceguide.services.context import AppContext
from serviceguide.storage.admissions import offered
from serviceguide.storage.tables import network_admissions, networks, organisations, services
from tests.support.world import World

pytestmark = pytest.mark.integration


@pytest.fixture
async def http(ctx: AppContext, world: World) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ctx.settings)
    app.state.ctx = ctx
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def _offered_by_the_guide(ctx: AppContext, coid: str) -> list[str]:
    async with ctx.db.read() as conn:
        q = (
            select(services.c.uid)
            .join(networks, networks.c.id == services.c.network_id)
            .where(networks.c.coid == coid, offered())
            .distinct()
            .order_by(services.c.uid)
        )
        return list((await conn.execute(q)).scalars())


async def _listed(http: httpx.AsyncClient, world: World) -> tuple[list[str], list[str]]:
    u = world.users["KOA"]
    who = httpx.BasicAuth(str(u.api_user), u.api_key)
    one = await http.get("/plain/onapi/KOA/accesses/A1", auth=who)
    every = await http.get("/plain/onapi/KOA/accesses", auth=who)
    assert one.status_code == every.status_code == 200
    return [s["service"] for s in one.json()["services"]], [
        s["service"] for s in every.json()[0]["services"]
    ]


async def test_the_services_of_an_access_are_those_the_guide_offers(
    ctx: AppContext, http: httpx.AsyncClient, world: World
):
    async def check() -> list[str]:
        ctx.basic_cache.clear()
        expected = await _offered_by_the_guide(ctx, "KOA")
        one, every = await _listed(http, world)
        assert one == every == expected
        return expected

    assert await check()  # everything on
    async with ctx.db.write() as conn:
        first = (await conn.execute(select(services.c.id, services.c.tl_org_id))).first()
        assert first is not None
        await conn.execute(update(services).where(services.c.id == first[0]).values(active=False))
    await check()
    async with ctx.db.write() as conn:
        await conn.execute(update(services).values(active=True))
        await conn.execute(
            delete(network_admissions).where(network_admissions.c.tl_org_id == first[1])
        )
    await check()
    async with ctx.db.write() as conn:
        await conn.execute(
            update(organisations).where(organisations.c.kind == "tl").values(active=False)
        )
    assert await check() == []
