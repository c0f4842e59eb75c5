"""Large lookups normalise on more than one core: the answers are the inline ones, whatever the workers do."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor

import pytest

from accord.intel.normalise import Canonical, InvalidIdentifier
from accord.matching import normalising
from accord.matching.normalising import PARALLEL_FROM, NormalisingPool, canonical
from accord.node import Node
from tests.matching.conftest import NUMBER, WHY, Scam

READY_SECONDS = 120  # a spawned worker imports Accord's normalisers: seconds on a busy test machine


def mixed_pairs(count: int) -> list[tuple[str, str | None]]:
    """Distinct values of several kinds, given and detected, with invalid ones among them."""
    pairs: list[tuple[str, str | None]] = []
    for n in range(count):
        match n % 6:
            case 0:
                pairs.append((f"091 {n % 1000:03d} {n:04d}"[:16], "phone-number"))  # national, read in VN
            case 1:
                pairs.append((f"+84 91 {n:07d}", None))  # detected
            case 2:
                pairs.append((f"10.{n % 250}.{n // 250 % 250}.{n % 7}", "ipv4-addr"))
            case 3:
                pairs.append((f"GB82 WEST 1234 5698 7654 {n:02d}", "bank-account"))  # mostly bad check digits
            case 4:
                pairs.append((f"not an identifier {n}", None))
            case _:
                pairs.append((f"scam-{n}.example.com", "domain-name"))
    return pairs


def outcome(item: Canonical | InvalidIdentifier) -> tuple[str, str | None, str | None, str]:
    if isinstance(item, InvalidIdentifier):
        return (item.kind, None, item.reason, item.raw)
    return (str(item.kind), item.value, None, item.raw)


@pytest.fixture
def pool() -> Iterator[NormalisingPool]:
    started = NormalisingPool(workers=1)
    yield started
    started.close()


def test_workers_take_a_share_and_answer_as_inline(pool: NormalisingPool, monkeypatch: pytest.MonkeyPatch) -> None:
    pool.start()
    assert pool.ready(READY_SECONDS)
    pairs = mixed_pairs(PARALLEL_FROM + 401)
    expected = [outcome(canonical(raw, kind, "VN")) for raw, kind in pairs]
    here: list[str] = []

    def counted(raw: str, kind: str | None, region: str | None) -> Canonical | InvalidIdentifier:
        here.append(raw)
        return canonical(raw, kind, region)

    monkeypatch.setattr(normalising, "canonical", counted)  # this process only: the worker has its own module
    got = pool.canonical_all(pairs, "VN")
    assert [outcome(item) for item in got] == expected
    assert len(here) == -(-len(pairs) // 2)  # the first half here, the rest in the worker
    assert {kind for kind, value, _, _ in expected if value is None} >= {"unknown", "bank-account"}


def test_a_small_lookup_starts_no_worker(pool: NormalisingPool) -> None:
    pairs = mixed_pairs(PARALLEL_FROM - 1)
    assert [outcome(i) for i in pool.canonical_all(pairs, "VN")] == [outcome(canonical(r, k, "VN")) for r, k in pairs]
    assert not pool.ready(0.01)


def test_the_first_large_lookup_does_not_wait_for_the_workers(
    pool: NormalisingPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    here: list[str] = []
    inline = normalising.canonical
    monkeypatch.setattr(
        normalising, "canonical", lambda raw, kind, region: here.append(raw) or inline(raw, kind, region)
    )
    pairs = mixed_pairs(PARALLEL_FROM)
    pool.canonical_all(pairs, "VN")
    assert len(here) == len(pairs)  # all inline: the worker was only being started
    assert pool.ready(READY_SECONDS)  # and it was started


def test_a_dead_worker_costs_time_not_answers(pool: NormalisingPool) -> None:
    pool.start()
    assert pool.ready(READY_SECONDS)
    executor = pool._pool
    assert executor is not None
    for process in list(executor._processes.values()):
        process.kill()
        process.join()
    pairs = mixed_pairs(PARALLEL_FROM + 10)
    got = pool.canonical_all(pairs, None)
    assert [outcome(item) for item in got] == [outcome(canonical(raw, kind, None)) for raw, kind in pairs]
    assert pool._pool is None  # dropped; the next large lookup starts a new one
    pool.canonical_all(pairs, None)
    assert pool.ready(READY_SECONDS)


def test_no_workers_configured_means_none_started() -> None:
    pool = NormalisingPool(workers=0)
    pool.start()
    pairs = mixed_pairs(PARALLEL_FROM)
    assert len(pool.canonical_all(pairs, "VN")) == len(pairs)
    assert not pool.ready(0.01)
    pool.close()


def test_worker_count_setting() -> None:
    assert normalising.worker_count(0) == 0
    assert normalising.worker_count(5) == 5
    assert 0 <= normalising.worker_count(-1) <= normalising.AUTO_WORKERS_MAX


def test_a_large_lookup_through_the_service_with_workers(node: Node, scam: Scam) -> None:
    assert node.matching.start_workers(wait_seconds=READY_SECONDS)
    values = [f"+84 91 {n:07d}" for n in range(PARALLEL_FROM)] + [NUMBER, "not a value ###"]
    results = node.matching.lookup(scam.analyst, values, None, WHY)
    assert [r.input for r in results] == values
    assert results[-2].canonical == NUMBER and results[-2].hits.found
    assert results[-1].error and results[-1].canonical is None
    assert results[0].canonical == "+84910000000" and results[0].type == "phone-number"


def test_a_failed_warm_up_means_inline_then_a_new_start(pool: NormalisingPool) -> None:
    failed: Future[None] = Future()
    failed.set_exception(RuntimeError("the worker could not import"))
    with pool._lock:
        pool._pool, pool._warm = ProcessPoolExecutor(1), failed  # as if started, and its warm-up failed
    pairs = mixed_pairs(PARALLEL_FROM)
    assert [outcome(i) for i in pool.canonical_all(pairs, "VN")] == [outcome(canonical(r, k, "VN")) for r, k in pairs]
    assert pool._pool is None  # dropped: the next large lookup starts a new one
    pool.canonical_all(pairs, "VN")
    assert pool.ready(READY_SECONDS)
