"""The authorisation policy as one table: every XSP method and every route of the app, for every
kind of caller, with the outcome that caller gets.

The target of every row is order o1 of the test world (TL1's service S1 on KOA's network, the
only order of customer c1). "Own" and "other" are seen from it: TL1 is its TL, TL2 another TL
(one that sells on the same network), KOA its KO, KOB another KO. Each row is one test, on a
fresh copy of the world; each cell is a subtest named ``ROW-CALLER`` (e.g.
``order_info-other_TL``), and its failure message starts with that name too. Within a row the
cells run in column order, so a write allowed to one caller is seen by the next.

Every cell also checks that nothing was changed unless the cell says the call is allowed to
change it, and that c1's surname and personnummer appear only in answers that may show them.

``test_every_route_and_xsp_method_has_a_row`` fails when the app gets a route, a route gets an
HTTP method or ``HANDLERS`` gets an XSP method without a row here, and when a row is left for
something that no longer exists.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi import routing as fastapi_routing
from sqlalchemy import func, select, update
from starlette.routing import BaseRoute, Mount

from serviceguide.api.xsp import HANDLERS
from serviceguide.api.xsp import PATH as XSP
from serviceguide.app import create_app
from serviceguide.domain.clock import utcnow
from serviceguide.services import admin
from serviceguide.services.context import AppContext
from serviceguide.services.secrets import sha256_hex
from serviceguide.storage import tables
from serviceguide.web import csrf
from serviceguide.web.staff.page import SESSION_COOKIE
from tests.conftest import make_settings
from tests.integration.test_guide_pages import FORM_TYPE, GOOD, Page, post_form
from tests.integration.test_staff_pages import PASSWORD, STAFF
from tests.integration.test_visibility import MISSING_ID, assert_same_as_missing
from tests.support.world import SERIALS, Login, World
from tests.support.xsp import XspClient, parse

pytestmark = pytest.mark.integration


class Outcome(StrEnum):
    ALLOW = "ALLOW"  # success; a read has the target in it, a write changes it
    FILTERED = "FILTERED"  # success, a list of the caller's own things: the target is not in it
    PUBLIC = "PUBLIC"  # the route's normal answer, the same whoever asks
    HIDDEN_404 = "HIDDEN_404"  # 404, exactly the answer for an id that does not exist
    DENY_401 = "DENY_401"  # not authenticated
    FORBIDDEN_403 = "FORBIDDEN_403"  # authenticated, and refused
    BAD_REQUEST_400 = "BAD_REQUEST_400"  # the credentials are the parameters, and they are missing
    REDIRECT_LOGIN = "REDIRECT_LOGIN"  # 303 to /staff/login?next=… (with expired=1 after one)


# The table's short names for them.
OK, OMIT, PUB, R303 = Outcome.ALLOW, Outcome.FILTERED, Outcome.PUBLIC, Outcome.REDIRECT_LOGIN
N404, D401, F403 = Outcome.HIDDEN_404, Outcome.DENY_401, Outcome.FORBIDDEN_403
B400 = Outcome.BAD_REQUEST_400

#: The kinds of caller, in the order of the table's columns. What each presents:
#: - own_TL … other_KO: the organisation's API user (TL1, TL2, KOA, KOB of the world) with a
#:   fresh login hash: ``hash=`` on the XSP API, HTTP Basic api_user:api_key on ON-API, and
#:   ``Authorization: Bearer HASH`` everywhere else.
#: - *_staff: a staff user of that organisation, logged in: the session cookie, sent on every
#:   path (the XSP API and ON-API must take it for no credentials at all).
#: - expired: TL1's login hash and a session of TL1's staff user, both past their expiry.
#: - anonymous: nothing.
#: - KO_ip_allowed / KO_ip_elsewhere: ``api_user`` alone (no key, no hash), from 127.0.0.1, of
#:   KOA's API user allow-listed for 127.0.0.0/8 (KOA_IP) and of the one allow-listed only for
#:   192.0.2.1 (KOA_FAR).
#: Every caller has a CSRF cookie and sends its valid token with every form (so that a refusal
#: is about who the caller is, not about CSRF).
CALLERS = (
    "own_TL",
    "other_TL",
    "own_KO",
    "other_KO",
    "own_TL_staff",
    "other_TL_staff",
    "own_KO_staff",
    "other_KO_staff",
    "expired",
    "anonymous",
    "KO_ip_allowed",
    "KO_ip_elsewhere",
)

# The policy. OK allowed, OMIT listed without the target, PUB public, N404 hidden (like a
# missing id), D401 not authenticated, F403 forbidden, B400 missing parameter, R303 to login.
# fmt: off
#                        API users of             staff users of           other callers
#                        TL    TL    KO    KO     TL    TL    KO    KO     expd  no    ip    ip
#                        own   other own   other  own   other own   other  hash  creds ok    far
MATRIX: dict[str, tuple[Outcome, ...]] = {
    # --- the XSP order API, /plain/serviceguide_log (row = method) ---------------------------
    "api_login":        (OK,   OK,   OK,   OK,    B400, B400, B400, B400,  B400, B400, B400, B400),
    "orders":           (OK,   OMIT, OK,   OMIT,  D401, D401, D401, D401,  D401, D401, D401, D401),
    "customers":        (OK,   OMIT, OK,   OMIT,  D401, D401, D401, D401,  D401, D401, D401, D401),
    "order_info":       (OK,   N404, OK,   N404,  D401, D401, D401, D401,  D401, D401, D401, D401),
    "customer_info":    (OK,   N404, OK,   N404,  D401, D401, D401, D401,  D401, D401, D401, D401),
    "order_log":        (OK,   N404, OK,   N404,  D401, D401, D401, D401,  D401, D401, D401, D401),
    "set_status":       (OK,   N404, OK,   N404,  D401, D401, D401, D401,  D401, D401, D401, D401),
    "add_message":      (OK,   N404, OK,   N404,  D401, D401, D401, D401,  D401, D401, OK,   D401),
    "add_message_GET":  (OK,   N404, OK,   N404,  D401, D401, D401, D401,  D401, D401, OK,   D401),
    "events":           (OK,   OMIT, OK,   OMIT,  D401, D401, D401, D401,  D401, D401, D401, D401),
    # --- ON-API accesses (Basic auth): a TL reads networks it sells on, a KO its own --------
    "onapi.list":       (OK,   OK,   OK,   F403,  D401, D401, D401, D401,  D401, D401, D401, D401),
    "onapi.list_slash": (OK,   OK,   OK,   F403,  D401, D401, D401, D401,  D401, D401, D401, D401),
    "onapi.access":     (OK,   OK,   OK,   F403,  D401, D401, D401, D401,  D401, D401, D401, D401),
    "onapi.list_KOB":   (OK,   F403, F403, OK,    D401, D401, D401, D401,  D401, D401, D401, D401),
    # --- ON-API products of TL1 (Basic auth): the TL itself, the KOs admitting it ------------
    "onapi.products":   (OK,   F403, OK,   OMIT,  D401, D401, D401, D401,  D401, D401, D401, D401),
    "onapi.products_slash": (OK, F403, OK, OMIT,  D401, D401, D401, D401,  D401, D401, D401, D401),
    "onapi.products_A1": (OK,  F403, OK,   N404,  D401, D401, D401, D401,  D401, D401, D401, D401),
    # --- the staff pages (session cookie + CSRF) --------------------------------------------
    "staff.root":       (PUB,  PUB,  PUB,  PUB,   PUB,  PUB,  PUB,  PUB,   PUB,  PUB,  PUB,  PUB),
    "staff.login_form": (PUB,  PUB,  PUB,  PUB,   PUB,  PUB,  PUB,  PUB,   PUB,  PUB,  PUB,  PUB),
    "staff.login":      (PUB,  PUB,  PUB,  PUB,   PUB,  PUB,  PUB,  PUB,   PUB,  PUB,  PUB,  PUB),
    "staff.logout":     (PUB,  PUB,  PUB,  PUB,   PUB,  PUB,  PUB,  PUB,   PUB,  PUB,  PUB,  PUB),
    "staff.pw_form":    (R303, R303, R303, R303,  OK,   OK,   OK,   OK,    R303, R303, R303, R303),
    "staff.pw_change":  (R303, R303, R303, R303,  OK,   OK,   OK,   OK,    R303, R303, R303, R303),
    "staff.overview":   (R303, R303, R303, R303,  OK,   OMIT, OK,   OMIT,  R303, R303, R303, R303),
    "staff.orders":     (R303, R303, R303, R303,  OK,   OMIT, OK,   OMIT,  R303, R303, R303, R303),
    "staff.csv":        (R303, R303, R303, R303,  OK,   OMIT, OK,   OMIT,  R303, R303, R303, R303),
    "staff.order":      (R303, R303, R303, R303,  OK,   N404, OK,   N404,  R303, R303, R303, R303),
    "staff.status":     (R303, R303, R303, R303,  OK,   N404, OK,   N404,  R303, R303, R303, R303),
    "staff.message":    (R303, R303, R303, R303,  OK,   N404, OK,   N404,  R303, R303, R303, R303),
    "staff.flag":       (R303, R303, R303, R303,  OK,   N404, OK,   N404,  R303, R303, R303, R303),
    "staff.reveal":     (R303, R303, R303, R303,  OK,   N404, OK,   N404,  R303, R303, R303, R303),
    # --- the guide: public pages, public JSON API, static files ------------------------------
    "guide.search":     (PUB,  PUB,  PUB,  PUB,   PUB,  PUB,  PUB,  PUB,   PUB,  PUB,  PUB,  PUB),
    "guide.services":   (PUB,  PUB,  PUB,  PUB,   PUB,  PUB,  PUB,  PUB,   PUB,  PUB,  PUB,  PUB),
    "guide.details":    (PUB,  PUB,  PUB,  PUB,   PUB,  PUB,  PUB,  PUB,   PUB,  PUB,  PUB,  PUB),
    "guide.change":     (PUB,  PUB,  PUB,  PUB,   PUB,  PUB,  PUB,  PUB,   PUB,  PUB,  PUB,  PUB),
    "guide.review":     (PUB,  PUB,  PUB,  PUB,   PUB,  PUB,  PUB,  PUB,   PUB,  PUB,  PUB,  PUB),
    "guide.confirm":    (PUB,  PUB,  PUB,  PUB,   PUB,  PUB,  PUB,  PUB,   PUB,  PUB,  PUB,  PUB),
    # c1's thank-you page and order page without their token: no credential opens them
    "guide.thanks":     (N404, N404, N404, N404,  N404, N404, N404, N404,  N404, N404, N404, N404),
    "guide.my_orders":  (N404, N404, N404, N404,  N404, N404, N404, N404,  N404, N404, N404, N404),
    "static":           (PUB,  PUB,  PUB,  PUB,   PUB,  PUB,  PUB,  PUB,   PUB,  PUB,  PUB,  PUB),
    "api.addresses":    (PUB,  PUB,  PUB,  PUB,   PUB,  PUB,  PUB,  PUB,   PUB,  PUB,  PUB,  PUB),
    "api.services":     (PUB,  PUB,  PUB,  PUB,   PUB,  PUB,  PUB,  PUB,   PUB,  PUB,  PUB,  PUB),
    "api.orders":       (PUB,  PUB,  PUB,  PUB,   PUB,  PUB,  PUB,  PUB,   PUB,  PUB,  PUB,  PUB),
}
# fmt: on

#: Routes that need no row, and why.
NOT_IN_MATRIX = {
    # The API documentation: static descriptions of the public interface and Swagger UI's
    # files, no data.
    ("/openapi.json", "GET"),
    ("/docs", "GET"),
    ("/docs/assets/{path}", "GET"),
    # The load balancer's liveness probe: a constant answer, touches nothing.
    ("/healthz", "GET"),
    # The readiness probe: a `SELECT 1` on a connection of its own, no data.
    ("/readyz", "GET"),
    # Open by client address, not by caller (SERVICEGUIDE_METRICS_ALLOW): test_observability.py.
    ("/metrics", "GET"),
}


# --- the callers ---------------------------------------------------------------------------------


@dataclass
class Caller:
    kind: str
    http: httpx.AsyncClient
    csrf: str = ""
    api: Login | None = None  # api_user and api_key (Basic on ON-API, api_login on XSP)
    hash: str | None = None  # an XSP login hash (valid, or expired for "expired")
    api_user_only: int | None = None  # api_user alone: the KO allow-list convention
    stale_session: bool = False  # holds a staff session cookie that has expired

    def xsp_credentials(self) -> dict[str, str]:
        if self.hash:
            return {"hash": self.hash}
        if self.api_user_only is not None:
            return {"api_user": str(self.api_user_only)}
        return {}

    async def xsp(self, verb: str, params: dict[str, str]) -> httpx.Response:
        if verb == "GET":
            return await self.http.get(XSP, params=params)
        return await self.http.post(XSP, data=params)

    async def onapi(self, path: str) -> httpx.Response:
        headers: dict[str, str] = {}
        if self.api is not None:
            pair = f"{self.api.api_user}:{self.api.api_key}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        elif self.hash:
            headers["Authorization"] = f"Bearer {self.hash}"
        return await self.http.get(self._with_api_user(path), headers=headers)

    async def web(
        self,
        verb: str,
        path: str,
        *,
        form: list[tuple[str, str]] | None = None,
        body: Any = None,
    ) -> httpx.Response:
        """A page or the guide's JSON API: the hash as a Bearer token, cookies from the jar,
        and with a form this caller's valid CSRF token."""
        headers = {"Authorization": f"Bearer {self.hash}"} if self.hash else {}
        url = self._with_api_user(path)
        if verb == "GET":
            return await self.http.get(url, headers=headers)
        if body is not None:
            return await self.http.post(url, json=body, headers=headers)
        content = urlencode([(csrf.FIELD, self.csrf), *(form or [])])
        return await self.http.post(url, content=content, headers={**headers, **FORM_TYPE})

    def _with_api_user(self, path: str) -> str:
        if self.api_user_only is None:
            return path
        return f"{path}{'&' if '?' in path else '?'}api_user={self.api_user_only}"


