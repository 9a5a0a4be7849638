"""The ``serviceguide`` command."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from serviceguide.domain.errors import DomainError
from serviceguide.services import admin, demo
from serviceguide.services.context import AppContext
from serviceguide.settings import get_settings
from serviceguide.storage import migrate as migrations
from serviceguide.storage.db import Database

app = typer.Typer(help="serviceguide: Tjänsteguiden and the XSP order API.", no_args_is_help=True)
ko_app = typer.Typer(help="Network operators (KO) and their networks.", no_args_is_help=True)
tl_app = typer.Typer(help="Service providers (TL).", no_args_is_help=True)
networks_app = typer.Typer(help="Networks.", no_args_is_help=True)
accesses_app = typer.Typer(help="Accesses (ports) in a network.", no_args_is_help=True)
services_app = typer.Typer(help="The service catalogue.", no_args_is_help=True)
api_users_app = typer.Typer(help="API users of the XSP order API.", no_args_is_help=True)
staff_app = typer.Typer(help="Staff users of the web pages.", no_args_is_help=True)
app.add_typer(ko_app, name="ko")
app.add_typer(tl_app, name="tl")
app.add_typer(networks_app, name="networks")
app.add_typer(accesses_app, name="accesses")
app.add_typer(services_app, name="services")
app.add_typer(api_users_app, name="api-users")
app.add_typer(staff_app, name="staff")

console = Console()
err = Console(stderr=True)
T = TypeVar("T")


def _run(fn: Callable[[AppContext], Awaitable[T]]) -> T:
    """Run a use case with a fresh database connection; domain errors end the command cleanly."""
    settings = get_settings()

    async def go() -> T:
        db = Database(settings.database_url)
        try:
            return await fn(AppContext(db=db, settings=settings))
        finally:
            await db.dispose()

    try:
        return asyncio.run(go())
    except DomainError as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(1) from None


LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "stream": "ext://sys.stderr",
        }
    },
    "loggers": {
        "serviceguide": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
}


def _show_secret(what: str, ident: Any, secret: str) -> None:
    console.print(f"{what} [bold]{ident}[/bold] created. Its secret is shown once, keep it now:")
    console.print(f"  [bold green]{secret}[/bold green]")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
) -> None:
    """Serve the web pages and APIs."""
    import uvicorn

    settings = get_settings()
    settings.resolved_secret_key()  # create it once, before workers race for it
    uvicorn.run(
        "serviceguide.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,  # the app logs requests itself, with credentials redacted
        log_config=LOG_CONFIG,  # applied in every worker process, not only the parent
    )


@app.command("ko-simulator")
def ko_simulator(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8001,
) -> None:
    """Simulate the demo networks' KO: the direct-activation calls the guide makes."""
    import uvicorn

    from serviceguide.simulator.app import create_simulator

    console.print(f"KO simulator on http://{host}:{port}/{{coid}}/activation")
    uvicorn.run(create_simulator(), host=host, port=port, log_config=LOG_CONFIG)


@app.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    url = get_settings().database_url
    migrations.upgrade(url)
    console.print("Database schema is up to date.")


