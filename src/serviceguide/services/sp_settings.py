"""A TL's ON-API 2.6 settings — where the guide pushes its orders, with which Basic credentials,
and whether the e-mail still goes — set by the operator (``serviceguide tl set-onapi``) or the
TL's admin (the administration page), read by the push and the product sync.

The password is sealed (services.sealing) before it is stored; only :func:`target` and
:func:`target_by_xsp` open it, for a request to the TL. Nothing returns it to be shown: the
settings say only whether one is stored. The admin log records that credentials changed, never
what they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.clock import utcnow
from serviceguide.domain.errors import InvalidInput, NotFound
from serviceguide.domain.model import Organisation, OrgKind
from serviceguide.domain.roles import Actor, require_admin, require_own
from serviceguide.domain.sp import (
    Delivery,
    check_base_url,
    check_password,
    check_username,
    parse_delivery,
)
from serviceguide.services import audit
from serviceguide.services.context import AppContext
from serviceguide.services.sealing import seal, unseal
from serviceguide.settings import Settings
from serviceguide.storage import catalogue, organisations
from serviceguide.storage import sp_settings as repo
from serviceguide.storage.sp_settings import StoredSettings


@dataclass(frozen=True, slots=True)
class SpSettings:
    """A TL's ON-API settings as they may be shown: never the password."""

    xsp: int
    url: str | None  # None: no ON-API; the orders go by e-mail
    username: str | None
    password_set: bool
    delivery: Delivery
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class SpTarget:
    """Where and how to call a TL's ON-API, for one push or sync. ``password`` is in the clear:
    pass it to the HTTP client, never to a log or a page (it is left out of ``repr``)."""

    tl_org_id: int
    xsp: int
    base_url: str
    username: str | None
    password: str | None = field(repr=False)
    delivery: Delivery

    def url(self, endpoint: str) -> str:
        """``URL/order/``, ``URL/activationnotice/``, ``URL/products/``…"""
        return f"{self.base_url}/{endpoint.strip('/')}/"

    @property
    def auth(self) -> tuple[str, str] | None:
        return None if self.username is None else (self.username, self.password or "")


def _shown(xsp: int, s: StoredSettings | None) -> SpSettings:
    if s is None:
        return SpSettings(xsp, None, None, False, Delivery.MAIL, None)
    return SpSettings(
        xsp, s.base_url, s.username, s.password_enc is not None, s.delivery, s.updated_at
    )


def open_target(settings: Settings, xsp: int, s: StoredSettings) -> SpTarget:
    """Stored settings as a target to call, password opened."""
    password = None
    if s.password_enc is not None:
        password = unseal(settings, s.password_enc, f"ON-API password of TL {xsp}")
    return SpTarget(s.tl_org_id, xsp, s.base_url, s.username, password, s.delivery)


async def _tl(conn: AsyncConnection, actor: Actor, xsp: int) -> Organisation:
    tl = await catalogue.org_by_xsp(conn, xsp)
    require_own(actor, tl.id if tl else None, "TL", xsp)
    assert tl is not None
    return tl


async def set_onapi(
    ctx: AppContext,
    xsp: int,
    url: str | None,
    *,
    username: str | None = None,
    password: str | None = None,
    delivery: Delivery | str | None = None,
    actor: Actor | None = None,
) -> SpSettings:
    """Set a TL's ON-API base URL, credentials and delivery; ``url`` None (or ``none``) removes
    the settings, and the TL's orders go by e-mail only again.

    What is not given is kept: the stored credentials, the stored delivery (``mail`` for a TL
    that had none). ``username=""`` removes the credentials (no Basic auth). A new username
    needs a password unless one is stored, and a password needs a username. ``actor``: a TL
    admin changes its own TL only; None is the operator. The change is in the admin log."""
    actor = actor or audit.cli_actor()
    require_admin(actor, OrgKind.TL)
    remove = url is None or url.strip().lower() == "none"
    if remove and (username is not None or password is not None or delivery is not None):
        raise InvalidInput("url", "removing the ON-API settings takes no other option")
    base_url = None if remove else check_base_url(url or "")
    if isinstance(delivery, str):
        delivery = parse_delivery(delivery)
    if username == "" and password:
        raise InvalidInput("password", "a password needs a username")
    if username:
        username = check_username(username)
    if password is not None:
        password = check_password(password)
    async with ctx.db.write() as conn:
        tl = await _tl(conn, actor, xsp)
        old = await repo.get(conn, tl.id)
        if base_url is None:
            if old is not None:
                await repo.remove(conn, tl.id)
                await _record(conn, actor, tl, old, None, False)
            return _shown(xsp, None)
        new_user = old.username if old and username is None else (username or None)
        sealed = old.password_enc if old and new_user is not None else None
        if password is not None:
            sealed = seal(ctx.settings, password)
        if new_user is None and password is not None:
            raise InvalidInput("username", "a password needs a username: give --username")
        if new_user is not None and sealed is None:
            raise InvalidInput("password", "a username needs a password: give --password")
        chosen = delivery or (old.delivery if old else Delivery.MAIL)
        await repo.put(
            conn,
            tl.id,
            base_url=base_url,
            username=new_user,
            password_enc=sealed,
            delivery=chosen,
            now=utcnow(),
        )
        stored = await repo.get(conn, tl.id)
        assert stored is not None
        await _record(conn, actor, tl, old, stored, password is not None)
    return _shown(xsp, stored)


