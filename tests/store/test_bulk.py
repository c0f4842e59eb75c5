"""The bulk writers go round SQLAlchemy's per-row parameter handling; what they store must be byte-for-byte
what the ORM stores, or comparisons in SQL (added_after, first/last seen) would go wrong on SQLite, which
compares timestamps as text."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from accord.intel.models import SharingGroup
from accord.node import Node
from accord.store.bulk import insert_rows, upsert

ON_THE_SECOND = datetime(2026, 11, 1, 8, 0, 0, tzinfo=UTC)  # no microseconds: the case a default adapter gets wrong
WITH_MICROSECONDS = datetime(2026, 11, 1, 8, 0, 0, 123456, tzinfo=UTC)


def _stored(node: Node) -> dict[str, str]:
    with node.db.reading() as session:
        rows = session.execute(text("SELECT id, CAST(created_at AS TEXT) FROM sharing_groups")).all()
    return {row[0]: row[1] for row in rows}


def test_bulk_rows_are_stored_exactly_as_the_orm_stores_them(node: Node) -> None:
    for instant, suffix in ((ON_THE_SECOND, "second"), (WITH_MICROSECONDS, "micro")):
        with node.db.writing() as session:
            session.add(SharingGroup(id=f"orm-{suffix}", name=f"orm {suffix}", created_at=instant))
        with node.db.writing() as session:
            insert_rows(
                session, SharingGroup, [{"id": f"bulk-{suffix}", "name": f"bulk {suffix}", "created_at": instant}]
            )
    stored = _stored(node)
    assert stored["bulk-second"] == stored["orm-second"]
    assert stored["bulk-micro"] == stored["orm-micro"]


def test_upsert_updates_only_the_named_columns(node: Node) -> None:
    row = {"id": "g1", "name": "first name", "created_at": ON_THE_SECOND}
    with node.db.writing() as session:
        upsert(session, SharingGroup, [row], ["id"], ["name"])
        upsert(
            session, SharingGroup, [{**row, "name": "second name", "created_at": WITH_MICROSECONDS}], ["id"], ["name"]
        )
    with node.db.reading() as session:
        group = session.get(SharingGroup, "g1")
        assert group is not None
        assert (group.name, group.created_at) == ("second name", ON_THE_SECOND)
