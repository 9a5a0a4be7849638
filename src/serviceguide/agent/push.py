"""The portal's pushes, handled: an ON-API 2.6 ``order`` is activated at the KO at once and
answered CONFIRMED or REJECTED; an ``activationnotice`` is recorded (docs/agent.md, "[sp]").

A pushed order goes through the same steps as a polled one (state.py), in the same state file,
so it is imported once whichever comes first: the push records the order under its
``X-Order-ID`` (the guide's order id) without moving the poll's cursor, and the poll's insert
skips an order the state already has; a push for an order the poll has already taken picks it
up where it is. The order's lock (locks.py) keeps the loop and a push off the same order at the
same moment.

The answer, from what the KO says within ``[sp] answer_within`` seconds:

- the KO has finished (DONE_SUCCESS) or the service was already active → CONFIRMED;
- the KO refused the order (400, 404, 409) or it ended DONE_FAILED → REJECTED, with the KO's
  cause in the message; the agent records the order as cancelled (the portal cancels it);
- the KO has accepted the order and is still working → CONFIRMED, "activation under way": the
  loop follows it as any other (``active``, then ``delivered``, or an error and ``waiting``);
- nothing to activate automatically (no ``[onapi.COID]`` table or no service mapping), or a
  person has the order already (follow-up) → CONFIRMED, "we will get back to you";
- the XSP API or the KO cannot be reached in time → 503: the portal keeps the order pending and
  pushes again later, and the loop carries on meanwhile (a later push is answered from there).

The agent does not set ``received`` itself for a pushed order: the portal does, on CONFIRMED,
and the loop sets ``active`` only once it has (or ``runner.PORTAL_GRACE`` seconds later).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from serviceguide.agent.client import BadRequest, NotFound, XspError, XspUnavailable
from serviceguide.agent.config import SpConfig
from serviceguide.agent.onapi import OnApiError, OnApiNotFound, OnApiUnavailable
from serviceguide.agent.runner import Agent
from serviceguide.agent.spbody import summary
from serviceguide.agent.state import OrderRow, Step

log = logging.getLogger("serviceguide.agent.sp")

CONFIRMED, REJECTED = "CONFIRMED", "REJECTED"
#: Where a push hands the order back to the caller, to answer from the KO's result.
PUSH_STOPS = frozenset({Step.ONAPI_PLACED, Step.ACTIVE, Step.FAILING, Step.ALERTING})
FOLLOW_GAP = 0.25  # seconds between two reads of the KO's order while the portal waits
CAUSE_MAX = 150


@dataclass(frozen=True)
class Answer:
    state: str  # CONFIRMED or REJECTED
    message: str  # externalMessage, for the customer

    def body(self) -> dict[str, str]:
        # spec_sp/order.md names the field ``state``, and its CONFIRMED example ``status``:
        # both are sent, so that a portal reading either finds it.
        return {"state": self.state, "status": self.state, "externalMessage": self.message}


class PushError(Exception):
    """The push cannot be answered CONFIRMED or REJECTED: ``status`` is the HTTP status."""

    def __init__(self, status: int, cause: str, retry_after: int | None = None) -> None:
        super().__init__(cause)
        self.status = status
        self.cause = cause
        self.retry_after = retry_after


class Desk:
    """One worker for the portal's pushes: an ``Agent`` of its own (its own connections to the
    state file, the XSP API and the KOs), used by one request at a time."""

    def __init__(self, agent: Agent, sp: SpConfig) -> None:
        self.agent = agent
        self.sp = sp

    def close(self) -> None:
        self.agent.close()

    # -- order ------------------------------------------------------------------------------------

    def order(self, order_id: int, doc: dict[str, Any]) -> Answer:
        deadline = time.monotonic() + self.sp.answer_within
        with self.agent.locks.hold(order_id, timeout=self.sp.answer_within) as got:
            if not got:
                raise PushError(503, "the order is being handled right now: push again", 5)
            try:
                answer = self._order(order_id, doc, deadline)
            except (XspUnavailable, OnApiUnavailable) as e:
                log.warning("order %s pushed: not answered now: %s", order_id, e)
                raise PushError(503, f"cannot be answered now, push again later: {e}", 30) from e
            except XspError as e:
                log.error("order %s pushed: the XSP API says: %s", order_id, e)
                raise PushError(503, f"cannot be answered now, push again later: {e}", 30) from e
            self.agent.state.record_answer(order_id, answer.state, answer.message)
        log.info(
            "order %s pushed: %s",
            order_id,
            answer.state,
            extra={"order": order_id, "answer": answer.state},
        )
        return answer

    def _order(self, order_id: int, doc: dict[str, Any], deadline: float) -> Answer:
        state, access = self.agent.state, doc["coAccessId"]
        row = state.get(order_id)
        if row is None or row.step == Step.SEEN:
            try:
                info = self.agent.xsp.order_info(order_id)
            except (NotFound, BadRequest):
                raise PushError(
                    400, f"X-Order-ID: no order {order_id} of this service provider"
                ) from None
            if info.socket != access:
                raise PushError(
                    400, f"coAccessId: order {order_id} is for access {info.socket}, not {access}"
                )
            state.record_pushed(order_id, info.status)
            row = state.get(order_id)
            assert row is not None
            if row.step == Step.SEEN:
                self.agent._import(row, info, pushed=summary(doc))
        else:
            if row.socket and row.socket != access:
                raise PushError(
                    400, f"coAccessId: order {order_id} is for access {row.socket}, not {access}"
                )
            state.record_pushed(order_id, row.xsp_status)
        row = state.get(order_id)
        assert row is not None
        row, _ = self.agent.advance(row, push=True, stop_at=PUSH_STOPS)
        return self._answer(row, deadline)

    def _answer(self, row: OrderRow, deadline: float) -> Answer:
        messages = self.sp.messages
        if row.step in (Step.ONAPI_PLACED, Step.ACTIVE):
            return self._follow(row, deadline)
        if row.step == Step.FAILING:  # the KO refused it
            return self._reject(row, row.reason.partition(": ")[2] or row.reason)
        if row.step == Step.DELIVERED:
            return Answer(CONFIRMED, messages["confirmed"])
        if row.step == Step.CANCELLED:
            if row.answer == REJECTED and row.answer_message:
                return Answer(REJECTED, row.answer_message)
            return self._reject(row, "ordern är avbruten")
        if row.step in (Step.ALERTING, Step.MANUAL, Step.WAITING):
            # A person takes it from here (follow-up): the order is the service provider's.
            return Answer(CONFIRMED, messages["manual"])
        # Not through the first steps (stopped meanwhile): the portal asks again.
        raise PushError(503, "the order is not yet handled: push again", 5)

    def _follow(self, row: OrderRow, deadline: float) -> Answer:
        """Wait for the KO to finish, while the portal waits for the answer."""
        messages = self.sp.messages
        state, message = row.onapi_state, ""
        while True:
            if state == "DONE_SUCCESS" or not row.onapi_order_id:
                return Answer(CONFIRMED, messages["confirmed"])
            if state == "DONE_FAILED":
                return self._reject(row, message or "DONE_FAILED")
            if time.monotonic() + FOLLOW_GAP >= deadline or self.agent.stop.wait(FOLLOW_GAP):
                return Answer(CONFIRMED, messages["in_progress"])
            try:
                order = self.agent.onapi(row.coid).get_order(row.onapi_order_id)
            except OnApiNotFound:
                # Gone at the KO: the loop records that (an error and ``waiting``).
                return Answer(CONFIRMED, messages["manual"])
            except OnApiError as e:
                if time.monotonic() < deadline:
                    log.info("order %s: reading the KO's order: %s", row.id, e)
                return Answer(CONFIRMED, messages["in_progress"])
            state, message = order.state, order.message
            if state != row.onapi_state:
                self.agent.state.update(row.id, row.step, onapi_state=state)

    def _reject(self, row: OrderRow, cause: str) -> Answer:
        cause = cause.strip() or "ingen orsak angiven"
        if len(cause) > CAUSE_MAX:
            cause = cause[: CAUSE_MAX - 1] + "…"
        message = self.sp.messages["rejected"].replace("{cause}", cause)
        self.agent.state.update(
            row.id, Step.CANCELLED, reason=row.reason or f"rejected: {cause}", message_type=""
        )
        return Answer(REJECTED, message)

    # -- activation notice ------------------------------------------------------------------------

    def notice(self, order_id: int | None, doc: dict[str, Any]) -> bool:
        """Record the notice (once per order, or per KO order id); True when it is new."""
        key = (
            f"order:{order_id}"
            if order_id is not None
            else f"co:{doc['coOrderId']}"
            if doc.get("coOrderId")
            else "subscription:" + doc["products"][0]["coSubscriptionId"]
        )
        new = self.agent.state.record_notice(key, order_id, doc)
        product = doc["products"][0]
        log.info(
            "activation notice %s: %s on %s (%s)",
            key,
            product["offeringId"],
            doc["coAccessId"],
            "new" if new else "again",
            extra={"order": order_id, "notice": key},
        )
        return new
