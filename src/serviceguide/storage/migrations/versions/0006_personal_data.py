"""personal data: the read audit and anonymisation

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 09:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("anonymised_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "personal_data_reads",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("customer_id", Id, nullable=False),
        sa.Column("reader_kind", sa.String(length=8), nullable=False),
        sa.Column("reader_id", sa.Integer(), nullable=False),
        sa.Column("reader_name", sa.String(length=200), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("org_name", sa.String(length=200), nullable=False),
        sa.Column("via", sa.String(length=40), nullable=False),
        sa.Column("client", sa.String(length=45), nullable=True),
        sa.CheckConstraint(
            "reader_kind IN ('api_user', 'staff')",
            name=op.f("ck_personal_data_reads_reader_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_personal_data_reads_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_personal_data_reads_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_data_reads")),
    )
    op.create_index("ix_personal_data_reads_customer", "personal_data_reads", ["customer_id", "id"])
    op.create_index("ix_personal_data_reads_at", "personal_data_reads", ["at"])


def downgrade() -> None:
    op.drop_index("ix_personal_data_reads_at", table_name="personal_data_reads")
    op.drop_index("ix_personal_data_reads_customer", table_name="personal_data_reads")
    op.drop_table("personal_data_reads")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("anonymised_at")
