"""A TL's ON-API products into the guide's catalogue: ``serviceguide tl sync-products XSP``, and
the server's periodic sync of every TL with an ON-API URL.

One sync reads ``URL/products/`` (HTTP Basic auth with the TL's stored credentials) and checks
the whole document (domain.products) before anything is written. A document that cannot be
read — no answer, an HTTP error, not JSON, too large, a single bad field — refuses the whole
sync: the catalogue stays as it was and the error is kept with the TL's sync state (and told to
whoever ran the command). A good document is applied in one transaction:

- each offering becomes a service (``source`` ``onapi``) in every network that admits the TL and
  knows the offering's coProduct as a product code (a service uid there, of any TL): one service
  per network, found again by productId and offeringId at the next sync and updated in place;
- an offering the guide cannot sell is left out and reported: a bundle (more than one
  coProduct), one that needs a campaign code, one for price groups (accesses have none);
- a service from an earlier sync that the document no longer has, or that no longer fits a
  network, is retired (out of the guide), never deleted: orders keep what they were placed for;
  it comes back, same id, if the offering returns.

Services the TL entered by hand are never touched. One process syncs a TL at a time: a claim on
the TL's ``product_syncs`` row, taken in the database, so it holds across servers; a process
that dies leaves it to expire (:data:`CLAIM`). The periodic sync (:func:`sync_in_background`,
every ``SERVICEGUIDE_PRODUCTS_SYNC_SECONDS``; a failed read again after :data:`RETRY`) runs in
every server worker; each TL is claimed by whichever worker comes first once it is due.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.catalogue import ServiceCategory
from serviceguide.domain.clock import utcnow
from serviceguide.domain.errors import DomainError
from serviceguide.domain.products import (
    Offering,
    Product,
    ProductsDocument,
    ProductsRefused,
    parse_products,
)
from serviceguide.services import sp_settings
from serviceguide.services.background import repeating
from serviceguide.services.context import AppContext
from serviceguide.services.sp_settings import SpTarget
from serviceguide.storage import catalogue
from serviceguide.storage import products as repo
from serviceguide.storage import sp_settings as settings_repo

log = logging.getLogger(__name__)

#: How long one sync may hold a TL's claim; a process that died frees it after this.
CLAIM = timedelta(minutes=10)
#: The longest the TL may take to answer, and the largest document read.
TIMEOUT = httpx.Timeout(30.0)
MAX_BYTES = 5 * 1024 * 1024
#: How often a server worker looks for TLs whose sync is due (at most), and how long after
#: starting it looks first.
LOOK_SECONDS = 60.0
FIRST_LOOK_SECONDS = 5.0
#: A failed read is tried again after this (or the interval, if shorter), not a whole interval
#: later: a TL that was down for a minute is not left out of the guide for an hour.
RETRY = timedelta(minutes=5)
#: The longest a product code (a service uid) may be.
UID_MAX = 40


class ProductsUnavailable(DomainError):
    """The TL's products could not be read (no answer, an HTTP error, too large)."""


class SyncBusy(DomainError):
    """Another process is syncing the TL's products right now."""


@dataclass(slots=True)
class SyncReport:
    xsp: int
    offerings: int = 0  # in the document
    added: int = 0  # services created
    updated: int = 0  # services changed (or brought back)
    unchanged: int = 0
    retired: int = 0
    skipped: list[str] = field(default_factory=list)  # offerings left out, and why


# --- reading the document ---------------------------------------------------------------------


async def fetch(target: SpTarget) -> Any:
    """The TL's products document as parsed JSON; :class:`ProductsUnavailable` or
    :class:`ProductsRefused` (not JSON) otherwise. The password goes to the HTTP client only."""
    url = target.url("products")
    try:
        async with (
            httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as client,
            client.stream(
                "GET", url, auth=target.auth, headers={"Accept": "application/json"}
            ) as resp,
        ):
            if resp.status_code != 200:
                raise ProductsUnavailable(f"{url} answered HTTP {resp.status_code}")
            body = bytearray()
            async for chunk in resp.aiter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    raise ProductsUnavailable(f"{url}: larger than {MAX_BYTES} bytes")
    except httpx.HTTPError as e:
        raise ProductsUnavailable(f"{url}: no answer ({type(e).__name__})") from None
    try:
        return json.loads(bytes(body))
    except (ValueError, UnicodeDecodeError):
        raise ProductsRefused("", "not JSON") from None


