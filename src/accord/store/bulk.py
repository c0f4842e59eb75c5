"""Set-based writes that need dialect-specific SQL (INSERT ... ON CONFLICT), kept beside engine.py.

Both SQLite (3.24+) and PostgreSQL speak ON CONFLICT; SQLAlchemy has a construct per dialect.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from accord.store.base import Base


def _insert(session: Session, table: type[Base]) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise ValueError(f"no bulk upsert for dialect {dialect}")


def insert_missing(session: Session, table: type[Base], rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> None:
    """Insert rows whose key is not there yet; existing rows are left alone."""
    if rows:
        session.execute(_insert(session, table).on_conflict_do_nothing(index_elements=list(keys)), list(rows))


def upsert(
    session: Session, table: type[Base], rows: Sequence[dict[str, Any]], keys: Sequence[str], update: Sequence[str]
) -> None:
    """Insert rows, or set ``update`` columns from the new row where the key exists."""
    if not rows:
        return
    statement = _insert(session, table)
    statement = statement.on_conflict_do_update(
        index_elements=list(keys), set_={column: statement.excluded[column] for column in update}
    )
    session.execute(statement, list(rows))
