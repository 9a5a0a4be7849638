"""The SP simulator's ``products`` documents (ON-API 2.6 spec_sp products.md), one per demo TL:
an offering for each of the TL's demo services, whose ids are the services' uids (the ids the
guide sends back in a push for a service entered by hand)."""

from __future__ import annotations

from typing import Any

from serviceguide.services import demo


def _price(text: str) -> str:
    """A price as the spec writes it: SEK with a decimal comma."""
    return text.replace(".", ",")


def products_for(xsp: int) -> dict[str, Any] | None:
    """The ``products`` document of the demo TL ``xsp``; None for any other TL."""
    tl = next((t for t in demo.TLS if t.xsp == xsp), None)
    if tl is None:
        return None
    products = [
        {
            "coProducts": [s.description.split(" ")[0]],
            "productId": s.uid,
            "marketingInformation": {
                "productName": s.name,
                "categories": ["tv" if s.uid.startswith("TV") else "internet"],
                "description": s.description,
            },
            "offerings": [
                {
                    "offeringId": s.uid,
                    "marketingInformation": {
                        "offeringName": "Utan bindningstid",
                        "consumerTypes": ["residential"],
                        "description": s.description,
                        "startPrice": _price(s.once),
                        "price": _price(s.monthly),
                        "pricePeriod": "P1M",
                        "periodOfNotice": "P1M",
                        "agreementLength": "P1M",
                    },
                }
            ],
        }
        for s in demo.SERVICES
        if s.xsp == xsp
    ]
    return {
        "serviceProvider": {
            "email": tl.email,
            "presentation": tl.name,
            "files": [],
        },
        "products": products,
    }
