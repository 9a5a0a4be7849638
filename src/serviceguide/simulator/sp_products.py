"""The SP simulator's ``products`` documents (ON-API 2.6 spec_sp products.md), one per demo TL,
as a real service provider would publish them: for each of the TL's demo services (its uid is
the coProduct, the network's product code) a product with

- a flexible offering: no binding time, a month's notice, the demo service's prices;
- a 12-month offering, cheaper, with a start fee of 0;
- a campaign: half price for three months, then the flexible price, 12 months' binding;
- an offering for businesses, with VAT-free wording and a longer notice period.

The TL's general terms and privacy policy (and a product's own terms for TV) are links, as the
spec's ``files``. Ids are stable, so that a re-read finds the same offerings.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from serviceguide.services import demo

UPDATED = "2026-11-01T08:00:00Z"


def _price(value: Decimal) -> str:
    """A price as the spec writes it: SEK with a decimal comma, whole kronor without."""
    value = value.quantize(Decimal("0.01"))
    if value == value.to_integral_value():
        return str(value.to_integral_value())
    return str(value).replace(".", ",")


def _site(tl: demo.DemoTL) -> str:
    return "https://" + tl.email.split("@", 1)[1]


def _offering(
    offering_id: str,
    name: str,
    description: str,
    price: Decimal,
    start: Decimal,
    *,
    consumers: list[str],
    binding: str | None = None,
    notice: str = "P1M",
    **more: Any,
) -> dict[str, Any]:
    mi: dict[str, Any] = {
        "offeringName": name,
        "consumerTypes": consumers,
        "description": description,
        "startPrice": _price(start),
        "price": _price(price),
        "pricePeriod": "P1M",
        "periodOfNotice": notice,
    }
    if binding:
        mi["agreementLength"] = binding
    mi.update(more)
    mi.setdefault("campaign", False)
    return {"offeringId": offering_id, "marketingInformation": mi}


def _product(tl: demo.DemoTL, s: demo.DemoService) -> dict[str, Any]:
    monthly, once = Decimal(s.monthly), Decimal(s.once)
    tv = s.uid.startswith("TV")
    offerings = [
        _offering(
            "flex",
            "Utan bindningstid",
            f"{s.description}. Säg upp när du vill med en månads uppsägningstid.",
            monthly,
            once,
            consumers=["residential"],
        ),
        _offering(
            "12m",
            "12 månader",
            f"{s.description}. Lägre pris och ingen startavgift med 12 månaders bindningstid.",
            (monthly * Decimal("0.9")).quantize(Decimal("1")),
            Decimal(0),
            consumers=["residential"],
            binding="P12M",
        ),
        _offering(
            "kampanj",
            "Halva priset i 3 månader",
            "Kampanj för nya kunder: halva priset de tre första månaderna.",
            (monthly / 2).quantize(Decimal("1")),
            Decimal(0),
            consumers=["residential"],
            binding="P12M",
            campaign=True,
            campaignLength="P3M",
            basePrice=_price(monthly),
        ),
        _offering(
            "foretag",
            "Företag",
            f"{s.description} för företag, med support vardagar 07-18. Pris exklusive moms.",
            (monthly * Decimal("0.8")).quantize(Decimal("1")),
            once,
            consumers=["business"],
            binding="P24M",
            notice="P3M",
            deliveryInformation="Vi kontaktar er för att boka installation.",
        ),
    ]
    files = (
        [{"type": "TermsAndConditions", "url": f"{_site(tl)}/tv-villkor.pdf", "updated": UPDATED}]
        if tv
        else []
    )
    return {
        "coProducts": [s.uid],
        "productId": f"{tl.xsp}-{s.uid.lower()}",
        "marketingInformation": {
            "productName": s.name,
            "categories": ["tv" if tv else "internet"],
            "description": s.description,
        },
        "files": files,
        "offerings": offerings,
    }


def products_for(xsp: int) -> dict[str, Any] | None:
    """The ``products`` document of the demo TL ``xsp``; None for any other TL."""
    tl = next((t for t in demo.TLS if t.xsp == xsp), None)
    if tl is None:
        return None
    site = _site(tl)
    return {
        "serviceProvider": {
            "phone": "010-123 45 67",
            "openingHours": "Monday-Friday 08:00-17:00",
            "email": tl.email.replace("order", "kundservice", 1),
            "website": site,
            "presentation": f"{tl.name} levererar bredband och tv i stadsnät.",
            "files": [
                {
                    "type": "TermsAndConditions",
                    "url": f"{site}/allmanna-villkor.pdf",
                    "updated": UPDATED,
                },
                {"type": "PrivacyPolicy", "url": f"{site}/integritetspolicy", "updated": UPDATED},
            ],
        },
        "products": [_product(tl, s) for s in demo.SERVICES if s.xsp == xsp],
    }
