"""The ON-API 2.4 client against the KO simulator served over real HTTP, and against faults."""

from __future__ import annotations

import time

import httpx
import pytest

from serviceguide.agent.client import RetryPolicy
from serviceguide.agent.onapi import (
    OnApiClient,
    OnApiConflict,
    OnApiNotFound,
    OnApiRefused,
    OnApiUnavailable,
)
from serviceguide.simulator.app import create_simulator
from serviceguide.simulator.onapi import SimConfig
from tests.support.servers import serve_in_thread

pytestmark = pytest.mark.integration


def test_create_follow_and_repeat_an_order_against_the_simulator():
    with serve_in_thread(create_simulator(config=SimConfig(delay=0.3))) as url:
        with OnApiClient(f"{url}/SNFDMO/onapi/2.4", "sim", "sim") as ko:
            placed = ko.create_order("AB104", "AB100100", sp_reference="77")
            assert placed.created and placed.state == "RECEIVED" and placed.order_id
            again = ko.create_order("AB104", "AB100100", sp_reference="77")
            assert not again.created and again.order_id == placed.order_id  # never two
            deadline = time.monotonic() + 5
            while not ko.get_order(placed.order_id).final:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert ko.get_order(placed.order_id).state == "DONE_SUCCESS"
            with pytest.raises(OnApiConflict) as conflict:  # another broadband service
                ko.create_order("AB104", "AB250250", sp_reference="78")
            assert conflict.value.status == 409 and "claimed" in conflict.value.cause
            with pytest.raises(OnApiRefused) as refused:
                ko.create_order("NOPE", "AB100100", sp_reference="79")
            assert refused.value.status == 400 and "accessId" in refused.value.cause
            with pytest.raises(OnApiNotFound):
                ko.get_order("no-such-order")
        with OnApiClient(f"{url}/SNFDMO/onapi/2.4", "sim", "wrong") as bad:
            with pytest.raises(Exception) as e:
                bad.get_order("x")
            assert getattr(e.value, "status", None) == 401


def test_429_and_5xx_are_retried_with_back_off_then_raised():
    answers = [
        httpx.Response(429, headers={"retry-after": "4"}, json={"cause": "slow down"}),
        httpx.Response(500, json={"cause": "oops"}),
        httpx.Response(201, json={"orderId": "1", "state": "RECEIVED", "spReference": "5"}),
    ]
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return answers.pop(0) if answers else httpx.Response(503, json={"cause": "down"})

    sleeps: list[float] = []
    ko = OnApiClient(
        "http://ko/onapi/2.4",
        "u",
        "p",
        http=httpx.Client(transport=httpx.MockTransport(handler)),
        sleep=sleeps.append,
        retry=RetryPolicy(attempts=3, base=0.5, cap=10),
    )
    placed = ko.create_order("A1", "S", sp_reference="5")
    assert placed.created and placed.order_id == "1" and sleeps == [4.0, 1.0]
    assert sent[0].headers["authorization"].startswith("Basic ")
    with pytest.raises(OnApiUnavailable) as e:
        ko.get_order("1")
    assert e.value.status == 503 and e.value.cause == "down" and len(sent) == 6
