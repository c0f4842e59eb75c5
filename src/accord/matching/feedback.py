"""Sightings and outcomes parties report about a value — seen, blocked, taken down, false positive, victim
payment, confirmed by police — and their tally per value for the score (``scoring``).

A feedback row is kept against the observable index's row for the canonical value (created when nobody has
reported the value yet: a bank may block a number before any police report names it). Lookups read feedback as
counts per outcome with the latest time, never who gave it or the note: those stay with the party that wrote
them and the audit log.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accord.errors import InvalidInput
from accord.matching.correlation import CHUNK, IDS, Entry, Key, index_entries
from accord.matching.models import MAX_NOTE_LENGTH, ObservableFeedback
from accord.matching.scoring import OutcomeTally

# How far ahead of the node's clock an observed time may be: two machines' clocks disagree by seconds, not
# minutes; a time further ahead is a typo or a wrong time zone.
MAX_CLOCK_SKEW = timedelta(minutes=5)


class Outcome(StrEnum):
    SEEN = "seen"
    BLOCKED = "blocked"
    TAKEN_DOWN = "taken_down"
    FALSE_POSITIVE = "false_positive"
    VICTIM_PAYMENT = "victim_payment"
    CONFIRMED_BY_POLICE = "confirmed_by_police"


def parse_outcome(text: str) -> Outcome:
    """Raises InvalidInput naming ``outcome``."""
    try:
        return Outcome(text)
    except ValueError:
        choices = ", ".join(o.value for o in Outcome)
        raise InvalidInput("outcome", f"{text[:40]!r} is not one of {choices}") from None


def check_observed_at(observed_at: datetime, now: datetime) -> datetime:
    """``observed_at`` in UTC. Raises InvalidInput naming ``observed_at`` for a time without a zone or one more
    than MAX_CLOCK_SKEW ahead of ``now``."""
    if observed_at.tzinfo is None or observed_at.utcoffset() is None:
        raise InvalidInput("observed_at", "give the time zone, e.g. 2026-11-23T09:00:00Z")
    if observed_at - now > MAX_CLOCK_SKEW:
        raise InvalidInput("observed_at", "is in the future")
    return observed_at.astimezone(now.tzinfo)


def check_note(note: str | None) -> str | None:
    """The note stripped (None when empty). Raises InvalidInput naming ``note`` past MAX_NOTE_LENGTH."""
    if note is None or not note.strip():
        return None
    if len(note) > MAX_NOTE_LENGTH:
        raise InvalidInput("note", f"at most {MAX_NOTE_LENGTH} characters")
    return note.strip()


_TALLY = (
    select(
        ObservableFeedback.observable_id,
        ObservableFeedback.outcome,
        func.count(),
        func.max(ObservableFeedback.observed_at),
    )
    .where(ObservableFeedback.observable_id.in_(IDS))
    .group_by(ObservableFeedback.observable_id, ObservableFeedback.outcome)
)


def tally(session: Session, keys: Iterable[Key]) -> dict[Key, dict[str, OutcomeTally]]:
    """Per value with feedback: count and latest observed time per outcome. See ``tally_entries``."""
    return tally_entries(session, index_entries(session, keys))


def tally_entries(session: Session, entries: Mapping[Key, Entry]) -> dict[Key, dict[str, OutcomeTally]]:
    """``tally`` of values whose index rows are known (``correlation.index_entries``): one grouped statement per
    chunk of CHUNK observables, in the feedback's observable index, never one a value."""
    keys = {entry.observable_id: key for key, entry in entries.items()}
    ids = list(keys)
    found: dict[Key, dict[str, OutcomeTally]] = defaultdict(dict)
    for start in range(0, len(ids), CHUNK):
        for observable_id, outcome, count, latest in session.connection().execute(
            _TALLY, {"ids": ids[start : start + CHUNK]}
        ):
            found[keys[observable_id]][outcome] = OutcomeTally(count, latest)
    return dict(found)
