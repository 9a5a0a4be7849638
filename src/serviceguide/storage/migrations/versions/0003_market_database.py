"""market database

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 03:49:07.132191

The MdB2 coordinates, and the normalised search keys behind the address search (filled here
for the accesses that exist already, with the same functions the application writes them with).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from serviceguide.domain.addresses import city_key, number_key, street_key

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _search_key(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length=length).with_variant(
        sa.String(length=length, collation="C"), "postgresql"
    )


def _fill_search_keys() -> None:
    bind = op.get_bind()
    t = sa.table(
        "accesses",
        sa.column("id", sa.Integer),
        sa.column("street_name", sa.String),
        sa.column("street_number", sa.String),
        sa.column("street_littera", sa.String),
        sa.column("city", sa.String),
        sa.column("search_street", sa.String),
        sa.column("search_number", sa.String),
        sa.column("search_city", sa.String),
    )
    rows = bind.execute(
        sa.select(t.c.id, t.c.street_name, t.c.street_number, t.c.street_littera, t.c.city)
    ).all()
    if not rows:
        return
    bind.execute(
        sa.update(t)
        .where(t.c.id == sa.bindparam("row_id"))
        .values(
            search_street=sa.bindparam("street"),
            search_number=sa.bindparam("number"),
            search_city=sa.bindparam("city_key"),
        ),
        [
            {
                "row_id": r.id,
                "street": street_key(r.street_name),
                "number": number_key(r.street_number, r.street_littera),
                "city_key": city_key(r.city),
            }
            for r in rows
        ],
    )


def upgrade() -> None:
    with op.batch_alter_table("accesses", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sweref_type", sa.String(length=20), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("sweref_north", sa.String(length=20), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("sweref_east", sa.String(length=20), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("search_street", _search_key(200), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("search_number", _search_key(30), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("search_city", _search_key(100), server_default="", nullable=False)
        )

    _fill_search_keys()

    with op.batch_alter_table("accesses", schema=None) as batch_op:
        batch_op.create_index(
            "ix_accesses_search_city",
            ["search_city", "search_street", "search_number", "mdu_apartment_number", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_accesses_search_postal",
            ["postal_code", "search_street", "search_number", "mdu_apartment_number", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_accesses_search_street",
            ["search_street", "search_number", "mdu_apartment_number", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("accesses", schema=None) as batch_op:
        batch_op.drop_index("ix_accesses_search_street")
        batch_op.drop_index("ix_accesses_search_postal")
        batch_op.drop_index("ix_accesses_search_city")
        batch_op.drop_column("search_city")
        batch_op.drop_column("search_number")
        batch_op.drop_column("search_street")
        batch_op.drop_column("sweref_east")
        batch_op.drop_column("sweref_north")
        batch_op.drop_column("sweref_type")
