"""API login, login hashes, the KO-side IP allow-list, and throttling of failed logins."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from serviceguide.domain.clock import utcnow
from serviceguide.domain.errors import AuthenticationFailed
from serviceguide.domain.model import Caller
from serviceguide.observability import metrics
from serviceguide.services import ratelimit
from serviceguide.services.context import AppContext
from serviceguide.services.secrets import new_login_hash, sha256_hex, verify_secret_off_loop
from serviceguide.storage import accounts, identity


@dataclass(frozen=True, slots=True)
class Login:
    hash_key: str
    caller: Caller
    expires_at: datetime


async def verify_key(ctx: AppContext, api_user: int, api_key: str, client_ip: str | None) -> Caller:
    """The caller whose ``api_key`` this is. Each attempt is counted before the key is checked
    and given back when it was right (services.ratelimit), so that concurrent wrong keys cannot
    all pass the limit at once."""
    attempt = await ratelimit.take_login_attempt(
        ctx.db,
        user_key=f"login-user:{api_user}",
        address_key=f"login-ip:{client_ip}" if client_ip else None,
        limit=ctx.settings.login_failures,
        window=timedelta(seconds=ctx.settings.login_failure_window_seconds),
        now=utcnow(),
    )
    async with ctx.db.read() as conn:
        user = await identity.get_api_user(conn, api_user)
    # argon2 takes tens of milliseconds by design: keep it off the event loop.
    ok = await verify_secret_off_loop(user.key_hash if user else None, api_key)
    if not ok or user is None or not user.active:
        metrics.login_failed("api")
        raise AuthenticationFailed("Invalid api_user or api_key")
    await attempt.give_back()
    return user.caller


async def api_login(ctx: AppContext, api_user: int, api_key: str, client_ip: str | None) -> Login:
    """Check ``api_key`` and issue a fresh login hash valid for the configured lifetime."""
    caller = await verify_key(ctx, api_user, api_key, client_ip)
    token = new_login_hash()
    now = utcnow()
    expires = now + timedelta(seconds=ctx.settings.hash_ttl_seconds)
    async with ctx.db.write() as conn:
        await identity.delete_expired_sessions(conn, now)
        await identity.insert_session(
            conn, token_sha256=sha256_hex(token), api_user=api_user, now=now, expires=expires
        )
        await accounts.touch_api_user(conn, api_user, now)
    return Login(hash_key=token, caller=caller, expires_at=expires)


async def caller_for_basic(
    ctx: AppContext, api_user: int, api_key: str, client_ip: str | None
) -> Caller:
    """HTTP Basic credentials (ON-API): argon2 once, then a short in-process memory of the
    verified pair (by its SHA-256), so that polling does not pay tens of milliseconds per
    request; requests with the same pair that arrive during the check wait for it. A changed or
    disabled key is noticed within ``BasicCache.TTL``."""
    fingerprint = sha256_hex(f"{api_user}:{api_key}")
    cached = ctx.basic_cache.get(fingerprint)
    if cached is not None:
        return cached

    async def verify() -> Caller:
        caller = await verify_key(ctx, api_user, api_key, client_ip)
        async with ctx.db.write() as conn:
            await accounts.touch_api_user(conn, api_user, utcnow())
        ctx.basic_cache.put(fingerprint, caller)
        return caller

    return await ctx.basic_cache.once(fingerprint, verify)


async def caller_for_hash(ctx: AppContext, hash_key: str | None) -> Caller:
    """The caller a login hash belongs to; :class:`AuthenticationFailed` otherwise."""
    if not hash_key:
        raise AuthenticationFailed("Missing parameter: hash")
    token, now = sha256_hex(hash_key), utcnow()
    caller = ctx.session_cache.get(token, now)
    if caller is not None:
        return caller
    found = await identity.caller_for_session(ctx.db.reader, token, now)
    if found is None:
        raise AuthenticationFailed("Unknown or expired hash, log in again with api_login")
    caller, expires_at = found
    ctx.session_cache.put(token, caller, expires_at)
    return caller


def _ip_allowed(client_ip: str, allowlist: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    for entry in allowlist:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


async def caller_for_allowlisted_user(
    ctx: AppContext, api_user: int, client_ip: str | None
) -> Caller:
    """The original platform's KO-side convention: ``api_user`` alone, from an allowed address."""
    async with ctx.db.read() as conn:
        user = await identity.get_api_user(conn, api_user)
    if (
        user is None
        or not user.active
        or not user.ip_allowlist
        or not client_ip
        or not _ip_allowed(client_ip, user.ip_allowlist)
    ):
        raise AuthenticationFailed(
            "api_user without hash is accepted only from an allow-listed address"
        )
    now = utcnow()
    if user.last_used_at is None or now - user.last_used_at >= accounts.TOUCH_EVERY:
        async with ctx.db.write() as conn:
            await accounts.touch_api_user(conn, api_user, now)
    return user.caller
