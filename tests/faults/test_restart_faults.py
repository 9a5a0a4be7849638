"""A server stopped the polite way (SIGTERM, as a deploy or ``systemctl restart`` does) in the
middle of a burst, while its relays are in the middle of delivering.

The clients go on sending while the server stops. The mail server holds the relays' deliveries
(accepted, not yet answered) when the SIGTERM arrives, and answers them a second later — or only
after the server's grace for deliveries at stop (10 s) has run out: two seconds after it, counted
from the moment each worker began to stop its relay (a worker first finishes the requests it is
answering, which under a loaded machine takes seconds of its own). The server must finish what
it had started — the requests it was answering, the deliveries under way, recording their
outcomes — and exit 0 without a traceback. Deliveries it had to cancel and claims it had not
started are handed back. Started again with the default 5-minute lease, it delivers every other
order's mail at once (a claim left behind would hold its mail for the lease); only a mail whose
delivery was cancelled may arrive twice. The database holds everything that was acknowledged
(tests/faults/load.py).
"""

from __future__ import annotations

import time

import pytest

from serviceguide.notify.relay import STOP_GRACE_SECONDS
from tests.e2e.conftest import Deployment, Server
from tests.e2e.test_relay_process import wait_for
from tests.faults.load import Load, assert_no_personnummer, check_stored
from tests.support.smtp import smtp_server

pytestmark = pytest.mark.faults

#: How long the mail server holds the deliveries under way (seconds): within the relay's grace
#: at stop, counted from the SIGTERM; or past it, counted from when the workers' relays began
#: to stop (uvicorn's "Waiting for application shutdown", logged once the worker has finished
#: the requests it was answering).
HELD = {"finished": 1.0, "cancelled": STOP_GRACE_SECONDS + 2.0}
EXIT_DEADLINE = 40.0
SHUTDOWN_BEGUN = "Waiting for application shutdown"


def wait_until_the_relays_stop(server: Server) -> None:
    """Until every worker of ``server`` has begun its shutdown, i.e. has begun to stop its
    relay, or the server has exited (fails the test after EXIT_DEADLINE)."""
    deadline = time.monotonic() + EXIT_DEADLINE
    while server.stderr().count(SHUTDOWN_BEGUN) < server.workers and server.alive():
        if time.monotonic() > deadline:
            pytest.fail(f"the workers did not begin to stop: {server.stderr()[-4000:]}")
        time.sleep(0.05)


@pytest.mark.parametrize("deliveries", ["finished", "cancelled"])
def test_sigterm_mid_burst_finishes_what_was_started_and_leaves_no_claim(
    deployment: Deployment, backend: str, deliveries: str
):
    held_seconds = HELD[deliveries]
    with smtp_server() as sink:
        env = {
            "SERVICEGUIDE_SMTP_URL": sink.url,
            "SERVICEGUIDE_GUIDE_RATE": "0",
            "SERVICEGUIDE_OUTBOX_POLL_SECONDS": "0.2",
        }
        with (
            deployment.serving(2, **env) as (server,),
            Load(server.base_url, deployment.demo, f"restart-{deliveries}-{backend}-") as load,
        ):
            load.wait_under_way()
            before_hold = {m.order_id for m in sink.messages()}
            sink.hold()
            sink.wait_held(1)  # a relay is in the middle of a delivery
            sent_at = time.monotonic()
            server.proc.terminate()
            if deliveries == "cancelled":
                wait_until_the_relays_stop(server)
            time.sleep(held_seconds)
            held = {m.order_id for m in sink.messages()} - before_hold
            sink.release()
            code = server.proc.wait(EXIT_DEADLINE)
            stopped_after = time.monotonic() - sent_at
            load.stop.set()
            logs = server.stderr()
        assert code == 0, logs[-4000:]
        assert "Traceback" not in logs, logs[-4000:]
        assert "left unrecorded" not in logs and "left to their lease" not in logs, logs[-4000:]
        assert ("did not stop" in logs) == (deliveries == "cancelled"), logs[-4000:]
        record = load.record
        codes = record.codes()
        # While it stops, the server answers what it has begun; what it no longer accepts is a
        # refused connection (None) — never an error status ...
        assert set(codes) <= {200, 201, None}, codes
        # ... and it lets go of its port at once: no client waits out its timeout (10 s).
        assert "ReadTimeout" not in record.errors(), record.errors()
        delivered_before = len(sink.messages())

        with deployment.serving(2, **env) as (again,):
            stored = check_stored(deployment.database_url, record)
            wait_for(lambda: stored.order_ids <= set(sink.by_order()), "every order's mail")
            time.sleep(1.0)
            got = sink.by_order()
            logs += again.stderr()
        twice = {o: len(got[o]) for o in stored.order_ids if len(got[o]) > 1}
        may_repeat = held if deliveries == "cancelled" else set()
        assert twice.keys() <= may_repeat, f"mails sent more than once: {twice}"
        for m in sink.messages():
            assert_no_personnummer(
                f"the mail for order {m.order_id}", m.raw.decode(), record.serials
            )
        assert_no_personnummer("the server's log", logs, record.serials)
    print(
        f"\n[reliability] SIGTERM {backend}, deliveries {deliveries}: "
        f"{sum(codes.values())} requests, {codes[201]} orders "
        f"and {sum(map(len, record.acked.values()))} status changes acknowledged, "
        f"without an answer while stopping: {dict(record.errors())}; the server "
        f"exited 0 after {stopped_after:.1f} s (deliveries held {held_seconds:.0f} s); "
        f"{delivered_before} mails before the stop, all {len(stored.order_ids)} after the "
        f"restart, {len(twice)} twice (of {len(held)} held at the stop)"
    )
