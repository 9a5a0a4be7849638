"""The administration's authorisation policy as one table: every page and action under
``/staff/admin/``, for every kind of caller, with the outcome that caller gets.

Each row has a *target organisation*: TL1 for a TL's section, KOA for a KO's, the platform for
the platform's. Sections both kinds have (staff users, API users, webhooks, the log) have a row
for each (``@TL`` and ``@KO``). The columns are seen from the target:

- ``anonymous``: no session (a browser with a CSRF cookie and token);
- ``handler``: a handler of the target organisation;
- ``own``: an admin of the target organisation;
- ``same``: an admin of another organisation of the same kind (TL2, KOB);
- ``other``: an admin of the other kind (KOA for a TL row, TL1 for a KO row);
- ``platform``: a platform admin.

For the platform's own rows there is no other organisation of its kind: ``same`` is KOA's admin
and ``other`` TL1's.

Outcomes: ``OK`` the answer of success — a page shows the target, an action changes the target
and writes its admin-log entry; ``OWN`` success on the caller's own organisation — a page
without the target, an action that changes only the caller's organisation; ``N404`` exactly the
answer for an id that does not exist; ``F403`` refused; ``R303`` to the login page. Every cell
but ``OK`` and ``OWN`` must change nothing at all; ``OWN`` must leave the target organisation
as it was. Within a row the cells run with the target's own admin last, so the one call that
changes the target comes after every check that it does not.

``test_every_admin_route_has_a_row`` fails when the app gets an administration route without a
row here, or a row is left for a route that no longer exists.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from serviceguide.app import create_app
from serviceguide.services import admin, audit, platform, webhooks
from serviceguide.services.context import AppContext
from serviceguide.storage import catalogue, tables
from tests.conftest import make_settings
from tests.integration.test_authorisation_matrix import _declared_routes
from tests.support.admin import AdminBrowser, add_admin_users, admin_browser
from tests.support.world import World, build_world

pytestmark = pytest.mark.integration


class Outcome(StrEnum):
    OK = "OK"
    OWN = "OWN"
    N404 = "N404"
    F403 = "F403"
    R303 = "R303"


OK, OWN, N404, F403, R303 = Outcome.OK, Outcome.OWN, Outcome.N404, Outcome.F403, Outcome.R303
COLUMNS = ("anonymous", "handler", "own", "same", "other", "platform")
RUN_ORDER = ("anonymous", "handler", "same", "other", "platform", "own")
WHO: dict[str, dict[str, str]] = {
    "TL": {"handler": "tl1.handler", "own": "tl1.admin", "same": "tl2.admin",
           "other": "koa.admin", "platform": "platform.admin"},
    "KO": {"handler": "koa.handler", "own": "koa.admin", "same": "kob.admin",
           "other": "tl1.admin", "platform": "platform.admin"},
    "P": {"handler": "tl1.handler", "own": "platform.admin", "same": "koa.admin",
          "other": "tl1.admin", "platform": "platform.admin"},
}  # fmt: skip

# fmt: off
#                            anon  handler own  same  other platform
MATRIX: dict[str, tuple[Outcome, ...]] = {
    "home@TL":              (R303, F403,   OK,  OK,   OK,   OK),
    "home@KO":              (R303, F403,   OK,  OK,   OK,   OK),
    # --- the TL's services ------------------------------------------------------------------
    "services.page":        (R303, F403,   OK,  OWN,  F403, F403),
    "services.create":      (R303, F403,   OK,  OWN,  F403, F403),
    "services.update":      (R303, F403,   OK,  N404, F403, F403),
    "services.retire":      (R303, F403,   OK,  N404, F403, F403),
    "delivery.page":        (R303, F403,   OK,  OWN,  F403, F403),
    "delivery.save":        (R303, F403,   OK,  OWN,  F403, F403),
    "delivery.onapi":       (R303, F403,   OK,  OWN,  F403, F403),
    # --- the KO's network -------------------------------------------------------------------
    "network.page":         (R303, F403,   OK,  OWN,  F403, F403),
    "network.save":         (R303, F403,   OK,  OWN,  F403, F403),
    "network.test":         (R303, F403,   OK,  OWN,  F403, F403),
    "network.admit":        (R303, F403,   OK,  OWN,  F403, F403),
    "network.withdraw":     (R303, F403,   OK,  OWN,  F403, F403),
    # --- the KO's market database -----------------------------------------------------------
    "accesses.page":        (R303, F403,   OK,  OWN,  F403, F403),
    "accesses.upload":      (R303, F403,   OK,  OWN,  F403, F403),
    "accesses.import":      (R303, F403,   OK,  N404, F403, F403),
    "accesses.rejected":    (R303, F403,   OK,  N404, F403, F403),
    "accesses.export":      (R303, F403,   OK,  OWN,  F403, F403),
    # --- staff users, both kinds (the platform manages its own) -----------------------------
    "users.page@TL":        (R303, F403,   OK,  OWN,  OWN,  OWN),
    "users.create@TL":      (R303, F403,   OK,  OWN,  OWN,  OWN),
    "users.reset@TL":       (R303, F403,   OK,  N404, N404, N404),
    "users.role@TL":        (R303, F403,   OK,  N404, N404, N404),
    "users.disable@TL":     (R303, F403,   OK,  N404, N404, N404),
    "users.enable@TL":      (R303, F403,   OK,  N404, N404, N404),
    "users.page@KO":        (R303, F403,   OK,  OWN,  OWN,  OWN),
    "users.create@KO":      (R303, F403,   OK,  OWN,  OWN,  OWN),
    "users.reset@KO":       (R303, F403,   OK,  N404, N404, N404),
    "users.role@KO":        (R303, F403,   OK,  N404, N404, N404),
    "users.disable@KO":     (R303, F403,   OK,  N404, N404, N404),
    "users.enable@KO":      (R303, F403,   OK,  N404, N404, N404),
    # --- API users, both kinds (the platform has none) --------------------------------------
    "api.page@TL":          (R303, F403,   OK,  OWN,  OWN,  F403),
    "api.create@TL":        (R303, F403,   OK,  OWN,  OWN,  F403),
    "api.allow_ip@TL":      (R303, F403,   OK,  N404, N404, F403),
    "api.rotate@TL":        (R303, F403,   OK,  N404, N404, F403),
    "api.disable@TL":       (R303, F403,   OK,  N404, N404, F403),
    "api.enable@TL":        (R303, F403,   OK,  N404, N404, F403),
    "api.page@KO":          (R303, F403,   OK,  OWN,  OWN,  F403),
    "api.create@KO":        (R303, F403,   OK,  OWN,  OWN,  F403),
    "api.allow_ip@KO":      (R303, F403,   OK,  N404, N404, F403),
    "api.rotate@KO":        (R303, F403,   OK,  N404, N404, F403),
    "api.disable@KO":       (R303, F403,   OK,  N404, N404, F403),
    "api.enable@KO":        (R303, F403,   OK,  N404, N404, F403),
    # --- webhooks, both kinds ---------------------------------------------------------------
    "hooks.page@TL":        (R303, F403,   OK,  OWN,  OWN,  F403),
    "hooks.register@TL":    (R303, F403,   OK,  OWN,  OWN,  F403),
    "hooks.rotate@TL":      (R303, F403,   OK,  N404, N404, F403),
    "hooks.replay@TL":      (R303, F403,   OK,  N404, N404, F403),
    "hooks.disable@TL":     (R303, F403,   OK,  N404, N404, F403),
    "hooks.page@KO":        (R303, F403,   OK,  OWN,  OWN,  F403),
    "hooks.register@KO":    (R303, F403,   OK,  OWN,  OWN,  F403),
    "hooks.rotate@KO":      (R303, F403,   OK,  N404, N404, F403),
    "hooks.replay@KO":      (R303, F403,   OK,  N404, N404, F403),
    "hooks.disable@KO":     (R303, F403,   OK,  N404, N404, F403),
    # --- the admin log: an admin's own organisation's; the platform's is everyone's ---------
    "log@TL":               (R303, F403,   OK,  OWN,  OWN,  OK),
    "log@KO":               (R303, F403,   OK,  OWN,  OWN,  OK),
    # --- the platform -----------------------------------------------------------------------
    "platform.page":        (R303, F403,   OK,  F403, F403, OK),
    "platform.create_ko":   (R303, F403,   OK,  F403, F403, OK),
    "platform.create_tl":   (R303, F403,   OK,  F403, F403, OK),
    "platform.org":         (R303, F403,   OK,  F403, F403, OK),
    "platform.disable":     (R303, F403,   OK,  F403, F403, OK),
    "platform.enable":      (R303, F403,   OK,  F403, F403, OK),
}
# fmt: on


# --- the world as the cells see it ---------------------------------------------------------------


@dataclass
class Env:
    ctx: AppContext
    world: World
    orgs: dict[str, int]  # username → its organisation's id
    ids: dict[str, int] = field(default_factory=dict)  # named targets, e.g. "user@TL"
    browsers: dict[str, AdminBrowser] = field(default_factory=dict)


async def _user_id(ctx: AppContext, username: str) -> int:
    async with ctx.db.read() as conn:
        q = select(tables.staff_users.c.id).where(tables.staff_users.c.username == username)
        return int((await conn.execute(q)).scalar_one())


async def _build(ctx: AppContext, world: World) -> Env:
    orgs = await add_admin_users(ctx)
    e = Env(ctx, world, orgs)
    tl1 = await admin.find_org(ctx, xsp=1001)
    koa = await admin.find_org(ctx, coid="KOA")
    e.ids["hook@TL"] = (await webhooks.register(ctx, tl1, "https://tl1.example/hook")).endpoint_id
    e.ids["hook@KO"] = (await webhooks.register(ctx, koa, "https://koa.example/hook")).endpoint_id
    e.ids["user@TL"] = await _user_id(ctx, "tl1.handler")
    e.ids["user@KO"] = await _user_id(ctx, "koa.handler")
    e.ids["api@TL"] = world.users["TL1"].api_user
    e.ids["api@KO"] = world.users["KOA"].api_user
    e.ids["org@P"] = (await admin.find_org(ctx, xsp=1002)).id
    e.ids["service@TL"] = 101
    e.ids["import@KO"] = await _finished_import(ctx, koa.id)
    e.orgs["P"] = (await platform.platform_org(ctx)).id
    await admin.create_tl(ctx, 1003, "Leverantör Tre AB", "tre@example.se")  # admitted nowhere
    await admin.set_activation_url(ctx, "KOA", "http://127.0.0.1:9/koa-activation")
    await admin.set_activation_url(ctx, "KOB", "http://127.0.0.1:9/kob-activation")
    return e


#: Building the world, its admins and everyone's logins takes a hundred requests and writes. It
#: is done for real once per database; later rows put the rows it wrote back and give each
#: browser the cookies it had.
_built: dict[str, tuple[Env, dict[str, list[dict[str, Any]]], dict[str, dict[str, str]]]] = {}


@pytest.fixture
async def env(ctx: AppContext) -> AsyncIterator[Env]:
    from tests.conftest import _dump, _restore

    url = ctx.settings.database_url
    names = ["anonymous", *sorted({u for who in WHO.values() for u in who.values()})]
    async with AsyncExitStack() as stack:
        if url in _built:
            built, rows, cookies = _built[url]
            await _restore(ctx.db, rows)
            e = Env(ctx, copy.deepcopy(built.world), dict(built.orgs), dict(built.ids))
            for name in names:
                b = await stack.enter_async_context(admin_browser(ctx))
                for key, value in cookies[name].items():
                    b.http.cookies.set(key, value, path="/")
                e.browsers[name] = b
        else:
            e = await _build(ctx, await build_world(ctx))
            for name in names:
                who = None if name == "anonymous" else name
                e.browsers[name] = await stack.enter_async_context(admin_browser(ctx, who))
            await e.browsers["anonymous"].token()  # its CSRF cookie
            cookies = {n: dict(b.http.cookies.items()) for n, b in e.browsers.items()}
            _built[url] = (
                Env(ctx, copy.deepcopy(e.world), dict(e.orgs), dict(e.ids)),
                await _dump(ctx.db),
                cookies,
            )
        yield e


async def _finished_import(ctx: AppContext, koa_id: int) -> int:
    from serviceguide.domain.clock import utcnow
    from serviceguide.storage import imports

    async with ctx.db.write() as conn:
        network = await catalogue.network_by_coid(conn, "KOA")
        assert network is not None
        return await imports.insert_import(
            conn, network_id=network.id, org_id=koa_id, state="done", format="csv",
            filename="matris.csv", path="/nowhere", bytes=1, created_by="matrix",
            created_at=utcnow(),
        )  # fmt: skip


def target_org(env: Env, kind: str) -> int:
    return env.orgs["P"] if kind == "P" else env.orgs[WHO[kind]["own"]]


ADMIN_TABLES = (
    tables.organisations,
    tables.networks,
    tables.services,
    tables.network_admissions,
    tables.staff_users,
    tables.api_users,
    tables.webhook_endpoints,
    tables.outbox,
    tables.admin_log,
    tables.imports,
)


async def state(env: Env) -> dict[str, str]:
    """A digest of every administrative table (sessions and last-used times aside)."""
    out: dict[str, str] = {}
    async with env.ctx.db.read() as conn:
        for t in ADMIN_TABLES:
            cols = [c for c in t.c if c.name not in ("last_used_at",)]
            found = sorted(repr(tuple(r)) for r in await conn.execute(select(*cols)))
            out[t.name] = hashlib.sha256("\n".join(found).encode()).hexdigest()
    return out


async def log_of(env: Env, org_id: int) -> list[str]:
    """The actions of the admin log's entries for one organisation, in order."""
    async with env.ctx.db.read() as conn:
        q = (
            select(tables.admin_log.c.action)
            .where(tables.admin_log.c.org_id == org_id)
            .order_by(tables.admin_log.c.id)
        )
        return list((await conn.execute(q)).scalars())


