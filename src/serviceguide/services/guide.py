"""What the guide shows: the services offered on an access."""

from __future__ import annotations

from serviceguide.domain.errors import NotFound
from serviceguide.domain.model import OfferedService
from serviceguide.services.context import AppContext
from serviceguide.storage import catalogue


async def services_for_access(ctx: AppContext, coid: str, access_id: str) -> list[OfferedService]:
    """The services a customer at this access can order; :class:`NotFound` for no such access."""
    async with ctx.db.read() as conn:
        access = await catalogue.access_by_id(conn, coid, access_id)
        if access is None:
            raise NotFound("access", f"{coid}/{access_id}")
        return await catalogue.offered_services(conn, access.network_id)
