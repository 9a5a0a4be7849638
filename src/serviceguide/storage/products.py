"""Reads and writes behind the TLs' ON-API products: the networks an offering may go into, a
TL's offerings as services, the claim on a TL's sync and its outcome, and the offerings served
back (``/plain/onapi/{xsp}/products``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.storage.admissions import offered
from serviceguide.storage.catalogue import ServiceRecord, _service, holds_nul
from serviceguide.storage.tables import (
    accesses,
    network_admissions,
    networks,
    product_syncs,
    services,
)


@dataclass(frozen=True, slots=True)
class SellingNetwork:
    """A network that admits the TL, with the product codes known in it (every service's uid
    there, of any TL, in use or not): an offering goes where its coProduct is one of them."""

    id: int
    coid: str
    ko_org_id: int
    codes: frozenset[str]


async def selling_networks(conn: AsyncConnection, tl_org_id: int) -> list[SellingNetwork]:
    q = (
        select(networks.c.id, networks.c.coid, networks.c.ko_org_id)
        .join(network_admissions, network_admissions.c.network_id == networks.c.id)
        .where(network_admissions.c.tl_org_id == tl_org_id)
        .order_by(networks.c.id)
    )
    found = list(await conn.execute(q))
    if not found:
        return []
    codes: dict[int, set[str]] = {r.id: set() for r in found}
    rows = await conn.execute(
        select(services.c.network_id, services.c.uid)
        .where(services.c.network_id.in_(list(codes)))
        .distinct()
    )
    for r in rows:
        codes[r.network_id].add(r.uid)
    return [SellingNetwork(r.id, r.coid, r.ko_org_id, frozenset(codes[r.id])) for r in found]


async def onapi_services(conn: AsyncConnection, tl_org_id: int) -> list[ServiceRecord]:
    """Every service of the TL read from its products, in use or retired."""
    q = select(services).where(services.c.tl_org_id == tl_org_id, services.c.source == "onapi")
    return [_service(r) for r in await conn.execute(q.order_by(services.c.id))]


async def raw_onapi_rows(conn: AsyncConnection, tl_org_id: int) -> list[dict[str, Any]]:
    """The same services as column values (to compare what a new sync would write)."""
    q = select(services).where(services.c.tl_org_id == tl_org_id, services.c.source == "onapi")
    return [dict(r._mapping) for r in await conn.execute(q.order_by(services.c.id))]


async def insert_services(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """New services, every row with the same columns (one statement per batch)."""
    for i in range(0, len(rows), BATCH):
        await conn.execute(insert(services), list(rows[i : i + BATCH]))


async def update_services(
    conn: AsyncConnection, rows: Sequence[dict[str, Any]], now: datetime
) -> None:
    """Services changed (and brought back): each row's ``id`` and its new values, every row
    with the same columns."""
    if not rows:
        return
    columns = [k for k in rows[0] if k != "id"]
    stmt = (
        update(services)
        .where(services.c.id == bindparam("service_id"))
        .values(
            active=True,
            updated_at=now,
            **{c: bindparam(f"v_{c}", type_=services.c[c].type) for c in columns},
        )
    )
    params = [{"service_id": r["id"], **{f"v_{c}": r[c] for c in columns}} for r in rows]
    for i in range(0, len(params), BATCH):
        await conn.execute(stmt, params[i : i + BATCH])


async def retire_services(conn: AsyncConnection, ids: Sequence[int], now: datetime) -> None:
    for i in range(0, len(ids), BATCH):
        await conn.execute(
            update(services)
            .where(services.c.id.in_(list(ids[i : i + BATCH])))
            .values(active=False, updated_at=now)
        )


#: Rows per statement when writing services in bulk.
BATCH = 500


# --- the claim on a TL's sync -----------------------------------------------------------------


async def ensure_row(conn: AsyncConnection, tl_org_id: int) -> None:
    """The TL's sync row, created if missing (two processes at once: one insert wins)."""
    if conn.dialect.name == "postgresql":
        stmt: Any = pg_insert(product_syncs).on_conflict_do_nothing()
    else:
        stmt = sqlite_insert(product_syncs).on_conflict_do_nothing()
    await conn.execute(stmt.values(tl_org_id=tl_org_id))


