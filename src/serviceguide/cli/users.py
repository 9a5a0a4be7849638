"""``serviceguide api-users`` and ``staff``: who may use the XSP order API and the staff pages;
each new secret or password is printed once, on a line of its own.

The commands call the same service functions as the administration pages
(:mod:`serviceguide.services.accounts`), as the operator: the same rules (a username's form, the
last active admin of an organisation), and every change in the admin log.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from serviceguide.cli import output
from serviceguide.cli.common import console, err, org_of, run, when
from serviceguide.domain.allowlist import admits_loopback, parse_allowlist
from serviceguide.domain.model import Organisation
from serviceguide.domain.roles import Role
from serviceguide.services import accounts, admin, platform
from serviceguide.services.audit import cli_actor
from serviceguide.services.context import AppContext
from serviceguide.storage.accounts import ApiAccount, StaffAccount

api_users_app = typer.Typer(help="API users of the XSP order API.", no_args_is_help=True)
staff_app = typer.Typer(help="Staff users of the web pages.", no_args_is_help=True)


@api_users_app.command("create")
def api_users_create(
    name: Annotated[str, typer.Option()],
    coid: Annotated[str | None, typer.Option(help="for a KO")] = None,
    xsp: Annotated[int | None, typer.Option(help="for a TL")] = None,
    allow_ip: Annotated[
        list[str] | None, typer.Option("--allow-ip", help="address or network; repeatable")
    ] = None,
) -> None:
    """Create an API user; prints its api_key once."""

    async def go(ctx: AppContext) -> accounts.NewCredentials:
        org = await org_of(ctx, coid, xsp)
        return await admin.create_api_user(ctx, org, name, ip_allowlist=allow_ip or None)

    cred = run(go)
    output.credential("API user", cred.ident, cred.secret)
    if allow_ip and admits_loopback(parse_allowlist(allow_ip)):
        err.print(
            "[yellow]warning:[/yellow] the allow-list admits this machine (127.0.0.1 or ::1): "
            "behind a proxy on this machine not named in SERVICEGUIDE_TRUSTED_PROXIES, every "
            "client would look allowed (docs/deployment.md, Reverse proxy)."
        )


async def _org_or_all(ctx: AppContext, coid: str | None, xsp: int | None) -> Organisation | None:
    return None if coid is None and xsp is None else await org_of(ctx, coid, xsp)


@api_users_app.command("list")
def api_users_list(
    coid: Annotated[str | None, typer.Option(help="only a KO's")] = None,
    xsp: Annotated[int | None, typer.Option(help="only a TL's")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON array")] = False,
) -> None:
    """Every API user (or one organisation's), with its allow-list and when it was last used."""

    async def go(ctx: AppContext) -> list[tuple[ApiAccount, Organisation]]:
        org = await _org_or_all(ctx, coid, xsp)
        found = await accounts.list_api_users(ctx, cli_actor(), org)
        return [(a, await admin.org_by_id(ctx, a.org_id)) for a in found]

    rows = run(go)
    if as_json:
        output.json_list(
            {
                "api_user": a.id,
                "name": a.name,
                **_org_keys(o),
                "active": a.active,
                "allow_ip": a.ip_allowlist or [],
                "created_at": a.created_at,
                "last_used_at": a.last_used_at,
            }
            for a, o in rows
        )
        return
    t = Table(title="API users")
    for col in ("api_user", "organisation", "name", "active", "allow-list", "last used"):
        t.add_column(col, overflow="fold")
    for a, o in rows:
        t.add_row(
            str(a.id),
            Text(f"{_org_ident(o)} {o.name}"),
            Text(a.name),
            "yes" if a.active else "no",
            ", ".join(a.ip_allowlist or []),
            when(a.last_used_at) or "never",
        )
    console.print(t)


@api_users_app.command("disable")
def api_users_disable(api_user: int) -> None:
    """Disable an API user: its key stops working and its login hashes end at once."""
    run(lambda ctx: accounts.set_api_user_active(ctx, cli_actor(), api_user, False))
    console.print(f"API user {api_user} disabled.")


@api_users_app.command("rotate-key")
def api_users_rotate_key(api_user: int) -> None:
    """Give an API user a new key (printed once); the old key and its login hashes stop
    working at once."""
    cred = run(lambda ctx: accounts.rotate_api_key(ctx, cli_actor(), api_user))
    output.secret(f"API user {api_user}: new api_key, shown once, keep it now:", cred.secret)


@staff_app.command("create")
def staff_create(
    username: str,
    name: Annotated[str, typer.Option()],
    coid: Annotated[str | None, typer.Option(help="for a KO")] = None,
    xsp: Annotated[int | None, typer.Option(help="for a TL")] = None,
    platform_staff: Annotated[
        bool, typer.Option("--platform", help="for the platform (always admin)")
    ] = False,
    role: Annotated[Role, typer.Option(help="handler (the order pages) or admin")] = Role.HANDLER,
) -> None:
    """Create a staff user; prints its password once."""
    if platform_staff and (coid is not None or xsp is not None):
        raise typer.BadParameter("give exactly one of --coid, --xsp or --platform")

    async def go(ctx: AppContext) -> accounts.NewCredentials:
        if platform_staff:
            org = await platform.platform_org(ctx)
            return await admin.create_staff_user(ctx, org, username, name, role=Role.ADMIN)
        org = await org_of(ctx, coid, xsp)
        return await admin.create_staff_user(ctx, org, username, name, role=role)

    cred = run(go)
    output.credential("Staff user", cred.ident, cred.secret)


@staff_app.command("reset-password")
def staff_reset_password(username: str) -> None:
    """Give a staff user a new random password (printed once) and end all its sessions."""
    cred = run(lambda ctx: accounts.reset_staff_password(ctx, cli_actor(), username=username))
    output.secret(f"Staff user {username}: new password, shown once, keep it now:", cred.secret)


@staff_app.command("list")
def staff_list(
    coid: Annotated[str | None, typer.Option(help="only a KO's")] = None,
    xsp: Annotated[int | None, typer.Option(help="only a TL's")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON array")] = False,
) -> None:
    """Every staff user (or one organisation's) with its role."""

    async def go(ctx: AppContext) -> list[tuple[StaffAccount, Organisation]]:
        org = await _org_or_all(ctx, coid, xsp)
        found = await accounts.list_staff(ctx, cli_actor(), org)
        return [(u, await admin.org_by_id(ctx, u.org_id)) for u in found]

    rows = run(go)
    if as_json:
        output.json_list(
            {
                "username": u.username,
                "name": u.name,
                **_org_keys(o),
                "role": u.role,
                "active": u.active,
                "created_at": u.created_at,
            }
            for u, o in rows
        )
        return
    t = Table(title="Staff users")
    for col in ("username", "name", "organisation", "role", "active"):
        t.add_column(col, overflow="fold")
    for u, o in rows:
        t.add_row(
            Text(u.username),
            Text(u.name),
            Text(f"{_org_ident(o)} {o.name}"),
            u.role.value,
            "yes" if u.active else "no",
        )
    console.print(t)


@staff_app.command("disable")
def staff_disable(username: str) -> None:
    """Disable a staff user and end its sessions (never an organisation's last active admin)."""
    run(lambda ctx: accounts.set_staff_active(ctx, cli_actor(), False, username=username))
    console.print(f"Staff user {username} disabled.")


@staff_app.command("set-role")
def staff_set_role(username: str, role: Role) -> None:
    """Make a staff user a handler or an admin (never taking the last active admin's role)."""
    run(lambda ctx: accounts.set_staff_role(ctx, cli_actor(), role, username=username))
    console.print(f"Staff user {username} is now {role.value}.")


def _org_keys(org: Organisation) -> dict[str, object]:
    """The organisation as the demo data's staff entries name it: coid, xsp or platform."""
    if org.coid:
        return {"coid": org.coid}
    if org.xsp is not None:
        return {"xsp": org.xsp}
    return {"platform": True}


def _org_ident(org: Organisation) -> str:
    if org.coid:
        return org.coid
    if org.xsp is not None:
        return str(org.xsp)
    return org.kind.value