# --- the rows ------------------------------------------------------------------------------------

Call = Callable[[Env, str, AdminBrowser], Awaitable[httpx.Response]]


@dataclass(frozen=True)
class Row:
    kind: str  # "TL", "KO", "P": the target organisation
    verb: str
    route: str  # as the app declares it
    call: Call
    ok: int = 200  # the status of success
    shows: str = ""  # a GET of the target's page shows this
    action: str = ""  # a write: the admin-log action it records for the target organisation
    prepare: Callable[[Env], Awaitable[None]] | None = None


def get(path: str) -> Call:
    async def call(env: Env, caller: str, b: AdminBrowser) -> httpx.Response:
        return await b.http.get(path.format(**env.ids))

    return call


def post(path: str, form: dict[str, Any] | Callable[[str], dict[str, Any]] | None = None) -> Call:
    async def call(env: Env, caller: str, b: AdminBrowser) -> httpx.Response:
        values = form(caller) if callable(form) else form or {}
        return await b.post(path.format(**env.ids), values)

    return call


def _disabled_user(kind: str) -> Callable[[Env], Awaitable[None]]:
    """Another staff user of the target, disabled (the handler column must stay logged in)."""

    async def prepare(env: Env) -> None:
        from serviceguide.services import accounts

        where = {"xsp": 1001} if kind == "TL" else {"coid": "KOA"}
        org = await admin.find_org(env.ctx, **where)  # type: ignore[arg-type]
        username = f"{kind.lower()}.off"
        await admin.create_staff_user(env.ctx, org, username, "Avstängd")
        env.ids[f"user@{kind}"] = await _user_id(env.ctx, username)
        actor = audit.cli_actor()
        await accounts.set_staff_active(env.ctx, actor, False, username=username)

    return prepare


