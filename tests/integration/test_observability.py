"""What an operator sees: X-Request-ID on every answer and in the outbox and the relay's lines,
/metrics (only to the allowed addresses) with the figures the code counts, /readyz, HEAD and
405's Allow, and logs in both formats without secrets or personnummer."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from serviceguide.app import create_app
from serviceguide.domain.personnummer import normalise
from serviceguide.notify.relay import Relay
from serviceguide.observability.logs import log_config
from serviceguide.services import admin, webhooks
from serviceguide.services.context import AppContext
from serviceguide.storage.tables import outbox
from tests.integration.test_guide_api import body
from tests.support.world import SERIALS, World
from tests.support.xsp import XspClient

pytestmark = pytest.mark.integration

PERSONNUMMER = normalise(SERIALS[0])


def _client(ctx: AppContext, ip: str = "127.0.0.1") -> httpx.AsyncClient:
    app = create_app(ctx.settings)
    app.state.ctx = ctx
    transport = httpx.ASGITransport(app=app, client=(ip, 1), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def http(ctx: AppContext, world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(ctx) as client:
        yield client


def scrape(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


# -- X-Request-ID -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path,method",
    [
        ("/healthz", "GET"),
        ("/api/guide/addresses?q=A", "GET"),
        ("/no/such/page", "GET"),
        ("/api/guide/orders", "GET"),  # 405
        ("/static/guide.css", "GET"),
        ("/plain/serviceguide_log?method=nope", "GET"),
        ("/api/guide/orders", "POST"),  # 415 / 422
    ],
)
async def test_every_answer_carries_a_request_id_and_a_sane_one_is_kept(
    http: httpx.AsyncClient, path: str, method: str
):
    made = await http.request(method, path)
    assert len(made.headers["x-request-id"]) == 24
    kept = await http.request(method, path, headers={"X-Request-ID": "lb-7f3c.a_b-9"})
    assert kept.headers["x-request-id"] == "lb-7f3c.a_b-9"
    assert kept.headers.get_list("x-request-id") == ["lb-7f3c.a_b-9"]


@pytest.mark.parametrize(
    "incoming", ["x" * 65, "two words", "semi;colon", "new\\nline", "å", "<script>", ""]
)
async def test_an_insane_request_id_is_replaced(http: httpx.AsyncClient, incoming: str):
    r = await http.get("/healthz", headers={"X-Request-ID": incoming.encode("utf-8")})
    rid = r.headers["x-request-id"]
    assert rid != incoming and len(rid) == 24 and rid.isalnum()


async def test_the_request_id_of_an_order_is_kept_with_its_deliveries_and_logged_by_the_relay(
    ctx: AppContext, world: World, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
):
    org = await admin.find_org(ctx, xsp=1001)
    await webhooks.register(ctx, org, "http://127.0.0.1:9/hook")
    r = await http.post("/api/guide/orders", json=body(), headers={"X-Request-ID": "order-req-1"})
    assert r.status_code == 201
    placed = [o["id"] for o in r.json()["orders"]]
    async with ctx.db.read() as conn:
        rows = (
            await conn.execute(
                select(outbox.c.kind, outbox.c.request_id).where(outbox.c.order_id.in_(placed))
            )
        ).all()
    assert {k for k, _ in rows} == {"mail", "webhook", "receipt"}
    assert {rid for _, rid in rows} == {"order-req-1"}
    fast = ctx.settings.model_copy(update={"outbox_backoff_base_seconds": 0})
    with caplog.at_level(logging.INFO, logger="serviceguide.relay"):
        async with Relay(AppContext(ctx.db, fast)) as relay:
            await relay.step()
    lines = [
        rec
        for rec in caplog.records
        if rec.name == "serviceguide.relay" and getattr(rec, "order_id", None) in placed
    ]
    assert len(lines) == len(rows)
    assert all(getattr(rec, "request_id", None) == "order-req-1" for rec in lines)
    assert all("request order-req-1" in rec.getMessage() for rec in lines)


# -- /metrics and /readyz -----------------------------------------------------------------


async def test_metrics_are_a_404_to_addresses_not_allowed(ctx: AppContext, world: World):
    async with _client(ctx, ip="203.0.113.9") as outsider:
        r = await outsider.get("/metrics")
        assert r.status_code == 404 and "serviceguide" not in r.text
    allowed = AppContext(
        ctx.db, ctx.settings.model_copy(update={"metrics_allow": "203.0.113.0/24"})
    )
    async with _client(allowed, ip="203.0.113.9") as insider:
        assert (await insider.get("/metrics")).status_code == 200
    async with _client(allowed, ip="127.0.0.1") as local:
        assert (await local.get("/metrics")).status_code == 404


async def test_metrics_count_what_happens(ctx: AppContext, world: World, http: httpx.AsyncClient):
    before = scrape((await http.get("/metrics")).text)
    tl1 = world.users["TL1"]
    xsp = XspClient(http)
    session = await xsp.session(tl1)
    await session.call("order_info", id=world.orders["o1"])
    await session.call("order_info", id=999999)
    await xsp.call("api_login", api_user=tl1.api_user, api_key="wrong")
    assert (await http.post("/api/guide/orders", json=body())).status_code == 201
    await http.get("/api/guide/accesses/KOA/A1/services")
    await http.get("/no/such/page")
    r = await http.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    after = scrape(r.text)

    def grew(name: str, by: float = 1, **labels: str) -> None:
        assert value(after, name, **labels) - value(before, name, **labels) == by, (name, labels)

    grew("serviceguide_xsp_calls_total", method="order_info", status="200")
    grew("serviceguide_xsp_calls_total", method="order_info", status="404")
    grew("serviceguide_xsp_calls_total", method="api_login", status="401")
    grew("serviceguide_login_failures_total", kind="api")
    grew("serviceguide_orders_placed_total", by=2)
    route = "/api/guide/accesses/{coid}/{access_id}/services"
    grew("serviceguide_http_requests_total", route=route, status="200")
    grew("serviceguide_http_request_duration_seconds_count", route=route)
    grew("serviceguide_http_requests_total", route="unmatched", status="404")
    # Read from the database when scraped: the two new orders' mails wait in the outbox.
    assert value(after, "serviceguide_outbox_pending", kind="mail") >= 2
    assert value(after, "serviceguide_outbox_failed", kind="webhook") == 0
    assert value(after, "serviceguide_outbox_oldest_pending_age_seconds", kind="mail") >= 0
    assert value(after, "serviceguide_database_up") == 1
    # No raw path or query value ever becomes a label.
    assert "A1" not in {v for (_, labels) in after for _, v in labels}


async def test_throttled_answers_are_counted_by_limit(ctx: AppContext, world: World):
    strict = AppContext(ctx.db, ctx.settings.model_copy(update={"login_failures": 1}))
    async with _client(strict) as http:
        before = scrape((await http.get("/metrics")).text)
        xsp = XspClient(http)
        await xsp.call("api_login", api_user=world.users["TL1"].api_user, api_key="x")
        r = await xsp.call("api_login", api_user=world.users["TL1"].api_user, api_key="x")
        assert r.code == 429
        after = scrape((await http.get("/metrics")).text)
    assert (
        value(after, "serviceguide_throttled_total", limit="login")
        - value(before, "serviceguide_throttled_total", limit="login")
        == 1
    )


async def test_the_server_is_ready_when_its_database_answers(http: httpx.AsyncClient):
    r = await http.get("/readyz")
    assert (r.status_code, r.json()["status"]) == (200, "ready")


# -- HEAD and 405 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/healthz", "/static/guide.css", "/api/guide/addresses?q=A", "/staff/login"]
)
async def test_head_is_answered_wherever_get_is(http: httpx.AsyncClient, path: str):
    get = await http.get(path)
    head = await http.head(path)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]


@pytest.mark.parametrize(
    "path,allowed",
    [
        ("/plain/serviceguide_log", {"GET", "HEAD", "POST"}),
        ("/staff/login", {"GET", "HEAD", "POST"}),
        ("/api/guide/orders", {"POST"}),
        ("/healthz", {"GET", "HEAD"}),
    ],
)
async def test_a_405_lists_every_method_the_path_takes(
    http: httpx.AsyncClient, path: str, allowed: set[str]
):
    r = await http.request("PUT", path)
    assert r.status_code == 405
    assert {m.strip() for m in r.headers["allow"].split(",")} == allowed


# -- logs ---------------------------------------------------------------------------------


@pytest.fixture
def logged(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """The server's log configuration in the format asked for, writing into a buffer."""
    stream = io.StringIO()
    config = log_config(request.param)
    for handler in config["handlers"].values():
        handler["stream"] = stream
    logging.config.dictConfig(config)
    try:
        yield stream
    finally:
        logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})
        for name in ("serviceguide", "uvicorn", "asyncpg"):
            lg = logging.getLogger(name)
            lg.handlers.clear()
            lg.propagate = True
        logging.getLogger().handlers.clear()


