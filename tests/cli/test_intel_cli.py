"""``accord intel import`` / ``export`` through the real entry point, with MITRE's ICS ATT&CK bundle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accord.cli.main import run
from tests.intel.conftest import TLP_RED, bundle, indicator, phone

ICS_ATTACK = Path(__file__).parents[2].parent / "shared" / "data" / "ics-attack-18.1.json"


@pytest.fixture
def cli(tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]):
    home = tmp_path / "node"

    def invoke(*args: str) -> tuple[int, str, str]:
        code = run(["--home", str(home), "--database-url", database_url, *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    assert invoke("init", "--name", "VN node", "--country", "VN")[0] == 0
    assert invoke("party", "add", "A05", "--kind", "law_enforcement", "--country", "VN")[0] == 0
    return invoke


def test_import_streams_a_real_attack_bundle_and_is_idempotent(cli) -> None:
    if not ICS_ATTACK.exists():
        pytest.fail(f"missing shared data set {ICS_ATTACK}")
    total = len(json.loads(ICS_ATTACK.read_text())["objects"])
    code, out, _err = cli("intel", "import", str(ICS_ATTACK), "--party", "A05", "--tlp", "clear")
    assert code == 0, out
    assert f"{total} objects, {total} stored, 0 already known, 0 failed" in out
    code, out, _err = cli("intel", "import", str(ICS_ATTACK), "--party", "A05")
    assert code == 0 and f"0 stored, {total} already known" in out


def test_failures_are_listed_with_ids_and_exit_1(cli, tmp_path: Path) -> None:
    path = tmp_path / "mixed.json"
    good, bad = indicator(1, "[ipv4-addr:value = '198.51.100.9']"), phone(2, "+84 12")
    path.write_text(json.dumps(bundle(good, bad)))
    code, out, err = cli("intel", "import", str(path), "--party", "A05")
    assert code == 1 and "1 stored" in out and "1 failed" in out
    assert bad["id"] in err


@pytest.mark.parametrize(
    ("args", "content"),
    [
        (("--tlp", "purple"), "{}"),
        (("--party", "No Such Party"), '{"type": "bundle", "objects": []}'),
    ],
)
def test_bad_arguments_fail_cleanly(cli, tmp_path: Path, args, content) -> None:
    path = tmp_path / "b.json"
    path.write_text(content)
    options = ("--party", "A05", *args) if "--party" not in args else args
    code, _out, err = cli("intel", "import", str(path), *options)
    assert code in (1, 2) and err.startswith("accord: ") and err.count("\n") == 1


def test_broken_json_file_is_one_line(cli, tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"type": "bundle", "objects": [{"type": ')
    code, _out, err = cli("intel", "import", str(path), "--party", "A05")
    assert code == 1 and "not a STIX 2.1 bundle" in err


def test_export_writes_a_bundle_with_red_included_for_the_operator(cli, tmp_path: Path) -> None:
    path = tmp_path / "in.json"
    path.write_text(json.dumps(bundle(indicator(1, "[ipv4-addr:value = '198.51.100.10']", markings=[TLP_RED]))))
    assert cli("intel", "import", str(path), "--party", "A05")[0] == 0
    out_file = tmp_path / "out.json"
    code, out, _ = cli("intel", "export", "--out", str(out_file), "--purpose", "backup")
    assert code == 0 and "exported 1 objects" in out
    exported = json.loads(out_file.read_text())
    assert exported["type"] == "bundle" and [o["id"] for o in exported["objects"]] == [indicator(1, "x")["id"]]
