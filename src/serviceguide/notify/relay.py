"""The outbox relay: delivers what changes wrote into the outbox, after they committed.

One loop, run inside every ``serviceguide serve`` worker (unless ``SERVICEGUIDE_RELAY_IN_SERVE``
is off) and by ``serviceguide relay``. Each round it claims a batch of due rows for a lease
(storage.outbox.claim: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock on SQLite), so any
number of relays may run against one database without two of them taking the same row. It
delivers the batch outside any transaction, then records each attempt and its outcome: delivered;
or back to pending with an exponential, jittered back-off; or ``failed`` after the last attempt.

A relay that loses the database mid-round finishes the round once the database is back: an
outcome it could not record is kept and recorded then, and a claim whose answer it never got
(the commit done, the connection gone) is handed back at once instead of waiting out its lease.

When can a message go out twice? Only if a relay stops (crash, kill -9, or a stop while the
database is still away) after the SMTP server or webhook receiver accepted the message but before
the outcome was recorded: the claim then expires and another relay delivers it again. The mail's
``X-Order-ID`` and stable ``Message-ID``, and the webhook event's ``id``, let the receiver drop
such a duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.clock import utcnow
from serviceguide.domain.outbox import AttemptOutcome, OutboxKind, OutboxState, backoff_seconds
from serviceguide.domain.sp import SpAnswer, SpState
from serviceguide.notify import mail, receipt, sp, webhooks
from serviceguide.notify.smtp import Mailer, mailer_for
from serviceguide.observability import metrics
from serviceguide.services import sp_answers, sp_settings
from serviceguide.services.availability import is_outage
from serviceguide.services.context import AppContext
from serviceguide.services.sealing import Unsealable
from serviceguide.services.sp_settings import SpTarget
from serviceguide.storage import outbox as repo
from serviceguide.storage import receipts as receipt_repo
from serviceguide.storage import sp_push as push_repo

log = logging.getLogger("serviceguide.relay")

#: Deliveries in flight at once per relay.
CONCURRENCY = 8
#: Longest wait between rounds after database errors.
MAX_ERROR_WAIT = 30.0
SP_KINDS = frozenset({OutboxKind.SP_ORDER, OutboxKind.SP_NOTICE})


@dataclass
class Tally:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return f"{self.delivered} delivered, {self.retrying} to retry, {self.failed} failed"


@dataclass(frozen=True, slots=True)
class _Outcome:
    """One attempt's outcome, as it is to be recorded."""

    claim: repo.Claim
    token: str
    started: datetime
    duration_ms: int
    state: OutboxState
    error: str | None
    next_at: datetime | None
    delivered_at: datetime | None
    target: str
    # An ON-API push: what it said, the TL's settings it went by (None: gone), and its answer.
    push: push_repo.PushFacts | None = None
    sp: SpTarget | None = None
    answer: SpAnswer | None = None


@dataclass(frozen=True, slots=True)
class _Facts:
    """What the claimed rows' messages say, read once per batch."""

    mails: dict[int, repo.MailFacts]
    hooks: dict[int, repo.WebhookFacts]
    receipts: dict[int, receipt_repo.ReceiptFacts]
    pushes: dict[int, push_repo.PushFacts]
    targets: dict[int, SpTarget | Exception | None]  # by the TL's organisation id