def _disable_api(key: str) -> Callable[[Env], Awaitable[None]]:
    async def prepare(env: Env) -> None:
        from serviceguide.services import accounts

        await accounts.set_api_user_active(env.ctx, audit.cli_actor(), env.ids[key], False)

    return prepare


async def _disable_tl2(env: Env) -> None:
    from serviceguide.storage import organisations

    async with env.ctx.db.write() as conn:
        await organisations.set_active(conn, env.ids["org@P"], False)


async def _upload(env: Env, caller: str, b: AdminBrowser) -> httpx.Response:
    coid = "KOB" if caller == "kob.admin" else "KOA"
    content = (
        "coId,accessId,streetName,streetNumber,postalCode,city,premisesType\r\n"
        f"{coid},UPL1,Matrisvägen,1,12345,Teststad,OTHER\r\n"
    ).encode()
    data = {"csrf_token": await b.token(), "format": "csv"}
    files = {"file": ("matris.csv", content, "text/csv")}
    return await b.http.post("/staff/admin/accesses", data=data, files=files)


SERVICE_FORM = {"coid": "KOA", "uid": "MATRIX", "name": "Matris", "price_monthly": "100",
                "price_once": "0", "category": "internet"}  # fmt: skip
EDIT_FORM = {**SERVICE_FORM, "uid": "S1UID", "name": "Tjänst S1 ändrad"}


