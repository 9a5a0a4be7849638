"""/metrics of a ``serve --workers 2`` server adds up both workers' traffic, whichever worker
answers the scrape, and keeps it when a worker is killed and replaced (prometheus-client's
multiprocess mode, observability.metrics)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import Deployment
from tests.faults.test_database_faults import _children

pytestmark = pytest.mark.e2e

ROUTE = "/api/guide/addresses"
REQUESTS = 40


def _served(base_url: str) -> float:
    """The request count of ROUTE with status 200, as one scrape reports it."""
    r = httpx.get(f"{base_url}/metrics", timeout=10)
    assert r.status_code == 200, r.text
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            if s.name == "serviceguide_http_requests_total" and s.labels == {
                "route": ROUTE,
                "status": "200",
            }:
                return s.value
    return 0.0


def _cmdline(pid: int) -> bytes | None:
    """The process's command line; None once it has exited (a worker being replaced may go
    between listing the children and reading this)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return None


def _workers(server_pid: int) -> list[int]:
    """The running worker processes (not multiprocessing's resource tracker)."""
    return [
        pid
        for pid in _children(server_pid)
        if (line := _cmdline(pid)) is not None and b"resource_tracker" not in line
    ]


def _pids(directory: Path, kind: str) -> set[int]:
    return {int(f.stem.rsplit("_", 1)[1]) for f in directory.glob(f"{kind}_*.db")}


def test_the_figures_add_up_both_workers_and_survive_a_worker_restart(
    deployment: Deployment,
) -> None:
    with deployment.serving(2) as (server,):
        # serve's own directory for its workers' files: ./var/metrics/PORT
        directory = deployment.workdir / "var" / "metrics" / str(server.port)
        for _ in range(REQUESTS):  # a new connection each: the kernel spreads them
            with httpx.Client(base_url=server.base_url, timeout=10) as http:
                assert http.get(ROUTE, params={"q": "Demogatan"}).status_code == 200
        workers = _workers(server.proc.pid)
        assert len(workers) == 2
        assert _pids(directory, "counter") == set(workers)  # both served some
        scrapes = [_served(server.base_url) for _ in range(6)]
        assert scrapes == [REQUESTS] * 6  # whichever worker answered
        time.sleep(1.5)  # each worker has sampled its connections (a live gauge)
        assert set(workers) <= _pids(directory, "gauge_livesum")

        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            now = _workers(server.proc.pid)
            if len(now) == 2 and workers[0] not in now:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the killed worker was not replaced")
        # The dead worker's count is still there; its gauges are dropped at the next scrape.
        assert all(_served(server.base_url) == REQUESTS for _ in range(4))
        assert workers[0] not in _pids(directory, "gauge_livesum")
