"""A TL's offerings served in ON-API 2.6 ``products`` form (``GET /plain/onapi/{xsp}/products``
and ``…/products/{accessId}``), so that KOs and other portals can list what the guide offers.

Who may read: the TL itself (every network it sells in) and the KO of a network that admits the
TL (that network's offerings only); anyone else is refused, an unknown TL alike. What is served
is what the guide offers now — the offerings read from the TL's products and the services it
entered by hand — grouped by product:

- an offering read from the TL's products keeps its productId, offeringId and what the document
  said (the serviceProvider part is the last good sync's);
- a service entered by hand is a product and offering of its own, both with the service's uid
  (its product code, ``"AB100100"``; the same ids the order push sends), its uid as the
  coProduct, the price per month, consumer type ``residential``
  (the guide takes orders from private persons) and a notice period of one month (the spec
  requires one; a month is the longest a consumer may be held to in Sweden).

``Last-Modified`` is the newest change among the TL's services in those networks (a retirement
is a change); ``If-Modified-Since`` at or after it answers "not modified".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from serviceguide.domain.model import Caller, Organisation, OrgKind
from serviceguide.domain.products import CATEGORIES
from serviceguide.services.context import AppContext
from serviceguide.services.onapi import Forbidden, NoAccesses, stamp
from serviceguide.storage import catalogue
from serviceguide.storage import products as repo
from serviceguide.storage.catalogue import ServiceRecord

#: The notice period served for a service entered by hand (which states none).
MANUAL_NOTICE = "P1M"


@dataclass(frozen=True, slots=True)
class ProductsAnswer:
    last_modified: datetime | None  # None: the TL has never had a service there
    document: dict[str, Any] | None  # None: not modified since If-Modified-Since


def price_text(value: Decimal) -> str:
    """A price as ON-API writes it: SEK with a decimal comma, whole kronor without."""
    value = Decimal(value).quantize(Decimal("0.01"))
    if value == value.to_integral_value():
        return str(value.to_integral_value())
    return str(value).replace(".", ",")


def _provider(tl: Organisation, stored: str | None) -> dict[str, Any]:
    if stored:
        doc: dict[str, Any] = json.loads(stored)
        return {k: v for k, v in doc.items() if v is not None}
    out: dict[str, Any] = {
        "phone": tl.phone or "",
        "email": tl.contact_email or tl.order_email or "",
        "website": tl.website or "",
        "presentation": tl.name,
        "files": [],
    }
    if tl.opening_hours:
        out["openingHours"] = tl.opening_hours
    return out


def _offering(s: ServiceRecord, extra: dict[str, Any]) -> dict[str, Any]:
    _, offering_id = s.onapi_ids
    mi: dict[str, Any] = {
        "offeringName": s.offering_name or s.name,
        "consumerTypes": list(s.consumer_types) or ["residential"],
        "description": s.description or s.name,
    }
    if extra.get("deliveryInformation"):
        mi["deliveryInformation"] = extra["deliveryInformation"]
    mi["startPrice"] = price_text(s.price_once)
    mi["price"] = price_text(s.price_monthly)
    mi["pricePeriod"] = s.price_period or "P1M"
    # The spec requires a notice period; a service entered by hand states none: a month.
    mi["periodOfNotice"] = s.notice_period or MANUAL_NOTICE
    if s.agreement_length:
        mi["agreementLength"] = s.agreement_length
    if s.campaign_length:
        mi["campaignLength"] = s.campaign_length
    if s.base_price is not None:
        mi["basePrice"] = price_text(s.base_price)
    mi["campaign"] = s.campaign
    if extra.get("valueAdded"):
        mi["valueAdded"] = price_text(Decimal(extra["valueAdded"]))
    return {"offeringId": offering_id, "marketingInformation": mi}


def _products(found: list[tuple[ServiceRecord, str | None]]) -> list[dict[str, Any]]:
    """The services grouped into products and offerings (one offering in several networks is
    served once); what the document said is parsed once per product and offering."""
    products: dict[str, dict[str, Any]] = {}
    offerings: dict[str, set[str]] = {}
    for s, raw in found:
        product_id, offering_id = s.onapi_ids
        product = products.get(product_id)
        if product is not None and offering_id in offerings[product_id]:
            if s.uid not in product["coProducts"]:  # entered by hand in another network
                product["coProducts"].append(s.uid)
            continue
        extra: dict[str, Any] = json.loads(raw) if raw else {}
        if product is None:
            categories = extra.get("categories") or (
                [s.category] if s.category in CATEGORIES else []
            )
            product = products[product_id] = {
                "coProducts": list(extra.get("coProducts") or [s.uid]),
                "productId": product_id,
                "marketingInformation": {
                    "productName": s.name,
                    "categories": categories,
                    "description": extra.get("productDescription") or s.description or s.name,
                },
                "files": extra.get("files") or [],
                "offerings": [],
            }
            offerings[product_id] = set()
        elif s.uid not in product["coProducts"]:
            product["coProducts"].append(s.uid)
        offerings[product_id].add(offering_id)
        product["offerings"].append(_offering(s, extra))
    return list(products.values())


async def _readable_networks(
    ctx: AppContext, caller: Caller, xsp: str
) -> tuple[Organisation, list[int] | None]:
    """The TL and the networks whose offerings the caller may read (None: all of them)."""
    tl = None
    if xsp.isascii() and xsp.isdigit() and len(xsp) <= 9:
        async with ctx.db.read() as conn:
            tl = await catalogue.org_by_xsp(conn, int(xsp))
            nets = await repo.selling_networks(conn, tl.id) if tl is not None else []
    if tl is None or tl.kind != OrgKind.TL:
        raise Forbidden(f"No access to the products of TL {xsp}")
    if caller.org_kind == OrgKind.TL and caller.org_id == tl.id:
        return tl, None
    if caller.org_kind == OrgKind.KO:
        mine = [n.id for n in nets if n.ko_org_id == caller.org_id]
        if mine:
            return tl, mine
    raise Forbidden(f"No access to the products of TL {xsp}")


async def list_products(
    ctx: AppContext,
    caller: Caller,
    xsp: str,
    access_id: str | None,
    if_modified_since: datetime | None,
) -> ProductsAnswer:
    """The TL's offerings the caller may read (on one access, if ``access_id``)."""
    tl, network_ids = await _readable_networks(ctx, caller, xsp)
    async with ctx.db.read() as conn:
        if access_id is not None:
            if network_ids is None:
                network_ids = [n.id for n in await repo.selling_networks(conn, tl.id)]
            network_ids = await repo.networks_with_access(conn, access_id, network_ids)
            if not network_ids:
                raise NoAccesses(f"No access {access_id} in the networks of TL {xsp}")
        newest = await repo.newest_change(conn, tl.id, network_ids)
        if newest is not None and if_modified_since is not None and newest < if_modified_since:
            return ProductsAnswer(stamp(newest, datetime.now(UTC)), None)
        found = await repo.offered_of_tl(conn, tl.id, network_ids)
        state = await repo.sync_state(conn, tl.id)
    document = {
        "serviceProvider": _provider(tl, state.service_provider if state else None),
        "products": _products(found),
    }
    last = stamp(newest, datetime.now(UTC)) if newest is not None else None
    return ProductsAnswer(last, document)


__all__ = ["Forbidden", "NoAccesses", "ProductsAnswer", "list_products", "price_text"]
