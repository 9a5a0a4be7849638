"""Organisations, networks, accesses and services."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.clock import utcnow
from serviceguide.domain.model import OfferedService, Organisation, OrgKind
from serviceguide.storage.admissions import offered
from serviceguide.storage.tables import accesses, networks, organisations, services


@dataclass(frozen=True, slots=True)
class NetworkRecord:
    id: int
    coid: str
    name: str
    ko_org_id: int
    activation_url: str | None


@dataclass(frozen=True, slots=True)
class AccessRecord:
    id: int
    network_id: int
    coid: str
    access_id: str
    street_name: str
    street_number: str
    street_littera: str
    postal_code: str
    city: str
    mdu_apartment_number: str

    @property
    def street_address(self) -> str:
        return f"{self.street_name} {self.street_number}{self.street_littera}".strip()


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    id: int
    uid: str
    name: str
    tl_org_id: int
    network_id: int
    price_monthly: Decimal
    price_once: Decimal
    direct_activation: bool
    active: bool
    offered: bool = False  # in the guide now (storage.admissions.offered); where it is asked
    category: str = "other"
    description: str = ""
    source: str = "manual"  # or "onapi": read from the TL's products (services.products)
    product_id: str | None = None
    offering_id: str | None = None
    offering_name: str | None = None
    price_period: str | None = None  # ISO 8601; None: a month
    agreement_length: str | None = None
    notice_period: str | None = None
    campaign: bool = False
    campaign_length: str | None = None
    base_price: Decimal | None = None
    consumer_types: tuple[str, ...] = ()
    terms_url: str | None = None
    privacy_url: str | None = None

    @property
    def full_name(self) -> str:
        """The name an order keeps: an offering's product and offering name together."""
        if self.offering_name:
            return f"{self.name} – {self.offering_name}"[:200]
        return self.name

    @property
    def onapi_ids(self) -> tuple[str, str]:
        """The productId and offeringId the TL knows the service by: those of its products for
        an offering read from them, the service's uid (its product code) for both otherwise."""
        if self.product_id and self.offering_id:
            return self.product_id, self.offering_id
        return self.uid, self.uid


def _org(r: Any) -> Organisation:
    return Organisation(
        id=r.id,
        kind=OrgKind(r.kind),
        name=r.name,
        coid=r.coid,
        xsp=r.xsp,
        order_email=r.order_email,
        phone=r.phone,
        contact_email=r.contact_email,
        website=r.website,
        opening_hours=r.opening_hours,
        active=bool(r.active),
    )


async def insert_organisation(
    conn: AsyncConnection,
    *,
    kind: OrgKind,
    name: str,
    now: datetime,
    coid: str | None = None,
    xsp: int | None = None,
    order_email: str | None = None,
) -> int:
    result = await conn.execute(
        insert(organisations)
        .values(
            kind=kind.value, name=name, coid=coid, xsp=xsp, order_email=order_email, created_at=now
        )
        .returning(organisations.c.id)
    )
    return int(result.scalar_one())


def holds_nul(*texts: str) -> bool:
    """A NUL character: no stored name holds one, and PostgreSQL refuses to compare with it."""
    return any("\x00" in t for t in texts)


async def org_by_coid(conn: AsyncConnection, coid: str) -> Organisation | None:
    if holds_nul(coid):
        return None
    r = (await conn.execute(select(organisations).where(organisations.c.coid == coid))).first()
    return None if r is None else _org(r)


async def org_by_xsp(conn: AsyncConnection, xsp: int) -> Organisation | None:
    r = (await conn.execute(select(organisations).where(organisations.c.xsp == xsp))).first()
    return None if r is None else _org(r)


async def list_organisations(conn: AsyncConnection) -> list[Organisation]:
    rows = await conn.execute(select(organisations).order_by(organisations.c.id))
    return [_org(r) for r in rows]


async def update_organisation(conn: AsyncConnection, org_id: int, **values: Any) -> None:
    await conn.execute(update(organisations).where(organisations.c.id == org_id).values(**values))


