"""Which TLs each KO admits to sell in its network, and the one rule of what the guide offers.

A service is **offered** when it is active, its TL is admitted to its network, and both its TL
and the network's KO are active organisations. :func:`offered` is that rule as a SQL condition
over ``services`` (and the organisations it joins); the guide's service list, order placement
and ON-API's service names all use it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, exists, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.model import Organisation
from serviceguide.storage.tables import network_admissions, networks, organisations, services

_tl = organisations.alias("offer_tl")
_ko = organisations.alias("offer_ko")


def offered() -> ColumnElement[bool]:
    """The condition that a row of ``services`` is offered in the guide."""
    return and_(
        services.c.active.is_(True),
        exists().where(
            network_admissions.c.network_id == services.c.network_id,
            network_admissions.c.tl_org_id == services.c.tl_org_id,
        ),
        exists().where(_tl.c.id == services.c.tl_org_id, _tl.c.active.is_(True)),
        exists().where(
            networks.c.id == services.c.network_id,
            _ko.c.id == networks.c.ko_org_id,
            _ko.c.active.is_(True),
        ),
    )


async def admitted_tls(conn: AsyncConnection, network_id: int) -> list[Organisation]:
    from serviceguide.storage.catalogue import _org  # catalogue imports this module

    q = (
        select(organisations)
        .join(network_admissions, network_admissions.c.tl_org_id == organisations.c.id)
        .where(network_admissions.c.network_id == network_id)
        .order_by(organisations.c.name, organisations.c.id)
    )
    return [_org(r) for r in await conn.execute(q)]


async def is_admitted(conn: AsyncConnection, network_id: int, tl_org_id: int) -> bool:
    q = select(
        exists().where(
            network_admissions.c.network_id == network_id,
            network_admissions.c.tl_org_id == tl_org_id,
        )
    )
    return bool((await conn.execute(q)).scalar_one())


async def admit(conn: AsyncConnection, network_id: int, tl_org_id: int, now: datetime) -> bool:
    """Admit the TL; False if it already was."""
    if await is_admitted(conn, network_id, tl_org_id):
        return False
    await conn.execute(
        insert(network_admissions).values(
            network_id=network_id, tl_org_id=tl_org_id, admitted_at=now
        )
    )
    return True


async def withdraw(conn: AsyncConnection, network_id: int, tl_org_id: int) -> bool:
    """Withdraw the TL; False if it was not admitted."""
    result = await conn.execute(
        delete(network_admissions).where(
            network_admissions.c.network_id == network_id,
            network_admissions.c.tl_org_id == tl_org_id,
        )
    )
    return bool(result.rowcount)


async def networks_of_tl(conn: AsyncConnection, tl_org_id: int) -> list[tuple[int, str, str, bool]]:
    """The networks that admit the TL: (id, coId, name, has an activation URL), by name."""
    q = (
        select(networks.c.id, networks.c.coid, networks.c.name, networks.c.activation_url)
        .join(network_admissions, network_admissions.c.network_id == networks.c.id)
        .where(network_admissions.c.tl_org_id == tl_org_id)
        .order_by(networks.c.name, networks.c.id)
    )
    return [(r.id, r.coid, r.name, r.activation_url is not None) for r in await conn.execute(q)]
