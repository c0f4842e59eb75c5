"""Scores: every part explained, recency decays per identifier kind, feedback moves the score, 0-100 always."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accord.config import InvalidSetting, load_settings
from accord.errors import InvalidInput
from accord.matching.scoring import (
    DEFAULT_HALF_LIFE_DAYS,
    FEEDBACK_WEIGHTS,
    HALF_LIFE_SETTING,
    RECENCY_POINTS,
    Evidence,
    OutcomeTally,
    parse_half_lives,
    score,
)
from accord.node import load_half_lives
from tests.conftest import START

HALF_LIVES = parse_half_lives(load_settings(env={}, overrides={}).matching_half_life_days)


def _evidence(reports: int = 3, parties: int = 2, age_days: float = 0, **feedback: OutcomeTally) -> Evidence:
    return Evidence(
        kind="phone-number",
        reports=reports,
        parties=parties,
        countries=("PH", "VN"),
        last_seen=START - timedelta(days=age_days),
        feedback=feedback,
        now=START,
    )


def test_each_part_says_how_it_was_computed() -> None:
    result = score(_evidence(), HALF_LIVES)
    parts = {part.name: part for part in result.parts}
    assert [p.name for p in result.parts] == ["reports", "parties", "countries", "recency"]
    assert parts["reports"].points == 15 and parts["reports"].explanation == "3 reports: 3 x 5 = 15 points"
    assert parts["parties"].explanation == "2 distinct reporting parties: 2 x 15 = 30 points"
    assert parts["countries"].explanation == "2 countries (PH, VN), 1 beyond the first: 1 x 10 = 10 points"
    assert "half-life 90 days for phone-number" in parts["recency"].explanation
    assert result.value == sum(p.points for p in result.parts) == 15 + 30 + 10 + RECENCY_POINTS


def test_caps_are_stated() -> None:
    (reports, *_rest) = score(_evidence(reports=9), HALF_LIVES).parts
    assert (reports.points, reports.explanation) == (20, "9 reports: 9 x 5 = 45 points, capped at 20")


@pytest.mark.parametrize(("kind", "half_life"), [("phone-number", 90), ("url", 30), ("ipv4-addr", 14)])
def test_recency_halves_after_one_half_life_of_the_kind(kind: str, half_life: float) -> None:
    fresh = score(Evidence(kind, 1, 1, ("VN",), START, {}, START), HALF_LIVES)
    old = score(Evidence(kind, 1, 1, ("VN",), START - timedelta(days=half_life), {}, START), HALF_LIVES)
    assert fresh.parts[3].points == RECENCY_POINTS and old.parts[3].points == RECENCY_POINTS / 2


def test_a_kind_not_named_decays_with_the_default() -> None:
    half_lives = parse_half_lives("url=30")
    old = score(Evidence("file:md5", 1, 1, ("VN",), START - timedelta(days=90), {}, START), half_lives)
    assert old.parts[3].points == RECENCY_POINTS / 2 and half_lives["default"] == DEFAULT_HALF_LIFE_DAYS


def test_false_positive_lowers_and_police_confirmation_raises() -> None:
    base = score(_evidence(), HALF_LIVES).value
    wrong = score(_evidence(false_positive=OutcomeTally(1, START)), HALF_LIVES)
    confirmed = score(_evidence(confirmed_by_police=OutcomeTally(3, START)), HALF_LIVES)
    assert wrong.value == base + FEEDBACK_WEIGHTS["false_positive"]
    assert confirmed.value == 100  # 85 + 2 x 25, kept within bounds
    assert confirmed.parts[-1].name == "bounds" and sum(p.points for p in confirmed.parts) == 100
    assert "3 x confirmed by police" in confirmed.parts[-2].explanation
    assert "counted at most 2 times: 2 x +25 = +50 points" in confirmed.parts[-2].explanation


outcomes = st.dictionaries(
    st.sampled_from(sorted(FEEDBACK_WEIGHTS)),
    st.builds(OutcomeTally, st.integers(1, 1000), st.just(START)),
)


@given(
    reports=st.integers(0, 10_000),
    more=st.integers(1, 100),
    parties=st.integers(0, 60),
    age=st.floats(0, 10_000),
    feedback=outcomes,
)
def test_score_stays_within_bounds_and_grows_with_reports(
    reports: int, more: int, parties: int, age: float, feedback: dict[str, OutcomeTally]
) -> None:
    fewer = score(_evidence(reports, parties, age, **feedback), HALF_LIVES)
    further = score(_evidence(reports + more, parties, age, **feedback), HALF_LIVES)
    assert 0 <= fewer.value <= 100 and 0 <= further.value <= 100
    assert further.value >= fewer.value


@pytest.mark.parametrize(
    "text",
    ["phone-number", "phone=90", "url=30,url=40", "url=soon", "url=0", "url=-1", "url=nan", "url=inf", "url=40000"],
)
def test_bad_half_lives_are_refused_naming_the_setting(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_half_lives(text)
    assert caught.value.field == HALF_LIFE_SETTING


def test_a_bad_half_life_setting_names_its_source(tmp_path) -> None:
    settings = load_settings(env={"ACCORD_MATCHING_HALF_LIFE_DAYS": "url=0"}, cwd=tmp_path)
    with pytest.raises(InvalidSetting) as caught:
        load_half_lives(settings)
    assert (caught.value.name, caught.value.source) == (
        "matching_half_life_days",
        "environment ACCORD_MATCHING_HALF_LIFE_DAYS",
    )


def test_empty_setting_means_the_default_for_every_kind() -> None:
    assert parse_half_lives("") == {"default": DEFAULT_HALF_LIFE_DAYS}
