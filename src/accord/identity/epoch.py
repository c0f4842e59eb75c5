"""The identity epoch: a counter that moves, in the same transaction, with every change to who is who.

A bearer token is checked on every API call; checking it means reading the token, its user, the user's roles
and party (four ORM loads, half a millisecond), and a lookup then reads the caller's sharing groups and the
holders' names. All of that changes rarely. Each server process keeps what it read in an ``EpochCache`` keyed
by the epoch it read it under, and one indexed read of the epoch decides whether the cache still holds: a change
made by any process (a revoked token, a removed role, a new sharing group member) moves the epoch when it
commits, so the next call anywhere reads afresh. No time-to-live: a revocation takes effect on the next call.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Generic, TypeVar

from sqlalchemy import event, inspect, select, update
from sqlalchemy.orm import Session

from accord.identity.models import IdentityEpoch
from accord.store.engine import Database

V = TypeVar("V")

_READ = select(IdentityEpoch.value).where(IdentityEpoch.id == 1)
_BUMP = update(IdentityEpoch).where(IdentityEpoch.id == 1).values(value=IdentityEpoch.value + 1)


def current_epoch(session: Session) -> int:
    """The epoch as ``session``'s transaction sees it (Core on the session's connection: one indexed read)."""
    value = session.connection().execute(_READ).scalar_one()
    return int(value)


def track_identity_changes(db: Database, watched: Mapping[type[Any], frozenset[str]]) -> None:
    """Move the epoch in every transaction of ``db`` that adds, changes or deletes a row of a ``watched`` class.

    ``watched`` maps each class to attributes whose change alone does not count (a token's last-used time).
    Core statements bypass this hook; the services change these tables through the ORM.
    """

    def changes_identity(session: Session) -> bool:
        for row in (*session.new, *session.deleted):
            if isinstance(row, tuple(watched)):
                return True
        for row in session.dirty:
            ignored = next((attrs for cls, attrs in watched.items() if isinstance(row, cls)), None)
            if ignored is None or not session.is_modified(row):
                continue
            changed = {attr.key for attr in inspect(row).attrs if attr.history.has_changes()}
            if changed - ignored:
                return True
        return False

    def before_flush(session: Session, _context: Any, _instances: Any) -> None:
        if changes_identity(session):
            session.execute(_BUMP)

    for maker in db.sessionmakers():
        event.listen(maker, "before_flush", before_flush)


class EpochCache(Generic[V]):
    """Values read under one epoch, at most ``size`` of them, dropped all at once when the epoch moves."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._epoch = -1
        self._values: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, epoch: int, key: Hashable, load: Callable[[], V]) -> V:
        """The value of ``key`` read under ``epoch``; ``load`` reads it when it is not cached (or is stale)."""
        with self._lock:
            if epoch == self._epoch and key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
        value = load()
        self.put(epoch, key, value)
        return value

    def peek(self, epoch: int, key: Hashable) -> V | None:
        with self._lock:
            return self._values.get(key) if epoch == self._epoch else None

    def put(self, epoch: int, key: Hashable, value: V) -> None:
        with self._lock:
            if epoch > self._epoch:
                self._epoch = epoch
                self._values.clear()
            if epoch != self._epoch:
                return  # read under an older epoch while another thread saw a newer one: not worth keeping
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self._size:
                self._values.popitem(last=False)
