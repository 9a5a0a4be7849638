"""``kill -9`` of the server in the middle of a burst of guide orders and status changes.

The server (two workers, each with its outbox relay) is killed — the whole process group,
SIGKILL, no chance to finish anything — while three customers place orders and a service
provider moves orders through their statuses. Then it is started again, and the database is
held against what the clients were told (tests/faults/load.py): every order answered 201 is
stored with its customer and all its services' orders, no customer has only some of its
orders, every status change answered 200 is stored with exactly one log entry and one event,
and after the restart every stored order's mail reaches the SMTP server.

A message the killed relay had claimed is taken over when its claim's lease runs out
(``SERVICEGUIDE_OUTBOX_LEASE_SECONDS``, 2 s here, 5 minutes by default). Delivery is at least
once: a mail the SMTP server accepted just before the kill, whose outcome was not yet recorded,
is sent again (same Message-ID); the test counts those.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.e2e.conftest import Deployment
from tests.e2e.test_relay_process import wait_for
from tests.faults.load import Load, assert_no_personnummer, check_stored
from tests.support.smtp import smtp_server

pytestmark = pytest.mark.faults

#: How long the burst runs before the kill (seconds).
BURST_SECONDS = float(os.environ.get("SERVICEGUIDE_FAULT_BURST_SECONDS", "2.5"))


def test_kill_9_during_a_burst_loses_nothing_that_was_acknowledged(
    deployment: Deployment, backend: str
):
    with smtp_server() as sink:
        env = {
            "SERVICEGUIDE_SMTP_URL": sink.url,
            "SERVICEGUIDE_GUIDE_RATE": "0",
            "SERVICEGUIDE_OUTBOX_LEASE_SECONDS": "2",
            "SERVICEGUIDE_OUTBOX_POLL_SECONDS": "0.2",
        }
        with (
            deployment.serving(2, **env) as (server,),
            Load(server.base_url, deployment.demo, f"crash-{backend}-") as load,
        ):
            load.wait_under_way()
            time.sleep(BURST_SECONDS)
            load.stop.set()  # no new requests: what is cut off is what was in flight
            os.killpg(server.proc.pid, signal.SIGKILL)
            server.proc.wait(10)
        record = load.record
        codes = record.codes()
        assert set(codes) <= {200, 201, None}, codes  # before the kill: only success
        assert codes[201] >= 10 and record.acked, codes

        with deployment.serving(2, **env) as (again,):
            stored = check_stored(deployment.database_url, record)
            wait_for(lambda: stored.order_ids <= set(sink.by_order()), "every order's mail")
            got = sink.by_order()
            logs = server.stderr() + again.stderr()
        for m in sink.messages():
            assert_no_personnummer(
                f"the mail for order {m.order_id}", m.raw.decode(), record.serials
            )
        assert_no_personnummer("the server's log", logs, record.serials)
    twice = sum(len(got[o]) - 1 for o in stored.order_ids)
    cut = codes[None]
    print(
        f"\n[reliability] kill-9 {backend}: {sum(codes.values())} requests, "
        f"{codes[201]} orders and {sum(map(len, record.acked.values()))} status changes "
        f"acknowledged, {cut} cut off by the kill; stored {stored.customers} customers, "
        f"{len(stored.order_ids)} orders, {stored.status_changes} status changes; "
        f"{len(stored.order_ids)} orders' mails delivered, {twice} sent twice"
    )
