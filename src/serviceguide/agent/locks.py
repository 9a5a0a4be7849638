"""One order at a time: the polling loop and the portal's pushes run in threads of one process
and may reach the same order together (a push arrives while the loop imports it). Whoever holds
an order's lock moves it; the others wait for it (a push, for a bounded time) or leave it for
later (the loop, which comes back next pass)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class OrderLocks:
    def __init__(self) -> None:
        self._busy: set[int] = set()
        self._cond = threading.Condition()

    def acquire(self, order_id: int, timeout: float = 0.0) -> bool:
        """Hold ``order_id``; wait at most ``timeout`` seconds for it (0: do not wait)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while order_id in self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            self._busy.add(order_id)
            return True

    def release(self, order_id: int) -> None:
        with self._cond:
            self._busy.discard(order_id)
            self._cond.notify_all()

    @contextmanager
    def hold(self, order_id: int, timeout: float = 0.0) -> Iterator[bool]:
        """``with locks.hold(id, t) as got:`` — ``got`` says whether the lock is held."""
        got = self.acquire(order_id, timeout)
        try:
            yield got
        finally:
            if got:
                self.release(order_id)
