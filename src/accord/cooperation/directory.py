"""The 24/7 directory: who to call in each party, when they are on duty, and whether anyone checked lately.

Each entry is a point of contact or an authority (UN Art. 41, BC Art. 35; Convention requirement 2) with its
hours in its own time zone, languages, channels, an escalation order, and the date someone last verified it.
Entries not verified within the catalogue's window (12 months) are flagged: a stale number in an emergency is
worse than none. Emergency routing picks the entries on duty now, by escalation order.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from accord.audit.service import AuditLog
from accord.clock import Clock
from accord.cooperation.models import DirectoryEntry
from accord.errors import InvalidInput, NotFound
from accord.identity.actor import Actor
from accord.identity.service import IdentityService
from accord.identity.vocabulary import Permission
from accord.ids import IdSource
from accord.store.engine import Database

ROLES = (
    "point_of_contact_24_7",
    "central_authority",
    "extradition_authority",
    "asset_recovery_authority",
    "p2_art6_authority",
    "p2_art7_notification_authority",
    "p2_art8_authority",
)
CHANNELS = ("accord", "email", "phone", "fax", "post", "interpol", "diplomatic")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^(?P<d1>[a-z]{3})(?:-(?P<d2>[a-z]{3}))?\s+(?P<t1>\d{2}:\d{2})-(?P<t2>\d{2}:\d{2})$")
MAX_SPANS = 14


@dataclass(frozen=True)
class Span:
    """Days (0 = Monday) and a daily window [start, end) in the entry's local time."""

    days: frozenset[int]
    start: time
    end: time


def parse_hours(text: str) -> list[Span] | None:
    """``24/7`` (None: always), or ``Mon-Fri 08:00-17:00; Sat 09:00-12:00``. Raises InvalidInput("hours")."""
    cleaned = " ".join(text.strip().lower().split())
    if cleaned in ("24/7", "24x7"):
        return None
    spans = []
    for part in cleaned.split(";"):
        match = _SPAN.match(part.strip())
        if not match or match["d1"] not in DAYS or (match["d2"] and match["d2"] not in DAYS):
            raise InvalidInput("hours", "'24/7' or spans such as 'Mon-Fri 08:00-17:00; Sat 09:00-12:00'")
        first = DAYS.index(match["d1"])
        last = DAYS.index(match["d2"]) if match["d2"] else first
        days = frozenset(range(first, last + 1)) if first <= last else frozenset([*range(first, 7), *range(last + 1)])
        try:
            start, end = time.fromisoformat(match["t1"]), time.fromisoformat(match["t2"])
        except ValueError:
            raise InvalidInput("hours", f"not a time of day in {part.strip()!r}") from None
        if end <= start:
            raise InvalidInput("hours", f"{part.strip()!r} ends before it starts (split a night shift in two)")
        spans.append(Span(days, start, end))
    if len(spans) > MAX_SPANS:
        raise InvalidInput("hours", f"at most {MAX_SPANS} spans")
    return spans


def on_duty(hours: str, zone: str, at: datetime) -> bool:
    spans = parse_hours(hours)
    if spans is None:
        return True
    local = at.astimezone(ZoneInfo(zone))
    return any(local.weekday() in s.days and s.start <= local.time() < s.end for s in spans)


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput("time_zone", "an IANA time zone such as Asia/Ho_Chi_Minh") from None
    return name


def _codes(field: str, values: list[str], allowed: tuple[str, ...] | None = None) -> str:
    if len(values) > 10:
        raise InvalidInput(field, "at most 10")
    for value in values:
        if allowed is not None and value not in allowed:
            raise InvalidInput(field, f"one of {', '.join(allowed)}")
        if allowed is None and not (value.isalpha() and value.islower() and 2 <= len(value) <= 3):
            raise InvalidInput(field, "ISO 639 codes such as en, vi, fil")
    return ",".join(values)


def _text(field: str, value: str | None, limit: int, *, required: bool = False) -> str | None:
    if value is None or not value.strip():
        if required:
            raise InvalidInput(field, "is required")
        return None
    if len(value) > limit or any(unicodedata.category(ch) == "Cc" for ch in value):
        raise InvalidInput(field, f"at most {limit} printable characters")
    return value.strip()


@dataclass(frozen=True)
class EntryView:
    id: str
    party_id: str
    party_name: str
    country: str
    role: str
    name: str
    phone: str | None
    email: str | None
    hours: str
    time_zone: str
    languages: list[str]
    channels: list[str]
    escalation_order: int
    last_verified: date
    stale: bool
    on_duty_now: bool

    def document(self) -> dict[str, Any]:
        return {**self.__dict__, "last_verified": self.last_verified.isoformat()}


