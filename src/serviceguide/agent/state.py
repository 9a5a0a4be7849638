"""The agent's own progress, in SQLite: the polling cursor and one row per order with where it
is in the agent's state machine. Plus the JSON-lines sink, written exactly once per order.

Order states (``Step``)::

    seen → importing → imported → received → onapi_placed → active → delivered
                          │                        │           └→ failing → waiting (follow-up)
                          │                        └→ failing → waiting (follow-up)
                          ├→ delivered  (already delivered: direct activation, import only)
                          ├→ cancelled  (cancelled before we read it, import only)
                          └→ alerting → manual (no mapping / unknown network: follow-up)

The sink is exactly-once: before appending an order's line the agent records ``importing`` with
the sink's size at that moment (``sink_offset``); after the line is written and fsynced it
records ``imported``. After a crash in between, recovery reads the sink from ``sink_offset``:
a complete line for the order means it is imported; anything else after the offset (a torn
line) is cut off and the order is written again. One agent at a time per state file (a lock).
"""

from __future__ import annotations

import contextlib
import enum
import fcntl
import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS cursor (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY,
    step TEXT NOT NULL,
    xsp_status TEXT NOT NULL DEFAULT '',
    coid TEXT NOT NULL DEFAULT '',
    service_uid TEXT NOT NULL DEFAULT '',
    socket TEXT NOT NULL DEFAULT '',
    delivery TEXT NOT NULL DEFAULT '',
    sink_offset INTEGER,
    onapi_order_id TEXT,
    onapi_state TEXT NOT NULL DEFAULT '',
    followup INTEGER NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '',
    message_type TEXT NOT NULL DEFAULT '',
    updated TEXT NOT NULL,
    step_since TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS notices (
    key TEXT PRIMARY KEY,
    order_id INTEGER,
    co_order_id TEXT NOT NULL DEFAULT '',
    co_access_id TEXT NOT NULL,
    products TEXT NOT NULL,
    order_datetime TEXT NOT NULL,
    requested_datetime TEXT NOT NULL,
    received TEXT NOT NULL,
    repeats INTEGER NOT NULL DEFAULT 0
);
"""

#: Columns added after the first release: a state file written by an older agent gets them
#: on open (``ALTER TABLE … ADD COLUMN``), with these definitions.
ADDED_COLUMNS = {
    "pushed": "TEXT NOT NULL DEFAULT ''",  # when the portal first pushed the order (UTC)
    "answer": "TEXT NOT NULL DEFAULT ''",  # the last answer to the push: CONFIRMED, REJECTED
    "answer_message": "TEXT NOT NULL DEFAULT ''",  # its externalMessage
}


class Step(enum.StrEnum):
    SEEN = "seen"
    IMPORTING = "importing"
    IMPORTED = "imported"
    RECEIVED = "received"
    ONAPI_PLACED = "onapi_placed"
    ACTIVE = "active"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    FAILING = "failing"  # an error message and `waiting` are due
    WAITING = "waiting"  # done: waiting, flagged for follow-up
    ALERTING = "alerting"  # an alert message is due
    MANUAL = "manual"  # done: alert sent, flagged for follow-up


FINAL = {Step.DELIVERED, Step.CANCELLED, Step.WAITING, Step.MANUAL}


@dataclass
class OrderRow:
    id: int
    step: Step
    xsp_status: str
    coid: str
    service_uid: str
    socket: str
    delivery: str
    sink_offset: int | None
    onapi_order_id: str | None
    onapi_state: str
    followup: bool
    reason: str
    message_type: str
    updated: str
    step_since: str  # when the order entered its current step (UTC)
    pushed: str = ""  # when the portal first pushed it over ON-API (UTC); "" if never
    answer: str = ""  # what the agent last answered the push: CONFIRMED or REJECTED
    answer_message: str = ""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class StateLocked(Exception):
    """Another agent runs with the same state file."""


class AgentState:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock: IO[str] | None = None
        # Autocommit, explicit BEGINs. One thread at a time, not always the same one: a push's
        # worker (push.py) runs in whichever thread the server gives it.
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        have = {r[1] for r in self.db.execute("PRAGMA table_info(orders)")}
        for column, definition in ADDED_COLUMNS.items():
            if column not in have:
                self.db.execute(f"ALTER TABLE orders ADD COLUMN {column} {definition}")

    def lock(self) -> None:
        """Hold an exclusive lock for this process's life; ``StateLocked`` if another has it."""
        f = open(str(self.path) + ".lock", "a", encoding="utf-8")  # noqa: SIM115 - held open
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            raise StateLocked(f"another agent is running with {self.path}") from None
        self._lock = f

    def close(self) -> None:
        self.db.close()
        if self._lock is not None:
            self._lock.close()

    # -- cursor -----------------------------------------------------------------------------------

    def cursor(self) -> int:
        row = self.db.execute("SELECT value FROM cursor WHERE name='orders'").fetchone()
        return int(row[0]) if row else 0

    def record_seen(self, orders: list[tuple[int, str]]) -> None:
        """Remember new orders (id, status) and move the cursor past them, in one transaction."""
        if not orders:
            return
        with self._tx():
            for order_id, status in orders:
                self.db.execute(
                    "INSERT OR IGNORE INTO orders (id, step, xsp_status, updated, step_since) "
                    "VALUES (?,?,?,?,?)",
                    (order_id, Step.SEEN, status, _now(), _now()),
                )
            self.db.execute(
                "INSERT INTO cursor (name, value) VALUES ('orders', ?) "
                "ON CONFLICT(name) DO UPDATE SET value=max(value, excluded.value)",
                (max(i for i, _ in orders),),
            )

    def record_pushed(self, order_id: int, status: str) -> bool:
        """Remember an order the portal pushed (``status``: its XSP status then), unless the
        poll or an earlier push has it already; the cursor stays where it is, so the poll
        still sees every order before this one (and skips this one). True when it is new."""
        now = _now()
        with self._tx():
            added = self.db.execute(
                "INSERT OR IGNORE INTO orders (id, step, xsp_status, updated, step_since, pushed) "
                "VALUES (?,?,?,?,?,?)",
                (order_id, Step.SEEN, status, now, now, now),
            ).rowcount
            self.db.execute("UPDATE orders SET pushed=? WHERE id=? AND pushed=''", (now, order_id))
        return bool(added)

    def record_answer(self, order_id: int, answer: str, message: str) -> None:
        with self._tx():
            self.db.execute(
                "UPDATE orders SET answer=?, answer_message=?, updated=? WHERE id=?",
                (answer, message, _now(), order_id),
            )

    def record_notice(self, key: str, order_id: int | None, notice: dict[str, Any]) -> bool:
        """Remember an activation notice once per ``key``; a repeat is counted. True when new."""
        with self._tx():
            added = self.db.execute(
                "INSERT OR IGNORE INTO notices (key, order_id, co_order_id, co_access_id, "
                "products, order_datetime, requested_datetime, received) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (
                    key,
                    order_id,
                    notice.get("coOrderId") or "",
                    notice["coAccessId"],
                    json.dumps(notice["products"], ensure_ascii=False, sort_keys=True),
                    notice["orderDateTime"],
                    notice["requestedDateTime"],
                    _now(),
                ),
            ).rowcount
            if not added:
                self.db.execute("UPDATE notices SET repeats=repeats+1 WHERE key=?", (key,))
        return bool(added)

    def notices(self) -> list[dict[str, Any]]:
        cur = self.db.execute(
            "SELECT key, order_id, co_order_id, co_access_id, products, order_datetime, "
            "requested_datetime, received, repeats FROM notices ORDER BY received, key"
        )
        names = [d[0] for d in cur.description]
        found = []
        for r in cur.fetchall():
            doc = dict(zip(names, r, strict=True))
            doc["products"] = json.loads(doc["products"])
            found.append(doc)
        return found

    # -- orders -----------------------------------------------------------------------------------

    def get(self, order_id: int) -> OrderRow | None:
        row = self.db.execute(
            f"SELECT {', '.join(OrderRow.__dataclass_fields__)} FROM orders WHERE id=?",  # noqa: S608
            (order_id,),
        ).fetchone()
        return _row(row) if row else None

    def pending(self) -> list[OrderRow]:
        """Orders the agent still has work on, oldest first."""
        marks = ",".join("?" * len(FINAL))
        rows = self.db.execute(
            f"SELECT {', '.join(OrderRow.__dataclass_fields__)} FROM orders "  # noqa: S608
            f"WHERE step NOT IN ({marks}) ORDER BY id",
            tuple(FINAL),
        ).fetchall()
        return [_row(r) for r in rows]

    def followups(self) -> list[OrderRow]:
        rows = self.db.execute(
            f"SELECT {', '.join(OrderRow.__dataclass_fields__)} FROM orders "  # noqa: S608
            "WHERE followup=1 ORDER BY id"
        ).fetchall()
        return [_row(r) for r in rows]

    def counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT step, count(*) FROM orders GROUP BY step").fetchall())

    def update(self, order_id: int, step: Step, **values: Any) -> None:
        now = _now()
        values["updated"] = now
        assignments = ", ".join(f"{k}=?" for k in values)
        with self._tx():
            since = "step_since = CASE WHEN step != ? THEN ? ELSE step_since END"
            sql = f"UPDATE orders SET {since}, step=?, {assignments} WHERE id=?"  # noqa: S608
            self.db.execute(sql, (step.value, now, step.value, *values.values(), order_id))

    @contextlib.contextmanager
    def _tx(self) -> Any:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")


def _row(r: tuple[Any, ...]) -> OrderRow:
    row = OrderRow(*r)
    row.step = Step(row.step)
    row.followup = bool(row.followup)
    return row


class Sink:
    """The JSON-lines file of imported orders: one object per order, with its customer."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def written_since(self, offset: int, order_id: int) -> bool:
        """Whether a complete line for ``order_id`` follows ``offset``; a torn line (a crash in
        the middle of a write) after ``offset`` is cut off."""
        if self.size() <= offset:
            return False
        with self.path.open("rb") as f:
            f.seek(offset)
            tail = f.read()
        good = 0
        for raw in tail.splitlines(keepends=True):
            if not raw.endswith(b"\n"):
                break
            try:
                doc = json.loads(raw)
            except ValueError:
                break
            good += len(raw)
            if isinstance(doc, dict) and doc.get("order_id") == order_id:
                return True
        with self.path.open("r+b") as f:
            f.truncate(offset + good)
        return False
