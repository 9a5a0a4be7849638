"""Schemathesis against the served OpenAPI description (``/openapi.json``): the XSP order API,
the guide's JSON API and ON-API ``accesses``, over real HTTP to a ``serviceguide serve`` process
on SQLite and PostgreSQL, with the demo data.

What is checked, for every generated request: no 5xx (``not_a_server_error``), the status code is
documented (``status_code_conformance``), so is the content type (``content_type_conformance``),
the JSON body matches the documented schema (``response_schema_conformance``), documented
headers (``Retry-After``, ``Last-Modified``, ``Cache-Control``) are present and well-formed
(``response_headers_conformance``), and — since XML is documented as a plain string — an XML
answer of the XSP API is well-formed and is the documented envelope (root element = the method,
``<status>`` matching the HTTP status, ``<code>`` repeating it on failure).

How the generated requests reach the real code paths rather than only 401/404/422:

* XSP: every method is fuzzed on its own (``method`` is fixed per strategy, for GET and for
  POST with a form). Three cases in four carry a valid ``hash`` (as a parameter or as
  ``Authorization: Bearer``) of one of the demo data's API users (both KOs, both TLs), and half
  of those with an ``id`` use a demo order's (or customer's) id. ``api_login`` gets valid
  credentials in half the cases. ``set_status`` therefore really moves demo orders around.
* Guide: ``services`` and ``addresses`` get demo accesses and address fragments half the time;
  ``orders`` gets a valid order (demo access and service, a valid personnummer) a third of the
  time, and another third a valid order with one field replaced by a generated value.
* ON-API: Basic credentials of a demo KO or TL and a demo network (and access) half the time,
  sometimes a recent ``If-Modified-Since``.

Throttles: the server runs with ``SERVICEGUIDE_GUIDE_RATE=0`` (no limit on guide orders) and
``SERVICEGUIDE_LOGIN_FAILURES`` set very high. With the defaults the fuzzer's many bad logins and
orders would turn the API into a wall of 429s after a few seconds (the counts are per client
address, and every request comes from 127.0.0.1), and the paths behind them would go untested.
The throttles themselves are tested elsewhere (tests/integration/test_login.py, the guide API
tests); their 429 answers are documented and would be checked here if they occurred.

The run is bounded and deterministic: Hypothesis ``derandomize=True``, no example database,
``MAX_EXAMPLES`` positive and ``NEGATIVE_EXAMPLES`` negative examples per operation (and per
XSP method). For a longer campaign, ``SERVICEGUIDE_FUZZ_EXAMPLES=N`` multiplies both by N / 20
and ``SERVICEGUIDE_FUZZ_RANDOM=1`` draws new examples on every run. Failures do not stop the
run: each is recorded (deduplicated by operation and title) and the test fails at the end
listing them all, with a summary line of requests and failures per backend printed either way.
"""

from __future__ import annotations

import base64
import os
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode, checks
from schemathesis.core.failures import FailureGroup

from serviceguide.domain.personnummer import with_check_digit
from tests.e2e.conftest import Deployment, Server

pytestmark = pytest.mark.e2e

XSP_PATH = "/plain/serviceguide_log"
XSP_METHODS = [
    "api_login",
    "orders",
    "customers",
    "order_info",
    "customer_info",
    "order_log",
    "set_status",
    "add_message",
    "events",
]
STATUSES = ["new", "received", "active", "waiting", "cancelled", "delivered"]
MAX_EXAMPLES = int(os.environ.get("SERVICEGUIDE_FUZZ_EXAMPLES", "20"))
NEGATIVE_EXAMPLES = max(1, MAX_EXAMPLES * 8 // 20)
TIMEOUT = 15.0

FUZZ_SETTINGS = settings(
    derandomize=os.environ.get("SERVICEGUIDE_FUZZ_RANDOM") != "1",
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)


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
    assert root.tag in (*XSP_METHODS, "serviceguide_log"), root.tag
    if status == "failed":
        assert [c.tag for c in root[0]] == ["message", "code"], [c.tag for c in root[0]]
        assert root[0][1].text == str(response.status_code), root[0][1].text
    return None


CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


@dataclass
class Stats:
    backend: str
    requests: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    per_operation: dict[str, Counter[int]] = field(default_factory=dict)
    failures: dict[tuple[str, str], str] = field(default_factory=dict)
    failed_requests: int = 0
    no_negative: list[str] = field(default_factory=list)

    def summary(self) -> str:
        by_status = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items()))
        return (
            f"[{self.backend}] schemathesis: {self.requests} requests, "
            f"{self.failed_requests} failing, {len(self.failures)} distinct failures "
            f"({by_status})"
        )


