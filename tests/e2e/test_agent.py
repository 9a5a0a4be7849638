"""The service provider's agent end to end: the real server, the real KO simulator and the agent
(``serviceguide agent run --once``) as processes on 127.0.0.1, on SQLite and PostgreSQL.

The demo data's orders are processed too (they are the TL's orders as well); the assertions
look at the orders each test places itself, plus the invariants that hold for all: the sink holds
every order once, and no ON-API order exists twice for one order.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from serviceguide.agent.state import FINAL
from serviceguide.client import XspClient
from serviceguide.domain.personnummer import with_check_digit
from serviceguide.services import demo
from tests.e2e.conftest import HOST, SERVICEGUIDE, Deployment, Server, free_port

pytestmark = pytest.mark.e2e

SETTLE_DEADLINE = 60.0
SIM_AUTH = ("sim", "sim")
ONAPI_STATES = ("RECEIVED", "IN_PROGRESS", "DONE_SUCCESS", "DONE_FAILED")


@dataclass
class Simulator:
    proc: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def onapi_orders(self, coid: str = "SNFDMO") -> list[dict[str, Any]]:
        """Every ON-API order the simulator holds for ``coid``, in any state."""
        found: list[dict[str, Any]] = []
        with httpx.Client(auth=SIM_AUTH, timeout=10) as http:
            for state in ONAPI_STATES:
                r = http.get(f"{self.url}/{coid}/onapi/2.4/orders/", params={"state": state})
                r.raise_for_status()
                found += r.json()
        return found


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@contextmanager
def simulator(d: Deployment, *args: str) -> Iterator[Simulator]:
    port = free_port()
    log = (d.workdir / f"sim-{port}.log").open("wb")
    proc = subprocess.Popen(
        [str(SERVICEGUIDE), "ko-simulator", "--host", HOST, "--port", str(port), *args],
        cwd=d.workdir,
        env=d.env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        sim = Simulator(proc, port)
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (d.workdir / f"sim-{port}.log").read_text()
            with suppress(httpx.HTTPError):
                if httpx.get(f"{sim.url}/SNFDMO/onapi/2.4/orders/", auth=SIM_AUTH).is_success:
                    break
            assert time.monotonic() < deadline, "the KO simulator did not start"
            time.sleep(0.05)
        yield sim
    finally:
        _stop(proc)
        log.close()


@dataclass
class AgentSetup:
    d: Deployment
    name: str
    config: Path
    tl: dict[str, Any]

    @property
    def state(self) -> Path:
        return self.d.workdir / f"{self.name}.sqlite3"

    @property
    def sink(self) -> Path:
        return self.d.workdir / f"{self.name}.jsonl"

    def write(
        self,
        server: Server,
        networks: dict[str, tuple[Simulator, dict[str, str]]],
        extra: str = "",
    ) -> None:
        lines = [
            "[api]",
            f'base_url = "{server.base_url}"',
            f"api_user = {self.tl['api_user']}",
            f'api_key = "{self.tl["api_key"]}"',
            "[state]",
            f'path = "{self.state.name}"',
            "[sink]",
            f'jsonl = "{self.sink.name}"',
        ]
        for coid, (sim, services) in networks.items():
            mapping = ", ".join(f'{k} = "{v}"' for k, v in services.items())
            lines += [
                f"[onapi.{coid}]",
                f'url = "{sim.url}/{coid}/onapi/2.4"',
                'username = "sim"',
                'password = "sim"',
                f"services = {{ {mapping} }}",
            ]
        self.config.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")

    def args(self, *extra: str) -> list[str]:
        return [str(SERVICEGUIDE), "agent", *extra, "--config", str(self.config)]

    def once(self) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            self.args("run", "--once", "--log-json"),
            cwd=self.d.workdir,
            env=self.d.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
        return proc

    def steps(self) -> dict[int, str]:
        if not self.state.exists():
            return {}
        with sqlite3.connect(self.state) as db:
            return dict(db.execute("SELECT id, step FROM orders").fetchall())

    def settle(self, *must_see: int) -> dict[int, str]:
        """Run one pass after another until every order is in a final step (bounded)."""
        deadline = time.monotonic() + SETTLE_DEADLINE
        while True:
            self.once()
            steps = self.steps()
            if set(must_see) <= set(steps) and all(s in FINAL for s in steps.values()):
                return steps
            assert time.monotonic() < deadline, f"not settled: {steps}"
            time.sleep(0.2)

    def sink_lines(self) -> list[dict[str, Any]]:
        if not self.sink.exists():
            return []
        return [json.loads(x) for x in self.sink.read_text(encoding="utf-8").splitlines()]

    def followups(self) -> list[dict[str, Any]]:
        proc = subprocess.run(
            self.args("followups", "--json"),
            cwd=self.d.workdir,
            env=self.d.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return list(json.loads(proc.stdout))


def free_accesses(coid: str) -> list[str]:
    used = {o[3] for o in demo.ORDERS}
    return [a[1] for a in demo.ACCESSES if a[0] == coid and a[1] not in used]


@pytest.fixture(scope="module")
def env(deployment: Deployment) -> Iterator[dict[str, Any]]:
    with ExitStack() as stack:
        (server,) = stack.enter_context(deployment.serving(1))
        good = stack.enter_context(simulator(deployment, "--delay", "0.3"))
        failing = stack.enter_context(simulator(deployment, "--delay", "0.1", "--fail-rate", "1"))
        slow = stack.enter_context(simulator(deployment, "--delay", "3"))
        deployment.run("networks", "set-activation-url", "SNFDMO", f"{good.url}/SNFDMO/activation")
        yield {
            "server": server,
            "good": good,
            "failing": failing,
            "slow": slow,
            "accesses": iter(free_accesses("SNFDMO")),
        }


def tl(d: Deployment, xsp: int) -> dict[str, Any]:
    return next(t for t in d.demo["tls"] if t["xsp"] == xsp)


def place(server: Server, access: str, service: int, n: int) -> int:
    body = {
        "coid": "SNFDMO",
        "accessId": access,
        "services": [service],
        "customer": {
            "firstname": f"Agnes{n}",
            "surname": "Agent",
            "serial": with_check_digit("850505123"),
            "email": f"agnes{n}@example.se",
            "phone": "070-5550000",
        },
        "delivery": "asap",
        "confirm_duplicate": True,  # generated customers may repeat
    }
    r = httpx.post(f"{server.base_url}/api/guide/orders", json=body, timeout=30)
    assert r.status_code == 201, r.text
    return int(r.json()["orders"][0]["id"])


def xsp_client(server: Server, who: dict[str, Any]) -> XspClient:
    return XspClient(server.base_url, who["api_user"], who["api_key"])


def assert_sink_once(agent: AgentSetup) -> dict[int, dict[str, Any]]:
    lines = agent.sink_lines()
    counts = Counter(x["order_id"] for x in lines)
    assert all(n == 1 for n in counts.values()), counts
    return {x["order_id"]: x for x in lines}


def assert_onapi_once(sim: Simulator) -> Counter[str]:
    refs = Counter(o["spReference"] for o in sim.onapi_orders())
    assert all(n == 1 for n in refs.values()), refs
    return refs


def test_new_orders_end_delivered_and_the_sink_holds_each_once(
    deployment: Deployment, env: dict[str, Any]
):
    server, good = env["server"], env["good"]
    agent = AgentSetup(
        deployment, "tl31420", deployment.workdir / "tl31420.toml", tl(deployment, 31420)
    )
    agent.write(server, {"SNFDMO": (good, {"AB100100": "AB100100"})})
    new = [place(server, next(env["accesses"]), 2440, i) for i in range(2)]
    unmapped = place(server, next(env["accesses"]), 2441, 9)  # AB250250: no mapping
    steps = agent.settle(*new, unmapped)

    assert [steps[i] for i in new] == ["delivered", "delivered"]
    sink = assert_sink_once(agent)
    with xsp_client(server, agent.tl) as xsp:
        for order_id in new:
            assert xsp.order_info(order_id).status == "delivered"
            assert sink[order_id]["customer"]["firstname"].startswith("Agnes")
            assert sink[order_id]["order"]["service_uid"] == "AB100100"
            statuses = [e.message for e in xsp.order_log(order_id) if e.type == "system"]
            assert any("to received" in m for m in statuses)
            assert any("to active" in m for m in statuses)
        # a service without a mapping: an alert and a follow-up, no crash
        alerts = [e for e in xsp.order_log(unmapped) if e.type == "alert"]
        assert len(alerts) == 1 and "AB250250" in alerts[0].message
        assert xsp.order_info(unmapped).status == "received"
    assert steps[unmapped] == "manual"
    assert unmapped in {f["id"] for f in agent.followups()}
    refs = assert_onapi_once(good)
    assert all(refs[str(i)] == 1 for i in new)

    # Another pass changes nothing: no line, no ON-API order, no message twice.
    agent.once()
    assert len(agent.sink_lines()) == len(sink)
    assert assert_onapi_once(good) == refs


def test_a_failed_activation_ends_waiting_with_an_error_and_a_followup(
    deployment: Deployment, env: dict[str, Any]
):
    server, failing, good = env["server"], env["failing"], env["good"]
    agent = AgentSetup(
        deployment, "tl31421", deployment.workdir / "tl31421.toml", tl(deployment, 31421)
    )
    agent.write(server, {"SNFDMO": (failing, {"AB10001000": "AB10001000", "TVBAS": "TVBAS"})})
    doomed = place(server, next(env["accesses"]), 2443, 20)
    direct = place(server, next(env["accesses"]), 2442, 21)  # TVBAS: direct activation
    steps = agent.settle(doomed, direct)

    assert steps[doomed] == "waiting"
    assert steps[direct] == "delivered"
    with xsp_client(server, agent.tl) as xsp:
        assert xsp.order_info(doomed).status == "waiting"
        errors = [e for e in xsp.order_log(doomed) if e.type == "error"]
        assert len(errors) == 1 and "DONE_FAILED" in errors[0].message
        assert xsp.order_info(direct).status == "delivered"
    follow = {f["id"]: f for f in agent.followups()}
    assert doomed in follow and "DONE_FAILED" in follow[doomed]["reason"]
    assert direct not in follow
    sink = assert_sink_once(agent)
    assert direct in sink and sink[direct]["order"]["status"] == "delivered"
    # the directly activated order was only imported: no ON-API order for it anywhere
    for sim in (failing, good):
        assert str(direct) not in {o["spReference"] for o in sim.onapi_orders()}
    text = subprocess.run(
        agent.args("followups"), cwd=deployment.workdir, env=deployment.env,
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert str(doomed) in text


def test_killing_the_agent_mid_run_loses_and_duplicates_nothing(
    deployment: Deployment, env: dict[str, Any]
):
    server, slow = env["server"], env["slow"]
    agent = AgentSetup(
        deployment, "tl31420", deployment.workdir / "tl31420-slow.toml", tl(deployment, 31420)
    )
    agent.write(server, {"SNFDMO": (slow, {"AB100100": "AB100100"})})
    before = len(agent.sink_lines())
    new = [place(server, next(env["accesses"]), 2440, 30 + i) for i in range(3)]

    def imported() -> bool:  # the first kill: right after an import of one of the new orders
        return len(agent.sink_lines()) > before

    def following() -> bool:  # the second: while an ON-API order is being followed
        return any(step == "active" for i, step in agent.steps().items() if i in new)

    kills = 0
    for moment in (imported, following):
        proc = subprocess.Popen(
            agent.args("run", "--interval", "0.1", "--quiet"),
            cwd=deployment.workdir, env=deployment.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while not moment() and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.01)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        kills += moment()
    steps = agent.settle(*new)

    assert kills == 2
    assert [steps[i] for i in new] == ["delivered"] * 3
    sink = assert_sink_once(agent)
    assert len(sink) == before + 3 and set(new) <= set(sink)
    refs = assert_onapi_once(slow)
    assert all(refs[str(i)] == 1 for i in new)
    with xsp_client(server, agent.tl) as xsp:
        assert [xsp.order_info(i).status for i in new] == ["delivered"] * 3


def test_sigterm_stops_the_agent_cleanly(deployment: Deployment, env: dict[str, Any]):
    agent = AgentSetup(
        deployment, "tl31420", deployment.workdir / "tl31420.toml", tl(deployment, 31420)
    )
    log_path = deployment.workdir / "agent-sigterm.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            agent.args("run", "--interval", "0.2", "--log-json"), cwd=deployment.workdir,
            env=deployment.env, stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while '"pass": 2' not in log_path.read_text(encoding="utf-8"):
                assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0
        finally:
            _stop(proc)
    logged = [json.loads(x) for x in log_path.read_text(encoding="utf-8").splitlines()]
    assert any("stopping" in x["message"] for x in logged)


def test_a_bad_configuration_exits_2_and_bad_credentials_exit_1(
    deployment: Deployment, env: dict[str, Any]
):
    bad = deployment.workdir / "bad.toml"
    bad.write_text("[api\nbase_url = 1\n", encoding="utf-8")
    proc = subprocess.run(
        [str(SERVICEGUIDE), "agent", "run", "--once", "--config", str(bad)],
        cwd=deployment.workdir, env=deployment.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2 and "configuration error" in proc.stderr
    wrong = AgentSetup(deployment, "wrong", deployment.workdir / "wrong.toml",
                       {"api_user": 999999, "api_key": "nope"})  # fmt: skip
    wrong.write(env["server"], {})
    proc = subprocess.run(
        wrong.args("run", "--once"), cwd=deployment.workdir, env=deployment.env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1, (proc.stdout, proc.stderr)


def test_the_running_agent_answers_the_portals_push_and_the_poll_takes_the_rest(
    deployment: Deployment, env: dict[str, Any]
):
    server, good = env["server"], env["good"]
    agent = AgentSetup(
        deployment, "tl31420", deployment.workdir / "tl31420-sp.toml", tl(deployment, 31420)
    )
    port = free_port()
    sp = f'[sp]\nport = {port}\nusername = "portal"\npassword = "portal-secret"\n'
    agent.write(server, {"SNFDMO": (good, {"AB100100": "AB100100"})}, sp)
    log_path = deployment.workdir / "agent-sp.log"
    with log_path.open("wb") as log:
        # A long interval: after its first pass the agent polls no more during the test, so
        # the push, not the poll, is what finds the order.
        proc = subprocess.Popen(
            agent.args("run", "--interval", "600", "--log-json", "--quiet"),
            cwd=deployment.workdir, env=deployment.env, stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while '"pass": 1' not in log_path.read_text(encoding="utf-8"):
                assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.05)
            assert "serving ON-API 2.6" in log_path.read_text(encoding="utf-8")
            access = next(env["accesses"])
            pushed = place(server, access, 2440, 40)
            polled = place(server, next(env["accesses"]), 2440, 41)  # never pushed
            answer = httpx.post(
                f"http://{HOST}:{port}/onapi/2.6/order/",
                json={
                    "coAccessId": access,
                    "operation": "ACTIVATE",
                    "orderDateTime": "2026-12-03T08:00:00Z",
                    "requestedDateTime": "2026-12-03T08:00:00Z",
                    "products": [{"productId": "bredband", "offeringId": "AB100100"}],
                    "customerDetails": {"firstName": "Agnes40", "lastName": "Agent"},
                },
                headers={"X-Order-ID": str(pushed)},
                auth=("portal", "portal-secret"),
                timeout=30,
            )
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0
        finally:
            _stop(proc)
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "CONFIRMED"  # the simulator finishes in 0.3 s
    assert agent.steps()[pushed] == "onapi_placed" and polled not in agent.steps()
    with xsp_client(server, agent.tl) as xsp:
        xsp.set_status(pushed, "received")  # what the portal does on CONFIRMED
    deadline = time.monotonic() + SETTLE_DEADLINE
    while {agent.steps().get(o) for o in (pushed, polled)} != {"delivered"}:
        agent.once()  # the poll: the rest of both, each imported once
        assert time.monotonic() < deadline, agent.steps()
    sink = assert_sink_once(agent)
    assert sink[pushed]["pushed"]["offeringId"] == "AB100100" and "pushed" not in sink[polled]
    refs = assert_onapi_once(good)
    assert refs[str(pushed)] == refs[str(polled)] == 1
    with xsp_client(server, agent.tl) as xsp:
        assert [xsp.order_info(o).status for o in (pushed, polled)] == ["delivered"] * 2
