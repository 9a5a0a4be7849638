"""What the platform's admins do: create a KO (with its network) or a TL together with its first
admin, list every organisation with its counts of users, API users and webhooks, look at one
organisation's settings, and disable or enable an organisation.

A new organisation and its first admin are made in one transaction: when anything is wrong (a
coId or xsp taken, a username taken, a bad address), nothing is stored. Disabling an
organisation ends its staff sessions and API login hashes at once, refuses their logins, and
takes it out of the guide (a TL's services and a KO's network are no longer offered); nothing is
deleted, and enabling it again brings everything back.

The platform sees settings, never orders or customer data: :func:`org_settings` returns no
secret and nothing about orders.
"""

from __future__ import annotations

from dataclasses import dataclass

import anyio

from serviceguide.domain.catalogue import COID, check
from serviceguide.domain.clock import utcnow
from serviceguide.domain.errors import InvalidInput, NotFound
from serviceguide.domain.mailaddress import normalise_email
from serviceguide.domain.model import Organisation, OrgKind
from serviceguide.domain.roles import Actor, Role, check_name, check_username, require_admin
from serviceguide.services import audit
from serviceguide.services.accounts import NewCredentials
from serviceguide.services.context import AppContext
from serviceguide.services.secrets import hash_secret, new_password
from serviceguide.storage import accounts as account_repo
from serviceguide.storage import admissions, catalogue, identity
from serviceguide.storage import organisations as repo
from serviceguide.storage import webhooks as webhook_repo
from serviceguide.storage.accounts import ApiAccount, StaffAccount
from serviceguide.storage.catalogue import NetworkRecord, ServiceRecord
from serviceguide.storage.organisations import OrgListing
from serviceguide.storage.webhooks import EndpointRecord

PLATFORM_NAME = "Plattformen"


@dataclass(frozen=True, slots=True)
class OrgSettings:
    """One organisation as the platform sees it: settings only, no secrets, no orders."""

    org: Organisation
    network: NetworkRecord | None  # a KO's
    admitted: list[Organisation]  # a KO's: the TLs admitted to its network
    services: list[ServiceRecord]  # a TL's
    staff: list[StaffAccount]
    api_users: list[ApiAccount]
    webhooks: list[EndpointRecord]


def _require_platform(actor: Actor) -> None:
    require_admin(actor, OrgKind.PLATFORM)


async def organisations(ctx: AppContext, actor: Actor) -> list[OrgListing]:
    _require_platform(actor)
    async with ctx.db.read() as conn:
        return await repo.listing(conn)


async def _first_admin(ctx: AppContext, username: str, name: str) -> tuple[str, str, str, str]:
    username = check_username(username)
    name = check_name(name, "admin_name")
    password = new_password()
    pw_hash = await anyio.to_thread.run_sync(hash_secret, password, ctx.settings.password_hashing)
    return username, name, password, pw_hash


async def create_ko(
    ctx: AppContext,
    actor: Actor,
    coid: str,
    name: str,
    admin_username: str,
    admin_name: str,
) -> NewCredentials:
    """A KO, its network (both named by the coId) and its first admin, whose password is
    returned once."""
    _require_platform(actor)
    coid = check(COID, coid.strip(), "coid", "coId (2-16 capital letters or digits)")
    name = check_name(name)
    username, person, password, pw_hash = await _first_admin(ctx, admin_username, admin_name)
    async with ctx.db.write() as conn:
        if await catalogue.org_by_coid(conn, coid) is not None:
            raise InvalidInput("coid", f"a KO with coId {coid} already exists")
        if await identity.staff_username_taken(conn, username):
            raise InvalidInput("username", f"the username {username} is taken")
        now = utcnow()
        org_id = await catalogue.insert_organisation(
            conn, kind=OrgKind.KO, name=name, coid=coid, now=now
        )
        await catalogue.insert_network(
            conn, coid=coid, name=name, ko_org_id=org_id, activation_url=None, now=now
        )
        org = await repo.by_id(conn, org_id)
        assert org is not None
        await _insert_admin(conn, actor, org, username, person, pw_hash)
        await audit.record(
            conn, actor, org, "org.create", f"KO {coid}", after={"coid": coid, "name": name}
        )
    return NewCredentials(username, password)


