"""The people and programs of an organisation: its staff users (the web pages) and its API users
(the XSP order API, ON-API). One set of functions for the admin pages and the command line.

Every function takes the :class:`Actor` making the change and applies the rules of
:mod:`serviceguide.domain.roles`: an organisation's admin manages its own organisation's users
(another organisation's user is not found), the operator (the command line) every
organisation's. Every change is written to the admin log in its own transaction.

Secrets — a new password, a new API key — are returned once and stored only as argon2 hashes;
the admin log records that they changed, never them. A new password, a new key, a disabled user
and a disabled API user end that user's sessions or login hashes at once.

**An organisation never loses its last active admin**: taking the admin role from, or
disabling, the only active admin is refused (the organisation's row is locked for the check on
PostgreSQL; SQLite serialises writers). An organisation that has no admin yet (every one migrated
from before roles existed) gets its first from ``serviceguide staff create … --role admin``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import anyio
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.allowlist import parse_allowlist
from serviceguide.domain.clock import utcnow
from serviceguide.domain.errors import InvalidInput, NotFound
from serviceguide.domain.model import Organisation, OrgKind
from serviceguide.domain.roles import (
    Actor,
    Role,
    check_name,
    check_username,
    parse_role,
    require_admin,
    require_own,
)
from serviceguide.services import audit
from serviceguide.services.context import AppContext
from serviceguide.services.secrets import hash_secret, new_api_key, new_password
from serviceguide.storage import accounts as repo
from serviceguide.storage import identity
from serviceguide.storage import organisations as orgs
from serviceguide.storage.accounts import ApiAccount, StaffAccount

STAFF_KINDS = (OrgKind.KO, OrgKind.TL, OrgKind.PLATFORM)
API_KINDS = (OrgKind.KO, OrgKind.TL)


@dataclass(frozen=True, slots=True)
class NewCredentials:
    ident: int | str  # api_user number or staff username
    secret: str  # shown once, stored only as an argon2 hash


def _hash(ctx: AppContext, secret: str) -> str:
    return hash_secret(secret, ctx.settings.password_hashing)


async def _hashed(ctx: AppContext, secret: str) -> str:
    return await anyio.to_thread.run_sync(_hash, ctx, secret)


def _own_org(actor: Actor, org: Organisation | None) -> int | None:
    """The organisation whose users are meant: the actor's own (an admin), or ``org`` (the
    operator; None for every organisation)."""
    if actor.is_operator:
        return org.id if org else None
    if org is not None and org.id != actor.org_id:
        raise NotFound("organisation", org.id)
    return actor.org_id


async def _org(conn: AsyncConnection, org_id: int) -> Organisation:
    found = await orgs.by_id(conn, org_id)
    if found is None:
        raise NotFound("organisation", org_id)
    return found


def require_any_admin(actor: Actor) -> None:
    """The actor administers something: an admin of any organisation, or the operator."""
    require_admin(actor, *STAFF_KINDS)


def require_api_admin(actor: Actor) -> None:
    """The actor may manage API users: a KO's or TL's admin, or the operator."""
    require_admin(actor, *API_KINDS)


async def own_organisation(ctx: AppContext, actor: Actor) -> Organisation:
    """The signed-in admin's organisation."""
    require_any_admin(actor)
    if actor.org_id is None:
        raise InvalidInput("org", "the command line names the organisation")
    async with ctx.db.read() as conn:
        return await _org(conn, actor.org_id)


# --- staff users ---------------------------------------------------------------------------------


async def list_staff(
    ctx: AppContext, actor: Actor, org: Organisation | None = None
) -> list[StaffAccount]:
    """The staff users of the actor's organisation (the operator: of ``org``, or of all)."""
    require_admin(actor, *STAFF_KINDS)
    org_id = _own_org(actor, org)
    async with ctx.db.read() as conn:
        return await repo.staff_of(conn, org_id)


