"""A list written straight from rows is byte for byte what the envelope writes for the same tree."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from serviceguide.api.envelope import Node, render_json, render_xml
from serviceguide.api.xsp_rows import RowList
from serviceguide.storage.polling import Rows

pytestmark = pytest.mark.unit

ids = st.integers(min_value=1, max_value=2**63 - 1)
seconds = st.from_regex(r"\A\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\Z")
minutes = st.from_regex(r"\A\d{4}-\d\d-\d\d \d\d:\d\d\Z")
statuses = st.sampled_from(["new", "received", "active", "waiting", "delivered", "cancelled"])
message_types = st.sampled_from([None, "", "log", "customer", "system"])
delivery = st.one_of(st.just("asap"), st.dates().map(lambda d: d.isoformat()))
# Any text a name or a message may hold: markup, carriage returns, what XML cannot carry.
text = st.one_of(st.none(), st.text(), st.sampled_from(["A & B <x>", "a\r\nb", "\x00\x1f\ufffe"]))

ROWS = {
    "order": st.tuples(ids, seconds, statuses, ids, st.one_of(st.none(), ids), delivery, ids),
    "customer": st.tuples(ids, text, text, text, text, minutes),
    "event": st.tuples(
        ids,
        seconds,
        st.sampled_from(["order_created", "status_changed"]),
        ids,
        statuses,
        message_types,
    ),
    "entry": st.tuples(ids, seconds, st.sampled_from(["log", "system"]), text, text, text),
}
FIELDS = {
    "order": ["id", "type", "date", "status", "service", "xsp", "delivery", "customer"],
    "customer": ["id", "socket", "serial", "firstname", "surname", "date"],
    "event": ["id", "date", "type", "order", "status", "message_type"],
    "entry": ["id", "date", "type", "message", "user", "org"],
}
ROOT = {"order": "orders", "customer": "customers", "event": "events", "entry": "order_log"}


def tree(element: str, rows: Sequence[tuple[Any, ...]]) -> list[Node]:
    """The nodes the API built for these rows before it wrote them straight."""
    out: list[Node] = []
    for r in rows:
        values = list(r)
        if element == "order":
            values.insert(1, "order")
        if element == "event":
            values[5] = values[5] or None
        out.append((element, list(zip(FIELDS[element], values, strict=True))))
    return out


@pytest.mark.parametrize("element", list(ROWS))
@settings(max_examples=150)
@given(data=st.data())
def test_rows_are_written_as_the_envelope_writes_them(element: str, data: st.DataObject):
    rows = data.draw(st.lists(ROWS[element], max_size=5))
    root = ROOT[element]
    answer = RowList.of(element, rows)
    assert answer.body(root, as_json=False) == render_xml(root, tree(element, rows), "success")
    assert answer.body(root, as_json=True) == render_json(
        root, tree(element, rows), "success", (element,)
    )


async def _batches(batches: list[list[tuple[Any, ...]]]) -> AsyncIterator[list[tuple[Any, ...]]]:
    for b in batches:
        yield b


@pytest.mark.parametrize("as_json", [False, True])
@given(rows=st.lists(ROWS["order"], min_size=1, max_size=12), size=st.integers(1, 4))
def test_a_streamed_list_is_the_same_bytes_as_a_whole_one(as_json: bool, rows, size: int):
    whole = RowList.of("order", rows).body("orders", as_json)
    first, rest = rows[:size], [rows[i : i + size] for i in range(size, len(rows), size)]
    streamed = RowList("order", Rows(first, _batches(rest)))

    async def collect() -> bytes:
        return b"".join([c async for c in streamed.chunks("orders", as_json)])

    assert asyncio.run(collect()) == whole