@dataclass
class Demo:
    """What the demo data offers the fuzzer: logins, ids, networks, accesses."""

    hashes: list[str]
    logins: list[tuple[int, str]]
    order_ids: list[int]
    customer_ids: list[int]
    coids: list[str]
    accesses: list[tuple[str, str]]
    services: dict[str, list[int]]  # coid -> service ids sold there
    words: list[str]
    xsps: list[int] = field(default_factory=list)


def _login(base_url: str, api_user: int, api_key: str) -> str:
    r = requests.post(
        f"{base_url}{XSP_PATH}",
        data={
            "method": "api_login",
            "api_user": api_user,
            "api_key": api_key,
            "output_format": "json",
        },
        timeout=TIMEOUT,
    )
    assert r.status_code == 200, r.text
    return str(r.json()["api_login"]["response"]["hash_key"])


def _demo(deployment: Deployment, server: Server) -> Demo:
    d = deployment.demo
    logins = [(o["api_user"], o["api_key"]) for o in (*d["kos"], *d["tls"])]
    services: dict[str, list[int]] = {}
    for tl in d["tls"]:
        for s in tl["services"]:
            services.setdefault(s["coid"], []).append(s["id"])
    words = sorted({w for a in d["accesses"] for w in a["address"].replace(",", "").split()})
    return Demo(
        hashes=[_login(server.base_url, u, k) for u, k in logins],
        logins=logins,
        order_ids=sorted(o["id"] for o in d["orders"]),
        customer_ids=sorted({o["customer"] for o in d["orders"]}),
        coids=[k["coid"] for k in d["kos"]],
        accesses=[(a["coid"], a["accessId"]) for a in d["accesses"]],
        services=services,
        words=words,
        xsps=[t["xsp"] for t in d["tls"]],
    )


# -- making a fraction of the generated cases valid enough to get past the first check ---------

Prepare = Callable[[Case, st.DataObject], None]


# Hypothesis leans towards the simplest value of a draw (0, False, the first element), so the
# useful choice is the simplest one here: "often" is three cases in four, "half" one in two.
def _often(data: st.DataObject, label: str) -> bool:
    return data.draw(st.integers(0, 3), label=label) != 3


def _half(data: st.DataObject, label: str) -> bool:
    return not data.draw(st.booleans(), label=label)


def _fields(case: Case) -> dict[str, Any]:
    """Where the XSP parameters of this case live: the query (GET) or the form (POST)."""
    if case.method == "GET":
        return case.query
    if not isinstance(case.body, dict):
        case.body = {}
    return case.body  # type: ignore[no-any-return]


def _xsp(method: str, demo: Demo) -> Prepare:
    def prepare(case: Case, data: st.DataObject) -> None:
        fields = _fields(case)
        fields["method"] = method
        if method == "api_login":
            if _often(data, "valid login"):
                fields["api_user"], fields["api_key"] = data.draw(st.sampled_from(demo.logins))
            return
        how = data.draw(st.sampled_from(["hash", "bearer", "hash", "as generated"]), label="auth")
        if how != "as generated":
            token = data.draw(st.sampled_from(demo.hashes), label="hash")
            if how == "hash":
                fields["hash"] = token
            else:
                fields.pop("hash", None)
                case.headers["Authorization"] = f"Bearer {token}"
        if _often(data, "complete"):
            for name in REQUIRED[method]:
                if name not in fields:
                    fields[name] = data.draw(_values(name, method, demo), label=name)
        if "id" in fields and _half(data, "known id"):
            fields["id"] = data.draw(_values("id", method, demo), label="id")

    return prepare


#: What each XSP method needs (docs/api.md); ``orders`` and ``customers`` take ``date`` or
#: ``since_id``. One case in four is left as generated, the rest get what is missing.
REQUIRED = {
    "api_login": ["api_user", "api_key"],
    "orders": ["date"],
    "customers": ["since_id"],
    "order_info": ["id"],
    "customer_info": ["id"],
    "order_log": ["id"],
    "set_status": ["id", "status"],
    "add_message": ["id", "type", "message"],
    "events": ["since_id"],
}


