"""a TL's ON-API settings; the outbox's ON-API pushes

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 14:00:00.000000

``tl_onapi``: one row per TL that takes its orders (or some of them) over ON-API 2.6: the base
URL, the Basic credentials (the password encrypted with a key derived from the installation's
secret key, so that it can be sent but is never shown), and how its orders are delivered
(``mail``, ``onapi`` or ``both``). A TL without a row gets its orders by e-mail only.
``outbox.kind``: two more kinds, ``sp_order`` (an order pushed to the TL) and ``sp_notice`` (a
direct activation announced to it); the column grows to 16 characters for them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tl_onapi",
        sa.Column("tl_org_id", sa.Integer(), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=True),
        sa.Column("password_enc", sa.Text(), nullable=True),
        sa.Column("delivery", sa.String(length=5), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "delivery IN ('mail', 'onapi', 'both')", name=op.f("ck_tl_onapi_delivery")
        ),
        sa.ForeignKeyConstraint(
            ["tl_org_id"], ["organisations.id"], name=op.f("fk_tl_onapi_tl_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("tl_org_id", name=op.f("pk_tl_onapi")),
    )
    # On SQLite this recreates the table: keep AUTOINCREMENT (ids are never reused).
    with op.batch_alter_table(
        "outbox", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.alter_column("kind", existing_type=sa.String(length=8), type_=sa.String(length=16))
        batch_op.drop_constraint(op.f("ck_outbox_kind"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_outbox_kind"),
            "kind IN ('mail', 'webhook', 'receipt', 'sp_order', 'sp_notice')",
        )


def downgrade() -> None:
    op.execute(
        "DELETE FROM outbox_attempts WHERE outbox_id IN "
        "(SELECT id FROM outbox WHERE kind IN ('sp_order', 'sp_notice'))"
    )
    op.execute("DELETE FROM outbox WHERE kind IN ('sp_order', 'sp_notice')")
    with op.batch_alter_table(
        "outbox", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_kind"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_outbox_kind"), "kind IN ('mail', 'webhook', 'receipt')"
        )
        batch_op.alter_column("kind", existing_type=sa.String(length=16), type_=sa.String(length=8))
    op.drop_table("tl_onapi")
