"""The ``serviceguide`` command, assembled.

This module assembles the command from its groups, in the order ``--help`` lists them; each
group's commands live in the module named after it (``orgs`` holds ``ko``, ``tl`` and
``networks``; ``catalogue`` holds ``accesses`` and ``services``; ``users`` holds ``api-users``
and ``staff``; ``audit`` the admin log). What the commands share — the consoles, running a use
case against the database, the logging of the long-running commands — is in ``common``.
"""

from __future__ import annotations

import typer
from pydantic import ValidationError

from serviceguide.cli import (
    agent,
    audit,
    catalogue,
    data,
    orgs,
    outbox,
    privacy,
    serve,
    simulators,
    users,
    webhooks,
)
from serviceguide.cli.common import err
from serviceguide.settings import Settings

app = typer.Typer(help="serviceguide: Tjänsteguiden and the XSP order API.", no_args_is_help=True)

app.command()(serve.serve)
app.command("ko-simulator")(simulators.ko_simulator)
app.command("sp-simulator")(simulators.sp_simulator)
app.command()(data.migrate)
app.command("demo-data")(data.demo_data)
app.command()(outbox.relay)

app.add_typer(orgs.ko_app, name="ko")
app.add_typer(orgs.tl_app, name="tl")
app.add_typer(orgs.networks_app, name="networks")
app.add_typer(catalogue.accesses_app, name="accesses")
app.add_typer(catalogue.services_app, name="services")
app.add_typer(users.api_users_app, name="api-users")
app.add_typer(users.staff_app, name="staff")
app.add_typer(outbox.outbox_app, name="outbox")
app.add_typer(webhooks.webhooks_app, name="webhooks")
app.add_typer(privacy.privacy_app, name="privacy")
app.add_typer(audit.audit_app, name="audit")
app.add_typer(agent.agent_app, name="agent")


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