API_USERS = {"own_TL": "TL1", "other_TL": "TL2", "own_KO": "KOA", "other_KO": "KOB"}
STAFF_OF = {
    "own_TL_staff": "TL1",
    "other_TL_staff": "TL2",
    "own_KO_staff": "KOA",
    "other_KO_staff": "KOB",
}


async def _login_page(http: httpx.AsyncClient) -> dict[str, str]:
    """The staff login form's values: this browser's CSRF token and where to go next."""
    return dict(Page(await http.get("/staff/login")).form("/staff/login").values())


async def _staff_login(http: httpx.AsyncClient, who: str) -> str:
    """Log in as ``who``'s staff user (as StaffBrowser.login does, without then loading the
    overview); returns the session cookie."""
    values = {**await _login_page(http), "username": STAFF[who][0], "password": PASSWORD}
    response = await post_form(http, "/staff/login", list(values.items()))
    assert response.status_code == 303, response.text
    value = http.cookies.get(SESSION_COOKIE)
    assert value
    return value


async def _expire(ctx: AppContext, hash_key: str, staff_cookie: str) -> None:
    past = utcnow() - timedelta(seconds=1)
    token = staff_cookie.rsplit(".", 1)[0]
    async with ctx.db.write() as conn:
        await conn.execute(
            update(tables.api_sessions)
            .where(tables.api_sessions.c.token_sha256 == sha256_hex(hash_key))
            .values(expires_at=past)
        )
        await conn.execute(
            update(tables.staff_sessions)
            .where(tables.staff_sessions.c.token_sha256 == sha256_hex(token))
            .values(expires_at=past)
        )


