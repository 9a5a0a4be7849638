"""The automation loop, one TL: what docs/concepts.md calls the TL's part of the ordering flow
(poll, import, ``received``, activate on the KO's ON-API, ``active``, ``delivered``).

Each pass: poll ``orders`` after the cursor and remember the new ones (cursor and rows in one
SQLite transaction, so nothing is skipped), then move every unfinished order as far as it goes
(see ``state.py`` for the states). A transient failure (XSP or ON-API down, 5xx, 429, timeout)
leaves the order where it is, for the next pass; nothing is lost or done twice:

- the sink line is written exactly once (``importing`` + offset, see ``state.py``);
- the ON-API order carries ``spReference`` = our order id, so placing it again after a crash
  returns the order the KO already has;
- ``set_status`` is idempotent on the server (the same status again changes nothing);
- before an ``add_message`` that may already have been sent (crash after sending, before
  recording), the order's log is read and the message is not sent again if it is there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from serviceguide.agent.client import (
    Conflict,
    NotFound,
    OrderInfo,
    RetryPolicy,
    XspClient,
    XspError,
    XspUnavailable,
)
from serviceguide.agent.config import AgentConfig
from serviceguide.agent.locks import OrderLocks
from serviceguide.agent.onapi import (
    OnApiClient,
    OnApiConflict,
    OnApiError,
    OnApiNotFound,
    OnApiRefused,
    OnApiUnavailable,
)
from serviceguide.agent.state import FINAL, AgentState, OrderRow, Sink, Step

log = logging.getLogger("serviceguide.agent")


#: Seconds the loop leaves a pushed and confirmed order ``new`` for the portal to move it to
#: ``received`` itself, before it sets ``active`` anyway.
PORTAL_GRACE = 30.0


class Fatal(Exception):
    """The agent cannot go on (bad credentials, unusable state): exit code 1."""


@dataclass
class Outcome:
    """What one pass did to one order, for the status table."""

    order_id: int
    before: str
    after: str
    note: str = ""


@dataclass
class PassReport:
    polled: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    transient: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


class Agent:
    def __init__(
        self,
        config: AgentConfig,
        *,
        xsp: XspClient | None = None,
        onapi: Callable[[str], OnApiClient] | None = None,
        stop: threading.Event | None = None,
        stale_after: float = 86400.0,
        locks: OrderLocks | None = None,
        quick: float | None = None,
    ) -> None:
        """``locks`` are shared with the threads that answer the portal's pushes. ``quick``:
        this instance answers a push, so every call to the XSP API or a KO gives up after
        ``quick`` seconds and is not retried (the loop retries it next pass)."""
        self.config = config
        self.stale_after = stale_after  # seconds an ON-API order may stay unfinished
        self.state = AgentState(config.state_path)
        self.sink = Sink(config.sink_path)
        self.stop = stop or threading.Event()
        self.locks = locks or OrderLocks()
        self._quick = quick
        # Back-off waits end early on SIGTERM, so that stopping never waits for a retry.
        self.xsp = xsp or XspClient(
            config.api.base_url,
            config.api.api_user,
            config.api.api_key,
            fmt="json",
            sleep=self.stop.wait,
            timeout=quick or 30.0,
            retry=RetryPolicy(attempts=1) if quick else None,
        )
        self._onapi_factory = onapi
        self._onapi: dict[str, OnApiClient] = {}

    def close(self) -> None:
        self.xsp.close()
        for c in self._onapi.values():
            c.close()
        self.state.close()

    def onapi(self, coid: str) -> OnApiClient:
        if coid not in self._onapi:
            net = self.config.networks[coid]
            self._onapi[coid] = (
                self._onapi_factory(coid)
                if self._onapi_factory
                else OnApiClient(
                    net.url,
                    net.username,
                    net.password,
                    sleep=self.stop.wait,
                    timeout=self._quick or 15.0,
                    retry=RetryPolicy(attempts=1) if self._quick else None,
                )
            )
        return self._onapi[coid]

    # -- the pass ---------------------------------------------------------------------------------

    def run_pass(self) -> PassReport:
        report = PassReport()
        try:
            report.polled = self.poll()
        except XspUnavailable as e:
            # Every step needs the XSP API; the orders wait for the next pass.
            report.transient.append(f"polling orders: {e}")
            log.warning("XSP API unavailable, next pass: %s", e, extra={"error": str(e)})
            report.counts = self.state.counts()
            return report
        except XspError as e:
            if e.code == 401:
                raise Fatal(f"the XSP API refuses the credentials: {e.message}") from e
            report.transient.append(f"polling orders: {e}")
            log.warning("polling orders failed: %s", e)
        for row in self.state.pending():
            if self.stop.is_set():
                break
            if not self.locks.acquire(row.id):
                continue  # a push is moving it right now; whatever is left, next pass
            try:
                fresh = self.state.get(row.id)
                if fresh is None or fresh.step in FINAL:
                    continue
                if not self._pass_one(fresh, report):
                    break
            finally:
                self.locks.release(row.id)
        report.counts = self.state.counts()
        return report

    def _pass_one(self, row: OrderRow, report: PassReport) -> bool:
        """Move one order in a pass; False when the rest of the pass must wait (XSP down)."""
        before = row.step
        note = ""
        try:
            row, note = self.advance(row)
        except XspUnavailable as e:
            row = self.state.get(row.id) or row
            report.transient.append(f"order {row.id}: {e}")
            report.outcomes.append(Outcome(row.id, before.value, row.step.value, str(e)))
            log.warning(
                "XSP API unavailable, the rest waits for the next pass: %s",
                e,
                extra={"order": row.id, "step": row.step.value},
            )
            return False
        except OnApiUnavailable as e:
            note = f"retry later: {e}"
            report.transient.append(f"order {row.id}: {e}")
            log.warning(
                "order %s: transient failure, retried next pass: %s",
                row.id,
                e,
                extra={"order": row.id, "step": row.step.value},
            )
        except XspError as e:
            if e.code == 401:
                raise Fatal(f"the XSP API refuses the credentials: {e.message}") from e
            note = f"retry later: {e}"
            report.transient.append(f"order {row.id}: {e}")
            log.warning("order %s: %s", row.id, e, extra={"order": row.id})
        row = self.state.get(row.id) or row  # a step may have moved before a failure
        if row.step != before or note:
            report.outcomes.append(Outcome(row.id, before.value, row.step.value, note))
        return True

    def poll(self) -> int:
        """Remember the orders after the cursor, page by page; returns how many."""
        n = 0
        page: list[tuple[int, str]] = []
        for order in self.xsp.iter_orders(self.state.cursor(), limit=500):
            page.append((order.id, order.status))
            if len(page) >= 500:
                self.state.record_seen(page)
                n += len(page)
                page = []
        self.state.record_seen(page)
        n += len(page)
        if n:
            log.info("%d new orders", n, extra={"new_orders": n})
        return n

    def advance(
        self, row: OrderRow, *, push: bool = False, stop_at: frozenset[Step] = frozenset()
    ) -> tuple[OrderRow, str]:
        """Move one order through as many steps as it can go now; returns it and a note.
        ``push``: the portal is waiting for the answer and records ``received`` itself, so the
        agent does not; ``stop_at``: steps the caller takes from here."""
        note = ""
        for _ in range(12):  # bounded: every step either moves on or returns
            if self.stop.is_set() or row.step in stop_at:
                break
            step = row.step
            try:
                note = self._step(row, push) or note
            except _Settled:
                note = "settled by someone else"
            except NotFound as e:
                self.state.update(row.id, Step.MANUAL, followup=1, reason=f"not visible: {e}")
                note = f"not visible: {e.message}"
            fresh = self.state.get(row.id)
            assert fresh is not None
            row = fresh
            if row.step == step:
                break
            log.info(
                "order %s: %s → %s",
                row.id,
                step.value,
                row.step.value,
                extra={"order": row.id, "from": step.value, "to": row.step.value},
            )
        return row, note

    def _step(self, row: OrderRow, push: bool = False) -> str:
        if row.step == Step.IMPORTED:
            return self._receive(row, write=not push)
        handler = {
            Step.SEEN: self._import,
            Step.IMPORTING: self._recover_import,
            Step.IMPORTED: self._receive,
            Step.RECEIVED: self._place,
            Step.ONAPI_PLACED: self._activate,
            Step.ACTIVE: self._follow,
            Step.FAILING: self._fail,
            Step.ALERTING: self._alert,
        }.get(row.step)
        return handler(row) if handler else ""

    # -- steps ------------------------------------------------------------------------------------

    def _import(
        self, row: OrderRow, info: OrderInfo | None = None, pushed: dict[str, Any] | None = None
    ) -> str:
        """Write the order and its customer to the sink (``info``: already read; ``pushed``:
        what the portal's push said about it, kept beside it)."""
        info = info or self.xsp.order_info(row.id)
        customer = self.xsp.customer_info(info.customer)
        offset = self.sink.size()
        self.state.update(
            row.id,
            Step.IMPORTING,
            sink_offset=offset,
            xsp_status=info.status,
            coid=info.coid,
            service_uid=info.service_uid,
            socket=info.socket,
            delivery=info.delivery,
        )
        record = {
            "order_id": info.id,
            "order": asdict(info),
            "customer": asdict(customer),
            "imported_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if pushed:
            record["pushed"] = pushed
        self.sink.append(record)
        self.state.update(row.id, Step.IMPORTED)
        return "imported"

    def _recover_import(self, row: OrderRow) -> str:
        if self.sink.written_since(row.sink_offset or 0, row.id):
            self.state.update(row.id, Step.IMPORTED)
            return "import recovered"
        self.state.update(row.id, Step.SEEN)
        return ""

    def _receive(self, row: OrderRow, write: bool = True) -> str:
        status = row.xsp_status
        if status == "delivered":
            self.state.update(row.id, Step.DELIVERED)
            return "already delivered (direct activation): imported only"
        if status == "cancelled":
            self.state.update(row.id, Step.CANCELLED)
            return "cancelled before import: imported only"
        if status == "waiting":
            self.state.update(row.id, Step.WAITING, followup=1, reason="was waiting when imported")
            return "waiting when imported: follow-up"
        if status == "active":
            # Someone is handling it already (by hand, or the KO on the TL's request); an
            # ACTIVATE of ours could order the service a second time, or be refused as a
            # conflict and put an error on an order that is fine. A person finishes it.
            self.state.update(
                row.id,
                Step.MANUAL,
                followup=1,
                reason="was active when imported: handled elsewhere, not activated again",
            )
            return "active when imported: imported only, follow-up"
        if status in ("new", "received") and write:
            self._set_status(row, "received")
        self.state.update(row.id, Step.RECEIVED)
        return ""

    def _place(self, row: OrderRow) -> str:
        net = self.config.networks.get(row.coid)
        if net is None:
            return self._to_alert(
                row,
                f"Tjänsteleverantörens agent har ingen ON-API-konfiguration för nätet {row.coid}; "
                "ordern hanteras manuellt. (No ON-API configured for this network.)",
            )
        service = net.services.get(row.service_uid)
        if service is None:
            return self._to_alert(
                row,
                f"Tjänsten {row.service_uid} saknar koppling till en ON-API-tjänst hos {row.coid}; "
                "ordern hanteras manuellt. (No ON-API service mapped.)",
            )
        try:
            placed = self.onapi(row.coid).create_order(
                row.socket, service, sp_reference=str(row.id), requested=_requested(row.delivery)
            )
        except (OnApiRefused, OnApiConflict, OnApiNotFound) as e:
            return self._to_failing(row, f"ON-API refused the order ({e.status}): {e.cause}")
        if not placed.order_id and placed.state == "DONE_SUCCESS":
            self.state.update(
                row.id, Step.ONAPI_PLACED, onapi_order_id="", onapi_state=placed.state
            )
            return f"{service} already active on {row.socket}"
        self.state.update(
            row.id, Step.ONAPI_PLACED, onapi_order_id=placed.order_id, onapi_state=placed.state
        )
        return (
            "placed" if placed.created else "found existing"
        ) + f" ON-API order {placed.order_id}"

    def _activate(self, row: OrderRow) -> str:
        if (
            row.pushed
            and row.answer == "CONFIRMED"
            and _age(row.step_since) < PORTAL_GRACE
            and self.xsp.order_info(row.id).status == "new"
        ):
            # The portal moves the order to ``received`` when it gets our CONFIRMED; setting
            # ``active`` first would leave it no way there (nothing returns to ``received``).
            return "waiting for the portal to record its answer"
        self._set_status(row, "active")
        self.state.update(row.id, Step.ACTIVE)
        return ""

    def _follow(self, row: OrderRow) -> str:
        if row.onapi_order_id:
            try:
                order = self.onapi(row.coid).get_order(row.onapi_order_id)
            except OnApiNotFound as e:
                return self._to_failing(
                    row, f"ON-API order {row.onapi_order_id} is gone: {e.cause}"
                )
            state, message = order.state, order.message
        else:
            state, message = row.onapi_state or "DONE_SUCCESS", ""
        if state == "DONE_SUCCESS":
            self._set_status(row, "delivered")
            self.state.update(row.id, Step.DELIVERED, onapi_state=state)
            return "delivered"
        if state == "DONE_FAILED":
            return self._to_failing(
                row,
                f"ON-API order {row.onapi_order_id} failed (DONE_FAILED)"
                + (f": {message}" if message else ""),
            )
        if state != row.onapi_state:
            self.state.update(row.id, Step.ACTIVE, onapi_state=state)
        if not row.followup and _age(row.step_since) > self.stale_after:
            # A KO that never finishes: keep following, but a person should look.
            age = _age(row.step_since)
            reason = f"ON-API order {row.onapi_order_id} still {state} after {age:.0f} s"
            self.state.update(row.id, Step.ACTIVE, followup=1, reason=reason)
            log.warning("order %s: %s", row.id, reason, extra={"order": row.id})
            return reason
        return f"ON-API {state}"

    def _to_failing(self, row: OrderRow, reason: str) -> str:
        self.state.update(row.id, Step.FAILING, reason=reason, message_type="error", followup=1)
        return reason

    def _to_alert(self, row: OrderRow, reason: str) -> str:
        self.state.update(row.id, Step.ALERTING, reason=reason, message_type="alert", followup=1)
        return reason

    def _fail(self, row: OrderRow) -> str:
        self._add_message_once(row, row.reason, "error")
        self._set_status(row, "waiting")
        self.state.update(row.id, Step.WAITING)
        return "waiting, flagged for follow-up"

    def _alert(self, row: OrderRow) -> str:
        self._add_message_once(row, row.reason, "alert")
        self.state.update(row.id, Step.MANUAL)
        return "alert sent, flagged for follow-up"

    # -- XSP writes -------------------------------------------------------------------------------

    def _add_message_once(self, row: OrderRow, text: str, kind: str) -> None:
        """``add_message`` is not idempotent: after a crash it may already be in the log."""
        if any(e.type == kind and e.message == text.strip() for e in self.xsp.order_log(row.id)):
            return
        self.xsp.add_message(row.id, text, kind)

    def _set_status(self, row: OrderRow, status: str) -> None:
        try:
            self.xsp.set_status(row.id, status)
        except Conflict as e:
            # Someone else moved the order (the KO cancelled it, staff delivered it…).
            current = self.xsp.order_info(row.id).status
            if current == status:
                return
            if current in ("cancelled", "delivered"):
                self.state.update(
                    row.id,
                    Step.CANCELLED if current == "cancelled" else Step.DELIVERED,
                    xsp_status=current,
                )
                raise _Settled from e
            self.state.update(
                row.id, Step.MANUAL, followup=1, reason=f"set_status {status}: {e.message}"
            )
            raise _Settled from e
        except NotFound as e:
            self.state.update(row.id, Step.MANUAL, followup=1, reason=f"order not visible: {e}")
            raise _Settled from e


class _Settled(XspError):
    """The order was settled by someone else while we worked; the state says how."""

    def __init__(self) -> None:
        super().__init__("settled elsewhere", 0, "")


def _requested(delivery: str) -> str | None:
    """A requested delivery date as ON-API's requestedDateTime (start of day, Stockholm)."""
    if not delivery or delivery == "asap":
        return None
    try:
        from zoneinfo import ZoneInfo

        day = datetime.strptime(delivery, "%Y-%m-%d").replace(tzinfo=ZoneInfo("Europe/Stockholm"))
    except ValueError:
        return None
    return day.isoformat()


def _age(stamp: str) -> float:
    try:
        since = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return 0.0
    return (datetime.now(UTC) - since).total_seconds()


def snapshot(row: OrderRow) -> dict[str, Any]:
    return {k: (v.value if isinstance(v, Step) else v) for k, v in asdict(row).items()}


__all__ = ["Agent", "Fatal", "OnApiError", "PassReport", "snapshot"]
