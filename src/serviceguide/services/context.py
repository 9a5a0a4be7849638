"""What every use case needs: the database and the settings."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from serviceguide.domain.model import Caller
from serviceguide.settings import Settings
from serviceguide.storage.db import Database


class BasicCache:
    """Recently verified HTTP Basic credentials (by their SHA-256), per process."""

    TTL = 60.0
    MAX = 10_000

    def __init__(self) -> None:
        self._items: dict[str, tuple[Caller, float]] = {}
        self._pending: dict[str, asyncio.Future[Caller]] = {}

    async def once(self, fingerprint: str, verify: Callable[[], Awaitable[Caller]]) -> Caller:
        """``verify()``, but only one at a time per pair: requests that arrive with the same
        credentials while it runs wait for its answer (or its error) instead of queueing an
        argon2 check each. An integration that opens 32 connections at once costs one check,
        not 32 one after another, the last of them seconds later."""
        pending = self._pending.get(fingerprint)
        if pending is None:
            pending = asyncio.ensure_future(verify())
            self._pending[fingerprint] = pending
            pending.add_done_callback(lambda f: self._done(fingerprint, f))
        # shield: a caller that goes away does not cancel the check the others wait for
        return await asyncio.shield(pending)

    def _done(self, fingerprint: str, future: asyncio.Future[Caller]) -> None:
        if self._pending.get(fingerprint) is future:
            del self._pending[fingerprint]
        if not future.cancelled():
            future.exception()  # retrieved: every waiter may have gone

    def get(self, fingerprint: str) -> Caller | None:
        item = self._items.get(fingerprint)
        if item is None or time.monotonic() - item[1] > self.TTL:
            return None
        return item[0]

    def put(self, fingerprint: str, caller: Caller) -> None:
        if len(self._items) >= self.MAX:
            self._items.clear()
        self._items[fingerprint] = (caller, time.monotonic())

    def clear(self) -> None:
        """Forget every pair (this process's): a key was changed or a user disabled here."""
        self._items.clear()


class SessionCache:
    """Login hashes this process has recently found valid (by their SHA-256).

    A poll then costs one database read instead of two. Only valid hashes are kept, for at most
    ``TTL`` seconds and never past their expiry, which is checked on every use: a hash expires
    exactly on time in every process, and a deactivated API user is shut out within ``TTL``.
    """

    TTL = 5.0
    MAX = 10_000

    def __init__(self) -> None:
        self._items: dict[str, tuple[Caller, datetime, float]] = {}

    def get(self, token_sha256: str, now: datetime) -> Caller | None:
        item = self._items.get(token_sha256)
        if item is None:
            return None
        caller, expires_at, cached = item
        if now >= expires_at or time.monotonic() - cached > self.TTL:
            del self._items[token_sha256]
            return None
        return caller

    def put(self, token_sha256: str, caller: Caller, expires_at: datetime) -> None:
        if len(self._items) >= self.MAX:
            self._items.clear()
        self._items[token_sha256] = (caller, expires_at, time.monotonic())


@dataclass(frozen=True, slots=True)
class AppContext:
    db: Database
    settings: Settings
    basic_cache: BasicCache = field(default_factory=BasicCache)
    session_cache: SessionCache = field(default_factory=SessionCache)
