"""Bulk lookup through the service and ``POST /api/v1/lookup``: correlation, visibility, errors, audit, cost."""

from __future__ import annotations

import dataclasses
import json
import threading
from typing import Any

import pytest
from sqlalchemy import delete, event, select

from accord.audit.models import AuditEntry, AuditHead
from accord.audit.service import Disclosure
from accord.clock import FrozenClock
from accord.config import InvalidSetting, Settings
from accord.errors import InvalidInput
from accord.identity.actor import Actor
from accord.identity.errors import PermissionDenied
from accord.identity.models import ApiToken
from accord.intel.markings import Audience
from accord.matching.correlation import CHUNK, correlate
from accord.matching.errors import TooManyValues
from accord.matching.routes import INLINE_MAX_BODY, LOOKUP_MAX_BODY
from accord.matching.service import MAX_LOOKUP_VALUES
from accord.node import Node, open_node
from accord.web.app import create_app
from tests.conftest import START, World
from tests.intel.conftest import TLP_GREEN, indicator
from tests.matching.conftest import A05_CONTACT, NUMBER, PNP_CONTACT, WHY, Scam

LOOKUP = "/api/v1/lookup"


def _post(client: Any, world: World, who: str, body: Any, **headers: str) -> Any:
    sent = {**world.auth(who), "Accord-Purpose": "fraud investigation", **headers}
    return client.post(LOOKUP, json=body, headers=sent)


def _entries(node: Node, action: str) -> list[AuditEntry]:
    with node.db.reading() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)))


def test_correlation_counts_parties_countries_and_reports(node: Node, world: World, scam: Scam) -> None:
    everyone = Audience(operator=True, party_id=None, levels=frozenset(), groups=frozenset())
    with node.db.reading() as session:
        found = correlate(session, [("phone-number", NUMBER), ("phone-number", "+84999999999")], everyone)
    assert list(found) == [("phone-number", NUMBER)]
    correlation = found[("phone-number", NUMBER)]
    assert correlation.parties == {world.police.id, world.pnp.id}
    assert correlation.countries == {"VN", "PH"}
    assert correlation.report_count == 2 and correlation.cross_border
    assert correlation.first_seen == correlation.last_seen == START
    assert {r.stix_id for r in correlation.reports} == {scam.green["id"], scam.red["id"]}


def test_visible_hits_carry_full_context(client, world: World, scam: Scam) -> None:
    answer = _post(client, world, "pnp", {"values": ["+84 91 234 5678"]})
    assert answer.status_code == 200, answer.text
    (result,) = answer.json()["results"]
    assert set(result) == {"input", "type", "canonical", "error", "hits", "warninglists", "cross_border", "score"}
    assert (result["type"], result["canonical"], result["error"]) == ("phone-number", NUMBER, None)
    hits = result["hits"]
    assert hits["found"] and hits["visible_count"] == 2 and hits["restricted"] is None
    by_id = {hit["stix_id"]: hit for hit in hits["visible"]}
    assert by_id[scam.green["id"]] == {
        "stix_id": scam.green["id"],
        "stix_type": "indicator",
        "party_id": world.police.id,
        "party": "A05 Cybercrime Unit",
        "country": "VN",
        "tlp": "green",
        "first_seen": START.isoformat(),
        "last_seen": START.isoformat(),
    }
    assert by_id[scam.red["id"]]["party"] == "PNP Anti-Cybercrime Group" and by_id[scam.red["id"]]["tlp"] == "red"
    assert result["cross_border"] is True


def test_a_red_posting_of_another_party_is_only_a_hit_with_a_contact(client, world: World, scam: Scam) -> None:
    answer = _post(client, world, "analyst", {"values": ["0912345678"]})
    (result,) = answer.json()["results"]
    hits = result["hits"]
    assert [hit["stix_id"] for hit in hits["visible"]] == [scam.green["id"]]
    assert hits["visible_count"] == 1
    assert hits["restricted"] == {
        "parties": 1,
        "countries": ["PH"],
        "contacts": [
            {"party_id": world.pnp.id, "party": "PNP Anti-Cybercrime Group", "country": "PH", "contact": PNP_CONTACT}
        ],
    }
    assert result["cross_border"] is True
    # Nothing of the RED report leaves: not its id, not the form its reporter wrote the number in.
    assert scam.red["id"] not in answer.text and "+84 91 234 5678" not in answer.text


