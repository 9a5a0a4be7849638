"""Schemathesis hooks for tests/e2e/test_openapi_fuzz.py, loaded by the ``schemathesis``
command it runs (``SCHEMATHESIS_HOOKS=tests.e2e.openapi_hooks``).

* A check that an XSP answer in XML is well-formed and is the documented envelope (the
  description gives XML as plain text, so Schemathesis cannot check it itself).
* For the guide's orders, what no schema can say: a valid order names an access that exists
  and services offered on it, a personnummer with a right check digit and a date of birth in
  the past, and a delivery day within a year. A schema-valid order (positive case) gets those
  from the demo data before it is sent, keeping everything else as generated, including how
  the personnummer is written (10 or 12 digits, `-` or `+`, spaces). Invalid cases are sent as
  generated. Half the schema-valid requests for the services of an access name one that
  exists.
* Every answer's operation and status are appended to ``SERVICEGUIDE_FUZZ_LOG``, so that the
  test can see that the credentials worked (200s behind the logins, not only 401s).

``SERVICEGUIDE_FUZZ_DEMO`` names a JSON file with what the demo data offers:
``{"accesses": [[coid, accessId, [service ids]], …]}``.
"""

from __future__ import annotations

import json
import os
import random
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from typing import Any

import schemathesis
from schemathesis import Case

from serviceguide.domain.personnummer import with_check_digit

XSP_PATH = "/plain/serviceguide_log"
ORDERS_PATH = "/api/guide/orders"
SERVICES_PATH = "/api/guide/accesses/{coid}/{access_id}/services"
ROOTS = {
    "api_login",
    "orders",
    "customers",
    "order_info",
    "customer_info",
    "order_log",
    "set_status",
    "add_message",
    "events",
    "serviceguide_log",
}


def _demo() -> list[tuple[str, str, list[int]]]:
    path = os.environ.get("SERVICEGUIDE_FUZZ_DEMO")
    if not path:
        return []
    with open(path, encoding="utf-8") as f:
        return [(c, a, s) for c, a, s in json.load(f)["accesses"]]


ACCESSES = _demo()


@schemathesis.check
def xml_envelope(ctx: Any, response: schemathesis.Response, case: Case) -> bool | None:
    """An XSP answer in XML is well-formed and is the documented envelope."""
    if case.operation.path != XSP_PATH:
        return None
    ctype = (response.headers.get("content-type") or [""])[0]
    if not ctype.startswith("application/xml"):
        return None
    root = ET.fromstring(response.content)
    assert [c.tag for c in root] == ["response", "status"], [c.tag for c in root]
    status = root[1].text
    assert status == ("success" if response.status_code == 200 else "failed"), status
    assert root.tag in ROOTS, root.tag
    if status == "failed":
        assert [c.tag for c in root[0]] == ["message", "code"], [c.tag for c in root[0]]
        assert root[0][1].text == str(response.status_code), root[0][1].text
    return None


def _serial_like(written: str, rng: random.Random) -> str:
    """A valid personnummer written as ``written`` is: its digits replaced, the rest kept."""
    digits = [i for i, c in enumerate(written) if c.isascii() and c.isdigit()]
    born = date(1940, 1, 1) + timedelta(days=rng.randrange(60 * 365))
    number = with_check_digit(born.strftime("%y%m%d") + f"{rng.randrange(1000):03d}")
    if len(digits) == 12:
        number = born.strftime("%Y")[:2] + number
    chars = list(written)
    for i, d in zip(digits, number, strict=True):
        chars[i] = d
    return "".join(chars)


def _valid_order(body: dict[str, Any], rng: random.Random) -> None:
    offered = [a for a in ACCESSES if a[2]]
    coid, access_id, services = rng.choice(offered)
    body["coid"], body["accessId"] = coid, access_id
    wanted = len(body.get("services") or [1])
    body["services"] = rng.sample(services, min(wanted, len(services)))
    customer = body.get("customer")
    if isinstance(customer, dict) and isinstance(customer.get("serial"), str):
        customer["serial"] = _serial_like(customer["serial"], rng)
    if body.get("delivery") != "asap":
        body["delivery"] = (date.today() + timedelta(days=rng.randrange(2, 300))).isoformat()


@schemathesis.hook
def before_call(context: Any, case: Case, kwargs: dict[str, Any]) -> None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or not ACCESSES:
        return
    if case.operation.path == ORDERS_PATH and isinstance(case.body, dict):
        _valid_order(case.body, random.Random(json.dumps(case.body, sort_keys=True, default=str)))
    elif case.operation.path == SERVICES_PATH:
        # Every other case asks for an access that exists (generated ones do not).
        rng = random.Random(json.dumps(case.path_parameters, sort_keys=True, default=str))
        if rng.random() < 0.5:
            coid, access_id, _ = rng.choice(ACCESSES)
            case.path_parameters.update(coid=coid, access_id=access_id)


@schemathesis.hook
def after_call(context: Any, case: Case, response: schemathesis.Response) -> None:
    log = os.environ.get("SERVICEGUIDE_FUZZ_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{case.method} {case.operation.path} {response.status_code}\n")
