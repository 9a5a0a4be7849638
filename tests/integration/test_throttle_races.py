"""Rate limits under concurrency: every limit is taken before the work it guards, in one
transaction that holds its key (services.ratelimit), so a burst of concurrent requests gets
exactly as far as the limit allows — in one process, and across processes sharing PostgreSQL
(here: two application contexts with their own connection pools, as two servers have)."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
from sqlalchemy import func, select

from serviceguide.app import create_app
from serviceguide.domain.errors import AuthenticationFailed, InvalidInput, Throttled
from serviceguide.services import staff as staff_service
from serviceguide.services.context import AppContext
from serviceguide.storage.db import Database
from serviceguide.storage.tables import orders
from tests.integration.test_guide_api import body
from tests.integration.test_staff_pages import PASSWORD, STAFF, staff_world  # noqa: F401
from tests.support.world import World
from tests.support.xsp import XspClient

pytestmark = pytest.mark.integration


async def _two_servers(ctx: AppContext, **settings: object) -> tuple[AppContext, AppContext]:
    """Two contexts over the same database, each with its own pool (another server)."""
    tuned = ctx.settings.model_copy(update=settings)
    other = Database(ctx.settings.database_url, pool_size=5)
    return AppContext(ctx.db, tuned), AppContext(other, tuned)


async def test_concurrent_wrong_keys_from_one_address_stop_at_the_limit(
    ctx: AppContext, world: World
):
    one, two = await _two_servers(ctx, login_failures=10)
    tl1 = world.users["TL1"]
    try:
        async with (
            XspClient.in_process(one, client=("192.0.2.50", 1)) as a,
            XspClient.in_process(two, client=("192.0.2.50", 2)) as b,
        ):
            replies = await asyncio.gather(
                *(
                    (a if i % 2 else b).call("api_login", api_user=tl1.api_user, api_key=f"x{i}")
                    for i in range(30)
                )
            )
    finally:
        await two.db.dispose()
    codes = Counter(r.code for r in replies)
    assert codes == {401: 10, 429: 20}, codes


async def test_concurrent_guide_orders_from_one_address_stop_at_the_limit(
    ctx: AppContext, world: World
):
    one, two = await _two_servers(ctx, guide_rate=20)  # each order below is 2 services
    async with ctx.db.read() as conn:
        before = (await conn.execute(select(func.count()).select_from(orders))).scalar_one()

    def client(c: AppContext) -> httpx.AsyncClient:
        app = create_app(c.settings)
        app.state.ctx = c
        transport = httpx.ASGITransport(app=app, client=("203.0.113.77", 1))
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")

    try:
        async with client(one) as a, client(two) as b:
            replies = await asyncio.gather(
                *(
                    # The same household ordering again and again, said so: only the limit stops it.
                    (a if i % 2 else b).post("/api/guide/orders", json=body(confirm_duplicate=True))
                    for i in range(25)
                )
            )
    finally:
        await two.db.dispose()
    codes = Counter(r.status_code for r in replies)
    assert codes == {201: 10, 429: 15}, codes
    async with ctx.db.read() as conn:
        after = (await conn.execute(select(func.count()).select_from(orders))).scalar_one()
    assert after - before == 20


async def test_an_order_that_is_not_placed_gives_its_count_back(ctx: AppContext, world: World):
    strict = AppContext(ctx.db, ctx.settings.model_copy(update={"guide_rate": 2}))
    app = create_app(strict.settings)
    app.state.ctx = strict
    transport = httpx.ASGITransport(app=app, client=("203.0.113.78", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as guide:
        # A repeat of an Idempotency-Key places nothing and counts nothing.
        headers = {"Idempotency-Key": "once"}
        for _ in range(3):
            assert (
                await guide.post("/api/guide/orders", json=body(), headers=headers)
            ).status_code == 201
        assert (await guide.post("/api/guide/orders", json=body())).status_code == 429


async def test_concurrent_wrong_staff_passwords_stop_at_the_limit(
    ctx: AppContext,
    staff_world: World,  # noqa: F811
):
    one, two = await _two_servers(ctx, login_failures=5)
    username = STAFF["TL1"][0]

    async def attempt(i: int) -> str:
        try:
            await staff_service.login(one if i % 2 else two, username, f"wrong{i}", "192.0.2.60")
        except Throttled:
            return "throttled"
        except AuthenticationFailed:
            return "refused"
        return "in"

    try:
        outcomes = Counter(await asyncio.gather(*(attempt(i) for i in range(20))))
    finally:
        await two.db.dispose()
    assert outcomes == {"refused": 5, "throttled": 15}, outcomes


async def test_a_session_cannot_guess_the_current_password_without_limit(
    ctx: AppContext,
    staff_world: World,  # noqa: F811
):
    strict = AppContext(ctx.db, ctx.settings.model_copy(update={"login_failures": 3}))
    username = STAFF["TL1"][0]
    token = await staff_service.login(strict, username, PASSWORD, "192.0.2.61")
    session = await staff_service.session(strict, token)
    assert session is not None
    for i in range(3):
        with pytest.raises(InvalidInput):
            await staff_service.change_password(
                strict, session, f"guess{i}", "a new password", "192.0.2.61"
            )
    # The fourth guess is refused before it is checked, even when it is right.
    with pytest.raises(Throttled) as refused:
        await staff_service.change_password(
            strict, session, PASSWORD, "a new password", "192.0.2.61"
        )
    assert refused.value.retry_after >= 1
    # The guesses counted as failed logins of that user from that address, too.
    with pytest.raises(Throttled):
        await staff_service.login(strict, username, PASSWORD, "192.0.2.61")


async def test_a_right_password_does_not_count_towards_the_limit(
    ctx: AppContext,
    staff_world: World,  # noqa: F811
):
    strict = AppContext(ctx.db, ctx.settings.model_copy(update={"login_failures": 2}))
    username = STAFF["TL1"][0]
    for _ in range(5):
        await staff_service.login(strict, username, PASSWORD, "192.0.2.62")
