"""``serviceguide relay`` and ``serviceguide outbox``: delivering the queued order e-mails and
webhooks, and looking into the queue — what is waiting, what failed and why, queueing it again."""

from __future__ import annotations

import asyncio
import logging.config
import signal
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from serviceguide.cli import output
from serviceguide.cli.common import console, err, log_config, run, when
from serviceguide.domain.outbox import OutboxKind, OutboxState
from serviceguide.services import outbox
from serviceguide.services.context import AppContext

outbox_app = typer.Typer(help="Queued mails and webhook deliveries.", no_args_is_help=True)


def relay(
    once: Annotated[
        bool, typer.Option("--once", help="deliver what is due now, then exit")
    ] = False,
) -> None:
    """Deliver queued order e-mails and webhooks (as `serve` does in the background).

    Runs until stopped (SIGTERM/SIGINT); any number may run against one database.
    """
    from serviceguide.notify.relay import Relay, Tally

    logging.config.dictConfig(log_config())

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

    tally = run(go, service=True)
    err.print(f"Outbox relay: {tally}.", markup=False, highlight=False)


@outbox_app.command("list")
def outbox_list(
    state: Annotated[OutboxState | None, typer.Option(help="only messages in this state")] = None,
    kind: Annotated[OutboxKind | None, typer.Option(help="only messages of this kind")] = None,
    order: Annotated[int | None, typer.Option(help="only messages about this order")] = None,
    limit: Annotated[int, typer.Option(min=1, help="newest N messages")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON array")] = False,
) -> None:
    """Queued, delivered and failed messages, newest first, with attempts and last error."""
    entries = run(
        lambda ctx: outbox.list_entries(ctx, state=state, kind=kind, order_id=order, limit=limit)
    )
    if as_json:
        output.json_list(entries)
        return
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
            when(e.next_or_done),
            Text(e.last_error or ""),
        )
    console.print(t)


@outbox_app.command("attempts")
def outbox_attempts(outbox_id: int) -> None:
    """The delivery log of one message: every attempt, its outcome and error."""
    found = run(lambda ctx: outbox.attempts(ctx, outbox_id))
    t = Table(title=f"Attempts of outbox message {outbox_id}")
    for col in ("at", "outcome", "ms", "relay", "error"):
        t.add_column(col, overflow="fold")
    for a in found:
        t.add_row(
            when(a.at),
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
        n = run(outbox.retry_all_failed)
        console.print(f"{n} failed messages queued again.")
        return
    assert outbox_id is not None
    run(lambda ctx: outbox.retry(ctx, outbox_id))
    console.print(f"Outbox message {outbox_id} queued again.")
