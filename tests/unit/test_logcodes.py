"""System log entries as codes: the API's text made from a code is exactly the text written
before codes existed, and such a text reads back into the same code and parameters."""

from __future__ import annotations

import pytest

from serviceguide.domain.logcodes import LogCode, LogText, api_text, from_text
from serviceguide.domain.model import status_change_text
from serviceguide.domain.status import OrderStatus

pytestmark = pytest.mark.unit

SAMPLES = [
    (LogText(LogCode.PLACED), "system", "Order placed through Tjänsteguiden"),
    (
        LogText(LogCode.ACTIVATED, {"coid": "SNFDMO", "uid": "TVBAS", "socket": "AB123"}),
        "system",
        "Direktaktiverad av SNFDMO (TVBAS på AB123)",
    ),
    (
        LogText(
            LogCode.ACTIVATION_REFUSED,
            {"coid": "KOA", "code": "428", "reason": "otillräcklig hårdvara", "message": "byt"},
        ),
        "system",
        "Direktaktivering nekad av KOA: 428 otillräcklig hårdvara – byt",
    ),
    (
        LogText(LogCode.ACTIVATION_ORDER_REFUSED, {"coid": "KOA", "code": "500", "message": ""}),
        "system",
        "Direktaktivering: beställningen nekades av KOA: 500",
    ),
    (
        LogText(LogCode.ACTIVATION_UNREACHABLE, {"coid": "KOA", "error": "ConnectError"}),
        "system",
        "Direktaktivering kunde inte nå KOA (ConnectError); hanteras manuellt",
    ),
    (
        LogText(LogCode.ACTIVATION_LATER, {"date": "2027-01-05"}),
        "system",
        "Ingen direktaktivering: önskat leveransdatum 2027-01-05 ligger framåt i tiden; "
        "leverantören aktiverar tjänsten då",
    ),
    (
        LogText(
            LogCode.STATUS_CHANGED,
            {"old": "new", "new": "active", "who": "Anna (ext)", "org": "Demo Bredband AB"},
        ),
        "system",
        "Status changed from new to active by Anna (ext) (Demo Bredband AB)",
    ),
    (
        LogText(
            LogCode.STATUS_CHANGED,
            {"old": "new", "new": "cancelled", "who": "A", "org": "B", "reason": "Ångrat: ja"},
        ),
        "system",
        "Status changed from new to cancelled by A (B): Ångrat: ja",
    ),
    (
        LogText(LogCode.SERIAL_SHOWN, {"who": "Anna", "org": "Demo Bredband AB"}),
        "log",
        "Personnummer visat för Anna (Demo Bredband AB)",
    ),
]


@pytest.mark.parametrize(("entry", "kind", "text"), SAMPLES, ids=[s[0].code for s in SAMPLES])
def test_the_api_text_is_as_before_and_reads_back_into_its_code(
    entry: LogText, kind: str, text: str
):
    assert entry.text == api_text(entry.code, entry.params) == text
    back = from_text(kind, text)
    assert back is not None and back.code == entry.code and back.text == text


def test_a_persons_text_has_no_code_even_if_it_looks_like_the_systems():
    assert from_text("log", "Order placed through Tjänsteguiden") is None
    assert from_text("alert", "Status changed from new to active by X (Y)") is None
    assert from_text("system", "Something else entirely") is None


def test_the_status_change_text_is_made_from_the_code():
    text = status_change_text(OrderStatus.NEW, OrderStatus.ACTIVE, "Anna", "Org")
    assert text == "Status changed from new to active by Anna (Org)"