@app.command("demo-data")
def demo_data(
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Load the demo data set unless already loaded, and print its credentials."""
    result = _run(demo.load)
    if as_json:
        typer.echo(json.dumps(result.data, ensure_ascii=False, indent=2))
        return
    d = result.data
    console.print("Demo data " + ("loaded." if result.loaded_now else "was already loaded."))
    t = Table(title="API users (XSP order API)")
    for col in ("organisation", "api_user", "api_key"):
        t.add_column(col)
    for ko in d["kos"]:
        t.add_row(f"KO {ko['coid']} {ko['name']}", str(ko["api_user"]), ko["api_key"])
    for tl in d["tls"]:
        t.add_row(f"TL {tl['xsp']} {tl['name']}", str(tl["api_user"]), tl["api_key"])
    console.print(t)
    s = Table(title="Staff users (web pages)")
    for col in ("organisation", "username", "password"):
        s.add_column(col)
    for u in d["staff"]:
        s.add_row(str(u.get("coid") or u.get("xsp")), u["username"], u["password"])
    console.print(s)
    console.print(f"{len(d['accesses'])} accesses, {len(d['orders'])} orders.")


@ko_app.command("create")
def ko_create(
    coid: str,
    name: str,
    activation_url: Annotated[str | None, typer.Option(help="direct-activation URL")] = None,
) -> None:
    """Create a KO and its network (both named by the coId)."""
    _run(lambda ctx: admin.create_ko(ctx, coid, name, activation_url))
    console.print(f"KO {coid} created with its network.")


@tl_app.command("create")
def tl_create(
    xsp: int,
    name: str,
    email: Annotated[str, typer.Option(help="where new orders are mailed")],
) -> None:
    """Create a TL (service provider)."""
    _run(lambda ctx: admin.create_tl(ctx, xsp, name, email))
    console.print(f"TL {xsp} created.")


@networks_app.command("set-activation-url")
def networks_set_activation_url(coid: str, url: str) -> None:
    """Where the guide sends a network's direct-activation calls; `none` turns them off."""
    value = None if url.lower() == "none" else url
    _run(lambda ctx: admin.set_activation_url(ctx, coid, value))
    console.print(f"{coid}: direct activation " + (f"via {value}" if value else "off"))


@accesses_app.command("add")
def accesses_add(
    coid: Annotated[str, typer.Option()],
    access_id: Annotated[str, typer.Option("--access-id")],
    street: Annotated[str, typer.Option()],
    number: Annotated[str, typer.Option()],
    postal_code: Annotated[str, typer.Option("--postal-code")],
    city: Annotated[str, typer.Option()],
    littera: Annotated[str, typer.Option()] = "",
    premises_type: Annotated[str, typer.Option("--premises-type")] = "OTHER",
    apartment: Annotated[str, typer.Option(help="mduApartmentNumber")] = "",
) -> None:
    """Add one access to a network."""
    _run(
        lambda ctx: admin.add_access(
            ctx,
            coid=coid,
            access_id=access_id,
            street_name=street,
            street_number=number,
            postal_code=postal_code,
            city=city,
            street_littera=littera,
            premises_type=premises_type,
            mdu_apartment_number=apartment,
        )
    )
    console.print(f"Access {access_id} added to {coid}.")


@services_app.command("create")
def services_create(
    xsp: Annotated[int, typer.Option(help="the TL selling it")],
    coid: Annotated[str, typer.Option(help="the network it is sold on")],
    uid: Annotated[str, typer.Option(help="the KO's product code")],
    name: Annotated[str, typer.Option()],
    price_monthly: Annotated[str, typer.Option("--price-monthly")],
    price_once: Annotated[str, typer.Option("--price-once")] = "0",
    direct_activation: Annotated[bool, typer.Option("--direct-activation")] = False,
    service_id: Annotated[int | None, typer.Option("--id", help="default: next free")] = None,
) -> None:
    """Offer a service on a network."""
    sid = _run(
        lambda ctx: admin.create_service(
            ctx,
            xsp=xsp,
            coid=coid,
            uid=uid,
            name=name,
            price_monthly=Decimal(price_monthly),
            price_once=Decimal(price_once),
            direct_activation=direct_activation,
            service_id=service_id,
        )
    )
    console.print(f"Service {sid} created.")


def _org_of(ctx: AppContext, coid: str | None, xsp: int | None) -> Awaitable[Any]:
    if (coid is None) == (xsp is None):
        raise typer.BadParameter("give exactly one of --coid or --xsp")
    return admin.find_org(ctx, coid=coid, xsp=xsp)


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
        org = await _org_of(ctx, coid, xsp)
        return await admin.create_api_user(ctx, org, name, ip_allowlist=allow_ip or None)

    cred = _run(go)
    _show_secret("API user", cred.ident, cred.secret)


@staff_app.command("create")
def staff_create(
    username: str,
    name: Annotated[str, typer.Option()],
    coid: Annotated[str | None, typer.Option(help="for a KO")] = None,
    xsp: Annotated[int | None, typer.Option(help="for a TL")] = None,
) -> None:
    """Create a staff user; prints its password once."""

    async def go(ctx: AppContext) -> admin.NewCredentials:
        org = await _org_of(ctx, coid, xsp)
        return await admin.create_staff_user(ctx, org, username, name)

    cred = _run(go)
    _show_secret("Staff user", cred.ident, cred.secret)


def main() -> None:
    app()