@dataclass(frozen=True)
class Credentials:
    """What one caller's browser or client holds after logging in."""

    csrf_cookie: str
    csrf_token: str
    hash: str | None = None
    staff_cookie: str | None = None


#: Logging everyone in takes a dozen requests and key and password checks. It is done for real
#: once per database; later tests put the rows it wrote back (with their expiry moved on by the
#: time since, so that a valid session stays valid and an expired one expired) and reuse the
#: credentials.
SESSION_TABLES = (tables.staff_users, tables.api_sessions, tables.staff_sessions)
Rows = dict[str, list[dict[str, Any]]]
_logged_in: dict[str, tuple[dict[str, Credentials], Rows, datetime]] = {}


def _client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50010))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def _log_everyone_in(ctx: AppContext, world: World, app: FastAPI) -> dict[str, Credentials]:
    for key, (username, where) in STAFF.items():
        org = await admin.find_org(ctx, **where)  # type: ignore[arg-type]
        await admin.create_staff_user(ctx, org, username, f"{key} Person", password=PASSWORD)
    out: dict[str, Credentials] = {}
    for kind in CALLERS:
        async with _client(app) as http:
            token = (await _login_page(http))[csrf.FIELD]
            hash_key = staff_cookie = None
            if kind in API_USERS or kind == "expired":
                u = world.users[API_USERS.get(kind, "TL1")]
                hash_key = await XspClient(http).login(u.api_user, u.api_key)
            if kind in STAFF_OF or kind == "expired":
                staff_cookie = await _staff_login(http, STAFF_OF.get(kind, "TL1"))
            if kind == "expired":
                assert hash_key and staff_cookie
                await _expire(ctx, hash_key, staff_cookie)
            cookie = http.cookies.get(csrf.COOKIE)
            assert cookie
            out[kind] = Credentials(cookie, token, hash_key, staff_cookie)
    return out


