"""the customer's side: guide sessions, order pages, receipts

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-03 12:00:00.000000

``guide_sessions``: the guide's draft order, kept on the server between the steps (the browser
holds only a random cookie; the row is found by its SHA-256). ``order_pages``: one row per
placement — the SHA-256 of the customer's order-page token and the language the customer
ordered in. ``outbox``: a third kind, ``receipt`` (the customer's receipt), whose ``payload``
holds what the mail needs and nothing keeps (the order page's link) until it is delivered.
``customers.search_text``: the staff search's folded names and address, written for every
existing customer here (an anonymised one has none). ``order_log.code``/``params``: a system
entry as a code with parameters, to be shown in the reader's language; every existing entry the
system wrote gets its code from its text here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from serviceguide.domain.listing import search_text
from serviceguide.domain.logcodes import from_text

revision: str = "0012"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _fill_search_text() -> None:
    conn = op.get_bind()
    customers = sa.table(
        "customers",
        *(sa.column(c) for c in ("id", "firstname", "surname", "address", "zip", "city")),
        sa.column("search_text"),
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.select(customers)
            .where(customers.c.id > last, customers.c.firstname != "")
            .order_by(customers.c.id)
            .limit(5000)
        ).all()
        if not rows:
            return
        conn.execute(
            sa.update(customers)
            .where(customers.c.id == sa.bindparam("cid"))
            .values(search_text=sa.bindparam("text")),
            [
                {"cid": r.id, "text": search_text(r.firstname, r.surname, r.address, r.zip, r.city)}
                for r in rows
            ],
        )
        last = rows[-1].id


def _fill_log_codes() -> None:
    conn = op.get_bind()
    log = sa.table(
        "order_log",
        sa.column("id"),
        sa.column("type"),
        sa.column("message"),
        sa.column("code"),
        sa.column("params"),
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.select(log.c.id, log.c.type, log.c.message)
            .where(log.c.id > last, log.c.type.in_(["system", "log"]))
            .order_by(log.c.id)
            .limit(5000)
        ).all()
        if not rows:
            return
        coded = [(r.id, from_text(r.type, r.message)) for r in rows]
        values = [
            {"lid": i, "c": found.code.value, "p": found.params_json()}
            for i, found in coded
            if found is not None
        ]
        if values:
            conn.execute(
                sa.update(log)
                .where(log.c.id == sa.bindparam("lid"))
                .values(code=sa.bindparam("c"), params=sa.bindparam("p")),
                values,
            )
        last = rows[-1].id


def upgrade() -> None:
    with op.batch_alter_table(
        "order_log", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.add_column(sa.Column("code", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("params", sa.Text(), nullable=True))
    _fill_log_codes()
    with op.batch_alter_table(
        "customers", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.add_column(
            sa.Column("search_text", sa.String(length=600), server_default="", nullable=False)
        )
    _fill_search_text()
    op.create_table(
        "guide_sessions",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("draft", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_guide_sessions")),
    )
    with op.batch_alter_table("guide_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_guide_sessions_expires_at"), ["expires_at"])

    op.create_table(
        "order_pages",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("lang", sa.String(length=2), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_order_pages_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_order_pages")),
        sa.UniqueConstraint("customer_id", name=op.f("uq_order_pages_customer_id")),
    )

    # On SQLite this recreates the table: keep AUTOINCREMENT (ids are never reused).
    with op.batch_alter_table(
        "outbox", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.add_column(sa.Column("payload", sa.Text(), nullable=True))
        batch_op.drop_constraint(op.f("ck_outbox_kind"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_outbox_kind"), "kind IN ('mail', 'webhook', 'receipt')"
        )


def downgrade() -> None:
    op.execute(
        "DELETE FROM outbox_attempts WHERE outbox_id IN "
        "(SELECT id FROM outbox WHERE kind = 'receipt')"
    )
    op.execute("DELETE FROM outbox WHERE kind = 'receipt'")
    with op.batch_alter_table(
        "outbox", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_outbox_kind"), "kind IN ('mail', 'webhook')")
        batch_op.drop_column("payload")
    op.drop_table("order_pages")
    with op.batch_alter_table("guide_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guide_sessions_expires_at"))
    op.drop_table("guide_sessions")
    with op.batch_alter_table(
        "order_log", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.drop_column("params")
        batch_op.drop_column("code")
    with op.batch_alter_table(
        "customers", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.drop_column("search_text")
