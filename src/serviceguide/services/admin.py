"""Setting up organisations, networks, accesses, services and users (CLI and demo data)."""

from __future__ import annotations

from decimal import Decimal

from serviceguide.domain.catalogue import (
    ACCESS_ID,
    COID,
    POSTAL_CODE,
    SERVICE_UID,
    PremisesType,
    check,
    price,
)
from serviceguide.domain.catalogue import postal_code as normalised_postal_code
from serviceguide.domain.clock import utcnow
from serviceguide.domain.errors import Conflict, InvalidInput, NotFound
from serviceguide.domain.mailaddress import normalise_email
from serviceguide.domain.model import Organisation, OrgKind
from serviceguide.domain.roles import Role
from serviceguide.services import accounts, audit
from serviceguide.services.accounts import NewCredentials
from serviceguide.services.context import AppContext
from serviceguide.storage import accesses, admissions, catalogue, organisations


async def create_ko(
    ctx: AppContext, coid: str, name: str, activation_url: str | None = None
) -> int:
    """A KO and its network, both named by the coId."""
    check(COID, coid, "coid", "coId (2-16 capital letters or digits)")
    async with ctx.db.write() as conn:
        if await catalogue.org_by_coid(conn, coid) is not None:
            raise Conflict(f"A KO with coId {coid} already exists")
        now = utcnow()
        org_id = await catalogue.insert_organisation(
            conn, kind=OrgKind.KO, name=name, coid=coid, now=now
        )
        await catalogue.insert_network(
            conn, coid=coid, name=name, ko_org_id=org_id, activation_url=activation_url, now=now
        )
        after = {"coid": coid, "name": name, "activation_url": activation_url or ""}
        org = await organisations.by_id(conn, org_id)
        await audit.record(conn, audit.cli_actor(), org, "org.create", f"KO {coid}", after=after)
    return org_id


async def create_tl(ctx: AppContext, xsp: int, name: str, order_email: str) -> int:
    if xsp <= 0:
        raise InvalidInput("xsp", "xsp must be a positive integer")
    order_email = normalise_email(order_email, field="email")
    async with ctx.db.write() as conn:
        if await catalogue.org_by_xsp(conn, xsp) is not None:
            raise Conflict(f"A TL with xsp {xsp} already exists")
        org_id = await catalogue.insert_organisation(
            conn, kind=OrgKind.TL, name=name, xsp=xsp, order_email=order_email, now=utcnow()
        )
        after = {"xsp": xsp, "name": name, "order_email": order_email}
        org = await organisations.by_id(conn, org_id)
        await audit.record(conn, audit.cli_actor(), org, "org.create", f"TL {xsp}", after=after)
        return org_id


async def find_org(
    ctx: AppContext, *, coid: str | None = None, xsp: int | None = None
) -> Organisation:
    async with ctx.db.read() as conn:
        org = (
            await catalogue.org_by_coid(conn, coid)
            if coid is not None
            else await catalogue.org_by_xsp(conn, xsp)
            if xsp is not None
            else None
        )
    if org is None:
        raise NotFound("organisation", coid or xsp)
    return org


async def set_activation_url(ctx: AppContext, coid: str, url: str | None) -> None:
    async with ctx.db.write() as conn:
        if not await catalogue.set_activation_url(conn, coid, url):
            raise NotFound("network", coid)
        await audit.record(
            conn,
            audit.cli_actor(),
            await catalogue.org_by_coid(conn, coid),
            "network.update",
            f"network {coid}",
            after={"activation_url": url or ""},
        )


async def add_access(
    ctx: AppContext,
    *,
    coid: str,
    access_id: str,
    street_name: str,
    street_number: str,
    postal_code: str,
    city: str,
    street_littera: str = "",
    premises_type: str = PremisesType.OTHER.value,
    mdu_apartment_number: str = "",
) -> int:
    check(ACCESS_ID, access_id, "accessId", "accessId (1-36 of 0-9 a-z A-Z - .)")
    postal_code = check(
        POSTAL_CODE, normalised_postal_code(postal_code), "postalCode", "postal code (5 digits)"
    )
    if premises_type not in PremisesType.__members__:
        raise InvalidInput("premisesType", f"premisesType must be one of {list(PremisesType)}")
    if not street_name.strip() or not street_number.strip() or not city.strip():
        raise InvalidInput("address", "street name, street number and city are required")
    async with ctx.db.write() as conn:
        network = await catalogue.network_by_coid(conn, coid)
        if network is None:
            raise NotFound("network", coid)
        if await catalogue.access_by_id(conn, coid, access_id, retired=True) is not None:
            raise Conflict(f"Access {access_id} already exists in {coid}")
        return await catalogue.insert_access(
            conn,
            network_id=network.id,
            access_id=access_id,
            street_name=street_name.strip(),
            street_number=street_number.strip(),
            street_littera=street_littera.strip(),
            postal_code=postal_code,
            city=city.strip(),
            premises_type=premises_type,
            mdu_apartment_number=mdu_apartment_number,
            updated_at=utcnow(),
            **accesses.search_keys(
                street_name=street_name.strip(),
                street_number=street_number.strip(),
                street_littera=street_littera.strip(),
                city=city.strip(),
            ),
        )


