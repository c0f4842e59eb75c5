"""The federation loop that ``accord serve`` runs: it syncs due peers on its own, in a node of its own."""

from __future__ import annotations

import threading
import time

from accord.federation.worker import start_federation_loop
from accord.identity.actor import Actor
from tests.conftest import count_rows
from tests.federation.conftest import TwoCountries
from tests.intel.conftest import TLP_GREEN, indicator


def test_loop_pulls_from_due_peers(two_countries: TwoCountries, operator: Actor) -> None:
    vn, ph = two_countries.vn, two_countries.ph
    reports = [indicator(n, f"[phone-number:value = '+8491200{n:04d}']", markings=[TLP_GREEN]) for n in range(5)]
    vn.node.intel.import_objects(operator, reports, owner=vn.party.id, source="test")
    stop = threading.Event()
    thread = start_federation_loop(ph.node.settings, stop, tick=0.1)
    try:
        deadline = time.monotonic() + 30
        while count_rows(vn.node, "custody_cosignatures") < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert count_rows(ph.node, "intel_objects") == 5
    assert count_rows(ph.node, "intel_received", "peer_node_id = :n", n=vn.node_id) == 5
    # PH witnessed VN's custody head after syncing with it: VN holds PH's cosignature.
    assert count_rows(vn.node, "custody_cosignatures") == 1
