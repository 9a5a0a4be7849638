"""Whether a failure is an outage — the database away or not taking work — rather than a bug.

Entry points answer an outage with 503 and ``Retry-After``; the relay waits and tries again.
What counts as one is the storage layer's knowledge (``storage.db.unavailable``); this is where
the entry points ask for it.
"""

from __future__ import annotations

from serviceguide.storage.db import unavailable

#: What a 503 tells clients to wait before trying again, in seconds.
RETRY_AFTER_SECONDS = 5


def is_outage(exc: BaseException) -> bool:
    return unavailable(exc)
