"""A TL's ON-API 2.6 ``products`` document, read and checked as a whole.

:func:`parse_products` turns the JSON a TL serves at ``URL/products/`` into plain values, or
refuses it with :class:`ProductsRefused` naming the first bad field by its path in the document
(``products[2].offerings[0].marketingInformation.price: missing``). Nothing is taken from a
document with a single bad field: the guide offers what a TL said completely, or keeps what it
offered before.

The rules are the spec's (spec_sp/products.md and common/dataformats.md): ids of 1-36 of
``a-z A-Z 0-9 - .``; texts of at most 255 characters without control characters; prices in SEK
with a decimal comma and at most two decimals (a decimal point and a JSON number are read too);
periods as ISO 8601 durations (``P1M``, ``P12M``, ``P1Y``); consumer types and categories from
the spec's lists; ``basePrice`` required with ``campaignLength``; at least one ``coProducts``
item; every ``productId``/``offeringId`` pair once. Links (terms, privacy policy, logos) must be
absolute ``http``/``https`` URLs: they end up as links on the guide's pages.

Two of the spec's own examples break its field list, and are read as they are meant: an
offering's ``name`` stands for ``offeringName``, and an offering without ``campaign`` is not a
campaign. Fields the guide does not know are ignored, as a newer minor version may add some.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from serviceguide.domain.errors import InvalidInput

ID = re.compile(r"^[-0-9a-zA-Z.]{1,36}$")
TEXT_MAX = 255
URL_MAX = 500
#: ISO 8601 durations as ON-API uses them: years, months, weeks, days, and a time part.
DURATION = re.compile(
    r"^P(?=\d|T\d)(?:(\d{1,4})Y)?(?:(\d{1,4})M)?(?:(\d{1,4})W)?(?:(\d{1,4})D)?"
    r"(?:T(?=\d)(?:\d{1,4}H)?(?:\d{1,4}M)?(?:\d{1,4}S)?)?$"
)
_PRICE = re.compile(r"^[0-9]{1,8}(?:[.,][0-9]{1,2})?$")
#: RFC 3339 (seconds optional: the spec's own examples leave them out).
_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$"
)

CONSUMER_TYPES = ("residential", "business", "student", "senior", "propertyOwner")
CATEGORIES = ("internet", "tv", "telephony", "smarthome", "security")
SP_FILE_TYPES = ("TermsAndConditions", "PrivacyPolicy", "Logo")
PRODUCT_FILE_TYPES = ("TermsAndConditions", "Logo")


class ProductsRefused(InvalidInput):
    """The document is not a complete, valid ``products`` document. ``field`` is the path of
    the first bad field; the message reads ``path: what is wrong``."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(path or "document", f"{path or 'the document'}: {problem}")
        self.problem = problem


@dataclass(frozen=True, slots=True)
class SpFile:
    type: str
    url: str
    updated: str


@dataclass(frozen=True, slots=True)
class ServiceProvider:
    phone: str
    email: str
    website: str
    presentation: str
    opening_hours: str | None
    files: tuple[SpFile, ...]


@dataclass(frozen=True, slots=True)
class Offering:
    offering_id: str
    name: str
    consumer_types: tuple[str, ...]
    description: str
    start_price: Decimal
    price: Decimal
    price_period: str
    notice_period: str
    campaign: bool
    agreement_length: str | None = None
    campaign_length: str | None = None
    base_price: Decimal | None = None
    delivery_information: str | None = None
    price_groups: tuple[int, ...] = ()
    campaign_codes: tuple[str, ...] = ()
    value_added: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Product:
    product_id: str
    co_products: tuple[str, ...]
    name: str
    categories: tuple[str, ...]
    description: str
    files: tuple[SpFile, ...]
    offerings: tuple[Offering, ...]

    @property
    def terms_url(self) -> str | None:
        """The product's own terms, if it has some."""
        return _file_url(self.files, "TermsAndConditions")


@dataclass(frozen=True, slots=True)
class ProductsDocument:
    service_provider: ServiceProvider
    products: tuple[Product, ...]

    @property
    def terms_url(self) -> str | None:
        """The TL's general terms and conditions."""
        return _file_url(self.service_provider.files, "TermsAndConditions")

    @property
    def privacy_url(self) -> str | None:
        return _file_url(self.service_provider.files, "PrivacyPolicy")


def _file_url(files: tuple[SpFile, ...], kind: str) -> str | None:
    return next((f.url for f in files if f.type == kind), None)


# --- reading, field by field -----------------------------------------------------------------

_MISSING = object()


