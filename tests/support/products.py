"""Products documents for tests: the spec's own example (spec_sp/products.md, unchanged) and a
way to build variants of it."""

from __future__ import annotations

import copy
from typing import Any

SPEC_EXAMPLE: dict[str, Any] = {
    "serviceProvider": {
        "phone": "013-212121",
        "openingHours": "07:00-16:00",
        "email": "acmeab@example.com",
        "website": "https://acmeab.example.com",
        "presentation": "Acme AB är en rikstäckande leverantör av höghastighetsinternet",
        "files": [
            {
                "type": "TermsAndConditions",
                "url": "http://example.com/allmannavilkor.pdf",
                "updated": "2007-04-05T14:30Z",
            },
            {
                "type": "PrivacyPolicy",
                "url": "http://example.com/integritetspolicy.pdf",
                "updated": "2007-04-05T14:30Z",
            },
            {
                "type": "Logo",
                "url": "http://example.com/logo_small.jpg",
                "updated": "2007-04-05T14:30Z",
            },
        ],
    },
    "products": [
        {
            "coProducts": ["100/100"],
            "productId": "1f94f25b-3ae0-434f-a49e-bc4d3093e399",
            "marketingInformation": {
                "productName": "Bredband 100/100",
                "categories": ["internet"],
                "description": "Bra snabbt Internet",
            },
            "files": [
                {
                    "type": "TermsAndConditions",
                    "url": "http://example.com/sarskildavilkor.pdf",
                    "updated": "2007-04-05T14:30Z",
                },
                {
                    "type": "Logo",
                    "url": "http://example.com/logo_small.jpg",
                    "updated": "2007-04-05T14:30Z",
                },
            ],
            "offerings": [
                {
                    "offeringId": "821cfc90-762a-4272-aacf-ba7ffed8614c",
                    "marketingInformation": {
                        "offeringName": "Utan bindningstid",
                        "consumerTypes": ["residential", "business"],
                        "description": "Bra snabbt Internet utan bindingstid",
                        "deliveryInformation": "Vi kontaktar dig om installation av CPE krävs",
                        "startPrice": "0",
                        "price": "250,50",
                        "pricePeriod": "P1M",
                        "periodOfNotice": "P1M",
                        "agreementLength": "P1M",
                    },
                },
                {
                    "offeringId": "bf134676-0830-4d61-8af0-94f00a0270da",
                    "marketingInformation": {
                        "offeringName": "Halva priset 3 månader",
                        "consumerTypes": ["residential", "business"],
                        "description": "Första tre månaderna gratis, 12 månaders bindningstid",
                        "priceGroups": [14, 15, 16],
                        "startPrice": "0",
                        "price": "125",
                        "pricePeriod": "P1M",
                        "periodOfNotice": "P1M",
                        "agreementLength": "P1Y",
                        "campaignLength": "P3M",
                        "basePrice": "250",
                        "campaignCodes": ["billig", "hemlig"],
                        "campaign": True,
                    },
                },
                {
                    "offeringId": "c9c47535-ffa9-4456-9706-9ef590e1ce48",
                    "marketingInformation": {
                        "name": "Inklusive wifi-router",
                        "consumerTypes": ["residential"],
                        "description": (
                            "Få en exklusiv router med abonnemanget för endast 25 kr mer "
                            "i månaden, 3 månaders bindningstid"
                        ),
                        "startPrice": "0",
                        "price": "275",
                        "pricePeriod": "P1M",
                        "periodOfNotice": "P1M",
                        "agreementLength": "P3M",
                        "valueAdded": "950",
                    },
                },
            ],
        }
    ],
}


def spec_example() -> dict[str, Any]:
    """A fresh copy of the spec's example document."""
    return copy.deepcopy(SPEC_EXAMPLE)
