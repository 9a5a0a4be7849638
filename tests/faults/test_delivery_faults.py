"""SMTP and webhook receivers down, slow or failing for minutes: everything is delivered after.

Real ``serviceguide serve`` and ``serviceguide relay`` processes deliver to a real SMTP server
(aiosmtpd) and a real webhook receiver (an HTTP server checking every signature as
docs/notifications.md says), both on 127.0.0.1 and switched by the test between up, down (port
closed), failing (SMTP ``451``, HTTP ``500``/``503``) and slow (past the sender's timeout).

**Scaled time.** What an outage does to the relay is the number of failed attempts each
message makes, not the wall-clock time. The retry schedule is therefore scaled down: back-off
base 0.2 s and cap 2 s instead of 60 s and 4 h, SMTP and webhook timeouts 1 s instead of 30 s and
10 s, lease 10 s = 10 × the timeouts (the defaults' ratio, 300 s / 30 s), poll 0.2 s. After the
*n*-th failed attempt the relay waits ½–1 × min(cap, base · 2^(n-1)): 0.2, 0.4, 0.8, 1.6, then
2 s at most. An outage of ``OUTAGE`` seconds (8 by default, to keep CI short) thus costs each
message queued at its start, when the port is closed, about 4 + (OUTAGE − 3) / 1.5 failed
attempts: 8 measured for 8 s, ~9 for 10 s, ~22 for 30 s. (Against a receiver that stalls, each
attempt also takes the 1-s timeout, so there are fewer: 4–7 in 8 s.) At the defaults, 8 failed
attempts (waits of 1, 2, 4, …, 128 min) take 2.1–4.3 hours and 9 take 4.1–8.3 hours: an 8-s
closed port here puts a message through as many attempts as a 2–4-hour outage does in
production, 15 s as many as 8–16 hours. Each scenario prints the attempts it measured and that
equivalent (``default_equivalent``). Because a longer outage (see below) outlasts the default 10
attempts, ``SERVICEGUIDE_OUTBOX_MAX_ATTEMPTS`` is raised
(``MAX_ATTEMPTS``) so that nothing is given up: these tests prove that nothing is lost and
nothing duplicated while the relay retries; giving up after the last attempt is covered by
tests/integration/test_webhooks.py and test_outbox*.py.

``SERVICEGUIDE_FAULT_OUTAGE_SECONDS`` sets the outage length (e.g. ``=300`` for five real
minutes); everything else scales with it. Each scenario prints one line of figures (``make
faults`` shows them, it runs with ``-rA``) and writes them to
``var/reliability/delivery-{scenario}-{backend}.json`` in the repository.

**Exactly once, at least once.** The relay delivers every message *at least once*, and *exactly
once* unless the receiver kept a message without saying so in time: an SMTP server that has
the whole message but answers the final dot after the client's timeout, or a webhook receiver
that handles the event but answers 200 after the relay's timeout. The relay records such an
attempt as failed (it cannot know better) and sends the message again, with the same
``Message-ID``/``X-Order-ID`` or the same event ``id``. The tests assert exactly that: every
message is accepted *in time* exactly once, and every extra copy is one the receiver answered
too late (or, after a ``kill -9``, one the killed relay had in flight). A closed port, a 4xx/5xx
answer and a server that stalls before it has the whole message never cause a second copy.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select, update

from serviceguide.domain.personnummer import with_check_digit
from serviceguide.settings import Settings
from serviceguide.storage.db import sync_url
from serviceguide.storage.tables import events, outbox, outbox_attempts, webhook_endpoints
from tests.e2e.conftest import Deployment, Server
from tests.e2e.test_relay_process import relay_process
from tests.support.receivers import (
    SwitchableSmtp,
    WebhookReceiver,
    switchable_smtp,
    webhook_receiver,
)

REPO = Path(__file__).resolve().parents[2]

#: The outage every scenario injects, in seconds of wall-clock time.
OUTAGE = float(os.environ.get("SERVICEGUIDE_FAULT_OUTAGE_SECONDS", "8"))
BACKOFF_BASE = 0.2
BACKOFF_CAP = 2.0
TIMEOUT = 1.0  # SMTP and webhook
LEASE = 10 * TIMEOUT
POLL = 0.2
#: Slow receivers answer this much later than asked: well past the timeout.
SLOW = TIMEOUT + 1.0
#: Far more attempts than an outage of OUTAGE seconds can use up (at most one per BACKOFF_CAP/2).
MAX_ATTEMPTS = max(100, 4 * int(OUTAGE / (BACKOFF_CAP / 2)))
#: After the receivers are back, everything must be delivered within this long: the longest
#: back-off, plus a lease (scenario d), plus slack for slow CI machines.
RECOVERY = 2 * BACKOFF_CAP + LEASE + 20.0

SCALED = {
    "SERVICEGUIDE_OUTBOX_BACKOFF_BASE_SECONDS": str(BACKOFF_BASE),
    "SERVICEGUIDE_OUTBOX_BACKOFF_CAP_SECONDS": str(BACKOFF_CAP),
    "SERVICEGUIDE_OUTBOX_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
    "SERVICEGUIDE_OUTBOX_LEASE_SECONDS": str(LEASE),
    "SERVICEGUIDE_OUTBOX_POLL_SECONDS": str(POLL),
    "SERVICEGUIDE_SMTP_TIMEOUT_SECONDS": str(TIMEOUT),
    "SERVICEGUIDE_WEBHOOK_TIMEOUT_SECONDS": str(TIMEOUT),
    "SERVICEGUIDE_GUIDE_RATE": "0",  # bursts of orders from one address
}


def default_equivalent(failed_attempts: int) -> tuple[float, float]:
    """Hours the default schedule takes for a message to fail this many times and be tried
    again: the sum of the first ``failed_attempts`` back-offs, at the least and the most."""
    fields = Settings.model_fields
    base = float(fields["outbox_backoff_base_seconds"].default)
    cap = float(fields["outbox_backoff_cap_seconds"].default)
    full = sum(min(cap, base * 2 ** (k - 1)) for k in range(1, failed_attempts + 1))
    return full / 2 / 3600, full / 3600


# -- the system: orders, logins, the outbox ----------------------------------------------------


@dataclass(frozen=True)
class Pick:
    service: int
    coid: str
    access: str
    xsp: int
    email: str


def picks(demo: dict[str, Any]) -> list[Pick]:
    """The demo's (service, access) pairs, round-robin over services so that every TL and
    network gets orders; services activated directly by a network are left out (their KO is a
    simulator that is not running here)."""
    by_service: dict[int, list[Pick]] = {}
    for tl in demo["tls"]:
        for svc in tl["services"]:
            if svc["direct_activation"]:
                continue
            for access in demo["accesses"]:
                if access["coid"] == svc["coid"]:
                    by_service.setdefault(svc["id"], []).append(
                        Pick(svc["id"], svc["coid"], access["accessId"], tl["xsp"], tl["email"])
                    )
    return [p for group in itertools.zip_longest(*by_service.values()) for p in group if p]


class Orders:
    """Places orders through the guide's JSON API of a running server, like a browser does."""

    def __init__(self, deployment: Deployment, base_url: str) -> None:
        self.choices = itertools.cycle(picks(deployment.demo))
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.placed: dict[int, Pick] = {}
        self._serial = itertools.count(len(deployment.demo.get("orders", [])) + 100)

    def place(self, count: int) -> list[int]:
        ids = []
        for _ in range(count):
            pick, i = next(self.choices), next(self._serial)
            r = self.http.post(
                "/api/guide/orders",
                json={
                    "coid": pick.coid,
                    "accessId": pick.access,
                    "services": [pick.service],
                    "customer": {
                        "firstname": "Fault",
                        "surname": f"Test{i}",
                        "serial": with_check_digit(f"850101{i % 1000:03d}"),
                        "email": f"kund{i}@example.se",
                        "phone": "070-1234567",
                    },
                    "delivery": "asap",
                    "confirm_duplicate": True,  # generated customers may repeat
                },
            )
            assert r.status_code == 201, r.text
            (order,) = r.json()["orders"]
            self.placed[order["id"]] = pick
            ids.append(order["id"])
        return ids

    def close(self) -> None:
        self.http.close()


