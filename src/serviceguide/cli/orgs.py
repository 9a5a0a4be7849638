"""``serviceguide ko``, ``tl`` and ``networks``: the organisations (network operators and service
providers) and the networks' direct-activation address."""

from __future__ import annotations

from typing import Annotated

import typer

from serviceguide.cli.common import console, run
from serviceguide.services import admin

ko_app = typer.Typer(help="Network operators (KO) and their networks.", no_args_is_help=True)
tl_app = typer.Typer(help="Service providers (TL).", no_args_is_help=True)
networks_app = typer.Typer(help="Networks.", no_args_is_help=True)


@ko_app.command("create")
def ko_create(
    coid: str,
    name: str,
    activation_url: Annotated[str | None, typer.Option(help="direct-activation URL")] = None,
) -> None:
    """Create a KO and its network (both named by the coId)."""
    run(lambda ctx: admin.create_ko(ctx, coid, name, activation_url))
    console.print(f"KO {coid} created with its network.")


@tl_app.command("create")
def tl_create(
    xsp: int,
    name: str,
    email: Annotated[str, typer.Option(help="where new orders are mailed")],
) -> None:
    """Create a TL (service provider)."""
    run(lambda ctx: admin.create_tl(ctx, xsp, name, email))
    console.print(f"TL {xsp} created.")


@networks_app.command("set-activation-url")
def networks_set_activation_url(coid: str, url: str) -> None:
    """Where the guide sends a network's direct-activation calls; `none` turns them off."""
    value = None if url.lower() == "none" else url
    run(lambda ctx: admin.set_activation_url(ctx, coid, value))
    console.print(f"{coid}: direct activation " + (f"via {value}" if value else "off"))