async def create_service(
    ctx: AppContext,
    *,
    xsp: int,
    coid: str,
    uid: str,
    name: str,
    price_monthly: Decimal | str,
    price_once: Decimal | str,
    direct_activation: bool = False,
    description: str = "",
    service_id: int | None = None,
) -> int:
    check(SERVICE_UID, uid, "uid", "product code")
    monthly = price(price_monthly, "price_monthly")
    once = price(price_once, "price_once")
    if not name.strip():
        raise InvalidInput("name", "name is required")
    async with ctx.db.write() as conn:
        tl = await catalogue.org_by_xsp(conn, xsp)
        if tl is None:
            raise NotFound("TL", xsp)
        network = await catalogue.network_by_coid(conn, coid)
        if network is None:
            raise NotFound("network", coid)
        if service_id is None:
            service_id = await catalogue.next_service_id(conn)
        elif await catalogue.service_by_id(conn, service_id) is not None:
            raise Conflict(f"Service {service_id} already exists")
        # The operator's word admits the TL to the network, if its KO had not yet.
        await admissions.admit(conn, network.id, tl.id, utcnow())
        created = await catalogue.insert_service(
            conn,
            id=service_id,
            uid=uid,
            name=name.strip(),
            description=description,
            tl_org_id=tl.id,
            network_id=network.id,
            price_monthly=monthly,
            price_once=once,
            direct_activation=direct_activation,
            created_at=utcnow(),
        )
        await audit.record(
            conn,
            audit.cli_actor(),
            tl,
            "service.create",
            f"service {created}",
            after={"coid": coid, "uid": uid, "name": name.strip(), "price_monthly": monthly,
                   "price_once": once, "direct_activation": direct_activation},
        )  # fmt: skip
        return created


async def create_api_user(
    ctx: AppContext,
    org: Organisation,
    name: str,
    *,
    api_key: str | None = None,
    ip_allowlist: list[str] | None = None,
) -> NewCredentials:
    """A new API user, made by the operator (services.accounts has the rules)."""
    return await accounts.create_api_user(
        ctx, audit.cli_actor(), org, name, ip_allowlist, api_key=api_key
    )


async def create_staff_user(
    ctx: AppContext,
    org: Organisation,
    username: str,
    name: str,
    *,
    password: str | None = None,
    role: Role | str = Role.HANDLER,
) -> NewCredentials:
    """A new staff user, made by the operator (services.accounts has the rules)."""
    return await accounts.create_staff_user(
        ctx, audit.cli_actor(), org, username, name, role, password=password
    )


async def update_service(
    ctx: AppContext,
    service_id: int,
    *,
    name: str | None = None,
    description: str | None = None,
    price_monthly: Decimal | str | None = None,
    price_once: Decimal | str | None = None,
    direct_activation: bool | None = None,
    active: bool | None = None,
) -> None:
    """Change what is given; an inactive service is no longer offered in the guide (its orders
    stay as they are)."""
    values: dict[str, object] = {}
    if name is not None:
        if not name.strip():
            raise InvalidInput("name", "name must not be empty")
        values["name"] = name.strip()
    if description is not None:
        values["description"] = description.strip()
    if price_monthly is not None:
        values["price_monthly"] = price(price_monthly, "price_monthly")
    if price_once is not None:
        values["price_once"] = price(price_once, "price_once")
    if direct_activation is not None:
        values["direct_activation"] = direct_activation
    if active is not None:
        values["active"] = active
    if not values:
        raise InvalidInput("service", "nothing to change")
    async with ctx.db.write() as conn:
        before = await catalogue.service_by_id(conn, service_id)
        if before is None or not await catalogue.update_service(conn, service_id, **values):
            raise NotFound("service", service_id)
        await audit.record(
            conn,
            audit.cli_actor(),
            await organisations.by_id(conn, before.tl_org_id),
            "service.update",
            f"service {service_id}",
            before={k: getattr(before, k) for k in values},
            after=values,
        )


async def catalogue_overview(ctx: AppContext) -> list[dict[str, object]]:
    async with ctx.db.read() as conn:
        return await catalogue.services_overview(conn)


async def org_by_id(ctx: AppContext, org_id: int) -> Organisation:
    async with ctx.db.read() as conn:
        org = await organisations.by_id(conn, org_id)
    if org is None:
        raise NotFound("organisation", org_id)
    return org
