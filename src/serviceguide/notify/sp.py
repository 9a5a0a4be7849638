"""The ON-API 2.6 pushes to a TL (spec_sp ``order`` and ``activationnotice``): what is sent, and
what the answer means.

``order`` is POSTed to ``URL/order/`` with ``X-Order-ID`` (the guide's order id, the same on
every retry, so that the TL can drop a repeat) and HTTP Basic auth when the TL gave a username.
A 2xx JSON answer whose ``state`` — or ``status``: the spec's own examples use both — is
``CONFIRMED`` or ``REJECTED`` is an answer; anything else (a timeout, a refused connection, any
other status code, a body that is not JSON or names no known state) is :class:`NoAnswer`, and
the push is tried again. ``activationnotice`` goes to ``URL/activationnotice/``; any 2xx is
delivered (the TL cannot refuse a notice).

The customer details are what the guide collected. ``customerDetails.firstName`` is the spec's
data format; the spec's ``order`` example spells it ``firstname``, so both keys are sent.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx

from serviceguide.domain.clock import local_day_start_utc
from serviceguide.domain.outbox import OutboxKind
from serviceguide.domain.sp import SpAnswer, SpState
from serviceguide.services.sp_settings import SpTarget
from serviceguide.storage.sp_push import PushFacts

USER_AGENT = "serviceguide-onapi/2.6"
#: Longest externalMessage kept (the rest is cut): it is shown to the customer and logged.
MAX_MESSAGE = 2000


class NoAnswer(Exception):
    """The TL gave no usable answer; the text says what happened (never a credential)."""


def rfc3339(dt: datetime) -> str:
    aware = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _identity_number(serial: str) -> str:
    """12 digits as the spec writes them: YYYYMMDD-XXXX."""
    return f"{serial[:8]}-{serial[8:]}" if len(serial) == 12 else serial


def _is_mobile(phone: str) -> bool:
    digits = "".join(c for c in phone if c.isdigit() or c == "+")
    return digits.startswith(("07", "+467", "00467"))


def customer_details(f: PushFacts) -> dict[str, Any]:
    details: dict[str, Any] = {
        "identifiedCustomer": False,  # the guide takes the details as given: no e-ID
        "personalIdentityNumber": _identity_number(f.serial),
        "firstName": f.firstname,
        "firstname": f.firstname,
        "lastName": f.surname,
        "email": f.email,
        "invoiceDetails": {
            "streetName": f.street_name,
            "streetNumber": f.street_number,
            "streetLittera": f.street_littera,
            "postalCode": f.postal_code,
            "city": f.city,
        },
    }
    details["mobilePhone" if _is_mobile(f.phone) else "phone"] = f.phone
    return details


def product_ref(f: PushFacts) -> dict[str, str]:
    """The TL's product and offering the order is for, as the order kept them when it was
    placed: an offering read from the TL's ``products`` keeps its ids; for a service entered by
    hand (or an order older than the ids were kept) its uid stands for both."""
    return {
        "productId": f.product_id or f.service_uid,
        "offeringId": f.offering_id or f.service_uid,
    }


def order_body(f: PushFacts) -> dict[str, Any]:
    requested = f.order_created_at if f.delivery is None else local_day_start_utc(f.delivery)
    return {
        "coAccessId": f.access_id,
        "operation": "ACTIVATE",
        "orderDateTime": rfc3339(f.order_created_at),
        "requestedDateTime": rfc3339(max(requested, f.order_created_at)),
        "products": [product_ref(f)],
        "customerDetails": customer_details(f),
    }


def notice_body(f: PushFacts) -> dict[str, Any]:
    body = order_body(f)
    body["products"] = [{**product_ref(f), "coProduct": [f.service_uid]}]
    return body


def parse_answer(response: httpx.Response) -> SpAnswer:
    """An ``order`` answer, or :class:`NoAnswer` saying why it is not one."""
    if not 200 <= response.status_code < 300:
        cause = ""
        try:
            doc = response.json()
            if isinstance(doc, dict) and isinstance(doc.get("cause"), str):
                cause = f": {doc['cause'][:200]}"
        except ValueError:
            pass
        raise NoAnswer(f"HTTP {response.status_code}{cause}")
    try:
        doc = response.json()
    except ValueError:
        raise NoAnswer(f"HTTP {response.status_code}, the answer is not JSON") from None
    if not isinstance(doc, dict):
        raise NoAnswer("the answer is not a JSON object")
    raw = doc.get("state", doc.get("status"))
    if not isinstance(raw, str) or raw.strip().upper() not in ("CONFIRMED", "REJECTED"):
        raise NoAnswer(f"the answer names no known state ({str(raw)[:40]!r})")
    message = doc.get("externalMessage")
    text = message.strip()[:MAX_MESSAGE] if isinstance(message, str) else ""
    return SpAnswer(SpState(raw.strip().upper()), text)


async def push(
    http: httpx.AsyncClient,
    target: SpTarget,
    facts: PushFacts,
    *,
    timeout: float,
) -> SpAnswer | None:
    """Send one push; the TL's answer to an ``order``, None for a delivered notice. Raises
    :class:`NoAnswer` (or TimeoutError) when there is none to keep."""
    notice = facts.kind == OutboxKind.SP_NOTICE
    body = notice_body(facts) if notice else order_body(facts)
    url = target.url("activationnotice" if notice else "order")
    auth: httpx.Auth | httpx._client.UseClientDefault = (
        httpx.BasicAuth(*target.auth) if target.auth else httpx.USE_CLIENT_DEFAULT
    )
    try:
        response = await http.post(
            url,
            content=json.dumps(body, ensure_ascii=False).encode(),
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "X-Order-ID": str(facts.order_id),
                "User-Agent": USER_AGENT,
            },
            auth=auth,
            timeout=timeout,
        )
    except httpx.TimeoutException:
        raise NoAnswer(f"no answer within {timeout:g} s") from None
    except httpx.HTTPError as e:
        raise NoAnswer(f"{type(e).__name__}: {str(e)[:200] or 'connection failed'}") from None
    if notice:
        if not 200 <= response.status_code < 300:
            raise NoAnswer(f"HTTP {response.status_code}")
        return None
    return parse_answer(response)
