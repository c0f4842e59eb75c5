"""The federation loop inside ``accord serve``, in a node of its own beside the web server, until told to stop:
deliver the signed envelopes that are due (cooperation requests and their changes, outbox.py), then sync
intelligence with every peer that is due, and witness the custody log head of each peer just synced (fetch it,
check it extends the one seen before, countersign it: every exchange leaves the peer's head witnessed). A failing
peer is recorded and backed off; it never stops the loop or the other peers."""

from __future__ import annotations

import logging
import threading

from accord.config import Settings
from accord.federation.evidence_transfer import transfers_of
from accord.identity.actor import operator_actor
from accord.node import Node, open_node

log = logging.getLogger(__name__)
WITNESS = operator_actor("federation-witness")
TICK_SECONDS = 5.0  # how often due peers are looked for; each peer's own interval is federation_sync_seconds


def _witness(node: Node, peer: str) -> None:
    try:
        transfers_of(node).witness(WITNESS, peer)
    except Exception:  # an inconsistent head is audited by witness(); here it is logged and the loop goes on
        log.exception("witnessing the custody head of %s failed", peer)


def start_federation_loop(settings: Settings, stop: threading.Event, tick: float = TICK_SECONDS) -> threading.Thread:
    def run() -> None:
        node = open_node(settings)
        try:
            while not stop.wait(tick):
                try:
                    delivered = node.envelopes.deliver_due()
                    if delivered.delivered or delivered.retrying or delivered.refused:
                        log.info("envelopes: %s", delivered)
                except Exception:  # logged with its traceback; intelligence sync still runs
                    log.exception("envelope delivery failed")
                try:
                    for report in node.intel_sync.run_due():
                        if report.stored or report.pushed:
                            log.info("sync with %s: %s", report.peer, report.document())
                        _witness(node, report.peer)
                except Exception:  # a failing round must not stop the next one; logged with its traceback
                    log.exception("federation loop failed")
        finally:
            node.close()

    thread = threading.Thread(target=run, name="federation", daemon=True)
    thread.start()
    return thread
