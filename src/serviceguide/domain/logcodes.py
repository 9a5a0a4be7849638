"""Log entries the system writes, as codes with parameters.

An entry the system writes (an order placed, a direct activation, a status change, a shown
personnummer) is stored as a code and its parameters beside its text. The text is what the XSP
API's ``order_log`` has always said, made from the code by :func:`api_text` — the API's words do
not change — while a page shows the entry in its reader's language from the code
(web.staff_i18n). Messages people write have no code: they are shown as written.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class LogCode(StrEnum):
    PLACED = "placed"  # the order was placed through the guide
    ACTIVATED = "activated"  # coid, uid, socket
    ACTIVATION_REFUSED = "activation_refused"  # coid, code, reason, message
    ACTIVATION_ORDER_REFUSED = "activation_order_refused"  # coid, code, message
    ACTIVATION_UNREACHABLE = "activation_unreachable"  # coid, error
    ACTIVATION_LATER = "activation_later"  # date
    STATUS_CHANGED = "status_changed"  # old, new, who, org, reason
    SERIAL_SHOWN = "serial_shown"  # who, org
    SP_CONFIRMED = "sp_confirmed"  # xsp, message: the TL confirmed the pushed order
    SP_REJECTED = "sp_rejected"  # xsp, message: the TL rejected the pushed order
    SP_FALLBACK_MAIL = "sp_fallback_mail"  # xsp, minutes: the push failed; the e-mail goes


@dataclass(frozen=True, slots=True)
class LogText:
    """A system log entry: its code, its parameters, and the API's text made from them."""

    code: LogCode
    params: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return api_text(self.code, self.params)

    def params_json(self) -> str:
        return json.dumps(self.params, ensure_ascii=False, sort_keys=True)


def _suffix(message: str) -> str:
    return f" – {message}" if message else ""


def api_text(code: LogCode | str, p: dict[str, Any]) -> str:
    """The entry's text exactly as the API has always given it."""
    match LogCode(code):
        case LogCode.PLACED:
            return "Order placed through Tjänsteguiden"
        case LogCode.ACTIVATED:
            return f"Direktaktiverad av {p['coid']} ({p['uid']} på {p['socket']})"
        case LogCode.ACTIVATION_REFUSED:
            return f"Direktaktivering nekad av {p['coid']}: {p['code']} {p['reason']}" + _suffix(
                p.get("message", "")
            )
        case LogCode.ACTIVATION_ORDER_REFUSED:
            return f"Direktaktivering: beställningen nekades av {p['coid']}: {p['code']}" + _suffix(
                p.get("message", "")
            )
        case LogCode.ACTIVATION_UNREACHABLE:
            return f"Direktaktivering kunde inte nå {p['coid']} ({p['error']}); hanteras manuellt"
        case LogCode.ACTIVATION_LATER:
            return (
                f"Ingen direktaktivering: önskat leveransdatum {p['date']} ligger framåt i "
                "tiden; leverantören aktiverar tjänsten då"
            )
        case LogCode.STATUS_CHANGED:
            text = f"Status changed from {p['old']} to {p['new']} by {p['who']} ({p['org']})"
            return f"{text}: {p['reason']}" if p.get("reason") else text
        case LogCode.SERIAL_SHOWN:
            return f"Personnummer visat för {p['who']} ({p['org']})"
        case LogCode.SP_CONFIRMED:
            return f"Confirmed by TL {p['xsp']} over ON-API" + _suffix(p.get("message", ""))
        case LogCode.SP_REJECTED:
            return f"Rejected by TL {p['xsp']} over ON-API" + _suffix(p.get("message", ""))
        case LogCode.SP_FALLBACK_MAIL:
            return (
                f"ON-API push to TL {p['xsp']} without answer for {p['minutes']} minutes; "
                "the order goes by e-mail"
            )


def parse_params(raw: str | None) -> dict[str, str]:
    """Stored parameters back as a dict ({} for none or a damaged value)."""
    if not raw:
        return {}
    try:
        found = json.loads(raw)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


#: The texts written before entries had codes, read back into codes (the migration that added
#: the codes gave every older entry its code this way): the type of entry, and the pattern.
_PATTERNS: list[tuple[LogCode, str, re.Pattern[str]]] = [
    (LogCode.PLACED, "system", re.compile(r"^Order placed through Tjänsteguiden$")),
    (
        LogCode.ACTIVATED,
        "system",
        re.compile(r"^Direktaktiverad av (?P<coid>\S+) \((?P<uid>.+) på (?P<socket>.+)\)$"),
    ),
    (
        LogCode.ACTIVATION_REFUSED,
        "system",
        re.compile(
            r"^Direktaktivering nekad av (?P<coid>\S+): (?P<code>\S+) (?P<reason>.*?)"
            r"(?: – (?P<message>.*))?$",
            re.S,
        ),
    ),
    (
        LogCode.ACTIVATION_ORDER_REFUSED,
        "system",
        re.compile(
            r"^Direktaktivering: beställningen nekades av (?P<coid>\S+): (?P<code>\S+)"
            r"(?: – (?P<message>.*))?$",
            re.S,
        ),
    ),
    (
        LogCode.ACTIVATION_UNREACHABLE,
        "system",
        re.compile(
            r"^Direktaktivering kunde inte nå (?P<coid>\S+) \((?P<error>[^)]*)\); "
            r"hanteras manuellt$"
        ),
    ),
    (
        LogCode.ACTIVATION_LATER,
        "system",
        re.compile(
            r"^Ingen direktaktivering: önskat leveransdatum (?P<date>\S+) ligger framåt i "
            r"tiden; leverantören aktiverar tjänsten då$"
        ),
    ),
    (
        LogCode.STATUS_CHANGED,
        "system",
        re.compile(
            r"^Status changed from (?P<old>\w+) to (?P<new>\w+) by (?P<who>.*) "
            r"\((?P<org>[^()]*)\)(?:: (?P<reason>.*))?$",
            re.S,
        ),
    ),
    (
        LogCode.SERIAL_SHOWN,
        "log",
        re.compile(r"^Personnummer visat för (?P<who>.*) \((?P<org>[^()]*)\)$"),
    ),
]


def from_text(type_: str, message: str) -> LogText | None:
    """The code of an entry written as ``message`` by the system, or None (a person's text)."""
    for code, kind, pattern in _PATTERNS:
        if kind == type_ and (m := pattern.match(message)):
            params = {k: v for k, v in m.groupdict().items() if v is not None}
            if code in (LogCode.ACTIVATION_REFUSED, LogCode.ACTIVATION_ORDER_REFUSED):
                params.setdefault("message", "")
            found = LogText(code, params)
            return found if found.text == message else None
    return None
