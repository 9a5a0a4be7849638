"""The webhook samples in docs/notifications.md hold for real deliveries: the signature check
written there accepts a real delivery with the header names as frameworks give them (lower-cased)
or as sent, refuses a tampered one, and the example bodies are the compact JSON actually sent."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from serviceguide.services import admin, webhooks
from serviceguide.services.context import AppContext
from tests.integration import test_webhooks
from tests.integration.test_webhooks import Receiver
from tests.support.notify import drain
from tests.support.world import World
from tests.support.xsp import XspClient

pytestmark = pytest.mark.integration

receiver = test_webhooks.receiver  # the fixture: a real HTTP receiver on 127.0.0.1

PAGE = Path(__file__).resolve().parents[2] / "docs" / "notifications.md"


def section(title: str) -> str:
    text = PAGE.read_text(encoding="utf-8")
    return text.split(f"### {title}\n", 1)[1].split("\n### ", 1)[0]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def documented_verify() -> Callable[[str, Any, bytes], bool]:
    (code,) = blocks(section("Verifying a delivery"), "python")
    namespace: dict[str, Any] = {}
    exec(compile(code, str(PAGE), "exec"), namespace)  # the page's code, as a reader copies it
    return namespace["verify"]  # type: ignore[no-any-return]


async def deliveries(
    ctx: AppContext, world: World, xsp: XspClient, receiver: Receiver
) -> tuple[str, dict[str, Any]]:
    """The endpoint's secret, and a real delivery of each event type by type."""
    tl1 = await admin.find_org(ctx, xsp=1001)
    endpoint = await webhooks.register(ctx, tl1, receiver.url("docs"))
    session = await xsp.session(world.users["TL1"])
    o1 = world.orders["o1"]
    assert (await session.call("set_status", id=o1, status="active")).code == 200
    added = await session.call("add_message", id=o1, type="error", message="Fel på porten")
    assert added.code == 200
    await drain(ctx)
    calls = {call.event["type"]: call for call in receiver.received("docs")}
    assert set(calls) == {"status_changed", "message_added"}
    return endpoint.secret, calls


async def test_the_documented_signature_check_accepts_a_real_delivery_however_headers_are_cased(
    ctx: AppContext, world: World, xsp: XspClient, receiver: Receiver
):
    verify = documented_verify()
    secret, calls = await deliveries(ctx, world, xsp, receiver)
    call = calls["status_changed"]
    assert all(name == name.lower() for name in call.headers)  # as the framework gave them
    assert verify(secret, call.headers, call.body)
    as_sent = {name.title(): value for name, value in call.headers.items()}
    assert "X-Serviceguide-Signature" in as_sent
    assert verify(secret, as_sent, call.body)

    assert not verify(secret, call.headers, call.body.replace(b"active", b"cancelled"))
    assert not verify("whsec_not-the-secret", call.headers, call.body)
    assert not verify(secret, {**call.headers, "x-serviceguide-timestamp": "1"}, call.body)
    assert not verify(secret, {}, call.body)


async def test_the_documented_bodies_are_the_compact_json_that_is_sent(
    ctx: AppContext, world: World, xsp: XspClient, receiver: Receiver
):
    _, calls = await deliveries(ctx, world, xsp, receiver)
    examples = [json.loads(b) for b in blocks(section("Requests"), "json")]
    assert [e["type"] for e in examples] == ["status_changed", "message_added"]
    for raw, example in zip(blocks(section("Requests"), "json"), examples, strict=True):
        sent = calls[example["type"]].body
        assert raw.strip() == json.dumps(example, separators=(",", ":"))  # compact, as sent
        assert sent == json.dumps(json.loads(sent), separators=(",", ":")).encode()
        assert list(json.loads(sent)) == list(example)  # the same fields, in the same order
        assert {k: type(v) for k, v in json.loads(sent).items()} == {
            k: type(v) for k, v in example.items()
        }
