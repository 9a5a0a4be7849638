"""ON-API 2.4 `accesses` for the market database (docs/marketdb.md, "Reading the accesses back").

A TL reads the networks where it sells services, a KO its own; any other network is refused.
Accesses carry ON-API field names; MdB2 premises types map onto ON-API's.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from serviceguide.domain.errors import DomainError
from serviceguide.domain.model import Caller, OrgKind
from serviceguide.services.context import AppContext
from serviceguide.storage import catalogue, onapi

#: Stadsnätsportalen answers If-Modified-Since up to 14 days back; older means "everything".
MAX_SINCE_AGE = timedelta(days=14)

PREMISES = {
    "RESIDENTIAL_HOUSE": "RESIDENTIAL_HOUSE",
    "COUNTRYSIDE": "RESIDENTIAL_HOUSE",
    "RESIDENTIAL_ASSOCIATION": "RESIDENTIAL_HOUSE",
    "RENTAL_APARTMENT": "MDU_APARTMENT",
    "APARTMENT_ASSOCIATION": "MDU_APARTMENT",
    "COMMERCIAL": "COMMERCIAL",
    "OTHER": "UNKNOWN",
}


class Forbidden(DomainError):
    """The caller may not read this network."""


class NoAccesses(DomainError):
    """The network has no accesses (or not the one asked for)."""


#: How long a change may take to commit after it was stamped (an import's batch transaction).
#: Last-Modified never claims a time later than now minus this, so a change committed late is
#: still "changed since" for the client's next If-Modified-Since; at worst a client sees a
#: changed access twice, never not at all.
COMMIT_MARGIN = timedelta(seconds=5)


def stamp(newest: datetime, now: datetime) -> datetime:
    """The Last-Modified to announce (whole seconds, as HTTP dates are): every change stamped
    at or after it is one the client has not necessarily seen."""
    ceil = newest.replace(microsecond=0) + (
        timedelta(seconds=1) if newest.microsecond else timedelta()
    )
    floor_now = (now - COMMIT_MARGIN).replace(microsecond=0)
    return min(ceil, floor_now)


@dataclass(frozen=True, slots=True)
class Listing:
    last_modified: datetime | None  # None: nothing changed since the given time
    body: AsyncIterator[bytes] | None


def _access_json(row: Any, services: list[dict[str, Any]]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "accessId": row.access_id,
        "streetName": row.street_name,
        "streetNumber": row.street_number,
        "streetLittera": row.street_littera,
        "postalCode": row.postal_code,
        "city": row.city,
        "countryCode": row.country_code,
        "premisesType": PREMISES.get(row.premises_type, "UNKNOWN"),
    }
    if row.mdu_apartment_number:
        doc["mduApartmentNumber"] = row.mdu_apartment_number
    if row.mdu_distinguisher:
        doc["mduDistinguisher"] = row.mdu_distinguisher
    doc["accessState"] = "CONNECTED"
    doc["coNetworkAgreement"] = ""
    doc["services"] = services
    return doc


def _services(uids: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "service": uid,
            "connection": "YES",
            "available": "YES",
            "disconnection": "",
            "forcedTakeoverPossible": False,
        }
        for uid in uids
    ]


async def _network_for(ctx: AppContext, caller: Caller, coid: str) -> int:
    async with ctx.db.read() as conn:
        network = await catalogue.network_by_coid(conn, coid)
        if network is None:
            raise Forbidden(f"No access to network {coid}")
        allowed = (
            network.ko_org_id == caller.org_id
            if caller.org_kind == OrgKind.KO
            else await onapi.tl_sells_on(conn, caller.org_id, network.id)
        )
    if not allowed:
        raise Forbidden(f"No access to network {coid}")
    return network.id


def _since(value: datetime | None) -> datetime | None:
    if value is None or value < datetime.now(UTC) - MAX_SINCE_AGE:
        return None
    return value


async def list_accesses(
    ctx: AppContext, caller: Caller, coid: str, if_modified_since: datetime | None
) -> Listing:
    """Every access of the network, or those changed after ``if_modified_since``; streamed."""
    network_id = await _network_for(ctx, caller, coid)
    since = _since(if_modified_since)
    async with ctx.db.read() as conn:
        newest = await onapi.last_modified(conn, network_id, since)
        uids = await onapi.service_uids(conn, network_id)
    if newest is None:
        if since is None:
            raise NoAccesses(f"Network {coid} has no accesses")
        return Listing(None, None)
    last_modified = stamp(newest, datetime.now(UTC))
    services = _services(uids)

    async def body() -> AsyncIterator[bytes]:
        yield b"["
        first = True
        async with ctx.db.read() as conn:
            async for rows in onapi.iter_accesses(conn, network_id, since):
                chunk = ",".join(
                    json.dumps(_access_json(r, services), ensure_ascii=False) for r in rows
                )
                yield (chunk if first else "," + chunk).encode()
                first = False
        yield b"]"

    return Listing(last_modified, body())


async def get_access(
    ctx: AppContext, caller: Caller, coid: str, access_id: str, if_modified_since: datetime | None
) -> tuple[datetime, dict[str, Any] | None]:
    """One access with its services and (empty) subscriptions; body None when not modified."""
    network_id = await _network_for(ctx, caller, coid)
    async with ctx.db.read() as conn:
        row = await onapi.one_access(conn, network_id, access_id)
        uids = await onapi.service_uids(conn, network_id)
    if row is None:
        raise NoAccesses(f"No access {access_id} in network {coid}")
    last_modified = stamp(row.updated_at, datetime.now(UTC))
    if if_modified_since is not None and row.updated_at < if_modified_since:
        return last_modified, None
    doc = _access_json(row, _services(uids))
    doc["subscriptions"] = []
    return last_modified, doc