class Xsp:
    """The XSP order API of a running server, with one login per API user."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.hashes: dict[int, str] = {}

    def call(self, user: dict[str, Any], method: str, **params: Any) -> dict[str, Any]:
        if user["api_user"] not in self.hashes:
            r = self.http.post(
                "/plain/serviceguide_log",
                data={
                    "method": "api_login",
                    "api_user": user["api_user"],
                    "api_key": user["api_key"],
                    "output_format": "json",
                },
            )
            assert r.status_code == 200, r.text
            self.hashes[user["api_user"]] = r.json()["api_login"]["response"]["hash_key"]
        data = {"method": method, "hash": self.hashes[user["api_user"]], "output_format": "json"}
        r = self.http.post("/plain/serviceguide_log", data={**data, **params})
        assert r.status_code == 200, r.text
        return dict(r.json()[method]["response"])

    def events(self, user: dict[str, Any], since_id: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            got = self.call(user, "events", since_id=since_id).get("event") or []
            out += got
            if len(got) < 1000:
                return out
            since_id = got[-1]["id"]

    def close(self) -> None:
        self.http.close()


@contextmanager
def db(deployment: Deployment) -> Iterator[Any]:
    engine = create_engine(sync_url(deployment.database_url))
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


#: The outbox kinds that go to the SMTP server: the TLs' order mails and the customers' receipts.
SMTP_KINDS = ("mail", "receipt")


@dataclass
class OutboxState:
    states: Counter[tuple[str, str]]  # (kind, state) → rows
    outcomes: Counter[str]  # attempt outcome → attempts
    errors: Counter[str]  # the error texts of failed attempts, shortened
    attempts: dict[int, list[str]]  # outbox id → outcomes, in order
    rows: dict[int, Any]  # outbox id → row

    def unfinished(self) -> dict[tuple[str, str], int]:
        return {k: n for k, n in self.states.items() if k[1] != "delivered"}

    def of_kind(self, *kinds: str) -> list[Any]:
        return [r for r in self.rows.values() if r.kind in kinds]


def read_outbox(deployment: Deployment, since_id: int = 0) -> OutboxState:
    """Every outbox row above ``since_id`` and its attempts, straight from the database."""
    with db(deployment) as conn:
        rows = {r.id: r for r in conn.execute(select(outbox).where(outbox.c.id > since_id))}
        attempts: dict[int, list[str]] = {i: [] for i in rows}
        errors: Counter[str] = Counter()
        q = (
            select(outbox_attempts.c.outbox_id, outbox_attempts.c.outcome, outbox_attempts.c.error)
            .where(outbox_attempts.c.outbox_id > since_id)
            .order_by(outbox_attempts.c.id)
        )
        for a in conn.execute(q):
            attempts[a.outbox_id].append(a.outcome)
            if a.outcome != "delivered":
                errors[re.sub(r"\d+", "N", (a.error or "")[:60])] += 1
    return OutboxState(
        states=Counter((r.kind, r.state) for r in rows.values()),
        outcomes=Counter(o for log in attempts.values() for o in log),
        errors=errors,
        attempts=attempts,
        rows=rows,
    )


def last_ids(deployment: Deployment) -> tuple[int, int]:
    """The largest outbox id and event id so far (a scenario looks only at what follows)."""
    with db(deployment) as conn:
        return (
            conn.execute(select(func.coalesce(func.max(outbox.c.id), 0))).scalar_one(),
            conn.execute(select(func.coalesce(func.max(events.c.id), 0))).scalar_one(),
        )


def wait_until(condition: Callable[[], bool], within: float, what: str) -> float:
    """Poll until ``condition()``; returns when (time.time()); fails the test after ``within``."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {within:.0f} s: {what}")
        time.sleep(0.05)
    return time.time()


