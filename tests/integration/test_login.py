"""api_login: hashes that expire, are stored hashed, work across processes; throttling."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from serviceguide.services.context import AppContext, SessionCache
from serviceguide.services.secrets import sha256_hex
from serviceguide.storage.db import Database
from serviceguide.storage.tables import api_sessions, api_users
from tests.support.world import World
from tests.support.xsp import Session, XspClient

pytestmark = pytest.mark.integration


async def test_only_the_sha256_of_a_hash_and_an_argon2_key_hash_are_stored(
    ctx: AppContext, xsp: XspClient, world: World
):
    tl1 = world.users["TL1"]
    h = await xsp.login(tl1.api_user, tl1.api_key)
    async with ctx.db.read() as conn:
        tokens = (await conn.execute(select(api_sessions.c.token_sha256))).scalars().all()
        key_hash = (
            await conn.execute(select(api_users.c.key_hash).where(api_users.c.id == tl1.api_user))
        ).scalar_one()
    assert tokens == [sha256_hex(h)]
    assert key_hash.startswith("$argon2id$") and tl1.api_key not in key_hash


async def test_a_hash_expires_after_its_lifetime_and_use_does_not_extend_it(
    ctx: AppContext, world: World
):
    short = AppContext(ctx.db, ctx.settings.model_copy(update={"hash_ttl_seconds": 2}))
    async with XspClient.in_process(short) as client:
        s = await client.session(world.users["TL1"])
        assert (await s.call("order_info", id=world.orders["o1"])).code == 200
        await asyncio.sleep(1.2)
        assert (await s.call("order_info", id=world.orders["o1"])).code == 200
        await asyncio.sleep(1.0)
        r = await s.call("order_info", id=world.orders["o1"])
        assert (r.code, r.status) == (401, "failed")
        assert "expired" in r.message


async def test_a_hash_from_one_process_is_valid_in_another(ctx: AppContext, world: World):
    # A second Database object has its own engine and pool: another server process as far as
    # the database can tell.
    other_db = Database(ctx.settings.database_url)
    other = AppContext(other_db, ctx.settings)
    try:
        async with XspClient.in_process(ctx) as a, XspClient.in_process(other) as b:
            tl1 = world.users["TL1"]
            h = await a.login(tl1.api_user, tl1.api_key)
            r = await b.call("order_info", hash=h, id=world.orders["o1"])
            assert (r.code, r.status) == (200, "success")
    finally:
        await other_db.dispose()


@pytest.mark.parametrize("bad", ["wrong-key", "", "key-tl1-0123456789 "])
async def test_a_wrong_key_is_401_and_issues_nothing(
    ctx: AppContext, xsp: XspClient, world: World, bad: str
):
    tl1 = world.users["TL1"]
    r = await xsp.call("api_login", api_user=tl1.api_user, api_key=bad)
    assert r.code in (400, 401) and r.status == "failed"
    assert "hash_key" not in r.response
    async with ctx.db.read() as conn:
        assert (await conn.execute(select(api_sessions))).first() is None


async def test_an_unknown_api_user_is_401_like_a_wrong_key(xsp: XspClient, world: World):
    tl1 = world.users["TL1"]
    wrong_key = await xsp.call("api_login", api_user=tl1.api_user, api_key="nope")
    no_user = await xsp.call("api_login", api_user=987654, api_key="nope")
    assert wrong_key.code == no_user.code == 401
    assert wrong_key.http.content == no_user.http.content


async def test_failed_logins_are_throttled_per_user_with_retry_after(ctx: AppContext, world: World):
    strict = AppContext(ctx.db, ctx.settings.model_copy(update={"login_failures": 3}))
    tl1 = world.users["TL1"]
    async with (
        XspClient.in_process(strict, client=("192.0.2.10", 1)) as a,
        XspClient.in_process(strict, client=("192.0.2.11", 1)) as b,
        XspClient.in_process(strict, client=("192.0.2.12", 1)) as c,
    ):
        for _ in range(3):
            assert (await a.call("api_login", api_user=tl1.api_user, api_key="x")).code == 401
        # Even the right key is refused from the address that failed, while the user is at
        # the limit.
        r = await a.call("api_login", api_user=tl1.api_user, api_key=tl1.api_key)
        assert (r.code, r.status) == (429, "failed")
        assert 1 <= int(r.http.headers["Retry-After"]) <= 301
        # Another address gets one try at the locked user: a wrong key is a 401 and shuts
        # that address out too ...
        assert (await b.call("api_login", api_user=tl1.api_user, api_key="y")).code == 401
        assert (await b.call("api_login", api_user=tl1.api_user, api_key=tl1.api_key)).code == 429
        # ... another user from a throttled-for-tl1 address is not affected.
        tl2 = world.users["TL2"]
        assert (await b.call("api_login", api_user=tl2.api_user, api_key=tl2.api_key)).code == 200
        # A stranger's failures do not lock the user out: the right key from an address
        # without failures gets in.
        assert (await c.call("api_login", api_user=tl1.api_user, api_key=tl1.api_key)).code == 200


async def test_failed_logins_are_throttled_per_client_address(ctx: AppContext, world: World):
    strict = AppContext(ctx.db, ctx.settings.model_copy(update={"login_failures": 3}))
    async with XspClient.in_process(strict, client=("192.0.2.20", 1)) as a:
        for n in range(3):  # three different users, one address
            assert (await a.call("api_login", api_user=900 + n, api_key="x")).code == 401
        tl2 = world.users["TL2"]
        r = await a.call("api_login", api_user=tl2.api_user, api_key=tl2.api_key)
        assert r.code == 429 and "Retry-After" in r.http.headers


async def test_an_inactive_api_user_cannot_log_in(ctx: AppContext, xsp: XspClient, world: World):
    tl1 = world.users["TL1"]
    async with ctx.db.write() as conn:
        await conn.execute(
            api_users.update().where(api_users.c.id == tl1.api_user).values(active=False)
        )
    r = await xsp.call("api_login", api_user=tl1.api_user, api_key=tl1.api_key)
    assert r.code == 401


async def test_a_deactivated_users_hash_is_refused_by_any_process_that_has_not_just_seen_it(
    ctx: AppContext, xsp: XspClient, world: World, monkeypatch: pytest.MonkeyPatch
):
    tl1 = world.users["TL1"]
    session = await xsp.session(tl1)
    assert (await session.call("orders", since_id=0, limit=1)).code == 200  # now remembered
    async with ctx.db.write() as conn:
        await conn.execute(
            api_users.update().where(api_users.c.id == tl1.api_user).values(active=False)
        )
    # Another process (its own memory of hashes) refuses it at once ...
    async with XspClient.in_process(AppContext(ctx.db, ctx.settings)) as other:
        r = await Session(other, session.hash).call("orders", since_id=0, limit=1)
        assert r.code == 401
    # ... and this one as soon as what it remembers is older than the TTL.
    monkeypatch.setattr(SessionCache, "TTL", 0.0)
    assert (await session.call("orders", since_id=0, limit=1)).code == 401
