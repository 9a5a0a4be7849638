"""Regressions found by fuzzing the OpenAPI description (tests/e2e/test_openapi_fuzz.py): input
that the database cannot hold or compare with must be answered as bad input or "not found", never
as a 500, on both backends. Also: the description itself stays usable by such tools."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from serviceguide.app import create_app
from serviceguide.services.context import AppContext
from serviceguide.storage.tables import orders
from tests.integration.test_guide_api import body
from tests.support.world import World

pytestmark = pytest.mark.integration


@pytest.fixture
async def http(ctx: AppContext, world: World) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ctx.settings)
    app.state.ctx = ctx
    transport = httpx.ASGITransport(app=app, client=("198.51.100.9", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def order(**overrides: Any) -> dict[str, Any]:
    """A valid one-service guide order (test_guide_api's, with one service)."""
    return body(**{"services": [101], **overrides})


def fields(r: httpx.Response) -> set[str]:
    return {e["field"] for e in r.json()["errors"]}


async def test_a_service_id_beyond_64_bits_is_422_not_500(http: httpx.AsyncClient):
    r = await http.post("/api/guide/orders", json=order(services=[101, 2**80]))
    assert r.status_code == 422, r.text
    assert fields(r) == {"services"}


@pytest.mark.parametrize("digits", ["9" * 5000, "-" + "9" * 5000])
async def test_an_integer_of_thousands_of_digits_is_named_as_out_of_range(
    http: httpx.AsyncClient, ctx: AppContext, digits: str
):
    """Valid JSON, but more digits than Python converts by default (4 300): it was answered
    "Not valid JSON"; now the field is named, as for any id out of range."""
    before = await _orders(ctx)
    raw = json.dumps(order()).replace("[101]", f"[101, {digits}]").encode()
    r = await http.post(
        "/api/guide/orders", content=raw, headers={"content-type": "application/json"}
    )
    assert r.status_code == 422, r.text
    assert fields(r) == {"services"}
    assert await _orders(ctx) == before


async def test_nul_in_coid_or_access_id_of_an_order_is_422(http: httpx.AsyncClient):
    r = await http.post("/api/guide/orders", json=order(coid="KO\x00A", accessId="A\x001"))
    assert r.status_code == 422, r.text
    assert fields(r) == {"coid", "accessId"}


async def test_a_lone_surrogate_in_an_order_is_422_naming_the_fields(http: httpx.AsyncClient):
    doc = order(message="hej \ud800")
    doc["customer"]["firstname"] = "Eva\udfff"
    # JSON may escape a lone surrogate; an encoder that writes UTF-8 cannot, so escape it here.
    raw = json.dumps(doc, ensure_ascii=True).encode()
    r = await http.post(
        "/api/guide/orders", content=raw, headers={"content-type": "application/json"}
    )
    assert r.status_code == 422, r.text
    assert fields(r) == {"message", "customer.firstname"}


@pytest.mark.parametrize("raw", [b"[" * 60000, b'{"a":' * 20000 + b"1" + b"}" * 20000])
async def test_json_nested_past_the_parser_is_422_and_stores_nothing(
    http: httpx.AsyncClient, ctx: AppContext, raw: bytes
):
    """Found by probing past the fuzzer: 60 000 '[' fit in the 64 KiB body and ran the JSON
    parser out of stack, a 500."""
    before = await _orders(ctx)
    r = await http.post(
        "/api/guide/orders", content=raw[: 64 * 1024], headers={"content-type": "application/json"}
    )
    assert r.status_code == 422, r.text
    assert r.json() == {"errors": [{"field": "body", "message": "JSON nested too deeply"}]}
    assert await _orders(ctx) == before


async def _orders(ctx: AppContext) -> int:
    async with ctx.db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(orders))).scalar_one())


async def test_nul_in_the_path_of_services_on_an_access_is_404(http: httpx.AsyncClient):
    r = await http.get("/api/guide/accesses/KOA/A%001/services")
    assert r.status_code == 404, r.text
    r = await http.get("/api/guide/accesses/KO%00A/A1/services")
    assert r.status_code == 404, r.text


