"""``serviceguide privacy``: customers' personal data — anonymising it after the retention,
finding and erasing a person's records on request, and the audit of who read it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, NoReturn

import typer
from rich.table import Table
from rich.text import Text

from serviceguide.cli import output
from serviceguide.cli.common import console, err, run, when
from serviceguide.services import privacy
from serviceguide.services.context import AppContext
from serviceguide.settings import get_settings

privacy_app = typer.Typer(
    help="Customers' personal data: who read it, anonymising and erasing it.",
    no_args_is_help=True,
)


@privacy_app.command("anonymise")
def privacy_anonymise(
    retention_days: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="days after the last order closed; default SERVICEGUIDE_RETENTION_DAYS",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="only list who would be anonymised")] = False,
) -> None:
    """Blank the personal data of customers whose orders all closed more than the retention
    ago; the orders, their statuses and log stay. Safe to run again (e.g. daily from cron)."""
    days = retention_days or get_settings().retention_days
    done = run(lambda ctx: privacy.anonymise_closed(ctx, retention_days=days, dry_run=dry_run))
    verb = "would be anonymised" if dry_run else "anonymised"
    console.print(
        f"{len(done.customers)} customers {verb} (orders closed more than {days} days ago)"
        + ("" if dry_run else f"; {done.log_entries_masked} log texts masked")
    )
    if done.customers:
        console.print("customers: " + ", ".join(map(str, done.customers)))


def _blanked(b: privacy.Blanked) -> str:
    return (
        f"{b.log_entries} log texts, {b.delivery_errors} delivery errors and "
        f"{b.mail_copies} mail copies masked"
    )


def _refused(e: privacy.OpenOrders) -> NoReturn:
    err.print(f"error: {e}.", markup=False, highlight=False, soft_wrap=True)
    err.print(
        "The provider needs the contact details to deliver an open order. To erase anyway "
        "(the order can then not be delivered by contact), add --force.",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    raise typer.Exit(1)


@privacy_app.command("erase")
def privacy_erase(
    customer_id: Annotated[
        int | None, typer.Argument(help="one customer record (or give --serial)")
    ] = None,
    serial: Annotated[
        str | None,
        typer.Option(help="every customer record of the person with this personnummer"),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="erase even while an order is open (it cannot be delivered)")
    ] = False,
) -> None:
    """Erase a customer's personal data on request — one record by its id, or with --serial
    every record of one person — keeping the orders' history."""
    if (customer_id is None) == (serial is None):
        raise typer.BadParameter("give either a CUSTOMER_ID or --serial SERIAL")

    async def go(ctx: AppContext) -> privacy.ErasedPerson | privacy.Blanked | None:
        if serial is not None:
            return await privacy.erase_person(ctx, serial, force=force)
        assert customer_id is not None
        return await privacy.erase_customer(ctx, customer_id, force=force)

    try:
        done = run(go, passing=(privacy.OpenOrders,))
    except privacy.OpenOrders as e:
        _refused(e)
    if isinstance(done, privacy.ErasedPerson):
        ids = ", ".join(map(str, done.customers)) or "none"
        console.print(
            f"{len(done.customers)} customer records erased ({ids}); {_blanked(done.blanked)}",
            highlight=False,
        )
    elif done is None:
        console.print(f"customer {customer_id} was already anonymised", highlight=False)
    else:
        console.print(f"customer {customer_id} erased; {_blanked(done)}", highlight=False)


@privacy_app.command("find")
def privacy_find(
    serial: Annotated[str, typer.Argument(help="personnummer: 10 or 12 digits, - or + allowed")],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON array")] = False,
) -> None:
    """Every customer record of one person (one per placement), with their orders."""
    found = run(lambda ctx: privacy.find_person(ctx, serial))
    if as_json:
        output.json_list(found)
        return
    if not found:
        console.print("No customer records with that personnummer.")
        return
    t = Table(title=f"Customer records of one person ({len(found)})")
    for col in ("customer", "created", "name", "e-mail", "phone", "access", "orders"):
        t.add_column(col, overflow="fold")
    for r in found:
        t.add_row(
            str(r.id),
            when(r.created_at),
            Text(f"{r.firstname} {r.surname}"),
            Text(r.email),
            Text(r.phone),
            Text(f"{r.coid}/{r.access_id}"),
            Text("\n".join(f"{o.id} {o.status} ({o.xsp}: {o.service_name})" for o in r.orders)),
        )
    console.print(t)


@privacy_app.command("reads")
def privacy_reads(
    customer: Annotated[int | None, typer.Option(help="only this customer")] = None,
    since: Annotated[
        datetime | None, typer.Option(help="only reads at or after (YYYY-MM-DD, UTC)")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="at most N reads, oldest first")] = 10_000,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """The audit of who read which customer's personal data: when, who, how, from where."""
    at = since.replace(tzinfo=UTC) if since and since.tzinfo is None else since
    rows = run(lambda ctx: privacy.reads(ctx, customer_id=customer, since=at, limit=limit))
    if as_json:
        for r in rows:
            doc = dict(r._mapping)
            doc["at"] = doc["at"].isoformat()
            print(json.dumps(doc, ensure_ascii=False))
        return
    t = Table(title="Reads of personal data")
    for col in ("at", "customer", "reader", "organisation", "via", "client"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(
            when(r.at),
            str(r.customer_id),
            Text(f"{r.reader_kind} {r.reader_id} {r.reader_name}"),
            Text(r.org_name),
            r.via,
            r.client or "",
        )
    console.print(t)
