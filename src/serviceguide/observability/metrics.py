"""Every metric the server exports at ``GET /metrics`` (docs/operations.md lists them), defined
here and nowhere else, with one small function per thing that is counted.

``serviceguide serve`` runs prometheus-client in multiprocess mode (:func:`use_directory`):
each worker writes its counters to memory-mapped files in a directory of its own that ``serve``
empties at start, and a scrape, answered by whichever worker gets it, adds up the files of
all of them. A worker that is restarted leaves its files behind, so totals never go backwards;
its gauges (connections in use) are dropped as soon as a scrape sees that the process is gone.
Without that directory (tests, an app served some other way) the figures are the process's
own.

prometheus-client is imported on first use, not with this module: the mode is fixed by the
environment the moment it is imported, and ``serve`` sets the environment only once it knows
where the directory is.

The request path pays for one dictionary lookup, one counter increment and one histogram
observation (observability.http); the label values are built once per route and status.
Figures read from the database (the outbox) are computed when scraped, not counted.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: prometheus-client's switch for multiprocess mode: the directory of the metric files.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Request-duration buckets (seconds): polls take milliseconds, an order with a KO's direct
#: activation a second or more.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def serve_directory(var_dir: Path, port: int) -> Path:
    """Where ``serve`` on ``port`` keeps its workers' metric files: one directory per port, so
    that two servers on one machine never add up each other's figures."""
    return var_dir / "metrics" / str(port)


def empty_directory(path: Path) -> None:
    """``path``, existing and without metric files (a previous run's figures)."""
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.db"):
        old.unlink()


def use_directory(path: Path) -> None:
    """Multiprocess mode with metric files under ``path``, emptied now (``serve``, before any
    worker starts). Every process started afterwards inherits the setting."""
    empty_directory(path)
    os.environ[MULTIPROC_ENV] = str(path)
    values = sys.modules.get("prometheus_client.values")
    if values is not None:  # imported already (by a library): make it pick the mode again
        if _metrics is not None:
            raise RuntimeError("metrics were made before multiprocess mode was set up")
        values.ValueClass = values.get_value_class()  # type: ignore[attr-defined]


def directory() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


class Metrics:
    """The metric objects themselves (made once per process, on first use)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter(
            "serviceguide_http_requests",
            "HTTP requests answered, by route template and status code",
            ["route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "serviceguide_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by route template",
            ["route"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.xsp_calls = Counter(
            "serviceguide_xsp_calls",
            "Calls of the XSP order API, by method and HTTP status",
            ["method", "status"],
            registry=r,
        )
        self.login_failures = Counter(
            "serviceguide_login_failures",
            "Wrong credentials: api (XSP api_login and ON-API Basic), staff (the staff login), "
            "staff_password (the current password on /staff/password)",
            ["kind"],
            registry=r,
        )
        self.throttled = Counter(
            "serviceguide_throttled",
            "Requests refused by a rate limit (429), by limit",
            ["limit"],
            registry=r,
        )
        self.orders_placed = Counter(
            "serviceguide_orders_placed",
            "Orders placed through the guide (one per service ordered)",
            registry=r,
        )
        self.delivery_attempts = Counter(
            "serviceguide_delivery_attempts",
            "Attempts to deliver an outbox message (mail, webhook), by kind and outcome: "
            "delivered, retrying (failed, tried again later), failed (given up)",
            ["kind", "outcome"],
            registry=r,
        )
        self.direct_activations = Counter(
            "serviceguide_direct_activations",
            "Direct activations asked of a KO while an order is placed, by outcome: "
            "activated, refused (the KO said no), unreachable (no usable answer)",
            ["outcome"],
            registry=r,
        )
        self.sp_push = Counter(
            "serviceguide_sp_push",
            "Orders pushed to a TL's ON-API, by outcome: confirmed, rejected, pending (no "
            "usable answer yet; retried from the outbox)",
            ["outcome"],
            registry=r,
        )
        self.db_connections = Gauge(
            "serviceguide_db_connections_in_use",
            "Database connections in use, summed over the server's workers, by pool "
            "(sqlalchemy: writes and most reads; direct: the polling reads)",
            ["pool"],
            multiprocess_mode="livesum",
            registry=r,
        )

    def render(self) -> bytes:
        """The metrics of this process or, in multiprocess mode, of every worker."""
        from prometheus_client import CollectorRegistry, generate_latest, multiprocess

        path = directory()
        if path is None:
            return generate_latest(self.registry)
        _forget_dead_processes(path)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=path)
        return generate_latest(registry)


def _forget_dead_processes(path: str) -> None:
    """Drop the gauges of worker processes that are gone (killed, or restarted)."""
    from prometheus_client import multiprocess

    pids: set[int] = set()
    for f in Path(path).glob("gauge_live*_*.db"):
        tail = f.stem.rsplit("_", 1)[-1]
        if tail.isdigit():
            pids.add(int(tail))
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, path)
        except PermissionError:
            pass  # alive, someone else's


_metrics: Metrics | None = None


def get() -> Metrics:
    global _metrics
    if _metrics is None:
        _metrics = Metrics()
    return _metrics


def process_stopping() -> None:
    """A worker that stops cleanly takes its gauges with it."""
    path = directory()
    if path is not None and _metrics is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid(), path)


# -- what the rest of the code counts --------------------------------------------------------


def xsp_call(method: str, status: int) -> None:
    get().xsp_calls.labels(method, str(status)).inc()


def login_failed(kind: str) -> None:
    get().login_failures.labels(kind).inc()


def throttled(limit: str) -> None:
    get().throttled.labels(limit).inc()


def orders_placed(count: int) -> None:
    get().orders_placed.inc(count)


def delivery_attempt(kind: str, outcome: str) -> None:
    get().delivery_attempts.labels(kind, outcome).inc()


def direct_activation(outcome: str) -> None:
    get().direct_activations.labels(outcome).inc()


def sp_push(outcome: str) -> None:
    """An ON-API order push's outcome: ``confirmed``, ``rejected`` or ``pending``."""
    get().sp_push.labels(outcome).inc()


def connections_in_use(pools: dict[str, int]) -> None:
    gauge = get().db_connections
    for pool, n in pools.items():
        gauge.labels(pool).set(n)


# -- figures computed when scraped ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    """One gauge value computed at scrape time (e.g. read from the database)."""

    name: str
    help: str
    labels: dict[str, str]
    value: float


def render_samples(samples: Iterable[Sample]) -> bytes:
    """Gauges in the Prometheus text format, one family per name."""
    from prometheus_client.core import GaugeMetricFamily
    from prometheus_client.exposition import generate_latest

    families: dict[str, Any] = {}
    for s in samples:
        family = families.get(s.name)
        if family is None:
            family = families[s.name] = GaugeMetricFamily(s.name, s.help, labels=list(s.labels))
        family.add_metric(list(s.labels.values()), s.value)

    class _Collector:
        def collect(self) -> Iterable[Any]:
            return families.values()

    return generate_latest(_Collector())