def _both(kind: str) -> dict[str, Row]:
    k = kind
    return {
        f"home@{k}": Row(k, "GET", "/staff/admin/", get("/staff/admin/"), ok=303),
        f"users.page@{k}": Row(
            k, "GET", "/staff/admin/users", get("/staff/admin/users"), shows=WHO[k]["handler"]
        ),
        f"users.create@{k}": Row(
            k, "POST", "/staff/admin/users",
            post("/staff/admin/users", lambda c: {"username": f"new.{c}", "name": "Ny"}),
            action="staff.create",
        ),
        f"users.reset@{k}": Row(
            k, "POST", "/staff/admin/users/{raw_id}/reset",
            post(f"/staff/admin/users/{{user@{k}}}/reset"), action="staff.reset",
        ),
        f"users.role@{k}": Row(
            k, "POST", "/staff/admin/users/{raw_id}/role",
            post(f"/staff/admin/users/{{user@{k}}}/role", {"role": "admin"}), ok=303,
            action="staff.role",
        ),
        f"users.disable@{k}": Row(
            k, "POST", "/staff/admin/users/{raw_id}/disable",
            post(f"/staff/admin/users/{{user@{k}}}/disable"), ok=303, action="staff.disable",
        ),
        f"users.enable@{k}": Row(
            k, "POST", "/staff/admin/users/{raw_id}/enable",
            post(f"/staff/admin/users/{{user@{k}}}/enable"), ok=303, action="staff.enable",
            prepare=_disabled_user(k),
        ),
        f"api.page@{k}": Row(
            k, "GET", "/staff/admin/api-users", get("/staff/admin/api-users"),
            shows=f"{'TL1' if k == 'TL' else 'KOA'} integration",
        ),
        f"api.create@{k}": Row(
            k, "POST", "/staff/admin/api-users",
            post("/staff/admin/api-users", {"name": "Matris"}), action="api_user.create",
        ),
        f"api.allow_ip@{k}": Row(
            k, "POST", "/staff/admin/api-users/{raw_id}/allow-ip",
            post(f"/staff/admin/api-users/{{api@{k}}}/allow-ip", {"allow_ip": "192.0.2.9"}),
            ok=303, action="api_user.allow_ip",
        ),
        f"api.rotate@{k}": Row(
            k, "POST", "/staff/admin/api-users/{raw_id}/rotate",
            post(f"/staff/admin/api-users/{{api@{k}}}/rotate"), action="api_user.rotate",
        ),
        f"api.disable@{k}": Row(
            k, "POST", "/staff/admin/api-users/{raw_id}/disable",
            post(f"/staff/admin/api-users/{{api@{k}}}/disable"), ok=303,
            action="api_user.disable",
        ),
        f"api.enable@{k}": Row(
            k, "POST", "/staff/admin/api-users/{raw_id}/enable",
            post(f"/staff/admin/api-users/{{api@{k}}}/enable"), ok=303,
            action="api_user.enable", prepare=_disable_api(f"api@{k}"),
        ),
        f"hooks.page@{k}": Row(
            k, "GET", "/staff/admin/webhooks", get("/staff/admin/webhooks"),
            shows=f"https://{'tl1' if k == 'TL' else 'koa'}.example/hook",
        ),
        f"hooks.register@{k}": Row(
            k, "POST", "/staff/admin/webhooks",
            post("/staff/admin/webhooks", {"url": "https://new.example/hook"}),
            action="webhook.register",
        ),
        f"hooks.rotate@{k}": Row(
            k, "POST", "/staff/admin/webhooks/{raw_id}/rotate",
            post(f"/staff/admin/webhooks/{{hook@{k}}}/rotate"), action="webhook.rotate",
        ),
        f"hooks.replay@{k}": Row(
            k, "POST", "/staff/admin/webhooks/{raw_id}/replay",
            post(f"/staff/admin/webhooks/{{hook@{k}}}/replay", {"since_event": "0"}),
            action="webhook.replay",
        ),
        f"hooks.disable@{k}": Row(
            k, "POST", "/staff/admin/webhooks/{raw_id}/disable",
            post(f"/staff/admin/webhooks/{{hook@{k}}}/disable"), ok=303,
            action="webhook.disable",
        ),
        f"log@{k}": Row(
            k, "GET", "/staff/admin/log", get("/staff/admin/log"),
            shows="Leverantör Ett AB" if k == "TL" else "Stadsnät A",
        ),
    }  # fmt: skip


