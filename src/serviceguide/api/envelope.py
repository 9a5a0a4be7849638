"""The XSP API's response envelope, in XML (default) and JSON.

A response body is a list of ``(name, value)`` pairs; a value is a scalar or, for nested
elements, another such list. XML renders them in order. JSON renders the same tree, with the
repeated element names (``order``, ``customer``, ``entry``, ``event``) always as arrays — also in
``order_info`` and ``customer_info`` — so that one parser reads every method. A plain field that
shares such a name (an order's ``customer`` id, an event's ``order`` id) stays a scalar.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

Node = tuple[str, Any]

ARRAY_ELEMENTS = frozenset({"order", "customer", "entry", "event"})

# A carriage return is written as a reference: raw, XML parsers would turn it into a newline.
_XML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
# Characters XML 1.0 cannot carry at all, even escaped.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
# Any character that needs one of the two: most values have none and are written as they are.
_XML_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_text(value: Any) -> str:
    """A value as element text: escaped, and characters XML cannot carry replaced."""
    if type(value) is int:  # ids, most of a listing
        return str(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    text = str(value)
    if not _XML_SPECIAL.search(text):
        return text
    if _XML_INVALID.search(text):
        text = _XML_INVALID.sub("\ufffd", text)
    return text.translate(_XML_ESCAPES)


def _xml_nodes(nodes: list[Node], out: list[str]) -> None:
    for name, value in nodes:
        if isinstance(value, list):
            out.append(f"<{name}>")
            _xml_nodes(value, out)
            out.append(f"</{name}>")
        else:
            out.append(f"<{name}>{xml_text(value)}</{name}>")


def render_xml(root: str, nodes: list[Node], status: str) -> bytes:
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n', f"<{root}><response>"]
    _xml_nodes(nodes, out)
    out.append(f"</response><status>{status}</status></{root}>")
    return "".join(out).encode("utf-8")


def _json_value(value: Any) -> Any:
    if isinstance(value, list):
        return _json_obj(value)
    if isinstance(value, Decimal):
        return float(value)
    return value


def _json_obj(nodes: list[Node]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for name, value in nodes:
        if name in ARRAY_ELEMENTS and isinstance(value, list):
            obj.setdefault(name, []).append(_json_value(value))
        else:
            obj[name] = _json_value(value)
    return obj


def render_json(root: str, nodes: list[Node], status: str, arrays: tuple[str, ...] = ()) -> bytes:
    """``arrays`` names list elements that must appear (as ``[]``) even when empty."""
    body = _json_obj(nodes)
    for name in arrays:
        body.setdefault(name, [])
    doc = {root: {"response": body, "status": status}}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