def _values(name: str, method: str, demo: Demo) -> st.SearchStrategy[Any]:
    if name == "id":
        return st.sampled_from(demo.customer_ids if method == "customer_info" else demo.order_ids)
    if name == "date":
        return st.dates(date(2024, 1, 1), date(2030, 12, 31)).map(date.isoformat)
    if name == "since_id":
        return st.integers(0, 40)
    if name == "status":
        return st.sampled_from(STATUSES)
    if name == "type":
        return st.sampled_from(["error", "alert", "system", "log"])
    if name == "message":
        return st.text(min_size=1, max_size=80)
    if name == "api_user":
        return st.sampled_from([u for u, _ in demo.logins])
    return st.text(max_size=30)  # api_key


def _guide_services(demo: Demo) -> Prepare:
    def prepare(case: Case, data: st.DataObject) -> None:
        if _half(data, "known access"):
            coid, access_id = data.draw(st.sampled_from(demo.accesses), label="access")
            case.path_parameters.update(coid=coid, access_id=access_id)

    return prepare


def _guide_addresses(demo: Demo) -> Prepare:
    def prepare(case: Case, data: st.DataObject) -> None:
        if _half(data, "known words"):
            words = data.draw(st.lists(st.sampled_from(demo.words), min_size=1, max_size=3))
            case.query["q"] = " ".join(words)

    return prepare


def _valid_order(demo: Demo, data: st.DataObject) -> dict[str, Any]:
    coid, access_id = data.draw(
        st.sampled_from([a for a in demo.accesses if a[0] in demo.services]), label="access"
    )
    services = data.draw(
        st.lists(st.sampled_from(demo.services[coid]), min_size=1, max_size=2, unique=True)
    )
    return {
        "coid": coid,
        "accessId": access_id,
        "services": services,
        "customer": {
            "firstname": "Fuzz",
            "surname": "Testsson",
            "serial": with_check_digit("800101123"),
            "email": "fuzz@example.se",
            "phone": "070-1234567",
        },
        "delivery": "asap",
        "message": "schemathesis",
    }


def _guide_orders(demo: Demo) -> Prepare:
    def prepare(case: Case, data: st.DataObject) -> None:
        how = data.draw(st.sampled_from(["valid", "one field", "as generated"]), label="body")
        if how == "as generated":
            return
        body = _valid_order(demo, data)
        generated = case.body if isinstance(case.body, dict) else {}
        if how == "one field" and generated:
            name = data.draw(st.sampled_from(sorted(generated)), label="field")
            body[name] = generated[name]
        case.body = body

    return prepare


def _onapi(demo: Demo) -> Prepare:
    def prepare(case: Case, data: st.DataObject) -> None:
        if _often(data, "credentials"):
            user, key = data.draw(st.sampled_from(demo.logins), label="login")
            token = base64.b64encode(f"{user}:{key}".encode()).decode()
            case.headers["Authorization"] = f"Basic {token}"
        if _half(data, "known network"):
            coid, access_id = data.draw(st.sampled_from(demo.accesses), label="access")
            if "xsp" in case.path_parameters:  # a TL's products
                case.path_parameters["xsp"] = str(data.draw(st.sampled_from(demo.xsps)))
            else:
                case.path_parameters["coid"] = coid
            if "access_id" in case.path_parameters:
                case.path_parameters["access_id"] = access_id
        if not _often(data, "no If-Modified-Since"):
            # HTTP dates around now and far off, in GMT, without a zone, "-0000" and offsets.
            ago = data.draw(st.sampled_from([0, 60, 86400, 10**9, -(10**9)]), label="ago")
            since = datetime.now(UTC) - timedelta(seconds=ago)
            text = format_datetime(since, usegmt=True)
            zone = data.draw(st.sampled_from(["GMT", "", "-0000", "+2359", "-2359"]))
            case.headers["If-Modified-Since"] = f"{text[:-4]} {zone}".rstrip()

    return prepare


def _no_change(case: Case, data: st.DataObject) -> None:
    return None


# -- the run --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_server(deployment: Deployment) -> Iterator[Server]:
    with deployment.serving(
        1, SERVICEGUIDE_GUIDE_RATE="0", SERVICEGUIDE_LOGIN_FAILURES="1000000"
    ) as (server,):
        yield server


