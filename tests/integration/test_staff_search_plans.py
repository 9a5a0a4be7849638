"""The staff search answers the same whichever way the database is asked to find the orders."""

from __future__ import annotations

import pytest

from serviceguide.domain.listing import OrderFilter
from serviceguide.domain.model import Caller, OrgKind
from serviceguide.domain.ordering import OrderRequest
from serviceguide.services import admin, placing
from serviceguide.services.context import AppContext
from serviceguide.storage import staff as staff_repo
from tests.support.world import World, customer

pytestmark = pytest.mark.integration

SEARCHES = [
    "förnamn4",
    "Efternamn2",
    "efternamn",
    "åsa",
    "Åsa-Märta Öst Berg",
    "öst åsa",
    "ost berg",
    "A3",
    "a3",
    "A-gatan 1",
    "A-gatan 2 åsa",
    "LONGID77",
    "longid77",
    "lång",
    "gatan",
    "Åsa Nilsson",
    "zyxwvut",
    "nothing at all",
    "1",
    "%",
    "_",
]


async def test_starting_from_the_customers_finds_what_reading_the_orders_finds(
    ctx: AppContext, world: World, monkeypatch: pytest.MonkeyPatch
):
    """On PostgreSQL a search whose words fit few customers starts from them (a trigram
    index); one that fits many reads the orders newest first. Both give the same pages."""
    await placing.place_order(
        ctx,
        OrderRequest(
            coid="KOA",
            access_id="A2",
            service_ids=[101, 102],
            customer=customer(3, firstname="Åsa-Märta", surname="Öst Berg"),
            delivery=None,
        ),
    )
    await admin.add_access(
        ctx,
        coid="KOA",
        access_id="LONGID77",
        street_name="Långgatan",
        street_number="7",
        postal_code="12345",
        city="Teststad",
    )
    await placing.place_order(
        ctx,
        OrderRequest(
            coid="KOA",
            access_id="LONGID77",
            service_ids=[101],
            customer=customer(8),
            delivery=None,
        ),
    )
    callers = []
    for coid, xsp in (("KOA", None), ("KOB", None), (None, 1001), (None, 1002)):
        org = await admin.find_org(ctx, coid=coid, xsp=xsp)
        kind = OrgKind.KO if coid else OrgKind.TL
        callers.append(Caller(1, "staff", org.id, org.name, kind))
    orders = [str(o) for o in world.orders.values()]

    async def pages(few: int) -> list[list[int]]:
        monkeypatch.setattr(staff_repo, "FEW_CUSTOMERS", few)
        out = []
        async with ctx.db.read() as conn:
            for caller in callers:
                for q in [*SEARCHES, *orders]:
                    for limit in (1, 50):
                        rows = await staff_repo.list_orders(
                            conn, caller, OrderFilter(text=q), before=None, limit=limit
                        )
                        out.append([r.id for r in rows])
        return out

    reading = await pages(0)
    starting = await pages(10**9)
    assert starting == reading
    assert sum(map(len, reading)) > 20  # the searches do find orders
