"""Address search in the market database."""

from __future__ import annotations

from serviceguide.domain.model import AddressMatch
from serviceguide.services.context import AppContext
from serviceguide.storage import catalogue


async def search_addresses(ctx: AppContext, q: str, limit: int = 20) -> list[AddressMatch]:
    """Up to ``limit`` accesses matching the free text ``q``, best matches first."""
    text = q.strip()
    if not text:
        return []
    async with ctx.db.read() as conn:
        found = await catalogue.search_accesses_simple(conn, text.split()[0], limit)
    return [
        AddressMatch(
            coid=a.coid,
            access_id=a.access_id,
            address=f"{a.street_address}, {a.postal_code} {a.city}",
            premise=a.mdu_apartment_number,
        )
        for a in found
    ]
