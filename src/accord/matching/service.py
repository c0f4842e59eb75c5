"""Bulk lookup: "does anyone else know these phone numbers, accounts, wallets, domains?" for up to 100,000 raw
values in one call, answered from the observable index under each reader's markings.

Per value the answer carries its canonical form (or why it has none), the hits at the level the reader may see
them (``visibility``), the false-positive and known-identifier lists it is on (``warninglists``: marked, never
dropped) and whether it was seen across borders. A value that does not normalise is reported with its reason,
not a failed batch. Every call is one audit entry with its purpose and counts, never the values themselves: the
log must not become a second copy of what was searched for (data minimisation, UN Convention Art. 36).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from accord.audit.batching import Pending
from accord.audit.service import AuditLog, Disclosure
from accord.clock import Clock
from accord.errors import InvalidInput
from accord.identity.actor import Actor
from accord.identity.service import IdentityService
from accord.identity.vocabulary import Permission
from accord.intel.models import MAX_VALUE_LENGTH, Observable
from accord.intel.normalise import Canonical, IdentifierKind, InvalidIdentifier
from accord.intel.normalise.detect import UNKNOWN
from accord.intel.service import IntelService
from accord.matching.collector import collector_paused
from accord.matching.correlation import Correlation, Key, correlate_entries, index_entries
from accord.matching.errors import TooManyValues
from accord.matching.feedback import check_note, check_observed_at, parse_outcome, tally_entries
from accord.matching.models import ObservableFeedback
from accord.matching.normalising import NormalisingPool, canonical
from accord.matching.scoring import DEFAULT_HALF_LIFE_DAYS, DEFAULT_KIND, Evidence, OutcomeTally, Score, score
from accord.matching.visibility import NO_HITS, Hits, Viewer
from accord.matching.warninglists import Warninglists
from accord.store.bulk import upsert_returning_ids
from accord.store.engine import Database

# Values per call: the figure for a bank's daily batch; bigger lists are split by the client (the CLI
# streams a file of any size in calls of this size or less).
MAX_LOOKUP_VALUES = 100_000
KINDS = frozenset(str(kind) for kind in IdentifierKind)


@dataclass(frozen=True)
class MatchingPolicy:
    node_country: str | None = None  # the region for national-format phone numbers when the caller has none
    # Days after which a report counts half as recent, per identifier kind ("default" for the rest): the
    # matching_half_life_days setting, parsed by ``scoring.parse_half_lives``.
    half_lives: Mapping[str, float] = field(default_factory=lambda: {DEFAULT_KIND: DEFAULT_HALF_LIFE_DAYS})


@dataclass(frozen=True)
class LookupResult:
    """The answer for one input value, in input order."""

    input: str
    type: str | None  # the kind given, or the one detected (None when detection found none)
    canonical: str | None
    error: str | None  # why the value does not normalise
    hits: Hits
    warninglists: tuple[str, ...]
    cross_border: bool
    score: Score | None = None  # None when nobody reported the value and nobody gave feedback on it

    def document(self) -> dict[str, Any]:
        """The result as JSON (the API's ``results`` items and the CLI's JSON lines)."""
        return self._document(_hits_document(self.hits), None if self.score is None else self.score.document())

    def _document(self, hits: dict[str, Any], score: dict[str, Any] | None) -> dict[str, Any]:
        return {
            "input": self.input,
            "type": self.type,
            "canonical": self.canonical,
            "error": self.error,
            "hits": hits,
            "warninglists": list(self.warninglists),
            "cross_border": self.cross_border,
            "score": score,
        }


def documents(results: Sequence[LookupResult]) -> list[dict[str, Any]]:
    """``[result.document() for result in results]`` for a whole answer, to be serialised at once: the hits and
    scores that results share (a value given twice, variants of one value, values with the same evidence) are
    rendered once and the same dictionaries placed in each document. Do not modify the documents in place."""
    with collector_paused():  # see ``collector``: documents are not cycles
        return _documents(results)


def _documents(results: Sequence[LookupResult]) -> list[dict[str, Any]]:
    hits_documents: dict[int, dict[str, Any]] = {}
    score_documents: dict[int, dict[str, Any]] = {}
    rendered: dict[int, dict[str, Any]] = {}
    answer = []
    for result in results:
        document = rendered.get(id(result))
        if document is None:
            hits = hits_documents.get(id(result.hits))
            if hits is None:
                hits = hits_documents[id(result.hits)] = _hits_document(result.hits)
            score = None
            if result.score is not None:
                score = score_documents.get(id(result.score))
                if score is None:
                    score = score_documents[id(result.score)] = result.score.document()
            document = rendered[id(result)] = result._document(hits, score)
        answer.append(document)
    return answer


def _hits_document(hits: Hits) -> dict[str, Any]:
    restricted = hits.restricted
    return {
        "found": hits.found,
        "visible_count": hits.visible_count,
        "visible": [
            {
                "stix_id": hit.stix_id,
                "stix_type": hit.stix_type,
                "party_id": hit.party_id,
                "party": hit.party,
                "country": hit.country,
                "tlp": hit.tlp,
                "first_seen": hit.first_seen.isoformat(),
                "last_seen": hit.last_seen.isoformat(),
            }
            for hit in hits.visible
        ],
        "restricted": None
        if restricted is None
        else {
            "parties": restricted.parties,
            "countries": list(restricted.countries),
            "contacts": [
                {"party_id": c.party_id, "party": c.party, "country": c.country, "contact": c.contact}
                for c in restricted.contacts
            ],
        },
    }


@dataclass(frozen=True)
class FeedbackRecord:
    """One recorded sighting or outcome, as the API returns it (the note stays with its writer and the log)."""

    id: int
    type: str
    canonical: str
    outcome: str
    observed_at: datetime
    created_at: datetime

    def document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "canonical": self.canonical,
            "outcome": self.outcome,
            "observed_at": self.observed_at.isoformat(),
            "created_at": self.created_at.isoformat(),
        }


def check_lookup_input(values: Sequence[str], types: Sequence[str | None] | None) -> None:
    """Refuse a lookup that is not one: too many values, an over-long value, types that do not pair with the
    values or name no identifier kind. Items are counted from 0. Raises TooManyValues, InvalidInput."""
    if len(values) > MAX_LOOKUP_VALUES:
        raise TooManyValues("values", len(values), MAX_LOOKUP_VALUES)
    if not values:
        raise InvalidInput("values", "give at least one value")
    for index, value in enumerate(values):
        if len(value) > MAX_VALUE_LENGTH:  # no canonical value is longer (intel.models), so none could match
            raise InvalidInput("values", f"item {index} is longer than {MAX_VALUE_LENGTH} characters")
    if types is None:
        return
    if len(types) != len(values):
        raise InvalidInput("types", f"{len(types)} types for {len(values)} values; give one per value, or none")
    for index, kind in enumerate(types):
        if kind is not None and kind not in KINDS:
            raise InvalidInput("types", f"item {index}: {kind[:40]!r} is not one of {', '.join(sorted(KINDS))}")


def check_kind(field: str, kind: str | None) -> None:
    """``kind`` is None (detect it) or an identifier kind. Raises InvalidInput naming ``field``."""
    if kind is not None and kind not in KINDS:
        raise InvalidInput(field, f"{kind[:40]!r} is not one of {', '.join(sorted(KINDS))}")


Answer = tuple[Hits, tuple[str, ...], bool, Score | None]  # hits, warninglists, cross_border, score


class _Answers:
    """The answer for each distinct canonical value of one lookup, for one reader at one moment."""

    def __init__(self, viewer: Viewer, half_lives: Mapping[str, float], now: datetime):
        self._viewer = viewer
        self._half_lives = half_lives
        self._now = now
        self._answers: dict[Key, Answer] = {}
        # Values with the same evidence (kind, counts, countries, newest visible report, feedback) have the same
        # score: bulk imports give many values the same figures and the same date.
        self._scores: dict[tuple[object, ...], Score] = {}

    def of(
        self,
        key: Key,
        warninglists: tuple[str, ...],
        correlation: Correlation | None,
        feedback: Mapping[str, OutcomeTally] | None,
    ) -> Answer:
        answer = self._answers.get(key)
        if answer is None:
            answer = self._answers[key] = self._answer(key[0], warninglists, correlation, feedback or {})
        return answer

    def _answer(
        self,
        kind: str,
        warninglists: tuple[str, ...],
        correlation: Correlation | None,
        feedback: Mapping[str, OutcomeTally],
    ) -> Answer:
        if correlation is None:
            value_score = self._score(kind, 0, 0, (), None, feedback) if feedback else None
            return NO_HITS, warninglists, False, value_score
        # What the score may rest on for this reader: every holder counts, but reports the reader may not see
        # count once per party that holds them (not their number) and give no date to the recency part: the
        # score reveals no more than the hit/no-hit answer does. Feedback carries no markings: counts per
        # outcome and the latest date, for everyone.
        visible_count, withheld, newest = self._viewer.split(correlation)
        hits = self._viewer.hits(correlation, visible_count, withheld)
        holdings = correlation.holdings
        parties = len({h.party_id for h in holdings}) if len(holdings) > 1 else 1
        countries = tuple(sorted({h.country for h in holdings}))
        value_score = self._score(kind, visible_count + len(withheld), parties, countries, newest, feedback)
        return hits, warninglists, len(countries) > 1, value_score

    def _score(
        self,
        kind: str,
        reports: int,
        parties: int,
        countries: tuple[str, ...],
        last_seen: datetime | None,
        feedback: Mapping[str, OutcomeTally],
    ) -> Score:
        signature = (kind, reports, parties, countries, last_seen, *feedback.items())
        found = self._scores.get(signature)
        if found is None:
            evidence = Evidence(kind, reports, parties, countries, last_seen, feedback, self._now)
            found = self._scores[signature] = score(evidence, self._half_lives)
        return found


@dataclass(frozen=True)
class PreparedLookup:
    """A lookup's answers, held back until the call's audit entry is committed."""

    _results: list[LookupResult]
    audit_entry: Pending

    def recorded(self) -> list[LookupResult]:
        """The answers, once the audit entry is committed (blocks until then). Raises what writing it raised."""
        self.audit_entry.outcome()
        return self._results


class MatchingService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        audit: AuditLog,
        identity: IdentityService,
        intel: IntelService,
        warninglists: Warninglists,
        policy: MatchingPolicy,
        normaliser: NormalisingPool | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._audit = audit
        self._identity = identity
        self._intel = intel
        self._warninglists = warninglists
        self._policy = policy
        self._normaliser = normaliser or NormalisingPool(workers=0)

    def start_workers(self, wait_seconds: float = 0.0) -> bool:
        """Start the processes that help normalise large lookups now rather than at the first one (see
        ``normalising``), waiting up to ``wait_seconds`` for them. Whether they answer yet."""
        self._normaliser.start()
        return self._normaliser.ready(wait_seconds) if wait_seconds > 0 else False

    def close(self) -> None:
        self._normaliser.close()

    @property
    def warninglists(self) -> Warninglists:
        return self._warninglists

    def lookup(
        self,
        actor: Actor,
        values: Sequence[str],
        types: Sequence[str | None] | None,
        disclosure: Disclosure,
        snapshot: Session | None = None,
    ) -> list[LookupResult]:
        """Normalise each value (as its type says, or detected) and answer who holds it, as ``actor`` may see it.

        National phone numbers are read in the caller's party's country (the node's for the local operator).
        One audit entry per call, with the purpose and counts. Raises PermissionDenied (no READ_INTEL: auditors
        look at the log, not at intelligence), InvalidInput (no purpose; see also ``check_lookup_input``),
        TooManyValues. The index is read in ``snapshot`` when given (a ``Database.snapshot`` the caller already
        read in, such as the API route's token check), else in a snapshot of its own.
        """
        return self.prepare_lookup(actor, values, types, disclosure, snapshot).recorded()

    def prepare_lookup(
        self,
        actor: Actor,
        values: Sequence[str],
        types: Sequence[str | None] | None,
        disclosure: Disclosure,
        snapshot: Session | None = None,
        *,
        on_recorded: Callable[[], None] | None = None,
    ) -> PreparedLookup:
        """``lookup``, up to its audit entry: that entry is queued, not waited for, and the answers are held in
        the returned ``PreparedLookup`` until ``recorded()``. For a caller that waits for the entry in an event
        loop (``on_recorded``, see ``AuditLog.record_later``) or after closing its read snapshot."""
        self._identity.authorize(actor, Permission.READ_INTEL)
        if not (disclosure.purpose or "").strip():
            raise InvalidInput("purpose", "say why these values are looked up (it is recorded in the audit log)")
        check_lookup_input(values, types)
        with collector_paused():  # see ``collector``: the call's objects are not cycles
            return self._lookup(actor, values, types, disclosure, snapshot, on_recorded)

    def _lookup(
        self,
        actor: Actor,
        values: Sequence[str],
        types: Sequence[str | None] | None,
        disclosure: Disclosure,
        snapshot: Session | None,
        on_recorded: Callable[[], None] | None,
    ) -> PreparedLookup:
        region = actor.country or self._policy.node_country
        # Work is done once per distinct value: each distinct (value, type) is normalised once, each distinct
        # canonical value answered once, and inputs that repeat one get the same (immutable) result object.
        given = list(zip(values, types, strict=True)) if types else [(raw, None) for raw in values]
        repeats = Counter(given)
        distinct = list(repeats)
        parsed = dict(zip(distinct, self._normaliser.canonical_all(distinct, region), strict=True))
        listed: dict[Key, tuple[str, ...]] = {}  # each distinct canonical value, with the warninglists it is on
        for item in parsed.values():
            if isinstance(item, Canonical):
                key = (str(item.kind), item.value)
                if key not in listed:
                    listed[key] = tuple(wl.name for wl in self._warninglists.matching(*key))
        audience = self._intel.audience(actor)
        # One consistent view across the chunks: a value posted half-way through a long call is either in the
        # answer for every input that names it or for none.
        with nullcontext(snapshot) if snapshot is not None else self._db.snapshot() as session:
            entries = index_entries(session, listed)  # read once for both: the values' rows in the index
            correlations = correlate_entries(session, entries, audience)
            feedback = tally_entries(session, entries)
        now = self._clock.now()
        parties = self._identity.parties_by_id(
            {h.party_id for c in correlations.values() for h in c.holdings}, as_of=actor.epoch
        )
        answers = _Answers(Viewer(audience, parties), self._policy.half_lives, now)
        built: dict[tuple[str, str | None], LookupResult] = {}
        valid = with_hits = with_restricted = 0
        for pair, item in parsed.items():
            if isinstance(item, InvalidIdentifier):
                kind = None if item.kind == UNKNOWN else item.kind
                result = LookupResult(pair[0], kind, None, item.reason, NO_HITS, (), False)
            else:
                key = (str(item.kind), item.value)
                hits, warninglists, cross_border, value_score = answers.of(
                    key, listed[key], correlations.get(key), feedback.get(key)
                )
                result = LookupResult(pair[0], key[0], item.value, None, hits, warninglists, cross_border, value_score)
                valid += repeats[pair]
            if result.hits.found:
                with_hits += repeats[pair]
            if result.hits.restricted is not None:
                with_restricted += repeats[pair]
            built[pair] = result
        results = [built[pair] for pair in given]
        # Recorded before the answer leaves the service (PreparedLookup.recorded): if the entry cannot be
        # written, nothing is disclosed.
        entry = self._audit.record_later(
            actor.audit_ref(),
            "matching.lookup",
            on_committed=on_recorded,
            object_type="lookup",
            disclosure=disclosure,
            details={
                "values": len(values),
                "valid": valid,
                "with_hits": with_hits,
                "with_restricted_hits": with_restricted,
                **({"token": actor.token_id} if actor.token_id else {}),  # the API route records no token.use
            },
        )
        return PreparedLookup(results, entry)

    def record_feedback(
        self,
        actor: Actor,
        value: str,
        kind: str | None,
        outcome: str,
        observed_at: datetime | None,
        note: str | None,
        disclosure: Disclosure,
    ) -> FeedbackRecord:
        """Record that ``actor``'s party saw ``value`` or what came of it (``feedback.Outcome``), at
        ``observed_at`` (now when None). The value is normalised as ``kind`` says, or detected, in the caller's
        country; a value nobody reported yet gets its row in the observable index. One transaction with the
        ``matching.feedback`` audit entry (outcome and observable id, never the value). Raises PermissionDenied
        (no SUBMIT_INTEL), InvalidInput naming value, type, outcome, observed_at, note or party.
        """
        self._identity.authorize(actor, Permission.SUBMIT_INTEL)
        if actor.party_id is None:
            raise InvalidInput("party", "feedback is given by a party; sign in as one of its users")
        check_kind("type", kind)
        if len(value) > MAX_VALUE_LENGTH:
            raise InvalidInput("value", f"longer than {MAX_VALUE_LENGTH} characters")
        chosen = parse_outcome(outcome)
        now = self._clock.now()
        when = check_observed_at(observed_at, now) if observed_at is not None else now
        text = check_note(note)
        item = canonical(value, kind, actor.country or self._policy.node_country)
        if isinstance(item, InvalidIdentifier):
            raise InvalidInput("value", item.reason)
        with self._db.writing() as session:
            [(observable_id, *_key)] = upsert_returning_ids(
                session, Observable, [{"kind": str(item.kind), "value": item.value}], ["kind", "value"]
            )
            row = ObservableFeedback(
                observable_id=observable_id,
                party_id=actor.party_id,
                username=actor.username,
                outcome=chosen.value,
                observed_at=when,
                note=text,
                created_at=now,
            )
            session.add(row)
            session.flush()
            self._audit.append(
                session,
                actor.audit_ref(),
                "matching.feedback",
                object_type="observable-feedback",
                object_id=str(row.id),
                disclosure=disclosure,
                details={"outcome": chosen.value, "observable_id": observable_id},
            )
            feedback_id = row.id
        return FeedbackRecord(feedback_id, str(item.kind), item.value, chosen.value, when, now)
