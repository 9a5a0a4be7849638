"""The operator's commands against the test database (SQLite and PostgreSQL): secrets on a line
of their own however narrow the terminal, one JSON array from every list, the organisations,
erasure by personnummer, --replace, migrate, times with a zone.

A narrow terminal is checked with the command as a separate process (``COLUMNS=40``, as a
terminal sets it); the rest runs the same command in this process, which is much quicker."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from serviceguide.cli import app, common
from serviceguide.domain.mdb import COLUMNS
from serviceguide.observability.logs import TextFormatter
from serviceguide.services import demo, staff
from serviceguide.services.context import AppContext
from serviceguide.settings import get_settings
from serviceguide.storage.tables import customers, organisations, webhook_endpoints
from tests.support.notify import command_process
from tests.support.world import SERIALS, World
from tests.support.xsp import XspClient

pytestmark = pytest.mark.integration

#: Stockholm time with its offset: what every time on the command line and in a log looks like.
ZONED = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{3})?\+0[12]:00")


def ok(done: subprocess.CompletedProcess[str] | Result) -> str:
    code = done.returncode if isinstance(done, subprocess.CompletedProcess) else done.exit_code
    assert code == 0, (code, done.stdout, done.stderr)
    return done.stdout


def line_after(text: str, label: str) -> str:
    """The line that follows the (first) line containing ``label``."""
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if label in line)
    return lines[at + 1]


@pytest.fixture
def cli(ctx: AppContext, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``await cli(*args)``: the command in this process (in a thread: it runs its own event
    loop), configured by the environment as from a shell."""
    for name, value in (
        ("DATABASE_URL", ctx.settings.database_url),
        ("VAR_DIR", str(ctx.settings.var_dir)),
        ("SECRET_KEY", ctx.settings.secret_key or ""),
        ("PASSWORD_HASHING", "fast"),
    ):
        monkeypatch.setenv(f"SERVICEGUIDE_{name}", value)
    get_settings.cache_clear()
    runner = CliRunner()

    async def invoke(*args: str) -> Result:
        return await asyncio.to_thread(runner.invoke, app, list(args))

    yield invoke
    get_settings.cache_clear()


async def narrow(ctx: AppContext, *args: str) -> str:
    """Run the command as its own process, in a terminal 40 columns wide."""
    env = {
        "COLUMNS": "40",
        "SERVICEGUIDE_VAR_DIR": str(ctx.settings.var_dir),
        "SERVICEGUIDE_SECRET_KEY": ctx.settings.secret_key or "",  # the demo's keys derive from it
        "SERVICEGUIDE_PASSWORD_HASHING": "fast",
    }
    return ok(await command_process(ctx.settings.database_url, *args, **env))


# --- secrets -------------------------------------------------------------------------------


async def test_a_new_api_key_stands_on_its_own_line_in_a_narrow_terminal(
    ctx: AppContext, world: World, xsp: XspClient
):
    out = await narrow(ctx, "api-users", "create", "--name", "Integration", "--xsp", "1001")
    number = int(re.search(r"API user (\d+) created", out)[1])  # type: ignore[index]
    key = line_after(out, "keep it now")
    assert len(key) >= 24 and " " not in key
    assert await xsp.login(number, key)  # the line is the whole key


async def test_the_demo_datas_credentials_stand_on_their_own_lines_in_a_narrow_terminal(
    ctx: AppContext,
):
    lines = (await narrow(ctx, "demo-data")).splitlines()
    data = (await demo.load(ctx)).data  # loaded already: the same credentials again
    secrets = [o["api_key"] for o in data["kos"] + data["tls"]]
    secrets += [u["password"] for u in data["staff"]]
    assert secrets and all(s in lines for s in secrets)  # each whole, on a line of its own