async def create_staff_user(
    ctx: AppContext,
    actor: Actor,
    org: Organisation,
    username: str,
    name: str,
    role: Role | str = Role.HANDLER,
    *,
    password: str | None = None,
) -> NewCredentials:
    """A new staff user of ``org`` (an admin: of its own organisation); the password is
    returned once. The platform's staff are always admins."""
    require_admin(actor, *STAFF_KINDS)
    _own_org(actor, org)
    username = check_username(username)
    name = check_name(name)
    role = parse_role(
        Role.ADMIN if org.kind == OrgKind.PLATFORM and role == Role.HANDLER else role,
        platform=org.kind == OrgKind.PLATFORM,
    )
    pw = password or new_password()
    pw_hash = await _hashed(ctx, pw)
    async with ctx.db.write() as conn:
        if await identity.staff_username_taken(conn, username):
            raise InvalidInput("username", f"the username {username} is taken")
        await identity.insert_staff_user(
            conn, org_id=org.id, username=username, name=name, password_hash=pw_hash, now=utcnow()
        )
        account = await repo.staff_account(conn, username=username)
        assert account is not None
        if role != Role.HANDLER:
            await repo.set_staff(conn, account.id, role=role.value)
        await audit.record(
            conn,
            actor,
            org,
            "staff.create",
            f"staff user {username}",
            after={"username": username, "name": name, "role": role},
        )
    return NewCredentials(username, pw)


async def _staff_target(
    conn: AsyncConnection, actor: Actor, *, user_id: int | None, username: str | None
) -> StaffAccount:
    if (user_id is None) == (username is None):
        raise InvalidInput("user", "name exactly one staff user")
    found = await repo.staff_account(conn, user_id=user_id, username=username)
    require_own(actor, found.org_id if found else None, "staff user", user_id or username)
    assert found is not None
    return found


async def _keep_an_admin(
    conn: AsyncConnection, target: StaffAccount, field: str, what: str
) -> None:
    """Refuse a change that would leave the target's organisation without an active admin."""
    if target.role != Role.ADMIN or not target.active:
        return
    await orgs.lock(conn, target.org_id)
    if await repo.active_admins(conn, target.org_id) <= 1:
        raise InvalidInput(
            field, f"{target.username} is the organisation's last active admin: {what}"
        )


async def reset_staff_password(
    ctx: AppContext, actor: Actor, *, user_id: int | None = None, username: str | None = None
) -> NewCredentials:
    """A new random password (returned once); every session of the user ends."""
    require_admin(actor, *STAFF_KINDS)
    password = new_password()
    pw_hash = await _hashed(ctx, password)
    async with ctx.db.write() as conn:
        target = await _staff_target(conn, actor, user_id=user_id, username=username)
        await repo.set_staff(conn, target.id, password_hash=pw_hash)
        await repo.end_staff_sessions(conn, user_id=target.id)
        await audit.record(
            conn,
            actor,
            await _org(conn, target.org_id),
            "staff.reset",
            f"staff user {target.username}",
            after={"new_credentials": "issued", "sessions": "ended"},
        )
    return NewCredentials(target.username, password)


async def set_staff_role(
    ctx: AppContext,
    actor: Actor,
    role: Role | str,
    *,
    user_id: int | None = None,
    username: str | None = None,
) -> StaffAccount:
    """Give the user ``role``; taking the last active admin's is refused."""
    require_admin(actor, *STAFF_KINDS)
    async with ctx.db.write() as conn:
        target = await _staff_target(conn, actor, user_id=user_id, username=username)
        org = await _org(conn, target.org_id)
        new = parse_role(role, platform=org.kind == OrgKind.PLATFORM)
        if new == target.role:
            return target
        if new == Role.HANDLER:
            await _keep_an_admin(conn, target, "role", "make another user admin first")
        await repo.set_staff(conn, target.id, role=new.value)
        await audit.record(
            conn,
            actor,
            org,
            "staff.role",
            f"staff user {target.username}",
            before={"role": target.role},
            after={"role": new},
        )
    return StaffAccount(
        target.id, target.org_id, target.username, target.name, new, target.active,
        target.created_at,
    )  # fmt: skip


async def set_staff_active(
    ctx: AppContext,
    actor: Actor,
    active: bool,
    *,
    user_id: int | None = None,
    username: str | None = None,
) -> StaffAccount:
    """Disable (its sessions end) or enable a staff user; disabling the organisation's last
    active admin is refused."""
    require_admin(actor, *STAFF_KINDS)
    async with ctx.db.write() as conn:
        target = await _staff_target(conn, actor, user_id=user_id, username=username)
        if target.active == active:
            return target
        if not active:
            await _keep_an_admin(conn, target, "active", "make another user admin first")
            await repo.end_staff_sessions(conn, user_id=target.id)
        await repo.set_staff(conn, target.id, active=active)
        await audit.record(
            conn,
            actor,
            await _org(conn, target.org_id),
            "staff.enable" if active else "staff.disable",
            f"staff user {target.username}",
            before={"active": target.active},
            after={"active": active},
        )
    return StaffAccount(
        target.id, target.org_id, target.username, target.name, target.role, active,
        target.created_at,
    )  # fmt: skip


# --- API users -----------------------------------------------------------------------------------


