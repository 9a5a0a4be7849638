"""What an operator sees of and changes in the organisations: the KOs and TLs listed, a TL's
order address and the contact details its customers see; every e-mail address checked where
it is set, on SQLite and PostgreSQL."""

from __future__ import annotations

import email
from collections.abc import AsyncIterator
from email.policy import default
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from serviceguide.app import create_app
from serviceguide.domain.errors import InvalidInput, NotFound
from serviceguide.services import admin, marketdb, organisations
from serviceguide.services.context import AppContext
from serviceguide.storage.tables import customers, orders
from serviceguide.storage.tables import organisations as org_table
from tests.support.notify import drain, rows, with_settings
from tests.support.world import SERIALS, World

pytestmark = pytest.mark.integration


async def tl_row(ctx: AppContext, xsp: int) -> dict[str, object]:
    async with ctx.db.read() as conn:
        r = (await conn.execute(select(org_table).where(org_table.c.xsp == xsp))).one()
    return dict(r._mapping)


async def test_the_kos_are_listed_with_their_networks_and_accesses_in_use(
    ctx: AppContext, world: World, tmp_path: Path
):
    await admin.set_activation_url(ctx, "KOB", "http://127.0.0.1:8001/KOB/activation")
    path = tmp_path / "m.csv"
    path.write_text(
        "accessId,streetName,streetNumber,postalCode,city,premisesType\r\n"
        "A1,A-gatan,1,12345,Teststad,OTHER\r\n",
        encoding="utf-8",
    )
    await marketdb.import_accesses(ctx, "KOA", path, replace=True)  # A2…A5 retired
    found = await organisations.list_kos(ctx)
    assert [(k.coid, k.name, k.activation_url, k.accesses) for k in found] == [
        ("KOA", "Stadsnät A", None, 1),
        ("KOB", "Stadsnät B", "http://127.0.0.1:8001/KOB/activation", 3),
    ]


async def test_the_tls_are_listed_with_their_order_address_and_contact_details(
    ctx: AppContext, world: World
):
    await admin.update_service(ctx, 103, active=False)
    await organisations.update_tl(
        ctx, 1002, phone="08-123 456 78", website="https://tva.example.se"
    )
    found = await organisations.list_tls(ctx)
    assert [(t.xsp, t.name, t.email, t.services) for t in found] == [
        (1001, "Leverantör Ett AB", "ett@example.se", 1),
        (1002, "Leverantör Två AB", "tva@example.se", 1),
    ]
    assert (found[0].phone, found[0].website, found[0].contact_email) == (None, None, None)
    assert (found[1].phone, found[1].website) == ("08-123 456 78", "https://tva.example.se")


async def test_a_tls_order_address_and_contact_details_are_changed_and_cleared(
    ctx: AppContext, world: World
):
    updated = await organisations.update_tl(
        ctx,
        1001,
        order_email="Nya.Order@Example.SE",
        phone="+46 8 123 456 78",
        contact_email="kundtjanst@example.se",
        website="https://ett.example.se/kontakt",
        opening_hours="Vardagar 8–17",
    )
    assert updated.order_email == "Nya.Order@example.se"
    row = await tl_row(ctx, 1001)
    assert (row["order_email"], row["phone"], row["contact_email"]) == (
        "Nya.Order@example.se",
        "+46 8 123 456 78",
        "kundtjanst@example.se",
    )
    assert (row["website"], row["opening_hours"]) == (
        "https://ett.example.se/kontakt",
        "Vardagar 8–17",
    )

    await organisations.update_tl(ctx, 1001, phone="", opening_hours="")
    row = await tl_row(ctx, 1001)
    assert (row["phone"], row["opening_hours"], row["website"]) == (
        None,
        None,
        "https://ett.example.se/kontakt",
    )
    assert (await tl_row(ctx, 1002))["order_email"] == "tva@example.se"  # the other TL: as it was


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"order_email": "åsa@example.se"}, "email"),
        ({"order_email": ""}, "email"),
        ({"order_email": "orders@localhost"}, "email"),
        ({"contact_email": "kundtjänst"}, "contact_email"),
        ({"phone": "ring oss", "website": "https://ok.example.se"}, "phone"),
        ({"website": "ett.example.se"}, "website"),
        ({}, "tl"),
    ],
)
async def test_a_bad_change_to_a_tl_is_refused_and_changes_nothing(
    ctx: AppContext, world: World, change: dict[str, str], field: str
):
    before = await tl_row(ctx, 1001)
    with pytest.raises(InvalidInput) as e:
        await organisations.update_tl(ctx, 1001, **change)
    assert e.value.field == field
    assert await tl_row(ctx, 1001) == before


