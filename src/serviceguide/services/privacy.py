"""Personal data (GDPR): who read which customer's data, and removing it when it is no longer
needed (retention) or when the customer asks (erasure).

* Every answer that shows a customer's personal data — the API's ``customer_info`` and
  ``customers``, the staff pages' order list, order page, personnummer reveal and CSV export —
  writes one audit row per customer shown *before* the answer is sent: reader (API user or
  staff user, with their organisation), customer, how, when, from which address. If the row
  cannot be written, the answer is not sent.
* Anonymising blanks the customer's personal fields (personnummer, names, e-mail, phone,
  address, premise) and their own note on each order, and masks the customer's name, e-mail,
  phone and personnummer wherever they occur in the orders' log texts, the outbox's delivery
  errors and the stored copies of the mails about their orders (:func:`blank_personal_data`).
  The orders themselves, their statuses, log entries (who did what, when), events and the
  audit stay: the history without the person.
* A person who ordered twice has two customer records: :func:`find_person` finds them all by
  personnummer and :func:`erase_person` erases them all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Literal

import anyio
from sqlalchemy.ext.asyncio import AsyncConnection

from serviceguide.domain import personnummer
from serviceguide.domain.clock import utcnow
from serviceguide.domain.errors import DomainError, InvalidInput, NotFound
from serviceguide.domain.masking import mask_message, mask_text, tokens_of
from serviceguide.domain.model import Caller
from serviceguide.domain.outbox import OutboxKind
from serviceguide.domain.personnummer import masked
from serviceguide.domain.status import ALLOWED_TRANSITIONS
from serviceguide.services.context import AppContext
from serviceguide.storage import mailcopies, receipts
from serviceguide.storage import privacy as repo

ReaderKind = Literal["api_user", "staff"]
#: Statuses an order does not leave: delivered, cancelled.
FINAL_STATUSES = frozenset(s.value for s, onward in ALLOWED_TRANSITIONS.items() if not onward)


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
class Blanked:
    """What blanking one customer's personal data masked beside the record itself."""

    log_entries: int = 0  # the orders' log texts that named the customer
    delivery_errors: int = 0  # outbox rows' and delivery attempts' error texts
    mail_copies: int = 0  # stored copies of mails (.eml files under the var dir)

    def __add__(self, other: Blanked) -> Blanked:
        return Blanked(
            self.log_entries + other.log_entries,
            self.delivery_errors + other.delivery_errors,
            self.mail_copies + other.mail_copies,
        )


@dataclass(frozen=True, slots=True)
class Anonymised:
    customers: list[int]
    log_entries_masked: int
    blanked: Blanked = Blanked()


class OpenOrders(InvalidInput):
    """An erasure refused because orders of the customer are still open: the service provider
    needs the contact details to deliver them. Erasing anyway (``force``) is the caller's call."""

    def __init__(self, open_orders: dict[int, list[int]]) -> None:
        customers = ", ".join(map(str, open_orders))
        ids = ", ".join(str(o) for found in open_orders.values() for o in found)
        who = (
            f"Customer {customers} has" if len(open_orders) == 1 else f"Customers {customers} have"
        )
        super().__init__("customer", f"{who} open orders ({ids})")
        self.open_orders = open_orders


class NoSuchPerson(NotFound):
    """No customer record (not yet anonymised) holds this personnummer."""

    def __init__(self, serial: str) -> None:
        DomainError.__init__(self, f"No customer records with personnummer {masked(serial)}")
        self.what, self.ident = "customer", masked(serial)


async def blank_personal_data(ctx: AppContext, conn: AsyncConnection, customer: Any) -> Blanked:
    """Blank everything personal of one customer record, inside the caller's transaction.

    The one place that knows where a customer's personal data is kept: retention
    (``anonymise_closed``) and erasure on request (``erase_customer``, ``erase_person``) both
    come here, and whatever else comes to hold a customer's personal data is blanked here too.
    Today: the record's fields and the customer's note on each order; the customer's names,
    e-mail, phone and personnummer in the orders' log texts and in the outbox's delivery errors;
    the stored copies of the mails about the customer's orders and of the customer's receipt
    (``.eml`` files); the customer's order page (its link stops working) and the receipt's
    link, if the receipt is not sent yet (it will not be: the address is gone).

    The files are rewritten before the transaction commits: should the commit fail, the files
    are masked and the record is not, and erasing again finishes the work (masking twice changes
    nothing); the other way round, a second try could no longer tell what to mask.
    """
    tokens, serial = tokens_of(customer), customer.serial or ""
    logs = 0
    for entry in await repo.log_entries(conn, customer.id):
        text = mask_text(entry.message, tokens, serial)
        if text != entry.message:
            await repo.set_log_text(conn, entry.id, text)
            logs += 1
    errors = 0
    rows = await repo.outbox_of(conn, customer.id)
    for row in rows:
        if row.last_error and (text := mask_text(row.last_error, tokens, serial)) != row.last_error:
            await repo.set_outbox_error(conn, row.id, text)
            errors += 1
    for attempt in await repo.attempt_errors_of(conn, [r.id for r in rows]):
        if (text := mask_text(attempt.error, tokens, serial)) != attempt.error:
            await repo.set_attempt_error(conn, attempt.id, text)
            errors += 1
    mails = [r.id for r in rows if r.kind in (OutboxKind.MAIL.value, OutboxKind.RECEIPT.value)]
    await receipts.delete_page(conn, customer.id)
    await receipts.forget_links(conn, [r.id for r in rows if r.kind == OutboxKind.RECEIPT.value])
    copies = await anyio.to_thread.run_sync(
        mailcopies.rewrite_copies,
        mailcopies.mail_dir(ctx.settings.var_dir),
        mails,
        partial(mask_message, tokens=tokens, serial=serial),
    )
    await repo.blank_customer(conn, customer.id, utcnow())
    return Blanked(logs, errors, copies)


