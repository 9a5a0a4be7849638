"""ON-API 2.4 accesses for the market database (docs/marketdb.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

import httpx
import pytest
from sqlalchemy import update

from serviceguide.app import create_app
from serviceguide.services import admin
from serviceguide.services.context import AppContext
from serviceguide.storage.tables import accesses
from tests.support.world import World

pytestmark = pytest.mark.integration


@pytest.fixture
async def http(ctx: AppContext, world: World) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ctx.settings)
    app.state.ctx = ctx
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def auth(world: World, who: str) -> httpx.BasicAuth:
    u = world.users[who]
    return httpx.BasicAuth(str(u.api_user), u.api_key)


async def age_all_accesses(ctx: AppContext, when: datetime) -> None:
    async with ctx.db.write() as conn:
        await conn.execute(update(accesses).values(updated_at=when))


async def test_a_tl_reads_a_network_where_it_sells(http: httpx.AsyncClient, world: World):
    r = await http.get("/plain/onapi/KOA/accesses", auth=auth(world, "TL2"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    parsedate_to_datetime(r.headers["Last-Modified"])
    found = r.json()
    assert sorted(a["accessId"] for a in found) == ["A1", "A2", "A3", "A4", "A5"]
    a1 = next(a for a in found if a["accessId"] == "A1")
    assert a1 == {
        "accessId": "A1",
        "streetName": "A-gatan",
        "streetNumber": "1",
        "streetLittera": "",
        "postalCode": "12345",
        "city": "Teststad",
        "countryCode": "SE",
        "premisesType": "UNKNOWN",
        "accessState": "CONNECTED",
        "coNetworkAgreement": "",
        "services": [
            {
                "service": uid,
                "connection": "YES",
                "available": "YES",
                "disconnection": "",
                "forcedTakeoverPossible": False,
            }
            for uid in ("S1UID", "S2UID")
        ],
    }
    assert None not in a1.values()


@pytest.mark.parametrize(
    "who,coid,status",
    [
        ("TL1", "KOA", 200),
        ("TL1", "KOB", 200),
        ("TL2", "KOB", 403),
        ("KOA", "KOA", 200),
        ("KOA", "KOB", 403),
        ("KOB", "KOA", 403),
        ("TL1", "NOSUCH", 403),
    ],
)
async def test_who_may_read_which_network(
    http: httpx.AsyncClient, world: World, who: str, coid: str, status: int
):
    r = await http.get(f"/plain/onapi/{coid}/accesses", auth=auth(world, who))
    assert r.status_code == status
    if status == 403:
        assert set(r.json()) == {"cause"}
    r = await http.get(f"/plain/onapi/{coid}/accesses/A1", auth=auth(world, who))
    assert r.status_code in ((200, 404) if status == 200 else (403,))


@pytest.mark.parametrize(
    "credentials",
    [None, ("999999", "x"), ("1", ""), ("abc", "x"), ("١", "x")],
)
async def test_bad_credentials_are_401_with_a_challenge(
    http: httpx.AsyncClient, world: World, credentials
):
    kwargs = {} if credentials is None else {"auth": httpx.BasicAuth(*credentials)}
    r = await http.get("/plain/onapi/KOA/accesses", **kwargs)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Basic")
    assert "cause" in r.json()


async def test_malformed_basic_header_is_401(http: httpx.AsyncClient):
    r = await http.get("/plain/onapi/KOA/accesses", headers={"Authorization": "Basic %%%"})
    assert r.status_code == 401


async def test_if_modified_since_returns_only_changes_or_304(
    ctx: AppContext, http: httpx.AsyncClient, world: World
):
    await age_all_accesses(ctx, datetime.now(UTC) - timedelta(hours=2, microseconds=-250_000))
    who = auth(world, "KOA")
    first = await http.get("/plain/onapi/KOA/accesses", auth=who)
    stamp = first.headers["Last-Modified"]
    assert len(first.json()) == 5
    unchanged = await http.get(
        "/plain/onapi/KOA/accesses", auth=who, headers={"If-Modified-Since": stamp}
    )
    assert unchanged.status_code == 304
    async with ctx.db.write() as conn:
        await conn.execute(
            update(accesses)
            .where(accesses.c.access_id == "A3")
            .values(updated_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    changed = await http.get(
        "/plain/onapi/KOA/accesses", auth=who, headers={"If-Modified-Since": stamp}
    )
    assert changed.status_code == 200
    assert [a["accessId"] for a in changed.json()] == ["A3"]
    assert parsedate_to_datetime(changed.headers["Last-Modified"]) > parsedate_to_datetime(stamp)


async def test_a_recent_change_is_announced_again_rather_than_missed(
    ctx: AppContext, http: httpx.AsyncClient, world: World
):
    """Accesses stamped in the last seconds may still have company committing late: the
    Last-Modified stays behind them, so the next poll includes them again."""
    await age_all_accesses(ctx, datetime.now(UTC))  # changed just now
    who = auth(world, "KOA")
    first = await http.get("/plain/onapi/KOA/accesses", auth=who)
    again = await http.get(
        "/plain/onapi/KOA/accesses",
        auth=who,
        headers={"If-Modified-Since": first.headers["Last-Modified"]},
    )
    assert again.status_code == 200 and len(again.json()) == 5


async def test_an_if_modified_since_older_than_14_days_lists_everything(
    ctx: AppContext, http: httpx.AsyncClient, world: World
):
    await age_all_accesses(ctx, datetime.now(UTC) - timedelta(days=30))
    old = format_datetime(datetime.now(UTC) - timedelta(days=20), usegmt=True)
    r = await http.get(
        "/plain/onapi/KOA/accesses", auth=auth(world, "KOA"), headers={"If-Modified-Since": old}
    )
    assert r.status_code == 200 and len(r.json()) == 5


async def test_a_network_without_accesses_is_404(
    ctx: AppContext, http: httpx.AsyncClient, world: World
):
    await admin.create_ko(ctx, "EMPTY", "Tomt nät")
    org = await admin.find_org(ctx, coid="EMPTY")
    cred = await admin.create_api_user(ctx, org, "empty", api_key="key-empty-0123456789")
    r = await http.get(
        "/plain/onapi/EMPTY/accesses", auth=httpx.BasicAuth(str(cred.ident), cred.secret)
    )
    assert r.status_code == 404 and "cause" in r.json()


async def test_a_single_access_has_subscriptions_and_if_modified_since(
    ctx: AppContext, http: httpx.AsyncClient, world: World
):
    await age_all_accesses(ctx, datetime.now(UTC) - timedelta(hours=1))
    who = auth(world, "TL1")
    r = await http.get("/plain/onapi/KOB/accesses/B2", auth=who)
    assert r.status_code == 200
    doc = r.json()
    assert doc["accessId"] == "B2" and doc["subscriptions"] == []
    assert [s["service"] for s in doc["services"]] == ["S3UID"]
    r304 = await http.get(
        "/plain/onapi/KOB/accesses/B2",
        auth=who,
        headers={"If-Modified-Since": r.headers["Last-Modified"]},
    )
    assert r304.status_code == 304
    missing = await http.get("/plain/onapi/KOB/accesses/NOPE", auth=who)
    assert missing.status_code == 404 and "cause" in missing.json()


async def test_failed_basic_logins_are_throttled(ctx: AppContext, world: World):
    strict = AppContext(ctx.db, ctx.settings.model_copy(update={"login_failures": 2}))
    app = create_app(strict.settings)
    app.state.ctx = strict
    transport = httpx.ASGITransport(app=app, client=("192.0.2.44", 1))
    u = world.users["TL1"]
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for _ in range(2):
            bad = httpx.BasicAuth(str(u.api_user), "wrong")
            assert (await client.get("/plain/onapi/KOA/accesses", auth=bad)).status_code == 401
        r = await client.get(
            "/plain/onapi/KOA/accesses", auth=httpx.BasicAuth(str(u.api_user), u.api_key)
        )
        assert r.status_code == 429 and "Retry-After" in r.headers
