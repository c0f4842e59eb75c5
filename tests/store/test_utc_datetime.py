"""UtcDateTime: stored in UTC, read back aware, the same on SQLite's fast path and through the generic one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, select, text

from accord.store.base import UtcDateTime

HANOI = timezone(timedelta(hours=7))


def test_values_come_back_aware_and_equal() -> None:
    engine = create_engine("sqlite://")
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("at", UtcDateTime()))
    table.metadata.create_all(engine)
    written = [
        datetime(2026, 11, 24, 10, 0, 0, 123456, tzinfo=UTC),
        datetime(2026, 1, 1, 0, 0, tzinfo=HANOI),  # stored as the UTC instant
        datetime(2026, 3, 1, 12, 0, tzinfo=UTC),  # no microseconds
        None,
    ]
    with engine.begin() as connection:
        connection.execute(table.insert(), [{"id": n, "at": value} for n, value in enumerate(written)])
        # Text Accord never writes, as an administrator's SQL could: the generic path reads it.
        connection.execute(text("INSERT INTO t VALUES (10, '2026-02-03 04:05:06')"))
        connection.execute(text("INSERT INTO t VALUES (11, '2026-02-03T04:05:06+02:00')"))
        read = {row.id: row.at for row in connection.execute(select(table.c.id, table.c.at))}
    for n, value in enumerate(written):
        assert read[n] == value
        assert read[n] is None or read[n].utcoffset() == timedelta(0)
    assert read[10] == datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert read[11] == datetime(2026, 2, 3, 2, 5, 6, tzinfo=UTC)


def test_a_naive_value_is_refused() -> None:
    engine = create_engine("sqlite://")
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("at", UtcDateTime()))
    table.metadata.create_all(engine)
    with pytest.raises(Exception, match="naive datetime"), engine.begin() as connection:
        connection.execute(table.insert(), [{"id": 1, "at": datetime(2026, 1, 1)}])
