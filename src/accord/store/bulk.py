"""Set-based writes that need dialect-specific SQL (INSERT ... ON CONFLICT), kept beside engine.py.

Both SQLite (3.24+) and PostgreSQL speak ON CONFLICT; SQLAlchemy has a construct per dialect.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import bindparam, cast, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from accord.store.base import Base


def _insert(session: Session, table: type[Base]) -> Any:
    # On the Core table, not the mapped class: the ORM's bulk path costs a third more per row and we need
    # none of its bookkeeping here (bench/intel_import.py profile).
    core = Base.metadata.tables[table.__tablename__]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(core)
    if dialect == "sqlite":
        return sqlite.insert(core)
    raise ValueError(f"no bulk upsert for dialect {dialect}")


def insert_rows(session: Session, table: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows (all with the same keys) through the driver's executemany."""
    _write(session, table, rows, lambda statement: statement)


def insert_missing(session: Session, table: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows (all with the same keys) whose primary key is not there yet; the others are left as they are."""
    _write(session, table, rows, lambda statement: statement.on_conflict_do_nothing())


def upsert(
    session: Session, table: type[Base], rows: Sequence[dict[str, Any]], keys: Sequence[str], update: Sequence[str]
) -> None:
    """Insert rows (all with the same keys, each key once), or set ``update`` columns from the new row where the
    key exists."""

    def on_conflict(statement: Any) -> Any:
        return statement.on_conflict_do_update(
            index_elements=list(keys), set_={column: statement.excluded[column] for column in update}
        )

    _write(session, table, rows, on_conflict)


def _write(session: Session, table: type[Base], rows: Sequence[dict[str, Any]], finish: Callable[[Any], Any]) -> None:
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(finish(_from_arrays(table, list(rows[0]))), _arrays(rows))
    else:
        _executemany(session, table, finish(_insert(session, table)), rows)


def _from_arrays(table: type[Base], columns: list[str]) -> Any:
    """PostgreSQL: ``INSERT INTO t (c, ...) SELECT * FROM unnest(CAST(:c AS type[]), ...)``, one array parameter
    per column, so a batch is one statement of one execution.

    Why not executemany: psycopg runs it as one execution per row (pipelined, but each row parsed, bound and
    executed apart), and SQLAlchemy's multi-row VALUES form is a new query text with a parameter per value that
    psycopg converts afresh every batch (a py-spy profile of a million-object import spent 46 % of the importer
    waiting on the server and 14 % converting such queries). With arrays the text is the same every batch, so
    psycopg caches it and the server plans it once per connection (prepared after a few executions).
    """
    core = Base.metadata.tables[table.__tablename__]
    arrays = [cast(bindparam(name), postgresql.ARRAY(core.c[name].type)) for name in columns]
    source = func.unnest(*arrays).table_valued(*columns).render_derived()
    return postgresql.insert(core).from_select(columns, select(*source.c))


def _arrays(rows: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in rows] for name in rows[0]}


def _executemany(session: Session, table: type[Base], statement: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Compile once, convert values with each column's own bind processor, and hand the driver one executemany.

    Why not ``session.execute(statement, rows)``: SQLAlchemy's per-row parameter handling (construct_params,
    bind processors through several layers) was a third of the importing process's time in a bulk import of
    scam indicators, and that process is the one writer (bench/intel_import.py). The values are converted by
    the same processors SQLAlchemy would use, so what is stored is the same.
    """
    if not rows:
        return
    dialect = session.get_bind().dialect
    core = Base.metadata.tables[table.__tablename__]
    columns = list(rows[0])
    compiled = statement.compile(dialect=dialect, column_keys=columns)
    # dialect_impl: a TypeDecorator's own bind_processor skips its implementation's (SQLite's DATETIME text
    # form); tests/store/test_bulk.py holds both paths to the same bytes.
    processors = {name: core.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns}
    convert = [(name, processors[name]) for name in columns]
    last: dict[str, tuple[Any, Any]] = {}  # a batch repeats the same instant: convert it once

    def value(name: str, processor: Any, raw: Any) -> Any:
        if processor is None or raw is None:
            return raw
        seen = last.get(name)
        if seen is not None and seen[0] is raw:
            return seen[1]
        converted = processor(raw)
        last[name] = (raw, converted)
        return converted

    if compiled.positional:
        order = [name for name in compiled.positiontup]
        positional = {name: processors[name] for name in order}
        parameters: list[Any] = [tuple(value(name, positional[name], row[name]) for name in order) for row in rows]
    else:
        parameters = [{name: value(name, processor, row[name]) for name, processor in convert} for row in rows]
    session.connection().exec_driver_sql(compiled.string, parameters)


def upsert_returning_ids(
    session: Session, table: type[Base], rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> list[Any]:
    """Insert rows whose key is new and return ``(id, *keys)`` for every row, new or existing, in one statement.

    Why not insert-then-select: selecting hundreds of keys back made PostgreSQL plan badly while a bulk load
    outgrew its statistics (a scan of the whole kind per batch: the import slowed from 2,000 to 850 objects/s
    within 60,000 objects). Here the unique index resolves each key. The no-op update (a key column set to
    itself) is what makes ON CONFLICT return existing rows.
    """
    if not rows:
        return []
    core = Base.metadata.tables[table.__tablename__]
    statement = _insert(session, table)
    statement = statement.on_conflict_do_update(
        index_elements=list(keys), set_={keys[0]: statement.excluded[keys[0]]}
    ).returning(core.c.id, *(core.c[key] for key in keys))
    return list(session.execute(statement, list(rows)).all())


def upsert_adding(
    session: Session,
    table: type[Base],
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    add: str,
    returning: Sequence[str] = (),
) -> list[Any]:
    """``upsert_returning_ids`` that also adds each row's ``add`` column to the stored one where the key exists,
    and returns ``(id, *keys, add, *returning)`` as stored after the statement: a running count kept in the
    same write that finds the row, at no extra statement."""
    if not rows:
        return []
    core = Base.metadata.tables[table.__tablename__]
    postgres = session.get_bind().dialect.name == "postgresql"
    statement = _from_arrays(table, list(rows[0])) if postgres else _insert(session, table)
    statement = statement.on_conflict_do_update(
        index_elements=list(keys), set_={add: core.c[add] + statement.excluded[add]}
    ).returning(core.c.id, *(core.c[key] for key in keys), core.c[add], *(core.c[name] for name in returning))
    return list(session.execute(statement, _arrays(rows) if postgres else list(rows)).all())
