"""orders keep the service's uid, name and prices they were placed at

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 17:00:00.000000

Until now an order read its service's current name and prices, so a price change rewrote what
every earlier order showed. Existing orders take the service's current values: nothing older was
kept, and those are what the orders showed until now.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    ("service_uid", "uid", sa.String(length=40)),
    ("service_name", "name", sa.String(length=200)),
    ("price_monthly", "price_monthly", sa.Numeric(10, 2)),
    ("price_once", "price_once", sa.Numeric(10, 2)),
)


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        for column, _source, type_ in _COLUMNS:
            batch_op.add_column(sa.Column(column, type_, nullable=True))
    sets = ", ".join(
        f"{column} = (SELECT s.{source} FROM services s WHERE s.id = orders.service_id)"  # noqa: S608
        for column, source, _type in _COLUMNS
    )
    op.execute(f"UPDATE orders SET {sets}")  # noqa: S608 - the columns above, no input
    # On SQLite this recreates the table: keep AUTOINCREMENT (ids are never reused).
    with op.batch_alter_table(
        "orders", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        for column, _source, type_ in _COLUMNS:
            batch_op.alter_column(column, existing_type=type_, nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        for column, _source, _type in reversed(_COLUMNS):
            batch_op.drop_column(column)
