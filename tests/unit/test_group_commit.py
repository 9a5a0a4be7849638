"""GroupCommit: concurrent writers share commits; nobody returns before its rows are written,
and when a write fails, everyone whose rows were in it fails."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from serviceguide.storage.privacy import GroupCommit

pytestmark = pytest.mark.unit


class Store:
    def __init__(self, fail_on: set[int] | None = None) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.fail_on = fail_on or set()
        self.calls = 0

    async def flush(self, rows: list[dict[str, Any]]) -> None:
        self.calls += 1
        await asyncio.sleep(0.01)  # a commit takes time: others queue meanwhile
        if self.calls in self.fail_on:
            raise ConnectionRefusedError("database down")
        self.batches.append(rows)

    def written(self) -> list[int]:
        return sorted(r["n"] for batch in self.batches for r in batch)


async def test_concurrent_writes_share_commits_and_each_returns_after_its_rows_are_written():
    store = Store()
    writer = GroupCommit(store.flush)

    async def one(n: int) -> None:
        await writer.write([{"n": n}])
        assert n in store.written()  # returned only once its row was stored

    await asyncio.gather(*(one(n) for n in range(50)))
    assert store.written() == list(range(50))
    assert 2 <= store.calls < 10  # the first alone, then everyone who queued meanwhile


async def test_a_failed_write_fails_everyone_in_it_and_the_next_one_works():
    store = Store(fail_on={2})
    writer = GroupCommit(store.flush)
    first = asyncio.create_task(writer.write([{"n": 0}]))
    await asyncio.sleep(0)  # the first write is under way
    queued = [asyncio.create_task(writer.write([{"n": n}])) for n in range(1, 6)]
    results = await asyncio.gather(first, *queued, return_exceptions=True)
    assert results[0] is None
    assert all(isinstance(r, ConnectionRefusedError) for r in results[1:]), results
    assert store.written() == [0]  # nothing of the failed batch
    await writer.write([{"n": 9}])
    assert store.written() == [0, 9]