def all_delivered(deployment: Deployment, since_id: int) -> Callable[[], bool]:
    def check() -> bool:
        state = read_outbox(deployment, since_id)
        return bool(state.rows) and not state.unfinished()

    return check


def register_webhook(deployment: Deployment, owner: list[str], url: str) -> tuple[int, str]:
    """``serviceguide webhooks register``; the endpoint's id and its secret."""
    out = deployment.run("webhooks", "register", *owner, url).stdout
    found = re.search(r"endpoint (\d+)\b.*?(whsec_\S+)", out, re.S)
    assert found, out
    return int(found.group(1)), found.group(2)


@pytest.fixture(scope="module")
def guide(deployment: Deployment) -> Iterator[Server]:
    """A ``serviceguide serve`` without a relay, for placing orders and the XSP API, shared by
    the scenarios whose deliveries are made by ``serviceguide relay`` processes."""
    with deployment.serving(1, SERVICEGUIDE_RELAY_IN_SERVE="0", **SCALED) as (server,):
        yield server


def disable_webhooks(deployment: Deployment, endpoint_ids: list[int]) -> None:
    """What ``serviceguide webhooks disable`` does, without a second per command."""
    with db(deployment) as conn:
        conn.execute(
            update(webhook_endpoints)
            .where(webhook_endpoints.c.id.in_(endpoint_ids))
            .values(active=False)
        )
        conn.commit()