SPELLINGS = [
    PERSONNUMMER,
    f"{PERSONNUMMER[:8]}-{PERSONNUMMER[8:]}",
    f"{PERSONNUMMER[2:8]} {PERSONNUMMER[8:]}",
    f"{PERSONNUMMER[:4]} {PERSONNUMMER[4:6]} {PERSONNUMMER[6:8]} {PERSONNUMMER[8:]}",
    " ".join(PERSONNUMMER[2:]),
]


@pytest.mark.parametrize("logged", ["text", "json"], indirect=True)
async def test_request_lines_mask_every_spelling_of_a_personnummer_and_every_secret(
    ctx: AppContext, world: World, http: httpx.AsyncClient, logged: io.StringIO
):
    tl1 = world.users["TL1"]
    the_hash = await XspClient(http).login(tl1.api_user, tl1.api_key)
    await http.get("/plain/serviceguide_log", params={"method": "orders", "hash": the_hash})
    for spelling in SPELLINGS:
        await http.get("/", params={"q": spelling})
        await http.get(f"/access/KOA/{spelling}")
    text = logged.getvalue()
    assert "serviceguide_log" in text and "/access/" in text  # the requests were logged …
    assert tl1.api_key not in text and the_hash not in text  # … without their secrets
    digits_only = text.replace(" ", "").replace("%20", "").replace("+", "")
    assert PERSONNUMMER[2:] not in digits_only
    assert PERSONNUMMER[8:] not in text or f"-{PERSONNUMMER[8:]}" not in text


