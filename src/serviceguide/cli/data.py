"""``serviceguide migrate`` and ``serviceguide demo-data``: the database schema, and the demo
data set with the credentials it prints."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from serviceguide.cli import output
from serviceguide.cli.common import console, run
from serviceguide.services import demo
from serviceguide.settings import get_settings
from serviceguide.storage import migrate as migrations


def migrate() -> None:
    """Bring the database schema up to date, and say which migrations that took."""
    url = get_settings().database_url
    applied = migrations.upgrade(url)
    for revision in applied:
        console.print(f"Applied {revision.id}: {revision.title}", markup=False, highlight=False)
    current = applied[-1].id if applied else migrations.current(url)
    if applied:
        console.print(f"Database schema is up to date (revision {current}).", highlight=False)
    else:
        console.print(
            f"Database schema was already up to date (revision {current}); nothing applied.",
            highlight=False,
        )


def demo_data(
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Load the demo data set unless already loaded, and print its credentials."""
    result = run(demo.load)
    if as_json:
        typer.echo(json.dumps(result.data, ensure_ascii=False, indent=2))
        return
    d = result.data
    console.print("Demo data " + ("loaded." if result.loaded_now else "was already loaded."))
    # Keys and passwords each on a line of their own (cli.output), never in a table that a
    # narrow terminal would wrap.
    console.print("\n[bold]API users (XSP order API)[/bold]")
    for ko in d["kos"]:
        output.secret(
            f"KO {ko['coid']} {ko['name']}: api_user {ko['api_user']}, api_key:", ko["api_key"]
        )
    for tl in d["tls"]:
        output.secret(
            f"TL {tl['xsp']} {tl['name']}: api_user {tl['api_user']}, api_key:", tl["api_key"]
        )
    console.print("\n[bold]Staff users (web pages)[/bold]")
    for u in d["staff"]:
        org = (
            "platform"
            if u.get("platform")
            else f"KO {u['coid']}"
            if u.get("coid")
            else f"TL {u['xsp']}"
        )
        role = f" ({u['role']})" if u.get("role") else ""
        output.secret(f"{org}: {u['username']}{role}, password:", u["password"])
    console.print(f"\n{len(d['accesses'])} accesses, {len(d['orders'])} orders.")
