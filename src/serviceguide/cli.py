"""The ``serviceguide`` command."""

from __future__ import annotations

import asyncio
import io
import json
import logging.config
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from serviceguide.agent.cli import agent_app
from serviceguide.domain.allowlist import admits_loopback, parse_allowlist
from serviceguide.domain.clock import fmt_seconds
from serviceguide.domain.errors import DomainError
from serviceguide.domain.mdb import MdbFormat
from serviceguide.domain.outbox import OutboxKind, OutboxState
from serviceguide.services import admin, demo, marketdb, outbox, privacy, webhooks
from serviceguide.services.context import AppContext
from serviceguide.settings import Settings, get_settings
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
outbox_app = typer.Typer(help="Queued mails and webhook deliveries.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Webhook endpoints of TLs and KOs.", no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")
app.add_typer(webhooks_app, name="webhooks")
privacy_app = typer.Typer(
    help="Customers' personal data: who read it, anonymising and erasing it.",
    no_args_is_help=True,
)
app.add_typer(privacy_app, name="privacy")

app.add_typer(agent_app, name="agent")

console = Console()
err = Console(stderr=True)
T = TypeVar("T")


def _run(fn: Callable[[AppContext], Awaitable[T]], *, service: bool = False) -> T:
    """Run a use case with a fresh database connection; domain errors end the command cleanly.
    A ``service`` (the relay) waits for the database at most SERVICEGUIDE_DB_TIMEOUT_SECONDS at
    a time, as the server does; other commands wait as long as their statements take."""
    settings = get_settings()

    async def go() -> T:
        timeout = settings.db_timeout_seconds if service else None
        db = Database(settings.database_url, timeout=timeout)
        try:
            return await fn(AppContext(db=db, settings=settings))
        finally:
            await db.dispose()

    try:
        return asyncio.run(go())
    except DomainError as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(1) from None


class OneLineFormatter(logging.Formatter):
    """The exception's type and message on the log line itself, without the traceback: for
    libraries that log an outage they are already retrying (asyncpg's pool) as a warning."""

    def formatException(self, ei: Any) -> str:
        return f"  ({ei[0].__name__}: {ei[1]})" if ei and ei[0] else ""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n  (", " (", 1)


_LINE = "%(asctime)s %(levelname)s %(name)s %(message)s"
LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": _LINE},
        "one_line": {"()": "serviceguide.cli.OneLineFormatter", "format": _LINE},
    },
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "stream": "ext://sys.stderr",
        },
        "stderr_one_line": {
            "class": "logging.StreamHandler",
            "formatter": "one_line",
            "stream": "ext://sys.stderr",
        },
    },
    "loggers": {
        "serviceguide": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "asyncpg": {"handlers": ["stderr_one_line"], "level": "WARNING", "propagate": False},
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
    """Serve the web pages and APIs, and deliver mails and webhooks in the background."""
    import uvicorn

    settings = get_settings()
    settings.resolved_secret_key()  # create it once, before workers race for it
    options: dict[str, Any] = {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "access_log": False,  # the app logs requests itself, with credentials redacted
        "log_config": LOG_CONFIG,  # applied in every worker process, not only the parent
        # X-Forwarded-For only from the proxies named; uvicorn would believe 127.0.0.1 by default.
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": settings.trusted_proxies or None,
    }
    if workers == 1:
        uvicorn.run("serviceguide.app:create_app", **options)
    else:
        _serve_workers(uvicorn.Config("serviceguide.app:create_app", **options))


def _serve_workers(config: Any) -> None:
    """uvicorn's supervisor of worker processes, except that when it stops, the parent lets go
    of the listening socket as soon as it has told the workers to stop. Each worker closes its
    own copy first thing; the parent's copy would otherwise keep the port open while workers
    finish their requests and deliveries (up to notify.relay.STOP_GRACE_SECONDS), and a client
    connecting meanwhile would wait out its own timeout instead of being refused at once."""
    from uvicorn.supervisors import Multiprocess

    class Supervisor(Multiprocess):
        def terminate_all(self) -> None:
            super().terminate_all()
            for sock in self.sockets:
                sock.close()

    sock = config.bind_socket()
    try:
        Supervisor(config, sockets=[sock]).run()
    finally:
        sock.close()


@app.command("ko-simulator")
def ko_simulator(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8001,
    fail_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="share of ON-API orders ending DONE_FAILED")
    ] = 0.0,
    delay: Annotated[
        float, typer.Option(min=0.0, help="seconds an ON-API order stays unfinished")
    ] = 1.0,
    username: Annotated[str, typer.Option(help="ON-API Basic auth user")] = "sim",
    password: Annotated[str, typer.Option(help="ON-API Basic auth password")] = "sim",  # noqa: S107
) -> None:
    """Simulate the demo networks' KO: direct activation and ON-API 2.4 orders."""
    import uvicorn

    from serviceguide.simulator.app import create_simulator
    from serviceguide.simulator.onapi import SimConfig

    config = SimConfig(username=username, password=password, fail_rate=fail_rate, delay=delay)
    console.print(f"KO simulator: http://{host}:{port}/{{coid}}/activation (direct activation)")
    console.print(f"              http://{host}:{port}/{{coid}}/onapi/2.4/orders/ (ON-API)")
    uvicorn.run(create_simulator(config=config), host=host, port=port, log_config=LOG_CONFIG)


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
    if report.absent:
        say(
            f"{report.absent} accesses of {report.coid} are not in the file; "
            "they are kept unchanged (orders refer to them)."
        )


