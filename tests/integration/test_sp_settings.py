"""A TL's ON-API settings: ``serviceguide tl set-onapi`` stores the base URL, the Basic
credentials (the password sealed, never printed, never in the admin log) and the delivery;
``tl list`` shows the URL and delivery only; every bad value is refused and changes nothing; a
TL admin changes its own TL only; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from serviceguide.cli import app
from serviceguide.domain.errors import Forbidden, InvalidInput, NotFound
from serviceguide.domain.model import OrgKind
from serviceguide.domain.roles import Actor, Role
from serviceguide.domain.sp import Delivery
from serviceguide.services import sp_settings
from serviceguide.services.context import AppContext
from serviceguide.services.sealing import Unsealable
from serviceguide.settings import get_settings
from serviceguide.storage import catalogue
from serviceguide.storage.tables import admin_log, tl_onapi
from tests.conftest import make_settings
from tests.support.commands import size_consoles
from tests.support.world import World

pytestmark = pytest.mark.integration

URL = "https://sp.example/onapi/2.6"
PASSWORD = "Hemligt-lösen-42"


@pytest.fixture
def cli(ctx: AppContext, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``await cli(*args, input=…)``: the command in this process, configured as from a shell."""
    for name, value in (
        ("DATABASE_URL", ctx.settings.database_url),
        ("VAR_DIR", str(ctx.settings.var_dir)),
        ("SECRET_KEY", ctx.settings.secret_key or ""),
        ("PASSWORD_HASHING", "fast"),
    ):
        monkeypatch.setenv(f"SERVICEGUIDE_{name}", value)
    monkeypatch.setenv("COLUMNS", "250")
    size_consoles("250")  # as wide as a new process would make them, whatever ran before
    get_settings.cache_clear()
    runner = CliRunner()

    async def invoke(*args: str, input: str | None = None) -> Any:
        return await asyncio.to_thread(runner.invoke, app, list(args), input=input)

    yield invoke
    get_settings.cache_clear()


async def stored(ctx: AppContext) -> list[dict[str, Any]]:
    async with ctx.db.read() as conn:
        return [dict(r._mapping) for r in await conn.execute(select(tl_onapi))]


async def audit_rows(ctx: AppContext) -> list[dict[str, Any]]:
    async with ctx.db.read() as conn:
        q = select(admin_log).where(admin_log.c.action == "tl.set_onapi")
        return [dict(r._mapping) for r in await conn.execute(q.order_by(admin_log.c.id))]