ROWS: dict[str, Row] = {
    **_both("TL"),
    **_both("KO"),
    "services.page": Row("TL", "GET", "/staff/admin/services", get("/staff/admin/services"),
                         shows="Tjänst S1"),
    "services.create": Row("TL", "POST", "/staff/admin/services",
                           post("/staff/admin/services", SERVICE_FORM), action="service.create"),
    "services.update": Row("TL", "POST", "/staff/admin/services/{raw_id}",
                           post("/staff/admin/services/{service@TL}", EDIT_FORM), ok=303,
                           action="service.update"),
    "services.retire": Row("TL", "POST", "/staff/admin/services/{raw_id}/retire",
                           post("/staff/admin/services/{service@TL}/retire"), ok=303,
                           action="service.retire"),
    "delivery.page": Row("TL", "GET", "/staff/admin/delivery", get("/staff/admin/delivery"),
                         shows="ett@example.se"),
    "delivery.save": Row("TL", "POST", "/staff/admin/delivery",
                         post("/staff/admin/delivery", lambda c: {
                             "order_email": f"order@{c}.example", "phone": "08-123 456 78",
                             "contact_email": "", "website": "", "opening_hours": ""}),
                         ok=303, action="tl.update"),
    "delivery.onapi": Row("TL", "POST", "/staff/admin/delivery/onapi",
                          post("/staff/admin/delivery/onapi", lambda c: {
                              "onapi_url": f"https://{c}.example/onapi/2.6",
                              "onapi_username": "guide", "onapi_password": "hemligt",
                              "onapi_delivery": "both"}),
                          ok=303, action="tl.set_onapi"),
    "network.page": Row("KO", "GET", "/staff/admin/network", get("/staff/admin/network"),
                        shows="Stadsnät A"),
    "network.save": Row("KO", "POST", "/staff/admin/network",
                        post("/staff/admin/network", lambda c: {"name": f"Nät {c}",
                                                                "activation_url": ""}),
                        ok=303, action="network.update"),
    "network.test": Row("KO", "POST", "/staff/admin/network/test",
                        post("/staff/admin/network/test", {"access_id": "A1",
                                                           "service_uid": "S1UID"}),
                        shows="127.0.0.1:9/koa-activation"),
    "network.admit": Row("KO", "POST", "/staff/admin/network/admit",
                         post("/staff/admin/network/admit", {"xsp": "1003"}), ok=303,
                         action="network.admit"),
    "network.withdraw": Row("KO", "POST", "/staff/admin/network/withdraw",
                            post("/staff/admin/network/withdraw", {"xsp": "1002"}), ok=303,
                            action="network.withdraw"),
    "accesses.page": Row("KO", "GET", "/staff/admin/accesses", get("/staff/admin/accesses"),
                         shows="Stadsnät A"),
    "accesses.upload": Row("KO", "POST", "/staff/admin/accesses", _upload, ok=303,
                           action="accesses.upload"),
    "accesses.import": Row("KO", "GET", "/staff/admin/accesses/imports/{raw_id}",
                           get("/staff/admin/accesses/imports/{import@KO}"), shows="matris.csv"),
    "accesses.rejected": Row("KO", "GET", "/staff/admin/accesses/imports/{raw_id}/rejected.csv",
                             get("/staff/admin/accesses/imports/{import@KO}/rejected.csv"),
                             shows="line,field,reason"),
    "accesses.export": Row("KO", "GET", "/staff/admin/accesses/export",
                           get("/staff/admin/accesses/export"), shows="A-gatan"),
    "platform.page": Row("P", "GET", "/staff/admin/platform", get("/staff/admin/platform"),
                         shows="Leverantör Två AB"),
    "platform.create_ko": Row("P", "POST", "/staff/admin/platform/ko",
                              post("/staff/admin/platform/ko", lambda c: {
                                  "coid": "KNEW" + str(len(c)), "name": "Nytt",
                                  "username": f"ko.{c}", "admin_name": "Ny"}),
                              action="", shows="KNEW"),
    "platform.create_tl": Row("P", "POST", "/staff/admin/platform/tl",
                              post("/staff/admin/platform/tl", lambda c: {
                                  "xsp": str(3000 + len(c)), "name": "Ny TL",
                                  "order_email": "o@ny.example", "username": f"tl.{c}",
                                  "admin_name": "Ny"}),
                              action="", shows="Ny TL"),
    "platform.org": Row("P", "GET", "/staff/admin/platform/orgs/{raw_id}",
                        get("/staff/admin/platform/orgs/{org@P}"), shows="Tjänst S2"),
    "platform.disable": Row("P", "POST", "/staff/admin/platform/orgs/{raw_id}/disable",
                            post("/staff/admin/platform/orgs/{org@P}/disable"), ok=303,
                            action="org.disable"),
    "platform.enable": Row("P", "POST", "/staff/admin/platform/orgs/{raw_id}/enable",
                           post("/staff/admin/platform/orgs/{org@P}/enable"), ok=303,
                           action="org.enable", prepare=_disable_tl2),
}  # fmt: skip