class Phases:
    """The outage's timeline: ``at(fraction)`` sleeps until that fraction of OUTAGE has passed."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.started_at = time.time()

    def at(self, fraction: float) -> None:
        time.sleep(max(0.0, self.start + fraction * OUTAGE - time.monotonic()))

    def seconds(self) -> float:
        return time.monotonic() - self.start


def report(scenario: str, backend: str, figures: dict[str, Any]) -> None:
    """One line on stdout (``make faults`` shows it) and a JSON file for docs/RELIABILITY.md."""
    failed = figures.get("max_failed_attempts_per_message", 0)
    lo, hi = default_equivalent(failed)
    figures = {
        "scenario": scenario,
        "backend": backend,
        **figures,
        "default_schedule_equivalent_hours": [round(lo, 2), round(hi, 2)],
        "settings": {
            "outage_seconds": OUTAGE,
            "backoff_base_seconds": BACKOFF_BASE,
            "backoff_cap_seconds": BACKOFF_CAP,
            "timeout_seconds": TIMEOUT,
            "lease_seconds": LEASE,
            "max_attempts": MAX_ATTEMPTS,
        },
    }
    line = ", ".join(f"{k}={v}" for k, v in figures.items() if k not in ("settings", "errors"))
    print(f"[reliability] {line}")
    out = REPO / "var" / "reliability"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"delivery-{scenario}-{backend}.json").write_text(json.dumps(figures, indent=2) + "\n")


def attempt_figures(state: OutboxState, *kinds: str) -> dict[str, Any]:
    rows = state.of_kind(*kinds)
    failed_per_row = [sum(1 for o in state.attempts[r.id] if o != "delivered") for r in rows]
    return {
        "failed_attempts": sum(failed_per_row),
        "lost_attempts": sum(state.attempts[r.id].count("lost") for r in rows),
        "max_failed_attempts_per_message": max(failed_per_row, default=0),
        "min_failed_attempts_per_message": min(failed_per_row, default=0),
    }


def assert_outbox_finished(state: OutboxState) -> None:
    """Every message of the scenario delivered: none failed, pending or still claimed."""
    assert state.rows, "the scenario queued nothing"
    assert not state.unfinished(), f"not delivered: {state.unfinished()}"
    assert all(r.delivered_at is not None for r in state.rows.values())


def assert_mail_exactly_once_in_time(smtp: SwitchableSmtp, placed: dict[int, Any]) -> int:
    """Every order's mail accepted in time exactly once, to its TL, with its Order-ID; extra
    copies only those the server answered too late, all with the same Message-ID. Returns the
    number of extra copies."""
    got = smtp.by_order()
    assert set(got) == set(placed), (
        f"missing: {sorted(set(placed) - set(got))}, unknown: {sorted(set(got) - set(placed))}"
    )
    extra = 0
    message_ids = set()
    for order_id, copies in got.items():
        pick = placed[order_id]
        in_time = [c for c in copies if not c.late]
        assert len(in_time) == 1, (order_id, [(c.mode, c.late) for c in copies])
        extra += len(copies) - 1
        assert {c.message_id for c in copies} == {copies[0].message_id}, order_id
        for c in copies:
            assert c.received.rcpt_tos == [pick.email]
            assert c.order_id == order_id
            assert f"Order-ID: {order_id}" in c.received.text().splitlines()
            assert c.received.message["Subject"].startswith(f"Ny beställning {order_id}: ")
        message_ids.add(copies[0].message_id)
    assert len(message_ids) == len(placed), "two orders' mails share a Message-ID"
    return extra


# -- (a) SMTP port closed while a burst of orders is placed ------------------------------------


def test_a_smtp_port_closed_during_a_burst_of_orders(deployment: Deployment):
    """The SMTP server's port is closed while customers place orders through the guide of a
    ``serve --workers 2`` whose two workers each run a relay; it opens after OUTAGE seconds.
    Every order's mail then arrives exactly once (a refused connection never carries a
    message), with the right Order-ID, and the outbox holds nothing undelivered."""
    outbox_before, _ = last_ids(deployment)
    with (
        switchable_smtp(SLOW, mode="down") as smtp,
        deployment.serving(2, SERVICEGUIDE_SMTP_URL=smtp.url, **SCALED) as (server,),
    ):
        orders = Orders(deployment, server.base_url)
        try:
            phases = Phases()
            orders.place(8)  # a burst as the outage starts
            phases.at(0.5)
            orders.place(8)  # and another in its middle
            phases.at(1.0)
            smtp.set_mode("up")
            outage = phases.seconds()
            up_at = time.time()
            done_at = wait_until(
                all_delivered(deployment, outbox_before), RECOVERY, "every mail after the outage"
            )
        finally:
            orders.close()
        time.sleep(4 * POLL)  # a relay that would send something twice has had its chance
    state = read_outbox(deployment, outbox_before)
    assert_outbox_finished(state)
    extra = assert_mail_exactly_once_in_time(smtp, orders.placed)
    assert extra == 0, "a closed port never carries a message: no copy may arrive twice"
    assert len(state.of_kind("mail")) == len(orders.placed)
    figures = attempt_figures(state, "mail")
    assert figures["lost_attempts"] == 0
    assert figures["min_failed_attempts_per_message"] >= 1, "the outage did not hit every mail"
    report(
        "a-smtp-port-closed",
        deployment.backend,
        {
            "orders": len(orders.placed),
            "mails_received": len(smtp.messages()),
            "duplicates": extra,
            **figures,
            "outage_s": round(outage, 1),
            "delivered_all_within_s_of_recovery": round(done_at - up_at, 1),
            "errors": dict(state.errors),
        },
    )


# -- (b) SMTP answering 4xx, then slow, then healthy -------------------------------------------


def test_b_smtp_temporary_failures_then_slow_then_healthy(deployment: Deployment, guide: Server):
    """Two ``serviceguide relay`` processes; the SMTP server answers each message with ``451``
    for the first third of the outage, stalls before taking the message (``RCPT`` answered
    after the timeout) for the second, and for the last takes each message but answers the
    final dot after the client's timeout; then it is healthy. Orders are placed at the start of
    each phase.

    Every order's mail is accepted in time exactly once. The only extra copies are those the
    server kept in the last phase without saying so in time, and they carry the same
    Message-ID (the at-least-once case, unavoidable for any SMTP client). Every attempt the
    server refused or answered too late is one failed attempt in the relay's log."""
    outbox_before, _ = last_ids(deployment)
    server = guide
    with switchable_smtp(SLOW, mode="tempfail") as smtp:
        env = {**deployment.env, **SCALED, "SERVICEGUIDE_SMTP_URL": smtp.url}
        orders = Orders(deployment, server.base_url)
        try:
            with relay_process(deployment, env, "b1"), relay_process(deployment, env, "b2"):
                phases = Phases()
                orders.place(6)
                phases.at(1 / 3)
                smtp.set_mode("tarpit")
                orders.place(4)
                phases.at(2 / 3)
                smtp.set_mode("slow-ack")
                orders.place(4)
                phases.at(1.0)
                smtp.set_mode("up")
                outage = phases.seconds()
                up_at = time.time()
                done_at = wait_until(
                    all_delivered(deployment, outbox_before), RECOVERY, "every mail after it"
                )
                time.sleep(4 * POLL)
        finally:
            orders.close()
    state = read_outbox(deployment, outbox_before)
    assert_outbox_finished(state)
    extra = assert_mail_exactly_once_in_time(smtp, orders.placed)
    late = [c for c in smtp.messages() if c.late and c.order_id]  # order mails, not receipts
    assert extra == len(late), "a copy beyond those answered too late"
    # The server sees the customers' receipts as well as the TLs' order mails.
    figures = attempt_figures(state, *SMTP_KINDS)
    assert figures["lost_attempts"] == 0
    seen = smtp.seen
    assert seen["tempfail"] and seen["tarpit"] and seen["slow-ack"], seen
    # Each refusal, stall and late answer the server saw is one failed attempt in the log.
    assert figures["failed_attempts"] == seen["tempfail"] + seen["tarpit"] + seen["slow-ack"], (
        seen,
        state.errors,
    )
    report(
        "b-smtp-4xx-then-slow",
        deployment.backend,
        {
            "orders": len(orders.placed),
            "mails_received": len(smtp.messages()),
            "duplicates": extra,
            "refused_451": seen["tempfail"],
            "stalled_before_data": seen["tarpit"],
            "accepted_but_answered_late": seen["slow-ack"],
            **figures,
            "outage_s": round(outage, 1),
            "delivered_all_within_s_of_recovery": round(done_at - up_at, 1),
            "errors": dict(state.errors),
        },
    )


