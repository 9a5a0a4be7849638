"""Readiness follows the database: a server whose PostgreSQL is stopped answers /readyz with
503 (and /metrics says the database is down) while /healthz stays 200, and both come back by
themselves once the database is started again. A private cluster, as in
test_database_faults.py, so that stopping it disturbs nothing else."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Deployment, _command_env
from tests.faults.test_database_faults import PrivatePostgres, private_postgres  # noqa: F401

pytestmark = pytest.mark.faults

DEADLINE = 30.0


def _wait_for(http: httpx.Client, path: str, status: int) -> httpx.Response:
    deadline = time.monotonic() + DEADLINE
    while True:
        r = http.get(path)
        if r.status_code == status or time.monotonic() > deadline:
            return r
        time.sleep(0.2)


def test_readiness_is_503_while_the_database_is_stopped_and_200_again_after(
    private_postgres: PrivatePostgres,  # noqa: F811
    tmp_path: Path,
) -> None:
    pg = private_postgres
    d = Deployment("postgresql", pg.url, tmp_path, _command_env(pg.url))
    d.run("migrate")
    with d.serving(2) as (server,), httpx.Client(base_url=server.base_url, timeout=10) as http:
        assert http.get("/readyz").status_code == 200
        pg.stop()
        try:
            started = time.monotonic()
            down = _wait_for(http, "/readyz", 503)
            assert down.status_code == 503, down.text
            assert time.monotonic() - started < 5  # the probe waits a second at most
            assert down.json() == {"status": "unavailable", "database": "not answering"}
            assert down.headers["retry-after"]
            assert http.get("/healthz").status_code == 200  # alive, just not ready
            assert "serviceguide_database_up 0.0" in http.get("/metrics").text
        finally:
            pg.start()
        up = _wait_for(http, "/readyz", 200)
        assert up.status_code == 200, up.text
        assert "serviceguide_database_up 1.0" in http.get("/metrics").text
    assert "Traceback" not in server.stderr()
