"""the orders' creation-time indexes carry the order id (PostgreSQL)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 14:00:00.000000

A listing by date (``orders&date=``) starts at the lowest order id created on or after the day
within the caller's scope (storage/polling.py). From ``(tl_org_id, created_at)`` alone
PostgreSQL had to visit every such order's row for its id: about 100 000 row visits before the
first byte of a listing reaching back that far. With the id in the index (``INCLUDE``) the
lowest id comes from the index alone. SQLite's indexes hold the row id already.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SCOPES = (("ix_orders_tl_created", "tl_org_id"), ("ix_orders_ko_created", "ko_org_id"))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, scope in _SCOPES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
        op.execute(f"CREATE INDEX {name} ON orders ({scope}, created_at) INCLUDE (id)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, scope in _SCOPES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
        op.execute(f"CREATE INDEX {name} ON orders ({scope}, created_at)")