def test_a_party_with_no_visible_hit_still_learns_whom_to_ask(node: Node, world: World, scam: Scam) -> None:
    node.intel.import_objects(scam.pnp, [indicator(3, "[phone-number:value = '+63 917 123 4567']")], source="test")
    (result,) = node.matching.lookup(scam.partner, ["+639171234567"], None, WHY)
    assert result.hits.found and result.hits.visible == () and result.hits.visible_count == 0
    assert result.hits.restricted is not None
    assert [(c.party, c.contact) for c in result.hits.restricted.contacts] == [
        ("PNP Anti-Cybercrime Group", PNP_CONTACT)
    ]
    assert result.cross_border is False


def test_types_are_taken_as_given_or_detected_in_the_callers_country(node: Node, world: World, scam: Scam) -> None:
    values = ["091 234 5678", "091 234 5678", "0912345678", "bit.ly"]
    types = [None, "phone-number", "bank-account", "domain-name"]
    results = node.matching.lookup(scam.analyst, values, types, WHY)
    assert [(r.type, r.canonical) for r in results] == [
        ("phone-number", NUMBER),  # detected, read as Vietnamese (the analyst's party's country)
        ("phone-number", NUMBER),
        ("bank-account", None),  # as given: not a bank account, so an error rather than another kind
        ("domain-name", "bit.ly"),
    ]
    assert results[2].error and not results[2].hits.found
    # A Philippine national number: the Philippine analyst reads it as one, the Vietnamese analyst cannot.
    (ph,) = node.matching.lookup(scam.pnp, ["0917 123 4567"], None, WHY)
    (vn,) = node.matching.lookup(scam.analyst, ["0917 123 4567"], None, WHY)
    assert (ph.canonical, ph.error) == ("+639171234567", None)
    assert vn.canonical is None and vn.error


def test_values_that_do_not_normalise_come_back_with_their_reason(node: Node, world: World, scam: Scam) -> None:
    values = ["DE00 3704 0044 0532 0130 00", "no such thing ###", "   ", NUMBER]
    results = node.matching.lookup(scam.analyst, values, None, WHY)
    assert [r.input for r in results] == values
    assert (results[0].type, results[0].canonical) == ("bank-account", None)
    assert "checksum" in (results[0].error or "")
    assert results[1].type is None and results[1].error and "not a recognised identifier" in results[1].error
    assert results[2].error == "empty value"
    assert results[3].error is None and results[3].hits.found


def test_revoked_objects_are_not_hits(node: Node, world: World, scam: Scam) -> None:
    revoked = {**scam.green, "modified": "2026-11-05T08:00:00.000Z", "revoked": True}
    node.intel.import_objects(scam.analyst, [revoked], source="test")
    (result,) = node.matching.lookup(scam.analyst, [NUMBER], None, WHY)
    assert result.hits.visible == () and result.hits.visible_count == 0
    assert result.hits.restricted is not None and result.hits.restricted.countries == ("PH",)
    assert result.cross_border is False  # the Vietnamese report no longer counts
    node.intel.import_objects(
        scam.pnp, [{**scam.red, "modified": "2026-11-05T08:00:00.000Z", "revoked": True}], source="test"
    )
    (gone,) = node.matching.lookup(scam.analyst, [NUMBER], None, WHY)
    assert not gone.hits.found


def test_a_warninglist_marks_a_hit_and_keeps_it(node: Node, world: World, scam: Scam) -> None:
    short = indicator(5, "[url:value = 'https://bit.ly/3xYzAbC']", markings=[TLP_GREEN])
    node.intel.import_objects(scam.analyst, [short], source="test")
    (result,) = node.matching.lookup(scam.partner, ["https://bit.ly/3xYzAbC"], None, WHY)
    assert result.type == "url" and result.warninglists == ("Accord: URL shorteners",)
    assert [hit.stix_id for hit in result.hits.visible] == [short["id"]]
    (clean,) = node.matching.lookup(scam.partner, [NUMBER], None, WHY)
    assert clean.warninglists == ()