async def _callers(ctx: AppContext, world: World, stack: AsyncExitStack) -> dict[str, Caller]:
    app = create_app(ctx.settings)
    app.state.ctx = ctx
    url = ctx.settings.database_url
    if url in _logged_in:
        credentials, rows, taken = _logged_in[url]
        later = utcnow() - taken
        async with ctx.db.write() as conn:
            for table in SESSION_TABLES:
                moved = [
                    {**r, "expires_at": r["expires_at"] + later} if "expires_at" in r else r
                    for r in rows[table.name]
                ]
                if moved:
                    await conn.execute(table.insert(), moved)
    else:
        credentials = await _log_everyone_in(ctx, world, app)
        async with ctx.db.read() as conn:
            rows = {
                t.name: [dict(r._mapping) for r in await conn.execute(select(t))]
                for t in SESSION_TABLES
            }
        _logged_in[url] = (credentials, rows, utcnow())
    callers: dict[str, Caller] = {}
    for kind in CALLERS:
        cred = credentials[kind]
        http = await stack.enter_async_context(_client(app))
        http.cookies.set(csrf.COOKIE, cred.csrf_cookie, path="/")
        if cred.staff_cookie:
            http.cookies.set(SESSION_COOKIE, cred.staff_cookie, path="/")
        c = Caller(kind, http, csrf=cred.csrf_token, hash=cred.hash)
        c.api = world.users[API_USERS[kind]] if kind in API_USERS else None
        c.stale_session = kind == "expired"
        if kind in ("KO_ip_allowed", "KO_ip_elsewhere"):
            c.api_user_only = world.users[
                "KOA_IP" if kind == "KO_ip_allowed" else "KOA_FAR"
            ].api_user
        callers[kind] = c
    return callers


# --- the world as the cells see it ---------------------------------------------------------------


@dataclass
class Env:
    ctx: AppContext
    world: World
    callers: dict[str, Caller] = field(default_factory=dict)

    @property
    def o1(self) -> int:
        return self.world.orders["o1"]

    @property
    def c1(self) -> int:
        return self.world.customers["c1"]

    async def next_status(self) -> str:
        """A status o1 may move to from where it is now (active and waiting alternate)."""
        async with self.ctx.db.read() as conn:
            q = select(tables.orders.c.status).where(tables.orders.c.id == self.o1)
            current = (await conn.execute(q)).scalar_one()
        return "waiting" if current == "active" else "active"


def _count(table: Any, *where: Any) -> Any:
    return select(func.count()).select_from(table).where(*where)


COUNTED = ("orders", "customers", "order_log", "events", "order_flags")


async def state(env: Env) -> dict[str, Any]:
    """What a call could change: o1 itself (row, log, events, flags), the staff users, and how
    many orders, customers, log entries, events and flags there are in all."""
    t, o1 = tables, env.o1
    counts = {
        "o1_log": _count(t.order_log, t.order_log.c.order_id == o1),
        "o1_events": _count(t.events, t.events.c.order_id == o1),
        **{name: _count(getattr(t, name)) for name in COUNTED},
    }
    flags = select(t.order_flags.c.org_id).where(t.order_flags.c.order_id == o1)
    users = select(t.staff_users.c.id, t.staff_users.c.password_hash, t.staff_users.c.active)
    async with env.ctx.db.read() as conn:
        row = (await conn.execute(select(t.orders).where(t.orders.c.id == o1))).one()
        q = select(*(c.scalar_subquery().label(name) for name, c in counts.items()))
        out: dict[str, Any] = dict((await conn.execute(q)).one()._mapping)
        out["o1"] = tuple(row)
        out["o1_flags"] = sorted((await conn.execute(flags)).scalars())
        out["staff_users"] = sorted(tuple(r) for r in await conn.execute(users))
    return out


#: The parts of the state a public call (which may place new orders) must leave alone.
TARGET_STATE = ("o1", "o1_log", "o1_events", "o1_flags", "staff_users")


