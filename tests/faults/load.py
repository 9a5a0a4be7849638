"""Load for the fault tests: customers placing orders through the guide's JSON API and a service
provider moving its orders through their statuses over the XSP API, each from its own thread,
every request's outcome written down — what was acknowledged is what must survive.

Afterwards :func:`check_stored` reads the database directly and holds it against the record:
every acknowledged order is stored with its customer, every stored customer has all the orders
it asked for (nothing half-written), every stored order has its event and its mail in the
outbox, and every status change that was acknowledged is stored — with one log entry and one
event per change that was stored. A change that was not acknowledged may or may not have been
stored — no answer came, or the answer was a 503, which the server also gives when the database
went away during the commit — but no order is ever beyond the one change in doubt.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import create_engine, select

from serviceguide.domain.personnummer import normalise, with_check_digit
from serviceguide.storage.db import sync_url
from serviceguide.storage.tables import customers, events, order_log, orders, outbox

XSP = "/plain/serviceguide_log"
#: The statuses a service provider's automation moves an order through.
LIFECYCLE = ["received", "active", "delivered"]


@dataclass
class Answer:
    """One request and what came back (``code`` None: no answer — the server was gone)."""

    what: str
    code: int | None
    body: str = ""
    #: Seconds from sending the request to its answer (or to giving up on it).
    took: float = 0.0
    #: Without an answer: the kind of failure (``ConnectError``: refused, never sent).
    error: str = ""
    at: float = field(default_factory=time.monotonic)


@dataclass
class Record:
    answers: list[Answer] = field(default_factory=list)
    #: email → number of services asked for (every order attempted, answered or not).
    asked: dict[str, int] = field(default_factory=dict)
    #: email → order ids in the 201 answer.
    placed: dict[str, list[int]] = field(default_factory=dict)
    #: order id → statuses acknowledged by set_status, in order.
    acked: dict[int, list[str]] = field(default_factory=dict)
    #: order id → a status asked for whose outcome the client cannot know (at most one per
    #: order): no answer came, or a 503 — the database may have committed the change and gone
    #: away before it could say so, so the server could not know either.
    uncertain: dict[int, str] = field(default_factory=dict)
    #: Every personnummer sent, as entered (YYMMDDNNNN).
    serials: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, answer: Answer) -> None:
        with self.lock:
            self.answers.append(answer)

    def codes(self) -> Counter[int | None]:
        return Counter(a.code for a in self.answers)

    def errors(self) -> Counter[str]:
        """Requests without an answer, by the kind of failure."""
        return Counter(a.error for a in self.answers if a.code is None)


def _failed(e: httpx.HTTPError) -> str:
    """The kind of failure, for the record. A refused connection (the server is stopping or
    gone) also pauses the client a little, as a real one would, rather than spin."""
    if isinstance(e, httpx.ConnectError):
        time.sleep(0.01)
    return type(e).__name__


class Load:
    """Threads placing orders and changing statuses against ``base_url`` until stopped."""

    def __init__(self, base_url: str, demo: dict[str, Any], tag: str, *, orderers: int = 3):
        self.base_url = base_url
        self.demo = demo
        self.tag = tag
        self.record = Record()
        self.stop = threading.Event()
        self._serial = itertools.count(1)
        tl = demo["tls"][0]
        self.tl_login = (tl["api_user"], tl["api_key"])
        plain = [s for t in demo["tls"] for s in t["services"] if not s["direct_activation"]]
        own = [s for s in tl["services"] if not s["direct_activation"]]
        self.by_coid: dict[str, list[int]] = {}
        for s in plain:
            self.by_coid.setdefault(s["coid"], []).append(s["id"])
        self.accesses = [a for a in demo["accesses"] if a["coid"] in self.by_coid]
        self.own = [(s["id"], s["coid"]) for s in own]
        self.threads = [
            threading.Thread(target=self._orderer, daemon=True) for _ in range(orderers)
        ] + [threading.Thread(target=self._provider, daemon=True)]

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def wait_under_way(self, deadline: float = 30.0) -> None:
        """Until the burst is under way: orders placed and statuses moving (or ``deadline``
        seconds have passed; the test's own checks then say what is missing)."""
        until = time.monotonic() + deadline
        while time.monotonic() < until and not (
            len(self.record.placed) >= 10 and len(self.record.acked) >= 2
        ):
            time.sleep(0.05)

    # -- customers -----------------------------------------------------------------------

    def _body(self, n: int, services: list[int], coid: str) -> tuple[str, dict[str, Any]]:
        here = [a for a in self.accesses if a["coid"] == coid]
        access = here[n % len(here)]
        email = f"{self.tag}{n}@example.se"
        return email, {
            "coid": coid,
            "accessId": access["accessId"],
            "services": services,
            "customer": {
                "firstname": "Fel",
                "surname": f"Tålig{n}",
                "serial": with_check_digit(f"8{n % 10}0101{n % 1000:03d}"),
                "email": email,
                "phone": "070-1112233",
            },
            "delivery": "asap",
            "confirm_duplicate": True,  # generated customers may repeat
        }

    def _place(self, http: httpx.Client, services: list[int], coid: str) -> list[int] | None:
        n = next(self._serial)
        email, body = self._body(n, services, coid)
        with self.record.lock:
            self.record.asked[email] = len(services)
            self.record.serials.add(body["customer"]["serial"])
        sent = time.monotonic()
        try:
            r = http.post("/api/guide/orders", json=body)
        except httpx.HTTPError as e:
            self.record.add(Answer("order", None, took=time.monotonic() - sent, error=_failed(e)))
            return None
        self.record.add(Answer("order", r.status_code, r.text, time.monotonic() - sent))
        if r.status_code != 201:
            return None
        ids = [o["id"] for o in r.json()["orders"]]
        with self.record.lock:
            self.record.placed[email] = ids
        return ids

    def _orderer(self) -> None:
        coids = itertools.cycle(sorted(self.by_coid))
        with httpx.Client(base_url=self.base_url, timeout=10) as http:
            while not self.stop.is_set():
                coid = next(coids)
                services = self.by_coid[coid][: 1 + next(self._serial) % 2]
                self._place(http, services, coid)

    # -- the service provider ------------------------------------------------------------

    def _login(self, http: httpx.Client) -> str | None:
        api_user, api_key = self.tl_login
        sent = time.monotonic()
        try:
            r = http.get(XSP, params={"method": "api_login", "api_user": api_user,
                                      "api_key": api_key, "output_format": "json"})  # fmt: skip
        except httpx.HTTPError as e:
            self.record.add(Answer("login", None, took=time.monotonic() - sent, error=_failed(e)))
            return None
        self.record.add(Answer("login", r.status_code, r.text, time.monotonic() - sent))
        if r.status_code != 200:
            return None
        return str(r.json()["api_login"]["response"]["hash_key"])

    def _provider(self) -> None:
        """Place an order for the TL's own service, then move it through LIFECYCLE."""
        with httpx.Client(base_url=self.base_url, timeout=10) as http:
            the_hash = None
            own = itertools.cycle(self.own)
            while not self.stop.is_set():
                the_hash = the_hash or self._login(http)
                if the_hash is None:
                    time.sleep(0.05)
                    continue
                service, coid = next(own)
                ids = self._place(http, [service], coid)
                for status in LIFECYCLE if ids else []:
                    if self.stop.is_set() or not self._set(http, the_hash, ids[0], status):
                        break

    def _set(self, http: httpx.Client, the_hash: str, order_id: int, status: str) -> bool:
        params = {"method": "set_status", "hash": the_hash, "id": order_id, "status": status}
        sent = time.monotonic()
        try:
            r = http.get(XSP, params={**params, "output_format": "json"})
        except httpx.HTTPError as e:
            self.record.add(Answer("status", None, took=time.monotonic() - sent, error=_failed(e)))
            with self.record.lock:
                self.record.uncertain[order_id] = status
            return False
        self.record.add(Answer("status", r.status_code, r.text, time.monotonic() - sent))
        if r.status_code == 503:
            with self.record.lock:
                self.record.uncertain[order_id] = status
        if r.status_code != 200:
            return False
        with self.record.lock:
            self.record.acked.setdefault(order_id, []).append(status)
        return True


@dataclass
class Stored:
    customers: int
    order_ids: set[int]
    status_changes: int
    #: Customers and status changes stored although their request got no success answer.
    unacknowledged_customers: int
    unacknowledged_changes: int


def check_stored(database_url: str, record: Record) -> Stored:
    """Hold the database against the record (see the module's docstring); returns counts."""
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            return _check(conn, record)
    finally:
        engine.dispose()


def _check(conn: Any, record: Record) -> Stored:
    emails = list(record.asked)
    found = {
        r.email: r.id
        for r in conn.execute(
            select(customers.c.id, customers.c.email).where(customers.c.email.in_(emails))
        )
    }
    rows = conn.execute(
        select(orders.c.id, orders.c.customer_id, orders.c.status).where(
            orders.c.customer_id.in_(list(found.values()))
        )
    ).all()
    by_customer: dict[int, list[int]] = {}
    status_of: dict[int, str] = {}
    for r in rows:
        by_customer.setdefault(r.customer_id, []).append(r.id)
        status_of[r.id] = r.status
    # Every acknowledged order is stored, with its customer.
    for email, ids in record.placed.items():
        assert email in found, f"acknowledged order of {email} lost"
        assert sorted(by_customer.get(found[email], [])) == sorted(ids), email
    # Nothing half-written: a stored customer has every order it asked for.
    for email, cid in found.items():
        assert len(by_customer.get(cid, [])) == record.asked[email], (email, by_customer.get(cid))
    order_ids = list(status_of)
    created = Counter(
        r.order_id
        for r in conn.execute(
            select(events.c.order_id).where(
                events.c.order_id.in_(order_ids), events.c.type == "order_created"
            )
        )
    )
    changed = Counter(
        r.order_id
        for r in conn.execute(
            select(events.c.order_id).where(
                events.c.order_id.in_(order_ids), events.c.type == "status_changed"
            )
        )
    )
    logged = Counter(
        r.order_id
        for r in conn.execute(
            select(order_log.c.order_id).where(
                order_log.c.order_id.in_(order_ids),
                order_log.c.message.like("Status changed from %"),
            )
        )
    )
    mails = Counter(
        r.order_id
        for r in conn.execute(
            select(outbox.c.order_id).where(
                outbox.c.order_id.in_(order_ids), outbox.c.kind == "mail"
            )
        )
    )
    for oid in order_ids:
        assert created[oid] == 1, (oid, created[oid])
        assert mails[oid] == 1, (oid, mails[oid])
    # Every acknowledged status change is stored, and nothing beyond it but the one change whose
    # outcome was uncertain; one event and one log entry per change stored.
    in_doubt_stored = 0
    for oid, stored in status_of.items():
        acked = record.acked.get(oid, [])
        if oid in record.uncertain:
            allowed = [(acked or ["new"])[-1], record.uncertain[oid]]
        else:
            allowed = acked[-1:] or ["new"]
        assert stored in allowed, (oid, acked, record.uncertain.get(oid), stored)
        in_doubt_stored += oid in record.uncertain and stored == record.uncertain[oid]
        n = 0 if stored == "new" else LIFECYCLE.index(stored) + 1
        assert changed[oid] == n, (oid, stored, changed[oid])
        assert logged[oid] == n, (oid, stored, logged[oid])
    total_changes = sum(changed.values())
    return Stored(
        len(found),
        set(order_ids),
        total_changes,
        unacknowledged_customers=len(found.keys() - record.placed.keys()),
        unacknowledged_changes=in_doubt_stored,
    )


def personnummer_forms(serials: set[str]) -> set[str]:
    """Each personnummer the ways it can be written: YYMMDDNNNN, YYMMDD-NNNN, YYYYMMDDNNNN,
    YYYYMMDD-NNNN."""
    forms = set()
    for serial in serials:
        full = normalise(serial)
        forms |= {full, full[2:], f"{full[2:8]}-{full[8:]}", f"{full[:8]}-{full[8:]}"}
    return forms


def assert_no_personnummer(where: str, text: str, serials: set[str]) -> None:
    found = sorted(f for f in personnummer_forms(serials) if f in text)
    assert not found, f"personnummer {found[:3]} in {where}"
