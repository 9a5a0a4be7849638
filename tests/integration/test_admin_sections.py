"""The TL's services, the KO's network and admissions, webhooks and the platform's organisations,
from the administration pages in-process: what is saved is what the guide offers at once, bad
input is marked next to its field with nothing stored, another organisation's object is a 404."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from serviceguide.domain.errors import AuthenticationFailed
from serviceguide.services import admin, auth, guide, orders
from serviceguide.services.context import AppContext
from serviceguide.simulator.activation import Network
from serviceguide.simulator.app import create_simulator
from serviceguide.storage import tables
from tests.integration.test_admin_accounts import count, rows, secret_of
from tests.integration.test_guide_pages import Page
from tests.support.admin import add_admin_users, admin_browser
from tests.support.servers import serve_in_thread
from tests.support.world import World

pytestmark = pytest.mark.integration


@pytest.fixture
async def orgs(ctx: AppContext, world: World) -> dict[str, int]:
    return await add_admin_users(ctx)


async def offered_on(ctx: AppContext, coid: str, access_id: str) -> dict[str, Any]:
    """What the guide offers on an access: uid → (name, monthly price)."""
    found = await guide.services_for_access(ctx, coid, access_id)
    return {s.uid: (s.name, s.price_monthly) for s in found}


NEW = {
    "coid": "KOA",
    "uid": "NY100",
    "name": "Ny tjänst 100",
    "price_monthly": "199,50",
    "price_once": "0",
    "description": "Snabb",
    "category": "internet",
}


# --- services (TL) -------------------------------------------------------------------------------


async def test_a_tl_admin_creates_changes_and_retires_a_service_and_the_guide_follows(
    ctx: AppContext, orgs: dict[str, int], world: World
) -> None:
    async with admin_browser(ctx, "tl1.admin") as b:
        page = await b.get("/staff/admin/services")
        assert page.status == 200 and "Tjänst S1" in page.html and "Tjänst S2" not in page.html
        page = await b.submit(page.form("/staff/admin/services"), NEW)
        assert page.status == 200, page.html[:300]
        offered = await offered_on(ctx, "KOA", "A1")
        assert offered["NY100"] == ("Ny tjänst 100", Decimal("199.50"))
        sid = await _service_id(ctx, "NY100")
        edit = page.form(f"/staff/admin/services/{sid}")
        page = await b.submit(edit, {"price_monthly": "249", "name": "Ny tjänst 100 plus"})
        assert page.status == 200 and "Tjänsten är ändrad" in page.html
        assert (await offered_on(ctx, "KOA", "A1"))["NY100"] == (
            "Ny tjänst 100 plus",
            Decimal("249.00"),
        )
        # An order placed before a change keeps what it was placed with.
        o1 = await orders.order_info(ctx, await _caller(ctx, world, "TL1"), world.orders["o1"])
        r = await b.post("/staff/admin/services/101", {**_form_of(o1), "price_monthly": "999"})
        assert r.status_code == 303
        o1_after = await orders.order_info(ctx, await _caller(ctx, world, "TL1"), o1.summary.id)
        assert o1_after.price_monthly == o1.price_monthly
        page = await b.submit(page.form(f"/staff/admin/services/{sid}/retire"))
        assert "avvecklad" in page.html
        assert "NY100" not in await offered_on(ctx, "KOA", "A1")
    actions = await _actions(ctx)
    assert {"service.create", "service.update", "service.retire"} <= actions


def _form_of(o: Any) -> dict[str, str]:
    return {
        "coid": o.coid,
        "uid": o.service_uid,
        "name": o.service_name,
        "price_monthly": str(o.price_monthly),
        "price_once": str(o.price_once),
        "category": "internet",
    }


async def _caller(ctx: AppContext, world: World, who: str) -> Any:
    u = world.users[who]
    return (await auth.api_login(ctx, u.api_user, u.api_key, None)).caller


async def _service_id(ctx: AppContext, uid: str) -> int:
    async with ctx.db.read() as conn:
        q = select(tables.services.c.id).where(tables.services.c.uid == uid)
        return int((await conn.execute(q)).scalar_one())


async def _actions(ctx: AppContext) -> set[str]:
    async with ctx.db.read() as conn:
        return set((await conn.execute(select(tables.admin_log.c.action))).scalars())


@pytest.mark.parametrize(
    ("who", "changes", "field", "says"),
    [
        ("tl1.admin", {"uid": "S1UID"}, "uid", "redan en tjänst med den produktkoden"),
        ("tl1.admin", {"uid": "med mellanslag"}, "uid", "Produktkoden ska vara"),
        ("tl1.admin", {"price_monthly": "-1"}, "price_monthly", "riset"),
        ("tl1.admin", {"price_monthly": "tjugo"}, "price_monthly", "Skriv priset som ett tal"),
        ("tl1.admin", {"price_once": "100000000"}, "price_once", "mellan 0 och"),
        ("tl1.admin", {"name": ""}, "name", "Fyll i"),
        ("tl1.admin", {"coid": "NOPE"}, "coid", "Välj ett nät"),
        ("tl2.admin", {"coid": "KOB"}, "coid", "inte släppt in er"),
        ("tl1.admin", {"direct_activation": "on"}, "direct_activation", "ingen direktaktivering"),
        ("tl1.admin", {"category": "mat"}, "category", "Välj en kategori"),
    ],
)
async def test_a_bad_service_is_marked_next_to_its_field_and_nothing_is_stored(
    ctx: AppContext, orgs: dict[str, int], who: str, changes: dict[str, str], field: str,
    says: str,
) -> None:  # fmt: skip
    before = await rows(ctx, tables.services)
    async with admin_browser(ctx, who) as b:
        r = await b.post("/staff/admin/services", {**NEW, **changes})
        assert r.status_code == 400
        assert says in Page(r).error_of(f"new-{field}")
        # The same on an existing service's edit form.
        # (A duplicate: TL1's S3 in KOB moved to KOA as S1UID, which S1 has there.)
        own = 101 if who == "tl1.admin" else 102
        target = 103 if changes.get("uid") == "S1UID" else own
        r = await b.post(f"/staff/admin/services/{target}", {**NEW, "uid": "X1", **changes})
        assert r.status_code == 400
        assert says in Page(r).error_of(f"s{target}-{field}")
    assert await rows(ctx, tables.services) == before


async def test_another_tls_service_is_not_found_and_a_ko_admin_is_refused(
    ctx: AppContext, orgs: dict[str, int]
) -> None:
    before = await rows(ctx, tables.services)
    async with admin_browser(ctx, "tl2.admin") as b:
        missing = await b.post("/staff/admin/services/99999", NEW)
        other = await b.post("/staff/admin/services/101", NEW)
        assert other.status_code == missing.status_code == 404
        assert other.text == missing.text
        assert (await b.post("/staff/admin/services/101/retire", {})).status_code == 404
    async with admin_browser(ctx, "koa.admin") as b:
        assert (await b.post("/staff/admin/services", NEW)).status_code == 403
        assert (await b.get("/staff/admin/services")).status == 403
    assert await rows(ctx, tables.services) == before


# --- order delivery (TL) -------------------------------------------------------------------------


async def test_a_tl_admin_sets_the_order_address_and_contact_details(
    ctx: AppContext, orgs: dict[str, int]
) -> None:
    async with admin_browser(ctx, "tl1.admin") as b:
        page = await b.get("/staff/admin/delivery")
        assert 'value="ett@example.se"' in page.html
        page = await b.submit(
            page.form("/staff/admin/delivery"),
            {
                "order_email": "nya-order@ett.example",
                "phone": "08-123 456 78",
                "contact_email": "kund@ett.example",
                "website": "https://ett.example/",
                "opening_hours": "Vardagar 8–17",
            },
        )
        assert "Uppgifterna är sparade" in page.html
    tl1 = await admin.find_org(ctx, xsp=1001)
    assert (tl1.order_email, tl1.phone, tl1.website) == (
        "nya-order@ett.example",
        "08-123 456 78",
        "https://ett.example/",
    )
    assert "tl.update" in await _actions(ctx)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"order_email": ""}, "order_email"),
        ({"order_email": "inte en adress"}, "order_email"),
        ({"phone": "ring mig"}, "phone"),
        ({"contact_email": "x@"}, "contact_email"),
        ({"website": "ftp://ett.example"}, "website"),
    ],
)
async def test_bad_delivery_details_are_marked_and_nothing_is_stored(
    ctx: AppContext, orgs: dict[str, int], changes: dict[str, str], field: str
) -> None:
    good = {"order_email": "ett@example.se", "phone": "", "contact_email": "", "website": "",
            "opening_hours": ""}  # fmt: skip
    before = await rows(ctx, tables.organisations)
    async with admin_browser(ctx, "tl1.admin") as b:
        r = await b.post("/staff/admin/delivery", {**good, **changes})
        assert r.status_code == 400 and Page(r).error_of(field)
    assert await rows(ctx, tables.organisations) == before


async def test_a_tl_admin_sets_the_onapi_settings_and_the_password_is_never_shown(
    ctx: AppContext, orgs: dict[str, int]
) -> None:
    from serviceguide.services import sp_settings

    secret = "Hemligt-på-webben-7"
    async with admin_browser(ctx, "tl1.admin") as b:
        page = await b.get("/staff/admin/delivery")
        assert "Inget lösenord är sparat" in page.html
        page = await b.submit(
            page.form("/staff/admin/delivery/onapi"),
            {
                "onapi_url": "https://sp.ett.example/onapi/2.6/",
                "onapi_username": "guide",
                "onapi_password": secret,
                "onapi_delivery": "onapi",
            },
        )
        assert "ON-API-inställningarna är sparade" in page.html
        assert secret not in page.html
        assert 'value="https://sp.ett.example/onapi/2.6"' in page.html
        assert "Ett lösenord är sparat och visas aldrig" in page.html
        # Saved again with the password left empty: the stored one stays.
        page = await b.submit(
            page.form("/staff/admin/delivery/onapi"),
            {
                "onapi_url": "https://sp.ett.example/onapi/2.6",
                "onapi_username": "guide",
                "onapi_password": "",
                "onapi_delivery": "both",
            },
        )
        assert secret not in page.html
    target = await sp_settings.target_by_xsp(ctx, 1001)
    assert (target.auth, target.delivery) == (("guide", secret), "both")
    assert "tl.set_onapi" in await _actions(ctx)
    async with ctx.db.read() as conn:
        logged = [r.after or "" for r in await conn.execute(select(tables.admin_log))]
    assert not any(secret in text for text in logged)
    async with admin_browser(ctx, "tl1.admin") as b:
        await b.post("/staff/admin/delivery/onapi", {"onapi_url": ""})
    assert (await sp_settings.onapi_settings(ctx, 1001)).url is None  # empty: off again


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"onapi_url": "ftp://sp.example"}, "onapi_url"),
        ({"onapi_url": "http://sp.example/onapi/2.6"}, "onapi_url"),
        ({"onapi_url": "https://u:p@sp.example/onapi"}, "onapi_url"),
        ({"onapi_username": "a:b"}, "onapi_username"),
        ({"onapi_password": ""}, "onapi_password"),  # a new username needs a password
        ({"onapi_username": "", "onapi_password": "x"}, "onapi_password"),
        ({"onapi_delivery": "fax"}, "onapi_delivery"),
    ],
)
async def test_bad_onapi_settings_are_marked_and_nothing_is_stored(
    ctx: AppContext, orgs: dict[str, int], changes: dict[str, str], field: str
) -> None:
    good = {"onapi_url": "https://sp.ett.example/onapi/2.6", "onapi_username": "guide",
            "onapi_password": "pw", "onapi_delivery": "onapi"}  # fmt: skip
    before = await rows(ctx, tables.tl_onapi)
    async with admin_browser(ctx, "tl1.admin") as b:
        r = await b.post("/staff/admin/delivery/onapi", {**good, **changes})
        assert r.status_code == 400 and Page(r).error_of(field), r.text
        assert "pw" not in Page(r).error_of(field)
    assert await rows(ctx, tables.tl_onapi) == before


async def test_the_onapi_form_without_its_csrf_token_is_refused(
    ctx: AppContext, orgs: dict[str, int]
) -> None:
    async with admin_browser(ctx, "tl1.admin") as b:
        r = await b.http.post(
            "/staff/admin/delivery/onapi",
            data={"onapi_url": "https://sp.ett.example/onapi/2.6", "onapi_delivery": "both"},
        )
        assert r.status_code == 403
    assert await rows(ctx, tables.tl_onapi) == []


# --- the network (KO) ----------------------------------------------------------------------------


@pytest.fixture
def ko_simulator() -> Iterator[str]:
    net = Network("KOA", {"A1", "A2"}, insufficient={"A2"})
    with serve_in_thread(create_simulator({"KOA": net})) as url:
        yield f"{url}/KOA/activation"


async def test_a_ko_admin_names_the_network_sets_and_tests_the_activation_url(
    ctx: AppContext, orgs: dict[str, int], ko_simulator: str
) -> None:
    async with admin_browser(ctx, "koa.admin") as b:
        page = await b.get("/staff/admin/network")
        assert "Stadsnät A" in page.html
        page = await b.submit(
            page.form("/staff/admin/network"),
            {"name": "Stadsnät A Nya", "activation_url": ko_simulator},
        )
        assert "Inställningarna är sparade" in page.html
        page = await b.submit(
            page.form("/staff/admin/network/test"), {"access_id": "A1", "service_uid": "S1UID"}
        )
        assert page.status == 200 and "kan levereras" in page.html
        refused = await b.submit(
            page.form("/staff/admin/network/test"), {"access_id": "A2", "service_uid": "S1UID"}
        )
        assert "kan inte levereras" in refused.html and 'data-field="code">428' in refused.html
        unknown = await b.post(
            "/staff/admin/network/test", {"access_id": "ZZ", "service_uid": "S1UID"}
        )
        assert 'data-field="code">404' in unknown.text
    async with ctx.db.read() as conn:
        q = select(tables.networks.c.name, tables.networks.c.activation_url)
        net = (await conn.execute(q.where(tables.networks.c.coid == "KOA"))).one()
    assert tuple(net) == ("Stadsnät A Nya", ko_simulator)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"name": "", "activation_url": ""}, "name"),
        ({"name": "N", "activation_url": "ftp://x.example/a"}, "activation_url"),
        ({"name": "N", "activation_url": "http://user:pw@x.example/"}, "activation_url"),
        ({"name": "N", "activation_url": "inte en adress"}, "activation_url"),
    ],
)
async def test_bad_network_settings_are_marked_and_nothing_is_stored(
    ctx: AppContext, orgs: dict[str, int], values: dict[str, str], field: str
) -> None:
    before = await rows(ctx, tables.networks)
    async with admin_browser(ctx, "koa.admin") as b:
        r = await b.post("/staff/admin/network", values)
        assert r.status_code == 400 and Page(r).error_of(field)
    assert await rows(ctx, tables.networks) == before


async def test_a_withdrawn_tls_services_leave_the_guide_in_that_network_and_come_back(
    ctx: AppContext, orgs: dict[str, int], world: World
) -> None:
    assert "S2UID" in await offered_on(ctx, "KOA", "A1")
    async with admin_browser(ctx, "koa.admin") as b:
        page = await b.get("/staff/admin/network")
        withdraw = [f for f in re.findall(r'name="xsp" value="(\d+)"', page.html) if f == "1002"]
        assert withdraw
        page = await b.submit(
            Page(page.response).form("/staff/admin/network/withdraw"), {"xsp": "1002"}
        )
        assert "tillbakadragen" in page.html
        assert "S2UID" not in await offered_on(ctx, "KOA", "A1")
        assert "S1UID" in await offered_on(ctx, "KOA", "A1")
        # Its orders stay, and TL2 still reads them.
        info = await orders.order_info(ctx, await _caller(ctx, world, "TL2"), world.orders["o2"])
        assert info.service_uid == "S2UID"
        async with admin_browser(ctx, "tl2.admin") as tl2:
            services = await tl2.get("/staff/admin/services")
            assert "Tjänst S2" in services.html  # still its service, no longer in a network
            r = await tl2.post("/staff/admin/services", {**NEW, "uid": "TL2NEW"})
            assert r.status_code == 400
        page = await b.submit(page.form("/staff/admin/network/admit"), {"xsp": "1002"})
        assert "insläppt" in page.html
        assert "S2UID" in await offered_on(ctx, "KOA", "A1")
        bad = await b.post("/staff/admin/network/admit", {"xsp": "4711"})
        assert bad.status_code == 400
    assert {"network.withdraw", "network.admit"} <= await _actions(ctx)


# --- webhooks ------------------------------------------------------------------------------------


async def test_a_tl_admin_registers_rotates_replays_and_disables_a_webhook(
    ctx: AppContext, orgs: dict[str, int], world: World
) -> None:
    async with admin_browser(ctx, "tl1.admin") as b:
        page = await b.get("/staff/admin/webhooks")
        bad = await b.post("/staff/admin/webhooks", {"url": "http://tl.example/hook"})
        assert bad.status_code == 400 and Page(bad).error_of("url")
        assert await count(ctx, tables.webhook_endpoints) == 0
        page = await b.submit(
            page.form("/staff/admin/webhooks"),
            {"url": "http://127.0.0.1:9/hook", "events": ["order_created"]},
        )
        first = secret_of(page.html, "secret")
        hook = int(secret_of(page.html, "webhook"))
        page = await b.submit(page.form(f"/staff/admin/webhooks/{hook}/rotate"))
        second = secret_of(page.html, "secret")
        assert second != first and first not in page.html
        page = await b.submit(
            page.form(f"/staff/admin/webhooks/{hook}/replay"), {"since_event": "0"}
        )
        queued = await count(ctx, tables.outbox, tables.outbox.c.endpoint_id == hook)
        assert f"{queued} leveranser är köade" in page.html and queued > 0
        r = await b.post(f"/staff/admin/webhooks/{hook}/replay", {"since_event": "-1"})
        assert r.status_code == 400
        async with admin_browser(ctx, "tl2.admin") as other:
            assert (
                await other.post(f"/staff/admin/webhooks/{hook}/disable", {})
            ).status_code == 404
            assert "127.0.0.1:9" not in (await other.get("/staff/admin/webhooks")).html
        await _deliver_once(ctx)
        page = await b.get("/staff/admin/webhooks")
        assert "Senaste leveransförsök" in page.html and "Fel" in page.html
        page = await b.submit(page.form(f"/staff/admin/webhooks/{hook}/disable"))
        assert "avstängd" in page.html
    async with ctx.db.read() as conn:
        log = " ".join(str(r) for r in await conn.execute(select(tables.admin_log)))
    assert first not in log and second not in log


async def _deliver_once(ctx: AppContext) -> None:
    from serviceguide.notify.relay import Relay
    from serviceguide.services.context import AppContext as Ctx

    quick = Ctx(
        db=ctx.db,
        settings=ctx.settings.model_copy(
            update={"outbox_max_attempts": 1, "webhook_timeout_seconds": 2.0}
        ),
    )
    async with Relay(quick) as relay:
        await relay.drain()


# --- the platform --------------------------------------------------------------------------------


async def test_the_platform_creates_a_ko_and_a_tl_with_their_first_admins(
    ctx: AppContext, orgs: dict[str, int]
) -> None:
    async with admin_browser(ctx, "platform.admin") as b:
        page = await b.get("/staff/admin/platform")
        assert "Stadsnät A" in page.html and "Leverantör Ett AB" in page.html
        page = await b.submit(
            page.form("/staff/admin/platform/ko"),
            {"coid": "KONY", "name": "Nytt Nät", "username": "ny.ko", "admin_name": "Ny KO"},
        )
        assert page.status == 200
        ko_password = secret_of(page.html, "password")
        page = await b.submit(
            page.form("/staff/admin/platform/tl"),
            {
                "xsp": "2001",
                "name": "Ny TL",
                "order_email": "order@ny.example",
                "username": "ny.tl",
                "admin_name": "Ny TL Admin",
            },
        )
        tl_password = secret_of(page.html, "password")
    async with admin_browser(ctx) as b:
        landed = await b.login("ny.ko", ko_password)
        assert landed.status == 200 and "Nytt Nät" in landed.html
        network = await b.get("/staff/admin/network")
        assert network.status == 200 and "KONY" in network.html
    async with admin_browser(ctx) as b:
        assert (await b.login("ny.tl", tl_password)).status == 200
        assert (await b.get("/staff/admin/services")).status == 200


@pytest.mark.parametrize(
    ("kind", "values", "field"),
    [
        ("ko", {"coid": "KOA"}, "coid"),
        ("ko", {"coid": "lowercase"}, "coid"),
        ("ko", {"username": "tl1.admin"}, "username"),
        ("ko", {"admin_name": ""}, "admin_name"),
        ("tl", {"xsp": "1001"}, "xsp"),
        ("tl", {"xsp": "-5"}, "xsp"),
        ("tl", {"order_email": "inte-en-adress"}, "order_email"),
        ("tl", {"username": "x"}, "username"),
    ],
)
async def test_a_bad_new_organisation_is_marked_and_nothing_at_all_is_stored(
    ctx: AppContext, orgs: dict[str, int], kind: str, values: dict[str, str], field: str
) -> None:
    good = {
        "ko": {"coid": "KONY", "name": "N", "username": "n.admin", "admin_name": "N"},
        "tl": {"xsp": "2001", "name": "N", "order_email": "o@n.example", "username": "n.admin",
               "admin_name": "N"},
    }  # fmt: skip
    before = [await rows(ctx, t) for t in (tables.organisations, tables.staff_users)]
    async with admin_browser(ctx, "platform.admin") as b:
        r = await b.post(f"/staff/admin/platform/{kind}", {**good[kind], **values})
        assert r.status_code == 400
        assert Page(r).error_of(f"{kind}-{field}")
    assert [await rows(ctx, t) for t in (tables.organisations, tables.staff_users)] == before


async def test_a_disabled_organisation_is_logged_out_refused_and_out_of_the_guide(
    ctx: AppContext, orgs: dict[str, int], world: World
) -> None:
    tl2 = world.users["TL2"]
    hash_key = (await auth.api_login(ctx, tl2.api_user, tl2.api_key, None)).hash_key
    async with admin_browser(ctx, "tl2.admin") as victim, admin_browser(ctx, "platform.admin") as b:
        page = await b.get("/staff/admin/platform")
        org = orgs["tl2.admin"]
        page = await b.submit(page.form(f"/staff/admin/platform/orgs/{org}/disable"))
        assert "avstängd" in page.html
        assert (await victim.http.get("/staff/admin/users")).status_code == 303
        assert (await victim.login("tl2.admin")).status == 401
        ctx.session_cache._items.clear()
        with pytest.raises(AuthenticationFailed):
            await auth.caller_for_hash(ctx, hash_key)
        with pytest.raises(AuthenticationFailed):
            await auth.api_login(ctx, tl2.api_user, tl2.api_key, None)
        assert "S2UID" not in await offered_on(ctx, "KOA", "A1")
        settings = await b.get(f"/staff/admin/platform/orgs/{org}")
        assert settings.status == 200 and "Tjänst S2" in settings.html
        assert "Efternamn" not in settings.html  # no customers
        page = await b.submit(
            (await b.get("/staff/admin/platform")).form(f"/staff/admin/platform/orgs/{org}/enable")
        )
        assert (await victim.login("tl2.admin")).status == 200
        assert "S2UID" in await offered_on(ctx, "KOA", "A1")
    assert await count(ctx, tables.admin_log, tables.admin_log.c.action == "org.disable") == 1