# --- from a document to services ---------------------------------------------------------------


def _category(product: Product) -> str:
    known = {c.value for c in ServiceCategory}
    return next((c for c in product.categories if c in known), ServiceCategory.OTHER.value)


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(Decimal(value).quantize(Decimal("0.01")))


def _values(doc: ProductsDocument, product: Product, o: Offering) -> dict[str, Any]:
    """The columns of the service an offering becomes (in any network)."""
    extra = {
        "productDescription": product.description,
        "categories": list(product.categories),
        "coProducts": list(product.co_products),
        "files": [{"type": f.type, "url": f.url, "updated": f.updated} for f in product.files],
        "deliveryInformation": o.delivery_information,
        "valueAdded": _money(o.value_added),
    }
    return {
        "uid": product.co_products[0],
        "name": product.name[:200],
        "description": o.description,
        "category": _category(product),
        "price_monthly": o.price,
        "price_once": o.start_price,
        "product_id": product.product_id,
        "offering_id": o.offering_id,
        "offering_name": o.name,
        "price_period": o.price_period,
        "agreement_length": o.agreement_length,
        "notice_period": o.notice_period,
        "campaign": o.campaign,
        "campaign_length": o.campaign_length,
        "base_price": o.base_price,
        "consumer_types": ",".join(o.consumer_types),
        "terms_url": product.terms_url or doc.terms_url,
        "privacy_url": doc.privacy_url,
        "onapi_extra": json.dumps(extra, ensure_ascii=False, sort_keys=True),
    }


def _same(old: Any, new: Any) -> bool:
    if isinstance(new, Decimal) or isinstance(old, Decimal):
        return _money(old) == _money(new)
    if isinstance(new, bool):
        return bool(old) == new
    return bool(old == new)


async def _apply(
    conn: AsyncConnection, tl_org_id: int, doc: ProductsDocument, report: SyncReport
) -> None:
    nets = await repo.selling_networks(conn, tl_org_id)
    wanted: dict[tuple[int, str, str], dict[str, Any]] = {}
    for product in doc.products:
        report.offerings += len(product.offerings)
        name = f"{product.product_id} ({product.name})"
        if len(product.co_products) > 1:
            report.skipped.append(f"{name}: a bundle of {len(product.co_products)} coProducts")
            continue
        code = product.co_products[0]
        fits = [n for n in nets if code in n.codes] if len(code) <= UID_MAX else []
        if not fits:
            report.skipped.append(f"{name}: {code!r} is not a product of a network selling it")
            continue
        for o in product.offerings:
            if o.campaign_codes:
                report.skipped.append(f"{name}/{o.offering_id}: needs a campaign code")
                continue
            if o.price_groups:
                report.skipped.append(f"{name}/{o.offering_id}: only for some price groups")
                continue
            for n in fits:
                wanted[(n.id, product.product_id, o.offering_id)] = _values(doc, product, o)
    now = utcnow()
    existing = {
        (r["network_id"], r["product_id"], r["offering_id"]): r
        for r in await repo.raw_onapi_rows(conn, tl_org_id)
    }
    added: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for key, values in wanted.items():
        row = existing.get(key)
        if row is None:
            added.append({"network_id": key[0], **values})
        elif row["active"] and all(_same(row[k], v) for k, v in values.items()):
            report.unchanged += 1
        else:
            changed.append({"id": row["id"], **values})
    gone = [row["id"] for key, row in existing.items() if key not in wanted and row["active"]]
    # In batches: a document of a thousand offerings is a few statements, not thousands.
    if added:
        first = await catalogue.next_service_id(conn)
        await repo.insert_services(
            conn,
            [
                {
                    "id": first + i,
                    "tl_org_id": tl_org_id,
                    "source": "onapi",
                    "direct_activation": False,
                    "active": True,
                    "created_at": now,
                    "updated_at": now,
                    **values,
                }
                for i, values in enumerate(added)
            ],
        )
    await repo.update_services(conn, changed, now)
    await repo.retire_services(conn, gone, now)
    report.added, report.updated, report.retired = len(added), len(changed), len(gone)


