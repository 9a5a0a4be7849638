"""retired accesses; a TL's contact details

Revision ID: 0008
Revises: 0011
Create Date: 2026-12-03 09:00:00.000000

``accesses.retired_at``: an import with ``--replace`` retires the accesses its file no longer
holds (hidden from the guide, ON-API and the export; orders keep them). Every existing access is
in use. ``organisations``: phone, contact e-mail, website and opening hours of a TL, shown to its
customers; unset for every existing organisation.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0011"  # after the outbox's request ids, which came first
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CONTACT = (
    ("phone", sa.String(length=30)),
    ("contact_email", sa.String(length=254)),
    ("website", sa.String(length=500)),
    ("opening_hours", sa.String(length=200)),
)


def upgrade() -> None:
    with op.batch_alter_table("accesses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        for name, type_ in _CONTACT:
            batch_op.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        for name, _type in reversed(_CONTACT):
            batch_op.drop_column(name)
    with op.batch_alter_table("accesses", schema=None) as batch_op:
        batch_op.drop_column("retired_at")
