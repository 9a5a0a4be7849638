"""The KO simulator behaves as ON-API 2.4 says a KO does, so an agent tested against it works
against a real KO."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from serviceguide.simulator.app import create_simulator, demo_networks
from serviceguide.simulator.onapi import SimConfig

pytestmark = pytest.mark.unit
BASE = "/SNFDMO/onapi/2.4/orders/"
AUTH = httpx.BasicAuth("sim", "sim")


def client(**config: float) -> httpx.AsyncClient:
    app = create_simulator(config=SimConfig(**config))  # type: ignore[arg-type]
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sim", auth=AUTH
    )


def order(**overrides: str) -> dict[str, str]:
    doc = {
        "accessId": "AB123",
        "service": "AB100100",
        "operation": "ACTIVATE",
        "spReference": "order-1",
    }
    doc.update(overrides)
    return doc


async def test_an_order_is_received_then_in_progress_then_done():
    async with client(delay=0.4) as c:
        r = await c.post(BASE, json=order())
        assert r.status_code == 201
        doc = r.json()
        assert doc["state"] == "RECEIVED" and r.headers["Location"] == doc["path"]
        assert doc["path"] == BASE + doc["orderId"]
        await asyncio.sleep(0.25)
        assert (await c.get(doc["path"])).json()["state"] == "IN_PROGRESS"
        await asyncio.sleep(0.2)
        assert (await c.get(doc["path"])).json()["state"] == "DONE_SUCCESS"
        port = await c.get(
            "/SNFDMO/activation", params={"method": "port_status", "socket": "AB123"}
        )
        assert "<service>AB100100</service>" in port.text


async def test_reposting_the_same_sp_reference_returns_the_existing_order():
    async with client(delay=5) as c:
        first = (await c.post(BASE, json=order())).json()
        again = await c.post(BASE, json=order())
        assert again.status_code == 200 and again.json()["orderId"] == first["orderId"]
        same_service = await c.post(BASE, json=order(spReference="order-2"))
        assert same_service.status_code == 200
        assert same_service.json()["orderId"] == first["orderId"]


async def test_a_service_type_already_active_is_a_409():
    async with client(delay=0) as c:
        await c.post(BASE, json=order())
        await c.get(BASE)  # lets the first order finish
        r = await c.post(BASE, json=order(service="AB250250", spReference="order-3"))
        assert r.status_code == 409 and "cause" in r.json()
        again = await c.post(BASE, json=order(spReference="order-4"))
        assert again.status_code == 200 and again.json()["state"] == "DONE_SUCCESS"


async def test_fail_rate_one_fails_every_order_with_a_message():
    async with client(delay=0, fail_rate=1.0) as c:
        doc = (await c.post(BASE, json=order())).json()
        done = (await c.get(doc["path"])).json()
        assert done["state"] == "DONE_FAILED" and done["message"]


@pytest.mark.parametrize(
    "body,cause",
    [
        (order(accessId="NOPE"), "accessId"),
        (order(service="INTERRNET"), "service"),
        (order(operation="EXPLODE"), "operation"),
        ({"accessId": "AB123"}, "service"),
        (order(spReference=""), "spReference"),
    ],
)
async def test_bad_orders_are_400_with_a_cause(body, cause):
    async with client() as c:
        r = await c.post(BASE, json=body)
        assert r.status_code == 400 and cause in r.json()["cause"]


async def test_wrong_credentials_are_401_and_unknown_orders_404():
    async with client() as c:
        r = await c.post(BASE, json=order(), auth=httpx.BasicAuth("sim", "wrong"))
        assert r.status_code == 401
        assert (await c.get(BASE + "nosuch")).status_code == 404


async def test_only_a_received_order_can_be_cancelled():
    async with client(delay=10) as c:
        doc = (await c.post(BASE, json=order())).json()
        assert (await c.delete(doc["path"])).status_code == 204
        assert (await c.get(doc["path"])).status_code == 404
    async with client(delay=0) as c:
        doc = (await c.post(BASE, json=order())).json()
        assert (await c.delete(doc["path"])).status_code == 409


def test_the_demo_networks_offer_the_guide_services_uids():
    nets = demo_networks()
    assert "AB100100" in nets["SNFDMO"].services and "AB123" in nets["SNFDMO"].sockets