# -- (c) webhook receiver down, failing, slow, then healthy ------------------------------------


def test_c_webhook_receiver_down_then_failing_then_slow(deployment: Deployment, guide: Server):
    """A TL's and a KO's webhook endpoints on one receiver, two ``serviceguide relay``
    processes. The receiver is down (port closed) while orders are placed, answers 500/503
    while the KOs set the orders' status over the XSP API, and answers 200 only after the
    relay's timeout while the TLs add messages; then it is healthy.

    Every event each endpoint may see (exactly the events its organisation's XSP ``events``
    feed lists) arrives with a valid signature and the feed's type, order and status, and is
    accepted in time exactly once; the only extra deliveries are those the receiver answered
    too late, with the same event id."""
    outbox_before, event_before = last_ids(deployment)
    demo = deployment.demo
    tl = demo["tls"][0]
    ko = next(k for k in demo["kos"] if k["coid"] == picks(demo)[0].coid)
    endpoints: list[int] = []
    with ExitStack() as stack:
        receiver: WebhookReceiver = stack.enter_context(webhook_receiver(SLOW, mode="down"))
        for path, owner in (("tl", ["--xsp", str(tl["xsp"])]), ("ko", ["--coid", ko["coid"]])):
            endpoint_id, receiver.secrets[path] = register_webhook(
                deployment, owner, receiver.url(path)
            )
            endpoints.append(endpoint_id)
        # Registered endpoints outlive the test in the module's database: disable them at the end.
        stack.callback(disable_webhooks, deployment, endpoints)
        server = guide
        env = {**deployment.env, **SCALED}  # mail goes to .eml files: only webhooks are tested
        orders = Orders(deployment, server.base_url)
        stack.callback(orders.close)
        xsp = Xsp(server.base_url)
        stack.callback(xsp.close)
        kos = {k["coid"]: k for k in demo["kos"]}
        tls = {t["xsp"]: t for t in demo["tls"]}
        stack.enter_context(relay_process(deployment, env, "c1"))
        stack.enter_context(relay_process(deployment, env, "c2"))

        phases = Phases()
        placed = orders.place(10)
        phases.at(1 / 3)
        receiver.set_mode("failing")
        for order_id in placed:
            pick = orders.placed[order_id]
            xsp.call(kos[pick.coid], "set_status", id=order_id, status="received")
        phases.at(2 / 3)
        receiver.set_mode("slow")
        for order_id in placed:
            pick = orders.placed[order_id]
            xsp.call(tls[pick.xsp], "add_message", id=order_id, type="log", message="Fel test")
        phases.at(1.0)
        receiver.set_mode("up")
        outage = phases.seconds()
        up_at = time.time()
        done_at = wait_until(
            all_delivered(deployment, outbox_before), RECOVERY, "every delivery after it"
        )
        time.sleep(4 * POLL)
        feeds = {"tl": xsp.events(tl, event_before), "ko": xsp.events(ko, event_before)}

    state = read_outbox(deployment, outbox_before)
    assert_outbox_finished(state)
    deliveries = receiver.received()
    assert all(d.signature_ok for d in deliveries), [d for d in deliveries if not d.signature_ok]
    by_event = receiver.by_event()
    extra = 0
    for path, feed in feeds.items():
        assert {e["type"] for e in feed} == {"order_created", "status_changed", "message_added"}
        expected = {e["id"]: e for e in feed}
        got = {event_id for (p, event_id) in by_event if p == path}
        assert got == set(expected), (path, sorted(set(expected) ^ got))
        for event_id, event in expected.items():
            calls = by_event[(path, event_id)]
            in_time = [d for d in calls if d.accepted_in_time]
            assert len(in_time) == 1, (path, event_id, [(d.mode, d.status) for d in calls])
            late = [d for d in calls if d.late]
            extra += len(late)
            assert len(calls) == 1 + len(late) + sum(1 for d in calls if d.mode == "failing")
            for d in calls:
                assert d.body is not None and d.event_type == event["type"]
                assert (d.body["type"], d.body["order"], d.body["status"]) == (
                    event["type"],
                    event["order"],
                    event["status"],
                )
                assert d.body.get("message_type") == event["message_type"]
    assert len(state.of_kind("webhook")) == len(feeds["tl"]) + len(feeds["ko"])
    figures = attempt_figures(state, "webhook")
    assert figures["lost_attempts"] == 0
    modes = Counter(d.mode for d in deliveries)
    refused = figures["failed_attempts"] - modes["failing"] - modes["slow"]
    assert refused > 0, "the closed port refused no attempt"
    report(
        "c-webhooks-down-5xx-slow",
        deployment.backend,
        {
            "events": len(feeds["tl"]) + len(feeds["ko"]),
            "requests_received": len(deliveries),
            "duplicates": extra,
            "connection_refused": refused,
            "answered_5xx": modes["failing"],
            "answered_late": modes["slow"],
            **figures,
            "outage_s": round(outage, 1),
            "delivered_all_within_s_of_recovery": round(done_at - up_at, 1),
            "errors": dict(state.errors),
        },
    )