async def test_changing_an_unknown_tl_is_not_found(ctx: AppContext, world: World):
    with pytest.raises(NotFound):
        await organisations.update_tl(ctx, 4242, phone="08-123 456 78")


async def test_a_tl_is_not_created_with_an_address_that_cannot_be_mailed(
    ctx: AppContext, world: World
):
    async with ctx.db.read() as conn:
        before = (await conn.execute(select(func.count()).select_from(org_table))).scalar_one()
    with pytest.raises(InvalidInput, match="before the @-sign"):
        await admin.create_tl(ctx, 3003, "Trean AB", "bestallning-åäö@example.se")
    async with ctx.db.read() as conn:
        after = (await conn.execute(select(func.count()).select_from(org_table))).scalar_one()
    assert after == before


async def test_mail_to_an_international_domain_goes_out_in_ascii(
    ctx: AppContext, world: World, tmp_path: Path
):
    await organisations.update_tl(ctx, 1001, order_email="order@bredbånd.se")
    assert (await tl_row(ctx, 1001))["order_email"] == "order@xn--bredbnd-ixa.se"
    c = with_settings(ctx, smtp_url=None, var_dir=tmp_path / "var")
    await drain(c)
    o1 = world.orders["o1"]
    (mail,) = [r for r in await rows(c, kind="mail") if r.order_id == o1]
    raw = (tmp_path / "var" / "mail" / f"outbox-{mail.id}.eml").read_bytes()
    assert b"To: order@xn--bredbnd-ixa.se\n" in raw
    assert email.message_from_bytes(raw, policy=default)["To"] == "order@xn--bredbnd-ixa.se"


# --- the customer's address in a guide order ---------------------------------------------------


@pytest.fixture
async def guide(ctx: AppContext, world: World) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ctx.settings)
    app.state.ctx = ctx
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def order_with_email(address: str) -> dict[str, object]:
    return {
        "coid": "KOA",
        "accessId": "A1",
        "services": [101],
        "customer": {
            "firstname": "Eva",
            "surname": "Ek",
            "serial": SERIALS[0],
            "email": address,
            "phone": "070-1234567",
        },
        "delivery": "asap",
    }


async def counts(ctx: AppContext) -> tuple[int, int]:
    async with ctx.db.read() as conn:
        return (
            (await conn.execute(select(func.count()).select_from(customers))).scalar_one(),
            (await conn.execute(select(func.count()).select_from(orders))).scalar_one(),
        )


@pytest.mark.parametrize(
    "address", ["åsa@example.se", "eva@localhost", "eva@example", "Eva Ek <eva@example.se>"]
)
async def test_a_guide_order_with_an_address_that_cannot_be_mailed_is_422(
    ctx: AppContext, guide: httpx.AsyncClient, address: str
):
    before = await counts(ctx)
    r = await guide.post("/api/guide/orders", json=order_with_email(address))
    assert r.status_code == 422
    (error,) = r.json()["errors"]
    assert error["field"] == "customer.email"
    assert error["message"].startswith("Not a valid e-mail address: ")
    assert await counts(ctx) == before


async def test_a_guide_order_stores_the_address_in_the_form_mail_servers_read(
    ctx: AppContext, guide: httpx.AsyncClient
):
    r = await guide.post("/api/guide/orders", json=order_with_email("Eva.Ek@Exämple.SE"))
    assert r.status_code == 201, r.text
    async with ctx.db.read() as conn:
        stored = (
            await conn.execute(
                select(customers.c.email).where(customers.c.id == r.json()["customer"])
            )
        ).scalar_one()
    assert stored == "Eva.Ek@xn--exmple-cua.se"
