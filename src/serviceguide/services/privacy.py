"""Personal data (GDPR): who read which customer's data, and removing it when it is no longer
needed (retention) or when the customer asks (erasure).

* Every answer that shows a customer's personal data — the API's ``customer_info`` and
  ``customers``, the staff pages' order list, order page, personnummer reveal and CSV export —
  writes one audit row per customer shown *before* the answer is sent: reader (API user or
  staff user, with their organisation), customer, how, when, from which address. If the row
  cannot be written, the answer is not sent.
* Anonymising blanks the customer's personal fields (personnummer, names, e-mail, phone,
  address, premise) and their own note on each order, and masks the customer's name, e-mail,
  phone and personnummer wherever they occur in the orders' log texts. The orders themselves,
  their statuses, log entries (who did what, when), events and the audit stay: the history
  without the person.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain.clock import utcnow
from serviceguide.domain.errors import InvalidInput, NotFound
from serviceguide.domain.model import Caller
from serviceguide.services.context import AppContext
from serviceguide.storage import privacy as repo

ReaderKind = Literal["api_user", "staff"]
MASK = "***"


async def record_reads(
    ctx: AppContext,
    caller: Caller,
    customer_ids: Iterable[int],
    *,
    kind: ReaderKind,
    via: str,
    client: str | None,
    conn: AsyncConnection | None = None,
) -> None:
    """Audit that ``caller`` was shown these customers' personal data; returns once the rows
    are committed. Inside ``conn`` when the read is part of a write transaction; otherwise
    together with the rows of other requests in flight (:class:`repo.GroupCommit`): one commit
    for all of them — on PostgreSQL one prepared statement on the driver."""
    now = utcnow()
    rows = [
        {
            "at": now,
            "customer_id": cid,
            "reader_kind": kind,
            "reader_id": caller.user_id,
            "reader_name": caller.user_name,
            "org_id": caller.org_id,
            "org_name": caller.org_name,
            "via": via,
            "client": client,
        }
        for cid in dict.fromkeys(customer_ids)  # each customer once, in order
    ]
    if not rows:
        return
    if conn is not None:
        await repo.record_reads(conn, rows)
        return
    await repo.audit_writer(ctx.db).write(rows)


async def reads(
    ctx: AppContext,
    *,
    customer_id: int | None = None,
    since: datetime | None = None,
    limit: int = 10_000,
) -> list[Any]:
    async with ctx.db.read() as conn:
        return await repo.reads(conn, customer_id=customer_id, since=since, limit=limit)


@dataclass(frozen=True, slots=True)
class Anonymised:
    customers: list[int]
    log_entries_masked: int


def _tokens(customer: Any) -> list[str]:
    """What of the customer may stand in free text: names, e-mail, phone, personnummer."""
    serial = customer.serial or ""
    tokens = [customer.firstname, customer.surname, customer.email, customer.phone]
    if len(serial) == 12:
        tokens += [serial, serial[2:], f"{serial[2:8]}-{serial[8:]}", f"{serial[:8]}-{serial[8:]}"]
    return sorted({t.strip() for t in tokens if t and len(t.strip()) >= 2}, key=len, reverse=True)


def mask_text(text: str, tokens: list[str]) -> str:
    if not tokens:
        return text
    pattern = re.compile(
        "|".join(rf"(?<!\w){re.escape(t)}(?!\w)" for t in tokens), flags=re.IGNORECASE
    )
    return pattern.sub(MASK, text)


async def _anonymise_one(ctx: AppContext, customer_id: int, *, force: bool) -> int | None:
    """Blank one customer (one transaction); the number of log texts masked, or None if the
    customer was anonymised already."""
    async with ctx.db.write() as conn:
        customer = await repo.customer_for_erasure(conn, customer_id)
        if customer is None:
            raise NotFound("customer", customer_id)
        if customer.anonymised_at is not None:
            return None
        if not force:
            still_open = await repo.open_orders(conn, customer_id)
            if still_open:
                raise InvalidInput(
                    "customer",
                    f"Customer {customer_id} has open orders ({', '.join(map(str, still_open))})",
                )
        tokens = _tokens(customer)
        masked = 0
        for entry in await repo.log_entries(conn, customer_id):
            text = mask_text(entry.message, tokens)
            if text != entry.message:
                await repo.set_log_text(conn, entry.id, text)
                masked += 1
        await repo.blank_customer(conn, customer_id, utcnow())
        return masked


async def erase_customer(ctx: AppContext, customer_id: int, *, force: bool = False) -> int | None:
    """Erase one customer's personal data on request. Refused while an order is still open
    (the service provider needs the contact details to deliver it) unless ``force``."""
    return await _anonymise_one(ctx, customer_id, force=force)


async def anonymise_closed(
    ctx: AppContext, *, retention_days: int, now: datetime | None = None, dry_run: bool = False
) -> Anonymised:
    """Anonymise every customer whose orders were all closed more than ``retention_days`` ago."""
    closed_before = (now or utcnow()) - timedelta(days=retention_days)
    async with ctx.db.read() as conn:
        due = await repo.due_for_anonymisation(conn, closed_before)
    if dry_run:
        return Anonymised(due, 0)
    done: list[int] = []
    masked = 0
    for customer_id in due:
        # Checked again inside the transaction: an order may have been reopened since.
        try:
            n = await _anonymise_one(ctx, customer_id, force=False)
        except InvalidInput:
            continue
        if n is not None:
            done.append(customer_id)
            masked += n
    return Anonymised(done, masked)
