"""Schemathesis with every check, run from outside: the ``schemathesis`` command against the
served OpenAPI description (``/openapi.json``) of a ``serviceguide serve`` process on SQLite and
PostgreSQL, with the demo data, over real HTTP.

``--checks all`` includes, beside "no 5xx" and "the answer is documented" (status, content
type, headers, JSON schema):

* positive data acceptance: a request the description allows is not refused as bad input
  (400/422). The description has to be exact for this: the XSP forms per method, ranges,
  patterns, required fields;
* negative data rejection: a request it does not allow is refused;
* missing required header, unsupported method (405 with an ``Allow`` that names every method of
  the path), ``Allow`` conformance, ignored authentication (ON-API without credentials is 401),
  use after free and resource availability (the stateful phase, following the links
  Schemathesis infers).

All four phases run: the description's examples, coverage (boundary values, missing and empty
fields, every method), fuzzing and stateful sequences. The credentials are set for the schemes
the description declares: an XSP login hash of the demo TL (``xspHash``, sent as
``Authorization: Bearer``) and the demo KO's ``api_user:api_key`` for ON-API (``onapiBasic``),
so that generated requests get past authentication; the run fails if no XSP call, no ON-API
read and no guide order succeeded. tests/e2e/openapi_hooks.py adds a check of the XSP XML
envelope, and makes schema-valid guide orders name a real access, its services and a
personnummer with a right check digit (what no schema can say).

Throttles: the server runs with ``SERVICEGUIDE_GUIDE_RATE=0`` (no limit on guide orders) and
``SERVICEGUIDE_LOGIN_FAILURES`` set very high: the generated bad logins and many orders, all
from 127.0.0.1, would otherwise turn the API into 429s after a few seconds. The throttles are
tested elsewhere (test_login.py, test_throttle_races.py); their 429s are documented and checked
here if they occur.

The run is bounded and reproducible: a fixed seed, no example database, ``MAX_EXAMPLES`` cases
per operation in the fuzzing phase. For a longer campaign: ``SERVICEGUIDE_FUZZ_EXAMPLES=N``
(cases per operation) and ``SERVICEGUIDE_FUZZ_RANDOM=1`` (a new seed on every run, printed).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.browser_support import chromium
from tests.e2e.conftest import Deployment, Server

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
XSP_PATH = "/plain/serviceguide_log"
MAX_EXAMPLES = int(os.environ.get("SERVICEGUIDE_FUZZ_EXAMPLES", "10"))
SEED = random.randrange(2**31) if os.environ.get("SERVICEGUIDE_FUZZ_RANDOM") == "1" else 20261203
RUN_TIMEOUT = 600.0
FAIL_ON = [
    "missing_auth",
    "unused_openapi_auth",
    "unsupported_regex",
    "validation_mismatch",
    "unresolvable_reference",
]
OPERATIONS = {
    f"GET {XSP_PATH}",
    f"POST {XSP_PATH}",
    "GET /api/guide/addresses",
    "GET /api/guide/accesses/{coid}/{access_id}/services",
    "POST /api/guide/orders",
    "GET /plain/onapi/{coid}/accesses",
    "GET /plain/onapi/{coid}/accesses/{access_id}",
    "GET /plain/onapi/{xsp}/products",
    "GET /plain/onapi/{xsp}/products/{access_id}",
}


@pytest.fixture(scope="module")
def fuzz_server(deployment: Deployment) -> Iterator[Server]:
    with deployment.serving(
        1, SERVICEGUIDE_GUIDE_RATE="0", SERVICEGUIDE_LOGIN_FAILURES="1000000"
    ) as (server,):
        yield server


def _login(base_url: str, api_user: int, api_key: str) -> str:
    r = requests.post(
        f"{base_url}{XSP_PATH}",
        data={"method": "api_login", "api_user": api_user, "api_key": api_key},
        headers={"Accept": "application/json"},
        timeout=15,
    )
    assert r.status_code == 200, r.text
    return str(r.json()["api_login"]["response"]["hash_key"])


def _toml(text: str) -> str:
    return json.dumps(text)  # a JSON string is a TOML basic string


def _config(deployment: Deployment, server: Server, workdir: Path) -> Path:
    tl, ko = deployment.demo["tls"][0], deployment.demo["kos"][0]
    config = workdir / "schemathesis.toml"
    config.write_text(
        "[auth.openapi.xspHash]\n"
        f"bearer = {_toml(_login(server.base_url, tl['api_user'], tl['api_key']))}\n"
        "[auth.openapi.onapiBasic]\n"
        f"username = {_toml(str(ko['api_user']))}\n"
        f"password = {_toml(ko['api_key'])}\n"
        # Credentials that did not work, a pattern the generator cannot read, a description
        # that does not validate: a failed run, not a warning in passing.
        "[warnings]\n"
        f"fail-on = {json.dumps(FAIL_ON)}\n",
        encoding="utf-8",
    )
    return config


def _demo_file(deployment: Deployment, workdir: Path) -> Path:
    """What tests/e2e/openapi_hooks.py needs to make a valid order: accesses and their services."""
    services: dict[str, list[int]] = {}
    for tl in deployment.demo["tls"]:
        for s in tl["services"]:
            services.setdefault(s["coid"], []).append(s["id"])
    accesses = [
        [a["coid"], a["accessId"], services.get(a["coid"], [])] for a in deployment.demo["accesses"]
    ]
    path = workdir / "fuzz-demo.json"
    path.write_text(json.dumps({"accesses": accesses}), encoding="utf-8")
    return path


def test_the_api_is_exactly_what_its_openapi_description_says(
    deployment: Deployment, fuzz_server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "calls.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SCHEMATHESIS_HOOKS": "tests.e2e.openapi_hooks",
        "SERVICEGUIDE_FUZZ_DEMO": str(_demo_file(deployment, tmp_path)),
        "SERVICEGUIDE_FUZZ_LOG": str(log),
    }
    args = [
        str(SCHEMATHESIS),
        "--config-file",
        str(_config(deployment, fuzz_server, tmp_path)),
        "run",
        f"{fuzz_server.base_url}/openapi.json",
        "--checks",
        "all,xml_envelope",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-database",
        "none",
        "--workers",
        "1",
        "--request-timeout",
        "15",
        "--no-color",
    ]
    run = subprocess.run(
        args,
        cwd=tmp_path,  # its cache and reports stay out of the checkout
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=RUN_TIMEOUT,
        check=False,
    )
    calls = Counter(
        tuple(line.rsplit(" ", 1)) for line in log.read_text(encoding="utf-8").splitlines()
    )
    by_status = Counter(status for (_, status) in calls.elements())
    with capsys.disabled():
        summary = [line for line in run.stdout.splitlines() if "generated" in line]
        print(
            f"\n[{deployment.backend}] schemathesis --seed {SEED}: {sum(calls.values())} "
            f"requests ({', '.join(f'{k}: {v}' for k, v in sorted(by_status.items()))}); "
            f"{' '.join(summary).strip()}"
        )
    assert run.returncode == 0, f"schemathesis found failures:\n{run.stdout}\n{run.stderr}"

    tried = {operation for (operation, _) in calls}
    assert tried >= OPERATIONS, OPERATIONS - tried
    # The credentials worked: successes behind each kind of authentication, not only 401s.
    for operation, status in [
        (f"GET {XSP_PATH}", "200"),
        (f"POST {XSP_PATH}", "200"),
        ("GET /plain/onapi/{coid}/accesses", "200"),
        ("GET /plain/onapi/{coid}/accesses/{access_id}", "200"),
        ("POST /api/guide/orders", "201"),
        ("GET /api/guide/accesses/{coid}/{access_id}/services", "200"),
    ]:
        assert calls[(operation, status)] > 0, (operation, status, calls)


async def test_the_docs_page_sends_an_xsp_form_as_plain_query_parameters(
    deployment: Deployment, fuzz_server: Server
) -> None:
    """/docs (Swagger UI) shows the XSP forms, and "Try it out" on the GET operation sends the
    chosen form's fields as query parameters, as the server reads them."""
    if deployment.backend != "sqlite":
        pytest.skip("the page does not depend on the database")
    tl = deployment.demo["tls"][0]
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 1600})
        await page.goto(f"{fuzz_server.base_url}/docs")
        await page.locator(".swagger-ui .info .title").wait_for(state="visible")
        op = page.locator("#operations-XSP_order_API-serviceguide_log_get")
        await op.locator(".opblock-summary").click()
        await op.locator("button.try-out__btn").click()
        form = {"method": "api_login", "api_user": tl["api_user"], "api_key": tl["api_key"]}
        await op.locator("textarea").first.fill(json.dumps({**form, "output_format": "json"}))
        await op.locator("button.execute").click()
        url = op.locator(".request-url")
        await url.wait_for(state="visible")
        assert f"?method=api_login&api_user={tl['api_user']}&api_key=" in await url.inner_text()
        answer = op.locator(".live-responses-table .response-col_description pre").first
        await answer.wait_for(state="visible")
        assert '"hash_key"' in await answer.inner_text()
        assert await page.locator(".swagger-ui .errors-wrapper").count() == 0
