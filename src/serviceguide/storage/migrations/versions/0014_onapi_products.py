"""products from the TLs' ON-API: offerings as services, what orders keep of them

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 15:00:00.000000

``services``: where a service comes from (``source``: ``manual``, entered in the guide, or
``onapi``, read from the TL's ON-API products), the product and offering it is (``product_id``,
``offering_id``, ``offering_name``) and what customers compare beside the prices: the price's
period (ISO 8601, None for a month), the binding time, the notice period, whether it is a
campaign (its length and the price after it), the consumer types it is for, the TL's terms and
privacy-policy links, and ``onapi_extra`` (what else the products document said, as JSON, to
serve it back). ``updated_at``: when the service last changed (the served products'
Last-Modified); existing services take their creation time. An offering is one service per
network: at most one per TL, network, product and offering.

``orders``: the product and offering ids the order was placed for, the price period, binding time
and notice period, kept as the other prices are. Orders placed before this have none (their
service's uid stands for both ids).

``product_syncs``: one row per TL whose products are read: the last good read (its
``serviceProvider`` as JSON), the last attempt and its error, and the claim of the process that
is reading them now, so that one process at a time reads a TL's products.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SERVICE_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("product_id", sa.String(length=36)),
    ("offering_id", sa.String(length=36)),
    ("offering_name", sa.String(length=255)),
    ("price_period", sa.String(length=20)),
    ("agreement_length", sa.String(length=20)),
    ("notice_period", sa.String(length=20)),
    ("campaign_length", sa.String(length=20)),
    ("base_price", sa.Numeric(10, 2)),
    ("consumer_types", sa.String(length=100)),
    ("terms_url", sa.String(length=500)),
    ("privacy_url", sa.String(length=500)),
    ("onapi_extra", sa.Text()),
    ("updated_at", sa.DateTime(timezone=True)),
)
_ORDER_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("product_id", sa.String(length=36)),
    ("offering_id", sa.String(length=36)),
    ("price_period", sa.String(length=20)),
    ("agreement_length", sa.String(length=20)),
    ("notice_period", sa.String(length=20)),
)


def upgrade() -> None:
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(length=6), server_default="manual", nullable=False)
        )
        for name, type_ in _SERVICE_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
        batch_op.add_column(sa.Column("campaign", sa.Boolean(), server_default="0", nullable=False))
    op.execute("UPDATE services SET updated_at = created_at")
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f("ck_services_source"), "source IN ('manual', 'onapi')"
        )
        batch_op.create_index(
            "uq_services_offering",
            ["tl_org_id", "network_id", "product_id", "offering_id"],
            unique=True,
            sqlite_where=sa.text("source = 'onapi'"),
            postgresql_where=sa.text("source = 'onapi'"),
        )
    with op.batch_alter_table(
        "orders", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        for name, type_ in _ORDER_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
    op.create_table(
        "product_syncs",
        sa.Column("tl_org_id", sa.Integer(), nullable=False),
        sa.Column("service_provider", sa.Text(), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["tl_org_id"],
            ["organisations.id"],
            name=op.f("fk_product_syncs_tl_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("tl_org_id", name=op.f("pk_product_syncs")),
    )


def downgrade() -> None:
    op.drop_table("product_syncs")
    with op.batch_alter_table(
        "orders", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        for name, _type in reversed(_ORDER_COLUMNS):
            batch_op.drop_column(name)
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_index("uq_services_offering")
        batch_op.drop_constraint(op.f("ck_services_source"), type_="check")
        batch_op.drop_column("campaign")
        for name, _type in reversed(_SERVICE_COLUMNS):
            batch_op.drop_column(name)
        batch_op.drop_column("source")