# -- (d) the relay killed with SIGKILL mid-outage, and restarted -------------------------------

KILL_LEASE = 4 * TIMEOUT
KILL_BATCH = 8  # one wave of the relay's 8 parallel deliveries: a claim lasts ~TIMEOUT


def kill_a_relay_holding_claims(
    deployment: Deployment,
    env: dict[str, str],
    outbox_before: int,
    smtp: SwitchableSmtp,
    phases: Phases,
) -> set[int]:
    """Start a relay; half-way through the outage switch the SMTP server to stalling; SIGKILL
    the relay just after it has claimed mails (so it dies with deliveries in flight). Returns
    the outbox ids it held. If its attempts happened to end in the instant before the kill
    (nothing held), a new relay is started and killed the same way."""
    for tag in itertools.count(1):
        with relay_process(deployment, env, f"doomed-{tag}") as doomed:
            phases.at(0.5)
            smtp.set_mode("tarpit")

            def just_claimed() -> bool:
                # Claimed less than 0.4 s ago: its attempt stalls for TIMEOUT (1 s) in all.
                recent = time.time() - KILL_LEASE - 0.4
                return any(
                    r.state == "delivering" and r.claimed_until.timestamp() > recent
                    for r in read_outbox(deployment, outbox_before).of_kind(*SMTP_KINDS)
                )

            wait_until(just_claimed, max(10.0, OUTAGE), "the relay to claim mails in the stall")
            os.killpg(doomed.pid, signal.SIGKILL)
            doomed.wait(10)
        held = {
            r.id
            for r in read_outbox(deployment, outbox_before).of_kind(*SMTP_KINDS)
            if r.state == "delivering"
        }
        if held or tag == 3:
            return held
    raise AssertionError("unreachable")


