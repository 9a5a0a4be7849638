"""End-to-end fixtures: the real ``serviceguide`` command, run as separate processes.

Every deployment gets a fresh database of its backend (an SQLite file in a temporary directory,
or a new PostgreSQL database that is dropped afterwards), is set up with ``serviceguide migrate``
and ``serviceguide demo-data --json``, and is served by one or more ``serviceguide serve``
processes on free ports of 127.0.0.1. Servers are always stopped at the end (SIGTERM, then SIGKILL
of their process group after a timeout).

The two set-up commands run for the first deployment of each backend in a test process; the
database they leave is kept as a template (a file copy, or ``CREATE DATABASE … TEMPLATE``), and
later deployments of that backend start as copies of it, with the JSON the command printed
(``with_demo_data``). The commands' result is the same each time, and three process starts per
deployment were a fifth of the process tests' set-up. A module that tests those commands
themselves sets ``SET_UP_BY_COMMANDS = True`` and gets them run for its own deployment.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import create_pg_database, drop_pg_database

SERVICEGUIDE = Path(sys.executable).parent / "serviceguide"
SECRET_KEY = "e2e-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
HOST = "127.0.0.1"
#: How long a server may take to answer /healthz: seconds on a loaded machine (a worker imports
#: the whole application); a server that fails exits, and that is noticed at once.
STARTUP_DEADLINE = 120.0
STOP_TIMEOUT = 10.0
COMMAND_TIMEOUT = 120.0
BACKENDS = ["sqlite", "postgresql"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """One ``serviceguide serve`` process (with its workers, if any)."""

    proc: subprocess.Popen[bytes]
    port: int
    workers: int
    stderr_path: Path
    _files: list[IO[bytes]] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        """SIGTERM, wait; SIGKILL the process group if it does not end in time."""
        try:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    with suppress(ProcessLookupError):
                        os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(STOP_TIMEOUT)
            # Workers the parent may have left behind share its process group.
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        finally:
            for f in self._files:
                f.close()
            self._files.clear()


@dataclass
class Deployment:
    """A database plus the environment and working directory the commands run with."""

    backend: str
    database_url: str
    workdir: Path
    env: dict[str, str]
    demo: dict[str, Any] = field(default_factory=dict)
    _serial: int = 0

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``serviceguide ARGS``; fail the test with its output if it does not succeed."""
        proc = subprocess.run(
            [str(SERVICEGUIDE), *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        if proc.returncode != 0:
            pytest.fail(
                f"`serviceguide {' '.join(args)}` exited with {proc.returncode}\n"
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
            )
        return proc

    def demo_data_json(self, *, onapi: bool = False) -> dict[str, Any]:
        """The demo data (loaded if it is not yet). Unless ``onapi``, the demo TL that takes its
        orders over ON-API is set back to e-mail: these tests run no SP simulator, and they
        count on every order's e-mail."""
        out = self.run("demo-data", "--json").stdout
        try:
            data = json.loads(out)
        except json.JSONDecodeError as e:
            pytest.fail(
                f"`serviceguide demo-data --json` did not print one JSON object: {e}\n{out}"
            )
        assert isinstance(data, dict), data
        if not onapi:
            for tl in data["tls"]:
                if tl["delivery"] != "mail":
                    self.run("tl", "set-onapi", str(tl["xsp"]), "none")
                    tl.update(onapi_url=None, delivery="mail")
        return data

    def _spawn(self, workers: int, env: dict[str, str]) -> Server:
        self._serial += 1
        port = free_port()
        stem = f"server-{self._serial}-{port}"
        err = open(self.workdir / f"{stem}.stderr", "wb")  # noqa: SIM115 - closed by stop()
        out = open(self.workdir / f"{stem}.stdout", "wb")  # noqa: SIM115 - closed by stop()
        args = [str(SERVICEGUIDE), "serve", "--host", HOST, "--port", str(port)]
        if workers != 1:
            args += ["--workers", str(workers)]
        proc = subprocess.Popen(
            args,
            cwd=self.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own process group, so workers can be stopped too
        )
        return Server(proc, port, workers, self.workdir / f"{stem}.stderr", [err, out])

    @contextmanager
    def serving(self, *workers: int, **extra_env: str) -> Iterator[list[Server]]:
        """Start one server per entry of ``workers`` (all at once), wait until each answers
        ``GET /healthz``, yield them, and stop them all at the end whatever happens."""
        env = {**self.env, **extra_env}
        with ExitStack() as stack:
            servers: list[Server] = []
            for n in workers or (1,):
                s = self._spawn(n, env)
                stack.callback(s.stop)
                servers.append(s)
            for i, s in enumerate(servers):
                for attempt in range(3):
                    if _wait_healthy(s):
                        break
                    s.stop()
                    if attempt < 2 and "address already in use" in s.stderr().lower():
                        s = servers[i] = self._spawn(s.workers, env)  # lost a port race
                        stack.callback(s.stop)
                        continue
                    pytest.fail(
                        f"`serviceguide serve` on port {s.port} did not start within "
                        f"{STARTUP_DEADLINE:.0f} s (exit code {s.proc.returncode}); "
                        f"stderr:\n{s.stderr()}"
                    )
            yield servers


def _wait_healthy(server: Server) -> bool:
    deadline = time.monotonic() + STARTUP_DEADLINE
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if not server.alive():
                return False
            with suppress(httpx.HTTPError):
                if http.get(f"{server.base_url}/healthz").status_code == 200:
                    return True
            time.sleep(0.05)
    return False


def _command_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVICEGUIDE_")}
    env.update(
        SERVICEGUIDE_DATABASE_URL=database_url,
        SERVICEGUIDE_SECRET_KEY=SECRET_KEY,
        SERVICEGUIDE_PASSWORD_HASHING="fast",
        # The demo TL's products are read only where a test asks for it: the demo's ON-API
        # URL (the SP simulator's usual port) may be anything on a machine running tests.
        SERVICEGUIDE_PRODUCTS_SYNC_SECONDS="0",
        PYTHONUNBUFFERED="1",
        PYTHONIOENCODING="utf-8",
    )
    return env


@contextmanager
def fresh_deployment(
    backend: str, workdir: Path, request: pytest.FixtureRequest
) -> Iterator[Deployment]:
    """An empty database of ``backend`` (not yet migrated); dropped afterwards."""
    workdir.mkdir(parents=True, exist_ok=True)
    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'serviceguide.sqlite3'}"
        yield Deployment(backend, url, workdir, _command_env(url))
        return
    admin = request.getfixturevalue("pg_server")  # skips or fails like every PostgreSQL test
    url = create_pg_database(admin)
    try:
        yield Deployment(backend, url, workdir, _command_env(url))
    finally:
        drop_pg_database(admin, url)


@dataclass(frozen=True)
class _Template:
    """A deployment's database right after ``migrate`` and ``demo-data --json``."""

    location: str  # SQLite: the file; PostgreSQL: the template database's URL
    demo: dict[str, Any]
    admin_url: str | None  # PostgreSQL: the server's admin URL, to copy and drop it


@pytest.fixture(scope="session")
def _demo_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, _Template]]:
    """backend → the template later deployments are copied from (made by ``with_demo_data``,
    per test process); PostgreSQL's is dropped at the end of the session."""
    made: dict[str, _Template] = {}
    yield made
    for t in made.values():
        if t.admin_url is not None:
            drop_pg_database(t.admin_url, t.location)


