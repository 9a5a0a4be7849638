"""``serviceguide accesses`` and ``services``: what can be ordered where — a network's accesses
(one by one, or imported from and exported to an MdB2 file) and the services TLs offer on it."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from serviceguide.cli.common import console, err, run
from serviceguide.cli.output import json_list
from serviceguide.domain.mdb import MdbFormat
from serviceguide.services import admin, marketdb

accesses_app = typer.Typer(help="Accesses (ports) in a network.", no_args_is_help=True)
services_app = typer.Typer(help="The service catalogue.", no_args_is_help=True)


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
    run(
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


def _print_import_report(report: marketdb.ImportReport, show: int) -> None:
    def say(text: str) -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)

    say(
        f"{report.coid}: {report.imported} of {report.rows} rows imported in "
        f"{report.seconds:.1f} s — {report.inserted} new, {report.updated} updated, "
        f"{report.unchanged} unchanged."
    )
    if report.ignored_columns:
        say(f"Columns ignored (not MdB2): {', '.join(report.ignored_columns)}")
    if report.rejected_rows:
        say(f"{report.rejected_rows} rows rejected (not imported):")
        for r in report.rejections[:show]:
            who = f" (accessId {r.access_id})" if r.access_id else ""
            say(f"  line {r.line}{who}: {r.field}: {r.reason}")
        hidden = len(report.rejections) - show
        if hidden > 0:
            say(f"  … and {hidden} more problems (--show N prints more)")
        if len(report.rejections) >= marketdb.MAX_REJECTIONS:
            say(f"  (only the first {marketdb.MAX_REJECTIONS} problems are kept)")
    if report.encoding != marketdb.UTF8:
        say(f"The file is not UTF-8: read as {report.encoding} (Latin-1).")
    if report.retired:
        say(
            f"{report.retired} accesses of {report.coid} are not in the file: retired "
            "(no longer in the guide, ON-API or the export; their orders keep them)."
        )
    elif report.replace and not report.complete:
        say(
            "Nothing retired: with rejected rows, --replace retires nothing. "
            "Fix them and import again."
        )
    if report.absent:
        say(
            f"{report.absent} accesses of {report.coid} are not in the file; "
            "they are kept unchanged (orders refer to them)."
            + ("" if report.replace else " --replace would retire them.")
        )


@accesses_app.command("import")
def accesses_import(
    file: Annotated[
        Path, typer.Argument(help="MdB2 file: CSV or TAB, UTF-8 or Latin-1, header row")
    ],
    coid: Annotated[str, typer.Option(help="the network (KO coId) the accesses belong to")],
    fmt: Annotated[
        MdbFormat | None,
        typer.Option("--format", help="default: from the extension (.csv; .tab .tsv .txt)"),
    ] = None,
    show: Annotated[int, typer.Option(min=0, help="rejected-row problems to print")] = 100,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="also retire the network's accesses the file does not name (only when every "
            "row was imported); orders keep them",
        ),
    ] = False,
) -> None:
    """Import a network's accesses from an MdB2 file: new ones are added, changed ones updated;
    with --replace, the ones the file no longer names are retired. docs/marketdb.md has the
    format.

    Exit code 0 when every row was imported, 2 when some rows were rejected (the others are
    imported), 1 when nothing could be imported (unknown network, unreadable file or header).
    """
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("reading", total=None)

        def progress(p: marketdb.ImportProgress) -> None:
            bar.update(
                task, completed=p.bytes_read, total=p.bytes_total, description=f"{p.rows:>9} rows"
            )

        report = run(
            lambda ctx: marketdb.import_accesses(ctx, coid, file, fmt, progress, replace=replace)
        )
    _print_import_report(report, show)
    if not report.complete:
        raise typer.Exit(2)


@accesses_app.command("export")
def accesses_export(
    coid: Annotated[str, typer.Option(help="the network (KO coId)")],
    fmt: Annotated[
        MdbFormat | None,
        typer.Option("--format", help="default: from the output's extension, else csv"),
    ] = None,
    output: Annotated[Path | None, typer.Option(help="file to write; default: stdout")] = None,
) -> None:
    """Export a network's accesses in the MdB2 layout (the same the import reads)."""
    chosen = fmt or (marketdb.guess_format(output) if output else None) or MdbFormat.CSV
    if output is None:
        out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
        try:
            written = run(lambda ctx: marketdb.export_accesses(ctx, coid, chosen, out))
        finally:
            out.flush()
            out.detach()
    else:
        with output.open("w", encoding="utf-8", newline="") as f:
            written = run(lambda ctx: marketdb.export_accesses(ctx, coid, chosen, f))
    err.print(f"{written} accesses of {coid} exported.", markup=False, highlight=False)


