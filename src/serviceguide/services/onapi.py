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
from serviceguide.domain.model import Caller
from serviceguide.services.context import AppContext
from serviceguide.storage import onapi
from serviceguide.storage.direct import ts

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


_text = json.JSONEncoder(ensure_ascii=False).encode  # a string as json.dumps writes it


def access_doc(r: Any, services: list[dict[str, Any]]) -> dict[str, Any]:
    """One access (a row of storage.onapi.ACCESS_COLUMNS) as ON-API's document."""
    doc: dict[str, Any] = {
        "accessId": r[0],
        "streetName": r[1],
        "streetNumber": r[2],
        "streetLittera": r[3],
        "postalCode": r[4],
        "city": r[5],
        "countryCode": r[6],
        "premisesType": PREMISES.get(r[7], "UNKNOWN"),
    }
    if r[8]:
        doc["mduApartmentNumber"] = r[8]
    if r[9]:
        doc["mduDistinguisher"] = r[9]
    doc["accessState"] = "CONNECTED"
    doc["coNetworkAgreement"] = ""
    doc["services"] = services
    return doc


def access_json(r: Any, services: str) -> str:
    """``json.dumps(access_doc(r, …), ensure_ascii=False)`` with ``services`` already written:
    a template, not a dict per access, since a listing writes a million of them."""
    mdu = ""
    if r[8]:
        mdu += f', "mduApartmentNumber": {_text(r[8])}'
    if r[9]:
        mdu += f', "mduDistinguisher": {_text(r[9])}'
    return (
        f'{{"accessId": {_text(r[0])}, "streetName": {_text(r[1])}, '
        f'"streetNumber": {_text(r[2])}, "streetLittera": {_text(r[3])}, '
        f'"postalCode": {_text(r[4])}, "city": {_text(r[5])}, "countryCode": {_text(r[6])}, '
        f'"premisesType": "{PREMISES.get(r[7], "UNKNOWN")}"{mdu}, '
        f'"accessState": "CONNECTED", "coNetworkAgreement": "", "services": {services}}}'
    )


async def _network_for(ctx: AppContext, caller: Caller, coid: str) -> int:
    found = await onapi.readable_network(ctx.db.reader, caller, coid)
    if found is None or not found[1]:
        raise Forbidden(f"No access to network {coid}")
    return found[0]


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
    if newest is None:
        if since is None:
            raise NoAccesses(f"Network {coid} has no accesses")
        return Listing(None, None)
    last_modified = stamp(newest, datetime.now(UTC))
    uids = await onapi.offered_uids(ctx.db.reader, network_id)
    services = json.dumps(_services(uids), ensure_ascii=False)

    async def body() -> AsyncIterator[bytes]:
        yield b"["
        sep = ""
        async for rows in onapi.access_batches(ctx.db.reader, network_id, since):
            yield (sep + ",".join([access_json(r, services) for r in rows])).encode()
            sep = ","
        yield b"]"

    return Listing(last_modified, body())


async def get_access(
    ctx: AppContext, caller: Caller, coid: str, access_id: str, if_modified_since: datetime | None
) -> tuple[datetime, dict[str, Any] | None]:
    """One access with its services and (empty) subscriptions; body None when not modified."""
    found = await onapi.network_and_access(ctx.db.reader, caller, coid, access_id)
    if found is None or not found.allowed:
        raise Forbidden(f"No access to network {coid}")
    if found.access is None:
        raise NoAccesses(f"No access {access_id} in network {coid}")
    updated_at = ts(found.access[10])
    last_modified = stamp(updated_at, datetime.now(UTC))
    if if_modified_since is not None and updated_at < if_modified_since:
        return last_modified, None
    doc = access_doc(found.access, _services(found.uids))
    doc["subscriptions"] = []
    return last_modified, doc
