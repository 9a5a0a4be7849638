"""the personal-data read log keeps no foreign keys

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 15:00:00.000000

Every customer an API user or staff member is shown is recorded in ``personal_data_reads``: a
``customers`` poll of 50 customers writes 50 rows before it answers. Each row's two foreign
keys (to the customer and to the reader's organisation) cost a lookup of their own on insert,
more than half of the insert's time. The log copies the names it needs (reader, organisation),
like the admin log, and its rows are written only with ids the same request has just read; the
keys added nothing a reader of the log relies on, so they are dropped.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEYS = (
    ("fk_personal_data_reads_customer_id_customers", "customers", "customer_id"),
    ("fk_personal_data_reads_org_id_organisations", "organisations", "org_id"),
)


def upgrade() -> None:
    with op.batch_alter_table("personal_data_reads", schema=None) as batch_op:
        for name, _, _ in _KEYS:
            batch_op.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("personal_data_reads", schema=None) as batch_op:
        for name, table, column in _KEYS:
            batch_op.create_foreign_key(name, table, [column], ["id"])
