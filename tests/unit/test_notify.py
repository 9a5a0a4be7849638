"""The order e-mail, webhook signatures and payloads, back-off, and the settings they read."""

from __future__ import annotations

import email
import hashlib
import hmac
import json
import re
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest

from serviceguide.domain.errors import InvalidInput
from serviceguide.domain.outbox import backoff_seconds
from serviceguide.domain.status import EventType, MessageType, OrderStatus
from serviceguide.domain.webhooks import check_endpoint_url, parse_event_types
from serviceguide.notify import mail, webhooks
from serviceguide.notify.smtp import parse_smtp_url
from serviceguide.storage.outbox import MailFacts, WebhookFacts

pytestmark = pytest.mark.unit

CREATED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
#: A personnummer anywhere: 6 or 8 digits, an optional - or +, 4 digits.
PERSONNUMMER = re.compile(rb"(?<!\d)(\d{6}|\d{8})[-+]?\d{4}(?!\d)")


def facts(**overrides: object) -> MailFacts:
    values: dict[str, object] = {
        "outbox_id": 7,
        "created_at": CREATED,
        "order_id": 123,
        "order_created_at": CREATED,
        "delivery": None,
        "service_name": "Tjänst 100/100",
        "service_uid": "AB100100",
        "price_monthly": Decimal("299"),
        "price_once": Decimal("495.50"),
        "coid": "SNFDMO",
        "access_id": "AB123",
        "address": "Demogatan 123",
        "zip": "12345",
        "city": "Demostad",
        "premise": "",
        "customer_firstname": "Eva",
        "customer_surname": "Ek",
        "tl_name": "Demo Bredband AB",
        "to": "orders@demobredband.example",
    }
    values.update(overrides)
    return MailFacts(**values)  # type: ignore[arg-type]


def compose(**overrides: object) -> tuple[EmailMessage, bytes]:
    msg = mail.compose(
        facts(**overrides), mail_from="tjansteguiden@example.se", base_url="https://guide.example/"
    )
    raw = msg.as_bytes()
    parsed = email.message_from_bytes(raw, policy=default)
    assert isinstance(parsed, EmailMessage)
    return parsed, raw


def text_of(msg: EmailMessage, subtype: str) -> str:
    part = msg.get_body((subtype,))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def test_order_mail_has_swedish_subject_addresses_and_the_order_id_header():
    msg, _ = compose()
    assert msg["Subject"] == "Ny beställning 123: Tjänst 100/100, Demogatan 123"
    assert msg["From"] == "tjansteguiden@example.se"
    assert msg["To"] == "orders@demobredband.example"
    assert msg["X-Order-ID"] == "123"
    assert msg["Message-ID"] == "<order-123.outbox-7@example.se>"
    assert msg.get_content_type() == "multipart/alternative"


def test_text_body_has_exactly_one_order_id_line_and_the_manual_handling_link():
    msg, _ = compose()
    text = text_of(msg, "plain")
    assert re.findall(r"(?m)^Order-ID: (\d+)$", text) == ["123"]
    assert "https://guide.example/staff/orders/123" in text
    assert "Tjänst 100/100 (AB100100)" in text
    assert "Demogatan 123, 12345 Demostad" in text
    assert "Önskad leverans: Så snart som möjligt" in text
    html = text_of(msg, "html")
    assert 'href="https://guide.example/staff/orders/123"' in html


def test_a_wished_delivery_date_is_shown_as_a_date():
    msg, _ = compose(delivery=date(2026, 4, 1))
    assert "Önskad leverans: 2026-04-01" in text_of(msg, "plain")
    assert "2026-04-01" in text_of(msg, "html")


def test_the_same_row_gives_the_same_message_on_every_attempt():
    _, first = compose()
    _, again = compose()
    strip = re.compile(rb"=+\d+==")  # MIME boundaries are random
    assert strip.sub(b"", first) == strip.sub(b"", again)


def test_no_personnummer_email_or_phone_in_the_raw_message_or_its_decoded_parts():
    msg, raw = compose()
    decoded = (text_of(msg, "plain") + text_of(msg, "html")).encode()
    for blob in (raw, decoded):
        assert not PERSONNUMMER.search(blob), PERSONNUMMER.search(blob)
    assert not {f for f in MailFacts.__dataclass_fields__} & {"serial", "email", "phone"}


def test_a_script_in_the_customer_name_is_escaped_in_the_html_part():
    msg, _ = compose(customer_firstname="<script>alert('x')</script>", customer_surname="O'Brien")
    html = text_of(msg, "html")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<script>alert('x')</script> O'Brien" in text_of(msg, "plain")


def test_line_breaks_in_names_cannot_inject_headers():
    msg, _ = compose(service_name="Tjänst\r\nBcc: evil@example.com", address="Gatan 1\n")
    assert msg["Bcc"] is None
    assert msg["Subject"] == "Ny beställning 123: Tjänst Bcc: evil@example.com, Gatan 1"


def test_a_tl_without_order_address_is_an_error():
    with pytest.raises(mail.NoRecipient):
        compose(to=None)


def hook_facts(**overrides: object) -> WebhookFacts:
    values: dict[str, object] = {
        "outbox_id": 3,
        "event_id": 42,
        "event_type": EventType.STATUS_CHANGED,
        "order_id": 123,
        "status": OrderStatus.ACTIVE,
        "message_type": None,
        "event_at": datetime(2026, 3, 2, 9, 30, 5, 123456, tzinfo=UTC),
        "endpoint_id": 1,
        "url": "https://receiver.example/hook",
        "secret": "whsec_test",
        "active": True,
    }
    values.update(overrides)
    return WebhookFacts(**values)  # type: ignore[arg-type]


