"""outbox rows keep the id of the request that wrote them

Revision ID: 0011
Revises: 0007
Create Date: 2026-12-03 10:00:00.000000

The relay's log lines about a delivery carry the X-Request-ID of the request that placed the
order or changed it, so that one id finds the request and every delivery it caused. Rows
written before have none.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column without a default: SQLite adds it in place, no table rebuild.
    op.add_column("outbox", sa.Column("request_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("request_id")
