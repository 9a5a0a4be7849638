"""Staff users, API users and the admin log, from the administration pages (in-process, as a
browser without JavaScript uses them) and from the service layer: secrets shown once and working,
sessions and login hashes ended, the last active admin kept, bad input marked next to its field
with nothing stored, and every change in the admin log without a secret."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from serviceguide.domain.audit import AuditFilter
from serviceguide.domain.errors import AuthenticationFailed, Forbidden, InvalidInput, NotFound
from serviceguide.domain.roles import Actor, Role
from serviceguide.services import accounts, audit, auth
from serviceguide.services.context import AppContext
from serviceguide.storage import tables
from tests.support.admin import PASSWORD, USERS, add_admin_users, admin_browser
from tests.support.world import World

pytestmark = pytest.mark.integration


@pytest.fixture
async def orgs(ctx: AppContext, world: World) -> dict[str, int]:
    return await add_admin_users(ctx)


def secret_of(html: str, name: str) -> str:
    m = re.search(rf'data-field="{name}">([^<]+)<', html)
    assert m, f"no data-field={name} on the page"
    return m.group(1)


async def count(ctx: AppContext, table: Any, *where: Any) -> int:
    async with ctx.db.read() as conn:
        q = select(func.count()).select_from(table).where(*where)
        return int((await conn.execute(q)).scalar_one())


async def rows(ctx: AppContext, table: Any) -> list[tuple[Any, ...]]:
    async with ctx.db.read() as conn:
        return sorted(tuple(r) for r in await conn.execute(select(table)))


async def actor_of(ctx: AppContext, username: str) -> Actor:
    from serviceguide.storage import staff

    async with ctx.db.read() as conn:
        user = await staff.get_user(conn, username=username)
    assert user is not None
    return Actor.staff(user.caller, user.username, user.role)


# --- staff users ---------------------------------------------------------------------------------


async def test_an_admin_adds_a_user_whose_password_is_shown_once_and_works(
    ctx: AppContext, orgs: dict[str, int]
) -> None:
    async with admin_browser(ctx, "tl1.admin") as b:
        page = await b.get("/staff/admin/users")
        assert page.status == 200 and "tl1.handler" in page.html and "koa.admin" not in page.html
        page = await b.submit(
            page.form("/staff/admin/users"),
            {"username": "ny.person", "name": "Ny Person", "role": "admin"},
        )
        assert page.status == 200
        password = secret_of(page.html, "password")
        assert "ny.person" in page.html
        again = await b.get("/staff/admin/users")
        assert password not in again.html  # shown once
    async with admin_browser(ctx) as fresh:
        landed = await fresh.login("ny.person", password)
        assert landed.status == 200 and "/staff/admin/" in landed.html  # an admin's menu
    async with ctx.db.read() as conn:
        q = select(tables.staff_users).where(tables.staff_users.c.username == "ny.person")
        stored = (await conn.execute(q)).one()
    assert stored.role == "admin" and stored.org_id == orgs["tl1.admin"]
    assert password not in stored.password_hash


@pytest.mark.parametrize(
    ("username", "name", "role", "field", "says"),
    [
        ("tl1.handler", "Dubblett", "handler", "username", "upptaget"),
        ("a", "För kort", "handler", "username", "2–100 tecken"),
        ("med mellanslag", "Namn", "handler", "username", "2–100 tecken"),
        ("ok.user", "", "handler", "name", "Fyll i"),
        ("ok.user", "x" * 201, "handler", "name", "högst 200"),
        ("ok.user", "Namn", "chef", "role", "handläggare eller administratör"),
    ],
)
async def test_a_bad_new_user_is_marked_next_to_its_field_and_nothing_is_stored(
    ctx: AppContext, orgs: dict[str, int], username: str, name: str, role: str, field: str,
    says: str,
) -> None:  # fmt: skip
    before = await rows(ctx, tables.staff_users)
    log_before = await count(ctx, tables.admin_log)
    async with admin_browser(ctx, "tl1.admin") as b:
        r = await b.post("/staff/admin/users", {"username": username, "name": name, "role": role})
        assert r.status_code == 400
        from tests.integration.test_guide_pages import Page

        assert says in Page(r).error_of(field)
    assert await rows(ctx, tables.staff_users) == before
    assert await count(ctx, tables.admin_log) == log_before


async def test_a_new_password_ends_the_users_sessions_and_the_old_password(
    ctx: AppContext, orgs: dict[str, int]
) -> None:
    async with admin_browser(ctx, "tl1.handler") as victim:
        assert (await victim.get("/staff/")).status == 200
        async with admin_browser(ctx, "tl1.admin") as b:
            users = await b.get("/staff/admin/users")
            user_id = re.search(r'action="/staff/admin/users/(\d+)/reset"', users.html)
            assert user_id
            ids = re.findall(r'<tr id="user-(\d+)">\s*<th scope="row">tl1.handler', users.html)
            r = await b.post(f"/staff/admin/users/{ids[0]}/reset", {})
            assert r.status_code == 200
            new = secret_of(r.text, "password")
        gone = await victim.http.get("/staff/")
        assert gone.status_code == 303 and "/staff/login" in gone.headers["location"]
    async with admin_browser(ctx) as b:
        assert (await b.login("tl1.handler", PASSWORD)).status == 401
        assert (await b.login("tl1.handler", new)).status == 200


async def test_the_last_active_admin_keeps_the_role_and_cannot_be_disabled(
    ctx: AppContext, orgs: dict[str, int]
) -> None:
    me = await actor_of(ctx, "tl1.admin")
    with pytest.raises(InvalidInput, match="last active admin"):
        await accounts.set_staff_role(ctx, me, Role.HANDLER, username="tl1.admin")
    with pytest.raises(InvalidInput, match="last active admin"):
        await accounts.set_staff_active(ctx, me, False, username="tl1.admin")
    with pytest.raises(InvalidInput, match="last active admin"):  # the command line too
        await accounts.set_staff_active(ctx, audit.cli_actor(), False, username="tl1.admin")
    before = await rows(ctx, tables.staff_users)
    async with admin_browser(ctx, "tl1.admin") as b:
        page = await b.get("/staff/admin/users")
        mine = re.search(r'<tr id="user-(\d+)">\s*<th scope="row">tl1.admin', page.html)
        assert mine
        r = await b.post(f"/staff/admin/users/{mine.group(1)}/role", {"role": "handler"})
        assert r.status_code == 409 and "sista aktiva administratör" in r.text
        r = await b.post(f"/staff/admin/users/{mine.group(1)}/disable", {})
        assert r.status_code == 409
    assert await rows(ctx, tables.staff_users) == before
    # With a second admin, the first may step down.
    await accounts.set_staff_role(ctx, me, Role.ADMIN, username="tl1.handler")
    await accounts.set_staff_role(ctx, me, Role.HANDLER, username="tl1.admin")


async def test_two_admins_demoting_each_other_at_once_leave_an_admin(
    ctx: AppContext, orgs: dict[str, int]
) -> None:
    first = await actor_of(ctx, "tl1.admin")
    await accounts.set_staff_role(ctx, first, Role.ADMIN, username="tl1.handler")
    second = await actor_of(ctx, "tl1.handler")
    results = await asyncio.gather(
        accounts.set_staff_role(ctx, first, Role.HANDLER, username="tl1.handler"),
        accounts.set_staff_role(ctx, second, Role.HANDLER, username="tl1.admin"),
        return_exceptions=True,
    )
    assert sum(isinstance(r, InvalidInput) for r in results) == 1, results
    admins = await count(
        ctx,
        tables.staff_users,
        tables.staff_users.c.org_id == orgs["tl1.admin"],
        tables.staff_users.c.role == "admin",
    )
    assert admins == 1


async def test_a_disabled_user_is_logged_out_and_cannot_log_in_until_enabled(
    ctx: AppContext, orgs: dict[str, int]
) -> None:
    me = await actor_of(ctx, "koa.admin")
    async with admin_browser(ctx, "koa.handler") as victim:
        await accounts.set_staff_active(ctx, me, False, username="koa.handler")
        assert (await victim.http.get("/staff/")).status_code == 303
        assert (await victim.login("koa.handler")).status == 401
        await accounts.set_staff_active(ctx, me, True, username="koa.handler")
        assert (await victim.login("koa.handler")).status == 200


async def test_an_admin_reaches_only_its_own_organisations_users(
    ctx: AppContext, orgs: dict[str, int]
) -> None:
    tl2 = await actor_of(ctx, "tl2.admin")
    with pytest.raises(NotFound):
        await accounts.set_staff_active(ctx, tl2, False, username="tl1.handler")
    with pytest.raises(NotFound):
        await accounts.reset_staff_password(ctx, tl2, username="tl1.handler")
    handler = await actor_of(ctx, "tl1.handler")
    with pytest.raises(Forbidden):
        await accounts.list_staff(ctx, handler)
    assert {u.username for u in await accounts.list_staff(ctx, tl2)} == {"tl2.admin"}


# --- API users -----------------------------------------------------------------------------------


async def test_an_admin_creates_an_api_user_whose_number_and_key_are_shown_once_and_log_in(
    ctx: AppContext, orgs: dict[str, int]
) -> None:
    async with admin_browser(ctx, "koa.admin") as b:
        page = await b.get("/staff/admin/api-users")
        page = await b.submit(
            page.form("/staff/admin/api-users"),
            {"name": "Ordersystem", "allow_ip": "192.0.2.10, 198.51.100.0/24"},
        )
        assert page.status == 200
        number, key = int(secret_of(page.html, "api_user")), secret_of(page.html, "api_key")
        assert key not in (await b.get("/staff/admin/api-users")).html
    login = await auth.api_login(ctx, number, key, "127.0.0.1")
    assert login.caller.org_id == orgs["koa.admin"]
    async with ctx.db.read() as conn:
        q = select(tables.api_users).where(tables.api_users.c.id == number)
        stored = (await conn.execute(q)).one()
    assert stored.ip_allowlist == ["192.0.2.10/32", "198.51.100.0/24"]
    assert stored.last_used_at is not None and key not in stored.key_hash
    async with admin_browser(ctx, "koa.admin") as b:
        listed = (await b.get("/staff/admin/api-users")).html
        row = listed[listed.index(f'id="api-user-{number}"') :][:3000]
        assert "Aldrig" not in row  # last used is shown


@pytest.mark.parametrize("entry", ["garbage", "0.0.0.0/0", "192.0.2.300"])
async def test_a_bad_allow_list_entry_is_marked_and_nothing_is_stored(
    ctx: AppContext, orgs: dict[str, int], entry: str
) -> None:
    before = await rows(ctx, tables.api_users)
    async with admin_browser(ctx, "koa.admin") as b:
        r = await b.post("/staff/admin/api-users", {"name": "X", "allow_ip": f"192.0.2.1 {entry}"})
        assert r.status_code == 400
        from tests.integration.test_guide_pages import Page

        assert entry in Page(r).error_of("allow_ip")
        koa = next(n for n, u in (await _numbers(ctx)).items() if u == orgs["koa.admin"])
        r = await b.post(f"/staff/admin/api-users/{koa}/allow-ip", {"allow_ip": entry})
        assert r.status_code == 400 and f'id="allow-{koa}-error"' in r.text
    assert await rows(ctx, tables.api_users) == before


async def _numbers(ctx: AppContext) -> dict[int, int]:
    async with ctx.db.read() as conn:
        q = select(tables.api_users.c.id, tables.api_users.c.org_id)
        return {r.id: r.org_id for r in await conn.execute(q)}


async def test_a_new_key_ends_the_old_key_and_its_login_hashes(
    ctx: AppContext, orgs: dict[str, int], world: World
) -> None:
    tl1 = world.users["TL1"]
    old_hash = (await auth.api_login(ctx, tl1.api_user, tl1.api_key, None)).hash_key
    async with admin_browser(ctx, "tl1.admin") as b:
        r = await b.post(f"/staff/admin/api-users/{tl1.api_user}/rotate", {})
        assert r.status_code == 200
        new_key = secret_of(r.text, "api_key")
    ctx.session_cache._items.clear()  # another process would forget it within its TTL
    with pytest.raises(AuthenticationFailed):
        await auth.caller_for_hash(ctx, old_hash)
    with pytest.raises(AuthenticationFailed):
        await auth.api_login(ctx, tl1.api_user, tl1.api_key, None)
    assert (await auth.api_login(ctx, tl1.api_user, new_key, None)).caller.org_id


async def test_a_disabled_api_user_is_refused_at_once_and_another_tls_is_not_found(
    ctx: AppContext, orgs: dict[str, int], world: World
) -> None:
    tl1 = world.users["TL1"]
    hash_key = (await auth.api_login(ctx, tl1.api_user, tl1.api_key, None)).hash_key
    tl2 = await actor_of(ctx, "tl2.admin")
    with pytest.raises(NotFound):
        await accounts.set_api_user_active(ctx, tl2, tl1.api_user, False)
    await accounts.set_api_user_active(ctx, await actor_of(ctx, "tl1.admin"), tl1.api_user, False)
    ctx.session_cache._items.clear()
    with pytest.raises(AuthenticationFailed):
        await auth.caller_for_hash(ctx, hash_key)
    with pytest.raises(AuthenticationFailed):
        await auth.api_login(ctx, tl1.api_user, tl1.api_key, None)


# --- the admin log -------------------------------------------------------------------------------


async def test_the_admin_log_says_who_what_before_and_after_and_never_a_secret(
    ctx: AppContext, orgs: dict[str, int], world: World
) -> None:
    async with admin_browser(ctx, "tl1.admin") as b:
        created = await b.post("/staff/admin/users", {"username": "logg.test", "name": "L"})
        password = secret_of(created.text, "password")
        rotated = await b.post(f"/staff/admin/api-users/{world.users['TL1'].api_user}/rotate", {})
        key = secret_of(rotated.text, "api_key")
        page = await b.get("/staff/admin/log?action=staff")
        assert "<code>staff.create</code>" in page.html and "logg.test" in page.html
        assert "<code>api_user.rotate</code>" not in page.html  # filtered out
        other = await b.get("/staff/admin/log")
        assert "Stadsnät A" not in other.html  # KOA's entries are KOA's
    async with ctx.db.read() as conn:
        stored = [dict(r._mapping) for r in await conn.execute(select(tables.admin_log))]
    text = json.dumps(stored, default=str)
    assert password not in text and key not in text
    entry = next(e for e in stored if e["action"] == "staff.create" and "logg.test" in e["object"])
    assert entry["actor"] == "tl1.admin Person (tl1.admin)" and entry["org_id"] == orgs["tl1.admin"]
    assert json.loads(entry["after"]) == {"username": "logg.test", "name": "L", "role": "handler"}
    platform = await actor_of(ctx, "platform.admin")
    everything, _ = await audit.list_entries(ctx, platform, AuditFilter())
    assert {e.org_name for e in everything} >= {"Leverantör Ett AB", "Stadsnät A"}
    mine, _ = await audit.list_entries(ctx, await actor_of(ctx, "tl1.admin"), AuditFilter())
    assert {e.org_id for e in mine} == {orgs["tl1.admin"]}


async def test_the_admin_log_pages_by_id_and_filters_by_day_and_actor(
    ctx: AppContext, orgs: dict[str, int]
) -> None:
    me = await actor_of(ctx, "kob.admin")
    for i in range(5):
        await accounts.create_staff_user(
            ctx, me, await accounts.own_organisation(ctx, me), f"kob.u{i}", "U"
        )
    first, more = await audit.list_entries(ctx, me, AuditFilter(action="staff"), limit=3)
    assert len(first) == 3 and more is not None
    rest, last = await audit.list_entries(ctx, me, AuditFilter(action="staff"), before_id=more)
    assert last is None and {e.id for e in first}.isdisjoint(e.id for e in rest)
    async with admin_browser(ctx, "kob.admin") as b:
        page = await b.get("/staff/admin/log?actor=kob.admin&from=2999-01-01")
        assert page.status == 200 and "kob.u1" not in page.html
        bad = await b.get("/staff/admin/log?from=igår")
        assert bad.status == 400 and "ÅÅÅÅ-MM-DD" in bad.html
        page = await b.get("/staff/admin/log?actor=kob.admin")
        assert "kob.u4" in page.html


# --- roles on the staff pages --------------------------------------------------------------------


async def test_a_handler_has_no_administration_and_an_admin_has(
    ctx: AppContext, orgs: dict[str, int]
) -> None:
    async with admin_browser(ctx, "tl1.handler") as b:
        assert 'href="/staff/admin/"' not in (await b.get("/staff/")).html
        denied = await b.get("/staff/admin/users")
        assert denied.status == 403 and "behörighet" in denied.html
    async with admin_browser(ctx, "tl1.admin") as b:
        assert 'href="/staff/admin/"' in (await b.get("/staff/")).html


async def test_the_platforms_staff_see_no_orders(
    ctx: AppContext, orgs: dict[str, int], world: World
) -> None:
    async with admin_browser(ctx, "platform.admin") as b:
        start = await b.http.get("/staff/")
        assert start.status_code == 303 and start.headers["location"] == "/staff/admin/"
        for path in ("/staff/orders", f"/staff/orders/{world.orders['o1']}", "/staff/orders.csv"):
            r = await b.http.get(path)
            assert r.status_code == 403, path
            assert "Efternamn1" not in r.text
        r = await b.post(f"/staff/orders/{world.orders['o1']}/reveal", {})
        assert r.status_code == 403
    assert USERS["platform.admin"][1] == Role.ADMIN
