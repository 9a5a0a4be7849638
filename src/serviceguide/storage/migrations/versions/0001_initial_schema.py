"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-29 03:40:01.907631
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "rate_hits",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_hits")),
    )
    with op.batch_alter_table("rate_hits", schema=None) as batch_op:
        batch_op.create_index("ix_rate_hits_key_at", ["key", "at"], unique=False)

    op.create_table(
        "organisations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=2), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("coid", sa.String(length=16), nullable=True),
        sa.Column("xsp", sa.Integer(), nullable=True),
        sa.Column("order_email", sa.String(length=254), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('ko', 'tl')", name=op.f("ck_organisations_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
        sa.UniqueConstraint("coid", name=op.f("uq_organisations_coid")),
        sa.UniqueConstraint("xsp", name=op.f("uq_organisations_xsp")),
    )
    op.create_table(
        "api_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key_hash", sa.String(length=200), nullable=False),
        sa.Column("ip_allowlist", sa.JSON(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_api_users_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_users")),
    )
    with op.batch_alter_table("api_users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_users_org_id"), ["org_id"], unique=False)

    op.create_table(
        "networks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("coid", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("ko_org_id", sa.Integer(), nullable=False),
        sa.Column("activation_url", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ko_org_id"], ["organisations.id"], name=op.f("fk_networks_ko_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_networks")),
        sa.UniqueConstraint("coid", name=op.f("uq_networks_coid")),
    )
    with op.batch_alter_table("networks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_networks_ko_org_id"), ["ko_org_id"], unique=False)

    op.create_table(
        "staff_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_staff_users_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_users")),
        sa.UniqueConstraint("username", name=op.f("uq_staff_users_username")),
    )
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_users_org_id"), ["org_id"], unique=False)

    op.create_table(
        "accesses",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("access_id", sa.String(length=36), nullable=False),
        sa.Column("street_name", sa.String(length=200), nullable=False),
        sa.Column("street_number", sa.String(length=20), nullable=False),
        sa.Column("street_littera", sa.String(length=10), server_default="", nullable=False),
        sa.Column("postal_code", sa.String(length=5), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("country_code", sa.String(length=2), server_default="SE", nullable=False),
        sa.Column("premises_type", sa.String(length=40), server_default="OTHER", nullable=False),
        sa.Column("mdu_apartment_number", sa.String(length=4), server_default="", nullable=False),
        sa.Column("mdu_distinguisher", sa.String(length=100), server_default="", nullable=False),
        sa.Column(
            "property_unit_designation", sa.String(length=67), server_default="", nullable=False
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_accesses_network_id_networks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accesses")),
        sa.UniqueConstraint("network_id", "access_id", name="uq_accesses_network_access"),
    )
    op.create_table(
        "api_sessions",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("api_user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_user_id"], ["api_users.id"], name=op.f("fk_api_sessions_api_user_id_api_users")
        ),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_api_sessions")),
    )
    with op.batch_alter_table("api_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_sessions_api_user_id"), ["api_user_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_api_sessions_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "services",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("uid", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=500), server_default="", nullable=False),
        sa.Column("tl_org_id", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("price_monthly", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("price_once", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("direct_activation", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_services_network_id_networks")
        ),
        sa.ForeignKeyConstraint(
            ["tl_org_id"], ["organisations.id"], name=op.f("fk_services_tl_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
    )
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_services_network_id"), ["network_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_services_tl_org_id"), ["tl_org_id"], unique=False)

    op.create_table(
        "customers",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "access_pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("serial", sa.String(length=12), nullable=False),
        sa.Column("firstname", sa.String(length=100), nullable=False),
        sa.Column("surname", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("phone", sa.String(length=30), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("zip", sa.String(length=5), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("premise", sa.String(length=40), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["access_pk"], ["accesses.id"], name=op.f("fk_customers_access_pk_accesses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customers_access_pk"), ["access_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_customers_created_at"), ["created_at"], unique=False)

    op.create_table(
        "orders",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column(
            "access_pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("tl_org_id", sa.Integer(), nullable=False),
        sa.Column("ko_org_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("delivery", sa.Date(), nullable=True),
        sa.Column("message", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('new', 'received', 'active', 'waiting', 'cancelled', 'delivered')",
            name=op.f("ck_orders_status"),
        ),
        sa.ForeignKeyConstraint(
            ["access_pk"], ["accesses.id"], name=op.f("fk_orders_access_pk_accesses")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_orders_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["ko_org_id"], ["organisations.id"], name=op.f("fk_orders_ko_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_orders_service_id_services")
        ),
        sa.ForeignKeyConstraint(
            ["tl_org_id"], ["organisations.id"], name=op.f("fk_orders_tl_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_access_pk"), ["access_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index("ix_orders_ko_created", ["ko_org_id", "created_at"], unique=False)
        batch_op.create_index("ix_orders_ko_id", ["ko_org_id", "id"], unique=False)
        batch_op.create_index("ix_orders_tl_created", ["tl_org_id", "created_at"], unique=False)
        batch_op.create_index("ix_orders_tl_id", ["tl_org_id", "id"], unique=False)

    op.create_table(
        "events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("message_type", sa.String(length=8), nullable=True),
        sa.Column("tl_org_id", sa.Integer(), nullable=False),
        sa.Column("ko_org_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ko_org_id"], ["organisations.id"], name=op.f("fk_events_ko_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_events_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["tl_org_id"], ["organisations.id"], name=op.f("fk_events_tl_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_ko_id", ["ko_org_id", "id"], unique=False)
        batch_op.create_index("ix_events_tl_id", ["tl_org_id", "id"], unique=False)

    op.create_table(
        "order_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("user_name", sa.String(length=200), nullable=False),
        sa.Column("org_name", sa.String(length=200), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_log_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_order_log_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_log")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("order_log", schema=None) as batch_op:
        batch_op.create_index("ix_order_log_order_id", ["order_id", "id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("order_log", schema=None) as batch_op:
        batch_op.drop_index("ix_order_log_order_id")

    op.drop_table("order_log")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_tl_id")
        batch_op.drop_index("ix_events_ko_id")

    op.drop_table("events")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_tl_id")
        batch_op.drop_index("ix_orders_tl_created")
        batch_op.drop_index("ix_orders_ko_id")
        batch_op.drop_index("ix_orders_ko_created")
        batch_op.drop_index(batch_op.f("ix_orders_customer_id"))
        batch_op.drop_index(batch_op.f("ix_orders_access_pk"))

    op.drop_table("orders")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_created_at"))
        batch_op.drop_index(batch_op.f("ix_customers_access_pk"))

    op.drop_table("customers")
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_services_tl_org_id"))
        batch_op.drop_index(batch_op.f("ix_services_network_id"))

    op.drop_table("services")
    with op.batch_alter_table("api_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_sessions_expires_at"))
        batch_op.drop_index(batch_op.f("ix_api_sessions_api_user_id"))

    op.drop_table("api_sessions")
    op.drop_table("accesses")
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_users_org_id"))

    op.drop_table("staff_users")
    with op.batch_alter_table("networks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_networks_ko_org_id"))

    op.drop_table("networks")
    with op.batch_alter_table("api_users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_users_org_id"))

    op.drop_table("api_users")
    op.drop_table("organisations")
    with op.batch_alter_table("rate_hits", schema=None) as batch_op:
        batch_op.drop_index("ix_rate_hits_key_at")

    op.drop_table("rate_hits")
