"""``accord peer policy|preview|status`` and ``accord sync`` through the real entry point, against two served
nodes: one-line errors with a non-zero exit, and nothing changed by a refused policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accord.cli.main import run
from accord.identity.actor import Actor
from tests.federation.conftest import Country, TwoCountries
from tests.intel.conftest import TLP_AMBER, TLP_GREEN, indicator


def cli(country: Country, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    settings = country.node.settings
    code = run(["--home", str(settings.home), "--database-url", settings.database_url, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_policy_preview_sync_and_status(
    two_countries: TwoCountries, operator: Actor, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    vn, ph = two_countries.vn, two_countries.ph
    objects = [
        indicator(1, "[phone-number:value = '+84912000001']", markings=[TLP_GREEN]),
        indicator(2, "[phone-number:value = '+84912000002']", markings=[TLP_AMBER]),
    ]
    vn.node.intel.import_objects(operator, objects, owner=vn.party.id, source="test")

    code, out, _ = cli(vn, capsys, "peer", "preview", ph.node_id)
    assert code == 0 and out.startswith(f"1 of 2 objects would be shared with {ph.node_id}")
    assert "out        1  no rule shares TLP:AMBER indicator from VN (personal-data)" in out

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rules": [{"name": "all amber", "tlp": ["amber"], "purpose": "x"}]}))
    code, out, err = cli(vn, capsys, "peer", "policy", ph.node_id, "--set", str(bad))
    assert code != 0 and "rules[0].legal_basis" in err and len(err.strip().splitlines()) == 1
    good = tmp_path / "good.json"
    good.write_text(
        json.dumps(
            {
                "rules": [
                    {"name": "amber", "tlp": ["green", "amber"], "legal_basis": "MoU art. 3", "purpose": "scams"},
                ]
            }
        )
    )
    code, out, _ = cli(vn, capsys, "peer", "policy", ph.node_id, "--set", str(good))
    assert code == 0 and json.loads(out)["rules"][0]["legal_basis"] == "MoU art. 3"
    code, out, _ = cli(vn, capsys, "peer", "preview", ph.node_id, "--json")
    assert json.loads(out)["shared"] == 2

    code, out, _ = cli(ph, capsys, "sync", vn.node_id)
    assert code == 0 and out.startswith("pulled 2 (2 new, 0 refused), pushed 0"), out
    code, out, _ = cli(ph, capsys, "peer", "status")
    assert code == 0 and f"{vn.node_id}\tactive\tlast success 20" in out and "received 2" in out

    code, _, err = cli(ph, capsys, "sync", "node-unknown")
    assert code != 0 and "node-unknown" in err
