"""``serviceguide relay`` as a separate process, delivering to a real SMTP server (aiosmtpd).

Orders are placed over HTTP on a ``serviceguide serve`` whose own relay is switched off
(``SERVICEGUIDE_RELAY_IN_SERVE=0``), so that only the relay processes started here send mail.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select

from serviceguide.domain.personnummer import with_check_digit
from serviceguide.storage.db import sync_url
from serviceguide.storage.tables import outbox, outbox_attempts
from tests.e2e.conftest import SERVICEGUIDE, Deployment
from tests.support.smtp import Sink, smtp_server

pytestmark = pytest.mark.e2e

DEADLINE = 60.0


def place_orders(deployment: Deployment, count: int) -> dict[int, str]:
    """``count`` one-service orders through the guide's JSON API; order id → its TL's address."""
    demo = deployment.demo
    choices = [
        (svc, tl["email"], access)
        for tl in demo["tls"]
        for svc in tl["services"]
        if not svc["direct_activation"]
        for access in demo["accesses"]
        if access["coid"] == svc["coid"]
    ]
    # Round-robin over the TLs' services, so that every TL gets mail.
    by_service: dict[int, list[Any]] = {}
    for c in choices:
        by_service.setdefault(c[0]["id"], []).append(c)
    picks = [c for group in itertools.zip_longest(*by_service.values()) for c in group if c]
    placed: dict[int, str] = {}
    with (
        deployment.serving(1, SERVICEGUIDE_RELAY_IN_SERVE="0") as (server,),
        httpx.Client(base_url=server.base_url, timeout=30) as http,
    ):
        for i, (svc, email, access) in enumerate(picks[:count]):
            r = http.post(
                "/api/guide/orders",
                json={
                    "coid": access["coid"],
                    "accessId": access["accessId"],
                    "services": [svc["id"]],
                    "customer": {
                        "firstname": "Relay",
                        "surname": f"Test{i}",
                        "serial": with_check_digit(f"850101{i:03d}"),
                        "email": f"kund{i}@example.se",
                        "phone": "070-1234567",
                    },
                    "delivery": "asap",
                    "confirm_duplicate": True,  # a later test orders the same again
                },
            )
            assert r.status_code == 201, r.text
            (order,) = r.json()["orders"]
            placed[order["id"]] = email
    assert len(placed) == count
    return placed


def relay_env(deployment: Deployment, sink: Sink, **extra: str) -> dict[str, str]:
    return {**deployment.env, "SERVICEGUIDE_SMTP_URL": sink.url, **extra}


#: What ``serviceguide relay`` logs once it is running (after its start-up, which takes seconds
#: on a loaded machine).
RELAY_STARTED = re.compile(r"outbox relay \S+ started")


@contextmanager
def relay_process(deployment: Deployment, env: dict[str, str], tag: str) -> Iterator[Any]:
    """A ``serviceguide relay`` running until the block ends (SIGTERM, then SIGKILL). The
    block starts once the relay has logged that it runs, so that what a test times from
    there does not include the process's start-up."""
    log = deployment.workdir / f"relay-{tag}.stderr"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [str(SERVICEGUIDE), "relay"],
            cwd=deployment.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + DEADLINE
            while not RELAY_STARTED.search(log.read_text(encoding="utf-8", errors="replace")):
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"`serviceguide relay` did not start: {log.read_text()[-4000:]}")
                time.sleep(0.05)
            yield proc
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(10)