def _fuzz(
    label: str,
    operation: Any,
    prepare: Prepare,
    stats: Stats,
    base_url: str,
    session: requests.Session,
    query: dict[str, Any] | None = None,
) -> None:
    for mode, examples in (
        (GenerationMode.POSITIVE, MAX_EXAMPLES),
        (GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES),
    ):
        where = f"{label} [{mode.value}]"
        strategy = operation.as_strategy(generation_mode=mode, query=query)
        test = _one_mode(where, strategy, examples, prepare, stats, base_url, session)
        try:
            test()
        except Unsatisfiable:
            # Nothing to negate (e.g. a lone free-text parameter): no invalid request exists.
            assert mode == GenerationMode.NEGATIVE, where
            stats.no_negative.append(label)


def _one_mode(
    where: str,
    strategy: st.SearchStrategy[Case],
    examples: int,
    prepare: Prepare,
    stats: Stats,
    base_url: str,
    session: requests.Session,
) -> Callable[[], None]:
    @settings(FUZZ_SETTINGS, max_examples=examples)
    @given(case=strategy, data=st.data())
    def run(case: Case, data: st.DataObject) -> None:
        prepare(case, data)
        stats.requests += 1
        try:
            response = case.call(base_url=base_url, session=session, timeout=TIMEOUT)
            stats.statuses[str(response.status_code)] += 1
            stats.per_operation.setdefault(where, Counter())[response.status_code] += 1
            case.validate_response(
                response,
                checks=CHECKS,
                additional_checks=[xml_envelope],
                transport_kwargs={"base_url": base_url, "session": session},
            )
        except FailureGroup as group:
            stats.failed_requests += 1
            for failure in group.exceptions:
                detail = f"{failure.message}\n{case.as_curl_command()}"
                stats.failures.setdefault((where, failure.title), detail)

    return run  # type: ignore[no-any-return]


def test_the_api_conforms_to_its_openapi_description_under_fuzzing(
    deployment: Deployment,
    fuzz_server: Server,
    capsys: pytest.CaptureFixture[str],
    record_property: Callable[[str, object], None],
) -> None:
    base_url = fuzz_server.base_url
    demo = _demo(deployment, fuzz_server)
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    stats = Stats(deployment.backend)
    covered: list[str] = []
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            path, method = operation.path, operation.method.upper()
            if path == XSP_PATH:
                for xsp_method in XSP_METHODS:
                    label = f"{method} {path} method={xsp_method}"
                    query = {"method": xsp_method} if method == "GET" else None
                    prepare = _xsp(xsp_method, demo)
                    _fuzz(label, operation, prepare, stats, base_url, session, query)
                    covered.append(label)
                continue
            if path == "/api/guide/addresses":
                prepare = _guide_addresses(demo)
            elif path.startswith("/api/guide/accesses/"):
                prepare = _guide_services(demo)
            elif path == "/api/guide/orders":
                prepare = _guide_orders(demo)
            elif path.startswith("/plain/onapi/"):
                prepare = _onapi(demo)
            else:
                prepare = _no_change
            _fuzz(f"{method} {path}", operation, prepare, stats, base_url, session)
            covered.append(f"{method} {path}")

    record_property("schemathesis_requests", stats.requests)
    record_property("schemathesis_failures", len(stats.failures))
    with capsys.disabled():
        print(f"\n{stats.summary()}")
        for where, counts in stats.per_operation.items():
            print(f"  {where}: {dict(sorted(counts.items()))}")
        for (where, title), detail in sorted(stats.failures.items()):
            print(f"  FAIL {where}: {title}\n    {detail.replace(chr(10), chr(10) + '    ')}")

    # Every documented API was fuzzed, every XSP method over GET and POST.
    assert {
        "/api/guide/addresses",
        "/api/guide/orders",
        "/plain/onapi/{coid}/accesses",
        "/plain/onapi/{xsp}/products",
    } <= {c.split(" ")[1] for c in covered}
    assert len([c for c in covered if c.startswith(("GET", "POST")) and "method=" in c]) == 18
    # The credentials worked: the fuzzer saw successes, not only refusals.
    assert stats.statuses["200"] > 0 and stats.statuses["201"] > 0, stats.summary()
    assert not stats.failures, "\n".join(f"{w}: {t}" for w, t in sorted(stats.failures))