def _changed(
    before: dict[str, Any],
    after: dict[str, Any],
    *,
    must: tuple[str, ...] = (),
    may: tuple[str, ...] = (),
    **grew: int,
) -> bool:
    """The counts in ``grew`` grew by exactly that, ``must`` changed, and apart from ``may``
    nothing else did."""
    for key in before:
        if key in grew:
            if after[key] != before[key] + grew[key]:
                return False
        elif key in must:
            if after[key] == before[key]:
                return False
        elif key not in may and after[key] != before[key]:
            return False
    return True


def _status_changed(b: dict[str, Any], a: dict[str, Any]) -> bool:
    return _changed(b, a, must=("o1",), o1_log=1, order_log=1, o1_events=1, events=1)


def _message_added(b: dict[str, Any], a: dict[str, Any]) -> bool:
    return _changed(b, a, may=("o1",), o1_log=1, order_log=1, o1_events=1, events=1)


def _one_password_changed(b: dict[str, Any], a: dict[str, Any]) -> bool:
    users = zip(b["staff_users"], a["staff_users"], strict=True)
    return sum(x != y for x, y in users) == 1 and _changed(b, a, must=("staff_users",))


# --- the rows' calls and what success looks like -------------------------------------------------

Call = Callable[[Env, Caller, int], Awaitable[httpx.Response]]
Shows = Callable[[Env, httpx.Response], bool]
Changes = Callable[[dict[str, Any], dict[str, Any]], bool]


@dataclass(frozen=True)
class Endpoint:
    verb: str
    route: str  # the path as the app declares it (for the completeness check)
    call: Call  # (env, caller, target id) → the answer
    target: str = ""  # "order" or "customer": HIDDEN_404 compares with a missing id of that kind
    ok: int = 200  # the status of a success
    shows: Shows | None = None  # ALLOW/FILTERED/PUBLIC: is the target (or the page) there
    changes: Changes | None = None  # writes: what an allowed call changes
    xsp_method: str = ""  # the XSP API's ``method``


def _xsp_call(method: str, verb: str, params: dict[str, str], next_status: bool) -> Call:
    async def call(env: Env, c: Caller, target: int) -> httpx.Response:
        values = {"method": method, "output_format": "json", **params}
        if method == "api_login" and c.api is not None:
            values.update(api_user=str(c.api.api_user), api_key=c.api.api_key)
        else:
            values.update(c.xsp_credentials())
        if target:
            values["id"] = str(target)
        if next_status:
            values["status"] = await env.next_status()
        return await c.xsp(verb, values)

    return call


def _xsp_items(element: str, key: str, wanted: Callable[[Env], int]) -> Shows:
    def shows(env: Env, resp: httpx.Response) -> bool:
        r = parse(resp)
        return r.status == "success" and str(wanted(env)) in {x[key] for x in r.items(element)}

    return shows


def _xsp_ok(resp: httpx.Response) -> bool:
    return parse(resp).status == "success"


def _xsp(
    method: str,
    verb: str = "GET",
    *,
    target: str = "",
    shows: Shows | None = None,
    changes: Changes | None = None,
    next_status: bool = False,
    **params: str,
) -> Endpoint:
    return Endpoint(
        verb,
        XSP,
        _xsp_call(method, verb, params, next_status),
        target=target,
        shows=shows or (lambda env, resp: _xsp_ok(resp)),
        changes=changes,
        xsp_method=method,
    )


def _page(
    verb: str, path: str, form: list[tuple[str, str]] | None = None, *, next_status: bool = False
) -> Call:
    async def call(env: Env, c: Caller, target: int) -> httpx.Response:
        values = [("status", await env.next_status())] if next_status else form
        return await c.web(verb, path.format(id=target), form=values)

    return call


def _onapi(path: str) -> Call:
    async def call(env: Env, c: Caller, target: int) -> httpx.Response:
        return await c.onapi(path)

    return call


def _has_product(product_id: str) -> Shows:
    def shows(env: Env, resp: httpx.Response) -> bool:
        doc = resp.json()
        return any(p.get("productId") == product_id for p in doc.get("products", []))

    return shows


def _has_access(access_id: str) -> Shows:
    def shows(env: Env, resp: httpx.Response) -> bool:
        found: list[str] = []

        def walk(doc: Any) -> None:
            if isinstance(doc, dict):
                if "accessId" in doc:
                    found.append(doc["accessId"])
                for v in doc.values():
                    walk(v)
            elif isinstance(doc, list):
                for v in doc:
                    walk(v)

        walk(json.loads(resp.content))
        return access_id in found

    return shows


def _links_o1(env: Env, resp: httpx.Response) -> bool:
    return f'href="/staff/orders/{env.o1}"' in resp.text


def _redirects_to(prefix: str) -> Shows:
    def shows(env: Env, resp: httpx.Response) -> bool:
        return resp.headers.get("location", "").startswith(prefix.format(id=env.o1))

    return shows


def _contains(text: str) -> Shows:
    return lambda env, resp: text.format(id=env.o1) in resp.text


C1_SERIAL = "19" + SERIALS[1]  # c1's personnummer, as the staff order page reveals it
DETAILS = [("service", "101"), *((k, v) for k, v in GOOD.items())]
JSON_ORDER = {
    "coid": "KOA",
    "accessId": "A1",
    "services": [101],
    "customer": {k: GOOD[k] for k in ("firstname", "surname", "serial", "email", "phone")},
    "delivery": "asap",
    "confirm_duplicate": True,  # every caller orders for the same person
}


async def _json_order(env: Env, c: Caller, target: int) -> httpx.Response:
    return await c.web("POST", "/api/guide/orders", body=JSON_ORDER)


