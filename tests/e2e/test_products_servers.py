"""The periodic read of a TL's products in real server processes: two servers of two workers
each read the TL once between them, the guide then offers its offerings, and either server
serves them back in ON-API form over real HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

import time

import httpx
import pytest

from serviceguide.domain.products import parse_products
from serviceguide.services.products import FIRST_LOOK_SECONDS
from serviceguide.simulator.sp_products import products_for
from tests.e2e.conftest import Deployment
from tests.support.products_server import products_server

pytestmark = pytest.mark.e2e

XSP = 31420
WAIT = 60.0  # at most, for the first read to show in the guide


def _offerings(base_url: str) -> list[str]:
    r = httpx.get(f"{base_url}/api/guide/accesses/SNFDMO/AB123/services", timeout=10)
    r.raise_for_status()
    return sorted(s["offering_name"] for s in r.json() if s["offering_name"])


def test_two_servers_read_a_tls_products_once_and_both_serve_them(deployment: Deployment):
    tl = next(t for t in deployment.demo["tls"] if t["xsp"] == XSP)
    with products_server() as sp:
        sp.serve(products_for(XSP))
        deployment.run(
            "tl", "set-onapi", str(XSP), sp.url, "--username", "sim", "--password", "sim"
        )
        with deployment.serving(2, 2, SERVICEGUIDE_PRODUCTS_SYNC_SECONDS="3600") as (
            first,
            second,
        ):
            deadline = time.monotonic() + WAIT
            while not _offerings(second.base_url):
                assert time.monotonic() < deadline, "the products were never read"
                time.sleep(0.5)
            # Every worker has looked at least once by now; the TL was read once.
            time.sleep(FIRST_LOOK_SECONDS + 2)
            assert sp.reads == 1, sp.requests
            assert sorted(set(_offerings(first.base_url))) == [
                "12 månader",
                "Företag",
                "Halva priset i 3 månader",
                "Utan bindningstid",
            ]
            r = httpx.get(
                f"{first.base_url}/plain/onapi/{XSP}/products",
                auth=(str(tl["api_user"]), tl["api_key"]),
                timeout=10,
            )
            assert r.status_code == 200, r.text
            served = parse_products(r.json())
            ids = {(p.product_id, o.offering_id) for p in served.products for o in p.offerings}
            assert (f"{XSP}-ab100100", "kampanj") in ids
            assert served.service_provider.website == "https://demobredband.example"
