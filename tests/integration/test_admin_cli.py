"""The administration's commands, run as the ``serviceguide`` command is: ``staff create --role``
and ``--platform``, ``staff list --json``, ``staff disable``, ``staff set-role``, ``api-users
list --json``, ``api-users disable``, ``api-users rotate-key`` and ``audit list --json`` — the
same service functions and rules as the pages, every change in the admin log."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from serviceguide.cli import app
from serviceguide.services import auth
from serviceguide.services.context import AppContext
from serviceguide.settings import get_settings
from tests.support.commands import size_consoles
from tests.support.world import World

pytestmark = pytest.mark.integration


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> Iterator[None]:
    """The command in-process (a thread of its own: it runs its own event loop), against the
    test's database; far cheaper than a process per command on a busy machine."""
    monkeypatch.setenv("SERVICEGUIDE_DATABASE_URL", database_url)
    monkeypatch.setenv("SERVICEGUIDE_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SERVICEGUIDE_PASSWORD_HASHING", "fast")
    monkeypatch.setenv("COLUMNS", "200")
    size_consoles("200")  # as wide as a new process would make them, whatever ran before
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def cli(_url: str, _tmp: Path, *args: str) -> Done:
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args))
    return Done(result.exit_code, result.stdout, result.stderr)


def lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.strip()]


async def test_staff_commands_make_admins_list_them_and_keep_the_last_admin(
    ctx: AppContext, world: World, database_url: str, tmp_path: Path, cli_env: None
) -> None:
    made = await cli(database_url, tmp_path, "staff", "create", "anna.admin", "--name", "Anna",
               "--xsp", "1001", "--role", "admin")  # fmt: skip
    assert made.returncode == 0, made.stderr
    password = lines(made.stdout)[-1]
    assert " " not in password and len(password) >= 10  # alone on its line
    plat = await cli(database_url, tmp_path, "staff", "create", "root.admin", "--name", "Root",
               "--platform")  # fmt: skip
    assert plat.returncode == 0, plat.stderr
    both = await cli(database_url, tmp_path, "staff", "create", "x.y", "--name", "X", "--platform",
               "--xsp", "1001")  # fmt: skip
    assert both.returncode != 0

    listed = await cli(database_url, tmp_path, "staff", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    users = {u["username"]: u for u in json.loads(listed.stdout)}
    assert users["anna.admin"]["role"] == "admin" and users["anna.admin"]["xsp"] == 1001
    assert users["root.admin"] == {**users["root.admin"], "platform": True, "role": "admin"}

    last = await cli(database_url, tmp_path, "staff", "disable", "anna.admin")
    assert last.returncode == 1 and "last active admin" in last.stderr
    demote = await cli(database_url, tmp_path, "staff", "set-role", "anna.admin", "handler")
    assert demote.returncode == 1
    bad = await cli(database_url, tmp_path, "staff", "create", "ny", "--name", "N", "--xsp", "1001",
              "--role", "chef")  # fmt: skip
    assert bad.returncode == 2

    reset = await cli(database_url, tmp_path, "staff", "reset-password", "anna.admin")
    assert reset.returncode == 0 and lines(reset.stdout)[-1] != password

    log = await cli(database_url, tmp_path, "audit", "list", "--org", "1001", "--json")
    assert log.returncode == 0, log.stderr
    entries = json.loads(log.stdout)
    assert [e["action"] for e in entries][:2] == ["staff.reset", "staff.create"]
    assert all(e["org_name"] == "Leverantör Ett AB" for e in entries)
    assert password not in log.stdout
    assert entries[0]["actor"].startswith("command line (")
    platform_log = await cli(database_url, tmp_path, "audit", "list", "--org", "platform", "--json")
    assert [e["object"] for e in json.loads(platform_log.stdout)] == ["staff user root.admin"]
    unknown = await cli(database_url, tmp_path, "audit", "list", "--org", "NOPE")
    assert unknown.returncode == 1


async def test_api_user_commands_list_disable_and_rotate(
    ctx: AppContext, world: World, database_url: str, tmp_path: Path, cli_env: None
) -> None:
    tl1 = world.users["TL1"]
    await auth.api_login(ctx, tl1.api_user, tl1.api_key, None)
    listed = await cli(database_url, tmp_path, "api-users", "list", "--json", "--xsp", "1001")
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert row["api_user"] == tl1.api_user and row["xsp"] == 1001
    assert row["last_used_at"] and "key" not in json.dumps(row)

    rotated = await cli(database_url, tmp_path, "api-users", "rotate-key", str(tl1.api_user))
    assert rotated.returncode == 0, rotated.stderr
    new_key = lines(rotated.stdout)[-1]
    assert new_key != tl1.api_key
    assert (await auth.api_login(ctx, tl1.api_user, new_key, None)).caller.org_name

    off = await cli(database_url, tmp_path, "api-users", "disable", str(tl1.api_user))
    assert off.returncode == 0
    again = json.loads((await cli(database_url, tmp_path, "api-users", "list", "--json")).stdout)
    assert next(r for r in again if r["api_user"] == tl1.api_user)["active"] is False
    missing = await cli(database_url, tmp_path, "api-users", "disable", "99999")
    assert missing.returncode == 1
