"""The ``serviceguide`` command, for tests about what a command does: run in the test process
(through Click's CliRunner isolation, the way the ``serviceguide`` script runs it) or as a
separate process. Both answer with a ``subprocess.CompletedProcess`` — exit code, stdout and
stderr as text with universal newlines — so a test reads the same whichever it uses.

In the test process a command costs milliseconds instead of the second a new Python process
spends importing the application; a test about the process itself (signals, exit codes as the
shell sees them, the script's start-up) uses :func:`run_process`, and every command group keeps
at least one such test. In the test process the command runs in a thread of its own (it runs
its own event loop), with the environment the separate process would have: the test
process's, without its ``SERVICEGUIDE_*`` settings, plus the ones given. The environment,
``sys.argv``, the working directory and the standard streams belong to the whole process, so
commands run in the test process one at a time.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import traceback
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from click.testing import CliRunner

SERVICEGUIDE = Path(sys.executable).parent / "serviceguide"
#: Wide enough that no table or message the tests read is wrapped.
COLUMNS = "250"

_one_at_a_time = threading.Lock()


def command_env(database_url: str, **env: str) -> dict[str, str]:
    """The environment of a command against ``database_url``: the test process's, without its
    ``SERVICEGUIDE_*`` variables, a terminal COLUMNS wide, and ``env`` over that."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("SERVICEGUIDE_")}
    full.update({"SERVICEGUIDE_DATABASE_URL": database_url, "COLUMNS": COLUMNS, **env})
    return full


def _text(data: bytes) -> str:
    """Decoded as ``subprocess.run(text=True)`` decodes: UTF-8, universal newlines."""
    return data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")


def invoke(args: list[str], env: Mapping[str, str], cwd: Path | None = None) -> (
    subprocess.CompletedProcess[str]
):  # fmt: skip
    """Run ``serviceguide ARGS`` in this process, as the ``serviceguide`` script would (its
    ``main``: the same error handling and exit codes), with exactly ``env`` as environment and
    in ``cwd``. It runs in a thread of its own, so that it may be called from a coroutine too
    (the command runs an event loop of its own)."""
    with ThreadPoolExecutor(1, thread_name_prefix="serviceguide-command") as pool:
        return pool.submit(_invoke, args, env, cwd).result()


def _invoke(args: list[str], env: Mapping[str, str], cwd: Path | None) -> (
    subprocess.CompletedProcess[str]
):  # fmt: skip
    from serviceguide import cli
    from serviceguide.settings import get_settings

    overrides: dict[str, str | None] = {k: None for k in os.environ if k not in env}
    overrides.update(env)
    with _one_at_a_time:
        old_argv, old_cwd = sys.argv, os.getcwd()
        with CliRunner().isolation(env=overrides) as (out, err, _):
            sys.argv = [str(SERVICEGUIDE), *args]
            if cwd is not None:
                os.chdir(cwd)
            get_settings.cache_clear()  # a process reads its settings once: this one, afresh
            size_consoles(env.get("COLUMNS"))
            try:
                cli.main()
                code = 0
            except SystemExit as e:
                if e.code is None or isinstance(e.code, int):
                    code = e.code or 0
                else:  # sys.exit("message"): printed, exit code 1, as Python does
                    print(e.code, file=sys.stderr)
                    code = 1
            except Exception:  # uncaught: the traceback on stderr and exit code 1
                traceback.print_exc()
                code = 1
            finally:
                get_settings.cache_clear()
                sys.argv = old_argv
                os.chdir(old_cwd)
                sys.stdout.flush()
                sys.stderr.flush()
            stdout, stderr = _text(out.getvalue()), _text(err.getvalue())
    return subprocess.CompletedProcess([str(SERVICEGUIDE), *args], code, stdout, stderr)


def size_consoles(columns: str | None) -> None:
    """The command's Rich consoles as a new process would create them: as wide as COLUMNS
    says, or measured when it is used (another test may have fixed a console's width)."""
    from rich.console import Console

    for name, module in list(sys.modules.items()):
        if name.startswith("serviceguide."):
            for value in list(vars(module).values()):
                if isinstance(value, Console):
                    value._width = int(columns) if columns and columns.isdigit() else None


def run_process(args: list[str], env: Mapping[str, str], cwd: Path | None = None) -> (
    subprocess.CompletedProcess[str]
):  # fmt: skip
    """Run ``serviceguide ARGS`` as a separate process."""
    return subprocess.run(
        [str(SERVICEGUIDE), *args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


async def command_in_process(
    database_url: str, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """``serviceguide ARGS`` against ``database_url``, in this process."""
    return await asyncio.to_thread(invoke, list(args), command_env(database_url, **env))


async def command_process(
    database_url: str, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """``serviceguide ARGS`` against ``database_url``, as a separate process."""
    return await asyncio.to_thread(run_process, list(args), command_env(database_url, **env))
