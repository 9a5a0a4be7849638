"""Reads behind ON-API `accesses`: one network's accesses in use (not retired), optionally
changed since a time.

The network check, one access and the listing run as SQL text on the driver (storage.direct),
as the XSP API's polls do: an integration asks for one access after another, and SQLAlchemy's
statement building, its transaction round trips and a connection per call cost more than the
database's work. Rows come back in :data:`ACCESS_COLUMNS` order, read by position.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.model import Caller, OrgKind
from serviceguide.storage.catalogue import holds_nul
from serviceguide.storage.direct import Reader, Sql
from serviceguide.storage.tables import accesses

BATCH = 2000


async def last_modified(
    conn: AsyncConnection, network_id: int, since: datetime | None
) -> datetime | None:
    """The newest ``updated_at`` among the network's accesses changed at or after ``since``."""
    q = select(func.max(accesses.c.updated_at)).where(
        accesses.c.network_id == network_id, accesses.c.retired_at.is_(None)
    )
    if since is not None:
        q = q.where(accesses.c.updated_at >= since)
    value: datetime | None = (await conn.execute(q)).scalar_one()
    return value


# -- on the direct driver path ----------------------------------------------------------------

#: The columns of an access as ON-API shows it, in this order (services.onapi writes them).
ACCESS_COLUMNS = (
    "a.access_id, a.street_name, a.street_number, a.street_littera, a.postal_code, a.city, "
    "a.country_code, a.premises_type, a.mdu_apartment_number, a.mdu_distinguisher, a.updated_at"
)

_ALLOWED = {
    OrgKind.KO: "n.ko_org_id = $2",
    OrgKind.TL: "EXISTS (SELECT 1 FROM services s WHERE s.tl_org_id = $2 AND s.network_id = n.id)",
}

# The same condition as storage.admissions.offered(): active, admitted to the network, its TL
# and the network's KO active.
_OFFERED = (
    "SELECT DISTINCT s.uid FROM services s WHERE s.network_id = {network} AND s.active "
    "AND EXISTS (SELECT 1 FROM network_admissions na "
    "WHERE na.network_id = s.network_id AND na.tl_org_id = s.tl_org_id) "
    "AND EXISTS (SELECT 1 FROM organisations tl WHERE tl.id = s.tl_org_id AND tl.active) "
    "AND EXISTS (SELECT 1 FROM networks n JOIN organisations ko ON ko.id = n.ko_org_id "
    "WHERE n.id = s.network_id AND ko.active) ORDER BY s.uid"
)
_SERVICE_UIDS = Sql.of(_OFFERED.format(network="$1"))

# The network by its coid and whether the caller may read it: no row, no such network.
_NETWORK = {
    kind: Sql.of(f"SELECT n.id, {allowed} AS allowed FROM networks n WHERE n.coid = $1")
    for kind, allowed in _ALLOWED.items()
}
# The same, with one access in use (access_id NULL: none) and the uids of the services offered
# on the network (an array on PostgreSQL, a JSON array on SQLite): one round trip.
_UIDS = _OFFERED.format(network="n.id")
_NETWORK_AND_ACCESS = {
    kind: Sql(
        text.replace("{uids}", f"ARRAY({_UIDS})"),
        re.sub(r"\$(\d+)", r"?\1", text).replace(
            "{uids}", f"(SELECT json_group_array(uid) FROM ({_UIDS}))"
        ),
    )
    for kind, allowed in _ALLOWED.items()
    for text in [
        f"SELECT n.id, {allowed} AS allowed, {{uids}} AS uids, {ACCESS_COLUMNS} "
        "FROM networks n LEFT JOIN accesses a ON a.network_id = n.id AND a.access_id = $3 "
        "AND a.retired_at IS NULL WHERE n.coid = $1"
    ]
}


async def readable_network(reader: Reader, caller: Caller, coid: str) -> tuple[int, bool] | None:
    """The network's id and whether ``caller`` may read it; None when there is none."""
    if holds_nul(coid):
        return None
    r = await reader.fetchrow(_NETWORK[caller.org_kind], coid, caller.org_id)
    return None if r is None else (r["id"], bool(r["allowed"]))


@dataclass(frozen=True, slots=True)
class OneAccess:
    network_id: int
    allowed: bool
    access: tuple[Any, ...] | None  # ACCESS_COLUMNS; None: no such access in use
    uids: list[str]  # of the services offered on the network


async def network_and_access(
    reader: Reader, caller: Caller, coid: str, access_id: str
) -> OneAccess | None:
    """The network (None when there is none), whether ``caller`` may read it, the access and
    the services offered on the network."""
    if holds_nul(coid):
        return None
    if holds_nul(access_id):  # no access holds one; the network is still checked
        found = await readable_network(reader, caller, coid)
        return None if found is None else OneAccess(*found, None, [])
    r = await reader.fetchrow(_NETWORK_AND_ACCESS[caller.org_kind], coid, caller.org_id, access_id)
    if r is None:
        return None
    uids = r["uids"]
    access = tuple(r)[3:] if r["access_id"] is not None else None
    return OneAccess(
        r["id"], bool(r["allowed"]), access, json.loads(uids) if isinstance(uids, str) else uids
    )


async def offered_uids(reader: Reader, network_id: int) -> list[str]:
    """The uids of the services offered on the network, each once, in order."""
    return [r["uid"] for r in await reader.fetch(_SERVICE_UIDS, network_id)]


_LISTING = {
    since: Sql.of(
        f"SELECT {ACCESS_COLUMNS} FROM accesses a WHERE a.network_id = $1 "
        f"AND a.retired_at IS NULL{' AND a.updated_at >= $2' if since else ''} ORDER BY a.id"
    )
    for since in (False, True)
}


def access_batches(
    reader: Reader, network_id: int, since: datetime | None, size: int = BATCH
) -> AsyncIterator[Any]:
    """The network's accesses in use (changed at or after ``since``), ``size`` rows at a time
    from one cursor: one snapshot for the whole listing, one batch in memory."""
    args = (network_id,) if since is None else (network_id, since)
    return reader.batches(_LISTING[since is not None], *args, size=size)