async def _review(env: Env, c: Caller, target: int) -> httpx.Response:
    """The review page of this caller's draft (the details sent first, into its session)."""
    sent = await c.web("POST", "/access/KOA/A1/details", form=DETAILS)
    assert sent.status_code == 303, (sent.status_code, sent.text[:300])
    return await c.web("GET", "/access/KOA/A1/review")


async def _confirm(env: Env, c: Caller, target: int) -> httpx.Response:
    review = await _review(env, c, target)
    key = re.search(r'name="key" value="([^"]+)"', review.text)
    assert key, review.text[:500]
    # Every caller orders for the same person: knowingly again.
    form = [("key", key.group(1)), ("confirm_duplicate", "1")]
    return await c.web("POST", "/access/KOA/A1/confirm", form=form)


ENDPOINTS: dict[str, Endpoint] = {
    # The XSP order API. Reads by GET, writes by POST (add_message also by GET, the way the
    # original platform's KOs call it with api_user alone).
    "api_login": _xsp("api_login", shows=lambda env, r: "hash_key" in parse(r).response),
    "orders": _xsp("orders", since_id="0", shows=_xsp_items("order", "id", lambda e: e.o1)),
    "customers": _xsp(
        "customers", since_id="0", shows=_xsp_items("customer", "id", lambda e: e.c1)
    ),
    "order_info": _xsp(
        "order_info", target="order", shows=_xsp_items("order", "id", lambda e: e.o1)
    ),
    "customer_info": _xsp(
        "customer_info", target="customer", shows=_xsp_items("customer", "id", lambda e: e.c1)
    ),
    "order_log": _xsp(
        "order_log", target="order", shows=lambda env, r: bool(parse(r).items("entry"))
    ),
    "set_status": _xsp(
        "set_status",
        "POST",
        target="order",
        next_status=True,
        changes=_status_changed,
    ),
    "add_message": _xsp(
        "add_message",
        "POST",
        target="order",
        type="log",
        message="Matrisen skriver",
        changes=_message_added,
    ),
    "add_message_GET": _xsp(
        "add_message",
        "GET",
        target="order",
        type="log",
        message="Matrisen skriver",
        changes=_message_added,
    ),
    "events": _xsp("events", since_id="0", shows=_xsp_items("event", "order", lambda e: e.o1)),
    # ON-API accesses: o1 is on access A1 of KOA; only TL1 sells on KOB.
    "onapi.list": Endpoint(
        "GET",
        "/plain/onapi/{coid}/accesses",
        _onapi("/plain/onapi/KOA/accesses"),
        shows=_has_access("A1"),
    ),
    "onapi.list_slash": Endpoint(
        "GET",
        "/plain/onapi/{coid}/accesses/",
        _onapi("/plain/onapi/KOA/accesses/"),
        shows=_has_access("A1"),
    ),
    "onapi.access": Endpoint(
        "GET",
        "/plain/onapi/{coid}/accesses/{access_id}",
        _onapi("/plain/onapi/KOA/accesses/A1"),
        shows=_has_access("A1"),
    ),
    "onapi.list_KOB": Endpoint(
        "GET",
        "/plain/onapi/{coid}/accesses",
        _onapi("/plain/onapi/KOB/accesses"),
        shows=_has_access("B1"),
    ),
    "onapi.products": Endpoint(
        "GET",
        "/plain/onapi/{xsp}/products",
        _onapi("/plain/onapi/1001/products"),
        shows=_has_product("S1UID"),
    ),
    "onapi.products_slash": Endpoint(
        "GET",
        "/plain/onapi/{xsp}/products/",
        _onapi("/plain/onapi/1001/products/"),
        shows=_has_product("S1UID"),
    ),
    "onapi.products_A1": Endpoint(
        "GET",
        "/plain/onapi/{xsp}/products/{access_id}",
        _onapi("/plain/onapi/1001/products/A1"),
        shows=_has_product("S1UID"),
    ),
    # The staff pages.
    "staff.root": Endpoint(
        "GET", "/staff", _page("GET", "/staff"), ok=303, shows=_redirects_to("/staff/")
    ),
    "staff.login_form": Endpoint("GET", "/staff/login", _page("GET", "/staff/login")),
    "staff.login": Endpoint(
        "POST",
        "/staff/login",
        _page("POST", "/staff/login", [("username", STAFF["TL1"][0]), ("password", PASSWORD)]),
        ok=303,
        shows=_redirects_to("/staff/"),
    ),
    "staff.logout": Endpoint(
        "POST",
        "/staff/logout",
        _page("POST", "/staff/logout"),
        ok=303,
        shows=_redirects_to("/staff/login?out=1"),
    ),
    "staff.pw_form": Endpoint(
        "GET",
        "/staff/password",
        _page("GET", "/staff/password"),
        shows=_contains('action="/staff/password"'),
    ),
    "staff.pw_change": Endpoint(
        "POST",
        "/staff/password",
        _page(
            "POST",
            "/staff/password",
            [("current", PASSWORD), ("new", "matrix-password-1"), ("repeat", "matrix-password-1")],
        ),
        shows=_contains("Lösenordet är bytt"),
        changes=_one_password_changed,
    ),
    "staff.overview": Endpoint("GET", "/staff/", _page("GET", "/staff/"), shows=_links_o1),
    "staff.orders": Endpoint(
        "GET", "/staff/orders", _page("GET", "/staff/orders"), shows=_links_o1
    ),
    "staff.csv": Endpoint(
        "GET",
        "/staff/orders.csv",
        _page("GET", "/staff/orders.csv"),
        shows=lambda env, r: f"\r\n{env.o1};" in r.text,
    ),
    "staff.order": Endpoint(
        "GET",
        "/staff/orders/{raw_id}",
        _page("GET", "/staff/orders/{id}"),
        target="order",
        shows=_contains("Beställning {id}"),
    ),
    "staff.status": Endpoint(
        "POST",
        "/staff/orders/{raw_id}/status",
        _page("POST", "/staff/orders/{id}/status", next_status=True),
        target="order",
        ok=303,
        shows=_redirects_to("/staff/orders/{id}?done=status"),
        changes=_status_changed,
    ),
    "staff.message": Endpoint(
        "POST",
        "/staff/orders/{raw_id}/message",
        _page("POST", "/staff/orders/{id}/message", [("type", "log"), ("message", "Matris")]),
        target="order",
        ok=303,
        shows=_redirects_to("/staff/orders/{id}?done=message"),
        changes=_message_added,
    ),
    "staff.flag": Endpoint(
        "POST",
        "/staff/orders/{raw_id}/flag",
        _page("POST", "/staff/orders/{id}/flag", [("flag", "on")]),
        target="order",
        ok=303,
        shows=_redirects_to("/staff/orders/{id}?done=flag-on"),
        changes=lambda b, a: _changed(b, a, must=("o1_flags",), order_flags=1),
    ),
    "staff.reveal": Endpoint(
        "POST",
        "/staff/orders/{raw_id}/reveal",
        _page("POST", "/staff/orders/{id}/reveal"),
        target="order",
        shows=_contains(f"{C1_SERIAL[:8]}-{C1_SERIAL[8:]}"),
        changes=lambda b, a: _changed(b, a, o1_log=1, order_log=1),
    ),
    # The guide's pages, static files and JSON API.
    "guide.search": Endpoint(
        "GET", "/", _page("GET", "/?q=A-gatan+1"), shows=_contains("/access/KOA/A1")
    ),
    "guide.services": Endpoint(
        "GET",
        "/access/{coid}/{access_id}",
        _page("GET", "/access/KOA/A1"),
        shows=_contains("Tjänst S1"),
    ),
    "guide.details": Endpoint(
        "GET",
        "/access/{coid}/{access_id}/details",
        _page("GET", "/access/KOA/A1/details?service=101"),
        shows=_contains('name="serial"'),
    ),
    "guide.change": Endpoint(
        "POST",
        "/access/{coid}/{access_id}/details",
        _page("POST", "/access/KOA/A1/details", DETAILS),
        ok=303,
        shows=_redirects_to("/access/KOA/A1/review"),
    ),
    "guide.review": Endpoint(
        "GET", "/access/{coid}/{access_id}/review", _review, shows=_contains("/confirm")
    ),
    "guide.confirm": Endpoint(
        "POST",
        "/access/{coid}/{access_id}/confirm",
        _confirm,
        ok=303,
        shows=_redirects_to("/thanks/"),
    ),
    "guide.thanks": Endpoint(
        "GET", "/thanks/{token}", _page("GET", "/thanks/{id}"), target="customer"
    ),
    "guide.my_orders": Endpoint(
        "GET", "/my-orders/{token}", _page("GET", "/my-orders/{id}"), target="customer"
    ),
    "static": Endpoint("GET", "/static/{path}", _page("GET", "/static/guide.css")),
    "api.addresses": Endpoint(
        "GET",
        "/api/guide/addresses",
        _page("GET", "/api/guide/addresses?q=A-gatan"),
        shows=_contains('"accessId":"A1"'),
    ),
    "api.services": Endpoint(
        "GET",
        "/api/guide/accesses/{coid}/{access_id}/services",
        _page("GET", "/api/guide/accesses/KOA/A1/services"),
        shows=_contains('"id":101'),
    ),
    "api.orders": Endpoint(
        "POST", "/api/guide/orders", _json_order, ok=201, shows=_contains('"orders"')
    ),
}


