"""Use cases of the staff pages: logging in and out, passwords, the order list, the order page,
follow-up flags, revealing a personnummer, and the overview.

Status changes and messages are not here: the pages call :mod:`serviceguide.services.orders`, the
same functions as the API, so they write the same log entries, events and webhooks.

A staff session is a random token in a signed cookie; only its SHA-256 is stored, with an expiry
that slides forward while it is used (``SESSION_IDLE``). Revealing a personnummer is written to
the order's log (type ``log``) so both organisations see who looked and when; it is not a change
of the order, so no event or webhook is sent for it.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import anyio

from serviceguide.domain.clock import STOCKHOLM, local_day_start_utc, today_local, utcnow
from serviceguide.domain.errors import AuthenticationFailed, InvalidInput, NotFound
from serviceguide.domain.listing import OrderFilter, OrderRow
from serviceguide.domain.logcodes import LogCode, LogText
from serviceguide.domain.model import Caller, LogEntry, OrderDetail, OrgKind
from serviceguide.domain.roles import Actor, Role, require_order_handling
from serviceguide.domain.status import MessageType, OrderStatus
from serviceguide.observability import metrics
from serviceguide.services import privacy, ratelimit
from serviceguide.services.context import AppContext
from serviceguide.services.secrets import (
    hash_secret,
    sha256_hex,
    verify_secret_off_loop,
)
from serviceguide.storage import orders as order_repo
from serviceguide.storage import staff as repo
from serviceguide.storage.staff import FailedNotification, OrderExtras

SESSION_IDLE = timedelta(hours=8)
# The expiry is written again only when this much of it has been used, not on every page view.
_EXTEND_AFTER = timedelta(minutes=5)
PASSWORD_MIN = 10
PASSWORD_MAX = 200
PAGE_SIZE = 50
CSV_MAX = 100_000


@dataclass(frozen=True, slots=True)
class StaffSession:
    caller: Caller
    username: str
    token_sha256: str
    role: Role = Role.HANDLER

    @property
    def actor(self) -> Actor:
        """The signed-in user as the administrative use cases take it."""
        return Actor.staff(self.caller, self.username, self.role)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_platform(self) -> bool:
        return self.caller.org_kind == OrgKind.PLATFORM


@dataclass(frozen=True, slots=True)
class OrderPage:
    order: OrderDetail
    extras: OrderExtras
    log: list[LogEntry]


@dataclass(frozen=True, slots=True)
class Overview:
    counts: dict[OrderStatus, int]
    per_day: list[tuple[date, int]]
    oldest_open: list[OrderRow]
    flagged: list[OrderRow]
    failed: list[FailedNotification]


async def _attempt(
    ctx: AppContext, username: str, client_ip: str | None, name: str
) -> ratelimit.Reservation:
    """Count a password attempt for the user and the address before the password is checked
    (services.ratelimit); the login and the password change share the count."""
    return await ratelimit.take_login_attempt(
        ctx.db,
        user_key=f"staff-login-user:{username.lower()[:60]}",
        address_key=f"staff-login-ip:{client_ip}" if client_ip else None,
        limit=ctx.settings.login_failures,
        window=timedelta(seconds=ctx.settings.login_failure_window_seconds),
        now=utcnow(),
        name=name,
    )


async def login(ctx: AppContext, username: str, password: str, client_ip: str | None) -> str:
    """Check the password and open a session; returns the session token (for the cookie).

    Raises :class:`Throttled` after too many failures for the user or the address, and
    :class:`AuthenticationFailed` for any wrong or inactive login."""
    attempt = await _attempt(ctx, username, client_ip, "staff_login")
    async with ctx.db.read() as conn:
        user = await repo.get_user(conn, username=username)
    ok = await verify_secret_off_loop(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        metrics.login_failed("staff")
        raise AuthenticationFailed("Invalid username or password")
    await attempt.give_back()
    now = utcnow()
    token = secrets.token_urlsafe(32)
    async with ctx.db.write() as conn:
        await repo.delete_expired_sessions(conn, now)
        await repo.insert_session(
            conn,
            token_sha256=sha256_hex(token),
            user_id=user.caller.user_id,
            now=now,
            expires=now + SESSION_IDLE,
        )
    return token


async def session(ctx: AppContext, token: str) -> StaffSession | None:
    """The session of ``token`` if it is valid; its idle expiry is moved forward."""
    now = utcnow()
    digest = sha256_hex(token)
    async with ctx.db.read() as conn:
        found = await repo.session_user(conn, digest, now)
    if found is None:
        return None
    user, expires = found
    if expires - now < SESSION_IDLE - _EXTEND_AFTER:
        async with ctx.db.write() as conn:
            await repo.extend_session(conn, digest, now + SESSION_IDLE)
    return StaffSession(
        caller=user.caller, username=user.username, token_sha256=digest, role=user.role
    )


async def logout(ctx: AppContext, token: str) -> None:
    async with ctx.db.write() as conn:
        await repo.delete_session(conn, sha256_hex(token))


def _hash(ctx: AppContext, password: str) -> str:
    return hash_secret(password, ctx.settings.password_hashing)


async def change_password(
    ctx: AppContext, s: StaffSession, current: str, new: str, client_ip: str | None = None
) -> None:
    """Change the caller's own password; every other session of the user is ended. A wrong
    current password counts as a failed login of the user and the address, and is throttled
    like one (:class:`Throttled`): a session must not be a way to guess the password."""
    if not PASSWORD_MIN <= len(new) <= PASSWORD_MAX:
        raise InvalidInput("new", f"Between {PASSWORD_MIN} and {PASSWORD_MAX} characters")
    attempt = await _attempt(ctx, s.username, client_ip, "staff_password")
    async with ctx.db.read() as conn:
        user = await repo.get_user(conn, user_id=s.caller.user_id)
    ok = await verify_secret_off_loop(user.password_hash if user else None, current)
    if not ok or user is None:
        metrics.login_failed("staff_password")
        raise InvalidInput("current", "Wrong password")
    await attempt.give_back()
    new_hash = await anyio.to_thread.run_sync(_hash, ctx, new)
    async with ctx.db.write() as conn:
        await repo.set_password(conn, user.caller.user_id, new_hash)
        await repo.delete_sessions_of(conn, user.caller.user_id, keep=s.token_sha256)


async def reset_password(ctx: AppContext, username: str) -> str:
    """A new random password for ``username``, by the operator; all its sessions are ended.
    The rules and the admin log are services.accounts' (``reset_staff_password``)."""
    from serviceguide.services import accounts, audit

    done = await accounts.reset_staff_password(ctx, audit.cli_actor(), username=username)
    return done.secret


