"""Creating API users: the IP allow-list (the addresses from which a KO may call ``add_message``
with ``api_user`` alone) accepts addresses and CIDR networks, stored in canonical form, and
refuses anything else with a clear error and nothing stored."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from serviceguide.domain.errors import InvalidInput
from serviceguide.services import admin
from serviceguide.services.context import AppContext
from serviceguide.storage.tables import api_users
from tests.support.notify import command, command_process
from tests.support.world import World

pytestmark = pytest.mark.integration


async def _count(ctx: AppContext) -> int:
    async with ctx.db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(api_users))).scalar_one())


async def _allowlist(ctx: AppContext, api_user: int) -> list[str] | None:
    q = select(api_users.c.ip_allowlist).where(api_users.c.id == api_user)
    async with ctx.db.read() as conn:
        return (await conn.execute(q)).scalar_one()  # type: ignore[no-any-return]


async def test_an_allowlist_is_stored_as_canonical_networks(ctx: AppContext, world: World):
    ko = await admin.find_org(ctx, coid="KOA")
    given = [" 192.0.2.7 ", "10.1.2.3/24", "2001:DB8::1/32", "192.0.2.7/32"]
    cred = await admin.create_api_user(ctx, ko, "KOA robots", ip_allowlist=given)
    assert await _allowlist(ctx, cred.ident) == ["192.0.2.7/32", "10.1.2.0/24", "2001:db8::/32"]


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        ("garbage", "'garbage' is not an IP address or network"),
        ("999.1.1.1", "'999.1.1.1' is not an IP address or network"),
        ("10.0.0.0/33", "'10.0.0.0/33' is not an IP address or network"),
        ("", "'' is not an IP address or network"),
        ("10.0.0.1\x00", "is not an IP address or network"),
        ("0.0.0.0/0", "0.0.0.0/0 would admit every address"),
        ("::/0", "::/0 would admit every address"),
    ],
)
async def test_a_bad_allowlist_entry_is_refused_and_nothing_stored(
    ctx: AppContext, world: World, entry: str, error: str
):
    ko = await admin.find_org(ctx, coid="KOA")
    before = await _count(ctx)
    with pytest.raises(InvalidInput) as refused:
        await admin.create_api_user(ctx, ko, "KOA robots", ip_allowlist=["192.0.2.1", entry])
    assert refused.value.field == "allow_ip" and error in refused.value.message
    assert await _count(ctx) == before


async def test_too_long_an_allowlist_is_refused(ctx: AppContext, world: World):
    ko = await admin.find_org(ctx, coid="KOA")
    before = await _count(ctx)
    many = [f"10.0.{i // 256}.{i % 256}" for i in range(101)]
    with pytest.raises(InvalidInput, match="at most 100 entries"):
        await admin.create_api_user(ctx, ko, "KOA robots", ip_allowlist=many)
    assert await _count(ctx) == before


async def test_the_command_refuses_a_bad_entry_and_warns_about_loopback(
    ctx: AppContext, world: World, database_url: str
):
    before = await _count(ctx)
    refused = await command_process(  # a real process
        database_url, "api-users", "create", "--name", "x", "--coid", "KOA", "--allow-ip", "nope"
    )
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "'nope' is not an IP address or network" in refused.stderr
    assert "secret" not in refused.stdout
    assert await _count(ctx) == before

    plain = await command(
        database_url, "api-users", "create", "--name", "y", "--coid", "KOA",
        "--allow-ip", "192.0.2.0/24",
    )  # fmt: skip
    assert plain.returncode == 0 and "warning" not in plain.stderr, plain.stderr
    local = await command(
        database_url, "api-users", "create", "--name", "z", "--coid", "KOA",
        "--allow-ip", "192.0.2.0/24", "--allow-ip", "127.0.0.0/8",
    )  # fmt: skip
    assert local.returncode == 0, local.stderr
    assert "warning" in local.stderr and "SERVICEGUIDE_TRUSTED_PROXIES" in local.stderr
    assert await _count(ctx) == before + 2