_SERVICE_FIELDS = (
    "id",
    "coid",
    "xsp",
    "tl_name",
    "uid",
    "name",
    "description",
    "price_monthly",
    "price_once",
    "direct_activation",
    "active",
    "created_at",
)


@services_app.command("list")
def services_list(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON array")] = False,
) -> None:
    """The catalogue: which TL sells which service on which network, at what price."""
    rows = run(admin.catalogue_overview)
    if as_json:
        json_list({name: r[name] for name in _SERVICE_FIELDS} for r in rows)
        return
    t = Table(title="Services")
    for col in (
        "id",
        "network",
        "TL",
        "uid",
        "name",
        "description",
        "monthly",
        "once",
        "direct",
        "active",
    ):
        t.add_column(col)
    for r in rows:
        t.add_row(
            str(r["id"]),
            str(r["coid"]),
            f"{r['xsp']} {r['tl_name']}",
            str(r["uid"]),
            str(r["name"]),
            str(r["description"]),
            str(r["price_monthly"]),
            str(r["price_once"]),
            "yes" if r["direct_activation"] else "no",
            "yes" if r["active"] else "no",
        )
    console.print(t)


@services_app.command("update")
def services_update(
    service_id: int,
    name: Annotated[str | None, typer.Option()] = None,
    description: Annotated[str | None, typer.Option()] = None,
    price_monthly: Annotated[
        str | None, typer.Option("--price-monthly", help="SEK, e.g. 299 or 299,50")
    ] = None,
    price_once: Annotated[
        str | None, typer.Option("--price-once", help="SEK, e.g. 0 or 495,00")
    ] = None,
    direct_activation: Annotated[
        bool | None, typer.Option("--direct-activation/--no-direct-activation")
    ] = None,
    active: Annotated[bool | None, typer.Option("--active/--inactive")] = None,
) -> None:
    """Change a service's name, description, prices, direct activation or whether it is offered."""
    run(
        lambda ctx: admin.update_service(
            ctx,
            service_id,
            name=name,
            description=description,
            price_monthly=price_monthly,
            price_once=price_once,
            direct_activation=direct_activation,
            active=active,
        )
    )
    console.print(f"Service {service_id} updated.")


@services_app.command("create")
def services_create(
    xsp: Annotated[int, typer.Option(help="the TL selling it")],
    coid: Annotated[str, typer.Option(help="the network it is sold on")],
    uid: Annotated[str, typer.Option(help="the KO's product code")],
    name: Annotated[str, typer.Option()],
    price_monthly: Annotated[str, typer.Option("--price-monthly", help="SEK, e.g. 299 or 299,50")],
    price_once: Annotated[str, typer.Option("--price-once", help="SEK, e.g. 0 or 495,00")] = "0",
    direct_activation: Annotated[bool, typer.Option("--direct-activation")] = False,
    description: Annotated[str, typer.Option(help="speed or a short description")] = "",
    service_id: Annotated[int | None, typer.Option("--id", help="default: next free")] = None,
) -> None:
    """Offer a service on a network."""
    sid = run(
        lambda ctx: admin.create_service(
            ctx,
            xsp=xsp,
            coid=coid,
            uid=uid,
            name=name,
            price_monthly=price_monthly,
            price_once=price_once,
            direct_activation=direct_activation,
            description=description,
            service_id=service_id,
        )
    )
    console.print(f"Service {sid} created.")
