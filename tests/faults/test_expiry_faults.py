"""Clock and expiry: login hashes expire exactly on time, on every server process.

docs/api.md: a hash is valid for ``SERVICEGUIDE_HASH_TTL_SECONDS`` *from
issue*; using it does not extend it; it is valid on every process that shares the database.
The code says the same precisely: login stores ``expires_at = now + TTL``; a hash is accepted
while ``now < expires_at`` (the database query asks ``expires_at > now``), and each process's
SessionCache, which remembers a valid hash for up to 5 s, keeps ``expires_at`` with it and
checks it on every use. So "expires" means: accepted by every process at any instant before
issue + TTL, refused by every process at any instant from then on, however recently and often
it was used, wherever.

Two ``serviceguide serve`` processes (A and B) on one database, TTL = ``TTL`` s. Hash 1 is
issued by A, hash 2 by B half a TTL later. Both are used on both processes, alternately and
without pause, from issue until after expiry: each process has each hash cached as valid (the
cache keeps it 5 s, longer than the TTL) up to the moment it expires.

**The tolerance, and why it is honest.** The issue instant is the server's clock reading during
the login request, which the test knows only to lie between sending the request and receiving
the answer: so the expiry instant E lies in [login sent + TTL, login answered + TTL]. Likewise
each probe is checked at some instant between its sending and its answer. A probe answered
before the earliest possible E must therefore succeed, and a probe sent after the latest
possible E must fail with 401 — no allowance needed, and any failure of either is a real error
(server and test share one machine and one clock). Only probes that straddle the uncertain
instant may go either way; they span a few milliseconds. ``RESOLUTION`` (0.25 s) is not an
allowance for error but a requirement on the test itself: each process must have answered a
success within 0.25 s before expiry and a refusal within 0.25 s after it, so that "until just
before" and "right after" are actually observed, not inferred from probes seconds away.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from serviceguide.services.context import SessionCache
from tests.e2e.conftest import Deployment, Server

TTL = 3
RESOLUTION = 0.25
#: How long after the later hash's expiry the probing goes on.
AFTER = 0.75
EXPIRED = "Unknown or expired hash, log in again with api_login"
PATH = "/plain/serviceguide_log"


@dataclass(frozen=True)
class Issued:
    name: str
    hash: str
    server: str
    sent: float
    answered: float

    @property
    def earliest_expiry(self) -> float:
        return self.sent + TTL

    @property
    def latest_expiry(self) -> float:
        return self.answered + TTL


@dataclass(frozen=True)
class Probe:
    hash: str  # Issued.name
    server: str
    sent: float
    answered: float
    status: int
    message: str | None


@pytest.fixture(scope="module")
def clients(deployment: Deployment) -> Iterator[dict[str, httpx.Client]]:
    """Clients of the two server processes A and B, with the short TTL."""
    with deployment.serving(1, 1, SERVICEGUIDE_HASH_TTL_SECONDS=str(TTL)) as servers:
        names: dict[str, Server] = dict(zip("AB", servers, strict=True))
        clients = {n: httpx.Client(base_url=s.base_url, timeout=10) for n, s in names.items()}
        try:
            yield clients
        finally:
            for c in clients.values():
                c.close()


def login(http: httpx.Client, name: str, server: str, user: dict[str, Any]) -> Issued:
    sent = time.time()
    r = http.post(
        PATH,
        data={
            "method": "api_login",
            "api_user": user["api_user"],
            "api_key": user["api_key"],
            "output_format": "json",
        },
    )
    answered = time.time()
    assert r.status_code == 200, r.text
    return Issued(name, r.json()["api_login"]["response"]["hash_key"], server, sent, answered)


def probe(http: httpx.Client, server: str, issued: Issued, order_id: int) -> Probe:
    params = {"method": "order_info", "id": order_id, "hash": issued.hash, "output_format": "json"}
    sent = time.time()
    r = http.get(PATH, params=params)
    answered = time.time()
    message = None
    if r.status_code != 200:
        message = r.json()["order_info"]["response"]["message"]
    return Probe(issued.name, server, sent, answered, r.status_code, message)


def test_hashes_expire_ttl_after_issue_on_both_processes_however_often_they_are_used(
    deployment: Deployment, clients: dict[str, httpx.Client]
):
    assert TTL < SessionCache.TTL, "the processes must still have the hash cached at expiry"
    demo = deployment.demo
    tl = demo["tls"][0]
    order_id = next(o["id"] for o in demo["orders"] if o["xsp"] == tl["xsp"])
    hashes = [login(clients["A"], "hash 1", "A", tl)]
    probes: list[Probe] = []
    second_at = hashes[0].answered + TTL / 2
    end = hashes[0].latest_expiry + TTL / 2 + AFTER
    while (now := time.time()) < end:
        if len(hashes) == 1 and now >= second_at:
            hashes.append(login(clients["B"], "hash 2", "B", tl))
        for issued in hashes:
            for server in "AB":
                probes.append(probe(clients[server], server, issued, order_id))
        time.sleep(0.005)

    assert len(hashes) == 2
    summary = []
    for issued in hashes:
        for server in "AB":
            mine = [p for p in probes if p.hash == issued.name and p.server == server]
            what = f"{issued.name} (issued by {issued.server}) on {server}"
            # Before the earliest possible expiry: accepted. After the latest: refused, 401.
            early = [p for p in mine if p.answered < issued.earliest_expiry]
            late = [p for p in mine if p.sent >= issued.latest_expiry]
            assert early and late, what
            wrong = [p for p in early if p.status != 200]
            assert not wrong, f"{what}: refused before it expired: {wrong[:3]}"
            wrong = [p for p in late if (p.status, p.message) != (401, EXPIRED)]
            assert not wrong, f"{what}: accepted (or wrongly refused) after expiry: {wrong[:3]}"
            # Once refused, never accepted again (no process revives it from its cache).
            first_refusal = min(p.sent for p in mine if p.status != 200)
            assert all(p.status != 200 for p in mine if p.sent > first_refusal), what
            # Observed right at the boundary, on this process, with the hash in its cache.
            last_ok = max(p.answered for p in early)
            first_401 = min(p.sent for p in late)
            assert issued.earliest_expiry - last_ok <= RESOLUTION, what
            assert first_401 - issued.latest_expiry <= RESOLUTION, what
            # Used on both processes all along, and not one second longer valid for it.
            assert len(early) >= 10 * TTL, what
            summary.append(
                f"{what}: {len(early)} uses ok, last {issued.earliest_expiry - last_ok:.3f} s "
                f"before expiry; 401 from {first_401 - issued.latest_expiry:.3f} s after "
                f"(expiry known to ±{(issued.answered - issued.sent) / 2:.3f} s)"
            )
    # The later hash outlives the earlier one on both processes: each expires on its own clock.
    h1, h2 = hashes
    assert h2.earliest_expiry > h1.latest_expiry + TTL / 4
    between = [
        p
        for p in probes
        if p.hash == h2.name and h1.latest_expiry <= p.sent and p.answered < h2.earliest_expiry
    ]
    assert {p.server for p in between} == {"A", "B"}
    assert all(p.status == 200 for p in between)
    print(f"[reliability] expiry {deployment.backend}: " + "; ".join(summary))


def test_a_hash_cached_as_valid_just_before_expiry_is_refused_just_after(
    deployment: Deployment, clients: dict[str, httpx.Client]
):
    """Two hashes, one issued by each process. Use each on both processes once, well before
    expiry (both cache it), then once more moments before expiry (both find it in their
    cache), then moments after: 401 on both, and on every try after that."""
    demo = deployment.demo
    tl = demo["tls"][1]
    order_id = next(o["id"] for o in demo["orders"] if o["xsp"] == tl["xsp"])
    hashes = [login(clients[s], f"hash by {s}", s, tl) for s in "AB"]
    first = [probe(clients[s], s, h, order_id) for h in hashes for s in "AB"]
    # Moments before the earlier hash could expire, moments after the later one did.
    time.sleep(max(0.0, hashes[0].earliest_expiry - 0.15 - time.time()))
    before = [probe(clients[s], s, h, order_id) for h in hashes for s in "AB"]
    time.sleep(max(0.0, hashes[1].latest_expiry + 0.02 - time.time()))
    after = [probe(clients[s], s, h, order_id) for h in hashes for s in "AB"]
    time.sleep(0.3)
    again = [probe(clients[s], s, h, order_id) for h in hashes for s in "AB"]
    expiry = {h.name: h for h in hashes}
    for p in first + before:
        assert p.answered < expiry[p.hash].earliest_expiry, "the test came too late: slow machine?"
        assert p.status == 200, p
    for p in after + again:
        assert p.sent >= expiry[p.hash].latest_expiry
        assert (p.status, p.message) == (401, EXPIRED), p
