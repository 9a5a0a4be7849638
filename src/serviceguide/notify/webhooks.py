"""Webhook deliveries: thin JSON events, signed with the endpoint's secret.

Body: ``{"id": event id, "type", "order", "status", "message_type" (message_added only),
"date": ISO 8601 UTC}``. Headers: ``X-Serviceguide-Event`` (the type), ``X-Serviceguide-Timestamp``
(unix seconds, when this attempt was made) and ``X-Serviceguide-Signature: v1=HEX``, HEX being
HMAC-SHA256(secret, f"{timestamp}.{body}"). Only a 2xx answer counts as delivered; redirects are
not followed (they are failures, like timeouts and 5xx, and are retried).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC

import httpx

from serviceguide import __version__
from serviceguide.domain.ordering import is_digits
from serviceguide.storage.outbox import WebhookFacts

USER_AGENT = f"serviceguide-webhooks/{__version__}"
#: Receivers should reject a timestamp older than this (replays).
TOLERANCE_SECONDS = 300


class DeliveryFailed(Exception):
    pass


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Serviceguide-Signature`` value."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify(
    secret: str,
    timestamp: str,
    signature: str,
    body: bytes,
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> bool:
    """What a receiver does (docs/notifications.md has the same, standalone)."""
    if not is_digits(timestamp):  # int() would also read " 17" and "١٧"
        return False
    ts = int(timestamp)
    if abs((time.time() if now is None else now) - ts) > tolerance:
        return False
    # compare_digest raises TypeError for a str that is not ASCII: compare bytes.
    return hmac.compare_digest(sign(secret, ts, body).encode(), signature.encode(errors="replace"))


def payload(facts: WebhookFacts) -> dict[str, object]:
    doc: dict[str, object] = {
        "id": facts.event_id,
        "type": facts.event_type.value,
        "order": facts.order_id,
        "status": facts.status.value,
    }
    if facts.message_type is not None:
        doc["message_type"] = facts.message_type.value
    doc["date"] = facts.event_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return doc


def encode(doc: dict[str, object]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


async def deliver(client: httpx.AsyncClient, facts: WebhookFacts) -> None:
    """POST the event once; raise :class:`DeliveryFailed` unless the answer is a 2xx."""
    body = encode(payload(facts))
    ts = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Serviceguide-Event": facts.event_type.value,
        "X-Serviceguide-Timestamp": str(ts),
        "X-Serviceguide-Signature": sign(facts.secret, ts, body),
    }
    try:
        resp = await client.post(facts.url, content=body, headers=headers)
    except httpx.TimeoutException as e:
        raise DeliveryFailed(f"timed out ({type(e).__name__})") from None
    except httpx.HTTPError as e:
        raise DeliveryFailed(f"{type(e).__name__}: {e}") from None
    if 200 <= resp.status_code < 300:
        return
    if 300 <= resp.status_code < 400:
        where = resp.headers.get("location", "")
        raise DeliveryFailed(f"HTTP {resp.status_code} redirect to {where!r} (not followed)")
    raise DeliveryFailed(f"HTTP {resp.status_code}")
