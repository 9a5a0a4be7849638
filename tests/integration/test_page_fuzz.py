"""The HTML pages fuzzed with Hypothesis, in-process, on SQLite and PostgreSQL: the customer guide
under ``/`` and the staff pages under ``/staff/``. Schemathesis (tests/e2e/test_openapi_fuzz.py)
does not reach them, because they are not in the OpenAPI description.

The claim: for any query string, path segment or form body sent to any page, signed in as staff
or not, with a valid CSRF token or not,

* the server never answers 5xx (nor raises);
* no HTML answer holds a script payload unescaped. Every answer is checked for all of them, not
  only for those its request carried, because an earlier example may have stored one;
* a redirect stays on the site (a local path, never ``//host`` or ``/\\``) and is short enough
  for a proxy to pass on (8 KiB, unless it only repeats a request that was longer);
* nothing changes that should not:
  - a GET changes no order, log entry, event or flag;
  - a guide form places orders only when ``confirm`` answers with the redirect to its thank-you
    page, and then for one customer and one order per chosen service;
  - a staff form aimed at an order the user may not see, or at no order, changes nothing;
    aimed at a visible order, it changes no other order;
  - login, logout and password forms change no order, log entry, event or flag;
  - a form without a valid CSRF token, or a staff form without a session, changes nothing at
    all (no order, log entry, event, flag, session or password). It is refused: 403 for no
    valid token (400 for a body that is no form), the redirect to the login for no session.

How: one test per area: guide GETs, guide POSTs, staff GETs (signed in as each of the test
world's four organisations, or not signed in), staff POSTs signed in with a valid CSRF token,
and staff POSTs without a valid token or without a session. Within a test, each route is fuzzed
on its own. An example draws a request for it: path segments and a list of (name, value) pairs,
mostly the form a page gives with its real values, one of them made nasty or several changed.
The draws mix the route's real names and the test world's real values (coids, accessIds,
service, customer and order ids, valid customer details, statuses, usernames and the password)
with unknown and repeated names and nasty values. The nasty values are: empty, 10–100k long, NUL
and other control characters, the UTF-8 of lone surrogates and invalid UTF-8, Swedish and other
non-ASCII text, numbers beyond 64 bits, negative numbers, floats and non-ASCII digits, odd dates,
URLs and the script payloads. Values are bytes. They are percent-encoded (in query strings
sometimes leaving ``%`` and ``+`` alone, so malformed escapes arrive as sent; in bodies sometimes
sent raw), so that invalid encodings really reach the server. A body is urlencoded, sometimes
with raw bytes, multipart (sometimes with a file or with its end cut off), or of a wrong content
type. A query string is cut to 60 000 characters, the most httpx sends.

Hypothesis runs in a worker thread and each example's requests run on the test's event loop,
where the fixtures' database connections live. Settings: no example database, no deadline,
deterministic draws (``derandomize=True``, and a fixed ``seed`` per test and route so that the
routes do not all draw alike). ``SERVICEGUIDE_FUZZ_EXAMPLES`` sets the examples per route:
the default, 35, makes some 1000 examples and 1300 requests per backend in about half a minute;
a longer campaign sets it higher. A failure is shrunk to a small request, which can take
minutes; the other routes are fuzzed all the same, and every failure is reported with the
request that was sent.

The fixtures live for a whole test: the world, the signed-in browsers and the tokens. So each
example sees what earlier ones changed (as a server would), and its checks are relative to the
state just before it. Browsers whose session a login, logout or password form may have replaced
sign in again, and a changed password is put back. The throttles are opened (failed logins,
orders per address), as in tests/e2e/test_openapi_fuzz.py: they are tested elsewhere, and with
them most answers would be 429 after a few examples. After its examples, each test prints a line
of what it sent and got. With at least the default number of examples, it also asserts that
they reached the deep answers (a review, a placed order, a status change, a changed password,
...), so a fuzzer that only ever met refusals fails too.

The tests at the end pin down the bugs the fuzzing found.
"""

from __future__ import annotations

import asyncio
import os
import re
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import quote_from_bytes, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from itsdangerous import Signer
from sqlalchemy import func, select, update

from serviceguide.domain.clock import today_local
from serviceguide.domain.status import OrderStatus
from serviceguide.services.context import AppContext
from serviceguide.storage import tables
from serviceguide.web import csrf
from serviceguide.web.staff.page import NEXT_MAX, SESSION_COOKIE
from tests.integration.test_guide_pages import GOOD, Page, stored
from tests.integration.test_staff_pages import (  # noqa: F401 - staff_world is a fixture
    PASSWORD,
    STAFF,
    StaffBrowser,
    _client,
    _snapshot,
    staff_world,
)
from tests.support.world import World

pytestmark = pytest.mark.integration

DEFAULT_EXAMPLES = 35
EXAMPLES = int(os.environ.get("SERVICEGUIDE_FUZZ_EXAMPLES", str(DEFAULT_EXAMPLES)))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],  # each example runs requests on a database
)

# --- values -------------------------------------------------------------------------------------

PAYLOADS = ["<script>x</script>", "\"'><img src=x>", 'x" autofocus onfocus="alert(1)']
#: What would be in an HTML answer if one of the payloads was echoed without escaping.
RAW = ["<script>x", "<img src=x", 'onfocus="alert(1)']

