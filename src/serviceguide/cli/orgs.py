"""``serviceguide ko``, ``tl`` and ``networks``: the organisations (network operators and service
providers) — creating and listing them, a TL's order address and contact details — and the
networks' direct-activation address."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from serviceguide.cli import output
from serviceguide.cli.common import console, err, run, when
from serviceguide.domain.products import ProductsRefused
from serviceguide.services import admin, organisations, products, sp_settings

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


@ko_app.command("list")
def ko_list(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON array")] = False,
) -> None:
    """Every KO with its network's direct-activation URL and how many accesses it has in use."""
    found = run(organisations.list_kos)
    if as_json:
        output.json_list(found)
        return
    t = Table(title="Network operators (KO)")
    for col in ("coId", "name", "accesses", "direct activation", "created"):
        t.add_column(col, overflow="fold")
    for k in found:
        t.add_row(
            k.coid, Text(k.name), str(k.accesses), Text(k.activation_url or ""), when(k.created_at)
        )
    console.print(t)


@tl_app.command("list")
def tl_list(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON array")] = False,
) -> None:
    """Every TL with its order address, contact details and how many services it offers."""
    found = run(organisations.list_tls)
    if as_json:
        output.json_list(found)
        return
    t = Table(title="Service providers (TL)")
    for col in (
        "xsp",
        "name",
        "order e-mail",
        "ON-API",
        "delivery",
        "services",
        "contact details",
        "created",
    ):
        t.add_column(col, overflow="fold")
    for tl in found:
        contact = "\n".join(
            filter(None, (tl.phone, tl.contact_email, tl.website, tl.opening_hours))
        )
        t.add_row(
            str(tl.xsp),
            Text(tl.name),
            Text(tl.email or ""),
            Text(tl.onapi_url or ""),
            tl.delivery,
            str(tl.services),
            Text(contact),
            when(tl.created_at),
        )
    console.print(t)


@tl_app.command("update")
def tl_update(
    xsp: int,
    email: Annotated[str | None, typer.Option(help="where new orders are mailed")] = None,
    phone: Annotated[str | None, typer.Option(help="for customers; '' clears it")] = None,
    contact_email: Annotated[
        str | None, typer.Option("--contact-email", help="for customers; '' clears it")
    ] = None,
    website: Annotated[str | None, typer.Option(help="https://…; '' clears it")] = None,
    opening_hours: Annotated[
        str | None, typer.Option("--opening-hours", help="one line; '' clears it")
    ] = None,
) -> None:
    """Change a TL's order address and the contact details its customers see."""
    tl = run(
        lambda ctx: organisations.update_tl(
            ctx,
            xsp,
            order_email=email,
            phone=phone,
            contact_email=contact_email,
            website=website,
            opening_hours=opening_hours,
        )
    )
    console.print(f"TL {xsp} updated.", highlight=False)
    for label, value in (
        ("order e-mail", tl.order_email),
        ("phone", tl.phone),
        ("contact e-mail", tl.contact_email),
        ("website", tl.website),
        ("opening hours", tl.opening_hours),
    ):
        console.print(f"  {label}: {value or '-'}", markup=False, highlight=False)


@tl_app.command("set-onapi")
def tl_set_onapi(
    xsp: int,
    url: Annotated[
        str,
        typer.Argument(
            help="the TL's ON-API base, e.g. https://sp.example/onapi/2.6; 'none' removes it"
        ),
    ],
    username: Annotated[
        str | None, typer.Option(help="Basic auth user; '' removes the credentials")
    ] = None,
    password: Annotated[
        str | None, typer.Option(help="Basic auth password ('-': read from standard input)")
    ] = None,
    delivery: Annotated[
        str | None,
        typer.Option(help="mail | onapi | both (default: as before; mail for a new TL)"),
    ] = None,
) -> None:
    """Push a TL's orders to its ON-API 2.6 endpoints (order, activationnotice, products)."""
    if password == "-":  # noqa: S105 - not a password: the sign to read it from stdin
        password = sys.stdin.readline().rstrip("\r\n")
    found = run(
        lambda ctx: sp_settings.set_onapi(
            ctx, xsp, url, username=username, password=password, delivery=delivery
        )
    )
    if found.url is None:
        console.print(f"TL {xsp}: no ON-API; orders go by e-mail.", highlight=False)
        return
    console.print(f"TL {xsp}: ON-API settings stored.", highlight=False)
    for label, value in (
        ("url", found.url),
        ("username", found.username or "-"),
        ("password", "stored" if found.password_set else "-"),
        ("delivery", found.delivery.value),
    ):
        console.print(f"  {label}: {value}", markup=False, highlight=False)


@tl_app.command("sync-products")
def tl_sync_products(xsp: int) -> None:
    """Read the TL's ON-API products (URL/products/) into the guide's catalogue now.

    Each offering becomes a service in the networks that admit the TL and know its coProduct;
    offerings gone from the document are retired. A bad document changes nothing."""
    try:
        report = run(
            lambda ctx: products.sync_products(ctx, xsp),
            passing=(ProductsRefused, products.ProductsUnavailable),
        )
    except ProductsRefused as e:
        err.print(
            f"[red]error:[/red] the products of TL {xsp} were refused, nothing changed: "
            f"{escape(str(e))}"
        )
        raise typer.Exit(1) from None
    except products.ProductsUnavailable as e:
        err.print(
            f"[red]error:[/red] the products of TL {xsp} could not be read, nothing changed: "
            f"{escape(str(e))}"
        )
        raise typer.Exit(1) from None
    console.print(
        f"TL {xsp}: {report.offerings} offerings read; {report.added} services added, "
        f"{report.updated} updated, {report.unchanged} unchanged, {report.retired} retired.",
        highlight=False,
    )
    for why in report.skipped:
        console.print(f"  left out: {why}", markup=False, highlight=False)


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
