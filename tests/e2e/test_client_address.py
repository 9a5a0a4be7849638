"""Whose address a request comes from, through the real server: throttling and the KO allow-list
must not be fooled by a forged ``X-Forwarded-For``.

By default the TCP peer is the client, whatever the headers say. With
``SERVICEGUIDE_TRUSTED_PROXIES`` naming the proxy, the header is believed from that proxy only,
and the address taken is the last one the proxy did not add itself — a client that sends its own
``X-Forwarded-For`` through the proxy gets the proxy's record of its real address appended, and
that is what counts.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from serviceguide.domain.personnummer import with_check_digit
from tests.e2e.conftest import SERVICEGUIDE, Deployment, _command_env, free_port
from tests.support.xsp import PATH

pytestmark = pytest.mark.e2e

ALLOWED = "192.0.2.7"


def _order(d: Deployment, n: int) -> dict[str, Any]:
    tl = d.demo["tls"][0]
    service = next(s for s in tl["services"] if not s["direct_activation"])
    access = next(a for a in d.demo["accesses"] if a["coid"] == service["coid"])
    return {
        "coid": service["coid"],
        "accessId": access["accessId"],
        "services": [service["id"]],
        "customer": {
            "firstname": "Adress",
            "surname": f"Prov{n}",
            "serial": with_check_digit(f"8001013{n:02d}"),
            "email": f"address{n}@example.se",
            "phone": "070-1112233",
        },
        "delivery": "asap",
        "confirm_duplicate": True,  # generated customers may repeat
    }


def _allow_listed_ko_user(d: Deployment) -> tuple[int, int]:
    """An API user of the first KO allowed from ALLOWED alone, and an order on its network."""
    coid = d.demo["kos"][0]["coid"]
    out = d.run(
        "api-users", "create", "--name", "allow-listed", "--coid", coid, "--allow-ip", ALLOWED
    )
    found = re.search(r"API user (\d+) created", out.stdout)
    assert found, out.stdout
    order = next(o["id"] for o in d.demo["orders"] if o["coid"] == coid)
    return int(found[1]), int(order)


def _add_message(http: httpx.Client, api_user: int, order: int, forwarded: str) -> int:
    r = http.get(
        PATH,
        params={"method": "add_message", "api_user": api_user, "id": order,
                "message": "via the allow-list", "type": "log", "output_format": "json"},
        headers={"X-Forwarded-For": forwarded},
    )  # fmt: skip
    return r.status_code


def _orders(http: httpx.Client, d: Deployment, first: int, forwarded: list[str]) -> list[int]:
    return [
        http.post(
            "/api/guide/orders", json=_order(d, first + i), headers={"X-Forwarded-For": f}
        ).status_code
        for i, f in enumerate(forwarded)
    ]


def test_a_forged_x_forwarded_for_is_ignored_by_default(new_deployment: Any):
    d: Deployment = new_deployment()
    api_user, order = _allow_listed_ko_user(d)
    with (
        d.serving(1, SERVICEGUIDE_GUIDE_RATE="2") as (server,),
        httpx.Client(base_url=server.base_url, timeout=10) as http,
    ):
        # Three orders "from three addresses" are three orders from 127.0.0.1: the third is over
        # the limit of two a minute.
        assert _orders(http, d, 0, ["10.0.0.1", "10.0.0.2", "10.0.0.3"]) == [201, 201, 429]
        # The allow-listed address in the header does not make 127.0.0.1 that address.
        assert _add_message(http, api_user, order, ALLOWED) == 401


def test_a_trusted_proxy_is_believed_for_the_address_it_adds(new_deployment: Any):
    d: Deployment = new_deployment()
    api_user, order = _allow_listed_ko_user(d)
    env = {"SERVICEGUIDE_GUIDE_RATE": "2", "SERVICEGUIDE_TRUSTED_PROXIES": "127.0.0.1"}
    with (
        d.serving(1, **env) as (server,),
        httpx.Client(base_url=server.base_url, timeout=10) as http,
    ):
        # Each client address has its own limit.
        assert _orders(http, d, 10, ["10.0.0.1", "10.0.0.2", "10.0.0.1", "10.0.0.1"]) == [
            201, 201, 201, 429
        ]  # fmt: skip
        assert _add_message(http, api_user, order, ALLOWED) == 200
        # A client behind the proxy that forges the header itself: the proxy appends the
        # address it saw, and that one counts.
        assert _add_message(http, api_user, order, f"{ALLOWED}, 198.51.100.1") == 401


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("proxy.example", "'proxy.example' is not an IP address or network"),
        ("10.0.0.1, 0.0.0.0/0", "0.0.0.0/0 would trust every address"),
    ],
)
def test_trusted_proxies_that_are_not_addresses_stop_the_server_with_a_clear_error(
    tmp_path: Path, value: str, says: str
):
    env = _command_env(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    proc = subprocess.run(
        [str(SERVICEGUIDE), "serve", "--port", str(free_port())],
        env={**env, "SERVICEGUIDE_TRUSTED_PROXIES": value},
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert f"error: SERVICEGUIDE_TRUSTED_PROXIES: {says}" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "Uvicorn running" not in proc.stderr, proc.stderr