async def test_set_onapi_stores_the_settings_and_never_shows_the_password(
    ctx: AppContext, world: World, cli: Any
):
    done = await cli(
        "tl", "set-onapi", "1001", URL + "/", "--username", "guide",
        "--password", PASSWORD, "--delivery", "onapi",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert PASSWORD not in done.output
    assert "url: https://sp.example/onapi/2.6" in done.output  # the trailing slash dropped
    assert "password: stored" in done.output and "delivery: onapi" in done.output

    [row] = await stored(ctx)
    assert row["base_url"] == URL and row["username"] == "guide" and row["delivery"] == "onapi"
    assert PASSWORD not in row["password_enc"] and PASSWORD.encode() not in str(row).encode()

    target = await sp_settings.target_by_xsp(ctx, 1001)
    assert (target.base_url, target.auth, target.delivery) == (URL, ("guide", PASSWORD), "onapi")
    assert target.url("order") == URL + "/order/"
    assert PASSWORD not in repr(target)

    listed = await cli("tl", "list", "--json")
    assert PASSWORD not in listed.output
    by_xsp = {t["xsp"]: t for t in json.loads(listed.output)}
    assert (by_xsp[1001]["onapi_url"], by_xsp[1001]["delivery"]) == (URL, "onapi")
    assert (by_xsp[1002]["onapi_url"], by_xsp[1002]["delivery"]) == (None, "mail")
    assert not any("password" in k for t in by_xsp.values() for k in t)
    table = await cli("tl", "list")
    assert URL in table.output and "onapi" in table.output and PASSWORD not in table.output

    [entry] = await audit_rows(ctx)
    assert PASSWORD not in json.dumps(entry, default=str)
    assert json.loads(entry["after"]) == {
        "url": URL,
        "username": "guide",
        "credentials": "new",
        "delivery": "onapi",
    }


async def test_what_is_not_given_is_kept_and_none_removes_the_settings(
    ctx: AppContext, world: World, cli: Any
):
    first = await cli("tl", "set-onapi", "1001", URL)
    assert first.exit_code == 0, first.output
    assert (await sp_settings.onapi_settings(ctx, 1001)).delivery == Delivery.MAIL  # default
    assert (await sp_settings.target_by_xsp(ctx, 1001)).auth is None  # no Basic auth

    await sp_settings.set_onapi(
        ctx, 1001, URL, username="guide", password=PASSWORD, delivery="both"
    )
    moved = await cli("tl", "set-onapi", "1001", "https://new.example/onapi/2.6")
    assert moved.exit_code == 0, moved.output
    target = await sp_settings.target_by_xsp(ctx, 1001)
    assert target.base_url == "https://new.example/onapi/2.6"
    assert (target.auth, target.delivery) == (("guide", PASSWORD), Delivery.BOTH)

    # a new password alone keeps the username; read from standard input with '-'
    piped = await cli("tl", "set-onapi", "1001", URL, "--password", "-", input="från-stdin\n")
    assert piped.exit_code == 0, piped.output
    assert "från-stdin" not in piped.output
    assert (await sp_settings.target_by_xsp(ctx, 1001)).auth == ("guide", "från-stdin")

    cleared = await cli("tl", "set-onapi", "1001", URL, "--username", "")
    assert cleared.exit_code == 0, cleared.output
    shown = await sp_settings.onapi_settings(ctx, 1001)
    assert (shown.username, shown.password_set, shown.delivery) == (None, False, Delivery.BOTH)

    off = await cli("tl", "set-onapi", "1001", "none")
    assert off.exit_code == 0, off.output
    assert await stored(ctx) == []
    assert (await sp_settings.onapi_settings(ctx, 1001)).url is None
    with pytest.raises(InvalidInput, match="set-onapi"):
        await sp_settings.target_by_xsp(ctx, 1001)
    entries = await audit_rows(ctx)
    assert len(entries) == 6 and all("från-stdin" not in str(e) for e in entries)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ftp://sp.example/onapi"], "absolute"),
        (["sp.example/onapi/2.6"], "absolute"),
        (["http://sp.example/onapi/2.6"], "https"),
        (["https://u:p@sp.example/onapi/2.6"], "credentials"),
        (["https://sp.example/onapi/2.6?x=1"], "query"),
        (["https://sp.example:99999/onapi"], "not a URL"),
        (["https://sp.example/a b"], "spaces"),
        (["https://sp.example/" + "a" * 500], "longer"),
        ([URL, "--delivery", "fax"], "unknown delivery"),
        ([URL, "--username", "guide"], "needs a password"),
        ([URL, "--password", "p"], "needs a username"),
        ([URL, "--username", "", "--password", "p"], "needs a username"),
        ([URL, "--username", "a:b", "--password", "p"], "':'"),
        ([URL, "--username", "guide", "--password", ""], "password"),
        ([URL, "--username", "guide", "--password", "x" * 201], "password"),
        (["none", "--delivery", "onapi"], "no other option"),
    ],
)
async def test_a_bad_setting_is_refused_and_changes_nothing(
    ctx: AppContext, world: World, cli: Any, args: list[str], message: str
):
    await sp_settings.set_onapi(ctx, 1002, URL, delivery="both")
    before = await stored(ctx)
    done = await cli("tl", "set-onapi", "1001", *args)
    assert done.exit_code != 0
    assert message in done.output, done.output
    assert await stored(ctx) == before
    assert len(await audit_rows(ctx)) == 1


async def test_an_unknown_tl_is_not_found(ctx: AppContext, world: World, cli: Any):
    done = await cli("tl", "set-onapi", "4242", URL)
    assert done.exit_code == 1 and "No TL with id 4242" in done.output
    assert await stored(ctx) == []


async def test_a_tl_admin_sets_its_own_tl_only(ctx: AppContext, world: World):
    async with ctx.db.read() as conn:
        tl1 = await catalogue.org_by_xsp(conn, 1001)
        ko = await catalogue.org_by_coid(conn, "KOA")
    assert tl1 is not None and ko is not None
    admin = Actor("Anna (anna)", tl1.name, 1, tl1.id, OrgKind.TL, Role.ADMIN)
    handler = Actor("Hans (hans)", tl1.name, 2, tl1.id, OrgKind.TL, Role.HANDLER)
    ko_admin = Actor("Kim (kim)", ko.name, 3, ko.id, OrgKind.KO, Role.ADMIN)

    shown = await sp_settings.set_onapi(ctx, 1001, URL, delivery="onapi", actor=admin)
    assert (shown.url, shown.delivery) == (URL, Delivery.ONAPI)
    assert (await sp_settings.onapi_settings(ctx, 1001, actor=admin)).url == URL
    with pytest.raises(NotFound):
        await sp_settings.set_onapi(ctx, 1002, URL, actor=admin)
    with pytest.raises(NotFound):
        await sp_settings.onapi_settings(ctx, 1002, actor=admin)
    with pytest.raises(Forbidden):
        await sp_settings.set_onapi(ctx, 1001, URL, actor=handler)
    with pytest.raises(Forbidden):
        await sp_settings.set_onapi(ctx, 1001, URL, actor=ko_admin)
    assert [r["tl_org_id"] for r in await stored(ctx)] == [tl1.id]


async def test_a_password_sealed_under_another_secret_key_is_refused_clearly(
    ctx: AppContext, world: World
):
    await sp_settings.set_onapi(ctx, 1001, URL, username="guide", password=PASSWORD)
    other = AppContext(
        db=ctx.db,
        settings=make_settings(
            ctx.settings.database_url, ctx.settings.var_dir, secret_key="another-key-" * 4
        ),
    )
    with pytest.raises(Unsealable, match="secret key") as e:
        await sp_settings.target_by_xsp(other, 1001)
    assert PASSWORD not in str(e.value)
