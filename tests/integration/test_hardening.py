"""What every answer carries and what no answer gives away: security headers, cookie flags,
request size limits, 503 for a database outage and 500 without a stack trace, and logs without
credentials or personnummer."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy.exc
from sqlalchemy import func, select, text

from serviceguide.app import create_app
from serviceguide.domain.personnummer import normalise
from serviceguide.middleware import DEFAULT_CSP
from serviceguide.observability.redact import redact_path, redact_query
from serviceguide.services import orders as order_service
from serviceguide.services.context import AppContext
from serviceguide.storage import tables
from serviceguide.storage.db import Database, unavailable
from serviceguide.storage.direct import Sql
from tests.integration.test_guide_api import body
from tests.integration.test_staff_pages import _as, staff_world  # noqa: F401 - fixture
from tests.support.notify import with_settings
from tests.support.world import SERIALS, World
from tests.support.xsp import XspClient, parse

pytestmark = pytest.mark.integration

PERSONNUMMER = normalise(SERIALS[0])  # valid, YYYYMMDDNNNN
#: The ways people write it: YYYYMMDDNNNN, YYMMDDNNNN, YYMMDD-NNNN, YYYYMMDD-NNNN.
FORMS = [
    PERSONNUMMER,
    PERSONNUMMER[2:],
    f"{PERSONNUMMER[2:8]}-{PERSONNUMMER[8:]}",
    f"{PERSONNUMMER[:8]}-{PERSONNUMMER[8:]}",
]


@pytest.fixture
async def http(ctx: AppContext, world: World) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ctx.settings)
    app.state.ctx = ctx
    # The server's own error layer re-raises after answering; a client sees only the answer.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def row_counts(ctx: AppContext) -> tuple[int, int]:
    async with ctx.db.read() as conn:
        return (
            (await conn.execute(select(func.count()).select_from(tables.orders))).scalar_one(),
            (await conn.execute(select(func.count()).select_from(tables.customers))).scalar_one(),
        )


# -- security headers ----------------------------------------------------------------------

ANSWERS = [
    ("GET", "/plain/serviceguide_log?method=orders", 401),
    ("GET", "/plain/serviceguide_log?method=orders&output_format=json", 401),
    ("GET", "/api/guide/addresses?q=A-gatan", 200),
    ("GET", "/plain/onapi/KOA/accesses", 401),
    ("GET", "/openapi.json", 200),
    ("GET", "/no/such/page", 404),
    ("GET", "/", 200),
    ("GET", "/staff/login", 200),
    ("GET", "/static/guide.css", 200),
    ("GET", "/healthz", 200),
]


@pytest.mark.parametrize(("method", "url", "status"), ANSWERS, ids=[a[1] for a in ANSWERS])
async def test_every_answer_carries_the_security_headers(
    http: httpx.AsyncClient, method: str, url: str, status: int
):
    r = await http.request(method, url)
    assert r.status_code == status, r.text
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert "cache-control" in r.headers
    assert "strict-transport-security" not in r.headers  # plain HTTP: HSTS means nothing


async def test_pages_keep_their_own_policy_and_data_answers_get_the_strict_default(
    http: httpx.AsyncClient,
):
    page = await http.get("/")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers.get_list("content-security-policy") == [
        page.headers["content-security-policy"]
    ]  # not doubled
    data = await http.get("/plain/serviceguide_log?method=orders")
    assert data.headers["content-security-policy"] == DEFAULT_CSP.decode()
    assert data.headers["cache-control"] == "no-store"


async def test_https_answers_add_hsts(ctx: AppContext, world: World):
    app = create_app(ctx.settings)
    app.state.ctx = ctx
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        r = await client.get("/healthz")
    assert r.headers["strict-transport-security"].startswith("max-age=")


# -- cookies -------------------------------------------------------------------------------


def cookie_flags(response: httpx.Response) -> dict[str, str]:
    return {
        header.split("=", 1)[0]: header.lower()
        for header in response.headers.get_list("set-cookie")
    }


async def test_cookies_are_httponly_and_samesite_and_secure_when_the_site_is_https(
    ctx: AppContext, world: World
):
    for base_url, secure in (("http://127.0.0.1:8000", False), ("https://guide.example.se", True)):
        app = create_app(ctx.settings)
        app.state.ctx = with_settings(ctx, base_url=base_url)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            r = await client.get("/?lang=en")
        flags = cookie_flags(r)
        assert flags, "the guide's first page sets its CSRF cookie"
        for name, header in flags.items():
            assert "httponly" in header, name
            assert "samesite=lax" in header, name
            assert ("; secure" in header) is secure, (base_url, header)


# -- request size --------------------------------------------------------------------------


async def test_a_body_over_the_limit_is_refused_before_it_is_read(ctx: AppContext, world: World):
    app = create_app(with_settings(ctx, max_request_bytes=1000).settings)
    app.state.ctx = ctx
    transport = httpx.ASGITransport(app=app)
    before = await row_counts(ctx)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        # Over the limit: 413 from the size check, not the 422 the API would give the message.
        announced = await client.post("/api/guide/orders", json=body(message="x" * 2000))

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(4):
                yield b"method=orders&x=" + b"y" * 500

        streamed = await client.post(
            "/plain/serviceguide_log",
            content=chunks(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )

        async def small_chunks() -> AsyncIterator[bytes]:
            yield b"method=orders"

        small_streamed = await client.post(
            "/plain/serviceguide_log",
            content=small_chunks(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        small = await client.post("/api/guide/orders", json=body())
        no_body = await client.get("/plain/serviceguide_log?method=orders")
    assert announced.status_code == 413, announced.text
    assert announced.json() == {"detail": "Request body is too large"}
    assert streamed.status_code == 413, streamed.text
    assert small_streamed.status_code == 401, small_streamed.text  # read, then refused: no hash
    assert small.status_code == 201, small.text
    assert no_body.status_code == 401
    assert await row_counts(ctx) == (before[0] + 2, before[1] + 1)  # only the small order


# -- failures: 503 for an outage, 500 without details ---------------------------------------


def broken(exc: BaseException) -> Any:
    async def fail(*_args: Any, **_kwargs: Any) -> Any:
        raise exc

    return fail


OUTAGES = [
    ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"),
    asyncpg.CannotConnectNowError("the database system is starting up"),
    asyncpg.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    sqlalchemy.exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked")),
    sqlalchemy.exc.TimeoutError("QueuePool limit of size 10 overflow 10 reached"),
]


@pytest.mark.parametrize("exc", OUTAGES, ids=lambda e: type(e).__name__)
async def test_a_database_outage_is_a_clean_503_everywhere(
    http: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch, exc: BaseException
):
    session = await XspClient(http).session(world.users["TL1"])
    monkeypatch.setattr(order_service, "order_info", broken(exc))
    r = await http.get(
        "/plain/serviceguide_log",
        params={"method": "order_info", "id": world.orders["o1"], "hash": session.hash},
    )
    reply = parse(r)
    assert (r.status_code, reply.status, reply.code) == (503, "failed", 503), r.text
    assert r.headers["retry-after"].isdigit()
    assert "Traceback" not in r.text and type(exc).__name__ not in r.text


async def test_unavailable_tells_an_outage_from_a_bug():
    for exc in OUTAGES:
        assert unavailable(exc), exc
    wrapped = sqlalchemy.exc.DBAPIError("SELECT 1", {}, Exception("x"), connection_invalidated=True)
    assert unavailable(wrapped)
    assert unavailable(asyncpg.InterfaceError("cannot perform operation: connection is closed"))
    for exc in (
        ValueError("no"),
        asyncpg.UniqueViolationError("duplicate key"),
        asyncpg.DataError("invalid input for query argument $1"),
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
        sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed")),
        sqlalchemy.exc.ProgrammingError("SELECT", {}, Exception("syntax error")),
    ):
        assert not unavailable(exc), exc


async def test_a_database_that_stops_answering_is_an_outage_after_the_timeout(pg_server: str):
    """PostgreSQL busy with a statement past the timeout stands in for one that stopped
    answering (tests/faults/test_database_faults.py freezes a real one): the wait ends with an
    outage error, on SQLAlchemy and on the direct reader, and the same connection — the pools
    hold one each — serves the next statement."""
    db = Database(pg_server, pool_size=1, timeout=0.3)
    try:
        with pytest.raises(Exception) as waited:
            async with db.read() as conn:
                await conn.execute(text("SELECT pg_sleep(5)"))
        assert unavailable(waited.value), repr(waited.value)
        with pytest.raises(Exception) as waited:
            await db.reader.fetch(Sql.of("SELECT pg_sleep(5)"))
        assert unavailable(waited.value), repr(waited.value)
        async with db.read() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1
        assert [dict(r) for r in await db.reader.fetch(Sql.of("SELECT 1 AS one"))] == [{"one": 1}]
    finally:
        await db.dispose()
    # Without a timeout (commands run by hand), the same statement is waited for.
    db = Database(pg_server, pool_size=1)
    try:
        async with db.read() as conn:
            await conn.execute(text("SELECT pg_sleep(0.5)"))
    finally:
        await db.dispose()


SECRET_DETAIL = f"internal detail {PERSONNUMMER}"


async def test_an_unexpected_error_says_nothing_about_the_code(
    http: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch, caplog: Any
):
    session = await XspClient(http).session(world.users["TL1"])
    monkeypatch.setattr(order_service, "order_info", broken(RuntimeError(SECRET_DETAIL)))
    for fmt in ("xml", "json"):
        r = await http.get(
            "/plain/serviceguide_log",
            params={
                "method": "order_info",
                "id": world.orders["o1"],
                "hash": session.hash,
                "output_format": fmt,
            },
        )
        reply = parse(r)
        assert (r.status_code, reply.status, reply.message) == (500, "failed", "Internal error")
        assert SECRET_DETAIL not in r.text and "Traceback" not in r.text

    # A page: the server's outermost layer answers, with a page that says only "try again".
    import serviceguide.web.guide.search as search_page

    monkeypatch.setattr(search_page, "search_addresses", broken(RuntimeError(SECRET_DETAIL)))
    page = await http.get("/", params={"q": "A-gatan"})
    assert page.status_code == 500
    assert SECRET_DETAIL not in page.text and "Traceback" not in page.text
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "Något gick fel" in page.text


# -- logs ----------------------------------------------------------------------------------


def test_credentials_and_personnummer_are_masked_in_logged_query_strings():
    q = "method=orders&hash=abc123&API_KEY=s3cret&api%5Fkey=s3cret2&serial=whatever"
    q += "&since_id=1234567890&date=2024-01-01&" + "&".join(
        f"q{i}={f}" for i, f in enumerate(FORMS)
    )
    out = redact_query(q)
    for secret in ("abc123", "s3cret", "whatever", *FORMS, PERSONNUMMER[8:]):
        assert secret not in out, (secret, out)
    assert "since_id=1234567890" in out  # not a valid personnummer: kept
    assert "date=2024-01-01" in out and "method=orders" in out
    assert redact_query(PERSONNUMMER) == "***"
    assert redact_path(f"/api/guide/{FORMS[2]}/x") == "/api/guide/***/x"
    assert redact_path("/plain/onapi/KOA/accesses/1234567890") == (
        "/plain/onapi/KOA/accesses/1234567890"
    )


async def test_the_access_log_holds_no_credentials_or_personnummer(
    http: httpx.AsyncClient, world: World, caplog: pytest.LogCaptureFixture
):
    login = world.users["TL1"]
    with caplog.at_level(logging.INFO, logger="serviceguide"):
        the_hash = await XspClient(http).login(login.api_user, login.api_key)
        await http.get("/plain/serviceguide_log", params={"method": "orders", "hash": the_hash})
        await http.get("/", params={"q": PERSONNUMMER})
        await http.get(f"/access/KOA/{PERSONNUMMER}")
    text = "\n".join(rec.getMessage() for rec in caplog.records)
    assert "api_login" in text and "method=orders" in text  # the requests were logged…
    assert login.api_key not in text and the_hash not in text  # …without their secrets
    assert not [f for f in FORMS if f in text]


# -- NUL characters ------------------------------------------------------------------------

NUL_URLS = [
    "/access/KOA/A1%00",
    "/access/KO%00A/A1",
    "/access/KOA/A1%00/details",
    "/api/guide/accesses/KOA/A%001/services",
    "/thanks/1%00",
]


@pytest.mark.parametrize("url", NUL_URLS)
async def test_a_path_with_a_nul_in_it_is_not_found(http: httpx.AsyncClient, url: str):
    r = await http.get(url)
    assert r.status_code == 404, r.text  # PostgreSQL takes no NUL: it must not get one
    # (ON-API: tests/integration/test_api_input_edges.py)


async def test_nul_in_search_text_is_harmless(
    ctx: AppContext,
    staff_world: World,  # noqa: F811 - the fixture imported above
):
    client, browser = await _as(ctx, "KOA")
    try:
        for url in ("/staff/orders?q=%00", "/staff/orders?q=A%00", "/staff/orders.csv?q=%00"):
            r = await browser.http.get(url)
            assert r.status_code == 200, (url, r.status_code)
        for url in ("/?q=%00", "/api/guide/addresses?q=a%00b"):
            assert (await browser.http.get(url)).status_code < 500
    finally:
        await client.__aexit__(None, None, None)
