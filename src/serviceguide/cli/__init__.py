"""The ``serviceguide`` command: ``main`` is its entry point, ``app`` the Typer application.

Both are assembled in ``serviceguide.cli.command`` and imported from there only when asked for.
Importing this package costs nothing: ``serve --workers N`` starts each worker as a new Python
process that imports the ``serviceguide`` script, and so this package, before it answers its
supervisor's health checks (uvicorn kills a worker that has not answered within 5 s); a worker
needs the application, not the command's groups and the services behind them.
"""

from __future__ import annotations

from typing import Any


def main() -> None:
    from serviceguide.cli.command import main as run

    run()


def __getattr__(name: str) -> Any:
    if name == "app":
        from serviceguide.cli.command import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
