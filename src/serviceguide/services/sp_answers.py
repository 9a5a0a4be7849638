"""What a TL's ON-API answer does to its order, recorded in the transaction that records the
push's attempt (and only by the claim that holds the push, so an answer counts once, however
late it comes): ``CONFIRMED`` → ``received``, ``REJECTED`` → ``cancelled``, each with a log
entry holding the TL's ``externalMessage`` and an event (webhooks see it). An order someone has
moved on meanwhile keeps its status; the answer is still logged.

With delivery ``onapi`` the order e-mail is the fallback: once the push has had no answer for
:data:`FALLBACK_AFTER` (or has given up, or the TL's settings are gone), the mail is enqueued,
once, with a log entry saying so. The guide's answer for an order (``sp`` in the JSON answer,
the thank-you page) is read back from these log entries.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.logcodes import LogCode, LogText
from serviceguide.domain.sp import Delivery, SpAnswer, SpState
from serviceguide.domain.status import EventType, MessageType, OrderStatus
from serviceguide.observability import request_id
from serviceguide.services import changes
from serviceguide.storage import orders as order_repo
from serviceguide.storage import outbox as outbox_repo
from serviceguide.storage import sp_push as repo
from serviceguide.storage.sp_push import PushFacts

#: How long a push of a TL with delivery ``onapi`` may go unanswered before the e-mail goes.
FALLBACK_AFTER = timedelta(minutes=15)
BY = "ON-API"

#: What each answer makes of a ``new`` order.
STATUS_OF = {SpState.CONFIRMED: OrderStatus.RECEIVED, SpState.REJECTED: OrderStatus.CANCELLED}
_CODE = {SpState.CONFIRMED: LogCode.SP_CONFIRMED, SpState.REJECTED: LogCode.SP_REJECTED}


async def _log(conn: AsyncConnection, order_id: int, note: LogText, at: datetime, by: str) -> None:
    await order_repo.append_log(
        conn,
        order_id=order_id,
        at=at,
        type=MessageType.SYSTEM,
        message=note.text,
        code=note.code.value,
        params=note.params_json(),
        user_name=by,
        org_name=by,
        org_id=None,
    )


async def apply_answer(
    conn: AsyncConnection,
    facts: PushFacts,
    answer: SpAnswer,
    now: datetime,
) -> bool:
    """The order moves as the answer says if it is still ``new``; True if it moved. Inside a
    write transaction that holds the streams (``write(ordered=True)``)."""
    new = STATUS_OF[answer.state]
    params = {"xsp": str(facts.xsp), "message": answer.external_message}
    await _log(conn, facts.order_id, LogText(_CODE[answer.state], params), now, f"TL {facts.xsp}")
    moved = await order_repo.update_status(conn, facts.order_id, OrderStatus.NEW, new, now)
    if moved:
        await changes.record_event(
            conn,
            order_id=facts.order_id,
            at=now,
            type=EventType.STATUS_CHANGED,
            status=new,
            message_type=None,
            tl_org_id=facts.tl_org_id,
            ko_org_id=facts.ko_org_id,
        )
    return moved


def fallback_due(facts: PushFacts, delivery: Delivery | None, now: datetime, gave_up: bool) -> bool:
    """Whether a failed push of ``delivery`` (None: the TL's settings are gone) now needs the
    order e-mail."""
    if delivery is not None and delivery.mails_at_once:
        return False  # the mail went when the order was placed
    return delivery is None or gave_up or now - facts.created_at >= FALLBACK_AFTER


def next_try_cap(facts: PushFacts, delivery: Delivery | None, now: datetime) -> datetime | None:
    """The latest the next attempt may be, so that the fallback mail is not late: the moment it
    falls due (None: no fallback to wait for)."""
    if delivery is not Delivery.ONAPI:
        return None
    due = facts.created_at + FALLBACK_AFTER
    return due if due > now else None


async def enqueue_fallback(conn: AsyncConnection, facts: PushFacts, now: datetime) -> bool:
    """The order e-mail, once; with a log entry. True if it was enqueued now."""
    if await repo.has_mail(conn, facts.order_id):
        return False
    await outbox_repo.enqueue_mails(
        conn, [(facts.order_id, facts.tl_org_id)], now, request_id.current()
    )
    minutes = max(0, int((now - facts.created_at).total_seconds() // 60))
    note = LogText(LogCode.SP_FALLBACK_MAIL, {"xsp": str(facts.xsp), "minutes": str(minutes)})
    await _log(conn, facts.order_id, note, now, BY)
    return True


async def answers_of(conn: AsyncConnection, order_ids: Sequence[int]) -> dict[int, SpAnswer]:
    """The TL's answer to each of these pushed orders as the guide shows it (PENDING: none
    yet); orders without an ``order`` push are left out."""
    pushed = await repo.pushes_of(conn, order_ids)
    if not pushed:
        return {}
    logged = await repo.answers_logged(
        conn, list(pushed), [LogCode.SP_CONFIRMED.value, LogCode.SP_REJECTED.value]
    )
    found: dict[int, SpAnswer] = {}
    for order_id in pushed:
        if order_id not in logged:
            found[order_id] = SpAnswer(SpState.PENDING)
            continue
        code, params = logged[order_id]
        try:
            message = str(json.loads(params).get("message", ""))
        except (ValueError, AttributeError):
            message = ""
        state = SpState.CONFIRMED if code == LogCode.SP_CONFIRMED.value else SpState.REJECTED
        found[order_id] = SpAnswer(state, message)
    return found
