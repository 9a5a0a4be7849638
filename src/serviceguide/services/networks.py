"""A KO admin's network: its name and direct-activation URL, a test of that URL, and which TLs
may sell in it (admit, withdraw).

Withdrawing a TL takes its services in this network out of the guide at once (the guide offers
only admitted TLs' services: storage.admissions.offered); its services and orders stay, and
admitting it again brings the services back. The test calls the network's
``service_deliverable`` for one access and shows the answer; it orders nothing and changes
nothing, so it is not in the admin log.
"""

from __future__ import annotations

from dataclasses import dataclass

from serviceguide.domain.catalogue import check_activation_url
from serviceguide.domain.clock import utcnow
from serviceguide.domain.errors import InvalidInput, NotFound
from serviceguide.domain.model import Organisation, OrgKind
from serviceguide.domain.roles import Actor, check_name, require_admin
from serviceguide.services import activation, audit
from serviceguide.services.context import AppContext
from serviceguide.storage import admissions, catalogue
from serviceguide.storage import organisations as orgs
from serviceguide.storage.catalogue import NetworkRecord


@dataclass(frozen=True, slots=True)
class NetworkView:
    network: NetworkRecord
    admitted: list[Organisation]
    others: list[Organisation]  # the TLs that are not admitted
    service_uids: list[str]  # of the network's services in use, for the test form
    first_access: str  # an accessId of the network, for the test form ("" if none)


async def _own(actor: Actor) -> int:
    require_admin(actor, OrgKind.KO)
    if actor.org_id is None:
        raise InvalidInput("coid", "the command line uses `serviceguide networks`")
    return actor.org_id


async def _network(ctx: AppContext, ko_id: int) -> tuple[Organisation, NetworkRecord]:
    async with ctx.db.read() as conn:
        org = await orgs.by_id(conn, ko_id)
        network = await catalogue.network_by_coid(conn, org.coid) if org and org.coid else None
    if org is None or network is None:
        raise NotFound("network", ko_id)
    return org, network


async def view(ctx: AppContext, actor: Actor) -> NetworkView:
    _, network = await _network(ctx, await _own(actor))
    async with ctx.db.read() as conn:
        admitted = await admissions.admitted_tls(conn, network.id)
        tls = [o for o in await catalogue.list_organisations(conn) if o.kind == OrgKind.TL]
        uids = sorted(
            {s.uid for s in await catalogue.list_services(conn) if s.network_id == network.id}
        )
        first = await catalogue.first_access_id(conn, network.id)
    ids = {o.id for o in admitted}
    others = sorted((o for o in tls if o.id not in ids), key=lambda o: (o.name, o.id))
    return NetworkView(network, admitted, others, uids, first or "")


async def update(ctx: AppContext, actor: Actor, *, name: str, activation_url: str) -> None:
    """The network's name and direct-activation URL (empty: direct activation off)."""
    org, network = await _network(ctx, await _own(actor))
    name = check_name(name)
    url = check_activation_url(activation_url)
    before: dict[str, object] = {
        "name": network.name,
        "activation_url": network.activation_url or "",
    }
    after: dict[str, object] = {"name": name, "activation_url": url or ""}
    old, new = audit_diff(before, after)
    if not new:
        return
    async with ctx.db.write() as conn:
        await catalogue.update_network(conn, network.id, name=name, activation_url=url)
        await audit.record(
            conn, actor, org, "network.update", f"network {network.coid}", before=old, after=new
        )


async def test_url(
    ctx: AppContext, actor: Actor, *, access_id: str, service_uid: str
) -> activation.DeliverableAnswer:
    """Ask the network's ``service_deliverable`` for one access; nothing is ordered."""
    _, network = await _network(ctx, await _own(actor))
    if network.activation_url is None:
        raise InvalidInput("activation_url", "direct activation is off")
    access_id, service_uid = access_id.strip(), service_uid.strip()
    if not access_id or len(access_id) > 36:
        raise InvalidInput("access_id", "an accessId of the network")
    if not service_uid or len(service_uid) > 40:
        raise InvalidInput("service_uid", "a product code")
    return await activation.deliverable(network.activation_url, service_uid, access_id)


async def _tl(ctx: AppContext, xsp: str) -> Organisation:
    tl = None
    if xsp.strip().isdigit() and len(xsp.strip()) < 10:
        async with ctx.db.read() as conn:
            tl = await catalogue.org_by_xsp(conn, int(xsp))
    if tl is None or tl.kind != OrgKind.TL:
        raise InvalidInput("tl", f"no TL with xsp {xsp!r}")
    return tl


async def admit(ctx: AppContext, actor: Actor, xsp: str) -> None:
    """Let the TL sell in the network (its services there are offered again)."""
    org, network = await _network(ctx, await _own(actor))
    tl = await _tl(ctx, xsp)
    async with ctx.db.write() as conn:
        if await admissions.admit(conn, network.id, tl.id, utcnow()):
            await audit.record(
                conn,
                actor,
                org,
                "network.admit",
                f"TL {tl.xsp} {tl.name}",
                before={"admitted": False},
                after={"admitted": True},
            )


async def withdraw(ctx: AppContext, actor: Actor, xsp: str) -> None:
    """The TL may no longer sell in the network: its services leave the guide there."""
    org, network = await _network(ctx, await _own(actor))
    tl = await _tl(ctx, xsp)
    async with ctx.db.write() as conn:
        if await admissions.withdraw(conn, network.id, tl.id):
            await audit.record(
                conn,
                actor,
                org,
                "network.withdraw",
                f"TL {tl.xsp} {tl.name}",
                before={"admitted": True},
                after={"admitted": False},
            )


def audit_diff(
    before: dict[str, object], after: dict[str, object]
) -> tuple[dict[str, object], dict[str, object]]:
    keys = [k for k in after if before.get(k) != after[k]]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}