class Relay:
    """Use as ``async with Relay(ctx) as relay: await relay.drain()`` (or ``relay.run(stop)``).

    ``clock`` is the time the relay believes it is (claims, back-off); tests move it forward
    instead of sleeping.
    """

    def __init__(
        self,
        ctx: AppContext,
        *,
        clock: Callable[[], datetime] = utcnow,
        rand: Callable[[], float] = random.random,
        name: str | None = None,
        mailer: Mailer | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.clock = clock
        self.rand = rand
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.mailer = mailer or mailer_for(ctx.settings)
        self.tally = Tally()
        self._http: httpx.AsyncClient | None = http
        self._own_http = http is None
        self._answers: dict[int, SpAnswer] | None = None  # collected by push_claimed only
        self._slots = asyncio.Semaphore(CONCURRENCY)
        # What a database failure interrupted, finished by the next round (settle): outcomes
        # not yet recorded, and tokens of claims that may have committed unbeknown to us.
        self._unrecorded: list[_Outcome] = []
        self._abandoned: set[str] = set()

    async def __aenter__(self) -> Relay:
        if not self._own_http:
            return self
        self._http = httpx.AsyncClient(
            timeout=self.settings.webhook_timeout_seconds,
            follow_redirects=False,
            headers={"User-Agent": webhooks.USER_AGENT},
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._http is not None and self._own_http:
            await self._http.aclose()
            self._http = None

    # -- one round -------------------------------------------------------------------------

    async def step(self) -> int:
        """Claim one batch of due rows and deliver it; returns how many were claimed."""
        await self.settle()
        s = self.settings
        now = self.clock()
        async with self.ctx.db.read() as conn:
            if not await repo.any_due(conn, now):
                return 0
        token = uuid.uuid4().hex
        # Until the claimed rows' facts are read, a failure may leave a claim committed that this
        # relay cannot use: the next round hands it back rather than let it wait out its lease.
        self._abandoned.add(token)
        async with self.ctx.db.write() as conn:
            claims = await repo.claim(
                conn,
                now=now,
                lease=timedelta(seconds=s.outbox_lease_seconds),
                limit=s.outbox_batch_size,
                token=token,
                max_attempts=s.outbox_max_attempts,
                relay=self.name,
            )
        if not claims:
            self._abandoned.discard(token)
            return 0
        facts = await self._facts(claims)
        self._abandoned.discard(token)
        try:
            failures = await asyncio.gather(*(self._attempt(c, token, facts) for c in claims))
        except asyncio.CancelledError:
            # Stopped mid-delivery (a stopping server's grace ran out): the claims go back at the
            # next settle() rather than wait out their lease. A delivery cut off may have
            # arrived; it may then arrive twice — at least once, as after a lease.
            self._abandoned.add(token)
            raise
        kept = [e for e in failures if e is not None]
        if kept:  # one line for the batch, not one per message
            if is_outage(kept[0]):
                log.warning(
                    "outbox: %d outcomes kept until the database is back (%s)",
                    len(kept),
                    type(kept[0]).__name__,
                )
            else:
                log.error("outbox: %d outcomes could not be recorded", len(kept), exc_info=kept[0])
        return len(claims)

    async def _facts(self, claims: list[repo.Claim]) -> _Facts:
        def of(kind: OutboxKind) -> list[int]:
            return [c.id for c in claims if c.kind == kind]

        mail_ids, hook_ids, receipt_ids = (
            of(OutboxKind.MAIL),
            of(OutboxKind.WEBHOOK),
            of(OutboxKind.RECEIPT),
        )
        push_ids = [c.id for c in claims if c.kind in SP_KINDS]
        targets: dict[int, SpTarget | Exception | None] = {}
        async with self.ctx.db.read() as conn:
            mails = await repo.mail_facts(conn, mail_ids) if mail_ids else {}
            hooks = await repo.webhook_facts(conn, hook_ids) if hook_ids else {}
            receipts = await receipt_repo.receipt_facts(conn, receipt_ids) if receipt_ids else {}
            pushes = await push_repo.push_facts(conn, push_ids) if push_ids else {}
        for f in pushes.values():
            if f.tl_org_id in targets:
                continue
            try:
                found = f.onapi and sp_settings.open_target(self.settings, f.xsp, f.onapi)
                targets[f.tl_org_id] = found or None
            except Unsealable as e:  # told on each push: the operator fixes it
                targets[f.tl_org_id] = e
        return _Facts(mails, hooks, receipts, pushes, targets)

    async def push_claimed(self, claims: list[repo.Claim], token: str) -> dict[int, SpAnswer]:
        """Attempt pushes this process has just claimed (the placing server's first attempt),
        in parallel; each order's answer (PENDING: none usable) by order id. An outcome that
        cannot be recorded is left to the claim's lease, after which a relay pushes again
        (with the same ``X-Order-ID``)."""
        if not claims:
            return {}
        facts = await self._facts(claims)
        answers: dict[int, SpAnswer] = {}
        self._answers = answers
        failures = await asyncio.gather(*(self._attempt(c, token, facts) for c in claims))
        for e in failures:
            if e is not None:
                log.warning("ON-API push: outcome left to the lease (%s)", type(e).__name__)
        return answers

    async def drain(self) -> Tally:
        """Deliver until nothing is due (``serviceguide relay --once``)."""
        while await self.step():
            pass
        await self.settle()
        return self.tally

    async def settle(self) -> None:
        """Finish what a database failure or a stop interrupted: record the outcomes that could
        not be recorded, and hand back the claims that never reached an attempt or whose
        attempts were cancelled. Raises while the database is still away; the next round tries
        again. Any other error leaves that piece to its lease rather than block every round
        after it."""
        while self._unrecorded:
            o = self._unrecorded[0]
            try:
                await self._store(o, again=True)
            except Exception as e:
                if is_outage(e):
                    raise
                log.exception("outbox %d: could not record the outcome", o.claim.id)
            self._unrecorded.pop(0)
        if self._abandoned:
            tokens = sorted(self._abandoned)
            released = 0
            try:
                async with self.ctx.db.write() as conn:
                    released = await repo.release(conn, tokens=tokens)
            except Exception as e:
                if is_outage(e):
                    raise
                log.exception("outbox: could not hand back %d claims", len(tokens))
            self._abandoned.difference_update(tokens)
            if released:
                log.info("outbox: %d claims handed back", released)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set, looking for due rows every poll interval."""
        poll = self.settings.outbox_poll_seconds
        errors = 0
        log.info("outbox relay %s started", self.name)
        while not stop.is_set():
            try:
                claimed = await self.step()
                errors = 0
            except Exception as e:
                errors += 1
                claimed = 0
                if is_outage(e):  # an outage: one line per round, backing off
                    log.warning("outbox relay: database unavailable (%s)", type(e).__name__)
                else:
                    log.exception("outbox relay round failed")
            if claimed and not errors:
                continue
            wait = min(MAX_ERROR_WAIT, poll * 2**errors) if errors else poll
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
        try:
            await self.settle()
        except Exception as e:  # left to the leases: another relay delivers them again
            log.warning(
                "outbox relay: %d outcomes and %d claims left unrecorded at stop (%s)",
                len(self._unrecorded),
                len(self._abandoned),
                type(e).__name__,
            )
        log.info("outbox relay %s stopped", self.name)

    # -- one message -----------------------------------------------------------------------

    async def _attempt(self, claim: repo.Claim, token: str, facts: _Facts) -> Exception | None:
        """Deliver one message and record the outcome; returns why the record failed, if it did
        (the outcome is then kept for the next round)."""
        async with self._slots:
            started = self.clock()
            t0 = time.perf_counter()
            error, final, target = None, False, "?"
            pushed = facts.pushes.get(claim.id)
            sp_target: SpTarget | None = None
            answer: SpAnswer | None = None
            try:
                if claim.kind in SP_KINDS:
                    if pushed is None:
                        raise LookupError("order not found")
                    found = facts.targets.get(pushed.tl_org_id)
                    if isinstance(found, Exception):
                        raise found
                    if found is None:
                        target = f"TL {pushed.xsp}"
                        error, final = "the TL takes no orders over ON-API any more", True
                    else:
                        sp_target, target = found, found.url("order")
                        answer = await self._push(found, pushed)
                elif claim.kind == OutboxKind.MAIL:
                    mail_facts = facts.mails.get(claim.id)
                    if mail_facts is None:
                        raise LookupError("order or TL not found")
                    target = mail_facts.to or "?"
                    message = mail.compose(
                        mail_facts,
                        mail_from=self.settings.mail_from,
                        base_url=self.settings.base_url,
                    )
                    # One deadline for the whole message: the client's own timeout is per
                    # command or read, so a server that drips its answers could otherwise
                    # hold the claim past its lease (and get the message twice).
                    async with asyncio.timeout(self.settings.smtp_timeout_seconds):
                        await self.mailer.send(message, outbox_id=claim.id)
                elif claim.kind == OutboxKind.RECEIPT:
                    facts_r = facts.receipts.get(claim.id)
                    if facts_r is None:
                        raise LookupError("order or customer not found")
                    target = "the customer"  # the address is personal data: not logged
                    message = receipt.compose(
                        facts_r, mail_from=self.settings.mail_from, base_url=self.settings.base_url
                    )
                    async with asyncio.timeout(self.settings.smtp_timeout_seconds):
                        await self.mailer.send(message, outbox_id=claim.id)
                else:
                    hook = facts.hooks.get(claim.id)
                    if hook is None:
                        raise LookupError("event or endpoint not found")
                    target = hook.url
                    if not hook.active:
                        error, final = "the endpoint is disabled", True
                    else:
                        assert self._http is not None, "use the relay as an async context manager"
                        async with asyncio.timeout(self.settings.webhook_timeout_seconds):
                            await webhooks.deliver(self._http, hook)
            except Exception as e:
                error = _describe(e)
            duration_ms = int((time.perf_counter() - t0) * 1000)
        return await self._record(
            claim, token, started, duration_ms, error, final, target, pushed, sp_target, answer
        )

    async def _push(self, target: SpTarget, facts: push_repo.PushFacts) -> SpAnswer | None:
        assert self._http is not None, "use the relay as an async context manager"
        timeout = self.settings.sp_timeout_seconds
        try:
            # One deadline for the whole exchange, however the TL drips its answer.
            async with asyncio.timeout(timeout):
                return await sp.push(self._http, target, facts, timeout=timeout)
        except TimeoutError:
            raise sp.NoAnswer(f"no answer within {timeout:g} s") from None

    async def _record(
        self,
        claim: repo.Claim,
        token: str,
        started: datetime,
        duration_ms: int,
        error: str | None,
        final: bool,
        target: str,
        pushed: push_repo.PushFacts | None = None,
        sp_target: SpTarget | None = None,
        answer: SpAnswer | None = None,
    ) -> Exception | None:
        s = self.settings
        now = self.clock()
        next_at: datetime | None = None
        if error is None:
            state = OutboxState.DELIVERED
        elif final or claim.attempts >= s.outbox_max_attempts:
            state = OutboxState.FAILED
        else:
            state = OutboxState.PENDING
            delay = backoff_seconds(
                claim.attempts,
                base=s.outbox_backoff_base_seconds,
                cap=s.outbox_backoff_cap_seconds,
                rand=self.rand,
            )
            next_at = now + timedelta(seconds=delay)
            if pushed is not None:  # not past the moment the fallback mail falls due
                cap = sp_answers.next_try_cap(
                    pushed, sp_target.delivery if sp_target else None, now
                )
                next_at = min(next_at, cap) if cap else next_at
        outcome = _Outcome(
            claim=claim,
            token=token,
            started=started,
            duration_ms=duration_ms,
            state=state,
            error=error,
            next_at=next_at,
            delivered_at=now if error is None else None,
            target=target,
            push=pushed,
            sp=sp_target,
            answer=answer,
        )
        try:
            await self._store(outcome)
        except Exception as e:
            # The message is out (or not); forgetting that would mean sending it again after the
            # lease. Kept, and recorded by the next round once the database is back.
            self._unrecorded.append(outcome)
            return e
        return None

    async def _store(self, o: _Outcome, *, again: bool = False) -> None:
        """Record the attempt and its outcome. ``again``: an earlier try failed, perhaps only in
        the answer to its commit; then it may already be recorded, and is not recorded twice."""
        claim = o.claim
        pushing = claim.kind in SP_KINDS
        async with self.ctx.db.write() as conn:
            held = await repo.record_attempt(
                conn,
                outbox_id=claim.id,
                token=o.token,
                relay=self.name,
                at=o.started,
                outcome=AttemptOutcome.DELIVERED if o.error is None else AttemptOutcome.ERROR,
                error=o.error,
                duration_ms=o.duration_ms,
                state=o.state,
                next_attempt_at=o.next_at,
                delivered_at=o.delivered_at,
                again=again,
            )
            if held and pushing and o.push is not None:
                await self._settle_push(conn, o)
        # The request that wrote the row, on every line about it (docs/operations.md).
        fields = {
            "outbox_id": claim.id,
            "order_id": claim.order_id,
            "kind": claim.kind.value,
            "request_id": claim.request_id,
        }
        if not held:
            log.warning(
                "outbox %d: claim expired before the outcome was recorded", claim.id, extra=fields
            )
        rid = f", request {claim.request_id}" if claim.request_id else ""
        what = f"outbox {claim.id} ({claim.kind}, order {claim.order_id}{rid}) to {o.target}"
        if o.state == OutboxState.DELIVERED:
            self.tally.delivered += 1
            log.info("%s delivered", what, extra=fields)
        elif o.state == OutboxState.FAILED:
            self.tally.failed += 1
            log.error(
                "%s failed after %d attempts: %s", what, claim.attempts, o.error, extra=fields
            )
        else:
            self.tally.retrying += 1
            log.warning(
                "%s attempt %d failed, retry at %s: %s",
                what,
                claim.attempts,
                o.next_at,
                o.error,
                extra=fields,
            )
        metrics.delivery_attempt(claim.kind.value, _OUTCOME[o.state])
        if claim.kind == OutboxKind.SP_ORDER:
            answer = o.answer or SpAnswer(SpState.PENDING)
            metrics.sp_push(answer.state.value.lower())
            if self._answers is not None:
                self._answers[claim.order_id] = answer

    async def _settle_push(self, conn: AsyncConnection, o: _Outcome) -> None:
        """In the attempt's transaction: the answer's change to the order, or the fallback
        mail when it is due."""
        assert o.push is not None
        now = self.clock()
        # Writing to the order's log and events: from here the transaction holds the streams
        # (taken only now, so that recording a plain attempt never waits for them).
        if o.answer is not None and o.answer.state != SpState.PENDING:
            await self.ctx.db.hold_streams(conn)
            await sp_answers.apply_answer(conn, o.push, o.answer, now)
        elif o.error is not None:
            delivery = o.sp.delivery if o.sp else None
            gave_up = o.state == OutboxState.FAILED
            if sp_answers.fallback_due(o.push, delivery, now, gave_up):
                await self.ctx.db.hold_streams(conn)
                await sp_answers.enqueue_fallback(conn, o.push, now)


#: The metrics' name for what became of an attempt.
_OUTCOME = {
    OutboxState.DELIVERED: "delivered",
    OutboxState.FAILED: "failed",
    OutboxState.PENDING: "retrying",
}


def _describe(e: Exception) -> str:
    text = str(e).strip() or type(e).__name__
    if isinstance(e, TimeoutError) and not str(e):
        text = "timed out"
    return text[:1000]


#: How long a stopping server waits for the relay's deliveries in flight before cancelling them
#: (a cancelled delivery's claim is handed back: the next relay retries it at once).
STOP_GRACE_SECONDS = 10.0


@contextlib.asynccontextmanager
async def relay_in_background(ctx: AppContext, *, enabled: bool = True) -> AsyncIterator[None]:
    """Run a relay as a background task for the duration of the block (``serve``'s lifespan)."""
    if not enabled:
        yield
        return
    stop = asyncio.Event()
    relay = Relay(ctx)  # here, so that a bad SMTP URL stops the server from starting

    async def go() -> None:
        async with relay:
            await relay.run(stop)

    task = asyncio.create_task(go(), name="outbox-relay")
    try:
        yield
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=STOP_GRACE_SECONDS)
        except TimeoutError:
            log.warning("outbox relay did not stop within %.0f s; cancelled", STOP_GRACE_SECONDS)
            try:
                await relay.settle()
            except Exception as e:  # left to the leases, as after a crash
                log.warning("outbox relay: claims left to their leases (%s)", type(e).__name__)
        except Exception:
            log.exception("outbox relay ended with an error")
