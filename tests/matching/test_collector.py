"""The cyclic collector is paused for a bulk lookup and resumed after it, however lookups overlap or end."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from accord.matching import normalising
from accord.matching.collector import collector_paused
from accord.node import Node
from tests.conftest import World
from tests.matching.conftest import NUMBER, WHY, Scam


@pytest.fixture(autouse=True)
def _collector_enabled() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_paused_inside_resumed_after_even_on_error() -> None:
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_overlapping_pauses_resume_when_the_last_ends() -> None:
    first_in, first_may_end = threading.Event(), threading.Event()

    def first() -> None:
        with collector_paused():
            first_in.set()
            first_may_end.wait(5)

    thread = threading.Thread(target=first)
    thread.start()
    assert first_in.wait(5)
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()  # the first is still running
    first_may_end.set()
    thread.join(5)
    assert gc.isenabled()


def test_a_collector_the_application_disabled_stays_disabled() -> None:
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_a_lookup_leaves_the_collector_as_it_found_it(
    node: Node, world: World, scam: Scam, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    canonical = normalising.canonical

    def spy(raw: str, kind: str | None, region: str | None) -> object:
        seen.append(gc.isenabled())
        return canonical(raw, kind, region)

    monkeypatch.setattr(normalising, "canonical", spy)
    results = node.matching.lookup(scam.analyst, [NUMBER, "nothing at all ###"], None, WHY)
    assert seen == [False, False] and gc.isenabled()
    assert results[0].hits.found and results[1].error