def _logged(s: StoredSettings | None, new_password: bool = False) -> dict[str, str]:
    if s is None:
        return {"url": "", "username": "", "credentials": "none", "delivery": Delivery.MAIL}
    creds = "none" if s.password_enc is None else ("new" if new_password else "stored")
    return {
        "url": s.base_url,
        "username": s.username or "",
        "credentials": creds,
        "delivery": s.delivery.value,
    }


async def _record(
    conn: AsyncConnection,
    actor: Actor,
    tl: Organisation,
    old: StoredSettings | None,
    new: StoredSettings | None,
    new_password: bool,
) -> None:
    before, after = _logged(old), _logged(new, new_password)
    keys = [k for k in after if before[k] != after[k]]
    if keys:
        await audit.record(
            conn,
            actor,
            tl,
            "tl.set_onapi",
            f"TL {tl.xsp}",
            before={k: before[k] for k in keys},
            after={k: after[k] for k in keys},
        )


async def onapi_settings(ctx: AppContext, xsp: int, *, actor: Actor | None = None) -> SpSettings:
    """A TL's ON-API settings as they may be shown (``delivery`` mail and no URL: none set)."""
    actor = actor or audit.cli_actor()
    require_admin(actor, OrgKind.TL)
    async with ctx.db.read() as conn:
        tl = await _tl(conn, actor, xsp)
        return _shown(xsp, await repo.get(conn, tl.id))


async def all_settings(conn: AsyncConnection) -> dict[int, SpSettings]:
    """Every TL's stored settings by its organisation id (for listings; no password)."""
    found = await repo.all_settings(conn)
    xsps = {o.id: o.xsp for o in await catalogue.list_organisations(conn) if o.id in found}
    return {oid: _shown(xsps[oid] or 0, s) for oid, s in found.items()}


async def deliveries(conn: AsyncConnection, tl_org_ids: set[int]) -> dict[int, Delivery]:
    """How each of these TLs takes its orders (mail for those without settings)."""
    found = await repo.get_many(conn, tl_org_ids)
    return {oid: found[oid].delivery if oid in found else Delivery.MAIL for oid in tl_org_ids}


async def target(conn: AsyncConnection, settings: Settings, tl_org_id: int) -> SpTarget | None:
    """Where to call the TL (organisation id) now, password opened; None: no ON-API URL."""
    s = await repo.get(conn, tl_org_id)
    if s is None:
        return None
    tl = await organisations.by_id(conn, tl_org_id)
    xsp = tl.xsp if tl is not None and tl.xsp is not None else 0
    return open_target(settings, xsp, s)


async def target_by_xsp(ctx: AppContext, xsp: int) -> SpTarget:
    """Where to call the TL ``xsp``, password opened; a TL without an ON-API URL is an error
    that says how to set one."""
    async with ctx.db.read() as conn:
        tl = await catalogue.org_by_xsp(conn, xsp)
        if tl is None or tl.kind != OrgKind.TL:
            raise NotFound("TL", xsp)
        s = await repo.get(conn, tl.id)
    if s is None:
        raise InvalidInput(
            "url", f"TL {xsp} has no ON-API URL: set one with 'serviceguide tl set-onapi'"
        )
    return open_target(ctx.settings, xsp, s)
