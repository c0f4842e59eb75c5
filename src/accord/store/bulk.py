"""Set-based writes that need dialect-specific SQL (INSERT ... ON CONFLICT), kept beside engine.py.

Both SQLite (3.24+) and PostgreSQL speak ON CONFLICT; SQLAlchemy has a construct per dialect. A batch goes to
SQLite as one executemany, to PostgreSQL as one statement over an array per column (``_write_arrays``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, cast, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import psycopg as _psycopg
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
    """Insert rows (all with the same keys) in one set-based write."""
    _write(session, table, rows, ("insert",))


def insert_missing(session: Session, table: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows (all with the same keys) whose primary key is not there yet; the others are left as they are."""
    _write(session, table, rows, ("nothing",))


def upsert(
    session: Session, table: type[Base], rows: Sequence[dict[str, Any]], keys: Sequence[str], update: Sequence[str]
) -> None:
    """Insert rows (all with the same keys, each key once), or set ``update`` columns from the new row where the
    key exists."""
    _write(session, table, rows, ("update", tuple(keys), tuple(update)))


Conflict = tuple[Any, ...]  # ("insert",) | ("nothing",) | ("update", keys, columns) | ("add", keys, column, returning)


def _with_conflict(core: Any, statement: Any, conflict: Conflict) -> Any:
    match conflict:
        case ("insert",):
            return statement
        case ("nothing",):
            return statement.on_conflict_do_nothing()
        case ("update", keys, update):
            return statement.on_conflict_do_update(
                index_elements=list(keys), set_={column: statement.excluded[column] for column in update}
            )
        case ("add", keys, add, returning):
            return statement.on_conflict_do_update(
                index_elements=list(keys), set_={add: core.c[add] + statement.excluded[add]}
            ).returning(core.c.id, *(core.c[key] for key in keys), core.c[add], *(core.c[name] for name in returning))
    raise ValueError(f"unknown conflict rule {conflict!r}")


def _write(session: Session, table: type[Base], rows: Sequence[dict[str, Any]], conflict: Conflict) -> None:
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        _write_arrays(session, table, rows, conflict)
        return
    core = Base.metadata.tables[table.__tablename__]
    _executemany(session, table, _with_conflict(core, _insert(session, table), conflict), rows)


def _write_arrays(session: Session, table: type[Base], rows: Sequence[dict[str, Any]], conflict: Conflict) -> Any:
    """PostgreSQL: ``INSERT INTO t (c, ...) SELECT * FROM unnest(CAST(%(c)b AS type[]), ...)``, one array
    parameter per column, so a batch is one statement of one execution.

    Why not executemany: psycopg runs it as one execution per row (pipelined, but each row parsed, bound and
    executed apart), and SQLAlchemy's multi-row VALUES form is a new query text with a parameter per value that
    psycopg converts afresh every batch (a py-spy profile of a million-object import spent 46 % of the importer
    waiting on the server and 14 % converting such queries). With arrays the text is the same every batch, so
    psycopg caches it and the server prepares it. The arrays go in binary (``%b``): in text form psycopg quotes
    every element in Python, which took 30 % of the importer on the objects' JSON.
    """
    columns = tuple(rows[0])
    sql = _array_sql(table.__tablename__, columns, conflict)
    arrays: dict[str, list[Any]] = {}
    for name, processor in _bind_processors(session, table, columns).items():
        values = [row[name] for row in rows]
        arrays[name] = values if processor is None else [None if v is None else processor(v) for v in values]
    return session.connection().exec_driver_sql(sql, arrays)


def _bind_processors(session: Session, table: type[Base], columns: Sequence[str]) -> dict[str, Any]:
    """Each column's own bind processor, as SQLAlchemy would apply it (None where values go as they are).

    dialect_impl: a TypeDecorator's own bind_processor skips its implementation's (SQLite's DATETIME text form);
    tests/store/test_bulk.py holds the bulk paths to the bytes the ORM stores."""
    dialect = session.get_bind().dialect
    core = Base.metadata.tables[table.__tablename__]
    return {name: core.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns}


@lru_cache(maxsize=64)
def _array_sql(table_name: str, columns: tuple[str, ...], conflict: Conflict) -> str:
    core = Base.metadata.tables[table_name]
    arrays = [cast(bindparam(name), postgresql.ARRAY(core.c[name].type)) for name in columns]
    source = func.unnest(*arrays).table_valued(*columns).render_derived()
    statement = _with_conflict(
        core, postgresql.insert(core).from_select(list(columns), select(*source.c), include_defaults=False), conflict
    )
    sql: str = statement.compile(dialect=_POSTGRESQL).string
    for name in columns:
        sql = sql.replace(f"%({name})s", f"%({name})b")
    return sql


_POSTGRESQL = _psycopg.dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy's dialect class is untyped


def _executemany(session: Session, table: type[Base], statement: Any, rows: Sequence[dict[str, Any]]) -> None:
    """SQLite: compile once, convert values with each column's own bind processor, and hand the driver one
    executemany.

    Why not ``session.execute(statement, rows)``: SQLAlchemy's per-row parameter handling (construct_params,
    bind processors through several layers) was a third of the importing process's time in a bulk import of
    scam indicators, and that process is the one writer (bench/intel_import.py). The values are converted by
    the same processors SQLAlchemy would use, so what is stored is the same.
    """
    if not rows:
        return
    compiled = statement.compile(dialect=session.get_bind().dialect, column_keys=list(rows[0]))
    order = list(compiled.positiontup)  # pysqlite's parameters are positional (qmark)
    processors = _bind_processors(session, table, order)
    last: dict[str, tuple[Any, Any]] = {}  # a batch repeats the same instant: convert it once

    def value(name: str, raw: Any) -> Any:
        processor = processors[name]
        if processor is None or raw is None:
            return raw
        seen = last.get(name)
        if seen is not None and seen[0] is raw:
            return seen[1]
        converted = processor(raw)
        last[name] = (raw, converted)
        return converted

    parameters = [tuple(value(name, row[name]) for name in order) for row in rows]
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
    conflict = ("add", tuple(keys), add, tuple(returning))
    if session.get_bind().dialect.name == "postgresql":
        return list(_write_arrays(session, table, rows, conflict).all())
    core = Base.metadata.tables[table.__tablename__]
    statement = _with_conflict(core, _insert(session, table), conflict)
    return list(session.execute(statement, list(rows)).all())
