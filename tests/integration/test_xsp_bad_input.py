"""Bad input to the XSP order API: every parameter of every method, missing, empty and malformed.

Each failure answers the documented code (400/401/404/409) in the documented envelope, names the
offending parameter or problem, and changes nothing. Authentication is checked first (401), then
parameters (400), then visibility (404).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from serviceguide.domain.clock import utcnow
from serviceguide.services import auth
from serviceguide.settings import Settings
from serviceguide.storage.tables import api_sessions, customers, order_log
from serviceguide.storage.tables import events as events_table
from serviceguide.storage.tables import orders as orders_table
from tests.support.world import VISIBLE, World
from tests.support.xsp import PATH, Reply, Session, XspClient, parse

pytestmark = pytest.mark.integration

ERROR_ROOT = "serviceguide_log"
MAX_MESSAGE = 2000  # settings.message_max_length
HUGE = "1" + "0" * 29  # a 30-digit number
MISSING = object()  # marks a parameter that is left out altogether

# A valid set of parameters for every method that takes a hash (the order is o1, TL1's).
VALID: dict[str, dict[str, Any]] = {
    "orders": {"date": "2020-01-01"},
    "customers": {"date": "2020-01-01"},
    "order_info": {"id": "o1"},
    "customer_info": {"id": "c1"},
    "order_log": {"id": "o1"},
    "set_status": {"id": "o1", "status": "received"},
    "add_message": {"id": "o1", "type": "log", "message": "Hej"},
    "events": {"since_id": "0"},
}
AUTHED_METHODS = list(VALID)
ID_METHODS = ["order_info", "customer_info", "order_log", "set_status", "add_message"]

# Ids that are not a positive integer of at most 18 digits, or carry SQL/XML metacharacters.
BAD_IDS = [
    "",
    "   ",
    "abc",
    "1.5",
    "-1",
    "0",
    "00",
    HUGE,
    "1e3",
    "0x10",
    "+1",
    "1,2",
    "١٢",  # Arabic-Indic digits: int() would take them, the API must not
    "' OR 1=1 --",
    "1 OR 1=1",
    "1; DROP TABLE orders",
    "<x>&",
    "]]>",
]

BAD_DATES = [
    "",
    "2026-13-01",
    "2026-02-30",
    "2026-02-29",
    "2026-00-10",
    "2026-01-32",
    "20260101",
    "2026-1-1",
    "26-01-01",
    "2026/01/01",
    "01-01-2026",
    "2026-01-01T00:00:00",
    "2026-01-01 00:00",
    "yesterday",
    "today",
    "0000-01-01",
    "' OR 1=1 --",
    "<x>&",
]

BAD_SINCE_IDS = ["", "abc", "1.5", "-1", "1e3", "' OR 1=1 --", "<x>&", "]]>"]
BAD_LIMITS = ["", "0", "-1", "-1000", "abc", "1.5", "1e3", "' OR 1=1 --", "<x>&"]
BAD_STATUSES = ["", "NEW", "New", "RECEIVED", "unknown", "open", "done", "new;--", "<x>&", "]]>"]
BAD_TYPES = ["", "ERROR", "Log", "info", "message", "warning", "' OR 1=1 --", "<x>&"]
BAD_MESSAGES = [
    ("", "message"),
    ("   ", "message"),
    ("x" * (MAX_MESSAGE + 1), "message"),
    ("å" * (MAX_MESSAGE + 1), "message"),
    ("a\x00b", "message"),
    ("\x00", "message"),
    ("bell\x07", "message"),
    ("\x1b[31mred", "message"),
    ("del\x7f", "message"),
    ("vt\x0bff\x0c", "message"),
    ("next\x85line", "message"),
    ("\x9b31mred", "message"),
    ("c1\x80\x9f", "message"),
]
# Stored and returned verbatim, and the XML stays well-formed.
VERBATIM_MESSAGES = [
    "' OR 1=1 --",
    "Robert'); DROP TABLE order_log;--",
    "<x>&",
    "]]>",
    "<![CDATA[x]]>",
    "&amp; &lt; &#0; &#x1F;",
    "</message></entry></response><status>success</status>",
    "\"dubbla\" och 'enkla' citattecken",
    "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>&e;",
    "Åäö – ”citat” 😀 \u200b",
    "rad ett\nrad två\ttabb",
    "%FF %00 \\x00 \\n",
    "x" * MAX_MESSAGE,
    "😀" * MAX_MESSAGE,
]


# --- helpers ---------------------------------------------------------------------------------


def resolve(world: World, params: dict[str, Any]) -> dict[str, Any]:
    """World keys ("o1", "c4") in ``id`` become real ids; MISSING parameters are dropped."""
    out = {}
    for k, v in params.items():
        if v is MISSING:
            continue
        if k == "id" and isinstance(v, str) and v in {**world.orders, **world.customers}:
            v = {**world.orders, **world.customers}[v]
        out[k] = v
    return out


def assert_failed(r: Reply, code: int, root: str, names: str) -> None:
    """A failure envelope with ``code`` whose message names ``names`` (a word, or a regex)."""
    assert (r.code, r.root, r.status) == (code, root, "failed"), (r.code, r.root, r.response)
    assert isinstance(r.response, dict), r.response
    assert set(r.response) == {"message", "code"}, r.response
    assert str(r.response["code"]) == str(code), r.response
    assert r.message.strip(), r.response
    assert re.search(rf"(?<![A-Za-z0-9_])(?:{names})(?![A-Za-z0-9_])", r.message, re.I), (
        f"message {r.message!r} does not name {names!r}"
    )


def owner_of(order_key: str) -> str:
    return next(tl for tl in ("TL1", "TL2") if order_key in VISIBLE[tl])


#: Per database: the login rows and hashes ``api_login`` made for the first test that needed
#: them, put back for the next ones (four logins per test were a third of this module's time).
_logins: dict[str, tuple[list[dict[str, Any]], dict[str, str]]] = {}


@pytest.fixture
async def sessions(xsp: XspClient, world: World) -> dict[str, Session]:
    ctx = xsp.ctx
    assert ctx is not None
    kept = _logins.get(ctx.settings.database_url)
    fresh = utcnow() + timedelta(minutes=5)
    if kept is not None and all(r["expires_at"] > fresh for r in kept[0]):
        async with ctx.db.write() as conn:
            await conn.execute(api_sessions.insert(), kept[0])
        return {k: Session(xsp, h) for k, h in kept[1].items()}
    made = {k: await xsp.session(world.users[k]) for k in ("TL1", "TL2", "KOA", "KOB")}
    async with ctx.db.read() as conn:
        rows = [dict(r._mapping) for r in await conn.execute(select(api_sessions))]
    _logins[ctx.settings.database_url] = (rows, {k: s.hash for k, s in made.items()})
    return made


@pytest.fixture
async def tl1(sessions: dict[str, Session]) -> Session:
    return sessions["TL1"]


async def state(sessions: dict[str, Session], world: World) -> dict[str, Any]:
    """Everything a failed request could have changed, read straight from the database: every
    order (status, times, note), every log entry, event, customer and login hash."""
    ctx = next(iter(sessions.values())).client.ctx
    assert ctx is not None
    seen: dict[str, Any] = {}
    async with ctx.db.read() as conn:
        for table in (orders_table, order_log, events_table, customers, api_sessions):
            key = next(iter(table.primary_key.columns))
            seen[table.name] = [tuple(r) for r in await conn.execute(select(table).order_by(key))]
    assert len(seen["orders"]) == len(world.orders)
    return seen


async def raw_get(xsp: XspClient, query: str, **headers: str) -> Reply:
    return parse(await xsp.http.get(f"{PATH}?{query}", headers=headers))


# --- method and output_format ----------------------------------------------------------------


@pytest.mark.parametrize(
    "method",
    [
        MISSING,
        "",
        "   ",
        "ORDERS",
        "Order_Info",
        "order info",
        "orderinfo",
        "api_login;",
        "unknown",
        "' OR 1=1 --",
        "<x>&",
        "]]>",
        "x" * 500,
    ],
)
async def test_a_missing_or_unknown_method_is_400_with_the_serviceguide_log_root(
    xsp: XspClient, world: World, sessions: dict[str, Session], method: Any
):
    before = await state(sessions, world)
    params = {"hash": sessions["TL1"].hash, "id": world.orders["o1"], "status": "delivered"}
    r = await xsp.call(None if method is MISSING else method, **params)
    assert_failed(r, 400, ERROR_ROOT, "method")
    assert await state(sessions, world) == before


async def test_an_unknown_method_is_400_even_without_a_hash(xsp: XspClient, world: World):
    r = await xsp.call("frobnicate")
    assert_failed(r, 400, ERROR_ROOT, "method")
    r = await xsp.call(None)
    assert_failed(r, 400, ERROR_ROOT, "method")


async def test_a_method_that_is_not_utf8_is_400_with_the_serviceguide_log_root(
    xsp: XspClient, world: World
):
    r = await raw_get(xsp, "method=orders%FF&date=2020-01-01")
    assert_failed(r, 400, ERROR_ROOT, "method")


async def test_unknown_method_failures_come_in_json_when_asked(xsp: XspClient, world: World):
    for kwargs in ({"fmt": "json"}, {"headers": {"Accept": "application/json"}}):
        r = await xsp.call("nope", **kwargs)  # type: ignore[arg-type]
        assert r.http.headers["content-type"].startswith("application/json")
        doc = json.loads(r.http.content)
        assert list(doc) == [ERROR_ROOT]
        assert doc[ERROR_ROOT]["status"] == "failed"
        assert doc[ERROR_ROOT]["response"]["code"] == 400
        assert "method" in doc[ERROR_ROOT]["response"]["message"]


@pytest.mark.parametrize("fmt", ["", "html", "JSON", "<x>&"])
@pytest.mark.parametrize("method", ["orders", "set_status"])
async def test_a_bad_output_format_is_400_naming_it_with_the_method_as_root(
    xsp: XspClient, world: World, sessions: dict[str, Session], method: str, fmt: str
):
    before = await state(sessions, world)
    params = resolve(world, VALID[method])
    r = await xsp.call(method, hash=sessions["TL1"].hash, output_format=fmt, **params)
    assert_failed(r, 400, method, "output_format")
    assert await state(sessions, world) == before


# --- api_login -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "api_user",
    [
        MISSING,
        "",
        "   ",
        "abc",
        "1.5",
        "-1",
        "-0",
        "0",
        HUGE,
        "1e3",
        "0x10",
        "١٢",
        "' OR 1=1 --",
        "<x>&",
    ],
)
async def test_login_with_a_missing_or_malformed_api_user_is_400_naming_it(
    xsp: XspClient, world: World, api_user: Any
):
    r = await xsp.call("api_login", **resolve(world, {"api_user": api_user, "api_key": "k"}))
    assert_failed(r, 400, "api_login", "api_user")


@pytest.mark.parametrize("api_key", [MISSING, ""])
async def test_login_with_a_missing_or_empty_api_key_is_400_naming_it(
    xsp: XspClient, world: World, api_key: Any
):
    u = world.users["TL1"]
    r = await xsp.call("api_login", **resolve(world, {"api_user": u.api_user, "api_key": api_key}))
    assert_failed(r, 400, "api_login", "api_key")


async def test_login_with_both_missing_is_400(xsp: XspClient, world: World):
    r = await xsp.call("api_login")
    assert_failed(r, 400, "api_login", "api_user|api_key")


@pytest.mark.parametrize(
    "who,api_key",
    [
        ("TL1", "wrong"),
        ("TL1", "key-tl1-0123456789 "),
        ("TL1", "KEY-TL1-0123456789"),
        ("TL1", "' OR 1=1 --"),
        ("TL1", "<x>&"),
        ("TL1", "x" * 5000),
        ("TL2", "key-tl1-0123456789"),  # another user's key
        ("unknown", "key-tl1-0123456789"),
    ],
)
async def test_login_with_bad_credentials_is_401(
    xsp: XspClient, world: World, who: str, api_key: str
):
    api_user = 999999 if who == "unknown" else world.users[who].api_user
    r = await xsp.call("api_login", api_user=api_user, api_key=api_key)
    assert_failed(r, 401, "api_login", "api_user|api_key")
    assert "hash_key" not in r.response


async def test_login_failure_comes_in_json_when_asked(xsp: XspClient, world: World):
    r = await xsp.call("api_login", api_user=world.users["TL1"].api_user, api_key="bad", fmt="json")
    doc = json.loads(r.http.content)
    assert r.code == 401
    assert doc == {
        "api_login": {
            "response": {"message": doc["api_login"]["response"]["message"], "code": 401},
            "status": "failed",
        }
    }


# --- hash ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hash_value",
    [MISSING, "", "   ", "0" * 32, "f" * 32, "not-a-hash", "' OR 1=1 --", "<x>&", "x" * 5000],
)
async def test_every_method_refuses_a_missing_or_unknown_hash_with_401(
    xsp: XspClient, world: World, sessions: dict[str, Session], hash_value: Any
):
    before = await state(sessions, world)
    for method in AUTHED_METHODS:
        params = resolve(world, {**VALID[method], "hash": hash_value})
        r = await xsp.call(method, **params)
        assert_failed(r, 401, method, "hash")
    assert await state(sessions, world) == before


async def test_a_hash_that_is_almost_right_is_401(
    xsp: XspClient, world: World, sessions: dict[str, Session]
):
    good = sessions["TL1"].hash
    before = await state(sessions, world)
    for bad in (good[:-1], good + "0", good.upper(), good[::-1], f" {good}x"):
        for method in ("order_info", "set_status"):
            r = await xsp.call(method, hash=bad, **resolve(world, VALID[method]))
            assert_failed(r, 401, method, "hash")
    assert await state(sessions, world) == before


@pytest.mark.parametrize(
    "header",
    [
        "Bearer 00000000000000000000000000000000",
        "Bearer ",
        "Basic dGwxOmtleQ==",
        "Bearer ' OR 1=1 --",
    ],
)
async def test_a_bad_authorization_header_is_401(
    xsp: XspClient, world: World, sessions: dict[str, Session], header: str
):
    before = await state(sessions, world)
    for method in ("order_info", "set_status", "add_message"):
        r = await xsp.call(
            method, headers={"Authorization": header}, **resolve(world, VALID[method])
        )
        assert_failed(r, 401, method, "hash")
    assert await state(sessions, world) == before


async def test_an_expired_hash_is_401_on_every_method(
    xsp: XspClient,
    world: World,
    sessions: dict[str, Session],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
):
    before = await state(sessions, world)
    later = utcnow() + timedelta(seconds=settings.hash_ttl_seconds + 1)
    monkeypatch.setattr(auth, "utcnow", lambda: later)
    for method in AUTHED_METHODS:
        r = await sessions["TL1"].call(method, **resolve(world, VALID[method]))
        assert_failed(r, 401, method, "hash")
    monkeypatch.undo()
    assert await state(sessions, world) == before


# --- authentication before parameters before visibility -------------------------------------

BAD_PARAMS = [
    ("order_info", {"id": "abc"}, "id"),
    ("customer_info", {"id": "-1"}, "id"),
    ("order_log", {"id": MISSING}, "id"),
    ("set_status", {"id": "' OR 1=1 --", "status": "received"}, "id"),
    ("set_status", {"id": "o1", "status": "NEW"}, "status"),
    ("add_message", {"id": "1.5", "type": "log", "message": "x"}, "id"),
    ("add_message", {"id": "o1", "type": "INFO", "message": "x"}, "type"),
    ("add_message", {"id": "o1", "type": "log", "message": "a\x00b"}, "message"),
    ("orders", {"date": "2026-02-30"}, "date"),
    ("customers", {"date": MISSING}, "date"),
    ("orders", {"since_id": "-1"}, "since_id"),
    ("customers", {"since_id": "0", "limit": "0"}, "limit"),
    ("events", {"since_id": MISSING}, "since_id"),
    ("events", {"since_id": "0", "limit": "abc"}, "limit"),
]


@pytest.mark.parametrize("method,params,name", BAD_PARAMS)
async def test_bad_parameters_without_a_valid_hash_are_401_not_400(
    xsp: XspClient,
    world: World,
    sessions: dict[str, Session],
    method: str,
    params: dict[str, Any],
    name: str,
):
    before = await state(sessions, world)
    for hash_value in (MISSING, "0" * 32):
        r = await xsp.call(method, **resolve(world, {**params, "hash": hash_value}))
        assert_failed(r, 401, method, "hash")
    r = await xsp.call(method, hash=sessions["TL1"].hash, **resolve(world, params))
    assert_failed(r, 400, method, name)
    assert await state(sessions, world) == before


@pytest.mark.parametrize(
    "method,params,name",
    [
        ("set_status", {"status": "NEW"}, "status"),
        ("set_status", {"status": MISSING}, "status"),
        ("add_message", {"type": "info", "message": "x"}, "type"),
        ("add_message", {"type": "log", "message": "x" * (MAX_MESSAGE + 1)}, "message"),
        ("add_message", {"type": "log", "message": MISSING}, "message"),
    ],
)
@pytest.mark.parametrize("target", ["o2", "o5", 999999])  # TL1 sees neither o2, o5 nor 999999
async def test_bad_parameters_on_an_order_the_caller_cannot_see_are_400_not_404(
    xsp: XspClient,
    world: World,
    sessions: dict[str, Session],
    method: str,
    params: dict[str, Any],
    name: str,
    target: str | int,
):
    before = await state(sessions, world)
    r = await sessions["TL1"].call(method, **resolve(world, {**params, "id": target}))
    assert_failed(r, 400, method, name)
    assert await state(sessions, world) == before


@pytest.mark.parametrize(
    "query,name",
    [
        ("method=order_info&id={o1}&output_format=html", "output_format"),
        ("method=set_status&id={o1}&status=received&output_format=", "output_format"),
        ("method=order_info&id={o1}&id={o2}", "id"),
        ("method=set_status&id={o1}&status=received&status=delivered", "status"),
        ("method=order_log&id=%FF", "id"),
        ("method=set_status&id={o1}&status=new%FF", "status"),
        ("method=add_message&id={o1}&type=log&message=%FF", "message"),
    ],
)
async def test_request_wide_problems_are_401_without_a_hash_and_400_with_one(
    xsp: XspClient, world: World, sessions: dict[str, Session], query: str, name: str
):
    before = await state(sessions, world)
    query = query.format(o1=world.orders["o1"], o2=world.orders["o2"])
    method = query.split("&")[0].removeprefix("method=")
    for hash_part in ("", "&hash=" + "0" * 32):
        r = await raw_get(xsp, query + hash_part)
        assert_failed(r, 401, method, "hash")
    r = await raw_get(xsp, f"{query}&hash={sessions['TL1'].hash}")
    assert_failed(r, 400, method, name)
    assert await state(sessions, world) == before


async def test_a_body_too_large_is_400_saying_so_even_when_it_held_the_method(
    xsp: XspClient, world: World, sessions: dict[str, Session]
):
    """Past 1 MiB the form is not read. Had it carried the method, the answer does not pretend
    the method was missing; with the method in the query string, the method is the root."""
    before = await state(sessions, world)
    hash_ = sessions["TL1"].hash
    fields = {"id": world.orders["o1"], "status": "received", "pad": "x" * (1 << 20)}
    for query, body, root in (
        ("", {"method": "set_status", "hash": hash_, **fields}, ERROR_ROOT),
        (f"?method=set_status&hash={hash_}", fields, "set_status"),
    ):
        r = parse(await xsp.http.post(PATH + query, data=body))  # a urlencoded form
        assert_failed(r, 400, root, "too large")
    assert await state(sessions, world) == before


def _part(name: str, value: str, extra: str = "") -> bytes:
    return (
        f'--b\r\nContent-Disposition: form-data; name="{name}"{extra}\r\n\r\n{value}\r\n'.encode()
    )


MULTIPART = "multipart/form-data; boundary=b"
BAD_MULTIPART = [
    pytest.param("multipart/form-data", _part("id", "1") + b"--b--\r\n", id="no-boundary"),
    pytest.param(MULTIPART, b"not multipart at all", id="garbage"),
    pytest.param(MULTIPART, _part("id", "1", '; filename="x.txt"') + b"--b--\r\n", id="a-file"),
    pytest.param(
        MULTIPART, b"".join(_part(f"f{i}", "1") for i in range(101)) + b"--b--\r\n", id="101-fields"
    ),
    pytest.param(MULTIPART, _part("pad", "x" * (1 << 20)) + b"--b--\r\n", id="over-1-MiB"),
]


@pytest.mark.parametrize(("ctype", "body"), BAD_MULTIPART)
async def test_a_multipart_form_that_cannot_be_read_is_400_naming_the_body(
    xsp: XspClient, world: World, sessions: dict[str, Session], ctype: str, body: bytes
):
    before = await state(sessions, world)
    query = (
        f"?method=set_status&hash={sessions['TL1'].hash}&id={world.orders['o1']}&status=received"
    )
    for q, root in ((query, "set_status"), ("", ERROR_ROOT)):
        r = parse(await xsp.http.post(PATH + q, content=body, headers={"content-type": ctype}))
        assert_failed(r, 400, root, "multipart|too large")
    assert await state(sessions, world) == before


async def test_a_readable_multipart_form_is_taken_like_a_urlencoded_one(
    xsp: XspClient, world: World, sessions: dict[str, Session]
):
    fields = {"method": "order_info", "hash": sessions["TL1"].hash, "id": str(world.orders["o1"])}
    body = b"".join(_part(k, v) for k, v in fields.items()) + b"--b--\r\n"
    r = parse(await xsp.http.post(PATH, content=body, headers={"content-type": MULTIPART}))
    assert (r.code, r.root, r.status) == (200, "order_info", "success"), r.response


# --- id --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [MISSING, *BAD_IDS])
@pytest.mark.parametrize("method", ID_METHODS)
async def test_a_missing_or_malformed_id_is_400_naming_id(
    xsp: XspClient, world: World, sessions: dict[str, Session], method: str, value: Any
):
    before = await state(sessions, world)
    r = await sessions["TL1"].call(method, **resolve(world, {**VALID[method], "id": value}))
    assert_failed(r, 400, method, "id")
    assert await state(sessions, world) == before


@pytest.mark.parametrize("method", ID_METHODS)
async def test_a_large_well_formed_id_that_does_not_exist_is_404(
    xsp: XspClient, world: World, sessions: dict[str, Session], method: str
):
    before = await state(sessions, world)
    for big in ("2147483648", "4294967296", "999999999999999999"):
        r = await sessions["TL1"].call(method, **{**resolve(world, VALID[method]), "id": big})
        assert_failed(r, 404, method, big)
    assert await state(sessions, world) == before


@pytest.mark.parametrize("method", ID_METHODS)
async def test_an_id_that_is_not_utf8_is_400_naming_id(
    xsp: XspClient, world: World, sessions: dict[str, Session], method: str
):
    before = await state(sessions, world)
    rest = "&status=received&type=log&message=x"
    r = await raw_get(xsp, f"method={method}&hash={sessions['TL1'].hash}&id=%FF{rest}")
    assert_failed(r, 400, method, "id")
    assert await state(sessions, world) == before


@pytest.mark.parametrize("method", ID_METHODS)
async def test_an_id_given_twice_with_different_values_is_400_naming_id(
    xsp: XspClient, world: World, sessions: dict[str, Session], method: str
):
    before = await state(sessions, world)
    o1, o2 = world.orders["o1"], world.orders["o2"]
    rest = "&status=received&type=log&message=x"
    r = await raw_get(xsp, f"method={method}&hash={sessions['TL1'].hash}&id={o1}&id={o2}{rest}")
    assert_failed(r, 400, method, "id")
    assert await state(sessions, world) == before


async def test_a_posted_form_with_a_bad_id_fails_like_a_get(
    xsp: XspClient, world: World, sessions: dict[str, Session]
):
    before = await state(sessions, world)
    h = sessions["TL1"].hash
    r = await xsp.call("set_status", post=True, hash=h, id="' OR 1=1 --", status="delivered")
    assert_failed(r, 400, "set_status", "id")
    r = await xsp.call("set_status", post=True, id="' OR 1=1 --", status="delivered")
    assert_failed(r, 401, "set_status", "hash")
    assert await state(sessions, world) == before


# --- set_status: status ----------------------------------------------------------------------


@pytest.mark.parametrize("value", [MISSING, *BAD_STATUSES])
async def test_set_status_with_a_missing_or_unknown_status_is_400_naming_status(
    xsp: XspClient, world: World, sessions: dict[str, Session], value: Any
):
    before = await state(sessions, world)
    r = await sessions["TL1"].call("set_status", **resolve(world, {"id": "o1", "status": value}))
    assert_failed(r, 400, "set_status", "status")
    assert await state(sessions, world) == before


async def test_set_status_with_a_status_that_is_not_utf8_is_400(
    xsp: XspClient, world: World, sessions: dict[str, Session]
):
    before = await state(sessions, world)
    oid = world.orders["o1"]
    r = await raw_get(xsp, f"method=set_status&hash={sessions['TL1'].hash}&id={oid}&status=new%FF")
    assert_failed(r, 400, "set_status", "status")
    assert await state(sessions, world) == before


@pytest.mark.parametrize("fmt", [None, "json"])
async def test_a_disallowed_status_change_is_409_and_changes_nothing(
    xsp: XspClient, world: World, sessions: dict[str, Session], fmt: str | None
):
    oid = world.orders["o1"]
    assert (await sessions["TL1"].call("set_status", id=oid, status="cancelled")).code == 200
    before = await state(sessions, world)
    for new in ("new", "received", "active", "waiting", "delivered"):
        r = await sessions["TL1"].call("set_status", id=oid, status=new, output_format=fmt)
        assert_failed(r, 409, "set_status", "cancelled")
        assert re.search(rf"\b{new}\b", r.message), r.message
    assert await state(sessions, world) == before


# --- add_message: type and message -----------------------------------------------------------


@pytest.mark.parametrize("value", [MISSING, *BAD_TYPES])
async def test_add_message_with_a_missing_or_unknown_type_is_400_naming_type(
    xsp: XspClient, world: World, sessions: dict[str, Session], value: Any
):
    before = await state(sessions, world)
    params = resolve(world, {"id": "o1", "type": value, "message": "Hej"})
    r = await sessions["TL1"].call("add_message", **params)
    assert_failed(r, 400, "add_message", "type")
    assert await state(sessions, world) == before


@pytest.mark.parametrize(
    "value,name",
    [(MISSING, "message"), *BAD_MESSAGES],
    ids=lambda v: repr(v)[:30] if isinstance(v, str) else None,
)
async def test_add_message_with_a_missing_empty_long_or_control_message_is_400(
    xsp: XspClient, world: World, sessions: dict[str, Session], value: Any, name: str
):
    before = await state(sessions, world)
    params = resolve(world, {"id": "o1", "type": "alert", "message": value})
    for post in (False, True):
        r = await xsp.call("add_message", hash=sessions["TL1"].hash, post=post, **params)
        assert_failed(r, 400, "add_message", name)
    assert await state(sessions, world) == before


@pytest.mark.parametrize(
    "encoded", ["%FF", "Hej%FF", "%C3%28", "%ED%A0%80", "%F0%28%8C%BC", "%C0%AF", "a%80b"]
)
async def test_add_message_with_bytes_that_are_not_utf8_is_400_naming_message(
    xsp: XspClient, world: World, sessions: dict[str, Session], encoded: str
):
    before = await state(sessions, world)
    oid = world.orders["o1"]
    query = f"method=add_message&hash={sessions['TL1'].hash}&id={oid}&type=log&message={encoded}"
    r = await raw_get(xsp, query)
    assert_failed(r, 400, "add_message", "message")
    r = parse(
        await xsp.http.post(
            PATH,
            content=query.encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    )
    assert_failed(r, 400, "add_message", "message")
    r = await raw_get(xsp, query + "&output_format=json")
    assert r.http.headers["content-type"].startswith("application/json")
    assert_failed(r, 400, "add_message", "message")
    assert await state(sessions, world) == before


async def test_a_message_that_is_not_utf8_without_a_hash_is_401(
    xsp: XspClient, world: World, sessions: dict[str, Session]
):
    before = await state(sessions, world)
    r = await raw_get(xsp, f"method=add_message&id={world.orders['o1']}&type=log&message=%FF")
    assert_failed(r, 401, "add_message", "hash")
    assert await state(sessions, world) == before


@pytest.mark.parametrize("message", VERBATIM_MESSAGES, ids=lambda v: repr(v)[:30])
async def test_metacharacters_in_a_message_are_stored_and_returned_verbatim(
    xsp: XspClient, world: World, sessions: dict[str, Session], message: str
):
    oid = world.orders["o1"]
    tl1, koa = sessions["TL1"], sessions["KOA"]
    r = await tl1.call("add_message", id=oid, type="log", message=message)
    assert (r.code, r.root, r.status) == (200, "add_message", "success")
    assert r.message == f"Message added to order {oid}"
    for s in (tl1, koa):
        xml_reply = await s.call("order_log", id=oid)
        ET.fromstring(xml_reply.http.content)  # well-formed (parse() has checked the shape)
        assert xml_reply.items("entry")[-1]["message"] == message
        json_reply = await s.call("order_log", id=oid, output_format="json")
        assert json_reply.response["entry"][-1]["message"] == message
    info = await tl1.call("order_info", id=oid)
    assert info.one("order")["message"] == "Notering 1"  # the customer's note is untouched


async def test_a_message_with_a_carriage_return_survives_the_xml_reply(
    xsp: XspClient, world: World, sessions: dict[str, Session]
):
    oid = world.orders["o1"]
    message = "rad ett\r\nrad två"
    r = await sessions["TL1"].call("add_message", id=oid, type="log", message=message)
    assert r.code == 200
    json_reply = await sessions["TL1"].call("order_log", id=oid, output_format="json")
    assert json_reply.response["entry"][-1]["message"] == message
    xml_reply = await sessions["TL1"].call("order_log", id=oid)
    assert xml_reply.items("entry")[-1]["message"] == message


# --- orders, customers, events: date, since_id, limit ----------------------------------------


@pytest.mark.parametrize("value", [MISSING, *BAD_DATES])
@pytest.mark.parametrize("method", ["orders", "customers"])
async def test_a_missing_or_malformed_date_is_400_naming_date(
    xsp: XspClient, world: World, sessions: dict[str, Session], method: str, value: Any
):
    before = await state(sessions, world)
    r = await sessions["TL1"].call(method, **resolve(world, {"date": value}))
    assert_failed(r, 400, method, "date")
    if value is not MISSING:  # given both, both apply: a bad date is not saved by since_id
        r = await sessions["TL1"].call(method, since_id=0, **resolve(world, {"date": value}))
        assert_failed(r, 400, method, "date")
    assert await state(sessions, world) == before


@pytest.mark.parametrize("method", ["orders", "customers"])
@pytest.mark.parametrize("day", ["2024-02-29", "0001-01-01", "1900-01-01", "9999-12-31"])
async def test_extreme_but_valid_dates_are_answered_not_crashed_on(
    xsp: XspClient, world: World, sessions: dict[str, Session], method: str, day: str
):
    r = await sessions["TL1"].call(method, date=day)
    assert (r.code, r.root, r.status) == (200, method, "success"), (r.code, r.response)
    element = "order" if method == "orders" else "customer"
    expected = 0 if day.startswith("9999") else {"orders": 3, "customers": 3}[method]
    assert len(r.items(element)) == expected


@pytest.mark.parametrize("value", BAD_SINCE_IDS)
@pytest.mark.parametrize("method", ["orders", "customers", "events"])
async def test_a_malformed_since_id_is_400_naming_since_id(
    xsp: XspClient, world: World, sessions: dict[str, Session], method: str, value: str
):
    before = await state(sessions, world)
    r = await sessions["TL1"].call(method, since_id=value)
    assert_failed(r, 400, method, "since_id")
    if method != "events":
        r = await sessions["TL1"].call(method, since_id=value, date="2020-01-01")
        assert_failed(r, 400, method, "since_id")
    assert await state(sessions, world) == before


@pytest.mark.parametrize("fmt", [None, "json"])
async def test_events_without_since_id_is_400_naming_since_id(
    xsp: XspClient, world: World, sessions: dict[str, Session], fmt: str | None
):
    r = await sessions["TL1"].call("events", output_format=fmt)
    assert_failed(r, 400, "events", "since_id")
    r = await sessions["TL1"].call("events", limit=10, date="2020-01-01", output_format=fmt)
    assert_failed(r, 400, "events", "since_id")


@pytest.mark.parametrize("since_id", ["999999999999999999", HUGE])
@pytest.mark.parametrize("method", ["orders", "customers", "events"])
async def test_a_since_id_beyond_every_row_returns_nothing(
    xsp: XspClient, world: World, sessions: dict[str, Session], method: str, since_id: str
):
    r = await sessions["TL1"].call(method, since_id=since_id)
    assert (r.code, r.status) == (200, "success")
    assert r.items({"orders": "order", "customers": "customer", "events": "event"}[method]) == []


@pytest.mark.parametrize("value", BAD_LIMITS)
@pytest.mark.parametrize("method", ["orders", "customers", "events"])
async def test_a_zero_negative_or_non_numeric_limit_is_400_naming_limit(
    xsp: XspClient, world: World, sessions: dict[str, Session], method: str, value: str
):
    before = await state(sessions, world)
    r = await sessions["TL1"].call(method, since_id=0, limit=value)
    assert_failed(r, 400, method, "limit")
    assert await state(sessions, world) == before


@pytest.mark.parametrize("value", ["0", "-1", "abc"])
@pytest.mark.parametrize("method", ["orders", "customers"])
async def test_a_bad_limit_is_400_on_a_date_query_too(
    xsp: XspClient, world: World, sessions: dict[str, Session], method: str, value: str
):
    r = await sessions["TL1"].call(method, date="2020-01-01", limit=value)
    assert_failed(r, 400, method, "limit")


@pytest.mark.parametrize("value", ["1001", "999999999", HUGE])
@pytest.mark.parametrize("method", ["orders", "customers", "events"])
async def test_a_limit_above_1000_is_treated_as_1000(
    xsp: XspClient, world: World, sessions: dict[str, Session], method: str, value: str
):
    r = await sessions["TL1"].call(method, since_id=0, limit=value)
    assert (r.code, r.status) == (200, "success"), (r.code, r.response)
    element = {"orders": "order", "customers": "customer", "events": "event"}[method]
    assert len(r.items(element)) == 3


# --- the error envelope itself ---------------------------------------------------------------


async def test_an_xml_failure_is_exactly_the_documented_envelope(
    xsp: XspClient, world: World, sessions: dict[str, Session]
):
    r = await sessions["TL1"].call("order_info", id="abc")
    assert r.code == 400
    assert r.http.headers["content-type"] == "application/xml; charset=utf-8"
    el = ET.fromstring(r.http.content)
    assert el.tag == "order_info"
    assert [c.tag for c in el] == ["response", "status"]
    assert [c.tag for c in el[0]] == ["message", "code"]
    assert el[0][1].text == "400" and el[1].text == "failed"
    assert "id" in (el[0][0].text or "")


@pytest.mark.parametrize(
    "method,params,code,name",
    [
        ("order_info", {"id": "abc"}, 400, "id"),
        ("order_info", {"id": 999999}, 404, "999999"),
        ("order_info", {"id": "o2"}, 404, "o2"),
        ("set_status", {"id": "o1", "status": "NEW"}, 400, "status"),
        ("add_message", {"id": "o1", "type": "log", "message": "x" * 2001}, 400, "message"),
        ("events", {"since_id": "-1"}, 400, "since_id"),
        ("orders", {"date": "yesterday"}, 400, "date"),
    ],
)
async def test_a_json_failure_is_exactly_the_documented_envelope(
    xsp: XspClient,
    world: World,
    sessions: dict[str, Session],
    method: str,
    params: dict[str, Any],
    code: int,
    name: str,
):
    before = await state(sessions, world)
    params = resolve(world, params)
    if name == "o2":
        name = str(world.orders["o2"])
    for kwargs in ({"output_format": "json"}, {"headers": {"Accept": "application/json"}}):
        r = await sessions["TL1"].client.call(method, hash=sessions["TL1"].hash, **params, **kwargs)
        assert r.code == code
        assert r.http.headers["content-type"].startswith("application/json")
        doc = json.loads(r.http.content)
        assert set(doc) == {method}
        assert doc[method]["status"] == "failed"
        assert set(doc[method]["response"]) == {"message", "code"}
        assert doc[method]["response"]["code"] == code  # an integer in JSON
        assert name in doc[method]["response"]["message"]
    r = await xsp.call(method, fmt="json", **params)
    assert json.loads(r.http.content) == {
        method: {"response": {"message": r.message, "code": 401}, "status": "failed"}
    }
    assert await state(sessions, world) == before