# --- checking one cell ---------------------------------------------------------------------------


def _org_for_action(env: Env, row: Row) -> int:
    """The organisation whose log an allowed write of the row goes to: the target's, but the
    platform's actions on another organisation are logged for that organisation."""
    if row.kind == "P" and row.action in ("org.disable", "org.enable"):
        return env.ids["org@P"]
    return target_org(env, row.kind)


Seen = tuple[dict[str, str], list[str]]


async def seen(env: Env, row: Row) -> Seen:
    return await state(env), await log_of(env, _org_for_action(env, row))


async def _check_cell(
    env: Env, name: str, row: Row, column: str, outcome: Outcome, now: Seen
) -> Seen:
    """Check one cell, given the state before it; returns the state after it."""
    caller = "anonymous" if column == "anonymous" else WHO[row.kind][column]
    b = env.browsers[caller]
    target = _org_for_action(env, row)
    before, log_before = now
    resp = await row.call(env, caller, b)
    said = (
        f"{name}-{column} ({caller}): {row.verb} answered {resp.status_code}: {resp.text[:300]!r}"
    )
    after, log_after = await state(env), await log_of(env, target)
    code = resp.status_code
    if outcome == R303:
        location = urlsplit(resp.headers.get("location", ""))
        assert code == 303 and location.path == "/staff/login", said
        assert parse_qs(location.query).get("next"), said
    elif outcome == F403:
        assert code == 403, said
    elif outcome == N404:
        assert code == 404, said
    else:
        assert code == row.ok, said
    if outcome in (R303, F403, N404):
        assert after == before, f"{said}\nchanged something"
        return after, log_after
    new_entries = log_after[len(log_before) :]
    if outcome == OWN:
        assert log_after == log_before, f"{said}\nwrote to the target's admin log: {new_entries}"
        if row.verb == "GET" and row.shows:
            assert row.shows not in resp.text, f"{said}\nshows the target's {row.shows!r}"
        return after, log_after
    # OK
    if row.shows:
        assert row.shows in resp.text, f"{said}\ndoes not show {row.shows!r}"
    if row.action:
        assert row.action in new_entries, f"{said}\nno {row.action} entry: {new_entries}"
    elif row.verb == "GET" or row.kind != "P":
        assert after == before, f"{said}\na read changed something"
    return after, log_after


