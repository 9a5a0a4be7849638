"""``kill -9`` of the server after it has committed an order and before its TL has the push: the
push still happens, once.

The TL's ON-API endpoint is first a port that listens but never accepts: the server commits
the order with its push (claimed by the server for its first attempt) and sends the push into a
connection nobody reads. The server (its whole
process group) is then killed with SIGKILL, the TL's real endpoint (a recording server) comes
up on the same port, and the server is started again. Its relay takes the push over once the
dead claim's lease has run out and the TL gets the order — exactly one request for it — and
answers CONFIRMED: the order is ``received``, with one log entry and one event.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select

from serviceguide.storage.db import sync_url
from serviceguide.storage.tables import events, order_log, orders, outbox
from tests.e2e.conftest import Deployment
from tests.e2e.test_relay_process import wait_for
from tests.support.servers import free_port
from tests.support.sp import recording_sp

pytestmark = pytest.mark.faults

XSP = 31420  # the demo TL that takes its orders over ON-API


def _query(deployment: Deployment, q: Any) -> list[Any]:
    engine = create_engine(sync_url(deployment.database_url))
    try:
        with engine.connect() as conn:
            return list(conn.execute(q).all())
    finally:
        engine.dispose()


def _order_body(deployment: Deployment) -> dict[str, Any]:
    tl = next(t for t in deployment.demo["tls"] if t["xsp"] == XSP)
    service = next(s for s in tl["services"] if not s["direct_activation"])
    access = next(a for a in deployment.demo["accesses"] if a["coid"] == service["coid"])
    return {
        "coid": service["coid"],
        "accessId": access["accessId"],
        "services": [service["id"]],
        "customer": {
            "firstname": "Kill",
            "surname": "Nio",
            "serial": "8112189876",
            "email": "kill.nio@example.se",
            "phone": "070-1112233",
        },
        "delivery": "asap",
    }


def test_kill_9_between_commit_and_push_the_push_still_happens_once(deployment: Deployment):
    port = free_port()
    hole = socket.socket()  # listens, never accepts: the push goes nowhere
    hole.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    hole.bind(("127.0.0.1", port))
    hole.listen(16)
    base = f"http://127.0.0.1:{port}/{XSP}/onapi/2.6"
    deployment.run(
        "tl", "set-onapi", str(XSP), base,
        "--username", "sim", "--password", "sim", "--delivery", "onapi",
    )  # fmt: skip
    env = {
        "SERVICEGUIDE_GUIDE_RATE": "0",
        "SERVICEGUIDE_SP_TIMEOUT_SECONDS": "3",  # the dead claim lasts 3 + 5 s
        "SERVICEGUIDE_OUTBOX_LEASE_SECONDS": "2",
        "SERVICEGUIDE_OUTBOX_POLL_SECONDS": "0.2",
    }
    answer: dict[str, Any] = {}

    def order(base_url: str) -> None:
        try:
            r = httpx.post(f"{base_url}/api/guide/orders", json=_order_body(deployment), timeout=60)
            answer["status"] = r.status_code
        except httpx.HTTPError as e:
            answer["error"] = type(e).__name__

    def claimed() -> list[Any]:
        q = select(outbox.c.order_id, outbox.c.state).where(outbox.c.kind == "sp_order")
        return [r for r in _query(deployment, q) if r.state == "delivering"]

    try:
        with deployment.serving(1, **env) as (server,):
            client = threading.Thread(target=order, args=(server.base_url,), daemon=True)
            client.start()
            wait_for(lambda: bool(claimed()), "the push claimed and under way")
            [(order_id, _state)] = claimed()
            os.killpg(server.proc.pid, signal.SIGKILL)
            server.proc.wait(10)
            client.join(30)
    finally:
        hole.close()
    assert "status" not in answer, answer  # the customer never got an answer
    [(status,)] = _query(deployment, select(orders.c.status).where(orders.c.id == order_id))
    assert status == "new"  # committed before the push

    with recording_sp(port=port) as sp, deployment.serving(1, **env) as (again,):
        wait_for(
            lambda: (
                _query(deployment, select(orders.c.status).where(orders.c.id == order_id))
                == [("received",)]
            ),
            "the order received after the push",
            lambda: again.stderr()[-2000:],
        )
        calls = [c for c in sp.orders() if c.order_id == order_id]
    assert len(calls) == 1, calls
    assert calls[0].basic == ("sim", "sim")
    assert calls[0].body["customerDetails"]["lastName"] == "Nio"
    codes = _query(
        deployment,
        select(order_log.c.code).where(
            order_log.c.order_id == order_id, order_log.c.code == "sp_confirmed"
        ),
    )
    assert len(codes) == 1
    changes = _query(
        deployment,
        select(events.c.status).where(
            events.c.order_id == order_id, events.c.type == "status_changed"
        ),
    )
    assert changes == [("received",)]
    print(f"\n[reliability] kill-9 between commit and push: order {order_id} pushed once")
