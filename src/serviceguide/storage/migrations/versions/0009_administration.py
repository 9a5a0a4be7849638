"""administration on the web: roles, the platform, admissions, the admin log, uploads

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 12:00:00.000000

``organisations``: the kind ``platform`` (the organisation that runs the installation) and
``active`` (every existing organisation is). ``staff_users.role``: every existing staff user
becomes a ``handler`` and keeps the order pages; an installation's first admin is made with
``serviceguide staff create … --role admin`` (docs/admin.md). ``network_admissions``: every TL
that has a service in a network is admitted there, so the guide offers what it offered before.
``services.category`` (``other`` for every existing service), ``api_users.last_used_at``
(unknown), and the new tables ``admin_log``, ``imports`` and ``import_rejections``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BUSY = "state IN ('queued', 'running')"


def upgrade() -> None:
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_organisations_kind"), type_="check")
        batch_op.alter_column("kind", existing_type=sa.String(length=2), type_=sa.String(length=8))
        batch_op.add_column(sa.Column("active", sa.Boolean(), server_default="1", nullable=False))
        batch_op.create_check_constraint(
            op.f("ck_organisations_kind"), "kind IN ('ko', 'tl', 'platform')"
        )
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("role", sa.String(length=8), server_default="handler", nullable=False)
        )
        batch_op.create_check_constraint(
            op.f("ck_staff_users_role"), "role IN ('handler', 'admin')"
        )
    with op.batch_alter_table("api_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("category", sa.String(length=20), server_default="other", nullable=False)
        )

    op.create_table(
        "network_admissions",
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("tl_org_id", sa.Integer(), nullable=False),
        sa.Column("admitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_network_admissions_network_id_networks")
        ),
        sa.ForeignKeyConstraint(
            ["tl_org_id"],
            ["organisations.id"],
            name=op.f("fk_network_admissions_tl_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("network_id", "tl_org_id", name=op.f("pk_network_admissions")),
    )
    # What the guide offered stays offered: every TL with a service in a network is admitted.
    op.execute(
        "INSERT INTO network_admissions (network_id, tl_org_id, admitted_at) "
        "SELECT network_id, tl_org_id, MIN(created_at) FROM services "
        "GROUP BY network_id, tl_org_id"
    )

    op.create_table(
        "admin_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.Column("org_name", sa.String(length=200), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("actor_org", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("object", sa.String(length=200), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_admin_log_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_log")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_admin_log_org_id", "admin_log", ["org_id", "id"])

    op.create_table(
        "imports",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("format", sa.String(length=3), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=True),
        sa.Column("rows_done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rejected", sa.Integer(), server_default="0", nullable=False),
        sa.Column("inserted", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated", sa.Integer(), server_default="0", nullable=False),
        sa.Column("unchanged", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_imports_state")
        ),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_imports_network_id_networks")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_imports_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imports")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_imports_network_id", "imports", ["network_id", "id"])
    op.create_index(
        "uq_imports_network_busy",
        "imports",
        ["network_id"],
        unique=True,
        sqlite_where=sa.text(_BUSY),
        postgresql_where=sa.text(_BUSY),
    )
    op.create_table(
        "import_rejections",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "import_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"], ["imports.id"], name=op.f("fk_import_rejections_import_id_imports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_rejections")),
    )
    op.create_index("ix_import_rejections_import", "import_rejections", ["import_id", "line"])


def downgrade() -> None:
    op.drop_index("ix_import_rejections_import", table_name="import_rejections")
    op.drop_table("import_rejections")
    op.drop_index("uq_imports_network_busy", table_name="imports")
    op.drop_index("ix_imports_network_id", table_name="imports")
    op.drop_table("imports")
    op.drop_index("ix_admin_log_org_id", table_name="admin_log")
    op.drop_table("admin_log")
    op.drop_table("network_admissions")
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_column("category")
    with op.batch_alter_table("api_users", schema=None) as batch_op:
        batch_op.drop_column("last_used_at")
    platform = "SELECT id FROM organisations WHERE kind = 'platform'"
    platform_staff = f"SELECT id FROM staff_users WHERE org_id IN ({platform})"  # noqa: S608
    op.execute(f"DELETE FROM staff_sessions WHERE staff_user_id IN ({platform_staff})")  # noqa: S608
    op.execute(f"DELETE FROM staff_users WHERE org_id IN ({platform})")  # noqa: S608
    op.execute(f"DELETE FROM organisations WHERE id IN ({platform})")  # noqa: S608
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_staff_users_role"), type_="check")
        batch_op.drop_column("role")
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_organisations_kind"), type_="check")
        batch_op.drop_column("active")
        batch_op.alter_column("kind", existing_type=sa.String(length=8), type_=sa.String(length=2))
        batch_op.create_check_constraint(op.f("ck_organisations_kind"), "kind IN ('ko', 'tl')")