#: Control characters (PostgreSQL stores no NUL), as whole values or around real ones.
CONTROLS: list[bytes] = [
    b"\x00",
    b"a\x00b",
    b"\x01\x02\x1b\x7f",
    b"\r\n\t",
    b"\x0b\x0c\x1f",
    "\u0085\u2028\u202e\u200b\ufeff".encode(),
]
#: Bytes that are no UTF-8, or the UTF-8 of no character; and escapes that decode to them.
ENCODINGS: list[bytes] = [
    b"\xed\xa0\x80",  # a lone high surrogate, as CESU-8 would write it
    b"\xed\xbf\xbf",  # a lone low surrogate
    b"\xff",
    b"\xfe\xff\x00<",
    b"\xc3",  # cut in the middle of a character
    b"\xc0\xaf",  # an overlong "/"
    b"\xf4\x90\x80\x80",  # beyond U+10FFFF
    b"%",
    b"%zz",
    b"%00",
    b"%ED%A0%80",
    b"%FF",
]
#: Other text: empty, non-ASCII, what delimits URLs and forms, paths and other sites.
WORDS: list[bytes] = [
    b"",
    b" ",
    "Åsa Öberg-Ärlig".encode(),
    "Ängelholms väg 7 b, 262 31 Ängelholm".encode(),
    "😀 ß é ü".encode(),
    b"+",
    b"&",
    b"=",
    b"?",
    b"#",
    b"/",
    b"..",
    b"../../etc/passwd",
    b"//evil.example",
    b"https://evil.example/",
    b"/staff\\..\\x",
    b"javascript:alert(1)",
    b"on",
    b"true",
    b"date",
]
#: Numbers a parser may choke on: too big, negative, not whole, not ASCII digits.
NUMBERS: list[bytes] = [
    b"0",
    b"-1",
    b"007",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"9" * 40,
    b"1e309",
    b"1.5",
    b"NaN",
    b"0x10",
    b"1_000",
    b" 101 ",
    "²".encode(),
    "١٠١".encode(),
    "𝟙𝟘𝟙".encode(),
]
#: Dates: the ends of the calendar, days that do not exist, other formats.
DATES: list[bytes] = [
    b"9999-12-31",
    b"0001-01-01",
    b"2024-02-30",
    b"20240101",
    b"2024-W01-1",
    b"1.1.2024",
    b"+002024-01-01",
    b"2024-01-01T00:00:00",
    b"31/12/2099",
]
PAYLOAD_BYTES = [p.encode() for p in PAYLOADS]
NASTY_FIXED = [*CONTROLS, *ENCODINGS, *WORDS, *NUMBERS, *DATES, *PAYLOAD_BYTES]
LONG_UNITS = [b"a", "ö".encode(), b"<script>x</script>", b"\x00", b"\xff", b"%", b"&=", b"9", b" "]
ODD_NAMES = [b"lang", b"x", b"service[]", b"", b" q", b"Q", b"q\x00", "ö".encode(), b"csrf_token"]

T = TypeVar("T")


def weighted(*options: tuple[int, st.SearchStrategy[T]]) -> st.SearchStrategy[T]:
    """One of the strategies, by weight. (``st.one_of`` flattens the ``one_of`` strategies it is
    given into one list of branches, so nested choices would lose their proportions.)"""
    branches = [s for weight, s in options for _ in range(weight)]
    return st.sampled_from(range(len(branches))).flatmap(lambda i: branches[i])