def _sqlite_file(url: str) -> Path:
    return Path(str(make_url(url).database))


def with_demo_data(d: Deployment, request: pytest.FixtureRequest) -> None:
    """Migrate ``d``'s (empty) database and load the demo data into it, setting ``d.demo``:
    by the commands for the first deployment of its backend in this test process (or in a
    module with ``SET_UP_BY_COMMANDS``), as a copy of that first one's database otherwise."""
    templates: dict[str, _Template] = request.getfixturevalue("_demo_templates")
    by_commands = getattr(request.module, "SET_UP_BY_COMMANDS", False)
    found = templates.get(d.backend)
    if found is None or by_commands:
        d.run("migrate")
        d.demo = d.demo_data_json()
        if found is None:
            templates[d.backend] = _template_of(d, request)
        return
    if d.backend == "sqlite":
        shutil.copyfile(found.location, _sqlite_file(d.database_url))
    else:
        assert found.admin_url is not None
        drop_pg_database(found.admin_url, d.database_url)
        create_pg_database(
            found.admin_url,
            name=make_url(d.database_url).database,
            template=make_url(found.location).database,
        )
    d.demo = copy.deepcopy(found.demo)


def _template_of(d: Deployment, request: pytest.FixtureRequest) -> _Template:
    demo = copy.deepcopy(d.demo)
    if d.backend == "sqlite":
        source = _sqlite_file(d.database_url)
        assert not Path(f"{source}-wal").exists(), "the commands left a write-ahead log behind"
        kept = request.getfixturevalue("tmp_path_factory").mktemp("demo-template") / source.name
        shutil.copyfile(source, kept)
        return _Template(str(kept), demo, None)
    admin = request.getfixturevalue("pg_server")
    source = make_url(d.database_url).database
    copy_url = create_pg_database(admin, name=f"sg_template_{source}", template=source)
    return _Template(copy_url, demo, admin)


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def deployment(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """A migrated database holding the demo data, shared by a module's tests."""
    with fresh_deployment(backend, tmp_path_factory.mktemp(f"e2e-{backend}"), request) as d:
        with_demo_data(d, request)
        yield d


@pytest.fixture(scope="module")
def servers(deployment: Deployment) -> Iterator[list[Server]]:
    """Two server processes on the deployment's database: the first with ``--workers 2``."""
    with deployment.serving(2, 1) as running:
        yield running


@pytest.fixture
def new_deployment(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], Deployment]]:
    """A factory of further migrated deployments with the demo data, for tests that must not
    share state (e.g. login throttling, which is also counted per client address)."""
    with ExitStack() as stack:

        def make() -> Deployment:
            workdir = tmp_path_factory.mktemp(f"e2e-{backend}-own")
            d = stack.enter_context(fresh_deployment(backend, workdir, request))
            with_demo_data(d, request)
            return d

        yield make
