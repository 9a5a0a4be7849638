"""Managing the service catalogue: what the guide offers follows it."""

from __future__ import annotations

import pytest

from serviceguide.domain.errors import InvalidInput, NotFound
from serviceguide.services import admin, guide
from serviceguide.services.context import AppContext
from tests.support.world import World

pytestmark = pytest.mark.integration


async def offered(ctx: AppContext) -> dict[int, object]:
    return {s.id: s for s in await guide.services_for_access(ctx, "KOA", "A1")}


async def test_an_inactive_service_is_no_longer_offered_and_can_return(
    ctx: AppContext, world: World
):
    await admin.update_service(ctx, 102, active=False)
    assert set(await offered(ctx)) == {101}
    await admin.update_service(ctx, 102, active=True)
    assert set(await offered(ctx)) == {101, 102}


async def test_prices_name_and_description_change_what_the_guide_shows(
    ctx: AppContext, world: World
):
    await admin.update_service(
        ctx, 101, name="Tjänst 250/250", description="250/250 Mbit/s", price_monthly="349.5"
    )
    s = (await offered(ctx))[101]
    assert (s.name, s.description, str(s.price_monthly)) == (  # type: ignore[attr-defined]
        "Tjänst 250/250",
        "250/250 Mbit/s",
        "349.50",
    )


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"price_monthly": "abc"}, "price_monthly"),
        ({"price_once": "-1"}, "price_once"),
        ({"name": "  "}, "name"),
        ({}, "service"),
    ],
)
async def test_bad_changes_are_refused_and_nothing_changes(
    ctx: AppContext, world: World, changes: dict[str, str], field: str
):
    before = await offered(ctx)
    with pytest.raises(InvalidInput) as e:
        await admin.update_service(ctx, 101, **changes)  # type: ignore[arg-type]
    assert e.value.field == field
    assert await offered(ctx) == before


async def test_an_unknown_service_is_not_found(ctx: AppContext, world: World):
    with pytest.raises(NotFound):
        await admin.update_service(ctx, 999, active=False)


async def test_the_overview_lists_every_service_with_its_tl_and_network(
    ctx: AppContext, world: World
):
    rows = await admin.catalogue_overview(ctx)
    assert {(r["id"], r["coid"], r["xsp"]) for r in rows} == {
        (101, "KOA", 1001),
        (102, "KOA", 1002),
        (103, "KOB", 1001),
    }