async def test_passwords_and_webhook_secrets_stand_on_their_own_lines_too(
    ctx: AppContext, world: World, cli: Any, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(common.console, "width", 40)  # what COLUMNS=40 tells the console
    out = ok(await cli("staff", "create", "erik.tl", "--name", "Erik", "--xsp", "1001"))
    password = line_after(out, "keep it now")
    assert await staff.login(ctx, "erik.tl", password, None)

    out = ok(await cli("staff", "reset-password", "erik.tl"))
    new_password = line_after(out, "keep it now")
    assert new_password != password
    assert await staff.login(ctx, "erik.tl", new_password, None)

    out = ok(await cli("webhooks", "register", "--xsp", "1001", "https://tl.example.se/hook"))
    secret = line_after(out, "keep it now")
    endpoint = re.search(r"endpoint (\d+)", out)[1]  # type: ignore[index]
    rotated = line_after(ok(await cli("webhooks", "rotate", endpoint)), "keep it now")
    async with ctx.db.read() as conn:
        stored = (await conn.execute(select(webhook_endpoints.c.secret))).scalars().all()
    assert secret.startswith("whsec_") and rotated != secret
    assert stored == [rotated]


# --- lists as JSON -------------------------------------------------------------------------


async def json_of(cli: Any, *args: str) -> list[dict[str, Any]]:
    found = json.loads(ok(await cli(*args, "--json")))
    assert isinstance(found, list)
    return found


async def test_every_list_prints_one_json_array(world: World, cli: Any):
    kos = await json_of(cli, "ko", "list")
    assert [(k["coid"], k["accesses"]) for k in kos] == [("KOA", 5), ("KOB", 3)]
    tls = await json_of(cli, "tl", "list")
    assert [(t["xsp"], t["email"], t["services"]) for t in tls] == [
        (1001, "ett@example.se", 2),
        (1002, "tva@example.se", 1),
    ]
    services = await json_of(cli, "services", "list")
    assert {(s["id"], s["coid"], s["xsp"], s["price_monthly"]) for s in services} == {
        (101, "KOA", 1001, 299.0),
        (102, "KOA", 1002, 199.5),
        (103, "KOB", 1001, 349.0),
    }
    mails = await json_of(cli, "outbox", "list", "--kind", "mail")
    assert sorted(m["order_id"] for m in mails) == sorted(world.orders.values())
    assert {m["state"] for m in mails} == {"pending"}
    assert all(m["created_at"].endswith("Z") for m in mails)
    ok(await cli("webhooks", "register", "--coid", "KOA", "https://ko.example.se/hook"))
    hooks = await json_of(cli, "webhooks", "list")
    assert [(h["org_ident"], h["url"]) for h in hooks] == [("KOA", "https://ko.example.se/hook")]
    assert "secret" not in hooks[0]


async def test_times_in_tables_say_their_zone(
    world: World, cli: Any, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(common.console, "width", 200)  # a wide terminal: one line per row
    out = ok(await cli("outbox", "list"))
    assert ZONED.search(out), out


def test_log_lines_say_their_zone():
    record = logging.makeLogRecord({"msg": "hello", "levelname": "INFO", "name": "serviceguide"})
    line = TextFormatter().format(record)
    assert ZONED.match(line), line
    assert line.endswith(" INFO serviceguide hello")


# --- organisations and prices --------------------------------------------------------------


async def tl_row(ctx: AppContext, xsp: int) -> dict[str, Any]:
    async with ctx.db.read() as conn:
        r = (await conn.execute(select(organisations).where(organisations.c.xsp == xsp))).one()
    return dict(r._mapping)


async def test_tl_update_changes_the_order_address_and_contact_details(
    ctx: AppContext, world: World, cli: Any
):
    out = ok(await cli("tl", "update", "1001", "--email", "order@ett.example.se",
                       "--phone", "08-123 456 78", "--opening-hours", "Vardagar 8–17"))  # fmt: skip
    assert "phone: 08-123 456 78" in out
    row = await tl_row(ctx, 1001)
    assert (row["order_email"], row["phone"], row["opening_hours"]) == (
        "order@ett.example.se",
        "08-123 456 78",
        "Vardagar 8–17",
    )
    refused = await cli("tl", "update", "1001", "--email", "beställ@ett.example.se")
    assert refused.exit_code == 1
    assert "Not a valid e-mail address" in refused.stderr and "@-sign" in refused.stderr
    assert await tl_row(ctx, 1001) == row
    nothing = await cli("tl", "update", "1001")
    assert nothing.exit_code == 1 and "nothing to change" in nothing.stderr


async def test_prices_may_be_given_with_a_decimal_comma(world: World, cli: Any):
    ok(await cli("services", "update", "101", "--price-monthly", "299,50"))
    ok(await cli("services", "create", "--xsp", "1002", "--coid", "KOB", "--uid", "S4UID",
                 "--name", "Tjänst S4", "--price-monthly", "149,90", "--price-once", "0,50",
                 "--id", "104"))  # fmt: skip
    listed = await json_of(cli, "services", "list")
    prices = {s["id"]: (s["price_monthly"], s["price_once"]) for s in listed}
    assert prices[101] == (299.5, 0.0) and prices[104] == (149.9, 0.5)
    refused = await cli("services", "update", "101", "--price-monthly", "1.299,50")
    assert refused.exit_code == 1 and "299,50" in refused.stderr
    assert (await json_of(cli, "services", "list")) == listed


# --- personal data -------------------------------------------------------------------------


async def test_privacy_find_and_erase_by_personnummer(ctx: AppContext, world: World, cli: Any):
    serial = SERIALS[0]  # customer c4: orders o4 and o5, both open
    c4 = world.customers["c4"]
    found = await json_of(cli, "privacy", "find", f"{serial[:6]}-{serial[6:]}")
    assert [(r["id"], sorted(o["id"] for o in r["orders"])) for r in found] == [
        (c4, sorted([world.orders["o4"], world.orders["o5"]]))
    ]
    refused = await cli("privacy", "erase", "--serial", serial)
    assert refused.exit_code == 1
    assert "open orders" in refused.stderr and "--force" in refused.stderr
    erased = ok(await cli("privacy", "erase", "--serial", serial, "--force"))
    assert f"1 customer records erased ({c4})" in erased
    async with ctx.db.read() as conn:
        assert (
            await conn.execute(select(customers.c.serial).where(customers.c.id == c4))
        ).scalar_one() == ""
    assert await json_of(cli, "privacy", "find", serial) == []
    gone = await cli("privacy", "erase", "--serial", serial)
    assert gone.exit_code == 1 and "No customer records" in gone.stderr
    bad = await cli("privacy", "find", "12345")
    assert bad.exit_code == 1 and "Personnummer" in bad.stderr


async def test_privacy_erase_of_one_record_with_open_orders_says_force_exists(
    world: World, cli: Any
):
    refused = await cli("privacy", "erase", str(world.customers["c1"]))
    assert refused.exit_code == 1
    assert "open orders" in refused.stderr and "add --force" in refused.stderr


# --- the market database and the schema ----------------------------------------------------


async def test_accesses_import_replace_reports_what_it_retired(
    world: World, cli: Any, tmp_path: Path
):
    out = io.StringIO(newline="")
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(COLUMNS)
    for n in (1, 2, 3):
        values = {"coId": "KOA", "accessId": f"A{n}", "streetName": "A-gatan",
                  "streetNumber": str(n), "postalCode": "123 45", "city": "Teststad",
                  "premisesType": "OTHER", "mduDistinguisher": "Uppgång Ö"}  # fmt: skip
        w.writerow([values.get(c, "") for c in COLUMNS])
    path = tmp_path / "koa.csv"
    path.write_bytes(out.getvalue().encode("windows-1252"))
    plain = ok(await cli("accesses", "import", str(path), "--coid", "KOA"))
    assert "2 accesses of KOA are not in the file" in plain and "--replace would" in plain
    assert "read as windows-1252" in plain
    done = ok(await cli("accesses", "import", str(path), "--coid", "KOA", "--replace"))
    assert "3 of 3 rows imported" in done
    assert "2 accesses of KOA are not in the file: retired" in done
    kos = await json_of(cli, "ko", "list")
    assert [(k["coid"], k["accesses"]) for k in kos] == [("KOA", 3), ("KOB", 3)]


def test_migrate_on_an_empty_database_says_what_it_applied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SERVICEGUIDE_DATABASE_URL", f"sqlite:///{tmp_path / 'new.sqlite3'}")
    monkeypatch.setenv("SERVICEGUIDE_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        first = ok(CliRunner().invoke(app, ["migrate"]))
        again = ok(CliRunner().invoke(app, ["migrate"]))
    finally:
        get_settings.cache_clear()
    applied = re.findall(r"^Applied (\d{4}): ", first, flags=re.MULTILINE)
    assert applied[:2] == ["0001", "0002"] and len(applied) >= 8
    assert f"up to date (revision {applied[-1]})" in first
    assert "Applied" not in again and "already up to date" in again
