"""PostgreSQL stopped and started again under load.

The test runs its own PostgreSQL cluster (initdb into a temporary directory, on a free port of
127.0.0.1) so that it can stop it without disturbing anything else, and stops it the hard way
(``pg_ctl stop -m immediate``: every backend killed, recovery from the WAL on the next start).
A server with two workers and their relays carries guide orders and status changes
(tests/faults/load.py) throughout. While the database is down, every answer must be a clean
503 — the documented envelope or JSON body with ``Retry-After``, no stack trace, never another
5xx; when it is back, the server must recover by itself (no restart) and everything that was
acknowledged — before, during or after the outage — must be stored, with every order's mail
delivered.

The second test does not stop the database but freezes it (SIGSTOP to every PostgreSQL process):
connections stay open and nothing answers, as in a network partition. The requests must still
get their 503, within the server's database timeout, and the rest holds as above.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REQUIRE_PG
from tests.e2e.conftest import Deployment, _command_env
from tests.e2e.test_relay_process import outbox_rows, wait_for
from tests.faults.load import Answer, Load, Stored, assert_no_personnummer, check_stored
from tests.support.servers import ReservedPort
from tests.support.smtp import smtp_server

pytestmark = pytest.mark.faults

#: How long the database stays down (seconds).
DOWN_SECONDS = float(os.environ.get("SERVICEGUIDE_FAULT_DB_DOWN_SECONDS", "4"))
#: How long the database's processes stay stopped, and the server's timeout for it (seconds).
HUNG_SECONDS = 6.0
DB_TIMEOUT = 2.0
RECOVERY_DEADLINE = 30.0


def _bindir() -> Path | None:
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
        found = Path(out.stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        found = candidates[-1] if candidates else Path("/nonexistent")
    return found if (found / "initdb").exists() else None


@dataclass
class PrivatePostgres:
    bindir: Path
    base: Path
    reserved: ReservedPort  # held while the cluster is stopped, so that no one else takes it
    as_owner: list[str]

    @property
    def port(self) -> int:
        return self.reserved.port

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.as_owner, str(self.bindir / "pg_ctl"), "-D", str(self.base / "data"), *args],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1"
        self.reserved.release()
        self._ctl("-o", options, "-l", str(self.base / "log"), "-w", "start")

    def stop(self, mode: str = "immediate") -> None:
        self._ctl("-m", mode, "-w", "stop")
        self.reserved.hold()

    def signal(self, sig: signal.Signals, pids: list[int] | None = None) -> list[int]:
        """Send ``sig`` to the postmaster and its children (or to ``pids``); returns the pids.
        The postmaster goes first, so that it starts no child the signal would miss."""
        if pids is None:
            postmaster = int((self.base / "data" / "postmaster.pid").read_text().split()[0])
            pids = [postmaster, *_children(postmaster)]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):  # exited meanwhile
                os.kill(pid, sig)
        return pids


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    bindir = _bindir()
    if bindir is None:
        if REQUIRE_PG:
            pytest.fail("PostgreSQL's server programs (initdb, pg_ctl) are required here")
        pytest.skip("PostgreSQL's server programs (initdb, pg_ctl) are not installed")
    base = Path(tempfile.mkdtemp(prefix="sg-faults-pg-"))
    # PostgreSQL refuses to run as root: as root, run it as the postgres user.
    as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_owner:
        shutil.chown(base, "postgres")
    pg = PrivatePostgres(bindir, base, ReservedPort(), as_owner)
    try:
        subprocess.run(
            [*as_owner, str(bindir / "initdb"), "-D", str(base / "data"), "-A", "trust",
             "-U", "postgres", "-E", "UTF8", "--no-sync"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        pg.start()
        yield pg
    finally:
        subprocess.run(
            [*as_owner, str(bindir / "pg_ctl"), "-D", str(base / "data"), "-m", "immediate",
             "stop"],
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        pg.reserved.release()
        shutil.rmtree(base, ignore_errors=True)


def _first_success_after(load: Load, since: float) -> float:
    deadline = since + RECOVERY_DEADLINE
    while time.monotonic() < deadline:
        ok = [a.at for a in list(load.record.answers) if a.at > since and a.code in (200, 201)]
        if ok:
            return min(ok)
        time.sleep(0.05)
    pytest.fail(f"no request succeeded within {RECOVERY_DEADLINE:.0f} s of the database's return")


def _undelivered(d: Deployment, order_ids: set[int]) -> str:
    """The outbox rows of orders whose mail has not arrived: state, attempts, claim."""
    return "; ".join(
        f"order {order_id}: {row.state}, {row.attempts} attempts, claimed until "
        f"{row.claimed_until}, outcomes {outcomes}"
        for order_id, (row, outcomes) in sorted(outbox_rows(d, order_ids).items())
    )


@dataclass
class Outage:
    """What one outage under load came to (times from ``time.monotonic()``)."""

    load: Load
    stored: Stored
    down_at: float
    up_at: float
    recovered_at: float


def _outage_under_load(
    pg: PrivatePostgres, tmp_path: Path, tag: str, fault: Callable[[], float], **extra_env: str
) -> Outage:
    """Two workers under load (tests/faults/load.py); ``fault()`` takes the database away and
    brings it back, and returns the moment it began to (``time.monotonic()``). Afterwards, what
    was acknowledged is stored, every stored order's mail has arrived once, and the server's log
    has no traceback and no personnummer."""
    d = Deployment("postgresql", pg.url, tmp_path, _command_env(pg.url))
    d.run("migrate")
    d.demo = d.demo_data_json()
    with smtp_server() as sink:
        env = {
            "SERVICEGUIDE_SMTP_URL": sink.url,
            "SERVICEGUIDE_GUIDE_RATE": "0",
            "SERVICEGUIDE_OUTBOX_POLL_SECONDS": "0.2",
            **extra_env,
        }
        with d.serving(2, **env) as (server,):
            with Load(server.base_url, d.demo, tag) as load:
                time.sleep(1.5)
                down_at = time.monotonic()
                up_at = fault()
                recovered_at = _first_success_after(load, up_at)
                time.sleep(2.0)  # and keeps working
            # The relays come back by themselves too: every stored order's mail is sent.
            stored = check_stored(d.database_url, load.record)
            wait_for(
                lambda: stored.order_ids <= set(sink.by_order()),
                "every order's mail",
                lambda: _undelivered(d, stored.order_ids - set(sink.by_order())),
            )
            # A relay that lost the database mid-round records what it sent once the database
            # is back (and hands back claims it never used): no mail goes out twice.
            time.sleep(1.0)
            twice = {o: len(m) for o, m in sink.by_order().items() if len(m) > 1}
            assert not twice, f"mails sent more than once: {twice}"
            stderr = server.stderr()
        # The outage is logged as such, one line each, never as a stack trace.
        assert "Traceback" not in stderr, stderr[-4000:]
        assert "database unavailable" in stderr
        # Thousands of log lines and mails, errors included: no personnummer in any of them.
        serials = load.record.serials
        assert_no_personnummer("the server's log", stderr, serials)
        for m in sink.messages():
            assert_no_personnummer(f"the mail for order {m.order_id}", m.raw.decode(), serials)
    return Outage(load, stored, down_at, up_at, recovered_at)


def _assert_clean_503s(outage: Outage) -> list[Answer]:
    """Every request was answered, with success or the documented 503 and nothing else; well
    inside the outage nothing succeeded, a second after the recovery everything does. Returns
    the 503s."""
    answers = list(outage.load.record.answers)
    assert None not in {a.code for a in answers}, "every request got an answer"
    assert {a.code for a in answers} <= {200, 201, 503}, sorted({a.code for a in answers})
    unavailable = [a for a in answers if a.code == 503]
    assert unavailable, "requests were made while the database was away"
    for a in unavailable:
        assert "Traceback" not in a.body and "asyncpg" not in a.body, a.body
        assert "temporarily unavailable" in a.body, a.body
    during = [a for a in answers if outage.down_at + 0.5 < a.at < outage.up_at]
    assert during and {a.code for a in during} == {503}, {a.code for a in during}
    after = [a for a in answers if a.at > outage.recovered_at + 1.0]
    assert after and {a.code for a in after} <= {200, 201}, {a.code for a in after}
    return unavailable


def _summary(outage: Outage) -> str:
    codes = outage.load.record.codes()
    stored = outage.stored
    return (
        f"{sum(codes.values())} requests: {codes[201]} orders placed, {codes[200]} other "
        f"successes, {codes[503]} answered 503; recovered {outage.recovered_at - outage.up_at:.2f}"
        f" s after the database was back; stored {stored.customers} customers, "
        f"{len(stored.order_ids)} orders, {stored.status_changes} status changes (of them "
        f"stored without a success answer: {stored.unacknowledged_customers} customers, "
        f"{stored.unacknowledged_changes} changes); all {len(stored.order_ids)} mails "
        "delivered, none twice"
    )


def test_postgresql_stopped_mid_load_is_503_then_recovers_and_loses_nothing(
    private_postgres: PrivatePostgres, tmp_path: Path
):
    def stop_and_start() -> float:
        private_postgres.stop("immediate")
        time.sleep(DOWN_SECONDS)
        up_at = time.monotonic()
        private_postgres.start()
        return up_at

    outage = _outage_under_load(private_postgres, tmp_path, "dbdown-", stop_and_start)
    _assert_clean_503s(outage)
    print(
        f"\n[reliability] database down {DOWN_SECONDS:.0f} s (immediate stop): " + _summary(outage)
    )


def test_postgresql_hung_mid_load_is_503_within_the_timeout_and_loses_nothing(
    private_postgres: PrivatePostgres, tmp_path: Path
):
    """A database that stops answering without closing anything — a network partition, a host
    swapping itself to death; here every PostgreSQL process stopped with SIGSTOP — must not
    hang the requests: each gets its 503 within SERVICEGUIDE_DB_TIMEOUT_SECONDS (and the
    client's own timeout, 10 s, never runs out). When the processes continue, the server
    recovers by itself and nothing acknowledged is lost."""

    def hang_and_continue() -> float:
        hung = private_postgres.signal(signal.SIGSTOP)
        try:
            time.sleep(HUNG_SECONDS)
        finally:
            up_at = time.monotonic()
            private_postgres.signal(signal.SIGCONT, hung)
        return up_at

    outage = _outage_under_load(
        private_postgres,
        tmp_path,
        "dbhung-",
        hang_and_continue,
        SERVICEGUIDE_DB_TIMEOUT_SECONDS=str(DB_TIMEOUT),
    )
    unavailable = _assert_clean_503s(outage)
    slowest = max(a.took for a in unavailable)
    print(
        f"\n[reliability] database hung {HUNG_SECONDS:.0f} s (SIGSTOP), timeout {DB_TIMEOUT} s: "
        f"slowest 503 after {slowest:.2f} s; " + _summary(outage)
    )
