"""Benchmark: the "noisy value" (issue 4) — one phone number reported 100,000 times, on top of a node holding
1,000,000 indexed indicators. MISP's correlation table grows with the square of such a value's reports; Accord's
index holds one row for the value and one posting per report, so ingest, lookup and storage must stay where they
are for ordinary values.

1. The node: ``--reuse HOME`` (a home built by ``bench/lookup_http.py --keep HOME`` or ``bench/lookup.py
   --keep HOME``: 1,000,000 synthetic indicators, half TLP:AMBER, half TLP:RED). Its size per indicator before.
2. Ingest: ``--reports N`` (default 100,000) new indicators, each naming the same phone number (written five ways
   by the reporters: "+84 90 000 0000", "0900000000", ...) beside a host of its own, reported by 10 parties
   (TLP:AMBER, one import each), through ``IntelService.import_objects`` with the checker processes a bulk import
   uses (kept by the node from one import to the next, as ``accord intel import`` keeps them across files).
   Before it, in the same run, a control: N indicators of the same shape and parties with a number each. Printed:
   both rates (goal as for any ingest: >= 5,000/s), their ratio, and the growth of the database per noisy
   indicator against the size per indicator before (storage linear: the same order).
3. Lookup, as an analyst of another law-enforcement party: the noisy value alone (50 calls: p50 / p95), and
   the bulk lookup benchmark's 10,000 values with the noisy value among them (``--runs``, default 20: p95,
   goal <= 300 ms as without it), beside the same 10,000 with their own last value instead, in the same run.

    .venv/bin/python bench/noisy_value.py --reuse HOME [--reports N] [--runs R]
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import os
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accord.audit.service import Disclosure
from accord.config import load_settings
from accord.identity.actor import operator_actor
from accord.intel.normalise.dispatch import _normalise_cached
from accord.intel.pipeline import worker_count
from accord.intel.vocabulary import Tlp
from accord.node import Node, open_node
from intel_import import database_bytes
from lookup import count_phones, percentile, progress, query_set, reader_of
from scratch import start_helpers

NOISY_FORMS = ("+84 90 000 0000", "0900000000", "+84900000000", "0084 900 000 000", "090 000 0000")
NOISY_CANONICAL = "+84900000000"
PARTIES = 10
NAMESPACE = uuid.UUID("5d4c1f3e-9a2b-4c6d-8e7f-0a1b2c3d4e5f")
GOAL_INGEST, GOAL_P95_MS = 5_000.0, 300.0
PURPOSE = Disclosure(purpose="benchmark: the noisy value")
FIRST_HOST = int(ipaddress.IPv4Address("12.0.0.0"))
CONTROL_HOST = int(ipaddress.IPv4Address("13.0.0.0"))


def noisy_indicators(start: int, stop: int, *, noisy: bool = True) -> Iterator[dict[str, Any]]:
    """Reports ``start``..``stop``: each names the noisy number (or, for the control, a number of its own) beside
    an address of its own."""
    label = "noisy" if noisy else "control"
    first_host = FIRST_HOST if noisy else CONTROL_HOST
    for n in range(start, stop):
        stamp = datetime.fromtimestamp(1_790_000_000 + n, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        phone = NOISY_FORMS[n % len(NOISY_FORMS)] if noisy else f"+8493{n:07d}"
        host = ipaddress.IPv4Address(first_host + n)
        yield {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--{uuid.uuid5(NAMESPACE, f'{label}/{n}')}",
            "created": stamp,
            "modified": stamp,
            "name": f"Fake bank helpline report {n}",
            "indicator_types": ["malicious-activity"],
            "pattern": f"[phone-number:value = '{phone}'] OR [ipv4-addr:value = '{host}']",
            "pattern_type": "stix",
            "valid_from": stamp,
        }


def ingest(node: Node, reports: int, *, noisy: bool = True) -> tuple[float, int]:
    operator = operator_actor("bench")
    suffix = f"{'noisy' if noisy else 'control'} {os.getpid()}-{int(time.time())}"
    parties = [node.identity.add_party(operator, f"Reporter {i} {suffix}", "bank", "VN").id for i in range(PARTIES)]
    workers = worker_count(node.settings.intel_import_workers, reports * 400)
    per_party = reports // PARTIES
    seconds = 0.0
    for index, party in enumerate(parties):
        start = index * per_party
        stop = reports if index == PARTIES - 1 else start + per_party
        begin = time.perf_counter()
        report = node.intel.import_objects(
            operator,
            noisy_indicators(start, stop, noisy=noisy),
            tlp=Tlp.AMBER,
            owner=party,
            source="noisy" if noisy else "control",
            workers=workers,
        )
        seconds += time.perf_counter() - begin
        if report.failures or report.total != stop - start:
            raise RuntimeError(f"noisy import {start}..{stop}: {report.total} taken, {report.failures[:3]}")
    return seconds, workers


def timed_lookups(
    node: Node, reader: Any, values: Sequence[str], types: Sequence[str | None], runs: int, *, noisy: bool = True
) -> list[float]:
    node.matching.lookup(reader, values, types, PURPOSE)  # warm-up
    times = []
    for _ in range(runs):
        _normalise_cached.cache_clear()
        gc.collect()
        begin = time.perf_counter()
        results = node.matching.lookup(reader, values, types, PURPOSE)
        times.append((time.perf_counter() - begin) * 1000)
    if noisy and not any(r.canonical == NOISY_CANONICAL and r.hits.found for r in results):
        raise RuntimeError("the noisy value was not found")
    return times


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reuse", type=Path, required=True, help="node home with the million (see above)")
    parser.add_argument("--reports", type=int, default=100_000, help="reports of the noisy value")
    parser.add_argument("--runs", type=int, default=20, help="timed bulk lookups of 10,000 values")
    args = parser.parse_args(argv)
    if not (args.reuse / "accord.db").is_file():
        parser.error(f"--reuse {args.reuse}: no accord.db there")
    url = f"sqlite:///{args.reuse / 'accord.db'}"
    node = open_node(load_settings(env={}, overrides={"home": args.reuse, "database_url": url}))
    print("Accord noisy-value benchmark")
    print(f"  date (UTC)  {datetime.now(UTC):%Y-%m-%d %H:%M:%S}; load average before {os.getloadavg()[0]:.2f}")
    try:
        indexed = count_phones(node)
        before = database_bytes(node, checkpoint=True)
        print(
            f"  node        {args.reuse}: {indexed:,} phone numbers indexed, "
            f"{before / indexed:,.0f} bytes per indicator"
        )
        progress(f"importing {args.reports:,} control reports, each with a number of its own")
        control_seconds, _workers = ingest(node, args.reports, noisy=False)
        control = args.reports / control_seconds
        noisy_before = database_bytes(node, checkpoint=True)
        progress(f"importing {args.reports:,} reports of {NOISY_CANONICAL}")
        seconds, workers = ingest(node, args.reports)
        after = database_bytes(node, checkpoint=True)
        rate = args.reports / seconds
        growth = (after - noisy_before) / args.reports
        print(
            f"  ingest      {args.reports:,} reports of the noisy value in {seconds:.1f} s = {rate:,.0f}/s "
            f"({workers} checker processes); the same shape with a number each (control, run first): "
            f"{control:,.0f}/s; noisy / control = {rate / control:.2f}"
        )
        print(f"  storage     +{growth:,.0f} bytes per noisy report (ordinary indicators: {before / indexed:,.0f})")
        node.db.tune_for_serving()  # the lookups read as accord serve and accord lookup do
        start_helpers(node)
        reader = reader_of(node, f"noisy-{os.getpid()}")
        alone = timed_lookups(node, reader, [NOISY_FORMS[0]], ["phone-number"], 50)
        print(
            f"  lookup      the noisy value alone: p50 {percentile(alone, 50):.1f} ms, "
            f"p95 {percentile(alone, 95):.1f} ms"
        )
        queries = query_set(min(indexed, 1_000_000), 10_000)
        values = [q.raw for q in queries[:-1]] + [NOISY_FORMS[1]]
        types: list[str | None] = [q.kind for q in queries[:-1]] + ["phone-number"]
        plain = timed_lookups(node, reader, [q.raw for q in queries], [q.kind for q in queries], args.runs, noisy=False)
        bulk = timed_lookups(node, reader, values, types, args.runs)
        p95 = percentile(bulk, 95)
        print(
            f"  lookup      10,000 values with the noisy one: p50 {percentile(bulk, 50):.1f} ms, p95 {p95:.1f} ms; "
            f"the same 10,000 without it (run first): p50 {percentile(plain, 50):.1f} ms, "
            f"p95 {percentile(plain, 95):.1f} ms"
        )
    finally:
        node.close()
    ok_ingest, ok_lookup = rate >= GOAL_INGEST, p95 <= GOAL_P95_MS
    print(
        f"goal ingest >= {GOAL_INGEST:,.0f}/s with the noisy value: {'MET' if ok_ingest else 'NOT MET'} ({rate:,.0f}/s)"
    )
    print(
        f"goal 10,000-value lookup p95 <= {GOAL_P95_MS:.0f} ms with it: "
        f"{'MET' if ok_lookup else 'NOT MET'} ({p95:.0f} ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