def _provider_json(doc: ProductsDocument) -> str:
    sp = doc.service_provider
    return json.dumps(
        {
            "phone": sp.phone,
            "openingHours": sp.opening_hours,
            "email": sp.email,
            "website": sp.website,
            "presentation": sp.presentation,
            "files": [{"type": f.type, "url": f.url, "updated": f.updated} for f in sp.files],
        },
        ensure_ascii=False,
    )


async def _claim(
    ctx: AppContext, tl_org_id: int, due_before: Any = None, failed_before: Any = None
) -> str | None:
    token = secrets.token_hex(16)
    now = utcnow()
    async with ctx.db.write() as conn:
        await repo.ensure_row(conn, tl_org_id)
        if not await repo.claim(
            conn, tl_org_id, token, now, now + CLAIM, due_before, failed_before
        ):
            return None
    return token


async def _sync_claimed(ctx: AppContext, target: SpTarget, token: str) -> SyncReport:
    report = SyncReport(xsp=target.xsp)
    try:
        doc = parse_products(await fetch(target))
        for attempt in range(3):
            try:
                async with ctx.db.write() as conn:
                    if not await repo.holds_claim(conn, target.tl_org_id, token):
                        raise SyncBusy(f"the sync of TL {target.xsp} was taken over")
                    report = SyncReport(xsp=target.xsp)
                    await _apply(conn, target.tl_org_id, doc, report)
                    await repo.finish(
                        conn,
                        target.tl_org_id,
                        token,
                        utcnow(),
                        error=None,
                        service_provider=_provider_json(doc),
                    )
                break
            except IntegrityError:  # a service id taken meanwhile by another writer
                if attempt == 2:
                    raise
    except (ProductsRefused, ProductsUnavailable) as e:
        async with ctx.db.write() as conn:
            await repo.finish(conn, target.tl_org_id, token, utcnow(), error=str(e))
        raise
    # Anything else (an outage, a cancelled task) leaves the claim to expire.
    return report


async def sync_products(ctx: AppContext, xsp: int) -> SyncReport:
    """Read TL ``xsp``'s products into the catalogue now (the command). Raises
    :class:`ProductsRefused` or :class:`ProductsUnavailable` (nothing changed), or
    :class:`SyncBusy` when another process is syncing the TL."""
    target = await sp_settings.target_by_xsp(ctx, xsp)
    token = await _claim(ctx, target.tl_org_id)
    if token is None:
        raise SyncBusy(f"the products of TL {xsp} are being read by another process; try again")
    return await _sync_claimed(ctx, target, token)


async def sync_due(ctx: AppContext) -> int:
    """Sync every TL with an ON-API URL whose last attempt is older than the interval and that
    no other process is syncing; returns how many this process synced (or tried)."""
    every = timedelta(seconds=ctx.settings.products_sync_seconds)
    again = min(every, RETRY)
    async with ctx.db.read() as conn:
        tl_ids = sorted(await settings_repo.all_settings(conn))
    done = 0
    for tl_org_id in tl_ids:
        now = utcnow()
        token = await _claim(ctx, tl_org_id, now - every, now - again)
        if token is None:
            continue
        async with ctx.db.read() as conn:
            target = await sp_settings.target(conn, ctx.settings, tl_org_id)
        if target is None:  # the settings went meanwhile
            async with ctx.db.write() as conn:
                await repo.finish(conn, tl_org_id, token, utcnow(), error="no ON-API URL")
            continue
        done += 1
        try:
            report = await _sync_claimed(ctx, target, token)
        except (ProductsRefused, ProductsUnavailable) as e:
            log.warning("products of TL %s not read: %s", target.xsp, e)
            continue
        log.info(
            "products of TL %s: %d added, %d updated, %d retired, %d left out",
            target.xsp,
            report.added,
            report.updated,
            report.retired,
            len(report.skipped),
        )
    return done


@contextlib.asynccontextmanager
async def sync_in_background(ctx: AppContext) -> AsyncIterator[None]:
    """Sync the TLs' products as they fall due, for as long as the server runs (not at all with
    ``SERVICEGUIDE_PRODUCTS_SYNC_SECONDS=0``)."""
    if ctx.settings.products_sync_seconds == 0:
        yield
        return
    look = min(LOOK_SECONDS, max(1.0, ctx.settings.products_sync_seconds / 4))
    async with repeating(
        "products sync",
        lambda: sync_due(ctx),
        every=look,
        backoff_cap=300.0,
        log=log,
        first_after=min(FIRST_LOOK_SECONDS, look),
    ):
        yield
