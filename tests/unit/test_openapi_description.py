"""The OpenAPI description refuses what the server refuses, value by value, without a server.

The bad values of the XSP and guide bad-input tests (every one a 400 or 422 from the server)
are checked against the served description's forms with a JSON Schema validator of another
engine than the fuzzer's (jsonschema-rs, Rust regular expressions): each is refused, except
the few whose refusal no schema can say (a wrong check digit, an access that does not exist),
which are listed here and described in words. Values the server takes are taken. The e2e test
tests/e2e/test_openapi_fuzz.py runs Schemathesis against a real server for the rest.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jsonschema_rs
import pytest

from serviceguide.api import guide, xsp, xsp_openapi
from serviceguide.domain.clock import today_local
from serviceguide.settings import Settings
from tests.integration import test_guide_api as guide_cases
from tests.integration import test_xsp_bad_input as xsp_cases

pytestmark = pytest.mark.unit

MAX_MESSAGE = Settings().message_max_length
FORMS = xsp_openapi.components(MAX_MESSAGE)
ID = 7  # any order or customer id the description allows


def _validator(schema: dict[str, Any]) -> Any:
    root = {**schema, "components": {"schemas": FORMS}}
    return jsonschema_rs.validator_for(root, validate_formats=True)


XSP_FORM = _validator(xsp_openapi.ONE_OF)
ORDER = _validator(guide._ORDER_BODY)


def _typed(value: Any) -> Any:
    """A form value as the description reads it: the way a client writes an integer is an
    integer, anything else is text."""
    if isinstance(value, str) and value.isascii() and value.lstrip("-").isdigit():
        return int(value)
    return value


def _form(method: str, **fields: Any) -> dict[str, Any]:
    valid = {k: (ID if k == "id" else v) for k, v in xsp_cases.VALID.get(method, {}).items()}
    return {k: _typed(v) for k, v in {"method": method, **valid, **fields}.items()}


def allowed(form: dict[str, Any]) -> bool:
    return bool(XSP_FORM.is_valid(form))


def test_every_method_has_its_form_and_only_the_handlers_methods_have_one():
    assert set(xsp_openapi.METHODS) == set(xsp.HANDLERS)
    mapping = xsp_openapi.ONE_OF["discriminator"]["mapping"]
    for method, ref in mapping.items():
        form = FORMS[ref.rsplit("/", 1)[1]]
        assert form["properties"]["method"]["const"] == method


@pytest.mark.parametrize("method", xsp_cases.AUTHED_METHODS)
def test_the_valid_calls_of_the_bad_input_tests_are_allowed(method: str):
    assert allowed(_form(method))


def test_what_the_fuzzer_found_the_server_refusing_is_no_longer_allowed():
    assert not allowed(_form("api_login", api_user=0, api_key="k"))
    assert not allowed(_form("api_login", api_user=3, api_key=""))
    assert not allowed(_form("api_login", api_user=3, api_key=" \t"))
    assert not allowed(_form("add_message", message=""))
    assert not allowed({"method": "events"})
    assert not allowed({"method": "orders"})  # nor date nor since_id
    assert not ORDER.is_valid({})
    empty = {"coid": "", "accessId": "", "services": [], "customer": {}, "delivery": ""}
    assert not ORDER.is_valid(empty)


def test_a_login_and_a_list_are_allowed_as_the_docs_show_them():
    assert allowed({"method": "api_login", "api_user": 3, "api_key": "key"})
    assert allowed({"method": "orders", "since_id": 0, "limit": 5000})
    assert allowed({"method": "customers", "date": "2026-11-29", "output_format": "json"})
    assert allowed({"method": "add_message", "api_user": 1, "id": 1, "type": "log", "message": "x"})


@pytest.mark.parametrize("method", xsp_cases.ID_METHODS)
@pytest.mark.parametrize("bad", xsp_cases.BAD_IDS)
def test_every_id_the_server_refuses_is_refused(method: str, bad: str):
    assert not allowed(_form(method, id=bad))


@pytest.mark.parametrize("bad", xsp_cases.BAD_DATES)
def test_every_date_the_server_refuses_is_refused(bad: str):
    assert not allowed(_form("orders", date=bad))


@pytest.mark.parametrize("method", ["orders", "customers", "events"])
def test_every_since_id_and_limit_the_server_refuses_is_refused(method: str):
    for bad in xsp_cases.BAD_SINCE_IDS:
        assert not allowed(_form(method, since_id=bad)), bad
    for bad in xsp_cases.BAD_LIMITS:
        assert not allowed(_form(method, since_id="0", limit=bad)), bad


def test_every_status_and_message_type_the_server_refuses_is_refused():
    for bad in xsp_cases.BAD_STATUSES:
        assert not allowed(_form("set_status", status=bad)), bad
    for bad in xsp_cases.BAD_TYPES:
        assert not allowed(_form("add_message", type=bad)), bad


@pytest.mark.parametrize("bad", [m for m, _ in xsp_cases.BAD_MESSAGES])
def test_every_message_the_server_refuses_is_refused(bad: str):
    assert not allowed(_form("add_message", message=bad))


@pytest.mark.parametrize("text", [*xsp_cases.VERBATIM_MESSAGES, "  padded  ", "\x1cx\x1d"])
def test_every_message_the_server_stores_is_allowed(text: str):
    # Stripped first, as the server does: around the text any whitespace, even \x1c.
    assert allowed(_form("add_message", message=text))


#: Refused for what no schema can say; the description says it in words: the access must exist
#: and sell the services, the personnummer's check digit must be right, the delivery day within
#: a year from today.
SEMANTIC = {
    ("accessId", "NOPE"),
    ("services", (103,)),
    ("services", (999,)),
    ("serial", "197001011234"),
    ("delivery", (today_local() - timedelta(days=1)).isoformat()),
    ("delivery", (today_local() + timedelta(days=400)).isoformat()),
}


def _changed(doc: dict[str, Any]) -> set[tuple[str, Any]]:
    """The (field, value) pairs where ``doc`` differs from the good order."""
    good = guide_cases.body()
    out = [(k, v) for k, v in doc.items() if k != "customer" and v != good.get(k)]
    out += [(k, v) for k, v in doc["customer"].items() if v != good["customer"].get(k)]
    return {(k, tuple(v) if isinstance(v, list) else v) for k, v in out}


def test_the_good_guide_order_is_allowed():
    assert ORDER.is_valid(guide_cases.body())
    assert ORDER.is_valid(guide_cases.body(delivery="asap", message="  "))


@pytest.mark.parametrize("doc,fields", guide_cases.BAD)
def test_every_bad_guide_order_is_refused_unless_only_words_can_say_why(
    doc: dict[str, Any], fields: set[str]
):
    semantic = _changed(doc) <= SEMANTIC
    assert ORDER.is_valid(doc) == semantic, _changed(doc)


@pytest.mark.parametrize(
    "serial", ["7001011233", "700101-1233", "19700101-1233", "197001011233", " 700101 - 1233 "]
)
def test_every_way_the_server_reads_a_personnummer_is_allowed(serial: str):
    assert ORDER.is_valid(guide_cases.with_customer(serial=serial))


@pytest.mark.parametrize("email", ["a@b.test", "a@b.LOCAL", "a@localhost", "a@b", "å@b.se"])
def test_addresses_mail_cannot_go_to_are_refused(email: str):
    assert not ORDER.is_valid(guide_cases.with_customer(email=email))
