"""Direct activation: the guide asks the KO's activation endpoint while an order is placed.

The KO hosts ``?method=…`` calls (the original platform's "Aktiverings-API"; docs/concepts.md):
``service_deliverable`` then ``service_order``. Answers use the platform's envelope:
``<METHOD><response>…</response><status>success|failed</status></METHOD>`` with ``<code>`` and
``<message>`` on failure (404 unknown access, 426 upgrade required, 428 hardware insufficient,
500).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import httpx
from defusedxml import ElementTree as ET

from serviceguide.domain.logcodes import LogCode, LogText
from serviceguide.observability import metrics

log = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(5.0)
ORIGIN = "serviceguide"

REASONS = {
    "404": "okänd access (unknown access)",
    "426": "uppgradering krävs (upgrade required)",
    "428": "otillräcklig hårdvara (hardware insufficient)",
    "500": "fel hos nätägaren (error at the network operator)",
}


@dataclass(frozen=True, slots=True)
class ActivationResult:
    activated: bool
    log: LogText  # for the order's log: what happened

    @property
    def note(self) -> str:
        return self.log.text


def _parse(method: str, resp: httpx.Response) -> tuple[bool, str, str]:
    """(success, code, message) from an envelope answer; tolerant of a JSON twin."""
    ctype = resp.headers.get("content-type", "")
    if "json" in ctype:
        doc = resp.json()
        inner = doc.get(method) or next(iter(doc.values()))
        response = inner.get("response") or {}
        return (
            inner.get("status") == "success",
            str(response.get("code", "")),
            str(response.get("message", "")),
        )
    root = ET.fromstring(resp.content)
    status = (root.findtext("status") or "").strip()
    return (
        status == "success",
        (root.findtext("response/code") or str(resp.status_code)).strip(),
        (root.findtext("response/message") or "").strip(),
    )


async def _call(
    client: httpx.AsyncClient, url: str, method: str, **params: str
) -> tuple[bool, str, str]:
    resp = await client.get(url, params={"method": method, "origin": ORIGIN, **params})
    try:
        return _parse(method, resp)
    except (ET.ParseError, ValueError, AttributeError, StopIteration):
        return False, str(resp.status_code), "unreadable answer"


async def activate(
    url: str, coid: str, service_uid: str, socket: str, day: date
) -> ActivationResult:
    """Ask the KO to deliver ``service_uid`` on ``socket``. Never raises: a KO that is down or
    refuses gives ``activated=False`` and a note saying why."""
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as client:
            ok, code, message = await _call(
                client, url, "service_deliverable", service_uid=service_uid, socket=socket
            )
            if not ok:
                reason = REASONS.get(code, f"kod {code}")
                metrics.direct_activation("refused")
                return ActivationResult(
                    False,
                    LogText(
                        LogCode.ACTIVATION_REFUSED,
                        {"coid": coid, "code": code, "reason": reason, "message": message},
                    ),
                )
            ok, code, message = await _call(
                client,
                url,
                "service_order",
                service_uid=service_uid,
                socket=socket,
                date=day.isoformat(),
            )
            if not ok:
                metrics.direct_activation("refused")
                return ActivationResult(
                    False,
                    LogText(
                        LogCode.ACTIVATION_ORDER_REFUSED,
                        {"coid": coid, "code": code, "message": message},
                    ),
                )
    except httpx.HTTPError as e:
        log.warning("direct activation at %s failed: %s", coid, type(e).__name__)
        metrics.direct_activation("unreachable")
        return ActivationResult(
            False,
            LogText(LogCode.ACTIVATION_UNREACHABLE, {"coid": coid, "error": type(e).__name__}),
        )
    metrics.direct_activation("activated")
    return ActivationResult(
        True, LogText(LogCode.ACTIVATED, {"coid": coid, "uid": service_uid, "socket": socket})
    )


@dataclass(frozen=True, slots=True)
class DeliverableAnswer:
    reached: bool  # an answer came (success or failed); False: no answer at all
    deliverable: bool
    code: str
    message: str  # the KO's message, or why there was no answer; at most 200 characters


async def deliverable(url: str, service_uid: str, socket: str) -> DeliverableAnswer:
    """Ask the KO's ``service_deliverable`` once, for the "test the URL" button. Never raises;
    the answer is cut short, so a page never shows more of another server than that."""
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as client:
            resp = await client.get(
                url,
                params={
                    "method": "service_deliverable",
                    "origin": ORIGIN,
                    "service_uid": service_uid,
                    "socket": socket,
                },
            )
    except httpx.HTTPError as e:
        return DeliverableAnswer(False, False, "", f"no answer ({type(e).__name__})")
    try:
        ok, code, message = _parse("service_deliverable", resp)
    except (ET.ParseError, ValueError, AttributeError, StopIteration):
        return DeliverableAnswer(
            False,
            False,
            str(resp.status_code),
            f"not an answer of the protocol (HTTP {resp.status_code})",
        )
    if not ok and code in REASONS:
        message = f"{REASONS[code]}" + (f" – {message}" if message else "")
    return DeliverableAnswer(True, ok, code if not ok else "", message[:200])
