"""A TL admin's services: create, change and retire them, in the networks whose KO admits the TL.

What is saved here is what the guide offers at once (the guide reads services on every page);
orders already placed keep the name and prices they were placed with. A service is never
deleted: retiring it takes it out of the guide, and its orders keep it. Services read from the
TL's ON-API products (services.products) are changed there, not here.

The rules, checked before anything is stored (domain.catalogue.service_fields): a product code
(uid) of 1-40 of ``A-Z a-z 0-9 - . _``, unique among the TL's services in use in the network; a
name; prices from 0 to 99 999 999.99 (a decimal comma or point); a category; direct activation
only where the network has an activation URL; and only in a network that admits the TL.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.catalogue import service_fields
from serviceguide.domain.clock import utcnow
from serviceguide.domain.errors import Forbidden, InvalidInput
from serviceguide.domain.model import OrgKind
from serviceguide.domain.roles import Actor, require_admin, require_own
from serviceguide.services import audit
from serviceguide.services.context import AppContext
from serviceguide.storage import admissions, catalogue
from serviceguide.storage import organisations as orgs
from serviceguide.storage.catalogue import ServiceRecord


@dataclass(frozen=True, slots=True)
class AdmittedNetwork:
    id: int
    coid: str
    name: str
    direct_activation: bool  # the network has an activation URL


@dataclass(frozen=True, slots=True)
class ServicesView:
    networks: list[AdmittedNetwork]
    services: list[ServiceRecord]  # the TL's, in every network, active first
    coid_of: dict[int, str]  # network id → coId


def _tl_id(actor: Actor) -> int:
    require_admin(actor, OrgKind.TL)
    if actor.org_id is None:
        raise InvalidInput("xsp", "the command line uses `serviceguide services create`")
    return actor.org_id


async def view(ctx: AppContext, actor: Actor) -> ServicesView:
    tl_id = _tl_id(actor)
    async with ctx.db.read() as conn:
        nets = await admissions.networks_of_tl(conn, tl_id)
        mine = await catalogue.list_services(conn, tl_id)
        every = await catalogue.list_networks(conn)
    return ServicesView(
        networks=[AdmittedNetwork(*n) for n in nets],
        services=sorted(mine, key=lambda s: (not s.active, s.network_id, s.id)),
        coid_of={n.id: n.coid for n in every},
    )


async def _network_for(
    conn: AsyncConnection, tl_id: int, coid: str, direct: bool
) -> catalogue.NetworkRecord:
    network = await catalogue.network_by_coid(conn, coid.strip()) if coid.strip() else None
    if network is None:
        raise InvalidInput("coid", f"no network {coid!r}")
    if not await admissions.is_admitted(conn, network.id, tl_id):
        raise InvalidInput("coid", f"the network {network.coid} has not admitted you")
    if direct and network.activation_url is None:
        raise InvalidInput("direct_activation", "the network has no direct activation")
    return network


async def _uid_free(
    conn: AsyncConnection, tl_id: int, network_id: int, uid: str, but: int | None = None
) -> None:
    for s in await catalogue.list_services(conn, tl_id):
        if (
            s.active
            and s.source == "manual"  # offerings from the TL's products share their coProduct
            and s.network_id == network_id
            and s.uid == uid
            and s.id != but
        ):
            raise InvalidInput("uid", f"you already have a service {uid} in the network")


def _shown(s: ServiceRecord | dict[str, object], coid: str) -> dict[str, object]:
    get = s.get if isinstance(s, dict) else lambda k: getattr(s, k)
    keys = ("uid", "name", "description", "price_monthly", "price_once", "category")
    return {
        "coid": coid,
        **{k: get(k) for k in keys},
        "direct_activation": get("direct_activation"),
    }


async def create(
    ctx: AppContext,
    actor: Actor,
    *,
    coid: str,
    uid: str,
    name: str,
    price_monthly: str | Decimal,
    price_once: str | Decimal,
    description: str = "",
    category: str = "other",
    direct_activation: bool = False,
) -> int:
    """A new service of the admin's TL in the network ``coid``; offered in the guide at once."""
    tl_id = _tl_id(actor)
    values = service_fields(
        uid=uid,
        name=name,
        price_monthly=price_monthly,
        price_once=price_once,
        description=description,
        category=category,
    )
    async with ctx.db.write() as conn:
        network = await _network_for(conn, tl_id, coid, direct_activation)
        await _uid_free(conn, tl_id, network.id, str(values["uid"]))
        service_id = await catalogue.next_service_id(conn)
        await catalogue.insert_service(
            conn,
            id=service_id,
            tl_org_id=tl_id,
            network_id=network.id,
            direct_activation=direct_activation,
            created_at=utcnow(),
            **values,
        )
        values["direct_activation"] = direct_activation
        await audit.record(
            conn,
            actor,
            await orgs.by_id(conn, tl_id),
            "service.create",
            f"service {service_id}",
            after=_shown(values, network.coid),
        )
    return service_id


async def _mine(conn: AsyncConnection, actor: Actor, service_id: int) -> ServiceRecord:
    found = await catalogue.service_by_id(conn, service_id)
    require_own(actor, found.tl_org_id if found else None, "service", service_id)
    assert found is not None
    if found.source != "manual":
        raise Forbidden("This service comes from your ON-API products: change it there")
    return found


async def update(
    ctx: AppContext,
    actor: Actor,
    service_id: int,
    *,
    coid: str,
    uid: str,
    name: str,
    price_monthly: str | Decimal,
    price_once: str | Decimal,
    description: str = "",
    category: str = "other",
    direct_activation: bool = False,
) -> None:
    """Change a service of the admin's TL (every field, as the edit form sends them)."""
    tl_id = _tl_id(actor)
    values = service_fields(
        uid=uid,
        name=name,
        price_monthly=price_monthly,
        price_once=price_once,
        description=description,
        category=category,
    )
    async with ctx.db.write() as conn:
        before = await _mine(conn, actor, service_id)
        network = await _network_for(conn, tl_id, coid, direct_activation)
        if before.active:
            await _uid_free(conn, tl_id, network.id, str(values["uid"]), but=service_id)
        values["direct_activation"] = direct_activation
        await catalogue.update_service(conn, service_id, network_id=network.id, **values)
        coids = {n.id: n.coid for n in await catalogue.list_networks(conn)}
        old, new = audit_changed(
            _shown(before, coids[before.network_id]), _shown(values, network.coid)
        )
        if new:
            await audit.record(
                conn,
                actor,
                await orgs.by_id(conn, tl_id),
                "service.update",
                f"service {service_id}",
                before=old,
                after=new,
            )


async def retire(ctx: AppContext, actor: Actor, service_id: int) -> None:
    """Take the service out of the guide from now on; its orders keep it."""
    tl_id = _tl_id(actor)
    async with ctx.db.write() as conn:
        before = await _mine(conn, actor, service_id)
        if not before.active:
            return
        await catalogue.update_service(conn, service_id, active=False)
        await audit.record(
            conn,
            actor,
            await orgs.by_id(conn, tl_id),
            "service.retire",
            f"service {service_id}",
            before={"active": True},
            after={"active": False},
        )


def audit_changed(
    before: dict[str, object], after: dict[str, object]
) -> tuple[dict[str, object], dict[str, object]]:
    """The fields that changed, as text (a price 299 and 299.00 are the same)."""
    keys = [k for k in after if str(before.get(k)) != str(after[k])]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}
