"""The per-process memory of valid login hashes: never past expiry, never longer than its TTL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from serviceguide.domain.model import Caller, OrgKind
from serviceguide.services import context
from serviceguide.services.context import SessionCache

pytestmark = pytest.mark.unit

CALLER = Caller(user_id=1, user_name="u", org_id=2, org_name="TL", org_kind=OrgKind.TL)
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_a_remembered_hash_is_returned_until_the_instant_it_expires():
    cache = SessionCache()
    cache.put("t", CALLER, expires_at=NOW + timedelta(seconds=1))
    assert cache.get("t", NOW) == CALLER
    assert cache.get("t", NOW + timedelta(microseconds=999_999)) == CALLER
    assert cache.get("t", NOW + timedelta(seconds=1)) is None
    assert cache.get("t", NOW) is None  # forgotten once seen expired


def test_a_hash_is_remembered_no_longer_than_the_ttl(monkeypatch: pytest.MonkeyPatch):
    clock = [1000.0]
    monkeypatch.setattr(context.time, "monotonic", lambda: clock[0])
    cache = SessionCache()
    cache.put("t", CALLER, expires_at=NOW + timedelta(hours=1))
    clock[0] += SessionCache.TTL
    assert cache.get("t", NOW) == CALLER
    clock[0] += 0.001
    assert cache.get("t", NOW) is None


def test_unknown_hashes_are_not_found_and_the_cache_stays_bounded():
    cache = SessionCache()
    assert cache.get("never", NOW) is None
    for i in range(SessionCache.MAX + 5):
        cache.put(f"t{i}", CALLER, expires_at=NOW + timedelta(hours=1))
    assert len(cache._items) <= SessionCache.MAX
    assert cache.get(f"t{SessionCache.MAX + 4}", NOW) == CALLER
