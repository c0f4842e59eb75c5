"""Intelligence sync between two real nodes over loopback TAXII 2.1 (taxii2-client, signed calls): what crosses
is what the policy allows, positions resume exactly, duplicates are no-ops, provenance is kept, and a peer that is
down or failing is retried with backoff."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from taxii2client.v21 import Server

from accord.clock import FrozenClock
from accord.federation.sync import NodeSignatureAuth, backoff
from accord.identity.actor import Actor
from accord.intel.collections import collection_id
from accord.intel.vocabulary import Tlp
from tests.conftest import count_rows
from tests.federation.conftest import TwoCountries
from tests.federation.cooperation_peers import FaultProxy, closed_port_url, set_peer_url
from tests.intel.conftest import TLP_AMBER, TLP_AMBER_STRICT, TLP_CLEAR, TLP_GREEN, TLP_RED, indicator


def scam_reports(first: int, count: int, marking: str = TLP_GREEN) -> list[dict[str, object]]:
    return [
        indicator(first + i, f"[phone-number:value = '+8491{first + i:07d}']", markings=[marking]) for i in range(count)
    ]


def stored_ids(country: object) -> set[str]:
    node = country.node  # type: ignore[attr-defined]
    with node.db.reading() as session:
        from sqlalchemy import select

        from accord.intel.models import IntelObject

        return set(session.scalars(select(IntelObject.stix_id)))


def test_pull_shares_by_policy_and_resumes(two_countries: TwoCountries, operator: Actor) -> None:
    vn, ph = two_countries.vn, two_countries.ph
    marked = {
        "clear": indicator(1, "[ipv4-addr:value = '203.0.113.1']", markings=[TLP_CLEAR]),
        "green": indicator(2, "[phone-number:value = '+84912000002']", markings=[TLP_GREEN]),
        "amber": indicator(3, "[phone-number:value = '+84912000003']", markings=[TLP_AMBER]),
        "amber+strict": indicator(4, "[phone-number:value = '+84912000004']", markings=[TLP_AMBER_STRICT]),
        "red": indicator(5, "[phone-number:value = '+84912000005']", markings=[TLP_RED]),
    }
    vn.node.intel.import_objects(operator, list(marked.values()), owner=vn.party.id, source="test")

    report = ph.node.intel_sync.sync(vn.node_id, push=False)
    assert (report.pulled, report.stored, report.failed) == (2, 2, [])
    assert stored_ids(ph) == {marked["clear"]["id"], marked["green"]["id"]}
    # Stored as the VN party's intelligence (country VN), with the sending node recorded.
    party = ph.node.identity.get_party("A05 Cybercrime Unit")
    assert party.country == "VN"
    assert count_rows(ph.node, "intel_objects", "owner_party_id = :p", p=party.id) == 2
    assert count_rows(ph.node, "intel_received", "peer_node_id = :n", n=vn.node_id) == 2
    assert count_rows(vn.node, "audit_entries", "action = 'federation.share'") == 2  # one page per level

    # Nothing new: nothing moves; a new version and a new object arrive on the next pull, and only they.
    assert ph.node.intel_sync.sync(vn.node_id, push=False).pulled == 0
    newer = {**marked["green"], "modified": "2026-11-02T08:00:00.000Z", "name": "updated"}
    vn.node.intel.import_objects(operator, [newer, *scam_reports(100, 3)], owner=vn.party.id, source="test")
    again = ph.node.intel_sync.sync(vn.node_id, push=False)
    assert (again.pulled, again.stored) == (4, 4)
    assert count_rows(ph.node, "intel_objects") == 6

    # AMBER needs an explicit rule; once the policy widens, the peer's positions start over and AMBER arrives
    # (what it already holds is a no-op).
    vn.node.sharing.set_policy(
        operator,
        ph.node_id,
        {
            "rules": [
                {"name": "green", "tlp": ["clear", "green"], "legal_basis": "Art. 40(4)", "purpose": "prevention"},
                {"name": "amber", "tlp": ["amber"], "legal_basis": "MoU", "purpose": "joint investigation"},
            ]
        },
    )
    widened = ph.node.intel_sync.sync(vn.node_id, push=False)
    assert widened.stored == 1 and widened.pulled == 7
    assert marked["amber"]["id"] in stored_ids(ph)
    assert not {marked["red"]["id"], marked["amber+strict"]["id"]} & stored_ids(ph)


def test_interrupted_pull_resumes_without_loss_or_duplicates(two_countries: TwoCountries, operator: Actor) -> None:
    vn, ph = two_countries.vn, two_countries.ph
    vn.node.intel.import_objects(operator, scam_reports(1, 2500), owner=vn.party.id, source="test")
    first = ph.node.intel_sync.sync(vn.node_id, push=False, max_pages=2)  # CLEAR (empty), one GREEN page
    assert first.stored == 1000 and first.behind > 0
    rest = ph.node.intel_sync.sync(vn.node_id, push=False)
    assert rest.stored == 1500 and rest.pulled == 1500
    assert count_rows(ph.node, "intel_objects") == 2500
    assert count_rows(ph.node, "intel_received") == 2500


def test_push_and_onward_transfer(two_countries: TwoCountries, operator: Actor) -> None:
    vn, ph = two_countries.vn, two_countries.ph
    ph.node.intel.import_objects(operator, scam_reports(1, 5), owner=ph.party.id, source="test")
    report = ph.node.intel_sync.sync(vn.node_id, pull=False)
    assert report.pushed == 5
    assert count_rows(vn.node, "intel_received", "peer_node_id = :n", n=ph.node_id) == 5
    assert ph.node.intel_sync.sync(vn.node_id, pull=False).pushed == 0  # the push position holds
    # VN received them from PH: VN never passes them on, not even back to PH (Art. 36(3)).
    preview = vn.node.sharing.preview(operator, ph.node_id).document()
    assert preview["shared"] == 0 and preview["reasons"][0]["reason"].startswith(f"received from node {ph.node_id}")


def test_peers_read_only_their_feed(two_countries: TwoCountries, operator: Actor) -> None:
    """A peer's signed TAXII session gets the policy feed and nothing else: no get-by-id, manifest or delete,
    and no filter that would turn the feed into a query of the store."""
    vn, ph = two_countries.vn, two_countries.ph
    vn.node.intel.import_objects(operator, scam_reports(1, 2), owner=vn.party.id, source="test")
    session = ph.node.intel_sync._session()
    base = f"{vn.url}/taxii2/accord/collections/{collection_id(Tlp.GREEN)}"
    headers = {"Accept": "application/taxii+json;version=2.1"}
    assert session.get(f"{base}/objects/", headers=headers).status_code == 200
    object_id = scam_reports(1, 1)[0]["id"]
    for url in (f"{base}/objects/{object_id}/", f"{base}/manifest/", f"{base}/objects/{object_id}/versions/"):
        assert session.get(url, headers=headers).status_code == 403, url
    assert session.delete(f"{base}/objects/{object_id}/", headers=headers).status_code == 403
    filtered = session.get(f"{base}/objects/", headers=headers, params={"match[type]": "indicator"})
    assert filtered.status_code == 422 and "match" in filtered.text
    # The standard client works against the same server with the same signed session.
    server = Server(f"{vn.url}/taxii2/", auth=NodeSignatureAuth(ph.node.keys))
    [green] = [c for c in server.api_roots[0].collections if c.id == collection_id(Tlp.GREEN)]
    assert len(green.get_objects(version="all")["objects"]) == 2


def test_failures_back_off_and_recover(two_countries: TwoCountries, operator: Actor, clock: FrozenClock) -> None:
    vn, ph = two_countries.vn, two_countries.ph
    vn.node.intel.import_objects(operator, scam_reports(1, 3), owner=vn.party.id, source="test")
    set_peer_url(ph.node, vn.node_id, closed_port_url())  # nothing listens there
    assert ph.node.intel_sync.run_due() == []
    state = {s.node_id: s for s in ph.node.intel_sync.status(operator)}[vn.node_id]
    assert state.failures == 1 and "ConnectionError" in (state.last_error or "")
    assert state.next_attempt_at is not None and state.next_attempt_at > clock.now()
    assert ph.node.intel_sync.run_due() == []  # not due yet: no attempt
    assert {s.node_id: s for s in ph.node.intel_sync.status(operator)}[vn.node_id].failures == 1

    set_peer_url(ph.node, vn.node_id, vn.url)
    clock.advance(timedelta(minutes=5))
    [done] = ph.node.intel_sync.run_due()
    assert done.stored == 3
    state = {s.node_id: s for s in ph.node.intel_sync.status(operator)}[vn.node_id]
    assert (state.failures, state.last_error, state.objects_received) == (0, None, 3)
    assert state.last_success_at == clock.now()


def test_backoff_grows_and_is_capped() -> None:
    assert backoff(1, lambda: 0.0) == timedelta(seconds=10)
    assert backoff(3, lambda: 0.0) == timedelta(seconds=40)
    assert backoff(30, lambda: 0.0) == timedelta(hours=1)
    assert backoff(1, lambda: 1.0) == timedelta(seconds=12.5)


def test_suspended_peer_gets_nothing(two_countries: TwoCountries, operator: Actor) -> None:
    vn, ph = two_countries.vn, two_countries.ph
    vn.node.intel.import_objects(operator, scam_reports(1, 2), owner=vn.party.id, source="test")
    vn.node.federation.set_status(operator, ph.node_id, "suspended", "data-protection review")
    with pytest.raises(requests.HTTPError):
        ph.node.intel_sync.sync(vn.node_id, push=False)
    assert count_rows(ph.node, "intel_objects") == 0


@pytest.mark.parametrize("mode", ["error", "drop", "hang"])
def test_a_failing_peer_loses_nothing_and_duplicates_nothing(
    two_countries: TwoCountries, operator: Actor, mode: str
) -> None:
    """The peer answers 500, or the connection drops after the peer answered, or the peer hangs past the
    timeout: the sync fails and says why, keeps its position, and the next sync completes the set exactly."""
    vn, ph = two_countries.vn, two_countries.ph
    vn.node.intel.import_objects(operator, scam_reports(1, 1500), owner=vn.party.id, source="test")
    ph.node.intel_sync.sync(vn.node_id, push=False, max_pages=2)  # CLEAR (empty) and a first GREEN page
    assert count_rows(ph.node, "intel_objects") == 1000
    ph.node.intel_sync.timeout = (2.0, 0.5)
    with FaultProxy(vn.url, mode).running() as proxy:
        set_peer_url(ph.node, vn.node_id, proxy.url)
        with pytest.raises(requests.RequestException):
            ph.node.intel_sync.sync(vn.node_id, push=False)
        assert proxy.requests >= 1
    state = {s.node_id: s for s in ph.node.intel_sync.status(operator)}[vn.node_id]
    assert state.failures == 1 and state.last_error
    set_peer_url(ph.node, vn.node_id, vn.url)
    rest = ph.node.intel_sync.sync(vn.node_id, push=False)
    assert rest.stored == 500
    assert count_rows(ph.node, "intel_objects") == 1500
    assert count_rows(ph.node, "intel_received") == 1500


def test_the_same_push_delivered_twice_is_stored_once(two_countries: TwoCountries, operator: Actor) -> None:
    vn, ph = two_countries.vn, two_countries.ph
    objects = scam_reports(1, 20)
    first = ph.node.intel_sync.receive(vn.node_id, Tlp.GREEN, objects, pushed=True)
    again = ph.node.intel_sync.receive(vn.node_id, Tlp.GREEN, objects, pushed=True)
    assert (first.duplicates, again.duplicates) == (0, 20)
    assert count_rows(ph.node, "intel_objects") == 20 and count_rows(ph.node, "intel_received") == 20


def test_an_empty_level_moves_its_position_to_the_head(two_countries: TwoCountries, operator: Actor) -> None:
    """No CLEAR objects at all: the CLEAR position still moves to the sender's newest version, so the next "anything
    new?" scans only what arrived since instead of the whole store."""
    from accord.federation.sharing import decode_position, fingerprint

    vn, ph = two_countries.vn, two_countries.ph
    vn.node.intel.import_objects(operator, scam_reports(1, 30), owner=vn.party.id, source="test")
    ph.node.intel_sync.sync(vn.node_id, push=False)
    positions = ph.node.intel_sync._positions(vn.node_id)["pull"]
    printed = fingerprint(vn.node.sharing.policy(ph.node_id))
    head = count_rows(vn.node, "intel_objects")  # seq runs 1..30 in a fresh store
    assert decode_position(positions["clear"], printed) == head
    assert decode_position(positions["green"], printed) == head
    assert "amber" not in positions  # the default policy does not share AMBER: never asked of the store
