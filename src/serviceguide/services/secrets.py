"""Hashing of secrets: argon2 for keys and passwords, SHA-256 for login hashes."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import weakref

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import CHEAPEST, RFC_9106_LOW_MEMORY

_hashers = {
    "default": PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY),
    "fast": PasswordHasher.from_parameters(CHEAPEST),
}
# A hash to verify against when the user does not exist, so that an unknown api_user costs
# the same time as a wrong key.
_DUMMY = _hashers["default"].hash("no such user")


def hash_secret(secret: str, profile: str = "default") -> str:
    return _hashers[profile].hash(secret)


def verify_secret(stored_hash: str | None, secret: str) -> bool:
    """Constant-work check of ``secret`` against an argon2 hash (any profile)."""
    try:
        return _hashers["default"].verify(stored_hash or _DUMMY, secret) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


#: argon2 checks running at once in one process. Each holds 64 MiB and a core for tens of
#: milliseconds; more at a time only adds memory and makes every check slower, and the event
#: loop must keep a core for the requests that need no argon2 at all.
ARGON2_CONCURRENCY = 1
_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)


async def verify_secret_off_loop(stored_hash: str | None, secret: str) -> bool:
    """:func:`verify_secret` in a worker thread, ``ARGON2_CONCURRENCY`` at a time."""
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = anyio.CapacityLimiter(ARGON2_CONCURRENCY)
    return await anyio.to_thread.run_sync(verify_secret, stored_hash, secret, limiter=limiter)


def new_api_key() -> str:
    return secrets.token_urlsafe(24)


def new_password() -> str:
    return secrets.token_urlsafe(12)


def new_login_hash() -> str:
    """32 lowercase hex characters, 128 random bits."""
    return secrets.token_hex(16)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
