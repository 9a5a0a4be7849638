"""``serviceguide webhooks``: the TLs' and KOs' webhook endpoints — registering them, their
signing secrets (printed once), turning them off, and sending past events again."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from serviceguide.cli import output
from serviceguide.cli.common import console, org_of, run, when
from serviceguide.services import webhooks
from serviceguide.services.context import AppContext

webhooks_app = typer.Typer(help="Webhook endpoints of TLs and KOs.", no_args_is_help=True)


def _show_webhook_secret(what: str, secret: webhooks.EndpointSecret) -> None:
    output.secret(
        f"Webhook endpoint {secret.endpoint_id} {what}. "
        "Its signing secret is shown once, keep it now:",
        secret.secret,
    )


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
        org = await org_of(ctx, coid, xsp)
        return await webhooks.register(ctx, org, url, events)

    _show_webhook_secret("registered", run(go))


@webhooks_app.command("list")
def webhooks_list(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON array")] = False,
) -> None:
    """Every webhook endpoint (without secrets)."""
    found = run(webhooks.list_endpoints)
    if as_json:
        output.json_list(found)
        return
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
            when(e.created_at),
        )
    console.print(t)


@webhooks_app.command("rotate")
def webhooks_rotate(endpoint_id: int) -> None:
    """Give an endpoint a new signing secret; prints it once."""
    _show_webhook_secret("has a new secret", run(lambda ctx: webhooks.rotate(ctx, endpoint_id)))


@webhooks_app.command("disable")
def webhooks_disable(endpoint_id: int) -> None:
    """Stop delivering to an endpoint (queued deliveries are marked failed)."""
    run(lambda ctx: webhooks.disable(ctx, endpoint_id))
    console.print(f"Webhook endpoint {endpoint_id} disabled.")


@webhooks_app.command("replay")
def webhooks_replay(
    endpoint_id: int,
    since_event: Annotated[
        int, typer.Option("--since-event", min=0, help="re-send events with an id above this")
    ],
) -> None:
    """Queue again, for one endpoint, the events after --since-event that it subscribes to."""
    n = run(lambda ctx: webhooks.replay(ctx, endpoint_id, since_event))
    console.print(f"{n} deliveries queued for webhook endpoint {endpoint_id}.")
