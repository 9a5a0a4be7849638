"""Address search in the market database."""

from __future__ import annotations

from serviceguide.domain.addresses import parse_query
from serviceguide.domain.model import AddressMatch
from serviceguide.services.context import AppContext
from serviceguide.storage import accesses


async def search_addresses(ctx: AppContext, q: str, limit: int = 20) -> list[AddressMatch]:
    """Up to ``limit`` accesses matching the free text ``q``, best matches first.

    ``q`` is read as street, number (with or without littera), postal code and city, with
    case, å ä ö, spacing and the abbreviations "g."/"v." not mattering: "ostra agatan 7 b",
    "Demog. 123", "123 45" and "Demostad" all work. Exact street (or city) matches come first,
    then streets that start with what was typed, each by street, number, littera, apartment.
    """
    query = parse_query(q[:200])
    if query.is_empty or limit <= 0:
        return []
    found = await accesses.search(ctx.db.reader, query, limit)
    if not found and (split := query.with_last_word_as_city()) is not None:
        found = await accesses.search(ctx.db.reader, split, limit)
    return found