def wait_for(condition: Any, what: str, explain: Callable[[], str] | None = None) -> None:
    """Wait for ``condition``; on timeout fail with ``what`` and, if given, ``explain()``."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}" + (f": {explain()}" if explain else ""))
        time.sleep(0.05)


def outbox_rows(deployment: Deployment, order_ids: set[int]) -> dict[int, tuple[Any, list[str]]]:
    """order id → (its mail row, the outcomes of its attempts)."""
    engine = create_engine(sync_url(deployment.database_url))
    try:
        with engine.connect() as conn:
            mails = conn.execute(select(outbox).where(outbox.c.kind == "mail")).all()
            out = {}
            for r in mails:
                if r.order_id in order_ids:
                    q = (
                        select(outbox_attempts.c.outcome)
                        .where(outbox_attempts.c.outbox_id == r.id)
                        .order_by(outbox_attempts.c.id)
                    )
                    out[r.order_id] = (r, list(conn.execute(q).scalars()))
            return out
    finally:
        engine.dispose()


def test_relay_once_delivers_one_mail_per_new_order_to_its_tl_and_exits(deployment: Deployment):
    placed = place_orders(deployment, 4)
    with smtp_server() as sink:
        proc = subprocess.run(
            [str(SERVICEGUIDE), "relay", "--once"],
            cwd=deployment.workdir,
            env=relay_env(deployment, sink),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr
    assert "8 delivered" in proc.stderr  # each order's mail, and each customer's receipt
    assert sorted(r.rcpt_tos[0] for r in sink.receipts()) == [
        f"kund{i}@example.se" for i in range(4)
    ]
    got = sink.by_order()
    assert set(got) == set(placed)
    for order_id, email in placed.items():
        (m,) = got[order_id]
        assert m.rcpt_tos == [email]
        assert f"Order-ID: {order_id}" in m.text().splitlines()
        assert m.message["Subject"].startswith(f"Ny beställning {order_id}: ")
    assert len(set(placed.values())) > 1, "the orders should go to more than one TL"


def test_a_relay_killed_mid_delivery_is_replaced_and_every_mail_is_delivered(
    deployment: Deployment,
):
    """Kill -9 a relay while its first batch sits at the SMTP server, then start another one.

    What a crash may duplicate: the killed relay's four messages had been accepted by the SMTP
    server (it received the whole message) but the relay died before it recorded them as
    delivered. Their claims expire after the lease and the next relay sends them again, so those
    orders' TLs get the same mail twice — with the same ``X-Order-ID`` and ``Message-ID``, which
    is how a receiver recognises and drops the copy. Every other mail arrives exactly once, and
    none is lost.
    """
    placed = place_orders(deployment, 12)
    settings = {
        "SERVICEGUIDE_OUTBOX_BATCH_SIZE": "4",
        "SERVICEGUIDE_OUTBOX_LEASE_SECONDS": "3",
        "SERVICEGUIDE_OUTBOX_POLL_SECONDS": "0.2",
    }
    with smtp_server() as sink:
        env = relay_env(deployment, sink, **settings)
        sink.hold()  # the server takes each message, then keeps the relay waiting for its answer
        with relay_process(deployment, env, "killed") as doomed:
            sink.wait_held(4)
            os.killpg(doomed.pid, signal.SIGKILL)
            doomed.wait(10)
        held = sink.messages()  # the first batch: order mails and receipts, in outbox order
        assert len(held) == 4
        in_flight = {r.order_id for r in held if r.order_id}  # the order mails among them
        receipts_held = len(held) - len(in_flight)
        assert in_flight and in_flight <= set(placed)
        sink.release()

        def all_arrived() -> bool:
            got = sink.by_order()
            return (
                set(placed) <= set(got)
                and all(len(got[o]) == 2 for o in in_flight)
                and len(sink.receipts()) >= len(placed) + receipts_held
            )

        with relay_process(deployment, env, "rescuer") as rescuer:
            wait_for(all_arrived, "every mail after the restart")
            rescuer.terminate()
            assert rescuer.wait(10) == 0  # a SIGTERM lets the relay finish and exit cleanly

    got = sink.by_order()
    for order_id, email in placed.items():
        copies = got[order_id]
        assert len(copies) == (2 if order_id in in_flight else 1), order_id
        assert {c.message_id for c in copies} == {copies[0].message_id}
        assert all(c.order_id == order_id and c.rcpt_tos == [email] for c in copies)

    rows = outbox_rows(deployment, set(placed))
    assert set(rows) == set(placed)
    for order_id, (row, outcomes) in rows.items():
        assert row.state == "delivered"
        if order_id in in_flight:
            assert outcomes == ["lost", "delivered"] and row.attempts == 2
        else:
            assert outcomes == ["delivered"] and row.attempts == 1
