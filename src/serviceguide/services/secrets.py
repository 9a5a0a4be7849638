"""Hashing of secrets: argon2 for keys and passwords, SHA-256 for login hashes."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import os
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import CHEAPEST, RFC_9106_LOW_MEMORY

_hashers = {
    "default": PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY),
    "fast": PasswordHasher.from_parameters(CHEAPEST),
}


@functools.cache
def _dummy() -> str:
    """A hash to verify against when the user does not exist, so that an unknown api_user
    costs the same time as a wrong key. Made when first needed: hashing it costs every process
    a tenth of a second of CPU at start otherwise."""
    return _hashers["default"].hash("no such user")


def hash_secret(secret: str, profile: str = "default") -> str:
    return _hashers[profile].hash(secret)


def verify_secret(stored_hash: str | None, secret: str) -> bool:
    """Constant-work check of ``secret`` against an argon2 hash (any profile)."""
    try:
        return (
            _hashers["default"].verify(stored_hash or _dummy(), secret) and stored_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False


#: argon2 checks running at once in one process. Each holds 64 MiB and a core for tens of
#: milliseconds; more at a time only adds memory and makes every check slower, and the event
#: loop must keep a core for the requests that need no argon2 at all.
ARGON2_CONCURRENCY = 1
#: The niceness of the threads that run argon2 (Linux: per thread; the lanes libargon2 starts
#: from one inherit it): under a storm of logins the cores go to the event loop's requests
#: first, and the checks take what is left (at 10 a check competing with a busy request for a
#: core gets about a tenth of it: a login under a storm takes around a second, which a service
#: provider logging in every 20 minutes does not notice; at 5 it was a quarter, and the reads'
#: p99 carried it).
ARGON2_NICENESS = 10
_executor: ThreadPoolExecutor | None = None


def _lower_priority() -> None:
    # Not Linux, or not allowed: the checks run at the usual priority.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), ARGON2_NICENESS)


def _argon2_threads() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(
            ARGON2_CONCURRENCY, thread_name_prefix="argon2", initializer=_lower_priority
        )
    return _executor


async def verify_secret_off_loop(stored_hash: str | None, secret: str) -> bool:
    """:func:`verify_secret` on the process's argon2 threads, ``ARGON2_CONCURRENCY`` at a
    time, below the event loop's priority."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_argon2_threads(), verify_secret, stored_hash, secret)


def new_api_key() -> str:
    return secrets.token_urlsafe(24)


def new_password() -> str:
    return secrets.token_urlsafe(12)


def new_login_hash() -> str:
    """32 lowercase hex characters, 128 random bits."""
    return secrets.token_hex(16)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
