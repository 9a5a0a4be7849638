"""Scale-out on PostgreSQL: two ``serviceguide serve`` processes (as if on two machines: own
ports, no relay inside) and two ``serviceguide relay`` processes against one database.

The pair must act as one system: a hash from one server works on the other, the guide's
per-address order throttle counts orders placed through either, and every order mail is sent
exactly once although both relays poll the same outbox. (The same checks with throughput
figures are in the benchmark: bench/scaleout.py. A hash used across two servers and failed
logins throttled across two servers are also covered, on both backends, in test_server.py.)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from serviceguide.domain.personnummer import with_check_digit
from tests.e2e.conftest import Deployment, fresh_deployment, with_demo_data
from tests.e2e.test_relay_process import relay_env, relay_process, wait_for
from tests.support.smtp import smtp_server
from tests.support.xsp import Session, XspClient

pytestmark = pytest.mark.e2e

LIMIT = 12  # orders per minute from one address


@pytest.fixture(scope="module")
def pg(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with fresh_deployment("postgresql", tmp_path_factory.mktemp("scale-out"), request) as d:
        with_demo_data(d, request)
        yield d


def _order(d: Deployment, i: int) -> dict[str, Any]:
    """A one-service order for the i-th (service, access) pair of the demo."""
    pairs = [
        (svc["id"], access)
        for tl in d.demo["tls"]
        for svc in tl["services"]
        if not svc["direct_activation"]
        for access in d.demo["accesses"]
        if access["coid"] == svc["coid"]
    ]
    service_id, access = pairs[i % len(pairs)]
    return {
        "coid": access["coid"],
        "accessId": access["accessId"],
        "services": [service_id],
        "customer": {
            "firstname": "Skala",
            "surname": f"Ut{i}",
            "serial": with_check_digit(f"790101{i:03d}"),
            "email": f"skala{i}@example.se",
            "phone": "070-7654321",
        },
        "delivery": "asap",
        "confirm_duplicate": True,  # generated customers may repeat
    }


async def test_two_servers_and_two_relays_on_one_database_act_as_one_system(pg: Deployment):
    tl = pg.demo["tls"][0]
    env = {"SERVICEGUIDE_RELAY_IN_SERVE": "0", "SERVICEGUIDE_GUIDE_RATE": str(LIMIT)}
    with (
        smtp_server() as sink,
        pg.serving(1, 1, **env) as (a, b),
    ):
        # A hash from A is valid on B, and B's on A.
        async with XspClient.over_http(a.base_url) as xa, XspClient.over_http(b.base_url) as xb:
            ra = await xa.call("api_login", api_user=tl["api_user"], api_key=tl["api_key"])
            rb = await xb.call("api_login", api_user=tl["api_user"], api_key=tl["api_key"])
            for session in (
                Session(xb, ra.response["hash_key"]),
                Session(xa, rb.response["hash_key"]),
            ):
                reply = await session.call("orders", since_id=0, limit=1)
                assert (reply.code, reply.status) == (200, "success")

        # LIMIT orders placed at the same time through both servers, all accepted ...
        def place(i: int) -> httpx.Response:
            server = (a, b)[i % 2]
            return httpx.post(f"{server.base_url}/api/guide/orders", json=_order(pg, i), timeout=30)

        with ThreadPoolExecutor(4) as pool:
            replies = list(pool.map(place, range(LIMIT)))
        assert [r.status_code for r in replies] == [201] * LIMIT, [r.text for r in replies]
        placed = {r.json()["orders"][0]["id"] for r in replies}
        assert len(placed) == LIMIT

        # ... and the next one is refused by either: the throttle counts across processes.
        for server in (a, b):
            r = httpx.post(
                f"{server.base_url}/api/guide/orders", json=_order(pg, LIMIT), timeout=30
            )
            assert r.status_code == 429, r.text
            assert r.headers["Retry-After"].isdigit()

        # Two relays deliver the mails: every order's exactly once.
        relay = relay_env(
            pg, sink, SERVICEGUIDE_OUTBOX_POLL_SECONDS="0.1", SERVICEGUIDE_OUTBOX_BATCH_SIZE="2"
        )
        with relay_process(pg, relay, "one"), relay_process(pg, relay, "two"):
            wait_for(lambda: placed <= set(sink.by_order()), "every order mail")
            time.sleep(1.0)  # both relays poll again: nothing more may arrive
        got = sink.by_order()
        assert {o: len(got[o]) for o in placed} == dict.fromkeys(placed, 1)
