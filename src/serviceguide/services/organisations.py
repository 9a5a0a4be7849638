"""The organisations an operator looks after: listing the KOs and TLs, and changing a TL's order
address and the contact details its customers see.

The same functions serve the command line (``serviceguide ko list``, ``tl list``, ``tl update``)
and the administration pages. Every address and detail is checked in the domain
(domain.mailaddress, domain.contacts) before anything is stored; a bad one changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from serviceguide.domain.contacts import clean_contact_details
from serviceguide.domain.errors import InvalidInput, NotFound
from serviceguide.domain.mailaddress import normalise_email
from serviceguide.domain.model import Organisation, OrgKind
from serviceguide.domain.roles import Actor, require_admin, require_own
from serviceguide.services import audit, sp_settings
from serviceguide.services.context import AppContext
from serviceguide.storage import catalogue


@dataclass(frozen=True, slots=True)
class KoListing:
    coid: str
    name: str
    activation_url: str | None
    accesses: int  # in use (not retired)
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TlListing:
    xsp: int
    name: str
    email: str | None  # where new orders are mailed
    phone: str | None
    contact_email: str | None
    website: str | None
    opening_hours: str | None
    services: int  # offered (active)
    created_at: datetime
    onapi_url: str | None = None  # the ON-API base the orders are pushed to (never credentials)
    delivery: str = "mail"  # mail | onapi | both


async def list_kos(ctx: AppContext) -> list[KoListing]:
    """Every KO (with its network), by coId."""
    async with ctx.db.read() as conn:
        rows = await catalogue.kos_overview(conn)
    return [KoListing(**r) for r in rows]


async def list_tls(ctx: AppContext) -> list[TlListing]:
    """Every TL with its order address and contact details, by xsp."""
    async with ctx.db.read() as conn:
        rows = await catalogue.tls_overview(conn)
        onapi = await sp_settings.all_settings(conn)
    return [
        TlListing(
            xsp=org.xsp or 0,
            name=org.name,
            email=org.order_email,
            phone=org.phone,
            contact_email=org.contact_email,
            website=org.website,
            opening_hours=org.opening_hours,
            services=count,
            created_at=created_at,
            onapi_url=onapi[org.id].url if org.id in onapi else None,
            delivery=onapi[org.id].delivery.value if org.id in onapi else "mail",
        )
        for org, count, created_at in rows
    ]


async def update_tl(
    ctx: AppContext,
    xsp: int,
    *,
    order_email: str | None = None,
    phone: str | None = None,
    contact_email: str | None = None,
    website: str | None = None,
    opening_hours: str | None = None,
    actor: Actor | None = None,
) -> Organisation:
    """Change what is given (not None) of a TL: the address new orders are mailed to, and its
    contact details (an empty value clears a detail; the order address cannot be cleared).
    Returns the TL as stored afterwards. ``actor``: a TL admin changes only its own TL (the
    order-delivery page); None is the operator (``tl update``). The change is in the admin
    log."""
    actor = actor or audit.cli_actor()
    require_admin(actor, OrgKind.TL)
    values = clean_contact_details(
        phone=phone, email=contact_email, website=website, opening_hours=opening_hours
    )
    if order_email is not None:
        values["order_email"] = normalise_email(order_email, field="email")
    if not values:
        raise InvalidInput("tl", "nothing to change: give --email or a contact detail")
    async with ctx.db.write() as conn:
        tl = await catalogue.org_by_xsp(conn, xsp)
        require_own(actor, tl.id if tl else None, "TL", xsp)
        assert tl is not None
        await catalogue.update_organisation(conn, tl.id, **values)
        updated = await catalogue.org_by_xsp(conn, xsp)
        assert updated is not None
        before = {k: getattr(tl, k) or "" for k in values}
        after = {k: getattr(updated, k) or "" for k in values}
        keys = [k for k in values if before[k] != after[k]]
        if keys:
            await audit.record(
                conn,
                actor,
                updated,
                "tl.update",
                f"TL {xsp}",
                before={k: before[k] for k in keys},
                after={k: after[k] for k in keys},
            )
    return updated


async def own_tl(ctx: AppContext, actor: Actor) -> Organisation:
    """The signed-in TL admin's TL (the order-delivery page)."""
    require_admin(actor, OrgKind.TL)
    async with ctx.db.read() as conn:
        orgs = await catalogue.list_organisations(conn)
    found = next((o for o in orgs if o.id == actor.org_id), None)
    if found is None:
        raise NotFound("TL", actor.org_id)
    return found
