"""A TL's products document: the spec's example read field by field, every rule refused with the
path of the first bad field, and junk never anything but a refusal."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from serviceguide.domain.products import ProductsRefused, parse_products
from tests.support.products import spec_example

pytestmark = pytest.mark.unit


def refused(doc: Any) -> str:
    with pytest.raises(ProductsRefused) as e:
        parse_products(doc)
    return str(e.value)


def test_the_spec_example_is_read_field_by_field() -> None:
    doc = parse_products(spec_example())
    sp = doc.service_provider
    assert sp.phone == "013-212121"
    assert sp.opening_hours == "07:00-16:00"
    assert sp.email == "acmeab@example.com"
    assert sp.website == "https://acmeab.example.com"
    assert sp.presentation.startswith("Acme AB är")
    assert [f.type for f in sp.files] == ["TermsAndConditions", "PrivacyPolicy", "Logo"]
    assert doc.terms_url == "http://example.com/allmannavilkor.pdf"
    assert doc.privacy_url == "http://example.com/integritetspolicy.pdf"
    [product] = doc.products
    assert product.product_id == "1f94f25b-3ae0-434f-a49e-bc4d3093e399"
    assert product.co_products == ("100/100",)
    assert product.name == "Bredband 100/100"
    assert product.categories == ("internet",)
    assert product.terms_url == "http://example.com/sarskildavilkor.pdf"
    plain, half, router = product.offerings
    assert plain.offering_id == "821cfc90-762a-4272-aacf-ba7ffed8614c"
    assert plain.name == "Utan bindningstid"
    assert plain.consumer_types == ("residential", "business")
    assert plain.price == Decimal("250.50")
    assert plain.start_price == Decimal("0.00")
    assert (plain.price_period, plain.notice_period, plain.agreement_length) == ("P1M",) * 3
    assert plain.delivery_information == "Vi kontaktar dig om installation av CPE krävs"
    assert plain.campaign is False  # left out in the example
    assert half.campaign is True
    assert half.price == Decimal("125.00") and half.base_price == Decimal("250.00")
    assert half.campaign_length == "P3M" and half.agreement_length == "P1Y"
    assert half.price_groups == (14, 15, 16)
    assert half.campaign_codes == ("billig", "hemlig")
    # The example's third offering says "name" for "offeringName".
    assert router.name == "Inklusive wifi-router"
    assert router.consumer_types == ("residential",)
    assert router.value_added == Decimal("950.00")


def _offering(doc: dict[str, Any], i: int = 0) -> dict[str, Any]:
    mi: dict[str, Any] = doc["products"][0]["offerings"][i]["marketingInformation"]
    return mi


@pytest.mark.parametrize(
    ("field", "path"),
    [
        ("offeringName", "products[0].offerings[0].marketingInformation.offeringName"),
        ("consumerTypes", "products[0].offerings[0].marketingInformation.consumerTypes"),
        ("description", "products[0].offerings[0].marketingInformation.description"),
        ("startPrice", "products[0].offerings[0].marketingInformation.startPrice"),
        ("price", "products[0].offerings[0].marketingInformation.price"),
        ("pricePeriod", "products[0].offerings[0].marketingInformation.pricePeriod"),
        ("periodOfNotice", "products[0].offerings[0].marketingInformation.periodOfNotice"),
    ],
)
def test_a_missing_mandatory_offering_field_is_named(field: str, path: str) -> None:
    doc = spec_example()
    del _offering(doc)[field]
    assert refused(doc) == f"{path}: missing"


@pytest.mark.parametrize(
    ("where", "field", "path"),
    [
        ("serviceProvider", "phone", "serviceProvider.phone"),
        ("serviceProvider", "email", "serviceProvider.email"),
        ("serviceProvider", "website", "serviceProvider.website"),
        ("serviceProvider", "presentation", "serviceProvider.presentation"),
        ("serviceProvider", "files", "serviceProvider.files"),
        ("product", "coProducts", "products[0].coProducts"),
        ("product", "productId", "products[0].productId"),
        ("product", "marketingInformation", "products[0].marketingInformation"),
        ("product", "files", "products[0].files"),
        ("product", "offerings", "products[0].offerings"),
        ("offering", "offeringId", "products[0].offerings[0].offeringId"),
        ("offering", "marketingInformation", "products[0].offerings[0].marketingInformation"),
        ("top", "serviceProvider", "serviceProvider"),
        ("top", "products", "products"),
    ],
)
def test_a_missing_mandatory_field_is_named(where: str, field: str, path: str) -> None:
    doc = spec_example()
    holder = {
        "top": doc,
        "serviceProvider": doc["serviceProvider"],
        "product": doc["products"][0],
        "offering": doc["products"][0]["offerings"][0],
    }[where]
    del holder[field]
    assert refused(doc) == f"{path}: missing"
    holder[field] = None  # null is the same as left out
    assert refused(doc) == f"{path}: missing"


def test_the_first_bad_field_is_named_in_a_later_product() -> None:
    doc = spec_example()
    doc["products"] = [doc["products"][0]] * 2 + [json.loads(json.dumps(doc["products"][0]))]
    doc["products"][1] = json.loads(json.dumps(doc["products"][0]))
    doc["products"][1]["productId"] = "other-1"
    doc["products"][2]["productId"] = "other-2"
    del doc["products"][2]["offerings"][1]["marketingInformation"]["price"]
    assert refused(doc) == "products[2].offerings[1].marketingInformation.price: missing"


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("price", "250.505", "at most two decimals"),
        ("price", "-1", "price in SEK"),
        ("price", "1 000", "price in SEK"),
        ("price", True, "price like"),
        ("price", [], "price like"),
        ("startPrice", "gratis", "price in SEK"),
        ("pricePeriod", "monthly", "ISO 8601 duration"),
        ("pricePeriod", "P", "ISO 8601 duration"),
        ("periodOfNotice", 30, "ISO 8601 duration"),
        ("agreementLength", "12 months", "ISO 8601 duration"),
        ("consumerTypes", ["households"], "must be one of"),
        ("consumerTypes", [], "at least one item"),
        ("consumerTypes", "residential", "must be a list"),
        ("campaign", "yes", "true or false"),
        ("description", "x" * 256, "at most 255"),
        ("description", "line\x00break", "control characters"),
        ("offeringName", 5, "must be a text"),
        ("priceGroups", [1, "2"], "integer"),
        ("campaignCodes", [""], "must not be empty"),
        ("valueAdded", "mycket", "price in SEK"),
    ],
)
def test_a_bad_offering_value_is_refused(field: str, value: Any, problem: str) -> None:
    doc = spec_example()
    _offering(doc)[field] = value
    message = refused(doc)
    assert message.startswith("products[0].offerings[0].marketingInformation.")
    assert problem in message


def test_a_campaign_length_needs_a_base_price() -> None:
    doc = spec_example()
    del _offering(doc, 1)["basePrice"]
    assert refused(doc) == "products[0].offerings[1].marketingInformation.basePrice: missing"


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "/relative.pdf", "ftp://example.com/x", "http://", "http://a b"]
)
def test_links_must_be_absolute_http_urls(url: str) -> None:
    doc = spec_example()
    doc["serviceProvider"]["files"][0]["url"] = url
    assert refused(doc).startswith("serviceProvider.files[0].url: ")
    doc = spec_example()
    doc["products"][0]["files"][0]["url"] = url
    assert refused(doc).startswith("products[0].files[0].url: ")


def test_a_file_type_must_be_one_the_spec_knows() -> None:
    doc = spec_example()
    doc["products"][0]["files"][0]["type"] = "PrivacyPolicy"  # not a product's
    assert refused(doc).startswith("products[0].files[0].type: must be one of")


def test_a_file_needs_a_date() -> None:
    doc = spec_example()
    doc["serviceProvider"]["files"][1]["updated"] = "yesterday"
    assert refused(doc).startswith("serviceProvider.files[1].updated: ")


@pytest.mark.parametrize("bad", ["", "a b", "x" * 37, "å", 12345])
def test_ids_follow_the_spec(bad: Any) -> None:
    doc = spec_example()
    doc["products"][0]["productId"] = bad
    assert refused(doc).startswith("products[0].productId: must be an id")


def test_a_pair_of_ids_appears_once() -> None:
    doc = spec_example()
    doc["products"][0]["offerings"][2]["offeringId"] = doc["products"][0]["offerings"][0][
        "offeringId"
    ]
    assert "appears twice" in refused(doc)
    assert refused(doc).startswith("products[0].offerings[2].offeringId: ")


def test_the_same_offering_id_under_two_products_is_two_offerings() -> None:
    doc = spec_example()
    second = json.loads(json.dumps(doc["products"][0]))
    second["productId"] = "another"
    doc["products"].append(second)
    assert len(parse_products(doc).products) == 2


@pytest.mark.parametrize("doc", [None, [], "products", 5, {"products": []}])
def test_not_a_document(doc: Any) -> None:
    refused(doc)


def test_an_empty_list_of_products_is_a_document() -> None:
    doc = spec_example()
    doc["products"] = []
    assert parse_products(doc).products == ()


def test_prices_read_as_swedes_and_json_write_them() -> None:
    doc = spec_example()
    for value, expected in [
        ("250,5", "250.50"),
        ("99.90", "99.90"),
        (199, "199.00"),
        (12.5, "12.50"),
    ]:
        _offering(doc)["price"] = value
        assert parse_products(doc).products[0].offerings[0].price == Decimal(expected)


def test_unknown_fields_are_ignored() -> None:
    doc = spec_example()
    doc["nextVersion"] = {"x": 1}
    _offering(doc)["somethingNew"] = [1, 2]
    assert parse_products(doc).products[0].offerings[0].name == "Utan bindningstid"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=100)
@given(_json)
def test_junk_is_refused_and_nothing_else(junk: Any) -> None:
    with pytest.raises(ProductsRefused):
        parse_products(junk)


_PATHS = [
    ("serviceProvider",),
    ("serviceProvider", "files", 0),
    ("products", 0),
    ("products", 0, "marketingInformation"),
    ("products", 0, "offerings"),
    ("products", 0, "offerings", 1),
    ("products", 0, "offerings", 1, "marketingInformation"),
    ("products", 0, "coProducts"),
]


@settings(max_examples=100)
@given(st.sampled_from(_PATHS), st.data())
def test_a_damaged_example_is_refused_with_a_path_or_still_read(
    where: tuple[Any, ...], data: st.DataObject
) -> None:
    """Any value put anywhere in a good document: it is read, or refused naming a path that
    exists in the document."""
    doc = spec_example()
    holder: Any = doc
    for step in where:
        holder = holder[step]
    if isinstance(holder, dict):
        key = data.draw(st.sampled_from(sorted(holder)))
    else:
        key = data.draw(st.integers(0, len(holder) - 1))
    holder[key] = data.draw(_json)
    try:
        parse_products(doc)
    except ProductsRefused as e:
        assert e.field.split(".")[0].split("[")[0] in ("serviceProvider", "products")