@accesses_app.command("import")
def accesses_import(
    file: Annotated[Path, typer.Argument(help="MdB2 file: CSV or TAB, UTF-8, header row")],
    coid: Annotated[str, typer.Option(help="the network (KO coId) the accesses belong to")],
    fmt: Annotated[
        MdbFormat | None,
        typer.Option("--format", help="default: from the extension (.csv; .tab .tsv .txt)"),
    ] = None,
    show: Annotated[int, typer.Option(min=0, help="rejected-row problems to print")] = 100,
) -> None:
    """Import a network's accesses from an MdB2 file: new ones are added, changed ones updated.

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

        report = _run(lambda ctx: marketdb.import_accesses(ctx, coid, file, fmt, progress))
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
            written = _run(lambda ctx: marketdb.export_accesses(ctx, coid, chosen, out))
        finally:
            out.flush()
            out.detach()
    else:
        with output.open("w", encoding="utf-8", newline="") as f:
            written = _run(lambda ctx: marketdb.export_accesses(ctx, coid, chosen, f))
    err.print(f"{written} accesses of {coid} exported.", markup=False, highlight=False)


@services_app.command("list")
def services_list() -> None:
    """The catalogue: which TL sells which service on which network, at what price."""
    rows = _run(admin.catalogue_overview)
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
    price_monthly: Annotated[str | None, typer.Option("--price-monthly")] = None,
    price_once: Annotated[str | None, typer.Option("--price-once")] = None,
    direct_activation: Annotated[
        bool | None, typer.Option("--direct-activation/--no-direct-activation")
    ] = None,
    active: Annotated[bool | None, typer.Option("--active/--inactive")] = None,
) -> None:
    """Change a service's name, description, prices, direct activation or whether it is offered."""
    _run(
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
    price_monthly: Annotated[str, typer.Option("--price-monthly")],
    price_once: Annotated[str, typer.Option("--price-once")] = "0",
    direct_activation: Annotated[bool, typer.Option("--direct-activation")] = False,
    description: Annotated[str, typer.Option(help="speed or a short description")] = "",
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
            price_monthly=price_monthly,
            price_once=price_once,
            direct_activation=direct_activation,
            description=description,
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
        org = await _org_of(ctx, coid, xsp)
        return await admin.create_staff_user(ctx, org, username, name)

    cred = _run(go)
    _show_secret("Staff user", cred.ident, cred.secret)


@staff_app.command("reset-password")
def staff_reset_password(username: str) -> None:
    """Give a staff user a new random password (printed once) and end all its sessions."""
    from serviceguide.services import staff as staff_service

    async def go(ctx: AppContext) -> str:
        return await staff_service.reset_password(ctx, username)

    password = _run(go)
    console.print(f"Staff user [bold]{username}[/bold]: new password, shown once, keep it now:")
    console.print(f"  [bold green]{password}[/bold green]")


# -- notifications: the outbox relay, its queue, webhook endpoints ------------------------------


@app.command()
def relay(
    once: Annotated[
        bool, typer.Option("--once", help="deliver what is due now, then exit")
    ] = False,
) -> None:
    """Deliver queued order e-mails and webhooks (as `serve` does in the background).

    Runs until stopped (SIGTERM/SIGINT); any number may run against one database.
    """
    from serviceguide.notify.relay import Relay, Tally

    logging.config.dictConfig(LOG_CONFIG)

    async def go(ctx: AppContext) -> Tally:
        async with Relay(ctx) as r:
            if once:
                return await r.drain()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await r.run(stop)
            return r.tally

    tally = _run(go, service=True)
    err.print(f"Outbox relay: {tally}.", markup=False, highlight=False)


def _when(dt: datetime | None) -> str:
    return fmt_seconds(dt) if dt else ""


@outbox_app.command("list")
def outbox_list(
    state: Annotated[OutboxState | None, typer.Option(help="only messages in this state")] = None,
    kind: Annotated[OutboxKind | None, typer.Option(help="mail or webhook")] = None,
    order: Annotated[int | None, typer.Option(help="only messages about this order")] = None,
    limit: Annotated[int, typer.Option(min=1, help="newest N messages")] = 50,
) -> None:
    """Queued, delivered and failed messages, newest first, with attempts and last error."""
    entries = _run(
        lambda ctx: outbox.list_entries(ctx, state=state, kind=kind, order_id=order, limit=limit)
    )
    t = Table(title="Outbox")
    for col in (
        "id",
        "kind",
        "order",
        "event",
        "to",
        "state",
        "attempts",
        "next / done",
        "last error",
    ):
        t.add_column(col, overflow="fold")
    for e in entries:
        t.add_row(
            str(e.id),
            e.kind.value,
            str(e.order_id),
            str(e.event_id or ""),
            Text(e.target),
            e.state.value,
            str(e.attempts),
            _when(e.next_or_done),
            Text(e.last_error or ""),
        )
    console.print(t)


@outbox_app.command("attempts")
def outbox_attempts(outbox_id: int) -> None:
    """The delivery log of one message: every attempt, its outcome and error."""
    found = _run(lambda ctx: outbox.attempts(ctx, outbox_id))
    t = Table(title=f"Attempts of outbox message {outbox_id}")
    for col in ("at", "outcome", "ms", "relay", "error"):
        t.add_column(col, overflow="fold")
    for a in found:
        t.add_row(
            _when(a.at),
            a.outcome.value,
            str(a.duration_ms or ""),
            Text(a.relay),
            Text(a.error or ""),
        )
    console.print(t)


@outbox_app.command("retry")
def outbox_retry(
    outbox_id: Annotated[int | None, typer.Argument(help="the message to queue again")] = None,
    all_failed: Annotated[bool, typer.Option("--all-failed", help="every failed message")] = False,
) -> None:
    """Queue a failed message (or every failed one) for delivery now, with fresh attempts."""
    if (outbox_id is None) == (not all_failed):
        raise typer.BadParameter("give either an ID or --all-failed")
    if all_failed:
        n = _run(outbox.retry_all_failed)
        console.print(f"{n} failed messages queued again.")
        return
    assert outbox_id is not None
    _run(lambda ctx: outbox.retry(ctx, outbox_id))
    console.print(f"Outbox message {outbox_id} queued again.")


def _show_webhook_secret(what: str, secret: webhooks.EndpointSecret) -> None:
    console.print(
        f"Webhook endpoint [bold]{secret.endpoint_id}[/bold] {what}. "
        "Its signing secret is shown once, keep it now:"
    )
    console.print(f"  [bold green]{secret.secret}[/bold green]", highlight=False)


@webhooks_app.command("register")
def webhooks_register(
    url: Annotated[str, typer.Argument(help="https://… (http:// only for 127.0.0.1/localhost)")],
    coid: Annotated[str | None, typer.Option(help="for a KO")] = None,
    xsp: Annotated[int | None, typer.Option(help="for a TL")] = None,
    events: Annotated[
        str | None,
        typer.Option(help="comma-separated: order_created,status_changed,message_added (all)"),
    ] = None,
) -> None:
    """Register a webhook endpoint of a TL or KO; prints its signing secret once."""

    async def go(ctx: AppContext) -> webhooks.EndpointSecret:
        org = await _org_of(ctx, coid, xsp)
        return await webhooks.register(ctx, org, url, events)

    _show_webhook_secret("registered", _run(go))


@webhooks_app.command("list")
def webhooks_list() -> None:
    """Every webhook endpoint (without secrets)."""
    found = _run(webhooks.list_endpoints)
    t = Table(title="Webhook endpoints")
    for col in ("id", "organisation", "url", "events", "active", "created"):
        t.add_column(col, overflow="fold")
    for e in found:
        t.add_row(
            str(e.id),
            Text(f"{e.org_kind.value.upper()} {e.org_ident} {e.org_name}"),
            Text(e.url),
            ",".join(x.value for x in e.event_types),
            "yes" if e.active else "no",
            _when(e.created_at),
        )
    console.print(t)


@webhooks_app.command("rotate")
def webhooks_rotate(endpoint_id: int) -> None:
    """Give an endpoint a new signing secret; prints it once."""
    _show_webhook_secret("has a new secret", _run(lambda ctx: webhooks.rotate(ctx, endpoint_id)))


@webhooks_app.command("disable")
def webhooks_disable(endpoint_id: int) -> None:
    """Stop delivering to an endpoint (queued deliveries are marked failed)."""
    _run(lambda ctx: webhooks.disable(ctx, endpoint_id))
    console.print(f"Webhook endpoint {endpoint_id} disabled.")


@webhooks_app.command("replay")
def webhooks_replay(
    endpoint_id: int,
    since_event: Annotated[
        int, typer.Option("--since-event", min=0, help="re-send events with an id above this")
    ],
) -> None:
    """Queue again, for one endpoint, the events after --since-event that it subscribes to."""
    n = _run(lambda ctx: webhooks.replay(ctx, endpoint_id, since_event))
    console.print(f"{n} deliveries queued for webhook endpoint {endpoint_id}.")


def main() -> None:
    try:
        app()
    except ValidationError as e:
        if e.title != Settings.__name__:
            raise
        # A bad setting (environment or .env): name it, without a traceback or its value.
        for error in e.errors():
            name = f"SERVICEGUIDE_{'_'.join(map(str, error['loc'])).upper()}"
            message = error["msg"].removeprefix("Value error, ")
            err.print(f"error: {name}: {message}", markup=False, highlight=False, soft_wrap=True)
        raise SystemExit(2) from None


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
    done = _run(lambda ctx: privacy.anonymise_closed(ctx, retention_days=days, dry_run=dry_run))
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
    masked = _run(lambda ctx: privacy.erase_customer(ctx, customer_id, force=force))
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
    rows = _run(lambda ctx: privacy.reads(ctx, customer_id=customer, since=at, limit=limit))
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
            _when(r.at),
            str(r.customer_id),
            Text(f"{r.reader_kind} {r.reader_id} {r.reader_name}"),
            Text(r.org_name),
            r.via,
            r.client or "",
        )
    console.print(t)
