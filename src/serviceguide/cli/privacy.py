"""``serviceguide privacy``: customers' personal data — anonymising it after the retention,
erasing it on request, and the audit of who read it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from serviceguide.cli.common import console, run, when
from serviceguide.services import privacy
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


@privacy_app.command("erase")
def privacy_erase(
    customer_id: int,
    force: Annotated[
        bool, typer.Option(help="erase even while an order is open (it cannot be delivered)")
    ] = False,
) -> None:
    """Erase one customer's personal data on request, keeping the orders' history."""
    masked = run(lambda ctx: privacy.erase_customer(ctx, customer_id, force=force))
    if masked is None:
        console.print(f"customer {customer_id} was already anonymised")
    else:
        console.print(f"customer {customer_id} erased; {masked} log texts masked")


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
