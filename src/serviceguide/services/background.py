"""A server's periodic background work (the upload imports, the TLs' products): one task per
process that runs a step again and again for as long as the server runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from serviceguide.services.availability import is_outage


@contextlib.asynccontextmanager
async def repeating(
    name: str,
    step: Callable[[], Awaitable[object]],
    *,
    every: float,
    backoff_cap: float,
    log: logging.Logger,
    first_after: float = 0.0,
) -> AsyncIterator[None]:
    """Run ``step`` every ``every`` seconds (the first time after ``first_after``) in a task
    named ``name``, until the context ends. A failed step is tried again sooner than never and
    later than at once: the pause doubles with each failure in a row, up to ``backoff_cap``. A
    database outage is one warning line per round; anything else is logged with its traceback."""

    async def loop() -> None:
        errors = 0
        if first_after:
            await asyncio.sleep(first_after)
        while True:
            try:
                await step()
                errors = 0
            except asyncio.CancelledError:
                raise
            except Exception as e:
                errors += 1
                if is_outage(e):
                    log.warning("%s: database unavailable (%s)", name, type(e).__name__)
                else:
                    log.exception("%s failed; trying again", name)
            await asyncio.sleep(min(backoff_cap, every * 2**errors) if errors else every)

    task = asyncio.create_task(loop(), name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
