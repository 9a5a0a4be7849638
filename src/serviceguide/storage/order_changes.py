"""Changing an order on PostgreSQL in one statement: ``set_status`` and ``add_message``.

Each change writes to the order, its log, the event stream and the webhook outbox, and takes the
stream lock (storage.db.STREAM_LOCK_KEY) so that ``since_id`` polling never skips its event.
Written as a transaction of separate statements, the lock was held for half a dozen round trips,
each waiting for a busy event loop, and every change on every server queued behind them
(docs/performance.md). Here each change is one statement (in the driver's ``$n`` spelling),
run without an explicit transaction on the write pool (``Database.single_statement``, as placing
an order is; the polling reads keep their own pool, so writes queueing for the lock never take
their connections): it takes the lock first, reads the order, checks the transition, writes
everything and commits; the lock is held for that statement and its commit only.

The statement's snapshot is taken before it waits for the lock, so the order's row is read
``FOR UPDATE`` (``set_status``) or updated (``add_message``): PostgreSQL then works on the
newest committed version of the row, whatever committed while the statement waited, exactly as
a read after taking the lock did. The lock always comes before the row lock, the order every
other stream write keeps, so two changes cannot deadlock.

SQLite keeps the transaction of separate statements (services.orders): it has one writer at a
time anyway, and its statements are calls in the process, not round trips.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from serviceguide.domain.logcodes import LogCode, LogText
from serviceguide.domain.model import Caller, OrgKind
from serviceguide.domain.status import (
    ALLOWED_TRANSITIONS,
    EventType,
    MessageType,
    OrderStatus,
)
from serviceguide.storage.db import STREAM_LOCK_KEY
from serviceguide.storage.direct import Sql

_SCOPE = {OrgKind.TL: "tl_org_id", OrgKind.KO: "ko_org_id"}

# The webhook deliveries of the events in ``ev`` (order_id, id, tl_org_id, ko_org_id): one per
# active endpoint of the order's TL or KO that subscribes to the event's type.
_HOOKS = """
hooks AS (
    INSERT INTO outbox (kind, order_id, event_id, endpoint_id, state, attempts,
                        next_attempt_at, created_at, request_id)
    SELECT 'webhook', ev.order_id, ev.id, e.id, 'pending', 0, $NOW, $NOW, $REQ
    FROM ev JOIN webhook_endpoints e
        ON e.active AND e.org_id IN (ev.tl_org_id, ev.ko_org_id)
        AND position(',' || ev.type || ',' IN ',' || e.event_types || ',') > 0
    ORDER BY e.id
)"""


def _hooks(now: int, req: int) -> str:
    return _HOOKS.replace("$NOW", f"${now}").replace("$REQ", f"${req}")


# $1 stream lock key, $2 order id, $3 the caller's organisation, $4 the new status, $5 the
# statuses the order may be in for this to be a change (with $6 the log text and $7 the log
# parameters for each), $8 the time, $9 the caller's name, $10 its organisation's name,
# $11 the request id. The one row: the status the order had (none: no such order).
_SET_STATUS = """
WITH lock AS (
    SELECT pg_advisory_xact_lock($1::bigint)
), cur AS (
    SELECT o.id, o.status, o.tl_org_id, o.ko_org_id
    FROM lock, orders o
    WHERE o.id = $2 AND o.{scope} = $3
    FOR UPDATE OF o
), change AS (
    SELECT cur.id, cur.tl_org_id, cur.ko_org_id, t.message, t.params
    FROM cur JOIN unnest($5::text[], $6::text[], $7::text[]) AS t(old, message, params)
        ON t.old = cur.status
), changed AS (
    UPDATE orders o SET status = $4, updated_at = $8
    FROM change
    WHERE o.id = change.id
), logged AS (
    INSERT INTO order_log (order_id, created_at, type, message, user_name, org_name, org_id,
                           code, params)
    SELECT change.id, $8, '{system}', change.message, $9, $10, $3, '{code}', change.params
    FROM change
), ev AS (
    INSERT INTO events (order_id, created_at, type, status, message_type, tl_org_id, ko_org_id)
    SELECT change.id, $8, '{event}', $4, NULL, change.tl_org_id, change.ko_org_id
    FROM change
    RETURNING order_id, id, type, tl_org_id, ko_org_id
), {hooks}
SELECT status FROM cur
"""

SET_STATUS = {
    kind: Sql.of(
        _SET_STATUS.format(
            scope=col,
            system=MessageType.SYSTEM.value,
            code=LogCode.STATUS_CHANGED.value,
            event=EventType.STATUS_CHANGED.value,
            hooks=_hooks(8, 11),
        )
    )
    for kind, col in _SCOPE.items()
}

# $1 stream lock key, $2 order id, $3 the caller's organisation, $4 the time, $5 the message
# type, $6 the message, $7 the caller's name, $8 its organisation's name, $9 the request id.
# The one row: the log entry's id (NULL: no such order).
_ADD_MESSAGE = """
WITH lock AS (
    SELECT pg_advisory_xact_lock($1::bigint)
), touched AS (
    UPDATE orders o SET updated_at = $4
    FROM lock
    WHERE o.id = $2 AND o.{scope} = $3
    RETURNING o.id, o.status, o.tl_org_id, o.ko_org_id
), logged AS (
    INSERT INTO order_log (order_id, created_at, type, message, user_name, org_name, org_id)
    SELECT touched.id, $4, $5, $6, $7, $8, $3
    FROM touched
    RETURNING id
), ev AS (
    INSERT INTO events (order_id, created_at, type, status, message_type, tl_org_id, ko_org_id)
    SELECT touched.id, $4, '{event}', touched.status, $5, touched.tl_org_id, touched.ko_org_id
    FROM touched
    RETURNING order_id, id, type, tl_org_id, ko_org_id
), {hooks}
SELECT (SELECT id FROM logged) AS id
"""

ADD_MESSAGE = {
    kind: Sql.of(
        _ADD_MESSAGE.format(scope=col, event=EventType.MESSAGE_ADDED.value, hooks=_hooks(4, 9))
    )
    for kind, col in _SCOPE.items()
}


def change_texts(
    caller: Caller, new: OrderStatus, reason: str
) -> tuple[list[str], list[str], list[str]]:
    """The statuses from which moving to ``new`` is an allowed change, with the log entry's
    text and parameters for each: the transition table, handed to the statement."""
    olds, texts, params = [], [], []
    for old in OrderStatus:
        if old == new or new not in ALLOWED_TRANSITIONS[old]:
            continue
        entry = LogText(
            LogCode.STATUS_CHANGED,
            {
                "old": old.value,
                "new": new.value,
                "who": caller.user_name,
                "org": caller.org_name,
                **({"reason": reason} if reason else {}),
            },
        )
        olds.append(old.value)
        texts.append(entry.text)
        params.append(entry.params_json())
    return olds, texts, params


def set_status_statement(
    caller: Caller,
    order_id: int,
    new: OrderStatus,
    reason: str,
    at: datetime,
    request_id: str | None,
    *,
    lock_key: int = STREAM_LOCK_KEY,
) -> tuple[Sql, Sequence[Any]]:
    """The statement of :func:`services.orders.set_status` on PostgreSQL, and its arguments."""
    olds, texts, params = change_texts(caller, new, reason)
    args = (
        lock_key,
        order_id,
        caller.org_id,
        new.value,
        olds,
        texts,
        params,
        at,
        caller.user_name,
        caller.org_name,
        request_id,
    )
    return SET_STATUS[caller.org_kind], args


def add_message_statement(
    caller: Caller,
    order_id: int,
    message: str,
    type: MessageType,
    at: datetime,
    request_id: str | None,
    *,
    lock_key: int = STREAM_LOCK_KEY,
) -> tuple[Sql, Sequence[Any]]:
    """The statement of :func:`services.orders.add_message` on PostgreSQL, and its arguments."""
    args = (
        lock_key,
        order_id,
        caller.org_id,
        at,
        type.value,
        message,
        caller.user_name,
        caller.org_name,
        request_id,
    )
    return ADD_MESSAGE[caller.org_kind], args
