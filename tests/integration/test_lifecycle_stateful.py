"""The order lifecycle and its log as a Hypothesis state machine, on SQLite and PostgreSQL.

Rules place orders (``placing.place_order``, as the guide does) and call ``set_status`` and
``add_message`` through the XSP API in-process, as the TL and KO API users of the test world
(tests/support/world.py): allowed and refused transitions, the status an order already has,
other organisations' orders and orders that do not exist. The machine keeps a model of every
order (status, owner, network, customer, the changes and messages it has had) and checks, after
every step:

* the answer of each call is the one the model predicts (200, 404 for an order the caller may not
  see or that does not exist, 409 for a transition the contract's status machine refuses);
* exactly one log entry per real status change, none for a refused one or for setting the
  status the order already has, one per message (the order's log, read through the API);
* the database holds the model's statuses — so a final status (delivered, cancelled) stays
  final — and no order without its customer;
* one organisation's view through the API (``orders``, rotating over KOA, KOB, TL1, TL2) equals
  the model's orders visible to it;

and at the end of each run, for every organisation: its ``orders``, the ``order_log`` of each of
its orders (the system entries name each change in order), ``customer_info`` of each order's
customer, and its ``events`` feed (ascending ids; one ``order_created`` per order, one
``status_changed`` per change with the new status, in the order they were made, one
``message_added`` per message).

The machine is synchronous; each run owns an event loop (``asyncio.Runner``) on which the
database, the app context and the in-process client are created and used, and closes it at the
end. Every run starts from the test world, restored from a snapshot taken once per database.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from serviceguide.domain.ordering import OrderRequest
from serviceguide.domain.status import ALLOWED_TRANSITIONS, OrderStatus
from serviceguide.services import placing
from serviceguide.services.context import AppContext
from serviceguide.settings import Settings
from serviceguide.storage.db import Database
from serviceguide.storage.tables import customers, orders
from tests.conftest import _dump, _restore, empty_database, make_settings
from tests.support.world import World, build_world, customer
from tests.support.xsp import Reply, Session, XspClient

pytestmark = pytest.mark.integration

ORGS = ["KOA", "KOB", "TL1", "TL2"]
XSP = {"TL1": 1001, "TL2": 1002}
S = OrderStatus
#: The status machine as docs/api.md states it, written out here rather than taken from
#: ALLOWED_TRANSITIONS, so that the machine also checks the code's table against the contract.
DOCUMENTED_TRANSITIONS = {
    S.NEW: {S.RECEIVED, S.ACTIVE, S.WAITING, S.CANCELLED, S.DELIVERED},
    S.RECEIVED: {S.ACTIVE, S.WAITING, S.CANCELLED, S.DELIVERED},
    S.ACTIVE: {S.WAITING, S.CANCELLED, S.DELIVERED},
    S.WAITING: {S.ACTIVE, S.CANCELLED, S.DELIVERED},
    S.CANCELLED: set(),
    S.DELIVERED: set(),
}
FINAL = {S.DELIVERED, S.CANCELLED}
#: The world's accesses and the services sold on each network (tests/support/world.py).
ACCESSES = {"KOA": ["A1", "A2", "A3", "A4", "A5"], "KOB": ["B1", "B2", "B3"]}
SERVICES = {"KOA": {101: 1001, 102: 1002}, "KOB": {103: 1001}}
MESSAGE_TYPES = ["error", "alert", "system", "log"]
PLACED = "Order placed through Tjänsteguiden"
#: Orders a run places at most (the world has five): the rest of the steps move them around.
MAX_ORDERS = 12
#: Target statuses, the backward ones last: Hypothesis draws the first ones more often.
TARGETS = [
    OrderStatus.RECEIVED,
    OrderStatus.ACTIVE,
    OrderStatus.WAITING,
    OrderStatus.DELIVERED,
    OrderStatus.CANCELLED,
    OrderStatus.NEW,
]

# One world per database, as tests/conftest.py keeps it: build once, restore per run.
_snapshots: dict[str, tuple[World, dict[str, list[dict[str, Any]]]]] = {}


@dataclass
class ModelOrder:
    id: int
    xsp: int
    coid: str
    customer: int
    status: OrderStatus = OrderStatus.NEW
    changes: list[OrderStatus] = field(default_factory=list)  # the statuses it was set to
    messages: list[tuple[str, str]] = field(default_factory=list)  # (type, text)
    #: ("status", new status) or ("message", text), in the order they happened
    history: list[tuple[str, str]] = field(default_factory=list)

    def visible_to(self, org: str) -> bool:
        return self.coid == org if org.startswith("KO") else self.xsp == XSP[org]


class LifecycleMachine(RuleBasedStateMachine):
    app_settings: ClassVar[Settings]
    #: what the rules met, over all runs of a test (printed at its end)
    outcomes: ClassVar[Counter[str]]

    def __init__(self) -> None:
        super().__init__()
        self.runner = asyncio.Runner()
        self.stack = AsyncExitStack()
        self.model: dict[int, ModelOrder] = {}
        self.sessions: dict[str, Session] = {}
        self.steps = 0
        self.ctx: AppContext | None = None

    # -- plumbing ------------------------------------------------------------------------

    def run(self, coro: Any) -> Any:
        return self.runner.run(coro)

    async def _start(self) -> World:
        db = Database(self.app_settings.database_url, pool_size=2)
        self.stack.push_async_callback(db.dispose)
        self.ctx = AppContext(db=db, settings=self.app_settings)
        await empty_database(db)
        url = self.app_settings.database_url
        if url not in _snapshots:
            built = await build_world(self.ctx)
            _snapshots[url] = (built, await _dump(db))
        else:
            await _restore(db, _snapshots[url][1])
        world = _snapshots[url][0]
        client = await self.stack.enter_async_context(XspClient.in_process(self.ctx))
        for org in ORGS:
            self.sessions[org] = await client.session(world.users[org])
        return world

    def teardown(self) -> None:
        try:
            if self.ctx is not None:
                self.check_everything()
        finally:
            self.run(self.stack.aclose())
            self.runner.close()

    def call(self, org: str, method: str, **params: Any) -> Reply:
        reply: Reply = self.run(self.sessions[org].call(method, fmt="json", **params))
        return reply

    def log_of(self, order: ModelOrder) -> list[dict[str, Any]]:
        r = self.call(order.coid, "order_log", id=order.id)  # the network's KO sees every order
        assert r.code == 200, (r.code, r.response)
        return r.items("entry")

    # -- the world the run starts from -----------------------------------------------------

    @initialize()
    def start(self) -> None:
        world = self.run(self._start())
        tl_of = {"o1": 1001, "o2": 1002, "o3": 1001, "o4": 1001, "o5": 1002}
        coid_of = {"o1": "KOA", "o2": "KOA", "o3": "KOB", "o4": "KOA", "o5": "KOA"}
        customer_of = {"o1": "c1", "o2": "c2", "o3": "c3", "o4": "c4", "o5": "c4"}
        for name, order_id in world.orders.items():
            self.model[order_id] = ModelOrder(
                order_id, tl_of[name], coid_of[name], world.customers[customer_of[name]]
            )

    # -- rules ------------------------------------------------------------------------------

    @precondition(lambda self: len(self.model) < MAX_ORDERS)
    @rule(
        coid=st.sampled_from(sorted(ACCESSES)),
        data=st.data(),
        i=st.integers(0, 50),
    )
    def place_order(self, coid: str, data: st.DataObject, i: int) -> None:
        access = data.draw(st.sampled_from(ACCESSES[coid]), label="access")
        services = data.draw(
            st.lists(st.sampled_from(sorted(SERVICES[coid])), min_size=1, unique=True),
            label="services",
        )
        req = OrderRequest(
            coid=coid,
            access_id=access,
            service_ids=services,
            customer=customer(i),
            delivery=None,
            message=f"Stateful {i}",
        )
        placement = self.run(placing.place_order(self.ctx, req, notify=False))
        assert [o.service_id for o in placement.orders] == services
        for o in placement.orders:
            assert o.id not in self.model
            assert o.status == OrderStatus.NEW and o.xsp == SERVICES[coid][o.service_id]
            self.model[o.id] = ModelOrder(o.id, o.xsp, coid, placement.customer_id)
        self.outcomes["place_order"] += 1

    @rule(org=st.sampled_from(ORGS), data=st.data(), new=st.sampled_from(TARGETS))
    def set_status(self, org: str, data: st.DataObject, new: OrderStatus) -> None:
        choice = data.draw(st.sampled_from([*sorted(self.model), None]), label="order")
        if choice is None:  # an order that does not exist
            r = self.call(org, "set_status", id=max(self.model) + 1, status=new.value)
            assert r.code == 404, (r.code, r.response)
            self.outcomes["set_status of no order 404"] += 1
            return
        order = self.model[choice]
        r = self.call(org, "set_status", id=order.id, status=new.value)
        if not order.visible_to(org):
            outcome = 404
        elif new == order.status:
            outcome = 200  # the same status: no change, no entry
        elif new in DOCUMENTED_TRANSITIONS[order.status]:
            outcome = 200
            assert r.message == f"Status changed to {new.value} for order {order.id}"
            order.status = new
            order.changes.append(new)
            order.history.append(("status", new.value))
        else:
            outcome = 409
            assert order.status.value in r.message and new.value in r.message, r.message
        assert r.code == outcome, (outcome, r.code, r.response)
        self.outcomes[f"set_status {outcome}"] += 1
        # Exactly one entry per real change: the placement's, then one per change or message.
        assert len(self.log_of(order)) == 1 + len(order.history)

    @rule(
        org=st.sampled_from(ORGS),
        data=st.data(),
        mtype=st.sampled_from(MESSAGE_TYPES),
        text=st.text(
            st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), min_size=1, max_size=60
        ),
    )
    def add_message(self, org: str, data: st.DataObject, mtype: str, text: str) -> None:
        if not text.strip():
            text = "tomt"
        order = self.model[data.draw(st.sampled_from(sorted(self.model)), label="order")]
        r = self.call(org, "add_message", id=order.id, type=mtype, message=text)
        outcome = 200 if order.visible_to(org) else 404
        assert r.code == outcome, (outcome, r.code, r.response)
        self.outcomes[f"add_message {outcome}"] += 1
        if outcome == 200:
            order.messages.append((mtype, text.strip()))
            order.history.append(("message", text.strip()))
        assert len(self.log_of(order)) == 1 + len(order.history)

    @precondition(lambda self: any(o.status in FINAL for o in self.model.values()))
    @rule(data=st.data(), new=st.sampled_from(TARGETS))
    def try_to_reopen_a_final_order(self, data: st.DataObject, new: OrderStatus) -> None:
        final = sorted(i for i, o in self.model.items() if o.status in FINAL)
        order = self.model[data.draw(st.sampled_from(final), label="order")]
        r = self.call(order.coid, "set_status", id=order.id, status=new.value)
        outcome = 200 if new == order.status else 409
        assert r.code == outcome, (outcome, r.code, r.response)
        self.outcomes[f"reopen a final order {outcome}"] += 1

    # -- invariants -------------------------------------------------------------------------

    @invariant()
    def the_database_holds_the_model_and_every_order_has_its_customer(self) -> None:
        if self.ctx is None:
            return

        async def read() -> tuple[dict[int, str], int]:
            assert self.ctx
            async with self.ctx.db.read() as conn:
                rows = await conn.execute(select(orders.c.id, orders.c.status))
                statuses = {r.id: r.status for r in rows}
                orphans = await conn.execute(
                    select(func.count())
                    .select_from(orders.outerjoin(customers))
                    .where(customers.c.id.is_(None))
                )
                return statuses, orphans.scalar_one()

        statuses, orphans = self.run(read())
        assert orphans == 0
        assert statuses == {i: o.status.value for i, o in self.model.items()}

    @invariant()
    def one_organisations_view_equals_the_model(self) -> None:
        if self.ctx is None:
            return
        self.steps += 1
        self.check_orders_of(ORGS[self.steps % len(ORGS)])

    # -- the full check at the end of a run --------------------------------------------------

    def check_orders_of(self, org: str) -> None:
        r = self.call(org, "orders", since_id=0)
        assert r.code == 200, (r.code, r.response)
        seen = [(int(o["id"]), o["status"], int(o["customer"])) for o in r.items("order")]
        expected = [
            (i, o.status.value, o.customer)
            for i, o in sorted(self.model.items())
            if o.visible_to(org)
        ]
        assert seen == expected, org

    def check_everything(self) -> None:
        for org in ORGS:
            self.check_orders_of(org)
            visible = {i: o for i, o in self.model.items() if o.visible_to(org)}
            for order in visible.values():
                c = self.call(org, "customer_info", id=order.customer)
                assert c.code == 200, (org, order.id, c.response)
            r = self.call(org, "events", since_id=0)
            assert r.code == 200, (r.code, r.response)
            events = r.items("event")
            ids = [int(e["id"]) for e in events]
            assert ids == sorted(ids) and len(set(ids)) == len(ids)
            assert {int(e["order"]) for e in events} <= set(visible), org
            for order in visible.values():
                mine = [e for e in events if int(e["order"]) == order.id]
                kinds = [e["type"] for e in mine]
                assert kinds.count("order_created") == 1, (org, order.id, kinds)
                changed = [e["status"] for e in mine if e["type"] == "status_changed"]
                assert changed == [s.value for s in order.changes], (org, order.id)
                added = [e["message_type"] for e in mine if e["type"] == "message_added"]
                assert added == [t for t, _ in order.messages], (org, order.id)
        for order in self.model.values():
            entries = self.log_of(order)
            assert entries[0]["message"] == PLACED, entries[0]
            after = entries[1:]
            assert len(after) == len(order.history), (order.id, after, order.history)
            old = OrderStatus.NEW.value
            for entry, (kind, what) in zip(after, order.history, strict=True):
                if kind == "status":
                    assert entry["type"] == "system"
                    assert entry["message"].startswith(f"Status changed from {old} to {what} by ")
                    old = what
                else:
                    assert entry["message"] == what, (entry, what)


def test_the_contract_s_status_machine_is_the_code_s() -> None:
    assert {s: set(allowed) for s, allowed in ALLOWED_TRANSITIONS.items()} == DOCUMENTED_TRANSITIONS


def test_the_order_lifecycle_and_its_log_follow_the_model(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    class Machine(LifecycleMachine):
        app_settings = make_settings(database_url, tmp_path / "var")
        outcomes: ClassVar[Counter[str]] = Counter()

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=30,
            stateful_step_count=25,
            deadline=None,
            derandomize=True,
            database=None,
            # No shrinking: with a database behind each step it takes minutes. A failure
            # prints its run's steps (at most stateful_step_count) as they are.
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    with capsys.disabled():
        print(f"\n[{Machine.app_settings.database_url.split(':')[0]}] {dict(Machine.outcomes)}")
    # The runs met every kind of answer, not only refusals.
    for seen in ("set_status 200", "set_status 404", "set_status 409", "add_message 200"):
        assert Machine.outcomes[seen] > 0, (seen, Machine.outcomes)
