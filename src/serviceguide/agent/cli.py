"""``serviceguide agent``: the service provider's automation (docs/agent.md).

Exit codes: 0 stopped cleanly (or ``--once`` done), 1 fatal runtime error, 2 configuration error.
"""

from __future__ import annotations

import json
import logging
import signal
import sqlite3
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from serviceguide.agent.config import AgentConfig, ConfigError, load_config
from serviceguide.agent.state import AgentState, StateLocked

agent_app = typer.Typer(
    help="The service provider's automation: orders from the guide to the KO's ON-API.",
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True)
STANDARD = set(vars(logging.makeLogRecord({})))


def _log_time(created: float, sep: str) -> str:
    """The machine's local time with its offset from UTC, to the millisecond: the agent runs on
    the service provider's machine, and a log line should say which zone it speaks of."""
    return datetime.fromtimestamp(created).astimezone().isoformat(sep=sep, timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": _log_time(record.created, "T"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        doc.update({k: v for k, v in vars(record).items() if k not in STANDARD})
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


class PlainFormatter(logging.Formatter):
    """``TIME LEVEL LOGGER MESSAGE``, the time with its offset from UTC."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _log_time(record.created, " ")


def _setup_logging(as_json: bool, verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if as_json
        else PlainFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    logger = logging.getLogger("serviceguide.agent")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False


def _config(path: Path) -> AgentConfig:
    try:
        return load_config(path)
    except ConfigError as e:
        err.print(f"[red]configuration error:[/red] {e}", highlight=False)
        raise typer.Exit(2) from None


ConfigOpt = Annotated[Path, typer.Option("--config", help="the agent's TOML configuration")]


@agent_app.command("run")
def run(
    config: ConfigOpt,
    once: Annotated[bool, typer.Option("--once", help="one pass, then exit")] = False,
    interval: Annotated[float, typer.Option(min=0.05, help="seconds between passes")] = 5.0,
    log_json: Annotated[bool, typer.Option("--log-json", help="JSON lines on stderr")] = False,
    stale_after: Annotated[
        float,
        typer.Option(
            min=0.0, help="seconds an ON-API order may stay unfinished before a follow-up"
        ),
    ] = 86400.0,
    quiet: Annotated[bool, typer.Option("--quiet", help="no status table")] = False,
    verbose: Annotated[bool, typer.Option("--verbose")] = False,
) -> None:
    """Poll new orders, import them, activate them through the KO's ON-API, keep statuses.

    Runs until SIGTERM/SIGINT (it finishes the current step first). Exit code 0: stopped or
    --once done; 1: fatal error (e.g. the XSP API refuses the credentials); 2: bad configuration.
    """
    from serviceguide.agent.runner import Agent, Fatal

    cfg = _config(config)
    _setup_logging(log_json, verbose)
    log = logging.getLogger("serviceguide.agent")
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal %s: stopping after the current step", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        agent = Agent(cfg, stop=stop, stale_after=stale_after)
        agent.state.lock()
    except (StateLocked, OSError, sqlite3.Error) as e:
        log.error("cannot start: %s", e)
        raise typer.Exit(1) from None
    server = None
    if cfg.sp is not None and not once:
        from serviceguide.agent.spserver import start_sp

        try:
            server = start_sp(agent)
        except OSError as e:
            log.error("cannot serve ON-API on %s:%s: %s", cfg.sp.host, cfg.sp.port, e)
            agent.close()
            raise typer.Exit(1) from None
        log.info(
            "serving ON-API 2.6 order and activationnotice at %s%s/",
            server.url,
            cfg.sp.base_path,
            extra={"url": f"{server.url}{cfg.sp.base_path}"},
        )
    try:
        passes = 0
        while not stop.is_set():
            passes += 1
            report = agent.run_pass()
            if not quiet:
                _print_pass(passes, report)
            log.info(
                "pass %d: %d new orders, %d changed, %d transient failures",
                passes,
                report.polled,
                len(report.outcomes),
                len(report.transient),
                extra={"pass": passes, "counts": report.counts},
            )
            if once:
                break
            stop.wait(interval)
    except Fatal as e:
        log.error("fatal: %s", e)
        raise typer.Exit(1) from None
    except Exception:
        log.exception("fatal: unexpected error")
        raise typer.Exit(1) from None
    finally:
        if server is not None:
            server.stop()
        agent.close()


def _print_pass(n: int, report: Any) -> None:
    t = Table(title=f"Pass {n}: {report.polled} new orders", title_justify="left")
    for col in ("order", "from", "to", "note"):
        t.add_column(col, overflow="fold")
    for o in report.outcomes:
        t.add_row(str(o.order_id), o.before, o.after, Text(o.note))
    if report.outcomes:
        console.print(t)
    totals = ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items())) or "no orders"
    console.print(f"Pass {n}: {totals}", highlight=False)
    for problem in report.transient:
        console.print(Text(f"  retried next pass: {problem}", style="yellow"))


@agent_app.command("followups")
def followups(
    config: ConfigOpt,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON array")] = False,
) -> None:
    """Orders the agent flagged for manual follow-up, with the reason."""
    from serviceguide.agent.runner import snapshot

    cfg = _config(config)
    if not cfg.state_path.exists():
        rows = []
    else:
        state = AgentState(cfg.state_path)
        try:
            rows = state.followups()
        finally:
            state.close()
    if as_json:
        typer.echo(json.dumps([snapshot(r) for r in rows], ensure_ascii=False))
        return
    t = Table(title=f"Orders to follow up ({len(rows)})", title_justify="left")
    for col in ("order", "state", "network", "service", "access", "since", "reason"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(
            str(r.id), r.step.value, r.coid, r.service_uid, r.socket, r.updated, Text(r.reason)
        )
    console.print(t)


@agent_app.command("notices")
def notices(
    config: ConfigOpt,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON array")] = False,
) -> None:
    """Activation notices the portal has sent ([sp]): orders the KO activated directly."""
    cfg = _config(config)
    if not cfg.state_path.exists():
        rows: list[dict[str, Any]] = []
    else:
        state = AgentState(cfg.state_path)
        try:
            rows = state.notices()
        finally:
            state.close()
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    t = Table(title=f"Activation notices ({len(rows)})", title_justify="left")
    for col in ("received", "order", "KO order", "access", "offering", "CO product", "repeats"):
        t.add_column(col, overflow="fold")
    for r in rows:
        product = r["products"][0]
        co_product = product.get("coProduct")
        t.add_row(
            r["received"],
            "" if r["order_id"] is None else str(r["order_id"]),
            r["co_order_id"],
            r["co_access_id"],
            f"{product.get('productId')}/{product.get('offeringId')}",
            ", ".join(co_product) if isinstance(co_product, list) else str(co_product),
            str(r["repeats"]),
        )
    console.print(t)


@agent_app.command("hash-password")
def hash_password() -> None:
    """Read a password on stdin (or at a prompt) and print its argon2 hash, for
    [sp] password_hash: the portal's password need not be kept in the file."""
    from argon2 import PasswordHasher

    if sys.stdin.isatty():
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        err.print("[red]an empty password[/red]")
        raise typer.Exit(2)
    typer.echo(PasswordHasher().hash(password))
