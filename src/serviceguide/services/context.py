"""What every use case needs: the database and the settings."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from serviceguide.domain.model import Caller
from serviceguide.settings import Settings
from serviceguide.storage.db import Database


class BasicCache:
    """Recently verified HTTP Basic credentials (by their SHA-256), per process."""

    TTL = 60.0
    MAX = 10_000

    def __init__(self) -> None:
        self._items: dict[str, tuple[Caller, float]] = {}

    def get(self, fingerprint: str) -> Caller | None:
        item = self._items.get(fingerprint)
        if item is None or time.monotonic() - item[1] > self.TTL:
            return None
        return item[0]

    def put(self, fingerprint: str, caller: Caller) -> None:
        if len(self._items) >= self.MAX:
            self._items.clear()
        self._items[fingerprint] = (caller, time.monotonic())


@dataclass(frozen=True, slots=True)
class AppContext:
    db: Database
    settings: Settings
    basic_cache: BasicCache = field(default_factory=BasicCache)