def test_more_than_the_limit_is_413_naming_values(client, node: Node, world: World) -> None:
    answer = _post(client, world, "analyst", {"values": ["1"] * (MAX_LOOKUP_VALUES + 1)})
    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["errors"] == [{"field": "values", "reason": problem["errors"][0]["reason"]}]
    assert problem["limit"] == MAX_LOOKUP_VALUES and problem["type"] == "urn:accord:problem:too-many-values"
    analyst = node.identity.authenticate_token(world.tokens["analyst"])
    with pytest.raises(TooManyValues) as caught:
        node.matching.lookup(analyst, ["1"] * (MAX_LOOKUP_VALUES + 1), None, WHY)
    assert (caught.value.field, caught.value.count, caught.value.limit) == (
        "values",
        MAX_LOOKUP_VALUES + 1,
        MAX_LOOKUP_VALUES,
    )
    assert _entries(node, "matching.lookup") == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"values": "+84912345678"}, "values"),
        ({"values": [5]}, "values"),
        ({}, "values"),
        ({"values": []}, "values"),
        ({"values": ["x" * 2049]}, "values"),
        ({"values": ["a", "b"], "types": ["phone-number"]}, "types"),
        ({"values": ["a"], "types": ["telephone"]}, "types"),
        ({"values": ["a"], "types": "phone-number"}, "types"),
        ({"values": ["a"], "kinds": ["url"]}, "kinds"),
        (["+84912345678"], "body"),
    ],
)
def test_bad_requests_are_problems_naming_the_field(client, world: World, body: Any, field: str) -> None:
    answer = _post(client, world, "analyst", body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"][0]["field"] == field


def test_a_body_that_is_not_json_names_the_body(client, world: World) -> None:
    headers = {**world.auth("analyst"), "Accord-Purpose": "x", "Content-Type": "application/json"}
    answer = client.post(LOOKUP, content=b"{values", headers=headers)
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "body"


def test_a_lookup_must_say_why(client, node: Node, world: World) -> None:
    answer = client.post(LOOKUP, json={"values": [NUMBER]}, headers=world.auth("analyst"))
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "Accord-Purpose"
    assert _entries(node, "matching.lookup") == []


def test_the_service_refuses_a_lookup_without_purpose(node: Node, world: World, scam: Scam) -> None:
    with pytest.raises(InvalidInput) as caught:
        node.matching.lookup(scam.analyst, [NUMBER], None, Disclosure(purpose="  "))
    assert caught.value.field == "purpose"
    assert _entries(node, "matching.lookup") == []


def test_auditors_may_not_look_up(client, node: Node, world: World) -> None:
    answer = _post(client, world, "auditor", {"values": [NUMBER]})
    assert answer.status_code == 403
    assert _entries(node, "matching.lookup") == []
    denied = _entries(node, "access.denied")
    assert json.loads(denied[-1].details)["permission"] == "read_intel"
    auditor = node.identity.authenticate_token(world.tokens["auditor"])
    with pytest.raises(PermissionDenied):
        node.matching.lookup(auditor, [NUMBER], None, WHY)


def test_one_audit_entry_per_lookup_with_counts_and_no_values(client, node: Node, world: World, scam: Scam) -> None:
    values = ["0912345678", "+84 98 765 4321", "not an identifier ###"]
    answer = _post(client, world, "partner", {"values": values}, **{"Accord-Legal-Basis": "Decree 13/2023 art. 17"})
    assert answer.status_code == 200
    (entry,) = _entries(node, "matching.lookup")
    assert (entry.actor, entry.purpose, entry.legal_basis) == (
        "partner",
        "fraud investigation",
        "Decree 13/2023 art. 17",
    )
    token = node.identity.authenticate_token(world.tokens["partner"]).token_id
    assert json.loads(entry.details) == {
        "values": 3,
        "valid": 2,
        "with_hits": 1,
        "with_restricted_hits": 1,
        "token": token,  # named here: the lookup route records no separate token.use entry
    }
    assert _entries(node, "token.use") == []
    stored = json.dumps([entry.details, entry.object_id, entry.object_type])
    for text in [*values, NUMBER, "84987654321"]:
        assert text not in stored


def test_the_lookup_answers_in_input_order_with_duplicates(node: Node, world: World, scam: Scam) -> None:
    values = [NUMBER, "198.51.100.7", NUMBER, "0912345678"]
    results = node.matching.lookup(scam.analyst, values, None, WHY)
    assert [r.input for r in results] == values
    assert [r.hits.found for r in results] == [True, False, True, True]


def test_a_bulk_lookup_costs_a_bounded_number_of_statements(node: Node, world: World, scam: Scam) -> None:
    # 5,000 distinct numbers, 40 of them reported; the statements grow with the chunks (three each: holdings,
    # visible reports, feedback), never with the values.
    numbers = [f"+8491{n:07d}" for n in range(5_000)]
    reported = [indicator(100 + n, f"[phone-number:value = '{numbers[n * 125]}']") for n in range(40)]
    node.intel.import_objects(scam.analyst, reported, tlp=None, source="test")

    def statements(values: list[str]) -> int:
        seen: list[str] = []

        def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            seen.append(statement)

        event.listen(node.db.engine, "before_cursor_execute", count)
        try:
            results = node.matching.lookup(scam.analyst, values, None, WHY)
        finally:
            event.remove(node.db.engine, "before_cursor_execute", count)
        assert sum(r.hits.found for r in results) == sum(
            1 for v in values if v in {numbers[n * 125] for n in range(40)}
        )
        return len(seen)

    few = statements(numbers[:100])
    many = statements(numbers)
    chunks = -(-len(numbers) // CHUNK)
    assert many <= few + 3 * (chunks - 1) and many <= 3 * chunks + 12, (few, many)


def test_every_lookup_sees_what_the_markings_allow(node: Node, world: World, scam: Scam) -> None:
    seen = {}
    for who, actor in [("analyst", scam.analyst), ("pnp", scam.pnp), ("partner", scam.partner)]:
        (result,) = node.matching.lookup(actor, [NUMBER], None, WHY)
        restricted = result.hits.restricted
        seen[who] = (
            {hit.stix_id for hit in result.hits.visible},
            [c.contact for c in restricted.contacts] if restricted else [],
        )
    assert seen == {
        "analyst": ({scam.green["id"]}, [PNP_CONTACT]),
        "pnp": ({scam.green["id"], scam.red["id"]}, []),
        "partner": ({scam.green["id"]}, [PNP_CONTACT]),
    }
    # The Vietnamese police's own report is GREEN: nobody is sent to their contact for it.
    assert A05_CONTACT not in json.dumps([contacts for _ids, contacts in seen.values()])


def test_the_service_refuses_a_value_too_long_to_be_indexed(node: Node, world: World, scam: Scam) -> None:
    with pytest.raises(InvalidInput) as caught:
        node.matching.lookup(scam.analyst, ["a", "x" * 2049], None, WHY)
    assert caught.value.field == "values" and "item 1" in caught.value.reason


def test_configured_warninglists_mark_hits_and_a_broken_one_stops_the_node(
    settings: Settings, clock: FrozenClock, operator: Actor
) -> None:
    official = {
        "name": "VN official numbers",
        "description": "Helplines of Vietnamese banks",
        "type": "string",
        "matching_attributes": ["phone-number"],
        "list": [NUMBER],
    }
    (settings.home / "lists").mkdir()
    (settings.home / "lists" / "vn-official.json").write_text(json.dumps(official), encoding="utf-8")
    configured = dataclasses.replace(settings, matching_warninglists="lists/vn-official.json")  # from home
    node = open_node(configured, clock=clock)
    try:
        (result,) = node.matching.lookup(operator, ["+84 91 234 5678"], None, WHY)
        assert result.warninglists == ("VN official numbers",)
        assert "Accord: URL shorteners" in {wl.name for wl in node.matching.warninglists}
    finally:
        node.close()
    broken = dataclasses.replace(settings, matching_warninglists="lists/missing.json")
    with pytest.raises(InvalidSetting) as caught:
        create_app(broken, clock=clock)
    assert caught.value.name == "matching_warninglists"


def test_lookup_bodies_may_exceed_the_default_limit_up_to_their_own(client, world: World, settings: Settings) -> None:
    values = ["x" * 2000] * 1000  # 2 MB: over max_body_bytes (1 MiB), under the lookup's own 16 MiB
    assert len(json.dumps({"values": values})) > settings.max_body_bytes
    answer = _post(client, world, "analyst", {"values": values})
    assert answer.status_code == 200, answer.text[:300]
    assert len(answer.json()["results"]) == 1000
    headers = {**world.auth("analyst"), "Accord-Purpose": "x", "Content-Type": "application/json"}
    too_big = client.post(LOOKUP, content=b" " * (LOOKUP_MAX_BODY + 1), headers=headers)
    assert too_big.status_code == 413 and too_big.headers["content-type"] == "application/problem+json"


def test_the_lookup_is_described_in_openapi_and_takes_json_only(client, world: World) -> None:
    document = client.get("/api/openapi.json").json()
    body = document["paths"][LOOKUP]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["values"] and body["properties"]["values"]["maxItems"] == MAX_LOOKUP_VALUES
    headers = {**world.auth("analyst"), "Accord-Purpose": "x", "Content-Type": "text/plain"}
    answer = client.post(LOOKUP, content=b'{"values": ["+84912345678"]}', headers=headers)
    assert answer.status_code == 415 and answer.headers["content-type"] == "application/problem+json"


def test_an_api_lookup_reads_in_one_transaction_with_its_token_check(client, world: World) -> None:
    """The token is checked in the lookup's own read snapshot: one read and one (audit) write per request."""
    engine = client.app.state.node.db.engine
    begun: list[int] = []

    def count(_connection: Any) -> None:
        begun.append(1)

    body = {"values": [NUMBER]}
    assert _post(client, world, "analyst", body).status_code == 200  # may also note the token's last use
    event.listen(engine, "begin", count)
    try:
        answer = _post(client, world, "analyst", body)
    finally:
        event.remove(engine, "begin", count)
    assert answer.status_code == 200 and answer.json()["results"][0]["canonical"] == NUMBER
    assert len(begun) == 2, begun
    headers = {"Authorization": "Bearer not-a-token", "Accord-Purpose": "x", "Content-Type": "application/json"}
    refused = client.post(LOOKUP, content=json.dumps(body), headers=headers)
    assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"


def _reading_threads(client: Any, world: World, body: dict[str, Any]) -> set[str]:
    """The threads in which one lookup request read the observable index."""
    engine = client.app.state.node.db.engine
    threads: set[str] = set()

    def note(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if "FROM observables" in statement:
            threads.add(threading.current_thread().name)

    event.listen(engine, "before_cursor_execute", note)
    try:
        answer = _post(client, world, "analyst", body)
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert answer.status_code == 200, answer.text[:300]
    assert answer.json()["results"][0]["canonical"] == NUMBER
    return threads


def test_a_small_lookup_on_sqlite_reads_in_the_event_loop_and_others_in_a_worker_thread(
    client, node: Node, world: World, scam: Scam
) -> None:
    small = {"values": [NUMBER]}
    large = {"values": [NUMBER, *(f"+8491{i:07d}" for i in range(80))]}  # over INLINE_MAX_BODY
    assert len(json.dumps(small)) <= INLINE_MAX_BODY < len(json.dumps(large))
    worker = "AnyIO worker thread"
    if node.db.dialect == "sqlite":
        assert worker not in _reading_threads(client, world, small)
    else:  # PostgreSQL's reads wait on the network: always in a worker thread
        assert _reading_threads(client, world, small) == {worker}
    assert _reading_threads(client, world, large) == {worker}


@pytest.mark.parametrize("values", [[NUMBER], [NUMBER, *(f"+8491{i:07d}" for i in range(80))]])
def test_no_answer_leaves_when_the_lookups_audit_entry_cannot_be_written(
    settings: Settings, clock: FrozenClock, node: Node, world: World, scam: Scam, values: list[str]
) -> None:
    from fastapi.testclient import TestClient

    with TestClient(create_app(settings, clock=clock), raise_server_exceptions=False) as client:
        assert _post(client, world, "analyst", {"values": values}).status_code == 200
        with node.db.writing() as session:  # the log's head is gone: the next entry cannot be chained
            session.execute(delete(AuditHead))
        answer = _post(client, world, "analyst", {"values": values})
    assert answer.status_code == 500
    assert NUMBER not in answer.text and "canonical" not in answer.text


@pytest.mark.parametrize("values", [[NUMBER], [NUMBER, *(f"+8491{i:07d}" for i in range(80))]])
def test_an_api_lookup_records_its_tokens_first_use(
    client, node: Node, world: World, operator: Actor, scam: Scam, values: list[str]
) -> None:
    view, token = node.identity.create_token(operator, "analyst", "new script", ["read"])

    def last_used() -> Any:
        with node.db.reading() as session:
            return session.scalar(select(ApiToken.last_used_at).where(ApiToken.id == view.id))

    assert last_used() is None
    headers = {"Authorization": f"Bearer {token}", "Accord-Purpose": "fraud investigation"}
    assert client.post(LOOKUP, json={"values": values}, headers=headers).status_code == 200
    assert last_used() == START
