import json
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from serviceguide.api.envelope import render_json, render_xml

pytestmark = pytest.mark.unit


def test_xml_envelope_shape():
    body = render_xml("set_status", [("message", "Status changed")], "success")
    root = ET.fromstring(body)
    assert root.tag == "set_status"
    assert [c.tag for c in root] == ["response", "status"]
    assert root.find("status").text == "success"
    assert root.find("response/message").text == "Status changed"


@given(st.text())
def test_any_text_gives_well_formed_xml_that_reads_back(text):
    body = render_xml("order_log", [("entry", [("message", text)])], "success")
    got = ET.fromstring(body).find("response/entry/message").text or ""
    # Characters XML cannot carry at all are replaced; everything else survives verbatim.
    allowed = [
        ch
        for ch in text
        if ch in "\t\n\r"
        or ("\x20" <= ch <= "\ud7ff")
        or ("\ue000" <= ch <= "\ufffd")
        or ch >= "\U00010000"
    ]
    if len(allowed) == len(text):
        assert got == text


def test_markup_in_values_is_escaped_not_interpreted():
    body = render_xml("x", [("message", "</message><status>success</status>&amp;")], "failed")
    root = ET.fromstring(body)
    assert root.find("status").text == "failed"
    assert root.find("response/message").text == "</message><status>success</status>&amp;"


def test_json_repeated_elements_are_arrays_and_scalars_stay_scalars():
    nodes = [("order", [("id", 1), ("customer", 7)]), ("order", [("id", 2), ("customer", 8)])]
    doc = json.loads(render_json("orders", nodes, "success"))
    assert doc == {
        "orders": {
            "response": {"order": [{"id": 1, "customer": 7}, {"id": 2, "customer": 8}]},
            "status": "success",
        }
    }


def test_json_single_element_is_still_an_array_and_empty_list_is_present():
    doc = json.loads(render_json("order_info", [("order", [("id", 1)])], "success"))
    assert doc["order_info"]["response"]["order"] == [{"id": 1}]
    doc = json.loads(render_json("orders", [], "success", arrays=("order",)))
    assert doc["orders"]["response"] == {"order": []}


def test_json_prices_are_numbers():
    doc = json.loads(render_json("x", [("price", Decimal("199.50"))], "success"))
    assert doc["x"]["response"]["price"] == 199.5