async def kos_overview(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Every KO with its network's activation URL and how many accesses it has in use."""
    in_use = (
        select(func.count())
        .where(accesses.c.network_id == networks.c.id, accesses.c.retired_at.is_(None))
        .scalar_subquery()
    )
    q = (
        select(
            organisations.c.coid,
            organisations.c.name,
            networks.c.activation_url,
            in_use.label("accesses"),
            organisations.c.created_at,
        )
        .join(networks, networks.c.ko_org_id == organisations.c.id)
        .where(organisations.c.kind == OrgKind.KO.value)
        .order_by(organisations.c.coid)
    )
    return [dict(r._mapping) for r in await conn.execute(q)]


async def tls_overview(conn: AsyncConnection) -> list[tuple[Organisation, int, datetime]]:
    """Every TL with how many services it offers (active ones) and when it was created, by
    xsp."""
    active = (
        select(func.count())
        .where(services.c.tl_org_id == organisations.c.id, services.c.active.is_(True))
        .scalar_subquery()
    )
    q = (
        select(organisations, active.label("services"))
        .where(organisations.c.kind == OrgKind.TL.value)
        .order_by(organisations.c.xsp)
    )
    return [(_org(r), int(r.services), r.created_at) for r in await conn.execute(q)]


async def insert_network(
    conn: AsyncConnection,
    *,
    coid: str,
    name: str,
    ko_org_id: int,
    activation_url: str | None,
    now: datetime,
) -> int:
    result = await conn.execute(
        insert(networks)
        .values(
            coid=coid,
            name=name,
            ko_org_id=ko_org_id,
            activation_url=activation_url,
            created_at=now,
        )
        .returning(networks.c.id)
    )
    return int(result.scalar_one())


def _network(r: Any) -> NetworkRecord:
    return NetworkRecord(
        id=r.id,
        coid=r.coid,
        name=r.name,
        ko_org_id=r.ko_org_id,
        activation_url=r.activation_url,
    )


async def network_by_coid(conn: AsyncConnection, coid: str) -> NetworkRecord | None:
    if holds_nul(coid):
        return None
    r = (await conn.execute(select(networks).where(networks.c.coid == coid))).first()
    return None if r is None else _network(r)


async def list_networks(conn: AsyncConnection) -> list[NetworkRecord]:
    return [_network(r) for r in await conn.execute(select(networks).order_by(networks.c.id))]


async def set_activation_url(conn: AsyncConnection, coid: str, url: str | None) -> bool:
    result = await conn.execute(
        update(networks).where(networks.c.coid == coid).values(activation_url=url)
    )
    return result.rowcount == 1


async def insert_access(conn: AsyncConnection, **values: Any) -> int:
    result = await conn.execute(insert(accesses).values(**values).returning(accesses.c.id))
    return int(result.scalar_one())


_access_cols = (
    accesses.c.id,
    accesses.c.network_id,
    networks.c.coid,
    accesses.c.access_id,
    accesses.c.street_name,
    accesses.c.street_number,
    accesses.c.street_littera,
    accesses.c.postal_code,
    accesses.c.city,
    accesses.c.mdu_apartment_number,
)


def _access(r: Any) -> AccessRecord:
    return AccessRecord(
        id=r.id,
        network_id=r.network_id,
        coid=r.coid,
        access_id=r.access_id,
        street_name=r.street_name,
        street_number=r.street_number,
        street_littera=r.street_littera,
        postal_code=r.postal_code,
        city=r.city,
        mdu_apartment_number=r.mdu_apartment_number,
    )


async def access_by_id(
    conn: AsyncConnection, coid: str, access_id: str, *, retired: bool = False
) -> AccessRecord | None:
    """An access in use (``retired=True``: or retired, i.e. stored at all)."""
    if holds_nul(coid, access_id):
        return None
    q = (
        select(*_access_cols)
        .join(networks, networks.c.id == accesses.c.network_id)
        .where(networks.c.coid == coid, accesses.c.access_id == access_id)
    )
    if not retired:
        q = q.where(accesses.c.retired_at.is_(None))
    r = (await conn.execute(q)).first()
    return None if r is None else _access(r)


async def list_accesses(conn: AsyncConnection, network_id: int | None = None) -> list[AccessRecord]:
    """The accesses in use, of one network or all."""
    q = (
        select(*_access_cols)
        .join(networks, networks.c.id == accesses.c.network_id)
        .where(accesses.c.retired_at.is_(None))
    )
    if network_id is not None:
        q = q.where(accesses.c.network_id == network_id)
    return [_access(r) for r in await conn.execute(q.order_by(accesses.c.id))]


async def next_service_id(conn: AsyncConnection) -> int:
    """Service ids are chosen, not generated (they appear in TLs' systems): max + 1 by default."""
    top = (await conn.execute(select(func.max(services.c.id)))).scalar_one()
    return int(top or 1000) + 1


async def insert_service(conn: AsyncConnection, **values: Any) -> int:
    values.setdefault("updated_at", values.get("created_at"))
    result = await conn.execute(insert(services).values(**values).returning(services.c.id))
    return int(result.scalar_one())


def _offering_terms(r: Any) -> dict[str, Any]:
    """What customers compare beside the prices, from a row of ``services`` (the same fields on
    the catalogue's record and on what the guide offers)."""
    return {
        "offering_name": r.offering_name,
        "price_period": r.price_period,
        "agreement_length": r.agreement_length,
        "notice_period": r.notice_period,
        "campaign": bool(r.campaign),
        "campaign_length": r.campaign_length,
        "base_price": None if r.base_price is None else Decimal(r.base_price),
        "consumer_types": split_types(r.consumer_types),
        "terms_url": r.terms_url,
        "privacy_url": r.privacy_url,
    }


def _service(r: Any) -> ServiceRecord:
    return ServiceRecord(
        id=r.id,
        uid=r.uid,
        name=r.name,
        tl_org_id=r.tl_org_id,
        network_id=r.network_id,
        price_monthly=Decimal(r.price_monthly),
        price_once=Decimal(r.price_once),
        direct_activation=r.direct_activation,
        active=r.active,
        offered=bool(r.offered) if "offered" in r._fields else False,
        category=r.category,
        description=r.description,
        source=r.source,
        product_id=r.product_id,
        offering_id=r.offering_id,
        **_offering_terms(r),
    )


def split_types(value: str | None) -> tuple[str, ...]:
    return tuple(t for t in (value or "").split(",") if t)


async def service_by_id(conn: AsyncConnection, service_id: int) -> ServiceRecord | None:
    r = (await conn.execute(select(services).where(services.c.id == service_id))).first()
    return None if r is None else _service(r)


async def services_with_xsp(
    conn: AsyncConnection, service_ids: Sequence[int]
) -> dict[int, tuple[ServiceRecord, int]]:
    """The services among ``service_ids`` that exist, each with its TL's xsp (one query)."""
    q = select(services, organisations.c.xsp.label("tl_xsp"), offered().label("offered")).join(
        organisations, organisations.c.id == services.c.tl_org_id
    )
    rows = await conn.execute(q.where(services.c.id.in_(list(service_ids))))
    return {r.id: (_service(r), r.tl_xsp) for r in rows}


async def list_services(conn: AsyncConnection, tl_org_id: int | None = None) -> list[ServiceRecord]:
    q = select(services)
    if tl_org_id is not None:
        q = q.where(services.c.tl_org_id == tl_org_id)
    return [_service(r) for r in await conn.execute(q.order_by(services.c.id))]


async def offered_services(conn: AsyncConnection, network_id: int) -> list[OfferedService]:
    """Active services on a network, with their TL; ordered by TL name, then price."""
    q = (
        select(
            services.c.id,
            services.c.uid,
            services.c.name,
            services.c.description,
            organisations.c.xsp,
            organisations.c.name.label("xsp_name"),
            services.c.price_monthly,
            services.c.price_once,
            (services.c.direct_activation & networks.c.activation_url.is_not(None)).label("direct"),
            *_COMPARED,
        )
        .join(organisations, organisations.c.id == services.c.tl_org_id)
        .join(networks, networks.c.id == services.c.network_id)
        .where(services.c.network_id == network_id, offered())
        .order_by(organisations.c.name, services.c.price_monthly, services.c.id)
    )
    return [
        OfferedService(
            id=r.id,
            uid=r.uid,
            name=r.name,
            description=r.description,
            xsp=r.xsp,
            xsp_name=r.xsp_name,
            price_monthly=Decimal(r.price_monthly),
            price_once=Decimal(r.price_once),
            direct_activation=bool(r.direct),
            **_offering_terms(r),
        )
        for r in await conn.execute(q)
    ]


#: The columns of what customers compare, beside the prices.
_COMPARED = (
    services.c.offering_name,
    services.c.price_period,
    services.c.agreement_length,
    services.c.notice_period,
    services.c.campaign,
    services.c.campaign_length,
    services.c.base_price,
    services.c.consumer_types,
    services.c.terms_url,
    services.c.privacy_url,
)


async def update_service(conn: AsyncConnection, service_id: int, **values: Any) -> bool:
    values.setdefault("updated_at", utcnow())
    result = await conn.execute(
        update(services).where(services.c.id == service_id).values(**values)
    )
    return result.rowcount == 1


async def services_overview(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Every service with its TL and network, for the catalogue listing."""
    q = (
        select(
            services,
            organisations.c.xsp,
            organisations.c.name.label("tl_name"),
            networks.c.coid,
        )
        .join(organisations, organisations.c.id == services.c.tl_org_id)
        .join(networks, networks.c.id == services.c.network_id)
        .order_by(networks.c.coid, organisations.c.xsp, services.c.id)
    )
    return [dict(r._mapping) for r in await conn.execute(q)]


async def update_network(conn: AsyncConnection, network_id: int, **values: Any) -> None:
    await conn.execute(update(networks).where(networks.c.id == network_id).values(**values))


async def first_access_id(conn: AsyncConnection, network_id: int) -> str | None:
    q = (
        select(accesses.c.access_id)
        .where(accesses.c.network_id == network_id)
        .order_by(accesses.c.id)
        .limit(1)
    )
    return (await conn.execute(q)).scalar_one_or_none()


async def network_by_id(conn: AsyncConnection, network_id: int) -> NetworkRecord | None:
    r = (await conn.execute(select(networks).where(networks.c.id == network_id))).first()
    return None if r is None else _network(r)
