"""``serviceguide api-users`` and ``staff``: who may use the XSP order API and the staff pages;
each new secret or password is printed once."""

from __future__ import annotations

from typing import Annotated

import typer

from serviceguide.cli import output
from serviceguide.cli.common import err, org_of, run
from serviceguide.domain.allowlist import admits_loopback, parse_allowlist
from serviceguide.services import admin
from serviceguide.services.context import AppContext

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

    async def go(ctx: AppContext) -> admin.NewCredentials:
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


@staff_app.command("create")
def staff_create(
    username: str,
    name: Annotated[str, typer.Option()],
    coid: Annotated[str | None, typer.Option(help="for a KO")] = None,
    xsp: Annotated[int | None, typer.Option(help="for a TL")] = None,
) -> None:
    """Create a staff user; prints its password once."""

    async def go(ctx: AppContext) -> admin.NewCredentials:
        org = await org_of(ctx, coid, xsp)
        return await admin.create_staff_user(ctx, org, username, name)

    cred = run(go)
    output.credential("Staff user", cred.ident, cred.secret)


@staff_app.command("reset-password")
def staff_reset_password(username: str) -> None:
    """Give a staff user a new random password (printed once) and end all its sessions."""
    from serviceguide.services import staff as staff_service

    async def go(ctx: AppContext) -> str:
        return await staff_service.reset_password(ctx, username)

    password = run(go)
    output.secret(f"Staff user {username}: new password, shown once, keep it now:", password)