# --- checking one cell ---------------------------------------------------------------------------

#: c1's data: in an answer only where the cell says the caller may read o1.
C1_SECRETS = ("Efternamn1", SERIALS[1], C1_SERIAL[:8])


def _hidden_like_missing(
    ep: Endpoint, hidden: httpx.Response, missing: httpx.Response, ident: int
) -> None:
    if ep.route == XSP:
        assert_same_as_missing(parse(hidden), parse(missing), ident)
        return
    assert hidden.status_code == missing.status_code == 404, (hidden.status_code, hidden.text)
    assert hidden.content == missing.content.replace(str(MISSING_ID).encode(), str(ident).encode())


def _check_outcome(
    env: Env, ep: Endpoint, c: Caller, outcome: Outcome, resp: httpx.Response
) -> None:
    code, success = resp.status_code, ep.ok
    if outcome in (Outcome.ALLOW, Outcome.FILTERED, Outcome.PUBLIC):
        assert code == success, f"expected {success}"
        if ep.shows is not None:
            shown = ep.shows(env, resp)
            if outcome == Outcome.FILTERED:
                assert not shown, "the target is in the answer"
            else:
                assert shown, "the target (or the page's content) is not in the answer"
    elif outcome == Outcome.REDIRECT_LOGIN:
        assert code == 303, "expected a redirect to the login page"
        location = urlsplit(resp.headers["location"])
        query = parse_qs(location.query)
        assert location.path == "/staff/login" and query.get("next"), location
        assert ("expired" in query) == c.stale_session, location
    elif outcome == Outcome.DENY_401:
        assert code == 401, "expected 401"
        if ep.route == XSP:
            assert parse(resp).status == "failed"
        elif ep.route.startswith("/plain/onapi/"):
            assert resp.headers["www-authenticate"].startswith("Basic ")
    elif outcome == Outcome.FORBIDDEN_403:
        assert code == 403, "expected 403"
    elif outcome == Outcome.BAD_REQUEST_400:
        assert code == 400, "expected 400"
        assert parse(resp).status == "failed" and "hash_key" not in parse(resp).response
    else:
        assert outcome == Outcome.HIDDEN_404
        assert code == 404, "expected 404"