class _At:
    """A place in the document: its path, and the object found there."""

    def __init__(self, path: str, obj: dict[str, Any]) -> None:
        self.path = path
        self.obj = obj

    def sub(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def raw(self, name: str, *, required: bool) -> Any:
        value = self.obj.get(name, _MISSING)
        if value is _MISSING or value is None:  # "optional fields can be omitted or null"
            if required:
                raise ProductsRefused(self.sub(name), "missing")
            return None
        return value

    def obj_at(self, name: str) -> _At:
        value = self.raw(name, required=True)
        if not isinstance(value, dict):
            raise ProductsRefused(self.sub(name), "must be an object")
        return _At(self.sub(name), value)

    def items(self, name: str, *, required: bool, non_empty: bool = False) -> list[Any]:
        value = self.raw(name, required=required)
        if value is None:
            return []
        if not isinstance(value, list):
            raise ProductsRefused(self.sub(name), "must be a list")
        if non_empty and not value:
            raise ProductsRefused(self.sub(name), "must have at least one item")
        return value

    def text(self, name: str, *, required: bool = True) -> str | None:
        return _text(self.raw(name, required=required), self.sub(name))

    def req_text(self, name: str) -> str:
        value = self.text(name)
        assert value is not None
        return value

    def price(self, name: str, *, required: bool = True) -> Decimal | None:
        value = self.raw(name, required=required)
        return None if value is None else _price(value, self.sub(name))

    def duration(self, name: str, *, required: bool = True) -> str | None:
        value = self.raw(name, required=required)
        if value is None:
            return None
        if not isinstance(value, str) or not DURATION.match(value):
            raise ProductsRefused(self.sub(name), "must be an ISO 8601 duration like P1M or P12M")
        return value

    def boolean(self, name: str, *, default: bool) -> bool:
        value = self.raw(name, required=False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise ProductsRefused(self.sub(name), "must be true or false")
        return value

    def choices(self, name: str, allowed: tuple[str, ...], *, non_empty: bool) -> tuple[str, ...]:
        out: list[str] = []
        for i, value in enumerate(self.items(name, required=True, non_empty=non_empty)):
            if value not in allowed:
                raise ProductsRefused(
                    f"{self.sub(name)}[{i}]", f"must be one of {', '.join(allowed)}"
                )
            if value not in out:
                out.append(value)
        return tuple(out)


def _text(value: Any, path: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProductsRefused(path, "must be a text")
    value = value.strip()
    if len(value) > TEXT_MAX:
        raise ProductsRefused(path, f"at most {TEXT_MAX} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ProductsRefused(path, "must not hold control characters")
    return value


def _price(value: Any, path: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ProductsRefused(path, 'must be a price like "250,50"')
    text = value.strip() if isinstance(value, str) else format(Decimal(str(value)), "f")
    if isinstance(value, float | int) and "." in text:
        text = text.rstrip("0").rstrip(".")
    if not _PRICE.match(text):
        raise ProductsRefused(path, 'must be a price in SEK like "250,50" (at most two decimals)')
    return Decimal(text.replace(",", ".")).quantize(Decimal("0.01"))


def _id(value: Any, path: str) -> str:
    if value is None:
        raise ProductsRefused(path, "missing")
    if not isinstance(value, str) or not ID.match(value):
        raise ProductsRefused(path, "must be an id of 1-36 of a-z A-Z 0-9 - .")
    return value


def _url(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise ProductsRefused(path, "must be a URL")
    value = value.strip()
    try:
        parts = urlsplit(value)
    except ValueError:
        raise ProductsRefused(path, "must be a URL") from None
    if (
        len(value) > URL_MAX
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(ord(c) <= 32 or ord(c) == 127 for c in value)
    ):
        raise ProductsRefused(path, "must be an absolute http:// or https:// URL")
    return value


def _files(at: _At, allowed: tuple[str, ...]) -> tuple[SpFile, ...]:
    out = []
    for i, raw in enumerate(at.items("files", required=True)):
        path = f"{at.sub('files')}[{i}]"
        if not isinstance(raw, dict):
            raise ProductsRefused(path, "must be an object")
        f = _At(path, raw)
        kind = f.raw("type", required=True)
        if kind not in allowed:
            raise ProductsRefused(f.sub("type"), f"must be one of {', '.join(allowed)}")
        url = _url(f.raw("url", required=True), f.sub("url"))
        updated = f.raw("updated", required=True)
        if not isinstance(updated, str) or not _DATETIME.match(updated):
            raise ProductsRefused(f.sub("updated"), "must be a date and time (RFC 3339)")
        out.append(SpFile(kind, url, updated))
    return tuple(out)


def _service_provider(doc: _At) -> ServiceProvider:
    sp = doc.obj_at("serviceProvider")
    return ServiceProvider(
        phone=sp.req_text("phone"),
        opening_hours=sp.text("openingHours", required=False),
        email=sp.req_text("email"),
        website=_url(sp.raw("website", required=True), sp.sub("website")),
        presentation=sp.req_text("presentation"),
        files=_files(sp, SP_FILE_TYPES),
    )


def _offering(at: _At) -> Offering:
    offering_id = _id(at.raw("offeringId", required=True), at.sub("offeringId"))
    mi = at.obj_at("marketingInformation")
    name = mi.text("offeringName", required=False)
    if name is None:  # the spec's third example says "name"
        name = mi.text("name", required=False)
    if not name:
        raise ProductsRefused(mi.sub("offeringName"), "missing")
    consumer_types = mi.choices("consumerTypes", CONSUMER_TYPES, non_empty=True)
    description = mi.req_text("description")
    groups = []
    for i, g in enumerate(mi.items("priceGroups", required=False)):
        if isinstance(g, bool) or not isinstance(g, int):
            raise ProductsRefused(f"{mi.sub('priceGroups')}[{i}]", "must be an integer")
        groups.append(g)
    delivery = mi.text("deliveryInformation", required=False)
    start_price = mi.price("startPrice")
    price = mi.price("price")
    assert start_price is not None and price is not None
    price_period = mi.duration("pricePeriod")
    notice = mi.duration("periodOfNotice")
    assert price_period is not None and notice is not None
    agreement_length = mi.duration("agreementLength", required=False)
    campaign_length = mi.duration("campaignLength", required=False)
    base_price = mi.price("basePrice", required=campaign_length is not None)
    codes = []
    for i, c in enumerate(mi.items("campaignCodes", required=False)):
        code = _text(c, f"{mi.sub('campaignCodes')}[{i}]")
        if not code:
            raise ProductsRefused(f"{mi.sub('campaignCodes')}[{i}]", "must not be empty")
        codes.append(code)
    campaign = mi.boolean("campaign", default=False)
    value_added = mi.price("valueAdded", required=False)
    return Offering(
        offering_id=offering_id,
        name=name,
        consumer_types=consumer_types,
        description=description,
        delivery_information=delivery or None,
        price_groups=tuple(groups),
        start_price=start_price,
        price=price,
        price_period=price_period,
        notice_period=notice,
        agreement_length=agreement_length,
        campaign_length=campaign_length,
        base_price=base_price,
        campaign_codes=tuple(codes),
        campaign=campaign,
        value_added=value_added,
    )


def _product(at: _At) -> Product:
    co_products = []
    for i, c in enumerate(at.items("coProducts", required=True, non_empty=True)):
        name = _text(c, f"{at.sub('coProducts')}[{i}]")
        if not name:
            raise ProductsRefused(f"{at.sub('coProducts')}[{i}]", "must not be empty")
        co_products.append(name)
    product_id = _id(at.raw("productId", required=True), at.sub("productId"))
    mi = at.obj_at("marketingInformation")
    name = mi.req_text("productName")
    if not name:
        raise ProductsRefused(mi.sub("productName"), "must not be empty")
    categories = mi.choices("categories", CATEGORIES, non_empty=False)
    description = mi.req_text("description")
    files = _files(at, PRODUCT_FILE_TYPES)
    offerings = []
    for i, raw in enumerate(at.items("offerings", required=True)):
        path = f"{at.sub('offerings')}[{i}]"
        if not isinstance(raw, dict):
            raise ProductsRefused(path, "must be an object")
        offerings.append(_offering(_At(path, raw)))
    return Product(
        product_id=product_id,
        co_products=tuple(co_products),
        name=name,
        categories=categories,
        description=description,
        files=files,
        offerings=tuple(offerings),
    )


def parse_products(document: Any) -> ProductsDocument:
    """The document (parsed JSON) as values, or :class:`ProductsRefused` on the first bad
    field, in the order of the document."""
    if not isinstance(document, dict):
        raise ProductsRefused("", "must be a JSON object with serviceProvider and products")
    doc = _At("", document)
    sp = _service_provider(doc)
    products: list[Product] = []
    seen: set[tuple[str, str]] = set()
    for i, raw in enumerate(doc.items("products", required=True)):
        path = f"products[{i}]"
        if not isinstance(raw, dict):
            raise ProductsRefused(path, "must be an object")
        product = _product(_At(path, raw))
        for j, o in enumerate(product.offerings):
            key = (product.product_id, o.offering_id)
            if key in seen:
                raise ProductsRefused(
                    f"{path}.offerings[{j}].offeringId",
                    f"productId {key[0]} with offeringId {key[1]} appears twice",
                )
            seen.add(key)
        products.append(product)
    return ProductsDocument(service_provider=sp, products=tuple(products))
