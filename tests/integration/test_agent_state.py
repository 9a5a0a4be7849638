"""The agent's state and sink on a real file system: the cursor moves with the polled orders,
the sink recovers from a crash between writing a line and recording it, and one agent at a time
holds a state file; an unreachable XSP API is a transient failure, not a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from serviceguide.agent.client import RetryPolicy, XspClient
from serviceguide.agent.config import parse_config
from serviceguide.agent.runner import Agent
from serviceguide.agent.state import AgentState, Sink, StateLocked, Step
from tests.support.commands import size_consoles
from tests.support.servers import free_port

pytestmark = pytest.mark.integration


def test_polled_orders_and_the_cursor_are_recorded_together(tmp_path: Path):
    state = AgentState(tmp_path / "a.sqlite3")
    state.record_seen([(3, "new"), (5, "delivered")])
    state.record_seen([(4, "new")])  # never moves the cursor back
    assert state.cursor() == 5
    assert [(r.id, r.step, r.xsp_status) for r in state.pending()] == [
        (3, Step.SEEN, "new"),
        (4, Step.SEEN, "new"),
        (5, Step.SEEN, "delivered"),
    ]
    state.update(3, Step.WAITING, followup=1, reason="ON-API refused")
    assert [r.id for r in state.followups()] == [3]
    assert [r.id for r in state.pending()] == [4, 5]
    state.close()


def test_the_sink_finds_a_line_written_before_a_crash_and_cuts_a_torn_one(tmp_path: Path):
    sink = Sink(tmp_path / "out.jsonl")
    sink.append({"order_id": 1, "order": {}, "customer": {}})
    offset = sink.size()
    sink.append({"order_id": 2, "order": {}, "customer": {}})
    assert sink.written_since(offset, 2)  # written, then the crash: not written again
    assert not sink.written_since(sink.size(), 3)
    torn = sink.size()
    with sink.path.open("a", encoding="utf-8") as f:
        f.write('{"order_id": 3, "ord')  # the crash came in the middle of the write
    assert not sink.written_since(torn, 3)
    assert sink.size() == torn  # cut back, so the line can be written whole
    ids = [json.loads(x)["order_id"] for x in sink.path.read_text().splitlines()]
    assert ids == [1, 2]


def test_only_one_agent_holds_a_state_file(tmp_path: Path):
    first, second = AgentState(tmp_path / "s.sqlite3"), AgentState(tmp_path / "s.sqlite3")
    first.lock()
    with pytest.raises(StateLocked):
        second.lock()
    first.close()
    second.lock()
    second.close()


def test_an_unreachable_xsp_api_is_logged_and_retried_next_pass(tmp_path: Path):
    url = f"http://127.0.0.1:{free_port()}"  # nobody listens here
    cfg = parse_config(
        f'[api]\nbase_url = "{url}"\napi_user = 1\napi_key = "k"\n'
        '[state]\npath = "s.sqlite3"\n[sink]\njsonl = "o.jsonl"\n',
        tmp_path,
    )
    xsp = XspClient(url, 1, "k", retry=RetryPolicy(attempts=2, base=0.01), timeout=2)
    agent = Agent(cfg, xsp=xsp)
    try:
        report = agent.run_pass()
    finally:
        agent.close()
    assert report.polled == 0 and report.transient and "polling orders" in report.transient[0]
    assert AgentState(tmp_path / "s.sqlite3").cursor() == 0


def test_an_onapi_order_that_never_finishes_is_flagged_but_still_followed(tmp_path: Path):
    import httpx

    from serviceguide.agent.onapi import OnApiClient

    cfg = parse_config(
        '[api]\nbase_url = "http://127.0.0.1:1"\napi_user = 1\napi_key = "k"\n'
        '[state]\npath = "s.sqlite3"\n[sink]\njsonl = "o.jsonl"\n'
        '[onapi.KOA]\nurl = "http://ko/onapi/2.4"\nusername = "u"\npassword = "p"\n',
        tmp_path,
    )
    stuck = httpx.MockTransport(
        lambda r: httpx.Response(200, json={"orderId": "X1", "state": "IN_PROGRESS"})
    )

    def ko(coid: str) -> OnApiClient:
        return OnApiClient("http://ko/onapi/2.4", "u", "p", http=httpx.Client(transport=stuck))

    agent = Agent(cfg, onapi=ko, stale_after=0)
    try:
        agent.state.record_seen([(7, "active")])
        agent.state.update(7, Step.ACTIVE, coid="KOA", onapi_order_id="X1")
        row = agent.state.get(7)
        assert row is not None
        row, note = agent.advance(row)
        assert "still IN_PROGRESS" in note
        assert row.step == Step.ACTIVE and row.followup and "still IN_PROGRESS" in row.reason
        assert [r.id for r in agent.state.followups()] == [7]
        assert [r.id for r in agent.state.pending()] == [7]  # and followed on every pass
    finally:
        agent.close()


def test_a_state_file_of_an_older_agent_gets_the_push_columns(tmp_path: Path):
    import sqlite3

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:  # the orders table as the first release made it
        db.execute(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, step TEXT NOT NULL, "
            "xsp_status TEXT NOT NULL DEFAULT '', coid TEXT NOT NULL DEFAULT '', "
            "service_uid TEXT NOT NULL DEFAULT '', socket TEXT NOT NULL DEFAULT '', "
            "delivery TEXT NOT NULL DEFAULT '', sink_offset INTEGER, onapi_order_id TEXT, "
            "onapi_state TEXT NOT NULL DEFAULT '', followup INTEGER NOT NULL DEFAULT 0, "
            "reason TEXT NOT NULL DEFAULT '', message_type TEXT NOT NULL DEFAULT '', "
            "updated TEXT NOT NULL, step_since TEXT NOT NULL DEFAULT '')"
        )
        db.execute("INSERT INTO orders (id, step, updated) VALUES (3, 'active', 'x')")
    state = AgentState(path)
    try:
        row = state.get(3)
        assert row is not None and (row.step, row.pushed, row.answer) == (Step.ACTIVE, "", "")
        assert not state.record_pushed(3, "active")  # known already: only marked as pushed
        assert state.record_pushed(4, "new")
        assert state.cursor() == 0  # a push never moves the poll's cursor
        assert all(r.pushed for r in state.pending())
    finally:
        state.close()


def test_the_notices_command_and_hash_password(tmp_path: Path):
    from argon2 import PasswordHasher
    from typer.testing import CliRunner

    from serviceguide.agent.cli import agent_app

    config = tmp_path / "agent.toml"
    config.write_text(
        '[api]\nbase_url = "http://127.0.0.1:1"\napi_user = 1\napi_key = "k"\n'
        '[state]\npath = "s.sqlite3"\n[sink]\njsonl = "o.jsonl"\n',
        encoding="utf-8",
    )
    runner = CliRunner()
    empty = runner.invoke(agent_app, ["notices", "--config", str(config), "--json"])
    assert (empty.exit_code, empty.stdout.strip()) == (0, "[]")
    state = AgentState(tmp_path / "s.sqlite3")
    notice = {
        "coOrderId": "co-1",
        "coAccessId": "A1",
        "orderDateTime": "2026-12-03T08:00:00Z",
        "requestedDateTime": "2026-12-03T08:00:00Z",
        "products": [
            {"productId": "p", "offeringId": "o", "coProduct": "100/10", "coSubscriptionId": "s"}
        ],
    }
    assert state.record_notice("order:9", 9, notice)
    assert not state.record_notice("order:9", 9, notice)
    state.close()
    listed = runner.invoke(agent_app, ["notices", "--config", str(config), "--json"])
    (row,) = json.loads(listed.stdout)
    assert (row["order_id"], row["co_order_id"], row["repeats"]) == (9, "co-1", 1)
    size_consoles("200")  # as wide as a new process would make them, whatever ran before
    table = runner.invoke(agent_app, ["notices", "--config", str(config)], env={"COLUMNS": "200"})
    assert "co-1" in table.stdout and "100/10" in table.stdout

    hashed = runner.invoke(agent_app, ["hash-password"], input="portal-secret\n")
    assert hashed.exit_code == 0
    assert PasswordHasher().verify(hashed.stdout.strip(), "portal-secret")
    assert "portal-secret" not in hashed.stdout
    assert runner.invoke(agent_app, ["hash-password"], input="\n").exit_code == 2
