"""Processes and measurements for the HTTP benchmark: the server as users run it, wrk, memory.

Everything listens on 127.0.0.1 and is stopped when its ``with`` block ends.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

HERE = Path(__file__).resolve().parent
LUA = HERE / "wrk.lua"
BIN = Path(sys.executable).parent / "serviceguide"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        return [int(p) for p in text.split()]
    except (FileNotFoundError, ProcessLookupError):
        return []


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


@dataclass
class Memory:
    """Largest resident set seen per worker process, overall and per labelled phase."""

    label: str = ""
    peak: dict[int, float] = field(default_factory=dict)
    by_label: dict[str, float] = field(default_factory=dict)

    def record(self, pid: int, mb: float) -> None:
        self.peak[pid] = max(self.peak.get(pid, 0.0), mb)
        if self.label:
            self.by_label[self.label] = max(self.by_label.get(self.label, 0.0), mb)


class Process:
    """A ``serviceguide`` subcommand in its own process group, its output in a log file."""

    def __init__(self, args: Sequence[str], env: dict[str, str], log: Path) -> None:
        self.args = [str(BIN), *args]
        self.env = {**os.environ, **env}
        self.log_path = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.args,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


class Server(Process):
    """``serviceguide serve --workers N`` on a free port; samples its workers' memory."""

    def __init__(self, env: dict[str, str], log: Path, *, workers: int = 2) -> None:
        self.port = free_port()
        self.workers = workers
        super().__init__(
            ["serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers)],
            env,
            log,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self.memory = Memory()
        self._sampling = threading.Event()

    def __enter__(self) -> Server:
        self.start()
        deadline = time.monotonic() + 90
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: see {self.log_path}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: see {self.log_path}")
            time.sleep(0.2)
        self._sampling.set()
        threading.Thread(target=self._sample, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._sampling.clear()
        self.stop()

    def settle(self, timeout: float = 180) -> None:
        """Wait until the workers are idle again: what the last load left queued (argon2
        checks on threads, placements) must not be billed to the next scenario. Idle: under
        5 % of a core over half a second, and ``/healthz`` answering."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            before = sum(cpu_seconds(p) for p in self.worker_pids())
            time.sleep(0.5)
            if sum(cpu_seconds(p) for p in self.worker_pids()) - before < 0.025:
                break
        httpx.get(f"{self.url}/healthz", timeout=30).raise_for_status()

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        # uvicorn with --workers: a supervisor whose children are the workers (and, with 1
        # worker, the supervisor serves itself).
        kids = [p for p in _children(self.proc.pid) if rss_mb(p) > 0]
        return kids or [self.proc.pid]

    def _sample(self) -> None:
        while self._sampling.is_set():
            for pid in self.worker_pids():
                self.memory.record(pid, rss_mb(pid))
            time.sleep(0.25)


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not installed: apt-get install -y wrk (make bench does this)")
    return found


@dataclass(frozen=True)
class Load:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # socket errors, timeouts and non-2xx/3xx answers


def wrk(
    url: str, requests_file: Path, *, connections: int, seconds: float, threads: int = 2
) -> Load:
    """Run wrk with the prepared requests; its Lua ``done`` prints one JSON line."""
    out = subprocess.run(
        [
            ensure_wrk(),
            f"-t{min(threads, connections)}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA),
            url,
            "--",
            str(requests_file),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(ln for ln in reversed(out.stdout.splitlines()) if ln.startswith("{"))
    d = json.loads(line)
    secs = d["duration_us"] / 1e6
    return Load(
        requests=d["requests"],
        seconds=secs,
        rps=d["requests"] / secs,
        p50_ms=d["p50_us"] / 1000,
        p90_ms=d["p90_us"] / 1000,
        p99_ms=d["p99_us"] / 1000,
        max_ms=d["max_us"] / 1000,
        errors=d["connect"] + d["read"] + d["write"] + d["status"] + d["timeout"],
    )


def write_requests(path: Path, lines: Sequence[tuple[str, str, str, str, str]]) -> Path:
    """The request file wrk.lua reads: method, path, body, content type, authorization."""
    with path.open("w", encoding="utf-8") as f:
        for fields in lines:
            assert not any("\t" in x or "\n" in x for x in fields), fields
            f.write("\t".join(fields) + "\n")
    return path


class Timer:
    def __enter__(self) -> Timer:
        self.t0 = time.perf_counter()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.seconds = time.perf_counter() - self.t0
