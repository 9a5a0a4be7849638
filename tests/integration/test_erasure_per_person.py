"""Erasure per person: one person who ordered twice has two customer records; both are found by
personnummer in any spelling, and erased together with every copy the system keeps of the
mails about their orders (the outbox's error texts and the ``.eml`` files)."""

from __future__ import annotations

import email
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from serviceguide.domain.clock import utcnow
from serviceguide.domain.errors import InvalidInput
from serviceguide.domain.ordering import OrderRequest
from serviceguide.services import placing, privacy
from serviceguide.services.context import AppContext
from serviceguide.storage.tables import customers, orders, outbox, outbox_attempts
from tests.support.notify import drain, rows, with_settings
from tests.support.world import SERIALS, World, customer

pytestmark = pytest.mark.integration

# c1 (order o1 on A1) holds SERIALS[1]; the same person orders again, on A4, typing the
# personnummer another way. Their name: Förnamn1 Efternamn1.
SERIAL = "19" + SERIALS[1]  # as stored: 12 digits
TEN_DIGITS = f"{SERIAL[2:8]}-{SERIAL[8:]}"


@pytest.fixture
async def person(ctx: AppContext, world: World, tmp_path: Path) -> dict[str, Any]:
    """The person's two records, their orders' mails delivered as .eml files, and a delivery
    error that quotes them (as an SMTP server's refusal does)."""
    c = with_settings(ctx, smtp_url=None, var_dir=tmp_path / "var")
    again = await placing.place_order(
        c,
        OrderRequest(
            coid="KOA",
            access_id="A4",
            service_ids=[102],
            customer=customer(1, serial=TEN_DIGITS, phone="070-7654321"),
            delivery=None,
            message="Ring Förnamn1 före leverans",
        ),
    )
    await drain(c)
    mails = {r.order_id: r.id for r in await rows(c, kind="mail")}
    receipts = {r.order_id: r.id for r in await rows(c, kind="receipt")}
    theirs = [world.orders["o1"], again.orders[0].id]
    async with c.db.write() as conn:
        refusal = "550 5.1.1 <kund1@example.se>: mailbox of Förnamn1 Efternamn1 is full"
        await conn.execute(
            update(outbox).where(outbox.c.id == mails[theirs[1]]).values(last_error=refusal)
        )
        await conn.execute(
            insert(outbox_attempts).values(
                outbox_id=mails[theirs[1]],
                at=utcnow(),
                outcome="error",
                error=refusal,
                relay="test:1",
            )
        )
    return {
        "ctx": c,
        "customers": [world.customers["c1"], again.customer_id],
        "orders": theirs,
        "mails": mails,
        "receipts": receipts,  # by the first order of each placement
        "mail_dir": tmp_path / "var" / "mail",
    }


def read_mail(path: Path) -> tuple[str, str]:
    """The headers and every text part, decoded."""
    msg = email.message_from_bytes(path.read_bytes(), policy=default)
    headers = "\n".join(f"{k}: {v}" for k, v in msg.items())
    texts = "\n".join(
        part.get_content() for part in msg.walk() if part.get_content_maintype() == "text"
    )
    return headers, texts


async def close_all(ctx: AppContext, order_ids: list[int]) -> None:
    async with ctx.db.write() as conn:
        await conn.execute(
            update(orders).where(orders.c.id.in_(order_ids)).values(status="delivered")
        )


@pytest.mark.parametrize(
    "spelling",
    [SERIAL, TEN_DIGITS, f"{SERIAL[:8]}-{SERIAL[8:]}", SERIAL[2:], f" {SERIAL[:8]} {SERIAL[8:]} "],
)
async def test_every_record_of_a_person_is_found_by_any_spelling_of_the_personnummer(
    person: dict[str, Any], spelling: str
):
    found = await privacy.find_person(person["ctx"], spelling)
    assert [r.id for r in found] == person["customers"]
    assert [[o.id for o in r.orders] for r in found] == [[o] for o in person["orders"]]
    assert [(r.firstname, r.surname, r.access_id) for r in found] == [
        ("Förnamn1", "Efternamn1", "A1"),
        ("Förnamn1", "Efternamn1", "A4"),
    ]
    assert [r.phone for r in found] == ["070-1234567", "070-7654321"]


@pytest.mark.parametrize("bad", ["", "abc", "19700101-123", SERIAL[:-1] + "0"])
async def test_a_personnummer_the_guide_would_not_take_is_a_clear_error(
    person: dict[str, Any], bad: str
):
    with pytest.raises(InvalidInput, match="Personnummer"):
        await privacy.find_person(person["ctx"], bad)
    with pytest.raises(InvalidInput, match="Personnummer"):
        await privacy.erase_person(person["ctx"], bad, force=True)


async def test_a_person_with_no_records_is_not_found(person: dict[str, Any]):
    assert await privacy.find_person(person["ctx"], SERIALS[3]) != []  # c3's: found
    from serviceguide.domain.personnummer import with_check_digit

    nobody = with_check_digit("010101010")
    assert await privacy.find_person(person["ctx"], nobody) == []
    with pytest.raises(privacy.NoSuchPerson, match=r"\*\*\*\*"):
        await privacy.erase_person(person["ctx"], nobody)