async def _anonymise_one(ctx: AppContext, customer_id: int, *, force: bool) -> Blanked | None:
    """Blank one customer (one transaction); what was masked, or None if the customer was
    anonymised already."""
    async with ctx.db.write() as conn:
        customer = await repo.customer_for_erasure(conn, customer_id)
        if customer is None:
            raise NotFound("customer", customer_id)
        if customer.anonymised_at is not None:
            return None
        if not force:
            still_open = await repo.open_orders(conn, customer_id)
            if still_open:
                raise OpenOrders({customer_id: still_open})
        return await blank_personal_data(ctx, conn, customer)


async def erase_customer(
    ctx: AppContext, customer_id: int, *, force: bool = False
) -> Blanked | None:
    """Erase one customer record's personal data on request; None if it was erased already.
    Refused (:class:`OpenOrders`) while an order is still open — the service provider needs the
    contact details to deliver it — unless ``force``."""
    return await _anonymise_one(ctx, customer_id, force=force)


@dataclass(frozen=True, slots=True)
class PersonOrder:
    id: int
    status: str
    xsp: int
    service_name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """One customer record of a person: each order placed in the guide makes one."""

    id: int
    created_at: datetime
    firstname: str
    surname: str
    email: str
    phone: str
    address: str
    zip: str
    city: str
    coid: str
    access_id: str
    orders: list[PersonOrder]


async def find_person(ctx: AppContext, serial: str) -> list[PersonRecord]:
    """Every customer record (not yet anonymised) of the person with this personnummer, in any
    spelling the guide accepts (10 or 12 digits, with or without ``-``/``+``); oldest first.
    :class:`InvalidInput` for a personnummer the guide would not accept."""
    wanted = personnummer.normalise(serial)
    async with ctx.db.read() as conn:
        found = await repo.customers_with_serial(conn, wanted)
        placed = await repo.orders_of(conn, [c.id for c in found]) if found else []
    by_customer: dict[int, list[PersonOrder]] = {}
    for o in placed:
        by_customer.setdefault(o.customer_id, []).append(
            PersonOrder(o.id, o.status, o.xsp, o.service_name, o.created_at)
        )
    return [
        PersonRecord(
            id=c.id,
            created_at=c.created_at,
            firstname=c.firstname,
            surname=c.surname,
            email=c.email,
            phone=c.phone,
            address=c.address,
            zip=c.zip,
            city=c.city,
            coid=c.coid,
            access_id=c.access_id,
            orders=by_customer.get(c.id, []),
        )
        for c in found
    ]


@dataclass(frozen=True, slots=True)
class ErasedPerson:
    customers: list[int]
    blanked: Blanked


async def erase_person(ctx: AppContext, serial: str, *, force: bool = False) -> ErasedPerson:
    """Erase every customer record of one person (see :func:`find_person`), each in its own
    transaction. Without ``force`` nothing is erased while any of the records has an open order
    (:class:`OpenOrders` names them all); :class:`NoSuchPerson` when there is no record."""
    wanted = personnummer.normalise(serial)
    records = await find_person(ctx, wanted)
    if not records:
        raise NoSuchPerson(wanted)
    if not force:
        still_open = {
            r.id: ids
            for r in records
            if (ids := [o.id for o in r.orders if o.status not in FINAL_STATUSES])
        }
        if still_open:
            raise OpenOrders(still_open)
    erased: list[int] = []
    total = Blanked()
    for record in records:
        done = await _anonymise_one(ctx, record.id, force=force)
        if done is not None:  # else erased meanwhile
            erased.append(record.id)
            total += done
    return ErasedPerson(erased, total)


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
    total = Blanked()
    for customer_id in due:
        # Checked again inside the transaction: an order may have been reopened since.
        try:
            blanked = await _anonymise_one(ctx, customer_id, force=False)
        except OpenOrders:
            continue
        if blanked is not None:
            done.append(customer_id)
            total += blanked
    return Anonymised(done, total.log_entries, total)