def test_d_relay_killed_mid_outage_and_restarted(deployment: Deployment, guide: Server):
    """One ``serviceguide relay`` (lease KILL_LEASE s); the SMTP port is closed for the first
    half of the outage, then the server stalls every connection before it has the message. In
    the stall, while the relay holds claims on messages it is trying to send, it is killed
    with SIGKILL and a new relay is started at once. When the server is healthy again every
    mail is delivered exactly once — nothing lost: the new relay takes over the dead one's
    claims when their lease expires (logged as ``lost`` attempts) — and none twice, because
    nothing had reached the server when the relay died."""
    outbox_before, _ = last_ids(deployment)
    settings = {
        **SCALED,
        "SERVICEGUIDE_OUTBOX_LEASE_SECONDS": str(KILL_LEASE),
        "SERVICEGUIDE_OUTBOX_BATCH_SIZE": str(KILL_BATCH),
    }
    server = guide
    with switchable_smtp(SLOW, mode="down") as smtp:
        env = {**deployment.env, **settings, "SERVICEGUIDE_SMTP_URL": smtp.url}
        orders = Orders(deployment, server.base_url)
        try:
            phases = Phases()
            orders.place(12)
            held = kill_a_relay_holding_claims(deployment, env, outbox_before, smtp, phases)
            killed_at = phases.seconds()
            assert held, "no relay could be killed while it held a claim"
            with relay_process(deployment, env, "restarted") as restarted:
                phases.at(1.0)
                smtp.set_mode("up")
                outage = phases.seconds()
                up_at = time.time()
                done_at = wait_until(
                    all_delivered(deployment, outbox_before), RECOVERY, "every mail after it"
                )
                time.sleep(4 * POLL)
                restarted.terminate()
                assert restarted.wait(15) == 0
        finally:
            orders.close()
    state = read_outbox(deployment, outbox_before)
    assert_outbox_finished(state)
    extra = assert_mail_exactly_once_in_time(smtp, orders.placed)
    assert extra == 0, "nothing had reached the server when the relay died"
    figures = attempt_figures(state, *SMTP_KINDS)
    lost = {i for i, log in state.attempts.items() if "lost" in log}
    assert lost == held, "the killed relay's claims are the lost attempts, no others"
    assert all(state.attempts[i].count("lost") == 1 for i in held)
    report(
        "d-relay-killed",
        deployment.backend,
        {
            "orders": len(orders.placed),
            "mails_received": len(smtp.messages()),
            "duplicates": extra,
            "claims_held_at_kill": len(held),
            **figures,
            "killed_at_s": round(killed_at, 1),
            "outage_s": round(outage, 1),
            "delivered_all_within_s_of_recovery": round(done_at - up_at, 1),
            "errors": dict(state.errors),
        },
    )