# --- orders -------------------------------------------------------------------------------------


def day_range(
    day_from: date | None, day_to: date | None
) -> tuple[datetime | None, datetime | None]:
    """Stockholm calendar days (both inclusive) as a half-open UTC range."""
    return (
        local_day_start_utc(day_from) if day_from else None,
        local_day_start_utc(day_to + timedelta(days=1)) if day_to else None,
    )


async def list_orders(
    ctx: AppContext,
    caller: Caller,
    f: OrderFilter,
    *,
    before: int | None,
    limit: int = PAGE_SIZE,
    client: str | None = None,
) -> tuple[list[OrderRow], int | None]:
    """A page of orders, newest first, and the ``before`` id of the next page (None: last)."""
    require_order_handling(caller)
    async with ctx.db.read() as conn:
        rows = await repo.list_orders(conn, caller, f, before=before, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    await _audit(ctx, caller, (r.customer_id for r in rows), "staff:list", client)
    return rows, (rows[-1].id if more and rows else None)


def _audit(
    ctx: AppContext, caller: Caller, ids: Iterable[int], via: str, client: str | None
) -> Awaitable[None]:
    return privacy.record_reads(ctx, caller, ids, kind="staff", via=via, client=client)


async def export_orders(
    ctx: AppContext, caller: Caller, f: OrderFilter, client: str | None = None
) -> list[OrderRow]:
    require_order_handling(caller)
    rows: list[OrderRow] = []
    before: int | None = None
    async with ctx.db.read() as conn:
        while len(rows) < CSV_MAX:
            batch = await repo.list_orders(conn, caller, f, before=before, limit=1000)
            rows += batch
            if len(batch) < 1000:
                break
            before = batch[-1].id
    rows = rows[:CSV_MAX]
    await _audit(ctx, caller, (r.customer_id for r in rows), "staff:csv", client)
    return rows


async def filter_choices(
    ctx: AppContext, caller: Caller
) -> tuple[list[tuple[int, str]], list[tuple[str, str]]]:
    require_order_handling(caller)
    async with ctx.db.read() as conn:
        return await repo.filter_choices(conn, caller)


async def order_page(
    ctx: AppContext, caller: Caller, order_id: int, client: str | None = None
) -> OrderPage:
    require_order_handling(caller)
    order = await order_repo.get_order(ctx.db.reader, caller, order_id)
    async with ctx.db.read() as conn:
        extras = await repo.order_extras(conn, caller, order_id)
    log = await order_repo.list_log(ctx.db.reader, caller, order_id)
    if order is None or extras is None or log is None:
        raise NotFound("order", order_id)
    await _audit(ctx, caller, [order.summary.customer_id], "staff:order", client)
    return OrderPage(order=order, extras=extras, log=log)


async def set_flag(ctx: AppContext, caller: Caller, order_id: int, on: bool) -> None:
    """Set or clear the caller's organisation's "needs follow-up" flag on the order."""
    require_order_handling(caller)
    async with ctx.db.write() as conn:
        if not await order_repo.order_visible(conn, caller, order_id):
            raise NotFound("order", order_id)
        await repo.set_flag(conn, order_id, caller.org_id, on=on, by=caller.user_name, at=utcnow())


async def reveal_serial(
    ctx: AppContext, caller: Caller, order_id: int, client: str | None = None
) -> str:
    """The customer's full personnummer; the reveal is written to the order's log."""
    require_order_handling(caller)
    async with ctx.db.write() as conn:
        if not await order_repo.order_visible(conn, caller, order_id):
            raise NotFound("order", order_id)
        extras = await repo.order_extras(conn, caller, order_id)
        assert extras is not None
        shown = LogText(LogCode.SERIAL_SHOWN, {"who": caller.user_name, "org": caller.org_name})
        await order_repo.append_log(
            conn,
            order_id=order_id,
            at=utcnow(),
            type=MessageType.LOG,
            message=shown.text,
            code=shown.code.value,
            params=shown.params_json(),
            user_name=caller.user_name,
            org_name=caller.org_name,
            org_id=caller.org_id,
        )
        await privacy.record_reads(
            ctx,
            caller,
            [extras.customer_id],
            kind="staff",
            via="staff:reveal",
            client=client,
            conn=conn,
        )
    return extras.serial


async def overview(
    ctx: AppContext, caller: Caller, *, days: int = 30, client: str | None = None
) -> Overview:
    require_order_handling(caller)
    today = today_local()
    first = today - timedelta(days=days - 1)
    async with ctx.db.read() as conn:
        counts = await repo.status_counts(conn, caller)
        hours = await repo.created_per_hour(conn, caller, local_day_start_utc(first))
        oldest = await repo.oldest_open(conn, caller, 10)
        flagged = await repo.flagged_orders(conn, caller, 20)
        failed = await repo.failed_notifications(conn, caller, 20)
    per: Counter[date] = Counter()
    for hour, n in hours:
        per[hour.astimezone(STOCKHOLM).date()] += n
    per_day = [
        (first + timedelta(days=i), per.get(first + timedelta(days=i), 0)) for i in range(days)
    ]
    shown = (r.customer_id for r in [*oldest, *flagged])  # their tables show the names
    await _audit(ctx, caller, shown, "staff:overview", client)
    return Overview(
        counts=counts, per_day=per_day, oldest_open=oldest, flagged=flagged, failed=failed
    )
