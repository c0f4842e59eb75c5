"""``accord evidence`` through the real entry point: add prints the id, export writes a package, verify needs
no database (run here with the node's database deleted), exit codes say whether every step passed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from accord.cli.main import run


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


def _add(cli, path: Path, *extra: str) -> str:
    code, out, err = cli(
        "evidence",
        "add",
        str(path),
        "--case",
        "VN-2026-0042",
        "--party",
        "A05",
        "--description",
        "Seized phone extraction",
        "--collector",
        "Sgt. Tran Thi B",
        "--collected-at",
        "2026-11-20T09:30:00+07:00",
        *extra,
    )
    assert code == 0, err
    [item_id] = out.split()
    assert item_id.startswith("evidence-item--")
    return item_id


def test_add_export_verify_report(cli, tmp_path: Path) -> None:
    evidence = tmp_path / "phone.db"
    evidence.write_bytes(b"SQLite format 3\x00" + b"\x01" * 5000)
    item_id = _add(cli, evidence, "--legal-basis", "Warrant 17/2026")
    code, out, _ = cli("evidence", "event", item_id, "sealed", "--purpose", "sealed after imaging")
    assert code == 0 and out.strip() == "1"
    code, out, err = cli("evidence", "show", item_id)
    assert code == 0, err
    shown = json.loads(out)
    assert [e["kind"] for e in shown["custody"]] == ["registered", "sealed"]
    package = tmp_path / "pkg.zip"
    code, out, err = cli("evidence", "export", item_id, "-o", str(package), "--recipient", "PNP")
    assert code == 0, err
    assert out.startswith("evidence-package--")
    code, out, err = cli("evidence", "export", item_id, "-o", str(package))
    assert code == 2 and "exists" in err
    code, out, _ = cli("evidence", "log", "verify")
    assert code == 0 and "custody log ok: 3 events" in out
    code, out, _ = cli("evidence", "log", "checkpoint")
    checkpoint = json.loads(out)
    assert checkpoint["tree_size"] == 3
    known = tmp_path / "known.json"
    known.write_text(out)
    code, out, err = cli("evidence", "verify", str(package), "--known-checkpoint", str(known))
    assert code == 0, out + err
    assert out.count(": passed") == 13 and "package verified" in out
    code, out, err = cli("evidence", "report", str(package), "-o", str(tmp_path / "report.pdf"))
    assert code == 0, err
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF")


def test_verify_needs_no_database(cli, tmp_path: Path) -> None:
    evidence = tmp_path / "production.csv"
    evidence.write_text("msisdn\n+84912345678\n")
    item_id = _add(cli, evidence, "--source-kind", "provider-production")
    package = tmp_path / "pkg.zip"
    assert cli("evidence", "export", item_id, "-o", str(package))[0] == 0
    # A clean process in an empty folder, no database URL, no network: the receiving country's laptop.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copyfile(package, elsewhere / "pkg.zip")
    done = subprocess.run(
        [sys.executable, "-m", "accord.cli.main", "--home", str(elsewhere), "evidence", "verify", "pkg.zip"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(elsewhere)},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (elsewhere / "accord.db").exists()
    # A flipped byte: exit 1, the failing step names the file.
    broken = elsewhere / "broken.zip"
    data = bytearray(package.read_bytes())
    at = data.find(b"+84912345678")
    data[at] ^= 1
    broken.write_bytes(bytes(data))
    done = subprocess.run(
        [sys.executable, "-m", "accord.cli.main", "--home", str(elsewhere), "evidence", "verify", "broken.zip"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(elsewhere)},
        check=False,
    )
    assert done.returncode == 1
    failed = [line for line in done.stdout.splitlines() if ": failed" in line]
    assert failed and "production.csv" in failed[0]


def test_bad_input_is_one_line_and_exit_2(cli, tmp_path: Path) -> None:
    evidence = tmp_path / "x.bin"
    evidence.write_bytes(b"x")
    code, _, err = cli(
        "evidence", "add", str(evidence), "--case", "C", "--party", "A05", "--description", "d",
        "--collector", "c", "--collected-at", "2026-11-20 09:30",
    )  # fmt: skip
    assert code == 2 and err.count("\n") == 1 and "--collected-at" in err
    code, _, err = cli("evidence", "event", "evidence-item--nope", "sealed", "--purpose", "x")
    assert code == 1 and "no evidence item" in err
    not_a_zip = tmp_path / "not.zip"
    not_a_zip.write_text("hello")
    code, out, err = cli("evidence", "verify", str(not_a_zip))
    assert code == 1 and "step 1/13" in out and "failed" in out


def test_import_on_a_second_node(cli, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    evidence = tmp_path / "phone.db"
    evidence.write_bytes(b"\x02" * 3000)
    item_id = _add(cli, evidence)
    package = tmp_path / "pkg.zip"
    assert cli("evidence", "export", item_id, "-o", str(package))[0] == 0
    peer = tmp_path / "peer"

    def peer_cli(*args: str) -> tuple[int, str, str]:
        code = run(["--home", str(peer), *args])  # the other country runs SQLite on its laptop
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    assert peer_cli("init", "--name", "PH node", "--country", "PH")[0] == 0
    assert peer_cli("party", "add", "PNP", "--kind", "law_enforcement", "--country", "PH")[0] == 0
    code, out, err = peer_cli("evidence", "import", str(package), "--party", "PNP")
    assert code == 2 and "not an active peer" in err
    sender = json.loads(cli("evidence", "log", "checkpoint")[1])["origin"].split("/")[1]
    code, out, err = peer_cli("evidence", "import", str(package), "--party", "PNP", "--expect-node", sender)
    assert code == 0, err
    assert item_id in out
    code, out, err = peer_cli("evidence", "import", str(package), "--party", "PNP", "--expect-node", sender)
    assert code == 2 and "already held" in err
    with zipfile.ZipFile(package) as archive:
        assert any(name.endswith("phone.db") for name in archive.namelist())


def test_cooperation_tick_runs_the_clocks(cli) -> None:
    code, out, err = cli("cooperation", "tick")
    assert code == 0, err
    assert out.strip() == "0 expired, 0 alerts, 0 escalations, 0 overdue, 0 emailed"