# -- (e) a webhook receiver that answers, but too slowly to finish -----------------------------

DRIP_LEASE = 4 * TIMEOUT


def test_e_a_receiver_dripping_its_answer_is_cut_off_at_the_timeout(
    deployment: Deployment, guide: Server
):
    """A TL's endpoint answers at once but sends its 12-byte answer one byte every 0.5 s: each
    read is within the 1-s timeout, the whole answer takes 6 s, longer than the lease (4 s).
    The KO's endpoint on the same orders is healthy. Two relays.

    ``SERVICEGUIDE_WEBHOOK_TIMEOUT_SECONDS`` is documented as the "timeout per request", and the
    lease must outlast every attempt, or another relay takes the message over while it is still
    being sent (docs/notifications.md). So each attempt must end within about the timeout; no
    claim may expire under a relay that is still delivering (no ``lost`` attempt); and the
    healthy endpoint's events must not wait behind the dripping one. When the TL's receiver is
    healthy again, everything is delivered."""
    outbox_before, _ = last_ids(deployment)
    demo = deployment.demo
    tl = demo["tls"][0]
    ko = next(k for k in demo["kos"] if k["coid"] == picks(demo)[0].coid)
    settings = {
        **SCALED,
        "SERVICEGUIDE_OUTBOX_LEASE_SECONDS": str(DRIP_LEASE),
        "SERVICEGUIDE_OUTBOX_BATCH_SIZE": str(KILL_BATCH),
    }
    with ExitStack() as stack:
        dripping: WebhookReceiver = stack.enter_context(webhook_receiver(SLOW, mode="drip"))
        healthy: WebhookReceiver = stack.enter_context(webhook_receiver(SLOW, mode="up"))
        endpoints = []
        for receiver, owner in (
            (dripping, ["--xsp", str(tl["xsp"])]),
            (healthy, ["--coid", ko["coid"]]),
        ):
            endpoint_id, receiver.secrets["hook"] = register_webhook(
                deployment, owner, receiver.url("hook")
            )
            endpoints.append(endpoint_id)
        stack.callback(disable_webhooks, deployment, endpoints)
        server = guide
        env = {**deployment.env, **settings}
        orders = Orders(deployment, server.base_url)
        stack.callback(orders.close)
        stack.enter_context(relay_process(deployment, env, "e1"))
        stack.enter_context(relay_process(deployment, env, "e2"))
        phases = Phases()
        placed_at = time.time()
        placed = [o for o in orders.place(8) if orders.placed[o].coid == ko["coid"]]
        assert placed, "no order on the KO's network"

        def ko_has_all() -> bool:
            return {d.body["order"] for d in healthy.received() if d.body} >= set(placed)

        ko_done = wait_until(ko_has_all, RECOVERY, "the healthy endpoint's events")
        phases.at(1.0)
        dripping.set_mode("up")
        outage = phases.seconds()
        done_at = wait_until(
            all_delivered(deployment, outbox_before), RECOVERY, "every delivery after it"
        )
        time.sleep(4 * POLL)
    state = read_outbox(deployment, outbox_before)
    with db(deployment) as conn:
        durations = [
            d
            for (d,) in conn.execute(
                select(outbox_attempts.c.duration_ms).where(
                    outbox_attempts.c.outbox_id > outbox_before,
                    outbox_attempts.c.outcome != "lost",
                )
            )
        ]
    figures = attempt_figures(state, "webhook")
    accepted = Counter(d.event_id for d in dripping.received() if d.accepted_in_time and d.event_id)
    report(
        "e-webhook-dripping-answer",
        deployment.backend,
        {
            "requests_to_dripping": len(dripping.received()),
            "longest_attempt_ms": max(durations),
            **figures,
            "healthy_endpoint_done_after_s": round(ko_done - placed_at, 1),
            "outage_s": round(outage, 1),
            "delivered_all_after_s": round(done_at - placed_at, 1),
        },
    )
    assert_outbox_finished(state)
    assert max(durations) <= (TIMEOUT + 0.5) * 1000, "an attempt outlasted the timeout"
    assert figures["lost_attempts"] == 0, "a claim expired while its relay was still delivering"
    assert all(n == 1 for n in accepted.values())
    assert ko_done - placed_at <= 2 * TIMEOUT + 2, "healthy deliveries waited behind a slow one"