def parse_allow_ip(raw: str | Sequence[str] | None) -> list[str] | None:
    """An allow-list as typed (addresses or networks separated by commas, spaces or lines) or
    as a list; None or empty: no allow-list."""
    if raw is None:
        return None
    entries = raw.replace(",", " ").split() if isinstance(raw, str) else list(raw)
    try:
        parsed = parse_allowlist(entries)
    except InvalidInput as e:
        raise InvalidInput("allow_ip", e.message) from None
    return parsed or None


async def list_api_users(
    ctx: AppContext, actor: Actor, org: Organisation | None = None
) -> list[ApiAccount]:
    """The API users of the actor's organisation (the operator: of ``org``, or of all)."""
    require_admin(actor, *API_KINDS)
    org_id = _own_org(actor, org)
    async with ctx.db.read() as conn:
        return await repo.api_of(conn, org_id)


async def create_api_user(
    ctx: AppContext,
    actor: Actor,
    org: Organisation,
    name: str,
    allow_ip: str | Sequence[str] | None = None,
    *,
    api_key: str | None = None,
) -> NewCredentials:
    """A new API user of ``org``; its number and key are returned once."""
    require_admin(actor, *API_KINDS)
    _own_org(actor, org)
    if org.kind not in API_KINDS:
        raise InvalidInput("org", "only KOs and TLs have API users")
    name = check_name(name)
    allowlist = parse_allow_ip(allow_ip)
    key = api_key or new_api_key()
    key_hash = await _hashed(ctx, key)
    async with ctx.db.write() as conn:
        number = await identity.insert_api_user(
            conn, org_id=org.id, name=name, key_hash=key_hash, ip_allowlist=allowlist, now=utcnow()
        )
        await audit.record(
            conn,
            actor,
            org,
            "api_user.create",
            f"API user {number}",
            after={"name": name, "allow_ip": allowlist or []},
        )
    return NewCredentials(number, key)


async def _api_target(conn: AsyncConnection, actor: Actor, api_user: int) -> ApiAccount:
    found = await repo.api_account(conn, api_user)
    require_own(actor, found.org_id if found else None, "API user", api_user)
    assert found is not None
    return found


async def set_api_user_active(
    ctx: AppContext, actor: Actor, api_user: int, active: bool
) -> ApiAccount:
    """Disable (its login hashes end at once) or enable an API user."""
    require_admin(actor, *API_KINDS)
    async with ctx.db.write() as conn:
        target = await _api_target(conn, actor, api_user)
        if target.active != active:
            await repo.set_api(conn, api_user, active=active)
            if not active:
                await repo.end_api_sessions(conn, api_user=api_user)
            await audit.record(
                conn,
                actor,
                await _org(conn, target.org_id),
                "api_user.enable" if active else "api_user.disable",
                f"API user {api_user}",
                before={"active": target.active},
                after={"active": active},
            )
    ctx.basic_cache.clear()
    return target


async def rotate_api_key(ctx: AppContext, actor: Actor, api_user: int) -> NewCredentials:
    """A new key for the API user (returned once); the old key and its login hashes stop
    working at once."""
    require_admin(actor, *API_KINDS)
    key = new_api_key()
    key_hash = await _hashed(ctx, key)
    async with ctx.db.write() as conn:
        target = await _api_target(conn, actor, api_user)
        await repo.set_api(conn, api_user, key_hash=key_hash)
        await repo.end_api_sessions(conn, api_user=api_user)
        await audit.record(
            conn,
            actor,
            await _org(conn, target.org_id),
            "api_user.rotate",
            f"API user {api_user}",
            after={"new_credentials": "issued", "logins": "ended"},
        )
    ctx.basic_cache.clear()
    return NewCredentials(api_user, key)


async def set_allowlist(
    ctx: AppContext, actor: Actor, api_user: int, allow_ip: str | Sequence[str] | None
) -> ApiAccount:
    """Replace the API user's IP allow-list (empty: none)."""
    require_admin(actor, *API_KINDS)
    allowlist = parse_allow_ip(allow_ip)
    async with ctx.db.write() as conn:
        target = await _api_target(conn, actor, api_user)
        if (target.ip_allowlist or None) != allowlist:
            await repo.set_api(conn, api_user, ip_allowlist=allowlist)
            await audit.record(
                conn,
                actor,
                await _org(conn, target.org_id),
                "api_user.allow_ip",
                f"API user {api_user}",
                before={"allow_ip": target.ip_allowlist or []},
                after={"allow_ip": allowlist or []},
            )
    return target
