"""The pieces of the ON-API push that need no I/O: which base URLs may be stored, how a TL's
answer is read, and the fields of the customer details."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
import pytest

from serviceguide.domain.errors import InvalidInput
from serviceguide.domain.outbox import OutboxKind
from serviceguide.domain.sp import Delivery, SpState, check_base_url, parse_delivery
from serviceguide.notify.sp import NoAnswer, order_body, parse_answer, rfc3339
from serviceguide.storage.sp_push import PushFacts

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("url", "stored"),
    [
        ("https://sp.example/onapi/2.6/", "https://sp.example/onapi/2.6"),
        ("  https://sp.example:8443/onapi/2.6 ", "https://sp.example:8443/onapi/2.6"),
        ("http://127.0.0.1:8002/31420/onapi/2.6", "http://127.0.0.1:8002/31420/onapi/2.6"),
    ],
)
def test_base_urls_are_stored_without_a_trailing_slash(url: str, stored: str):
    assert check_base_url(url) == stored


@pytest.mark.parametrize(
    "url",
    [
        "",
        "sp.example/onapi",
        "ftp://sp.example/onapi",
        "http://sp.example/onapi",  # the password would go in the clear
        "https://user:pw@sp.example/onapi",
        "https://sp.example/onapi?x=1",
        "https://sp.example/onapi#top",
        "https://sp.example:0x50/onapi",
        "https://sp.example/on api",
        "https://sp.example/\x00",
    ],
)
def test_other_base_urls_are_refused(url: str):
    with pytest.raises(InvalidInput) as e:
        check_base_url(url)
    assert e.value.field == "url"


def test_deliveries():
    assert parse_delivery(" ONAPI ") is Delivery.ONAPI
    assert (Delivery.MAIL.pushes, Delivery.ONAPI.pushes, Delivery.BOTH.pushes) == (
        False,
        True,
        True,
    )
    assert (Delivery.MAIL.mails_at_once, Delivery.ONAPI.mails_at_once) == (True, False)
    with pytest.raises(InvalidInput, match="unknown delivery"):
        parse_delivery("fax")


def answer(status: int, body: object = None, text: str | None = None) -> httpx.Response:
    if text is not None:
        return httpx.Response(status, text=text)
    return httpx.Response(status, json=body)


@pytest.mark.parametrize(
    ("response", "state", "message"),
    [
        (answer(200, {"state": "CONFIRMED", "externalMessage": " Tack! "}), "CONFIRMED", "Tack!"),
        (answer(200, {"status": "REJECTED", "externalMessage": "Nej"}), "REJECTED", "Nej"),
        (answer(201, {"state": "confirmed"}), "CONFIRMED", ""),
        (answer(200, {"state": "REJECTED", "externalMessage": 42}), "REJECTED", ""),
        (
            answer(200, {"state": "CONFIRMED", "externalMessage": "x" * 3000}),
            "CONFIRMED",
            "x" * 2000,
        ),
    ],
)
def test_an_answer_is_read_from_state_or_status(response: httpx.Response, state: str, message: str):
    found = parse_answer(response)
    assert (found.state, found.external_message) == (SpState(state), message)


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (answer(500, {"cause": "Internt fel"}), "HTTP 500: Internt fel"),
        (answer(400, {"cause": "coAccessId: missing"}), "HTTP 400: coAccessId: missing"),
        (answer(503, text="<html>"), "HTTP 503"),
        (answer(200, text="<html>oops"), "not JSON"),
        (answer(200, ["CONFIRMED"]), "not a JSON object"),
        (answer(200, {"state": "DONE_SUCCESS"}), "no known state"),
        (answer(200, {}), "no known state"),
        (answer(302, {"state": "CONFIRMED"}), "HTTP 302"),
    ],
)
def test_anything_else_is_no_answer(response: httpx.Response, error: str):
    with pytest.raises(NoAnswer, match=error):
        parse_answer(response)


def facts(**changes: object) -> PushFacts:
    values: dict[str, object] = {
        "outbox_id": 1,
        "kind": OutboxKind.SP_ORDER,
        "created_at": datetime(2026, 12, 3, 9, 0, tzinfo=UTC),
        "order_id": 7,
        "tl_org_id": 3,
        "xsp": 31420,
        "ko_org_id": 1,
        "status": "new",
        "order_created_at": datetime(2026, 12, 3, 9, 14, 5, 123456, tzinfo=UTC),
        "delivery": None,
        "service_uid": "AB100100",
        "access_id": "AB123",
        "street_name": "Demogatan",
        "street_number": "123",
        "street_littera": "B",
        "postal_code": "12345",
        "city": "Demostad",
        "serial": "197001011234",
        "firstname": "Eva",
        "surname": "Ek",
        "email": "eva@example.se",
        "phone": "08-123 456 78",
    }
    values.update(changes)
    return PushFacts(**values)  # type: ignore[arg-type]


def test_times_are_rfc3339_utc_and_a_wished_day_starts_at_midnight_stockholm_time():
    assert rfc3339(datetime(2026, 12, 3, 9, 14, 5, 999999, tzinfo=UTC)) == "2026-12-03T09:14:05Z"
    body = order_body(facts(delivery=date(2026, 12, 20)))
    assert body["orderDateTime"] == "2026-12-03T09:14:05Z"
    assert body["requestedDateTime"] == "2026-12-19T23:00:00Z"  # 00:00 CET
    summer = order_body(facts(delivery=date(2027, 6, 20)))
    assert summer["requestedDateTime"] == "2027-06-19T22:00:00Z"  # 00:00 CEST


def test_a_landline_is_phone_and_a_mobile_number_mobile_phone():
    assert order_body(facts())["customerDetails"]["phone"] == "08-123 456 78"
    assert "mobilePhone" not in order_body(facts())["customerDetails"]
    mobile = order_body(facts(phone="+46 70 123 45 67"))["customerDetails"]
    assert mobile["mobilePhone"] == "+46 70 123 45 67" and "phone" not in mobile
    assert order_body(facts())["customerDetails"]["personalIdentityNumber"] == "19700101-1234"
