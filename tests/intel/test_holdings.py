"""Running holdings of noisy values (intel.holdings) stay equal to what the postings say, through every write that
can change them: new reports in batches, new versions that re-post (last seen moves on), re-mark, move into a
sharing group, revoke or revive, deletion of the latest version or of every version. After each step the
stored rows are compared with a plain GROUP BY over the live postings (and their newest-first lists with a plain
ORDER BY ... LIMIT), and ``rebuild`` must leave them as they were."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from alembic import command
from sqlalchemy import and_, func, select, text

from accord.clock import FrozenClock
from accord.identity.actor import Actor
from accord.intel import holdings
from accord.intel.holdings import AGGREGATE_ABOVE, NEWEST_KEPT, decode_newest
from accord.intel.models import IntelObject, Observable, ObservableHolding, Posting
from accord.intel.service import parse_versions
from accord.node import Node
from accord.store import migrate
from tests.conftest import World
from tests.intel.conftest import TLP_AMBER, TLP_GREEN, TLP_RED, indicator

NOISY = "+84911111111"
QUIET = "+84922222222"
PATTERN = f"[phone-number:value = '{NOISY}']"


def _reference(node: Node, value: str) -> dict[tuple[str, str, str, str], tuple[Any, ...]]:
    """The holdings of ``value`` computed from its live postings, the way the rows must say."""
    live = and_(IntelObject.stix_id == Posting.stix_id, IntelObject.is_latest.is_(True))
    with node.db.reading() as session:
        observable_id = session.scalar(select(Observable.id).where(Observable.value == value))
        rows = session.execute(
            select(Posting.owner_party_id, Posting.country, Posting.tlp, Posting.sharing_group_id)
            .join(IntelObject, live)
            .where(Posting.observable_id == observable_id, IntelObject.revoked.is_(False))
            .group_by(Posting.owner_party_id, Posting.country, Posting.tlp, Posting.sharing_group_id)
            .with_only_columns(
                Posting.owner_party_id,
                Posting.country,
                Posting.tlp,
                Posting.sharing_group_id,
                func.count(),
                func.min(Posting.first_seen),
                func.max(Posting.last_seen),
            )
        ).all()
        found = {}
        for owner, country, tlp, group, count, first, last in rows:
            same_group = Posting.sharing_group_id == group if group else Posting.sharing_group_id.is_(None)
            newest = session.execute(
                select(Posting.stix_id, Posting.first_seen, Posting.last_seen)
                .join(IntelObject, live)
                .where(
                    Posting.observable_id == observable_id,
                    IntelObject.revoked.is_(False),
                    Posting.owner_party_id == owner,
                    Posting.tlp == tlp,
                    same_group,
                )
                .order_by(Posting.last_seen.desc(), Posting.stix_id)
                .limit(NEWEST_KEPT)
            ).all()
            found[(owner, country, tlp, group or "")] = (count, first, last, [tuple(row) for row in newest])
        return found


def _stored(node: Node, value: str) -> dict[tuple[str, str, str, str], tuple[Any, ...]]:
    with node.db.reading() as session:
        observable_id = session.scalar(select(Observable.id).where(Observable.value == value))
        rows = session.scalars(select(ObservableHolding).where(ObservableHolding.observable_id == observable_id))
        return {
            (r.owner_party_id, r.country, r.tlp, r.sharing_group): (
                r.reports,
                r.first_seen,
                r.last_seen,
                decode_newest(r.newest),
            )
            for r in rows
        }


def _flags(node: Node, value: str) -> tuple[bool, int, set[bool]]:
    with node.db.reading() as session:
        observable_id, aggregated, written = session.execute(
            select(Observable.id, Observable.aggregated, Observable.postings_written).where(Observable.value == value)
        ).one()
        posted = set(session.scalars(select(Posting.aggregated).where(Posting.observable_id == observable_id)))
        return aggregated, written, posted


def test_a_value_is_aggregated_past_the_threshold_with_its_postings(node: Node, world: World, operator: Actor) -> None:
    quiet = [indicator(100 + n, f"[phone-number:value = '{QUIET}']") for n in range(AGGREGATE_ABOVE)]
    node.intel.import_objects(operator, quiet, owner=world.police.id, source="test")
    assert _flags(node, QUIET) == (False, AGGREGATE_ABOVE, {False})
    assert _stored(node, QUIET) == {}
    node.intel.import_objects(
        operator, [indicator(999, f"[phone-number:value = '{QUIET}']")], owner=world.bank.id, source="test"
    )
    assert _flags(node, QUIET) == (True, AGGREGATE_ABOVE + 1, {True})
    assert _stored(node, QUIET) == _reference(node, QUIET)
    assert sum(figures[0] for figures in _stored(node, QUIET).values()) == AGGREGATE_ABOVE + 1
    # A duplicate is a no-op: it writes no posting, so the count stays.
    node.intel.import_objects(operator, quiet[:3], owner=world.police.id, source="test")
    assert _flags(node, QUIET)[1] == AGGREGATE_ABOVE + 1


def test_running_holdings_equal_the_postings_through_every_kind_of_write(
    node: Node, world: World, operator: Actor, clock: FrozenClock
) -> None:
    rng = random.Random(11)  # noqa: S311 (a fixed sequence of writes, not a secret)
    desk = node.intel.create_sharing_group(operator, "Mekong desk", [world.police.id, world.bank.id])["name"]
    owners = [world.police.id, world.bank.id, world.pnp.id]
    # Every stored object: its owner and its versions, oldest first, each with the sharing group it came with.
    objects: dict[int, tuple[str, list[tuple[dict[str, Any], str | None]]]] = {}
    serial = 0
    minutes = 0

    def later(content: dict[str, Any], **changes: Any) -> dict[str, Any]:
        nonlocal minutes
        minutes += 1
        stamp = f"2026-11-{2 + minutes // 1440:02d}T{minutes // 60 % 24:02d}:{minutes % 60:02d}:00.000Z"
        return {**content, "modified": stamp, **changes}

    def store(batch: list[dict[str, Any]], owner: str, group: str | None) -> None:
        report = node.intel.import_objects(operator, batch, owner=owner, sharing_group=group, source="test")
        assert not report.failures, report.failures

    for step in range(40):
        clock.advance(timedelta(minutes=rng.choice([0, 1, 7, 60])))
        action = rng.choice(["new", "new", "new", "repost", "remark", "group", "revoke", "revive", "delete", "drop"])
        if action == "new" or len(objects) < 10:
            owner = rng.choice(owners)
            group = desk if owner != world.pnp.id and rng.random() < 0.3 else None
            batch = []
            for _ in range(rng.choice([1, 3, 30, 70])):
                serial += 1
                marking = TLP_AMBER if group else rng.choice([TLP_GREEN, TLP_AMBER, TLP_RED])
                extra = f" OR [ipv4-addr:value = '10.1.{serial // 250}.{serial % 250}']" if serial % 3 else ""
                content = indicator(serial, PATTERN + extra, markings=[marking])
                objects[serial] = (owner, [(content, group)])
                batch.append(content)
            store(batch, owner, group)
        else:
            chosen = rng.sample(sorted(objects), k=min(len(objects), rng.choice([1, 2, 5])))
            for n in chosen:
                owner, versions = objects[n]
                content, group = versions[-1]
                if action == "delete":  # the latest version only: the one before is latest again
                    if len(versions) > 1:
                        node.intel.delete_object(
                            operator, content["id"], parse_versions("version", ["last"]), source="test"
                        )
                        versions.pop()
                    continue
                if action == "drop":  # every version: its postings go
                    node.intel.delete_object(operator, content["id"], parse_versions("version", ["all"]), source="test")
                    del objects[n]
                    continue
                if action == "repost":
                    content = later(content)
                elif action == "remark" and not group:
                    content = later(content, object_marking_refs=[rng.choice([TLP_GREEN, TLP_AMBER, TLP_RED])])
                elif action == "group" and owner != world.pnp.id:
                    group = None if group else desk
                    content = later(content, object_marking_refs=[TLP_AMBER])
                elif action == "revoke":
                    content = later(content, revoked=True)
                elif action == "revive":
                    content = later(content, revoked=False)
                else:
                    continue
                versions.append((content, group))
                store([content], owner, group)
        if _flags(node, NOISY)[0]:
            assert _stored(node, NOISY) == _reference(node, NOISY), f"step {step}: {action}"
    aggregated, _written, posted = _flags(node, NOISY)
    assert aggregated and posted == {True}
    before = _stored(node, NOISY)
    assert sum(figures[0] for figures in before.values()) > NEWEST_KEPT  # lists were cut, not just kept whole
    with node.db.writing() as session:
        assert holdings.rebuild(session) == 1
    assert _stored(node, NOISY) == before


def test_the_postings_of_an_object_are_found_through_the_partial_index(node: Node) -> None:
    if node.db.engine.dialect.name != "sqlite":
        return  # PostgreSQL plans by statistics; the same index condition is checked on SQLite's plan
    with node.db.reading() as session:
        statement = holdings._STATES_OF_OBJECTS.params(ids=["indicator--x"])
        compiled = statement.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
        plan = session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
    assert any("ix_observable_postings_aggregated_stix_id" in str(row) for row in plan), plan


def test_migration_counts_and_aggregates_what_is_already_stored(node: Node, world: World, operator: Actor) -> None:
    """From revision 0014 (no counts, no flags) with values already posted: 0015 counts every value's postings
    and aggregates those past the threshold, with the rows the running code would have kept."""
    noisy = [indicator(300 + n, PATTERN, markings=[TLP_AMBER]) for n in range(AGGREGATE_ABOVE + 5)]
    node.intel.import_objects(operator, noisy[:30], owner=world.police.id, source="test")
    node.intel.import_objects(operator, noisy[30:], owner=world.bank.id, source="test")
    quiet = [indicator(400 + n, f"[phone-number:value = '{QUIET}']") for n in range(3)]
    node.intel.import_objects(operator, quiet, owner=world.pnp.id, source="test")
    revoked = {**noisy[0], "modified": "2026-11-05T08:00:00.000Z", "revoked": True}
    node.intel.import_objects(operator, [revoked], owner=world.police.id, source="test")
    expected = _stored(node, NOISY)
    assert expected == _reference(node, NOISY)
    config = migrate.alembic_config(node.db.engine)
    command.downgrade(config, "0014")
    migrate.upgrade(node.db.engine)
    assert _flags(node, NOISY) == (True, AGGREGATE_ABOVE + 5, {True})
    assert _flags(node, QUIET) == (False, 3, {False})
    assert _stored(node, NOISY) == expected


def test_a_group_emptied_and_refilled_in_one_batch_takes_only_the_new_dates(
    node: Node, world: World, operator: Actor, clock: FrozenClock
) -> None:
    police = [indicator(500 + n, PATTERN, markings=[TLP_GREEN]) for n in range(AGGREGATE_ABOVE + 1)]
    node.intel.import_objects(operator, police, owner=world.police.id, source="test")
    alone = indicator(600, PATTERN, markings=[TLP_AMBER])
    node.intel.import_objects(operator, [alone], owner=world.bank.id, source="test")
    clock.advance(timedelta(days=3))
    revoked = {**alone, "modified": "2026-11-05T08:00:00.000Z", "revoked": True}
    newer = indicator(601, PATTERN, markings=[TLP_AMBER])
    node.intel.import_objects(operator, [revoked, newer], owner=world.bank.id, source="test")
    bank_group = (world.bank.id, "VN", "amber", "")
    stored = _stored(node, NOISY)
    assert stored == _reference(node, NOISY)
    assert stored[bank_group][:3] == (1, clock.now(), clock.now())