def _long(n: int, unit: bytes) -> bytes:
    return (unit * (n // len(unit) + 1))[:n]


#: Anything nasty: a fixed value of any kind, arbitrary text (lone surrogates included, written
#: as CESU-8 would), arbitrary bytes, or 10k to 100k of one thing.
NASTY = weighted(
    (3, st.sampled_from(NASTY_FIXED)),
    (
        1,
        st.text(st.characters(exclude_categories=()), max_size=30).map(
            lambda s: s.encode("utf-8", "surrogatepass")
        ),
    ),
    (1, st.binary(max_size=30)),
    (1, st.builds(_long, st.integers(10_000, 100_000), st.sampled_from(LONG_UNITS))),
)
#: Something nasty for a field of text: control characters (the commonest trouble) or another
#: kind.
TEXTS = weighted(
    (2, st.sampled_from(CONTROLS)),
    (1, st.sampled_from(ENCODINGS)),
    (1, st.sampled_from(WORDS)),
    (1, st.sampled_from(PAYLOAD_BYTES)),
)
#: The fields that take a number or a date (the others take text).
KINDS = {
    "id": NUMBERS,  # of an order or a customer, in a path
    "service": NUMBERS,
    "before": NUMBERS,
    "flagged": NUMBERS,
    "from": DATES,
    "to": DATES,
    "delivery_date": DATES,
    "serial": NUMBERS,
    "phone": NUMBERS,
}


def nasty(name: str) -> st.SearchStrategy[bytes]:
    """Something nasty for the field ``name``: mostly of its kind, sometimes anything."""
    kind = KINDS.get(name)
    return weighted((2, st.sampled_from(kind) if kind else TEXTS), (1, NASTY))


def value(name: str, real: Sequence[str]) -> st.SearchStrategy[bytes]:
    """For the field ``name``: a real value; a real value with a control character or a
    payload after it; or something nasty."""
    if not real:
        return nasty(name)
    reals = st.sampled_from([r.encode() for r in real])
    spoilt = st.tuples(reals, st.sampled_from(CONTROLS + PAYLOAD_BYTES)).map(lambda t: t[0] + t[1])
    return weighted((2, reals), (1, spoilt), (2, nasty(name)))


Pairs = list[tuple[bytes, bytes]]
Fields = dict[str, Sequence[str]]


def pairs(fields: Fields, max_size: int = 8) -> st.SearchStrategy[Pairs]:
    """Names and values: mostly the route's own names with real or nasty values."""
    unknown = st.tuples(st.one_of(st.sampled_from(ODD_NAMES), NASTY), NASTY)
    if not fields:
        return st.lists(unknown, max_size=max_size)
    known = st.sampled_from(sorted(fields)).flatmap(
        lambda n: st.tuples(st.just(n.encode()), value(n, fields[n]))
    )
    return st.lists(weighted((3, known), (1, unknown)), max_size=max_size)


def form_pairs(base: Sequence[tuple[str, str]], fields: Fields) -> st.SearchStrategy[Pairs]:
    """The form a page gives (``base``) with one field's value made nasty; or with names
    dropped, values replaced or repeated and unknown names added; or pairs drawn from nothing."""
    names = sorted({n for n, _ in base} | set(fields))
    start = [(n.encode(), v.encode()) for n, v in base]

    @st.composite
    def one_nasty(draw: st.DrawFn) -> Pairs:
        name = draw(st.sampled_from(names))
        return [(n, v) for n, v in start if n != name.encode()] + [
            (name.encode(), draw(nasty(name)))
        ]

    @st.composite
    def edited(draw: st.DrawFn) -> Pairs:
        dropped = draw(st.sets(st.sampled_from(names), max_size=2)) if names else set()
        out = [(n, v) for n, v in start if n.decode() not in dropped]
        replaced: set[bytes] = set()
        for name, v in draw(pairs(fields, max_size=4)):
            if name not in replaced:
                replaced.add(name)
                out = [(n, x) for n, x in out if n != name]
            out.append((name, v))
        return out

    if not names:
        return pairs(fields)
    return weighted((1, st.just(start)), (3, one_nasty()), (2, edited()), (1, pairs(fields)))


def _strict(b: bytes) -> str:
    return quote_from_bytes(b, safe="")


def _loose(b: bytes) -> str:
    """Percent-encoded except ``%`` and ``+``: malformed escapes reach the server as sent."""
    return quote_from_bytes(b, safe="%+/:@!$'()*,;")


def query(items: Pairs, loose: bool = False, limit: int | None = None) -> str:
    """``items`` as a query string (or a urlencoded body); with ``limit``, values are cut and
    the last pairs left out so that it fits."""
    enc = _loose if loose else _strict
    out: list[str] = []
    size = 0
    for k, v in items:
        pair = f"{enc(k)}={enc(v)}"
        if limit is not None and size + len(pair) + 1 > limit:
            room = (limit - size - len(enc(k)) - 2) // 3  # a byte takes three characters at most
            if room <= 0:
                break
            pair = f"{enc(k)}={enc(v[:room])}"
        out.append(pair)
        size += len(pair) + 1
    return "&".join(out)


#: httpx sends no longer URL (and servers take none much longer): long values in a query string
#: are cut to fit, in bodies they are sent whole.
URL_MAX = 60_000
SEGMENT_MAX = 5_000  # bytes of a path segment


FORM = "application/x-www-form-urlencoded"
BOUNDARY = b"fuzz-7MA4YWxkTrZu0gW"
BODY_KINDS = [
    *["form"] * 6,
    "form-raw",
    "form-charset",
    "multipart",
    "multipart-file",
    "multipart-cut",
    "text/plain",
    "application/json",
    "none",
]


def body(kind: str, items: Pairs, token: bytes | None) -> tuple[bytes, dict[str, str]]:
    """A request body of ``kind`` holding ``items`` and then, as a plain field, ``token``."""
    fields = list(items) + ([(csrf.FIELD.encode(), token)] if token is not None else [])
    if kind.startswith("form"):
        if kind == "form-raw":  # only what would split the pairs is escaped
            data = b"&".join(
                k.replace(b"&", b"%26").replace(b"=", b"%3D") + b"=" + v.replace(b"&", b"%26")
                for k, v in fields
            )
        else:
            data = query(fields).encode()
        charset = "; charset=latin-1" if kind == "form-charset" else ""
        return data, {"content-type": FORM + charset}
    if kind.startswith("multipart"):
        parts = []
        for i, (k, v) in enumerate(fields):
            name = k.replace(b'"', b"%22").replace(b"\r", b"").replace(b"\n", b"")
            disposition = b'form-data; name="' + name + b'"'
            if kind == "multipart-file" and i % 2 and i < len(items):
                disposition += b'; filename="f.txt"'
            parts.append(b"--" + BOUNDARY + b"\r\nContent-Disposition: " + disposition)
            parts.append(b"\r\n\r\n" + v + b"\r\n")
        if kind != "multipart-cut":
            parts.append(b"--" + BOUNDARY + b"--\r\n")
        ctype = f"multipart/form-data; boundary={BOUNDARY.decode()}"
        return b"".join(parts), {"content-type": ctype}
    return query(fields).encode(), ({} if kind == "none" else {"content-type": kind})


def decoded(b: bytes) -> str:
    """A path segment as the server reads it."""
    return b.decode("utf-8", "replace")


def _short(raw: str | bytes) -> str:
    text = repr(raw)
    return text if len(text) <= 400 else f"{text[:300]}…({len(raw)} long)…{text[-60:]}"


@dataclass
class Request:
    """One drawn request; the CSRF token and the cookies are added when it is sent."""

    method: str
    route: str
    segments: list[bytes] = field(default_factory=list)
    items: Pairs = field(default_factory=list)  # the query of a GET, the form of a POST
    qs: Pairs = field(default_factory=list)  # the query of a POST
    loose: bool = False  # for a query: leave % and + alone
    kind: str = "form"  # for a body: see BODY_KINDS
    who: str | None = None  # the staff user signed in, or nobody
    token: str = "valid"  # none, forged, foreign, valid
    forged: bytes = b""  # the forged token
    cookie: str = ""  # the forged session cookie

    @property
    def path(self) -> str:
        return self.route.format(*(_strict(s[:SEGMENT_MAX]) for s in self.segments))

    @property
    def url(self) -> str:
        items = self.items if self.method == "GET" else self.qs
        q = query(items, self.loose, URL_MAX - len(self.path))
        return f"{self.path}?{q}" if q else self.path

    @property
    def target(self) -> str:
        """The order the path names, as the server reads it ("" for none)."""
        return decoded(self.segments[0][:SEGMENT_MAX]) if self.segments else ""

    @property
    def routable(self) -> bool:
        """Whether the path is the route's: no segment is empty, a dot segment or holds a "/"
        (a path that is no route's is a 404 or 405 before any of the application's code)."""
        found = [decoded(s[:SEGMENT_MAX]) for s in self.segments]
        return all(d not in ("", ".", "..") and "/" not in d for d in found)

    def __repr__(self) -> str:
        shown = [f"{self.method} {_short(self.url)}", f"who={self.who}"]
        if self.method == "POST":
            shown += [f"token={self.token}", f"body={self.kind}"]
            shown.append(f"items={_short(repr(self.items))}")
        if self.token == "forged":
            shown.append(f"forged={_short(self.forged)}")
        if self.cookie:
            shown.append(f"cookie={self.cookie!r}")
        return "Request(" + ", ".join(shown) + ")"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # how Hypothesis shows it
        p.text(repr(self))


# --- the environment of a test ------------------------------------------------------------------

LANGS = ["sv", "en", "xx"]
NEW_PASSWORD = "a-brand-new-password"
ADRESS = "A-gatan 1, 12345 Teststad"
IDEMPOTENCY = ["fuzz-key-0123456789abcdef", "fuzz-key-fedcba9876543210"]
KEY = "{the review's key}"  # replaced by the key of the guest's current review page


@dataclass
class Env:
    ctx: AppContext
    world: World
    guest: StaffBrowser  # a browser without a staff session, holding its CSRF cookie
    guest_token: str
    stranger_token: str  # valid, but for another browser's cookie
    forger: StaffBrowser  # a browser with a forged staff session cookie
    forger_token: str
    staff: dict[str, StaffBrowser]
    hashes: dict[int, str]
    tokens: dict[str, str] = field(default_factory=dict)
    thanks: str = ""  # an order page's token, of orders the guest placed
    dirty: set[str] = field(default_factory=set)
    requests: int = 0
    examples: int = 0
    seen: Counter[str] = field(default_factory=Counter)

    async def send(
        self,
        http: httpx.AsyncClient,
        req: Request,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        self.requests += 1
        response = await http.request(req.method, req.url, content=content, headers=headers)
        check_answer(response, req)
        self.seen[str(response.status_code)] += 1
        return response

    async def browser(self, who: str) -> tuple[StaffBrowser, str]:
        """``who``'s browser, signed in, and its CSRF token."""
        b = self.staff[who]
        if who in self.dirty or who not in self.tokens:
            await self.restore_passwords()
            b.http.cookies.clear()
            page = await b.login(who)
            self.requests += 3
            assert page.status == 200, page.html
            self.tokens[who] = dict(page.form("/staff/logout").values())[csrf.FIELD]
            self.dirty.discard(who)
        return b, self.tokens[who]

    async def restore_passwords(self) -> None:
        if await password_hashes(self.ctx) != self.hashes:
            async with self.ctx.db.write() as conn:
                for user_id, hashed in self.hashes.items():
                    await conn.execute(
                        update(tables.staff_users)
                        .where(tables.staff_users.c.id == user_id)
                        .values(password_hash=hashed)
                    )

    def summary(self, what: str) -> str:
        backend = self.ctx.settings.database_url.split(":")[0]
        seen = dict(sorted(self.seen.items()))
        return f"\n[{backend}] {what}: {self.examples} examples, {self.requests} requests, {seen}"


#: The longest redirect: proxies refuse longer header lines (nginx takes 8 KiB by default).
LOCATION_MAX = 8192
#: A form without a valid CSRF token: refused, or a body that is not a form at all.
REFUSED = (400, 403)
#: A path that is no route's: not found, or found with another method.
NO_ROUTE = (*REFUSED, 404, 405)


def check_answer(r: httpx.Response, req: Request) -> None:
    assert r.status_code < 500, f"{r.status_code} for {req!r}"
    if r.headers.get("content-type", "").startswith("text/html"):
        for raw in RAW:
            assert raw not in r.text, f"{raw!r} unescaped in the answer to {req!r}"
    if 300 <= r.status_code < 400:
        # A local path; or, for a missing or extra "/" (Starlette's redirect), this very host.
        origin = f"{r.request.url.scheme}://{r.request.url.netloc.decode()}"
        location = r.headers["location"].removeprefix(origin)
        assert location.startswith("/") and not location.startswith("//"), (location, req)
        assert "\\" not in location and not re.search(r"[\x00-\x20]", location), (location, req)
        # Proxies refuse long header lines: a redirect is short, unless it repeats a request
        # that was longer still (Starlette's for a missing or extra "/").
        assert len(location) <= max(LOCATION_MAX, len(str(r.request.url))), (len(location), req)


async def password_hashes(ctx: AppContext) -> dict[int, str]:
    async with ctx.db.read() as conn:
        rows = await conn.execute(
            select(tables.staff_users.c.id, tables.staff_users.c.password_hash)
        )
        return {r.id: r.password_hash for r in rows}


async def state(ctx: AppContext) -> dict[str, Any]:
    """Everything a refused form must leave as it was."""
    async with ctx.db.read() as conn:
        sessions = (
            await conn.execute(select(func.count()).select_from(tables.staff_sessions))
        ).scalar()
    return {**await _snapshot(ctx), "sessions": sessions, "hashes": await password_hashes(ctx)}


@pytest.fixture
async def env(
    ctx: AppContext,
    staff_world: World,  # noqa: F811 - the fixture imported above
) -> AsyncIterator[Env]:
    opened = AppContext(
        db=ctx.db,
        settings=ctx.settings.model_copy(update={"guide_rate": 0, "login_failures": 10**9}),
    )
    async with AsyncExitStack() as stack:
        guest = await stack.enter_async_context(_client(opened))
        stranger = await stack.enter_async_context(_client(opened, ip="10.0.0.2"))
        forger = await stack.enter_async_context(_client(opened, ip="10.0.0.3"))
        staff = {
            who: await stack.enter_async_context(_client(opened, ip=f"10.0.1.{i}"))
            for i, who in enumerate(STAFF)
        }
        tokens = []
        for b in (guest, stranger, forger):
            page = await b.get("/access/KOA/A1/details?service=101")
            assert page.status == 200, page.html
            tokens.append(dict(page.form("/details").values())[csrf.FIELD])
        thanks = await _place_through_the_guide(guest, tokens[0])
        yield Env(
            ctx=opened,
            world=staff_world,
            guest=guest,
            guest_token=tokens[0],
            stranger_token=tokens[1],
            forger=forger,
            forger_token=tokens[2],
            staff=staff,
            hashes=await password_hashes(ctx),
            requests=len(tokens),
            thanks=thanks,
        )


async def fuzz(
    env: Env,
    routes: Sequence[str],
    requests: Callable[[str], st.SearchStrategy[Request]],
    example: Callable[[Env, Request], Awaitable[None]],
) -> None:
    """Run ``example`` for each request drawn, ``EXAMPLES`` for each of the ``routes``.

    A run per route rather than the route drawn too: Hypothesis's draws cluster, and a route met
    a few times in a run would be no test of it. Hypothesis runs in a thread; each example runs
    on this event loop, where the fixtures' connections live."""
    loop = asyncio.get_running_loop()
    failures: list[Exception] = []
    for route in routes:
        # Each run its own draws: derandomized runs of one function would all draw alike.
        @seed(zlib.crc32(f"{example.__qualname__} {route}".encode()))
        @FUZZ
        @given(req=requests(route))
        def run(req: Request) -> None:
            env.examples += 1
            try:
                asyncio.run_coroutine_threadsafe(example(env, req), loop).result()
            except Exception as e:
                # Hypothesis shows no arguments of a test run in a thread: say what was sent.
                e.add_note(f"Sent: {req!r}")
                raise

        try:
            await asyncio.to_thread(run)
        except Exception as e:  # the other routes are fuzzed all the same
            failures.append(e)
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise ExceptionGroup(f"{len(failures)} of {len(routes)} routes failed", failures)


def reached(env: Env, capsys: pytest.CaptureFixture[str], what: str, *outcomes: str) -> None:
    """Print what the run sent and met; with the default examples or more, check that it met
    every one of ``outcomes``."""
    with capsys.disabled():
        print(env.summary(what))
    if EXAMPLES >= DEFAULT_EXAMPLES:
        missing = [o for o in outcomes if not env.seen[o]]
        assert not missing, (missing, env.seen)


# --- the guide ----------------------------------------------------------------------------------

COIDS = ["KOA", "KOB"]
ACCESSES = ["A1", "A2", "A5", "B1", "B3"]
SERVICES = ["101", "102", "103"]
DRAFT: Fields = {
    "service": SERVICES,
    "adress": [ADRESS, "B-gatan 1, 12345 Teststad", ""],
    **{k: [v] for k, v in GOOD.items()},
    "firstname": ["Eva", "Åsa", *PAYLOADS],
    "delivery": ["asap", "date"],
    "delivery_date": [(today_local() + timedelta(days=d)).isoformat() for d in (0, 14, 366, -1)],
    "key": [KEY, *IDEMPOTENCY],
    "then": ["review", "services", "lang", "x"],
    "confirm_duplicate": ["1", "", "0"],
    "lang": LANGS,
}
DRAFT_BASE = [
    ("service", "101"),
    ("service", "102"),
    ("adress", ADRESS),
    *GOOD.items(),
    ("key", KEY),
    ("confirm_duplicate", "1"),  # the same person orders again and again
]
#: Where the world sells services (KOA: 101 and 102, KOB: 103), and where it does not.
REAL_ACCESSES = [("KOA", "A1"), ("KOA", "A5"), ("KOB", "B1"), ("KOB", "B3"), ("KOB", "A1")]
ACCESS_SEGMENTS = weighted(
    (1, st.sampled_from([[c.encode(), a.encode()] for c, a in REAL_ACCESSES])),
    (1, st.tuples(value("coid", COIDS), value("accessId", ACCESSES)).map(list)),
)
GUIDE_GET = [
    "/",
    "/access/{}/{}",
    "/access/{}/{}/details",
    "/access/{}/{}/review",
    "/thanks/{}",
    "/my-orders/{}",
]
GUIDE_POST = ["/access/{}/{}/details", "/access/{}/{}/confirm"]


async def _review_key(b: StaffBrowser, token: str) -> str:
    """The key of the guest's review page, after sending it a good draft of KOA/A1."""
    await b.http.post(
        "/access/KOA/A1/details",
        content=urlencode([*DRAFT_BASE[:-1], (csrf.FIELD, token)]),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    review = await b.http.get("/access/KOA/A1/review")
    found = re.search(r'name="key" value="([^"]+)"', review.text)
    assert found, review.text[:500]
    return found.group(1)


async def _place_through_the_guide(b: StaffBrowser, token: str) -> str:
    """Place an order as a customer does; the token of its thank-you page."""
    key = await _review_key(b, token)
    placed = await b.http.post(
        "/access/KOA/A1/confirm",
        content=urlencode([("key", key), (csrf.FIELD, token)]),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert placed.status_code == 303, placed.text[:500]
    return str(placed.headers["location"]).rsplit("/", 1)[1]


def guide_gets(env: Env, route: str) -> st.SearchStrategy[Request]:
    links = [env.thanks, env.thanks[:-1] + "x", "1", *PAYLOADS]
    choice = {"adress": DRAFT["adress"], "service": SERVICES, "lang": LANGS}
    forms: dict[str, tuple[list[tuple[str, str]], Fields]] = {
        "/": ([("q", "A-gatan 1")], {"q": ["A-gatan", "Teststad", "12345"], "lang": LANGS}),
        "/access/{}/{}": ([("adress", ADRESS)], choice),
        "/access/{}/{}/details": ([("service", "101"), ("adress", ADRESS)], DRAFT),
    }

    @st.composite
    def draw(draw: st.DrawFn) -> Request:
        if route in ("/thanks/{}", "/my-orders/{}"):  # a real token, or not quite
            segments = [draw(value("token", links))]
            base: list[tuple[str, str]] = []
            fields: Fields = {"lang": LANGS}
        elif route == "/access/{}/{}/review":
            segments = draw(ACCESS_SEGMENTS)
            base, fields = [], {"notice": ["throttled", "changed", "x"], "retry": ["5", "-1"]}
        else:
            segments = draw(ACCESS_SEGMENTS) if "{}" in route else []
            base, fields = forms[route]
        return Request(
            "GET", route, segments, draw(form_pairs(base, fields)), loose=draw(st.booleans())
        )

    return draw()


async def test_guide_pages_answer_any_query_and_path(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    async def example(env: Env, req: Request) -> None:
        before = await stored(env.ctx)
        r = await env.send(env.guest.http, req)
        assert await stored(env.ctx) == before
        env.seen[f"{req.route} {r.status_code}"] += 1

    await fuzz(env, GUIDE_GET, lambda route: guide_gets(env, route), example)
    reached(env, capsys, "guide GET", "/ 200", "/access/{}/{} 200", "/access/{}/{} 404",
            "/access/{}/{}/details 200", "/access/{}/{}/details 422", "/thanks/{} 200",
            "/thanks/{} 404", "/my-orders/{} 200", "/my-orders/{} 404")  # fmt: skip


def guide_posts(route: str) -> st.SearchStrategy[Request]:
    return st.builds(
        Request,
        st.just("POST"),
        st.just(route),
        ACCESS_SEGMENTS,
        form_pairs(DRAFT_BASE, DRAFT),
        qs=pairs({"lang": LANGS}, max_size=2),
        kind=st.sampled_from(BODY_KINDS),
        token=weighted((3, st.just("valid")), (1, st.sampled_from(["none", "forged", "foreign"]))),
        forged=weighted((1, st.just(b"0" * 64)), (3, nasty(csrf.FIELD))),
    )


async def test_guide_forms_answer_any_body_and_place_orders_only_when_confirmed(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    async def example(env: Env, req: Request) -> None:
        token = {
            "valid": env.guest_token.encode(),
            "none": None,
            "forged": req.forged,
            "foreign": env.stranger_token.encode(),
        }[req.token]
        items = req.items
        if req.route.endswith("/confirm"):  # the key of the guest's current review, if asked
            key = (await _review_key(env.guest, env.guest_token)).encode()
            env.requests += 2
            items = [(k, key if v == KEY.encode() else v) for k, v in items]
        content, headers = body(req.kind, items, token)
        before = await stored(env.ctx)
        r = await env.send(env.guest.http, req, content, headers)
        after = await stored(env.ctx)
        step = req.route.rsplit("/", 1)[1]
        env.seen[f"{step} {r.status_code}"] += 1
        if req.token != "valid":
            assert r.status_code in (REFUSED if req.routable else NO_ROUTE), r.status_code
        if after != before:
            assert step == "confirm" and r.status_code == 303, (step, r.status_code)
            assert r.headers["location"].startswith("/thanks/"), r.headers["location"]
            customers, orders = after[0] - before[0], after[1] - before[1]
            # one customer; one order per chosen service (an access offers two at most)
            assert customers == 1 and 1 <= orders <= 2, (before, after)
            env.seen["placed"] += 1

    await fuzz(env, GUIDE_POST, guide_posts, example)
    reached(env, capsys, "guide POST", "details 303", "confirm 303", "placed", "403", "404")


# --- the staff pages ----------------------------------------------------------------------------

WHO = sorted(STAFF)
STAFF_GET = ["/staff/", "/staff", "/staff/orders", "/staff/orders.csv", "/staff/orders/{}",
             "/staff/password", "/staff/login"]  # fmt: skip
ORDER_POSTS = ["/staff/orders/{}/status", "/staff/orders/{}/message", "/staff/orders/{}/flag",
               "/staff/orders/{}/reveal"]  # fmt: skip
SESSION_POSTS = ["/staff/login", "/staff/logout", "/staff/password"]


def _ids(env: Env) -> list[str]:
    return [str(i) for i in env.world.orders.values()]


def order_segment(env: Env, who: str | None) -> st.SearchStrategy[bytes]:
    """An order the user may see (half the time), or any order's id, or something nasty."""
    anyone = value("id", _ids(env))
    if who is None:
        return anyone
    visible = [str(i).encode() for i in env.world.visible_orders(who)]
    return weighted((1, st.sampled_from(visible)), (1, anyone))


def _filter_fields(env: Env) -> Fields:
    today = today_local()
    return {
        "status": [s.value for s in OrderStatus],
        "network": COIDS,
        "service": SERVICES,
        "from": [today.isoformat(), (today - timedelta(days=3)).isoformat()],
        "to": [today.isoformat(), "2000-01-01"],
        "q": ["A-gatan 1", "Förnamn1", "A3", *_ids(env)],
        "flagged": ["1"],
        "before": _ids(env),
        "lang": LANGS,
    }


def staff_gets(env: Env, route: str) -> st.SearchStrategy[Request]:
    fields: Fields = {
        "/staff/orders": _filter_fields(env),
        "/staff/orders.csv": _filter_fields(env),
        "/staff/orders/{}": {"done": ["status", "same", "message", "flag-on"], "lang": LANGS},
        "/staff/login": {
            "next": ["/staff/orders", "/staff/orders/1?x=1", "https://evil.example/"],
            "expired": ["1"],
            "out": ["1"],
            "lang": LANGS,
        },
    }.get(route, {"lang": LANGS})

    @st.composite
    def draw(draw: st.DrawFn) -> Request:
        who = draw(weighted((4, st.sampled_from(WHO)), (1, st.none())))
        return Request(
            "GET",
            route,
            [draw(order_segment(env, who)) for _ in range(route.count("{}"))],
            draw(form_pairs([], fields)),
            loose=draw(st.booleans()),
            who=who,
        )

    return draw()


async def test_staff_pages_answer_any_query_and_path_signed_in_or_not(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    async def example(env: Env, req: Request) -> None:
        http = (await env.browser(req.who))[0].http if req.who else env.guest.http
        before = await _snapshot(env.ctx)
        r = await env.send(http, req)
        assert await _snapshot(env.ctx) == before
        if req.who is None and req.route not in ("/staff/login", "/staff") and req.routable:
            assert r.status_code == 303, r.status_code
            assert r.headers["location"].startswith("/staff/login?"), r.headers["location"]
        env.seen[f"{req.route} {r.status_code}"] += 1

    await fuzz(env, STAFF_GET, lambda route: staff_gets(env, route), example)
    reached(env, capsys, "staff GET", "/staff/ 200", "/staff/orders 200", "/staff/orders.csv 200",
            "/staff/orders/{} 200", "/staff/orders/{} 404", "/staff/password 200",
            "/staff/login 200", "303")  # fmt: skip


def _staff_forms(env: Env, who: str) -> dict[str, tuple[list[tuple[str, str]], Fields]]:
    """Each staff form as its page gives it, and the real values of its fields."""
    users = [u for u, _ in STAFF.values()]
    return {
        "/staff/orders/{}/status": (
            [("status", "received")],
            {"status": [s.value for s in OrderStatus]},
        ),
        "/staff/orders/{}/message": (
            [("type", "log"), ("message", "Ring kunden")],
            {"type": ["log", "alert", "error", "system"], "message": [" ", "hej", *PAYLOADS]},
        ),
        "/staff/orders/{}/flag": ([("flag", "on")], {"flag": ["on", "off"]}),
        "/staff/orders/{}/reveal": ([], {}),
        "/staff/password": (
            [("current", PASSWORD), ("new", NEW_PASSWORD), ("repeat", NEW_PASSWORD)],
            {"current": [PASSWORD], "new": [NEW_PASSWORD], "repeat": [NEW_PASSWORD]},
        ),
        "/staff/login": (
            [("username", STAFF[who][0]), ("password", PASSWORD), ("next", "/staff/orders")],
            {"username": users, "password": [PASSWORD], "next": ["/staff/orders", "//evil"]},
        ),
        "/staff/logout": ([], {}),
    }


def forged_cookies(env: Env) -> list[str]:
    """Staff session cookies that are not a session's: forged, or well signed but unknown."""
    signer = Signer(env.ctx.settings.resolved_secret_key(), salt="serviceguide.web.staff-session")
    known = ["forged.value", "x" * 300, "abc.def.ghi", "-", "unsigned-token-0123456789"]
    return [*known, signer.sign("no-such-session").decode()]


def staff_posts(env: Env, route: str, *, tokens: Sequence[str]) -> st.SearchStrategy[Request]:
    cookies = forged_cookies(env)

    @st.composite
    def draw(draw: st.DrawFn) -> Request:
        who = draw(st.sampled_from(WHO))
        token = draw(st.sampled_from(tokens))
        base, fields = _staff_forms(env, who)[route]
        return Request(
            "POST",
            route,
            [draw(order_segment(env, who)) for _ in range(route.count("{}"))],
            draw(form_pairs(base, fields)),
            qs=draw(pairs({"lang": LANGS, "next": ["/staff/orders"]}, max_size=2)),
            kind=draw(st.sampled_from(BODY_KINDS)),
            who=who if "session" not in token else None,
            token=token,
            forged=draw(weighted((1, st.just(b"0" * 64)), (3, nasty(csrf.FIELD))))
            if token == "forged"
            else b"",
            cookie=draw(st.sampled_from(cookies)) if token == "forged session" else "",
        )

    return draw()


async def test_staff_forms_with_a_valid_token_change_only_what_the_user_may_change(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    async def example(env: Env, req: Request) -> None:
        assert req.who is not None
        b, token = await env.browser(req.who)
        content, headers = body(req.kind, req.items, token.encode())
        before = await _snapshot(env.ctx)
        r = await env.send(b.http, req, content, headers)
        after = await _snapshot(env.ctx)
        env.seen[f"{req.route} {r.status_code}"] += 1
        if req.route in SESSION_POSTS:
            env.dirty.add(req.who)  # signed out, in again, or with a new password
            assert after == before
            return
        visible = {str(i) for i in env.world.visible_orders(req.who)}
        if req.target not in visible:
            assert after == before, (req.target, visible)
            return
        target = int(req.target)
        for name in ("orders", "flags"):  # rows start with the order's id
            assert [row for row in after[name] if row[0] != target] == [
                row for row in before[name] if row[0] != target
            ], name
        if after != before:
            env.seen["changed"] += 1

    routes = [*ORDER_POSTS, *SESSION_POSTS]
    await fuzz(env, routes, lambda route: staff_posts(env, route, tokens=["valid"]), example)
    await env.restore_passwords()
    redirected = [f"{r} 303" for r in routes if not r.endswith(("reveal", "password"))]
    reached(env, capsys, "staff POST", *redirected, "/staff/orders/{}/status 409",
            "/staff/orders/{}/status 404", "/staff/orders/{}/message 400",
            "/staff/orders/{}/reveal 200", "/staff/login 401", "/staff/password 200",
            "/staff/password 400", "changed", "403")  # fmt: skip


async def test_staff_forms_without_a_valid_token_or_a_session_change_nothing(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    async def example(env: Env, req: Request) -> None:
        if req.who is not None:  # signed in, and the token is missing, forged or another's
            b, _ = await env.browser(req.who)
            http = b.http
            token = {"none": None, "forged": req.forged, "foreign": env.stranger_token.encode()}
            sent = token[req.token]
        elif req.token == "no session":
            http, sent = env.guest.http, env.guest_token.encode()
        else:
            http, sent = env.forger.http, env.forger_token.encode()
            http.cookies.set(SESSION_COOKIE, req.cookie, path="/staff")
        content, headers = body(req.kind, req.items, sent)
        before = await state(env.ctx)
        r = await env.send(http, req, content, headers)
        assert await state(env.ctx) == before
        if not req.routable:
            assert r.status_code in NO_ROUTE, r.status_code
        elif req.who is not None:
            assert r.status_code in REFUSED, r.status_code
        else:
            assert r.status_code in (303, *REFUSED), r.status_code
            if r.status_code == 303:
                assert r.headers["location"].startswith("/staff/login?"), r.headers["location"]
        env.seen[f"{req.token} {r.status_code}"] += 1

    def requests(route: str) -> st.SearchStrategy[Request]:
        modes = ["none", "forged", "foreign"]
        if route != "/staff/login":  # logging in needs no session: that is what it is for
            modes += ["no session", "forged session"]
        return staff_posts(env, route, tokens=modes)

    await fuzz(env, [*ORDER_POSTS, *SESSION_POSTS], requests, example)
    reached(env, capsys, "staff POST refused", "none 403", "forged 403", "foreign 403",
            "no session 303", "forged session 303")  # fmt: skip


# --- what the fuzzing found -----------------------------------------------------------------------


@pytest.fixture
async def koa(
    ctx: AppContext,
    staff_world: World,  # noqa: F811 - the fixture imported above
) -> AsyncIterator[StaffBrowser]:
    """KOA's staff user, signed in (KOA's network has orders o1, o2, o4 and o5)."""
    async with _client(ctx) as b:
        page = await b.login("KOA")
        assert page.status == 200, page.html
        yield b


async def test_a_form_token_that_is_not_ascii_is_refused_not_an_error(
    ctx: AppContext, koa: StaffBrowser
) -> None:
    # hmac.compare_digest raised TypeError (a 500) for a str token with a non-ASCII character.
    before = await state(ctx)
    details = await koa.get("/access/KOA/A1/details?service=101")
    assert details.status == 200
    values = [(k, v) for k, v in details.form("/details").values() if k != csrf.FIELD]
    for url, form in (
        ("/access/KOA/A1/details", values),
        ("/staff/login", [("username", STAFF["KOA"][0]), ("password", PASSWORD)]),
        ("/staff/orders/1/flag", [("flag", "on")]),
    ):
        items = [(k.encode(), v.encode()) for k, v in form]
        for token in ("\x80".encode(), "é".encode() * 64, b"\xed\xb2\x80"):
            content, headers = body("form", items, token)
            r = await koa.http.post(url, content=content, headers=headers)
            assert r.status_code == 403, (url, token, r.status_code)
    assert await state(ctx) == before


async def test_control_characters_in_a_message_or_a_username_are_refused_not_an_error(
    ctx: AppContext, koa: StaffBrowser
) -> None:
    # PostgreSQL stores no NUL: the message was a 500 there (and stored on SQLite), the login
    # a 500 looking the user up. The XSP API refuses control characters in messages already.
    before = await state(ctx)
    for text in ("a\x00b", "\x1b[31mröd", "\x7f"):
        r = await koa.post_with_token("/staff/orders/1/message", {"message": text})
        assert r.status_code == 400, repr(text)
        assert "Meddelandet får inte innehålla kontrolltecken." in r.text, repr(text)
    r = await koa.post_with_token(
        "/staff/login", {"username": STAFF["KOB"][0] + "\x00", "password": PASSWORD}
    )
    assert r.status_code == 401 and "Fel användarnamn eller lösenord." in r.text
    assert await state(ctx) == before
    # tab and line breaks are text
    r = await koa.post_with_token("/staff/orders/1/message", {"message": "Rad 1\r\nRad 2\tslut"})
    assert r.status_code == 303


async def test_the_way_to_the_login_and_back_is_never_longer_than_next_may_be(
    ctx: AppContext,
    staff_world: World,  # noqa: F811 - the fixture imported above
) -> None:
    # The redirect to the login carried the whole request in ``next``, percent-encoded again: a
    # 48 000-character query string made a 144 000-character Location header.
    async with _client(ctx) as b:
        r = await b.http.get("/staff/orders?q=" + "%C3%B6" * 8_000)
        assert r.status_code == 303
        assert r.headers["location"] == "/staff/login?next=%2Fstaff%2Forders"
        r = await b.http.get("/staff/orders/" + "9" * 3000)
        assert r.headers["location"] == "/staff/login?next=%2Fstaff%2F"
        r = await b.http.get("/staff/orders?q=" + "x" * (NEXT_MAX - len("/staff/orders?q=")))
        assert len(r.headers["location"]) > NEXT_MAX  # as long as ``next`` may be: kept
        # and the login takes a ``next`` no longer than that, rather than cutting a longer one
        for length, kept in ((NEXT_MAX, True), (NEXT_MAX + 1, False)):
            target = "/staff/orders?q=" + "y" * (length - len("/staff/orders?q="))
            page = await b.get("/staff/login?" + urlencode({"next": target}))
            assert (dict(page.form("/staff/login").values())["next"] == target) is kept
            page = await b.submit(
                page.form("/staff/login"),
                {"username": STAFF["KOA"][0], "password": PASSWORD, "next": target},
                follow=False,
            )
            assert page.response.headers["location"] == (target if kept else "/staff/")


async def test_digits_of_other_scripts_are_no_order_or_service_number(
    ctx: AppContext, koa: StaffBrowser
) -> None:
    # str.isdigit() is true of "²" (int() refuses it: a 500) and of "١" (int() reads it as 1:
    # /staff/orders/١ was order 1's page).
    before = await _snapshot(ctx)
    for raw in ("%C2%B2", "%D9%A1", "%EF%BC%91"):  # ², Arabic-Indic 1, fullwidth 1
        assert (await koa.http.get(f"/staff/orders/{raw}")).status_code == 404, raw
        r = await koa.post_with_token(f"/staff/orders/{raw}/flag", {"flag": "on"})
        assert r.status_code == 404, raw
        for name in ("service", "before"):
            page = await koa.get(f"/staff/orders?{name}={raw}")
            assert page.status == 200, (name, raw)
            assert _listed(page) == _listed(await koa.get("/staff/orders")), (name, raw)
        r = await koa.http.get(f"/staff/orders.csv?service={raw}")
        assert r.status_code == 200, raw
        page = await koa.get(f"/staff/orders?q={raw}")  # no order's number, nobody's name
        assert (page.status, _listed(page)) == (200, []), raw
    assert await _snapshot(ctx) == before


async def test_the_list_runs_up_to_the_last_day_there_is(
    koa: StaffBrowser,
    staff_world: World,  # noqa: F811 - the fixture imported above
) -> None:
    # "to" includes its day, so the list ended at the next day's start: past date.max, an
    # OverflowError (a 500).
    everything = _listed(await koa.get("/staff/orders"))
    assert sorted(everything) == sorted(staff_world.visible_orders("KOA"))
    for query in ("to=9999-12-31", "from=0001-01-01&to=9999-12-31", "to=9999-12-30"):
        page = await koa.get(f"/staff/orders?{query}")
        assert page.status == 200 and _listed(page) == everything, query
        r = await koa.http.get(f"/staff/orders.csv?{query}")
        assert r.status_code == 200 and r.text.count("\r\n") == 1 + len(everything), query
    assert _listed(await koa.get("/staff/orders?from=9999-12-31")) == []


def _listed(page: Page) -> list[int]:
    return [int(i) for i in re.findall(r'href="/staff/orders/(\d+)"', page.html)]