async def test_nul_in_the_path_of_onapi_accesses_is_403_or_404(
    http: httpx.AsyncClient, world: World
):
    u = world.users["KOA"]
    basic = httpx.BasicAuth(str(u.api_user), u.api_key)
    r = await http.get("/plain/onapi/KO%00A/accesses", auth=basic)
    assert r.status_code == 403, r.text
    r = await http.get("/plain/onapi/KO%00A/accesses/A1", auth=basic)
    assert r.status_code == 403, r.text
    r = await http.get("/plain/onapi/KOA/accesses/A%001", auth=basic)
    assert r.status_code == 404, r.text
    assert set(r.json()) == {"cause"}


@pytest.mark.parametrize(
    "since",
    [
        "Mon, 01 Jan 2001 00:00:00",  # no zone: read as GMT
        "Mon, 01 Jan 2001 00:00:00 -0000",  # "-0000": parsed without a zone
        "Fri, 31 Dec 9999 23:59:59 -2359",  # after year 9999 in UTC: invalid, ignored
    ],
)
@pytest.mark.parametrize("path", ["/plain/onapi/KOA/accesses", "/plain/onapi/KOA/accesses/A1"])
async def test_an_if_modified_since_without_zone_or_out_of_range_is_not_a_500(
    http: httpx.AsyncClient, world: World, since: str, path: str
):
    u = world.users["KOA"]
    r = await http.get(
        path,
        auth=httpx.BasicAuth(str(u.api_user), u.api_key),
        headers={"If-Modified-Since": since},
    )
    assert r.status_code == 200, r.text  # the accesses were written after 2001
    assert "Last-Modified" in r.headers


def test_every_api_operation_has_a_unique_id_and_documents_its_answers(ctx: AppContext):
    doc = create_app(ctx.settings).openapi()
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)), ids
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for code, response in op["responses"].items():
                if code == "304":
                    continue
                content = response.get("content", {})
                assert "application/json" in content, (method, path, code)
                assert content["application/json"].get("schema"), (method, path, code)
                # FastAPI's own validation error is never what these handlers answer.
                assert "HTTPValidationError" not in json.dumps(response), (method, path, code)


async def _hash(http: httpx.AsyncClient, world: World) -> str:
    u = world.users["TL1"]
    r = await http.post(
        "/plain/serviceguide_log",
        data={"method": "api_login", "api_user": u.api_user, "api_key": u.api_key},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 200, r.text
    return str(r.json()["api_login"]["response"]["hash_key"])


async def test_add_message_checks_api_user_even_beside_a_hash(
    http: httpx.AsyncClient, world: World
):
    """The description cannot say "api_user may be anything when a hash is sent": a bad one is
    refused whether or not the hash made it unnecessary."""
    h = await _hash(http, world)
    call = {"method": "add_message", "hash": h, "id": world.orders["o1"], "type": "log"}
    for bad in ("0", "x", "1000000000"):
        r = await http.post(
            "/plain/serviceguide_log",
            data={**call, "message": "not stored", "api_user": bad, "output_format": "json"},
        )
        assert r.status_code == 400, r.text
        assert "api_user" in r.json()["add_message"]["response"]["message"]
    u = world.users["TL1"]
    r = await http.post(
        "/plain/serviceguide_log", data={**call, "message": "stored", "api_user": u.api_user}
    )
    assert r.status_code == 200, r.text


async def test_a_field_the_method_does_not_read_may_come_twice(
    http: httpx.AsyncClient, world: World
):
    """Only a field the method reads is ambiguous when given twice with two values; the rest
    are ignored, as every field the description does not name is."""
    h = await _hash(http, world)
    o1 = world.orders["o1"]
    r = await http.get(f"/plain/serviceguide_log?method=order_info&hash={h}&id={o1}&x=1&x=2")
    assert r.status_code == 200, r.text
    r = await http.get(f"/plain/serviceguide_log?method=events&hash={h}&since_id=0&id=1&id=2")
    assert r.status_code == 200, r.text
    for twice in (f"id={o1 + 1}", "method=order_log", "output_format=xml&output_format=json"):
        r = await http.get(f"/plain/serviceguide_log?method=order_info&hash={h}&id={o1}&{twice}")
        assert r.status_code == 400, r.text
        assert "more than once" in r.text