@pytest.mark.parametrize("logged", ["json"], indirect=True)
async def test_json_logs_are_one_object_per_line_with_the_request_fields(
    ctx: AppContext, world: World, http: httpx.AsyncClient, logged: io.StringIO
):
    await http.get(
        "/api/guide/accesses/KOA/A1/services?secret=x", headers={"X-Request-ID": "rid-42"}
    )
    logging.getLogger("uvicorn.error").warning("from uvicorn, password=hunter2")
    logging.getLogger("serviceguide.relay").info("from the relay")
    logging.getLogger("some.library").warning("Authorization: Bearer abcdefghijkl")
    lines = [json.loads(line) for line in logged.getvalue().splitlines()]
    request = next(d for d in lines if d.get("request_id") == "rid-42")
    assert request["path"] == "/api/guide/accesses/{coid}/{access_id}/services"
    assert (request["method"], request["status"], request["client"]) == ("GET", 200, "127.0.0.1")
    assert isinstance(request["duration_ms"], float)
    assert "A1" not in request["message"] and "secret" not in json.dumps(request)
    assert {"time", "level", "logger", "message"} <= set(request)
    by_logger = {d["logger"]: d for d in lines}
    assert by_logger["uvicorn.error"]["message"] == "from uvicorn, password=***"
    assert "serviceguide.relay" in by_logger
    assert "abcdefghijkl" not in by_logger["some.library"]["message"]


@pytest.mark.parametrize("logged", ["text", "json"], indirect=True)
def test_secrets_and_personnummer_in_any_log_line_are_masked(logged: io.StringIO):
    log = logging.getLogger("serviceguide.test")
    log.warning("smtp://user:pa55word@mail.example:25 refused")
    log.warning("customer %s, api_key=%s hash=%s", SPELLINGS[3], "k3y-s3cret", "f" * 32)
    try:
        raise ValueError(f"bad serial {SPELLINGS[1]}")
    except ValueError:
        log.exception("failed")
    text = logged.getvalue()
    for secret in ("pa55word", "k3y-s3cret", "f" * 32, SPELLINGS[1], SPELLINGS[3]):
        assert secret not in text, secret
    assert "smtp://user:***@mail.example" in text
