"""``serviceguide migrate`` and ``serviceguide demo-data``: the database schema, and the demo
data set with the credentials it prints."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from serviceguide.cli.common import console, run
from serviceguide.services import demo
from serviceguide.settings import get_settings
from serviceguide.storage import migrate as migrations


def migrate() -> None:
    """Bring the database schema up to date."""
    url = get_settings().database_url
    migrations.upgrade(url)
    console.print("Database schema is up to date.")


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