async def test_erasing_a_person_with_open_orders_is_refused_naming_them_and_changes_nothing(
    person: dict[str, Any],
):
    c = person["ctx"]
    files = {p.name: p.read_bytes() for p in person["mail_dir"].glob("*.eml")}
    with pytest.raises(privacy.OpenOrders) as refused:
        await privacy.erase_person(c, SERIAL)
    assert refused.value.open_orders == {
        cid: [oid] for cid, oid in zip(person["customers"], person["orders"], strict=True)
    }
    assert str(refused.value).startswith(
        f"Customers {person['customers'][0]}, {person['customers'][1]} have open orders"
    )
    assert [r.id for r in await privacy.find_person(c, SERIAL)] == person["customers"]
    assert {p.name: p.read_bytes() for p in person["mail_dir"].glob("*.eml")} == files

    await close_all(c, person["orders"][:1])  # one closed, one open: still refused, as a whole
    with pytest.raises(privacy.OpenOrders):
        await privacy.erase_person(c, SERIAL)
    assert len(await privacy.find_person(c, SERIAL)) == 2


async def test_erasing_a_person_blanks_every_record_and_every_copy_of_their_mails(
    person: dict[str, Any], world: World
):
    c = person["ctx"]
    others = {
        p.name: p.read_bytes()
        for p in person["mail_dir"].glob("*.eml")
        if p.name
        not in {
            f"outbox-{kind[o]}.eml"
            for kind in (person["mails"], person["receipts"])
            for o in person["orders"]
            if o in kind
        }
    }
    assert others  # the other customers' mails are there too

    erased = await privacy.erase_person(c, TEN_DIGITS, force=True)

    assert erased.customers == person["customers"]
    assert erased.blanked.mail_copies == 4  # each record's order mail and receipt
    assert erased.blanked.delivery_errors == 2  # the outbox row's last error and the attempt's
    async with c.db.read() as conn:
        records = (
            await conn.execute(select(customers).where(customers.c.id.in_(person["customers"])))
        ).all()
        errors = (
            (
                await conn.execute(
                    select(outbox.c.last_error).where(outbox.c.last_error.is_not(None))
                )
            )
            .scalars()
            .all()
        )
        attempt_errors = (
            (
                await conn.execute(
                    select(outbox_attempts.c.error).where(outbox_attempts.c.error.is_not(None))
                )
            )
            .scalars()
            .all()
        )
        notes = (
            (await conn.execute(select(orders.c.message).where(orders.c.id.in_(person["orders"]))))
            .scalars()
            .all()
        )
    assert all(r.anonymised_at is not None for r in records)
    assert {(r.serial, r.firstname, r.surname, r.email, r.phone) for r in records} == {
        ("", "", "", "", "")
    }
    assert notes == ["", ""]
    assert errors == ["550 5.1.1 <***>: mailbox of *** *** is full"]
    assert attempt_errors == errors

    for order_id in person["orders"]:
        path = person["mail_dir"] / f"outbox-{person['mails'][order_id]}.eml"
        headers, texts = read_mail(path)
        for personal in ("Förnamn1", "Efternamn1", "kund1@example.se", SERIAL, TEN_DIGITS):
            assert personal not in headers and personal not in texts
            assert personal.encode() not in path.read_bytes()
        assert f"Order-ID: {order_id}" in texts  # the rest of the mail is as it was
        assert "Kund:            *** ***" in texts
    assert {
        p.name: p.read_bytes() for p in person["mail_dir"].glob("*.eml") if p.name in others
    } == others

    assert await privacy.find_person(c, SERIAL) == []
    with pytest.raises(privacy.NoSuchPerson):
        await privacy.erase_person(c, SERIAL, force=True)


async def test_retention_blanks_the_copies_of_the_mails_too(person: dict[str, Any], world: World):
    c = person["ctx"]
    await close_all(c, person["orders"])
    async with c.db.write() as conn:
        await conn.execute(
            update(orders)
            .where(orders.c.id.in_(person["orders"]))
            .values(updated_at=utcnow().replace(year=utcnow().year - 3))
        )
    done = await privacy.anonymise_closed(c, retention_days=365)
    assert set(person["customers"]) <= set(done.customers)
    assert done.blanked.mail_copies >= 2
    for order_id in person["orders"]:
        headers, texts = read_mail(person["mail_dir"] / f"outbox-{person['mails'][order_id]}.eml")
        assert "Förnamn1" not in texts and "Efternamn1" not in headers


async def test_erasing_one_record_by_its_id_blanks_its_mail_copy(person: dict[str, Any]):
    c = person["ctx"]
    first, second = person["customers"]
    blanked = await privacy.erase_customer(c, second, force=True)
    # the record's order mail and its receipt
    assert blanked == privacy.Blanked(log_entries=0, delivery_errors=2, mail_copies=2)
    _, texts = read_mail(person["mail_dir"] / f"outbox-{person['mails'][person['orders'][1]]}.eml")
    assert "Förnamn1" not in texts
    _, texts = read_mail(person["mail_dir"] / f"outbox-{person['mails'][person['orders'][0]]}.eml")
    assert "Förnamn1 Efternamn1" in texts  # the other record of the person is not touched
    assert [r.id for r in await privacy.find_person(c, SERIAL)] == [first]