async def claim(
    conn: AsyncConnection,
    tl_org_id: int,
    token: str,
    now: datetime,
    until: datetime,
    due_before: datetime | None = None,
    failed_before: datetime | None = None,
) -> bool:
    """Claim the TL's sync until ``until`` unless another process holds it; with
    ``due_before``, only when the last attempt was before it (or there was none), or, with
    ``failed_before``, failed before that."""
    cond = [
        product_syncs.c.tl_org_id == tl_org_id,
        or_(product_syncs.c.claimed_until.is_(None), product_syncs.c.claimed_until < now),
    ]
    if due_before is not None:
        due = [product_syncs.c.attempted_at.is_(None), product_syncs.c.attempted_at < due_before]
        if failed_before is not None:
            due.append(
                and_(
                    product_syncs.c.error.is_not(None),
                    product_syncs.c.attempted_at < failed_before,
                )
            )
        cond.append(or_(*due))
    result = await conn.execute(
        update(product_syncs).where(*cond).values(claimed_until=until, claim_token=token)
    )
    return result.rowcount == 1


async def finish(
    conn: AsyncConnection,
    tl_org_id: int,
    token: str,
    now: datetime,
    *,
    error: str | None,
    service_provider: str | None = None,
) -> None:
    """Record the outcome and hand the claim back."""
    values: dict[str, Any] = {
        "attempted_at": now,
        "error": error,
        "claimed_until": None,
        "claim_token": None,
    }
    if error is None:
        values["synced_at"] = now
        values["service_provider"] = service_provider
    await conn.execute(
        update(product_syncs)
        .where(product_syncs.c.tl_org_id == tl_org_id, product_syncs.c.claim_token == token)
        .values(**values)
    )


async def holds_claim(conn: AsyncConnection, tl_org_id: int, token: str) -> bool:
    q = select(product_syncs.c.tl_org_id).where(
        product_syncs.c.tl_org_id == tl_org_id, product_syncs.c.claim_token == token
    )
    return (await conn.execute(q)).first() is not None


@dataclass(frozen=True, slots=True)
class SyncState:
    tl_org_id: int
    synced_at: datetime | None
    attempted_at: datetime | None
    error: str | None
    service_provider: str | None


async def sync_state(conn: AsyncConnection, tl_org_id: int) -> SyncState | None:
    r = (
        await conn.execute(select(product_syncs).where(product_syncs.c.tl_org_id == tl_org_id))
    ).first()
    if r is None:
        return None
    return SyncState(r.tl_org_id, r.synced_at, r.attempted_at, r.error, r.service_provider)


# --- serving the offerings back --------------------------------------------------------------


async def offered_of_tl(
    conn: AsyncConnection, tl_org_id: int, network_ids: Sequence[int] | None
) -> list[tuple[ServiceRecord, str | None]]:
    """The TL's offerings the guide offers now, in the given networks (None: all): one service
    per product and offering (the same offering in another network says the same), each with
    the rest of what its products document said (JSON; None for a service entered by hand)."""
    cols = [c for c in services.c if c.name not in ("created_at", "updated_at")]
    q = select(*cols).where(services.c.tl_org_id == tl_org_id, offered())
    if network_ids is not None:
        q = q.where(services.c.network_id.in_(list(network_ids)))
    seen: set[tuple[str, str]] = set()
    found = []
    for r in await conn.execute(q.order_by(services.c.id)):
        key = (r.product_id or r.uid, r.offering_id or r.uid)
        if key not in seen:
            seen.add(key)
            found.append((_service(r), r.onapi_extra))
    return found


async def newest_change(
    conn: AsyncConnection, tl_org_id: int, network_ids: Sequence[int] | None
) -> datetime | None:
    """When the TL's services in these networks last changed (a retirement is a change)."""
    q = select(func.max(services.c.updated_at)).where(services.c.tl_org_id == tl_org_id)
    if network_ids is not None:
        q = q.where(services.c.network_id.in_(list(network_ids)))
    value: datetime | None = (await conn.execute(q)).scalar_one()
    return value


async def networks_with_access(
    conn: AsyncConnection, access_id: str, network_ids: Sequence[int]
) -> list[int]:
    """Those of ``network_ids`` that have the access ``access_id`` in use."""
    if holds_nul(access_id) or not network_ids:
        return []
    q = select(accesses.c.network_id).where(
        accesses.c.access_id == access_id,
        accesses.c.network_id.in_(list(network_ids)),
        accesses.c.retired_at.is_(None),
    )
    return sorted(set((await conn.execute(q)).scalars()))