async def create_tl(
    ctx: AppContext,
    actor: Actor,
    xsp: int | str,
    name: str,
    order_email: str,
    admin_username: str,
    admin_name: str,
) -> NewCredentials:
    """A TL and its first admin, whose password is returned once."""
    _require_platform(actor)
    text = str(xsp).strip()
    if not text.isdigit() or not 0 < int(text) < 2**31:
        raise InvalidInput("xsp", "xsp must be a positive integer")
    number = int(text)
    name = check_name(name)
    email = normalise_email(order_email, field="order_email")
    username, person, password, pw_hash = await _first_admin(ctx, admin_username, admin_name)
    async with ctx.db.write() as conn:
        if await catalogue.org_by_xsp(conn, number) is not None:
            raise InvalidInput("xsp", f"a TL with xsp {number} already exists")
        if await identity.staff_username_taken(conn, username):
            raise InvalidInput("username", f"the username {username} is taken")
        org_id = await catalogue.insert_organisation(
            conn, kind=OrgKind.TL, name=name, xsp=number, order_email=email, now=utcnow()
        )
        org = await repo.by_id(conn, org_id)
        assert org is not None
        await _insert_admin(conn, actor, org, username, person, pw_hash)
        await audit.record(
            conn,
            actor,
            org,
            "org.create",
            f"TL {number}",
            after={"xsp": number, "name": name, "order_email": email},
        )
    return NewCredentials(username, password)


async def _insert_admin(
    conn: object, actor: Actor, org: Organisation, username: str, name: str, pw_hash: str
) -> None:
    user_id = await identity.insert_staff_user(
        conn,  # type: ignore[arg-type]
        org_id=org.id,
        username=username,
        name=name,
        password_hash=pw_hash,
        now=utcnow(),
    )
    await account_repo.set_staff(conn, user_id, role=Role.ADMIN.value)  # type: ignore[arg-type]
    await audit.record(
        conn,  # type: ignore[arg-type]
        actor,
        org,
        "staff.create",
        f"staff user {username}",
        after={"username": username, "name": name, "role": Role.ADMIN},
    )


async def set_org_active(ctx: AppContext, actor: Actor, org_id: int, active: bool) -> None:
    """Disable (sessions and login hashes end at once) or enable a KO or TL."""
    _require_platform(actor)
    async with ctx.db.write() as conn:
        org = await repo.by_id(conn, org_id)
        if org is None or org.kind == OrgKind.PLATFORM:
            raise NotFound("organisation", org_id)
        if org.active == active:
            return
        await repo.set_active(conn, org_id, active)
        if not active:
            await account_repo.end_staff_sessions(conn, org_id=org_id)
            await account_repo.end_api_sessions(conn, org_id=org_id)
        await audit.record(
            conn,
            actor,
            org,
            "org.enable" if active else "org.disable",
            f"{org.kind.value.upper()} {org.coid or org.xsp}",
            before={"active": org.active},
            after={"active": active},
        )
    ctx.basic_cache.clear()


async def org_settings(ctx: AppContext, actor: Actor, org_id: int) -> OrgSettings:
    _require_platform(actor)
    async with ctx.db.read() as conn:
        org = await repo.by_id(conn, org_id)
        if org is None:
            raise NotFound("organisation", org_id)
        network = (
            await catalogue.network_by_coid(conn, org.coid)
            if org.kind == OrgKind.KO and org.coid
            else None
        )
        admitted = await admissions.admitted_tls(conn, network.id) if network else []
        services = await catalogue.list_services(conn, org.id) if org.kind == OrgKind.TL else []
        staff = await account_repo.staff_of(conn, org.id)
        api = await account_repo.api_of(conn, org.id)
        hooks = [e for e in await webhook_repo.list_endpoints(conn) if e.org_id == org.id]
    return OrgSettings(org, network, admitted, services, staff, api, hooks)


async def platform_org(ctx: AppContext) -> Organisation:
    """The platform organisation, made when first asked for (by ``staff create --platform``)."""
    async with ctx.db.write() as conn:
        found = await repo.platform(conn)
        if found is not None:
            return found
        org_id = await catalogue.insert_organisation(
            conn, kind=OrgKind.PLATFORM, name=PLATFORM_NAME, now=utcnow()
        )
        org = await repo.by_id(conn, org_id)
        assert org is not None
        return org
