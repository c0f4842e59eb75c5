"""A transparent score for one value: how strongly the reports and the feedback about it point to fraud.

Pure functions, no database: ``score`` takes the figures (``Evidence``) and returns 0-100 with every part
explained in words that say exactly how its points were computed, so an analyst can check the sum by hand and
disagree with a part rather than with a number. The weights are policy, not fact: they say how much this node
trusts each kind of evidence, and are named here so a change is one reviewed line.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from accord.errors import InvalidInput
from accord.intel.normalise import IdentifierKind

# --- Policy, not fact: how much each piece of evidence weighs (points out of 100). ---
POINTS_PER_REPORT = 5
REPORTS_CAP = 20
POINTS_PER_PARTY = 15  # independent parties saying the same thing count more than one party saying it twice
PARTIES_CAP = 30
POINTS_PER_EXTRA_COUNTRY = 10  # each country beyond the first: a cross-border pattern
COUNTRIES_CAP = 20
RECENCY_POINTS = 30  # for activity today; halves with every half-life of the identifier's kind
# Feedback: outcomes raise the score, a false positive lowers it. Each outcome counts at most FEEDBACK_REPEATS
# times, so one party repeating itself cannot carry a value to 100.
FEEDBACK_WEIGHTS: Mapping[str, int] = {
    "confirmed_by_police": 25,
    "victim_payment": 20,
    "blocked": 10,
    "taken_down": 10,
    "seen": 5,
    "false_positive": -30,
}
FEEDBACK_REPEATS = 2
MIN_SCORE, MAX_SCORE = 0.0, 100.0

# --- Half-lives: how fast a report goes stale, per identifier kind (the matching_half_life_days setting). ---
DEFAULT_KIND = "default"
DEFAULT_HALF_LIFE_DAYS = 90.0
MAX_HALF_LIFE_DAYS = 36_500.0  # a century: anything longer means "never decays", which 0 recency points cannot say
HALF_LIFE_SETTING = "matching_half_life_days"
HALF_LIFE_KINDS = frozenset({*(str(kind) for kind in IdentifierKind), DEFAULT_KIND})


@dataclass(frozen=True)
class Part:
    name: str
    points: float
    explanation: str


@dataclass(frozen=True)
class Score:
    value: float  # 0-100, the sum of the parts' points
    parts: list[Part] = field(default_factory=list)

    def document(self) -> dict[str, object]:
        return {
            "value": self.value,
            "parts": [{"name": p.name, "points": p.points, "explanation": p.explanation} for p in self.parts],
        }


@dataclass(frozen=True)
class OutcomeTally:
    """How often one outcome was reported about a value, and when it was last observed."""

    count: int
    latest: datetime


@dataclass(frozen=True)
class Evidence:
    kind: str
    reports: int
    parties: int
    countries: tuple[str, ...]
    last_seen: datetime | None  # the newest report the score may date (None: none)
    feedback: Mapping[str, OutcomeTally]
    now: datetime


def parse_half_lives(text: str) -> dict[str, float]:
    """``"phone-number=90,url=30,default=90"`` as days per kind (``default`` for the others, 90 when not given).
    Raises InvalidInput naming the setting, with the item at fault."""
    half_lives = {DEFAULT_KIND: DEFAULT_HALF_LIFE_DAYS}
    seen: set[str] = set()
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        kind, sep, days_text = (piece.strip() for piece in item.partition("="))
        if not sep:
            raise InvalidInput(HALF_LIFE_SETTING, f"{item[:40]!r}: write kind=days")
        if kind not in HALF_LIFE_KINDS:
            raise InvalidInput(HALF_LIFE_SETTING, f"{kind[:40]!r} is not one of {', '.join(sorted(HALF_LIFE_KINDS))}")
        if kind in seen:
            raise InvalidInput(HALF_LIFE_SETTING, f"{kind} is given twice")
        try:
            days = float(days_text)
        except ValueError:
            raise InvalidInput(HALF_LIFE_SETTING, f"{kind}: {days_text[:40]!r} is not a number of days") from None
        if not (0 < days <= MAX_HALF_LIFE_DAYS):  # also refuses nan and inf
            raise InvalidInput(HALF_LIFE_SETTING, f"{kind}: days must be above 0 and at most {MAX_HALF_LIFE_DAYS:g}")
        seen.add(kind)
        half_lives[kind] = days
    return half_lives


def _n(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def _capped(count: int, each: int, cap: int) -> tuple[float, str]:
    raw = count * each
    return float(min(raw, cap)), f"{count} x {each} = {raw} points" + (f", capped at {cap}" if raw > cap else "")


def score(evidence: Evidence, half_lives: Mapping[str, float]) -> Score:
    """The score of one value and how each part of it was computed (see the module's docstring)."""
    parts: list[Part] = [
        _reports_part(evidence.reports),
        _parties_part(evidence.parties),
        _countries_part(evidence.countries),
        _recency(evidence, half_lives),
    ]
    for outcome, weight in FEEDBACK_WEIGHTS.items():
        tally = evidence.feedback.get(outcome)
        if tally is None:
            continue
        counted = min(tally.count, FEEDBACK_REPEATS)
        label = outcome.replace("_", " ")
        parts.append(
            Part(
                f"feedback:{outcome}",
                float(counted * weight),
                f"{tally.count} x {label} (latest {tally.latest.date().isoformat()}), counted at most "
                f"{FEEDBACK_REPEATS} times: {counted} x {weight:+d} = {counted * weight:+d} points",
            )
        )
    total = sum(part.points for part in parts)
    clamped = min(max(total, MIN_SCORE), MAX_SCORE)
    if clamped != total:
        parts.append(Part("bounds", clamped - total, f"the parts sum to {_n(total)}; a score is kept within 0-100"))
    return Score(round(clamped, 1), parts)


# The parts that depend on one figure each are the same for every value with that figure (parts are immutable):
# a bulk lookup scores thousands of values with one report, one party and one country.
@lru_cache(maxsize=1024)
def _reports_part(reports: int) -> Part:
    points, how = _capped(reports, POINTS_PER_REPORT, REPORTS_CAP)
    return Part("reports", points, f"{reports} reports: {how}")


@lru_cache(maxsize=1024)
def _parties_part(parties: int) -> Part:
    points, how = _capped(parties, POINTS_PER_PARTY, PARTIES_CAP)
    return Part("parties", points, f"{parties} distinct reporting parties: {how}")


@lru_cache(maxsize=1024)
def _countries_part(countries: tuple[str, ...]) -> Part:
    extra = max(len(countries) - 1, 0)
    points, how = _capped(extra, POINTS_PER_EXTRA_COUNTRY, COUNTRIES_CAP)
    names = ", ".join(countries) or "none"
    return Part("countries", points, f"{len(countries)} countries ({names}), {extra} beyond the first: {how}")


def _recency(evidence: Evidence, half_lives: Mapping[str, float]) -> Part:
    half_life = half_lives.get(evidence.kind, half_lives.get(DEFAULT_KIND, DEFAULT_HALF_LIFE_DAYS))
    if evidence.last_seen is None:
        return _NO_RECENCY
    return _recency_part(evidence.kind, half_life, (evidence.now - evidence.last_seen).total_seconds())


_NO_RECENCY = Part("recency", 0.0, "no dated report to measure recency from: 0 points")


@lru_cache(maxsize=4096)  # values reported in one batch share their date, so their age in one lookup
def _recency_part(kind: str, half_life: float, age_seconds: float) -> Part:
    age_days = max(age_seconds / 86_400, 0.0)
    factor = math.pow(0.5, age_days / half_life)
    points = round(RECENCY_POINTS * factor, 1)
    return Part(
        "recency",
        points,
        f"last reported {_n(round(age_days, 1))} days ago, half-life {_n(half_life)} days for {kind}: "
        f"{RECENCY_POINTS} x 0.5^({_n(round(age_days, 1))}/{_n(half_life)}) = {_n(points)} points",
    )
