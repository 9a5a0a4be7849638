"""The XSP API's lists written straight from the database's rows (storage/polling.py).

The same bytes api/envelope.py writes for the same tree — XML by default, JSON with the list
element always an array — but one template per row instead of a domain object and a list of
nodes per row: that was most of a 50-row poll's time (docs/performance.md). Text that may hold
anything (names, messages) is escaped as the envelope escapes it; the other values are ids,
times and statuses, which never need it. tests/unit/test_xsp_rows.py holds the two writers to
the same output.

A listing by date has no limit: its rows are written as they are read, a batch at a time, so an
answer of 100 000 orders starts at once and never sits whole in memory.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from serviceguide.api.envelope import xml_text
from serviceguide.storage.polling import Record, Rows

_quote = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps' string, as the envelope's


def _x(value: Any) -> str:
    return "" if value is None else str(value)


def _j(value: Any) -> str:
    """A JSON value that needs no escaping: an int, a known word, or null."""
    return "null" if value is None else str(value)


def _jtext(value: Any) -> str:
    return "null" if value is None else _quote(value)


def _jword(value: Any) -> str:
    """An optional word (an event's message type): absent or empty is null."""
    return f'"{value}"' if value else "null"


# -- one row in each format; columns as storage/polling.py selects them -------------------------


def order_xml(r: Record) -> str:
    return (
        f"<order><id>{r[0]}</id><type>order</type><date>{r[1]}</date><status>{r[2]}</status>"
        f"<service>{r[3]}</service><xsp>{_x(r[4])}</xsp><delivery>{r[5]}</delivery>"
        f"<customer>{r[6]}</customer></order>"
    )


def order_json(r: Record) -> str:
    return (
        f'{{"id":{r[0]},"type":"order","date":"{r[1]}","status":"{r[2]}","service":{r[3]},'
        f'"xsp":{_j(r[4])},"delivery":"{r[5]}","customer":{r[6]}}}'
    )


def customer_xml(r: Record) -> str:
    return (
        f"<customer><id>{r[0]}</id><socket>{xml_text(r[1])}</socket>"
        f"<serial>{xml_text(r[2])}</serial><firstname>{xml_text(r[3])}</firstname>"
        f"<surname>{xml_text(r[4])}</surname><date>{r[5]}</date></customer>"
    )


def customer_json(r: Record) -> str:
    return (
        f'{{"id":{r[0]},"socket":{_jtext(r[1])},"serial":{_jtext(r[2])},'
        f'"firstname":{_jtext(r[3])},"surname":{_jtext(r[4])},"date":"{r[5]}"}}'
    )


def event_xml(r: Record) -> str:
    return (
        f"<event><id>{r[0]}</id><date>{r[1]}</date><type>{r[2]}</type><order>{r[3]}</order>"
        f"<status>{r[4]}</status><message_type>{r[5] or ''}</message_type></event>"
    )


def event_json(r: Record) -> str:
    return (
        f'{{"id":{r[0]},"date":"{r[1]}","type":"{r[2]}","order":{r[3]},"status":"{r[4]}",'
        f'"message_type":{_jword(r[5])}}}'
    )


def entry_xml(r: Record) -> str:
    return (
        f"<entry><id>{r[0]}</id><date>{r[1]}</date><type>{r[2]}</type>"
        f"<message>{xml_text(r[3])}</message><user>{xml_text(r[4])}</user>"
        f"<org>{xml_text(r[5])}</org></entry>"
    )


def entry_json(r: Record) -> str:
    return (
        f'{{"id":{r[0]},"date":"{r[1]}","type":"{r[2]}","message":{_jtext(r[3])},'
        f'"user":{_jtext(r[4])},"org":{_jtext(r[5])}}}'
    )


_WRITERS: dict[str, tuple[Callable[[Record], str], Callable[[Record], str]]] = {
    "order": (order_xml, order_json),
    "customer": (customer_xml, customer_json),
    "event": (event_xml, event_json),
    "entry": (entry_xml, entry_json),
}


# -- the whole answer ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowList:
    """A list method's success: ``element`` repeated, one per row."""

    element: str
    rows: Rows

    @classmethod
    def of(cls, element: str, rows: Sequence[Record] | Rows) -> RowList:
        return cls(element, rows if isinstance(rows, Rows) else Rows(rows))

    @property
    def streamed(self) -> bool:
        return self.rows.rest is not None

    def _parts(self, root: str, as_json: bool) -> tuple[str, str, str, Callable[[Record], str]]:
        """Head, separator between rows, tail, and the row writer."""
        xml, js = _WRITERS[self.element]
        if as_json:
            head = f'{{"{root}":{{"response":{{"{self.element}":['
            return head, ",", ']},"status":"success"}}', js
        head = f'<?xml version="1.0" encoding="UTF-8"?>\n<{root}><response>'
        return head, "", f"</response><status>success</status></{root}>", xml

    def body(self, root: str, as_json: bool) -> bytes:
        """The whole answer (the rows are all in ``first``)."""
        head, sep, tail, write = self._parts(root, as_json)
        return (head + sep.join([write(r) for r in self.rows.first]) + tail).encode()

    async def chunks(self, root: str, as_json: bool) -> AsyncIterator[bytes]:
        """The answer a batch at a time: the first at once, then each as it is read."""
        head, sep, tail, write = self._parts(root, as_json)
        rest = self.rows.rest
        try:
            yield (head + sep.join([write(r) for r in self.rows.first])).encode()
            if rest is not None:
                async for batch in rest:
                    yield (sep + sep.join([write(r) for r in batch])).encode()
            yield tail.encode()
        finally:  # the client went away: give the cursor's connection back now
            if rest is not None:
                await rest.aclose()  # type: ignore[attr-defined]
