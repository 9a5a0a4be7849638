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

pytestmark = pytest.mark.integration


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