def test_webhook_payload_is_thin_and_names_the_message_type_only_for_messages():
    assert webhooks.payload(hook_facts()) == {
        "id": 42,
        "type": "status_changed",
        "order": 123,
        "status": "active",
        "date": "2026-03-02T09:30:05Z",
    }
    doc = webhooks.payload(
        hook_facts(event_type=EventType.MESSAGE_ADDED, message_type=MessageType.ALERT)
    )
    assert doc["message_type"] == "alert"
    assert json.loads(webhooks.encode(doc)) == doc


def test_signature_is_hmac_sha256_over_timestamp_dot_body():
    body = b'{"id":42}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert webhooks.sign("s3cret", 1700000000, body) == "v1=" + expected


def test_verification_accepts_a_fresh_signature_and_rejects_tampering_and_old_timestamps():
    body = b'{"id":42}'
    sig = webhooks.sign("s3cret", 1700000000, body)
    assert webhooks.verify("s3cret", "1700000000", sig, body, now=1700000100)
    assert not webhooks.verify("s3cret", "1700000000", sig, b'{"id":43}', now=1700000100)
    assert not webhooks.verify("other", "1700000000", sig, body, now=1700000100)
    assert not webhooks.verify("s3cret", "1700000001", sig, body, now=1700000100)
    assert not webhooks.verify("s3cret", "1700000000", sig, body, now=1700000000 + 301)
    # A forged header is refused, never an exception: not ASCII, a lone surrogate, digits
    # that are not 0-9.
    for forged in ("v1=å" + sig[4:], sig[:-1] + "\udc80", ""):
        assert not webhooks.verify("s3cret", "1700000000", forged, body, now=1700000100)
    assert not webhooks.verify("s3cret", "١٧٠٠٠٠٠٠٠٠", sig, body, now=1700000100)
    assert not webhooks.verify("s3cret", "soon", sig, body, now=1700000100)


def test_backoff_doubles_from_the_base_up_to_the_cap_with_jitter_in_the_upper_half():
    low = [backoff_seconds(n, base=30, cap=3600, rand=lambda: 0.0) for n in range(1, 11)]
    high = [backoff_seconds(n, base=30, cap=3600, rand=lambda: 1.0) for n in range(1, 11)]
    assert high == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
    assert low == [h / 2 for h in high]
    assert backoff_seconds(500, base=30, cap=3600, rand=lambda: 0.5) == 2700
    assert backoff_seconds(3, base=0, cap=3600) == 0
    with pytest.raises(ValueError):
        backoff_seconds(0, base=30, cap=3600)


@pytest.mark.parametrize(
    ("url", "host", "port", "tls", "starttls", "user", "password"),
    [
        ("smtp://mail.example:2525", "mail.example", 2525, False, False, None, None),
        ("smtp://mail.example", "mail.example", 25, False, False, None, None),
        (
            "smtp+starttls://u%40x:p%3Aw@mail.example",
            "mail.example",
            587,
            False,
            True,
            "u@x",
            "p:w",
        ),
        ("smtps://u:pw@mail.example:4650", "mail.example", 4650, True, False, "u", "pw"),
    ],
)
def test_smtp_urls(url, host, port, tls, starttls, user, password):
    s = parse_smtp_url(url)
    assert (s.hostname, s.port, s.use_tls, s.start_tls, s.username, s.password) == (
        host,
        port,
        tls,
        starttls,
        user,
        password,
    )
    assert "pw" not in repr(s) or password is None


@pytest.mark.parametrize("url", ["http://mail.example", "smtp://", "mail.example:25"])
def test_bad_smtp_urls_are_refused(url):
    with pytest.raises(ValueError):
        parse_smtp_url(url)


@pytest.mark.parametrize(
    "url", ["https://tl.example/hooks", "http://127.0.0.1:9000/h", "http://localhost/h"]
)
def test_webhook_urls_must_be_https_or_loopback(url):
    assert check_endpoint_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://tl.example/hooks",
        "ftp://tl.example/",
        "https:///nohost",
        "https://user:pw@tl.example/",
        "/relative",
        "https://tl.example:99999/",
    ],
)
def test_other_webhook_urls_are_refused(url):
    with pytest.raises(InvalidInput):
        check_endpoint_url(url)


def test_event_types_default_to_all_and_unknown_ones_are_refused():
    assert parse_event_types(None) == list(EventType)
    assert parse_event_types(" message_added , order_created") == [
        EventType.ORDER_CREATED,
        EventType.MESSAGE_ADDED,
    ]
    with pytest.raises(InvalidInput):
        parse_event_types("order_created,order_deleted")


def test_the_verification_snippet_in_the_docs_accepts_what_the_relay_signs():
    doc = (Path(__file__).parents[2] / "docs" / "notifications.md").read_text(encoding="utf-8")
    (snippet,) = re.findall(r"```python\n(.*?)```", doc, re.S)
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)  # the documented code, as a receiver would paste it
    body = webhooks.encode(webhooks.payload(hook_facts()))
    ts = int(time.time())
    headers = {
        "X-Serviceguide-Timestamp": str(ts),
        "X-Serviceguide-Signature": webhooks.sign("whsec_test", ts, body),
    }
    assert namespace["verify"]("whsec_test", headers, body)
    assert not namespace["verify"]("whsec_other", headers, body)
    assert not namespace["verify"]("whsec_test", headers, body + b" ")
    old = {
        "X-Serviceguide-Timestamp": str(ts - 301),
        "X-Serviceguide-Signature": webhooks.sign("whsec_test", ts - 301, body),
    }
    assert not namespace["verify"]("whsec_test", old, body)