async def _hidden_like_missing(env: Env, row: Row, caller: str) -> None:
    """A 404 for another organisation's object is the page for an id that does not exist."""
    b = env.browsers[caller]
    hidden = await row.call(env, caller, b)
    saved = dict(env.ids)
    env.ids.update({k: 999_999 for k in env.ids})
    try:
        missing = await row.call(env, caller, b)
    finally:
        env.ids = saved
    assert hidden.status_code == missing.status_code == 404
    assert hidden.text == missing.text, f"{row.route}: another's object is not like a missing one"


@pytest.mark.parametrize("name", list(MATRIX))
async def test_admin_matrix_row(env: Env, name: str, subtests: pytest.Subtests) -> None:
    row = ROWS[name]
    if row.prepare is not None:
        await row.prepare(env)
    outcomes = dict(zip(COLUMNS, MATRIX[name], strict=True))
    now = await seen(env, row)
    for column in RUN_ORDER:
        if row.kind == "P" and column == "platform":
            continue  # the platform's own admin: the "own" column
        with subtests.test(f"{name}-{column}", cell=f"{name}-{column}"):
            try:
                now = await _check_cell(env, name, row, column, outcomes[column], now)
            except Exception:
                now = await seen(env, row)  # what a failed cell did is not the next one's fault
                raise
    hidden = [c for c in COLUMNS if outcomes[c] == N404]
    if hidden and row.verb == "POST":
        await _hidden_like_missing(env, row, WHO[row.kind][hidden[0]])


def test_every_admin_route_has_a_row(tmp_path: Path) -> None:
    app = create_app(make_settings("sqlite:///unused.sqlite3", tmp_path))
    declared = {r for r in _declared_routes(app) if r[0].startswith("/staff/admin")}
    covered = {(row.route, row.verb) for row in ROWS.values()}
    assert sorted(declared - covered) == [], "administration routes without a row"
    assert sorted(covered - declared) == [], "rows for routes the app no longer has"
    assert set(MATRIX) == set(ROWS), "every row of MATRIX needs its call in ROWS"
    for name, cells in MATRIX.items():
        assert len(cells) == len(COLUMNS), f"{name}: one outcome per column"
