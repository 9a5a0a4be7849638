"""The agent's ON-API 2.6 endpoints for the portal's push ([sp]): the real guide server over HTTP
(on SQLite and PostgreSQL), the KO simulator as the network's ON-API, the agent in this process
with its own HTTP server, and the pushes sent over real HTTP as a portal sends them."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from serviceguide.agent.config import MESSAGES, parse_config
from serviceguide.agent.runner import Agent
from serviceguide.agent.spserver import SpServer, start_sp
from serviceguide.agent.state import Step
from serviceguide.app import create_app
from serviceguide.domain.ordering import OrderRequest
from serviceguide.domain.personnummer import with_check_digit
from serviceguide.services import placing
from serviceguide.services.context import AppContext
from serviceguide.simulator.activation import Network
from serviceguide.simulator.app import create_simulator
from serviceguide.simulator.onapi import SimConfig
from tests.support.servers import ReservedPort, serve_in_thread
from tests.support.world import World, customer
from tests.support.xsp import XspClient

pytestmark = pytest.mark.integration

PORTAL = ("portal", "portal-secret")
SERIAL = with_check_digit("700101123")


def order_body(access: str, **changes: Any) -> dict[str, Any]:
    """An ON-API 2.6 ``order`` as spec_sp/order.md shows it."""
    body: dict[str, Any] = {
        "coAccessId": access,
        "operation": "ACTIVATE",
        "orderDateTime": "2026-12-03T08:31:15Z",
        "requestedDateTime": "2026-12-03T08:31:15Z",
        "products": [{"productId": "bredband", "offeringId": "bb-100-kampanj"}],
        "customerDetails": {
            "identifiedCustomer": False,
            "personalIdentityNumber": f"19{SERIAL[:6]}-{SERIAL[6:]}",
            "firstName": "Förnamn",
            "lastName": "Efternamn",
            "phone": "+46701234567",
            "email": "kund@example.se",
            "invoiceDetails": {"streetName": "A-gatan", "streetNumber": "3", "city": "Teststad"},
        },
    }
    body.update(changes)
    return body


def notice_body(access: str) -> dict[str, Any]:
    body = order_body(access, coOrderId="f3f26446f6e8407aae876ea8e52d7417")
    body["products"][0] |= {"coProduct": "S1UID", "coSubscriptionId": "sub-35738e19ab534dff"}
    return body


@contextmanager
def serve_on(app: Any, port: int) -> Iterator[str]:
    """Serve ``app`` on ``port`` (one a ``ReservedPort`` kept) until the block ends."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the simulator did not start"
        threading.Event().wait(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@dataclass
class Rig:
    """The agent with its [sp] server, and what a test looks at."""

    agent: Agent
    server: SpServer
    sim: str  # the KO simulator's root URL

    @property
    def url(self) -> str:
        return f"{self.server.url}/onapi/2.6"

    def push(
        self,
        order_id: int | str | None,
        body: Any,
        *,
        auth: Any = PORTAL,
        endpoint: str = "order/",
        raw: bytes | None = None,
    ) -> httpx.Response:
        headers = {} if order_id is None else {"X-Order-ID": str(order_id)}
        content = raw if raw is not None else json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
        return httpx.post(
            f"{self.url}/{endpoint}", content=content, headers=headers, auth=auth, timeout=30
        )

    def onapi_orders(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        with httpx.Client(auth=("sim", "sim")) as http:
            for state in ("RECEIVED", "IN_PROGRESS", "DONE_SUCCESS", "DONE_FAILED"):
                r = http.get(f"{self.sim}/KOA/onapi/2.4/orders/", params={"state": state})
                found += r.json()
        return found

    def sink(self) -> list[dict[str, Any]]:
        path = self.agent.sink.path
        if not path.exists():
            return []
        return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]

    def step(self, order_id: int) -> Step | None:
        row = self.agent.state.get(order_id)
        return row.step if row else None


@pytest.fixture
def guide(ctx: AppContext) -> Iterator[str]:
    settings = ctx.settings.model_copy(update={"relay_in_serve": False})
    with serve_in_thread(create_app(settings), lifespan=True) as api:
        yield api


def ko(*, sockets: set[str] | None = None, **config: Any) -> Any:
    network = Network("KOA", sockets if sockets is not None else {"A1", "A2", "A3", "A4", "A5"})
    return create_simulator({"KOA": network}, SimConfig(**config))


def run_rig(
    world: World,
    guide: str,
    ko_url: str,
    tmp_path: Path,
    test: Callable[[Rig], Any],
    *,
    answer_within: float = 3.0,
    sim: str | None = None,
) -> Any:
    """Build the agent and its server in a thread (the agent is synchronous), run ``test``."""
    login = world.users["TL1"]

    def run() -> Any:
        config = parse_config(
            f'[api]\nbase_url = "{guide}"\napi_user = {login.api_user}\n'
            f'api_key = "{login.api_key}"\n[state]\npath = "agent.sqlite3"\n'
            '[sink]\njsonl = "orders.jsonl"\n'
            f'[onapi.KOA]\nurl = "{ko_url}/KOA/onapi/2.4"\nusername = "sim"\npassword = "sim"\n'
            'services = { S1UID = "S1UID" }\n'
            f'[sp]\nport = 0\nusername = "{PORTAL[0]}"\npassword = "{PORTAL[1]}"\n'
            f"answer_within = {answer_within}\n",
            tmp_path,
        )
        agent = Agent(config)
        server = start_sp(agent)
        try:
            return test(Rig(agent, server, sim or ko_url))
        finally:
            server.stop()
            agent.close()

    return asyncio.to_thread(run)


async def place(ctx: AppContext, access: str, i: int) -> int:
    placed = await placing.place_order(
        ctx,
        OrderRequest(
            coid="KOA",
            access_id=access,
            service_ids=[101],
            customer=customer(i),
            delivery=None,
            message="",
        ),
    )
    return placed.orders[0].id


async def status_of(xsp: XspClient, world: World, order_id: int) -> str:
    tl1 = await xsp.session(world.users["TL1"])
    return str((await tl1.call("order_info", id=order_id)).one("order")["status"])


async def log_of(xsp: XspClient, world: World, order_id: int) -> list[dict[str, Any]]:
    tl1 = await xsp.session(world.users["TL1"])
    return list((await tl1.call("order_log", id=order_id)).items("entry"))


# -- the answers --------------------------------------------------------------------------------


async def test_a_pushed_order_is_activated_at_the_ko_and_confirmed(
    world: World, xsp: XspClient, guide: str, tmp_path: Path
):
    o4 = world.orders["o4"]  # TL1, S1 on KOA's access A3

    def test(rig: Rig) -> tuple[httpx.Response, list[Any], list[Step | None], list[Any]]:
        answer = rig.push(o4, order_body("A3"))
        steps = [rig.step(o4)]
        onapi = rig.onapi_orders()
        rig.agent.run_pass()  # the portal has not yet recorded the answer: the loop waits
        steps.append(rig.step(o4))
        rig.agent.xsp.set_status(o4, "received")  # what the portal does on CONFIRMED
        rig.agent.run_pass()  # the loop carries on: active, then delivered
        steps.append(rig.step(o4))
        return answer, onapi, steps, rig.sink()

    with serve_in_thread(ko(delay=0.0)) as sim:
        answer, onapi, steps, sink = await run_rig(world, guide, sim, tmp_path, test)
    assert answer.status_code == 200
    assert answer.json() == {
        "state": "CONFIRMED",
        "status": "CONFIRMED",
        "externalMessage": MESSAGES["confirmed"],
    }
    assert [(o["accessId"], o["service"], o["spReference"]) for o in onapi] == [
        ("A3", "S1UID", str(o4))
    ]
    assert steps == [Step.ONAPI_PLACED, Step.ONAPI_PLACED, Step.DELIVERED]
    lines = [x for x in sink if x["order_id"] == o4]
    assert len(lines) == 1  # the push imported it; the poll after it did not again
    assert lines[0]["pushed"] == {
        "coAccessId": "A3",
        "productId": "bredband",
        "offeringId": "bb-100-kampanj",
        "orderDateTime": "2026-12-03T08:31:15Z",
        "requestedDateTime": "2026-12-03T08:31:15Z",
    }
    assert lines[0]["customer"]["firstname"] == "Förnamn4"  # the guide's customer record
    assert await status_of(xsp, world, o4) == "delivered"
    statuses = [e["message"] for e in await log_of(xsp, world, o4) if e["type"] == "system"]
    assert [m.split(" to ")[1].split()[0] for m in statuses if " to " in m] == [
        "received",  # the portal's, once; then the agent's
        "active",
        "delivered",
    ], statuses


async def test_a_portal_that_does_not_record_its_answer_holds_the_order_up_only_a_while(
    world: World, xsp: XspClient, guide: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    o4 = world.orders["o4"]
    monkeypatch.setattr("serviceguide.agent.runner.PORTAL_GRACE", 0.0)  # the wait is over

    def test(rig: Rig) -> Step | None:
        assert rig.push(o4, order_body("A3")).json()["state"] == "CONFIRMED"
        rig.agent.run_pass()
        return rig.step(o4)

    with serve_in_thread(ko(delay=0.0)) as sim:
        assert await run_rig(world, guide, sim, tmp_path, test) == Step.DELIVERED
    assert await status_of(xsp, world, o4) == "delivered"


async def test_the_agent_leaves_received_to_the_portal_while_it_answers(
    world: World, xsp: XspClient, guide: str, tmp_path: Path
):
    o4 = world.orders["o4"]

    with serve_in_thread(ko(delay=0.0)) as sim:
        answer = await run_rig(
            world, guide, sim, tmp_path, lambda rig: rig.push(o4, order_body("A3"))
        )
    assert answer.json()["state"] == "CONFIRMED"
    assert await status_of(xsp, world, o4) == "new"  # nothing written before the answer


async def test_an_order_the_ko_refuses_is_rejected_with_the_kos_cause(
    world: World, xsp: XspClient, guide: str, tmp_path: Path
):
    o4 = world.orders["o4"]

    def test(rig: Rig) -> tuple[httpx.Response, Step | None, httpx.Response]:
        answer = rig.push(o4, order_body("A3"))
        rig.agent.run_pass()  # nothing left to do for it: the portal cancels it
        return answer, rig.step(o4), rig.push(o4, order_body("A3"))

    with serve_in_thread(ko(sockets={"A1"})) as sim:  # the KO does not know A3
        answer, step, again = await run_rig(world, guide, sim, tmp_path, test)
    body = answer.json()
    assert answer.status_code == 200 and body["state"] == body["status"] == "REJECTED"
    assert "Unknown accessId: 'A3'" in body["externalMessage"]
    assert body["externalMessage"].startswith("Vi kunde tyvärr inte aktivera")
    assert step == Step.CANCELLED
    assert again.json() == body  # a repeated push gets the same answer
    assert await status_of(xsp, world, o4) == "new"  # the portal's to cancel
    assert [e for e in await log_of(xsp, world, o4) if e["type"] in ("error", "alert")] == []


async def test_an_order_that_fails_at_the_ko_while_the_portal_waits_is_rejected(
    world: World, guide: str, tmp_path: Path
):
    o4 = world.orders["o4"]

    def test(rig: Rig) -> tuple[httpx.Response, Step | None]:
        return rig.push(o4, order_body("A3")), rig.step(o4)

    with serve_in_thread(ko(delay=0.4, fail_rate=1.0)) as sim:
        answer, step = await run_rig(world, guide, sim, tmp_path, test)
    assert answer.json()["state"] == "REJECTED"
    assert "Aktivering misslyckades i nätet" in answer.json()["externalMessage"]
    assert step == Step.CANCELLED


async def test_a_ko_slower_than_the_answer_is_confirmed_as_under_way(
    world: World, xsp: XspClient, guide: str, tmp_path: Path
):
    o4 = world.orders["o4"]

    def test(rig: Rig) -> tuple[httpx.Response, Step | None]:
        answer = rig.push(o4, order_body("A3"))
        rig.agent.xsp.set_status(o4, "received")  # the portal's, on CONFIRMED
        rig.agent.run_pass()
        return answer, rig.step(o4)

    with serve_in_thread(ko(delay=60.0)) as sim:
        answer, step = await run_rig(world, guide, sim, tmp_path, test, answer_within=0.5)
    assert answer.json()["state"] == "CONFIRMED"
    assert answer.json()["externalMessage"] == MESSAGES["in_progress"]
    assert step == Step.ACTIVE  # the loop follows the KO's order as any other
    assert await status_of(xsp, world, o4) == "active"


async def test_an_order_without_automation_is_confirmed_for_a_person_to_handle(
    world: World, xsp: XspClient, guide: str, tmp_path: Path
):
    o3 = world.orders["o3"]  # on KOB: the agent has no [onapi.KOB]

    def test(rig: Rig) -> tuple[httpx.Response, Step | None]:
        answer = rig.push(o3, order_body("B1"))
        rig.agent.run_pass()
        return answer, rig.step(o3)

    with serve_in_thread(ko()) as sim:
        answer, step = await run_rig(world, guide, sim, tmp_path, test)
    assert answer.json()["state"] == "CONFIRMED"
    assert answer.json()["externalMessage"] == MESSAGES["manual"]
    assert step == Step.MANUAL
    alerts = [e for e in await log_of(xsp, world, o3) if e["type"] == "alert"]
    assert len(alerts) == 1 and "KOB" in alerts[0]["message"]


# -- refused pushes -----------------------------------------------------------------------------


async def test_bad_credentials_are_401_and_nothing_is_stored(
    world: World, guide: str, tmp_path: Path
):
    o4 = world.orders["o4"]
    wrong = {
        "none": None,
        "wrong password": ("portal", "wrong"),
        "wrong user": ("someone", "portal-secret"),
        "empty password": ("portal", ""),
        "not Basic": {"Authorization": "Bearer portal-secret"},
        "not base64": {"Authorization": "Basic ***"},
    }

    def test(rig: Rig) -> tuple[dict[str, httpx.Response], Step | None, list[Any]]:
        answers = {}
        for case, auth in wrong.items():
            if isinstance(auth, dict):
                headers = auth | {"X-Order-ID": str(o4)}
                answers[case] = httpx.post(
                    f"{rig.url}/order/", json=order_body("A3"), headers=headers
                )
            else:
                answers[case] = rig.push(o4, order_body("A3"), auth=auth)
        return answers, rig.step(o4), rig.onapi_orders()

    with serve_in_thread(ko()) as sim:
        answers, step, onapi = await run_rig(world, guide, sim, tmp_path, test)
    for case, answer in answers.items():
        assert answer.status_code == 401, case
        assert answer.json() == {"cause": "Invalid credentials"}, case
        assert answer.headers["WWW-Authenticate"].startswith("Basic"), case
    assert step is None and onapi == []


def _personnummer_with_a_bad_check_digit(body: dict[str, Any]) -> None:
    good = body["customerDetails"]["personalIdentityNumber"]
    body["customerDetails"]["personalIdentityNumber"] = good[:-1] + str((int(good[-1]) + 1) % 10)


BAD_PUSHES: list[tuple[str, Any, str]] = [
    ("X-Order-ID missing", {"order_id": None}, "X-Order-ID: header missing"),
    ("X-Order-ID not a number", {"order_id": "12a"}, "X-Order-ID: must be"),
    ("X-Order-ID zero", {"order_id": "0"}, "X-Order-ID: must be"),
    ("not JSON", {"raw": b"{not json"}, "body: not valid JSON"),
    ("a JSON list", {"body": []}, "body: must be a JSON object"),
    ("no coAccessId", {"drop": "coAccessId"}, "coAccessId: missing"),
    ("another access", {"change": {"coAccessId": "A1"}}, "is for access A3, not A1"),
    ("DEACTIVATE", {"change": {"operation": "DEACTIVATE"}}, "only ACTIVATE"),
    ("a date only", {"change": {"orderDateTime": "2026-12-03"}}, "orderDateTime: must be"),
    ("no products", {"change": {"products": []}}, "products: must be a list of exactly one"),
    (
        "a bad offeringId",
        {"change": {"products": [{"productId": "p", "offeringId": "a b"}]}},
        "products[0].offeringId: must be an ON-API id",
    ),
    ("no customerDetails", {"drop": "customerDetails"}, "customerDetails: missing"),
    (
        "a personnummer with a bad check digit",
        {"edit": _personnummer_with_a_bad_check_digit},
        "customerDetails.personalIdentityNumber: not an identity number",
    ),
    ("another TL's order", {"order_id": "o2"}, "no order"),
    ("no such order", {"order_id": "999999"}, "no order 999999"),
]


async def test_a_bad_push_is_400_naming_the_problem_and_nothing_is_stored(
    world: World, guide: str, tmp_path: Path
):
    o4 = world.orders["o4"]

    def one(rig: Rig, change: dict[str, Any]) -> httpx.Response:
        body: Any = order_body("A3")
        for key, value in change.get("change", {}).items():
            body[key] = value
        if "drop" in change:
            del body[change["drop"]]
        if "edit" in change:
            change["edit"](body)
        if "body" in change:
            body = change["body"]
        order_id = change.get("order_id", o4)
        if order_id in world.orders:
            order_id = world.orders[order_id]
        return rig.push(order_id, body, raw=change.get("raw"))

    def test(rig: Rig) -> tuple[dict[str, httpx.Response], list[Any], list[Any], list[Any]]:
        answers = {case: one(rig, change) for case, change, _ in BAD_PUSHES}
        rows = rig.agent.state.db.execute("SELECT id FROM orders").fetchall()
        return answers, rows, rig.onapi_orders(), rig.sink()

    with serve_in_thread(ko()) as sim:
        answers, rows, onapi, sink = await run_rig(world, guide, sim, tmp_path, test)
    for case, _, cause in BAD_PUSHES:
        answer = answers[case]
        assert answer.status_code == 400, (case, answer.text)
        assert cause in answer.json()["cause"], (case, answer.text)
        assert SERIAL[6:] not in answer.text, case  # the customer's number is never repeated
    assert rows == [] and onapi == [] and sink == []


async def test_a_body_too_large_is_413(world: World, guide: str, tmp_path: Path):
    o4 = world.orders["o4"]
    huge = order_body("A3", padding="x" * 70_000)
    with serve_in_thread(ko()) as sim:
        answer = await run_rig(world, guide, sim, tmp_path, lambda rig: rig.push(o4, huge))
    assert answer.status_code == 413


# -- once only ----------------------------------------------------------------------------------


async def test_pushed_then_polled_and_polled_then_pushed_are_each_imported_once(
    ctx: AppContext, world: World, guide: str, tmp_path: Path
):
    pushed_first, polled_first = world.orders["o4"], await place(ctx, "A4", 7)

    def test(rig: Rig) -> tuple[list[int], list[str], dict[int, Step | None], httpx.Response]:
        assert rig.push(pushed_first, order_body("A3")).json()["state"] == "CONFIRMED"
        rig.agent.xsp.set_status(pushed_first, "received")  # the portal's, on CONFIRMED
        rig.agent.run_pass()  # polls both; imports only the one it has not seen
        late = rig.push(polled_first, order_body("A4"))  # the poll had it: answered from there
        rig.agent.run_pass()
        steps = {o: rig.step(o) for o in (pushed_first, polled_first)}
        refs = [o["spReference"] for o in rig.onapi_orders()]
        return [x["order_id"] for x in rig.sink()], refs, steps, late

    with serve_in_thread(ko(delay=0.0)) as sim:
        imported, refs, steps, late = await run_rig(world, guide, sim, tmp_path, test)
    assert imported.count(pushed_first) == 1 and imported.count(polled_first) == 1
    assert len(refs) == len(set(refs))  # the loop activates TL1's other orders too, once each
    assert {str(pushed_first), str(polled_first)} <= set(refs)
    assert late.json()["state"] == "CONFIRMED"
    assert steps == {pushed_first: Step.DELIVERED, polled_first: Step.DELIVERED}


async def test_two_pushes_of_one_order_at_once_make_one_ko_order(
    world: World, guide: str, tmp_path: Path
):
    o4 = world.orders["o4"]

    def test(rig: Rig) -> tuple[list[httpx.Response], list[Any], list[Any]]:
        answers: list[httpx.Response] = []
        threads = [
            threading.Thread(target=lambda: answers.append(rig.push(o4, order_body("A3"))))
            for _ in range(3)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return answers, rig.onapi_orders(), rig.sink()

    with serve_in_thread(ko(delay=0.3)) as sim:
        answers, onapi, sink = await run_rig(world, guide, sim, tmp_path, test)
    assert [a.json()["state"] for a in answers] == ["CONFIRMED"] * 3
    assert [o["spReference"] for o in onapi] == [str(o4)]
    assert [x["order_id"] for x in sink] == [o4]


async def test_a_ko_out_of_reach_is_503_and_a_later_push_is_answered(
    world: World, guide: str, tmp_path: Path
):
    o4 = world.orders["o4"]
    port = ReservedPort()  # the KO's port: connections refused until it serves

    def test(rig: Rig) -> tuple[httpx.Response, Step | None, httpx.Response, list[Any], list[Any]]:
        down = rig.push(o4, order_body("A3"))
        step = rig.step(o4)
        port.release()
        with serve_on(ko(delay=0.0), port.port):
            again = rig.push(o4, order_body("A3"))
            return down, step, again, rig.onapi_orders(), rig.sink()

    ko_url = f"http://127.0.0.1:{port.port}"
    down, step, again, onapi, sink = await run_rig(world, guide, ko_url, tmp_path, test)
    assert down.status_code == 503 and "push again later" in down.json()["cause"]
    assert int(down.headers["Retry-After"]) > 0
    assert step == Step.RECEIVED  # imported; the activation waits for the KO
    assert again.json()["state"] == "CONFIRMED"
    assert [o["spReference"] for o in onapi] == [str(o4)]
    assert [x["order_id"] for x in sink] == [o4]


# -- the activation notice and the rest ---------------------------------------------------------


async def test_an_activation_notice_is_acknowledged_and_recorded_once(
    world: World, guide: str, tmp_path: Path
):
    o1 = world.orders["o1"]

    def test(rig: Rig) -> tuple[list[httpx.Response], httpx.Response, list[dict[str, Any]]]:
        first = rig.push(o1, notice_body("A1"), endpoint="activationnotice/")
        repeat = rig.push(o1, notice_body("A1"), endpoint="activationnotice")
        without_id = rig.push(None, notice_body("A2"), endpoint="activationnotice/")
        bad = notice_body("A1")
        del bad["products"][0]["coSubscriptionId"]
        refused = rig.push(o1, bad, endpoint="activationnotice/")
        return [first, repeat, without_id], refused, rig.agent.state.notices()

    with serve_in_thread(ko()) as sim:
        answers, refused, notices = await run_rig(world, guide, sim, tmp_path, test)
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].content == b""  # spec_sp/ordernotice.md: an empty 200
    assert refused.status_code == 400
    assert "products[0].coSubscriptionId: missing" in refused.json()["cause"]
    by_key = {n["key"]: n for n in notices}
    assert set(by_key) == {f"order:{o1}", "co:f3f26446f6e8407aae876ea8e52d7417"}
    first = by_key[f"order:{o1}"]
    assert (first["order_id"], first["co_access_id"], first["repeats"]) == (o1, "A1", 1)
    assert first["products"][0]["coSubscriptionId"] == "sub-35738e19ab534dff"
    assert "customerDetails" not in json.dumps(notices)  # the customer comes with the import


async def test_the_endpoint_list_and_what_is_not_served(world: World, guide: str, tmp_path: Path):
    def test(rig: Rig) -> dict[str, httpx.Response]:
        with httpx.Client(auth=PORTAL) as http:
            return {
                "list": http.get(f"{rig.url}/"),
                "unknown": http.post(f"{rig.url}/contacts/", json={}),
                "outside": http.get(f"{rig.server.url}/elsewhere"),
                "get order": http.get(f"{rig.url}/order/"),
            }

    with serve_in_thread(ko()) as sim:
        r = await run_rig(world, guide, sim, tmp_path, test)
    assert r["list"].status_code == 200
    assert [(e["name"], e["endpoint"]) for e in r["list"].json()] == [
        ("order", "/onapi/2.6/order/"),
        ("activationnotice", "/onapi/2.6/activationnotice/"),
    ]
    assert r["unknown"].status_code == 501 and "contacts" in r["unknown"].json()["cause"]
    assert r["outside"].status_code == 404
    assert r["get order"].status_code == 405
