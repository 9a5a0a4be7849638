"""The Alembic migrations and the table definitions describe the same schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from serviceguide.storage import migrate
from serviceguide.storage.db import sync_url
from serviceguide.storage.tables import metadata
from tests.conftest import create_pg_database, drop_pg_database

pytestmark = pytest.mark.integration

VERSIONS = Path(migrate.__file__).parent / "migrations" / "versions"


def test_migrated_schema_matches_the_tables(database_url: str):
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    assert diff == [], f"tables.py and the migrations disagree: {diff}"


def test_migrations_go_down_to_nothing_and_up_again(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    migrate.upgrade(url)
    migrate.downgrade(url, "base")
    engine = create_engine(sync_url(url))
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    migrate.upgrade(url)
    engine = create_engine(sync_url(url))
    assert {"orders", "customers", "events", "order_log"} <= set(inspect(engine).get_table_names())
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_upgrading_says_which_revisions_it_applied(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
):
    if backend == "sqlite":
        url, admin_url = f"sqlite:///{tmp_path / 'm.sqlite3'}", None
    else:
        admin_url = request.getfixturevalue("pg_server")
        url = create_pg_database(admin_url)
    try:
        assert migrate.current(url) is None
        first = migrate.upgrade(url, "0002")
        assert [r.id for r in first] == ["0001", "0002"]
        assert first[0].title == "initial schema"
        rest = migrate.upgrade(url)
        numbers = sorted(p.name[:4] for p in VERSIONS.glob("0*.py"))
        assert sorted(r.id for r in rest) == numbers[2:]  # each once, in the order they ran
        assert all(r.title for r in rest)
        assert migrate.upgrade(url) == []  # up to date: nothing applied
        assert migrate.current(url) == rest[-1].id
    finally:
        if admin_url is not None:
            drop_pg_database(admin_url, url)


def test_existing_staff_become_handlers_and_offered_services_stay_offered(tmp_path: Path):
    """Upgrading an installation from before roles: every staff user keeps the order pages as a
    handler, no organisation has an admin yet, and every TL with a service in a network is
    admitted there (the guide offers what it offered)."""
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    migrate.upgrade(url, "0007")
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        at = "2026-01-01 00:00:00.000000"
        conn.execute(
            text(
                "INSERT INTO organisations (id, kind, name, coid, xsp, created_at) VALUES "
                f"(1, 'ko', 'KO', 'KOX', NULL, '{at}'), (2, 'tl', 'TL', NULL, 7, '{at}'), "
                f"(3, 'tl', 'Other TL', NULL, 8, '{at}')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO networks (id, coid, name, ko_org_id, created_at) "
                f"VALUES (1, 'KOX', 'Net', 1, '{at}')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO services (id, uid, name, tl_org_id, network_id, price_monthly, "
                f"price_once, created_at) VALUES (5, 'U', 'S', 2, 1, 1, 0, '{at}')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO staff_users (org_id, username, name, password_hash, created_at) "
                f"VALUES (2, 'old.user', 'Old', 'x', '{at}')"
            )
        )
    migrate.upgrade(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT role FROM staff_users")).scalars().all() == ["handler"]
        admitted = conn.execute(text("SELECT network_id, tl_org_id FROM network_admissions"))
        assert [tuple(r) for r in admitted] == [(1, 2)]
        assert conn.execute(text("SELECT DISTINCT active FROM organisations")).scalar() == 1
        assert conn.execute(text("SELECT category FROM services")).scalar() == "other"
    engine.dispose()
    migrate.downgrade(url, "0007")  # and back, with the old kinds only


def test_older_entries_get_their_codes_and_customers_their_search_text(tmp_path: Path):
    """0012 on a database with history: the system's own log texts become codes (a person's
    message stays without), and every customer gets the staff search's folded text."""
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    migrate.upgrade(url, "0008")
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO customers (id, access_pk, serial, firstname, surname, email, phone,"
                " address, zip, city, created_at) VALUES (1, 1, '197001011233', 'Åsa', 'Öberg',"
                " 'a@example.se', '070', 'Storgatan 2', '12345', 'Demostad', '2026-01-01')"
            )
        )
        for i, (kind, message) in enumerate(
            [
                ("system", "Order placed through Tjänsteguiden"),
                ("system", "Status changed from new to active by Anna (Demo Bredband AB)"),
                ("log", "Status changed from new to active by Anna (Demo Bredband AB)"),
                ("log", "Personnummer visat för Anna (Demo Bredband AB)"),
            ],
            start=1,
        ):
            conn.execute(
                text(
                    "INSERT INTO order_log (id, order_id, created_at, type, message, user_name,"
                    " org_name) VALUES (:i, 1, '2026-01-01', :k, :m, 'x', 'y')"
                ),
                {"i": i, "k": kind, "m": message},
            )
    engine.dispose()
    migrate.upgrade(url)
    engine = create_engine(sync_url(url))
    with engine.connect() as conn:
        codes = conn.execute(text("SELECT code FROM order_log ORDER BY id")).scalars().all()
        found = conn.execute(text("SELECT search_text FROM customers")).scalar_one()
    engine.dispose()
    assert codes == ["placed", "status_changed", None, "serial_shown"]
    assert found == " asa oberg storgatan 2 12345 demostad "