class Directory:
    def __init__(
        self, db: Database, clock: Clock, ids: IdSource, audit: AuditLog, identity: IdentityService, months: int
    ) -> None:
        self._db = db
        self._clock = clock
        self._ids = ids
        self._audit = audit
        self._identity = identity
        self._months = months

    def add(
        self,
        actor: Actor,
        *,
        party: str,
        role: str,
        name: str,
        hours: str,
        time_zone: str,
        languages: list[str],
        channels: list[str],
        phone: str | None = None,
        email: str | None = None,
        escalation_order: int = 1,
    ) -> EntryView:
        """An entry, verified today by whoever adds it (admins; the directory is shared by every party)."""
        self._identity.authorize(actor, Permission.MANAGE_PARTIES)
        target = self._identity.get_party(party)
        if role not in ROLES:
            raise InvalidInput("role", f"one of {', '.join(ROLES)}")
        parse_hours(hours)
        if not 1 <= escalation_order <= 99:
            raise InvalidInput("escalation_order", "between 1 and 99")
        now = self._clock.now()
        entry = DirectoryEntry(
            id=self._ids.new_id("directory-entry"),
            party_id=target.id,
            role=role,
            name=_text("name", name, 200, required=True) or "",
            phone=_text("phone", phone, 40),
            email=_text("email", email, 320),
            hours=" ".join(hours.split()),
            time_zone=_zone(time_zone),
            languages=_codes("languages", languages),
            channels=_codes("channels", channels, CHANNELS),
            escalation_order=escalation_order,
            last_verified=now.date(),
            verified_by=actor.username,
            updated_at=now,
        )
        with self._db.writing() as session:
            session.add(entry)
            session.flush()
            self._audit.append(
                session, actor.audit_ref(), "directory.add", object_type="directory-entry", object_id=entry.id
            )
            return self._view(entry, target.name, target.country, now)

    def verify(self, actor: Actor, entry_id: str) -> EntryView:
        """Record that someone checked the entry today (it is flagged again after the catalogue's window)."""
        self._identity.authorize(actor, Permission.MANAGE_PARTIES)
        now = self._clock.now()
        with self._db.writing() as session:
            entry = session.get(DirectoryEntry, entry_id)
            if entry is None:
                raise NotFound("directory entry", entry_id)
            entry.last_verified, entry.verified_by, entry.updated_at = now.date(), actor.username, now
            self._audit.append(
                session, actor.audit_ref(), "directory.verify", object_type="directory-entry", object_id=entry_id
            )
            party = self._identity.parties_by_id({entry.party_id})[entry.party_id]
            return self._view(entry, party.name, party.country, now)

    def entries(self, actor: Actor, party: str | None = None) -> list[EntryView]:
        self._identity.authorize(actor, Permission.VIEW_DIRECTORY)
        return self._entries(self._identity.get_party(party).id if party else None)

    def _entries(self, party_id: str | None, role: str | None = None) -> list[EntryView]:
        statement = select(DirectoryEntry).order_by(
            DirectoryEntry.party_id, DirectoryEntry.role, DirectoryEntry.escalation_order, DirectoryEntry.name
        )
        if party_id:
            statement = statement.where(DirectoryEntry.party_id == party_id)
        if role:
            statement = statement.where(DirectoryEntry.role == role)
        now = self._clock.now()
        with self._db.reading() as session:
            rows = session.scalars(statement.limit(2000)).all()
        parties = self._identity.parties_by_id({r.party_id for r in rows})
        return [self._view(r, parties[r.party_id].name, parties[r.party_id].country, now) for r in rows]

    def on_duty(self, party_id: str, role: str = "point_of_contact_24_7") -> list[EntryView]:
        """Who answers for ``party_id`` now, in escalation order (the node's own routing; not a user's read)."""
        return [e for e in self._entries(party_id, role) if e.on_duty_now]

    def _view(self, row: DirectoryEntry, party_name: str, country: str, now: datetime) -> EntryView:
        stale_after = row.last_verified + timedelta(days=round(self._months * 365.25 / 12))
        return EntryView(
            id=row.id,
            party_id=row.party_id,
            party_name=party_name,
            country=country,
            role=row.role,
            name=row.name,
            phone=row.phone,
            email=row.email,
            hours=row.hours,
            time_zone=row.time_zone,
            languages=[v for v in row.languages.split(",") if v],
            channels=[v for v in row.channels.split(",") if v],
            escalation_order=row.escalation_order,
            last_verified=row.last_verified,
            stale=now.date() > stale_after,
            on_duty_now=on_duty(row.hours, row.time_zone, now),
        )