async def _check_cell(
    env: Env, row: str, kind: str, outcome: Outcome, before: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Check one cell. For a row that can write, ``before`` is the state now and the state
    after the cell is returned; a read-only row is checked for changes once, at its end."""
    ep, c = ENDPOINTS[row], env.callers[kind]
    target = {"order": env.o1, "customer": env.c1}.get(ep.target, 0)
    resp = await ep.call(env, c, target)
    said = f"{row}-{kind}: {ep.verb} {ep.route} answered {resp.status_code}: {resp.text[:400]!r}"
    try:
        _check_outcome(env, ep, c, outcome, resp)
    except AssertionError as e:
        raise AssertionError(f"{said}\nexpected {outcome}: {e}") from None
    if outcome != Outcome.ALLOW:
        leaked = [s for s in C1_SECRETS if s in resp.text]
        assert not leaked, f"{said}\nshows c1's {leaked}"
    after = None
    if before is not None:
        after = await state(env)
        if outcome == Outcome.ALLOW and ep.changes is not None:
            assert ep.changes(before, after), f"{said}\nnot the change expected: {before} → {after}"
        elif outcome == Outcome.PUBLIC:
            assert [after[k] for k in TARGET_STATE] == [before[k] for k in TARGET_STATE], said
        else:
            assert after == before, f"{said}\nchanged: {before} → {after}"
    if outcome == Outcome.HIDDEN_404:
        missing = await ep.call(env, c, MISSING_ID)
        try:
            _hidden_like_missing(ep, resp, missing, target)
        except AssertionError as e:
            raise AssertionError(f"{said}\nnot the answer for a missing id: {e}") from None
        if after is not None:
            assert await state(env) == after, f"{said}\nthe call with a missing id changed things"
    return after


# --- the tests -----------------------------------------------------------------------------------


@pytest.fixture
async def env(ctx: AppContext, world: World) -> AsyncIterator[Env]:
    async with AsyncExitStack() as stack:
        yield Env(ctx, world, await _callers(ctx, world, stack))


@pytest.mark.parametrize("row", list(MATRIX))
async def test_matrix_row(env: Env, row: str, subtests: pytest.Subtests) -> None:
    ep = ENDPOINTS[row]
    writes = ep.verb != "GET" or ep.changes is not None
    start = await state(env)
    now: dict[str, Any] | None = start if writes else None
    for kind, outcome in zip(CALLERS, MATRIX[row], strict=True):
        with subtests.test(f"{row}-{kind}", cell=f"{row}-{kind}", expected=str(outcome)):
            try:
                now = await _check_cell(env, row, kind, outcome, now)
            except Exception:
                if writes:  # what a failed cell did is not the next cell's fault
                    now = await state(env)
                raise
    if not writes:
        assert await state(env) == start, f"{row}: a read changed something"


def _declared_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(path, HTTP method) of every route the app serves; a mount is ``PATH/{path}``."""
    iter_contexts = getattr(fastapi_routing, "iter_route_contexts", None)
    routes: list[Any] = list(iter_contexts(app.routes)) if iter_contexts else list(app.routes)
    for route in routes:
        original: BaseRoute = getattr(route, "original_route", route)
        if isinstance(original, Mount):
            yield f"{route.path}/{{path}}", "GET"
            continue
        methods = set(route.methods or ())
        if "GET" in methods:
            methods.discard("HEAD")
        for method in methods:
            yield route.path, method


def test_every_route_and_xsp_method_has_a_row(tmp_path: Path) -> None:
    app = create_app(make_settings("sqlite:///unused.sqlite3", tmp_path))
    # The administration's routes have their own table: test_admin_matrix.py.
    declared = {r for r in _declared_routes(app) if not r[0].startswith("/staff/admin")}
    assert declared, "no routes found: has FastAPI changed how routes are listed?"
    assert declared >= NOT_IN_MATRIX, f"gone, remove from NOT_IN_MATRIX: {NOT_IN_MATRIX - declared}"
    covered = {(ep.route, ep.verb) for ep in ENDPOINTS.values()}
    assert sorted(declared - NOT_IN_MATRIX - covered) == [], "routes without a row in MATRIX"
    assert sorted(covered - declared) == [], "rows for routes the app no longer has"
    methods = {ep.xsp_method for ep in ENDPOINTS.values() if ep.route == XSP}
    assert sorted(set(HANDLERS) - methods) == [], "XSP methods without a row in MATRIX"
    assert sorted(methods - set(HANDLERS)) == [], "rows for XSP methods that no longer exist"
    assert set(MATRIX) == set(ENDPOINTS), "every row of MATRIX needs its call in ENDPOINTS"
    for row, cells in MATRIX.items():
        assert len(cells) == len(CALLERS), f"{row}: one outcome per caller kind"
