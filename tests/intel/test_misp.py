"""MISP event JSON in and out: attributes become indicators (and back), tlp tags become markings."""

from __future__ import annotations

import json
from pathlib import Path

from accord.audit.service import Disclosure
from accord.cli.main import run
from accord.node import Node
from tests.conftest import World, count_rows

EVENT = {
    "Event": {
        "id": "1207",
        "uuid": "5d2e4a1b-7c3f-4e8a-9b6d-0f1e2a3b4c5d",
        "info": "Investment scam ring targeting Vietnamese investors",
        "timestamp": "1763600000",
        "Tag": [{"name": "tlp:amber"}, {"name": 'misp-galaxy:financial-fraud="Investment Scam"'}],
        "Attribute": [
            {
                "uuid": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                "type": "phone-number",
                "category": "Financial fraud",
                "value": "+84 91 234 5678",
                "timestamp": "1763600000",
                "comment": "Caller posing as bank staff",
            },
            {
                "uuid": "1b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e",
                "type": "iban",
                "category": "Financial fraud",
                "value": "DE89370400440532013000",
                "timestamp": "1763600000",
            },
            {
                "uuid": "2c3d4e5f-6a7b-4c8d-8e9f-1a2b3c4d5e6f",
                "type": "btc",
                "category": "Financial fraud",
                "value": "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
                "timestamp": "1763600000",
            },
            {
                "uuid": "3d4e5f6a-7b8c-4d9e-9f0a-2b3c4d5e6f7a",
                "type": "domain",
                "category": "Network activity",
                "value": "vcb-hotro.blogspot.com",
                "timestamp": "1763600000",
            },
            {
                "uuid": "4e5f6a7b-8c9d-4e0f-8a1b-3c4d5e6f7a8b",
                "type": "text",
                "category": "Other",
                "value": "victims contacted via Zalo",
                "timestamp": "1763600000",
            },
        ],
        "Object": [
            {
                "name": "bank-account",
                "Attribute": [
                    {
                        "uuid": "5f6a7b8c-9d0e-4f1a-9b2c-4d5e6f7a8b9c",
                        "type": "iban",
                        "value": "GB82WEST12345698765432",
                        "timestamp": "1763600000",
                    }
                ],
            },
        ],
    }
}


def test_misp_event_becomes_marked_indicators_and_a_report(node: Node, world: World) -> None:
    analyst = node.identity.authenticate_token(world.tokens["analyst"])
    report, skipped = node.intel.import_misp_event(analyst, EVENT, source="test")
    assert report.failures == [] and len(report.successes) == 6  # 5 indicators + the report
    assert skipped == [{"uuid": "4e5f6a7b-8c9d-4e0f-8a1b-3c4d5e6f7a8b", "type": "text"}]
    assert count_rows(node, "intel_objects", "tlp = 'amber'") == 6
    hits = node.intel.search(analyst, "0912345678", Disclosure(purpose="t")).hits
    assert [h.stix_id for h in hits] == ["indicator--0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"]
    stored = node.intel.get_object(analyst, "report--5d2e4a1b-7c3f-4e8a-9b6d-0f1e2a3b4c5d", Disclosure(purpose="t"))
    assert len(stored["object_refs"]) == 5
    again, _ = node.intel.import_misp_event(analyst, EVENT, source="test")
    assert again.duplicates == 6  # the attribute UUIDs keep the ids stable


def test_misp_export_round_trips_identifiers(node: Node, world: World) -> None:
    analyst = node.identity.authenticate_token(world.tokens["analyst"])
    node.intel.import_misp_event(analyst, EVENT, source="test")
    event = node.intel.export_misp_event(analyst, Disclosure(purpose="share with MISP community"))["Event"]
    assert {(a["type"], a["value"]) for a in event["Attribute"]} == {
        ("phone-number", "+84 91 234 5678"),
        ("iban", "DE89370400440532013000"),
        ("iban", "GB82WEST12345698765432"),
        ("btc", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"),
        ("domain", "vcb-hotro.blogspot.com"),
    }
    assert event["Tag"] == [{"name": "tlp:amber"}]
    partner = node.identity.authenticate_token(world.tokens["partner"])
    assert node.intel.export_misp_event(partner, Disclosure(purpose="t"))["Event"]["Attribute"] == []  # AMBER


def test_misp_over_http_and_cli(client, world: World, tmp_path: Path, capsys, settings) -> None:
    answer = client.post("/api/v1/intel/misp-events", json=EVENT, headers=world.auth("analyst"))
    assert answer.status_code == 200 and answer.json()["skipped_count"] == 1
    bad = client.post("/api/v1/intel/misp-events", json={"Event": {"Attribute": "x"}}, headers=world.auth("analyst"))
    assert bad.status_code == 422
    exported = client.get("/api/v1/intel/misp-export", headers={**world.auth("analyst"), "Accord-Purpose": "t"})
    assert len(exported.json()["Event"]["Attribute"]) == 5
    path = tmp_path / "event.json"
    path.write_text(json.dumps(EVENT))
    base = ["--home", str(settings.home), "--database-url", settings.effective_database_url]
    assert run([*base, "intel", "import", str(path), "--misp", "--party", "A05 Cybercrime Unit"]) == 0
    out = capsys.readouterr().out
    assert "6 already known" in out and "1 attributes have no STIX equivalent: text" in out
    target = tmp_path / "out.json"
    assert run([*base, "intel", "export", "--misp", "--out", str(target), "--purpose", "t"]) == 0
    assert len(json.loads(target.read_text())["Event"]["Attribute"]) == 5
