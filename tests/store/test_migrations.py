"""Alembic migrations are the schema: they match the models on both dialects."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from accord.node import Node
from accord.store import migrate
from accord.store.models import metadata


def test_migrated_schema_matches_models(node: Node) -> None:
    with node.db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_node_is_at_head_and_upgrade_is_idempotent(node: Node) -> None:
    assert migrate.is_up_to_date(node.db.engine)
    migrate.upgrade(node.db.engine)
    assert migrate.current_revision(node.db.engine) == migrate.head_revision(node.db.engine)


def test_sqlite_runs_in_wal_with_foreign_keys(node: Node) -> None:
    if node.db.dialect != "sqlite":
        pytest.skip("SQLite pragmas")
    with node.db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
