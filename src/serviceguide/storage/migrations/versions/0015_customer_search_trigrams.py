"""indexes for the staff search's rare words on PostgreSQL

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 09:00:00.000000

The staff order list's free-text search looks for every word anywhere in the customer's folded
names and address (``customers.search_text LIKE '%word%'``). A rare word or one that matches
nothing made PostgreSQL read all of the organisation's orders, each with its customer: seconds
at a million orders. A ``pg_trgm`` GIN index finds the customers that hold the words instead,
and an index on the lower-cased accessId the access the text may name, so the search starts
from them when they are few (storage/staff.py). ``pg_trgm`` ships with PostgreSQL and is a
trusted extension: the database's owner may create it. SQLite is left as it is.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        "CREATE INDEX ix_customers_search_trgm ON customers USING gin (search_text gin_trgm_ops)"
    )
    op.execute("CREATE INDEX ix_accesses_access_id_lower ON accesses (lower(access_id))")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_accesses_access_id_lower")
    op.execute("DROP INDEX IF EXISTS ix_customers_search_trgm")
