"""``accord lookup FILE`` through the real entry point: JSON lines and CSV, line numbers, one-line errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accord.cli.lookup import FileLines, csv_values, plain_values
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
    reports = tmp_path / "reports.csv"
    reports.write_text("number\n+84 91 234 5678\nhttps://bit.ly/3xYzAbC\n", encoding="utf-8")
    code, out, err = invoke(
        "intel", "import-csv", str(reports), "--party", "A05", "--value-column", "number", "--tlp", "red"
    )
    assert code == 0, (out, err)
    return invoke


def test_a_file_of_values_becomes_json_lines_with_line_numbers(cli, tmp_path: Path) -> None:
    values = tmp_path / "values.txt"
    values.write_bytes(
        b"0912345678\n\n  +84 98 765 4321 \nnot an identifier ###\n\xff\xfe broken\nhttps://bit.ly/3xYzAbC\n"
        + b"x" * 3000
        + b"\n"
    )
    code, out, err = cli("lookup", str(values), "--purpose", "bank batch 2026-11-23")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["line"] for line in lines] == [1, 3, 4, 5, 6, 7]
    first = lines[0]
    assert (first["input"], first["type"], first["canonical"]) == ("0912345678", "phone-number", "+84912345678")
    # The operator sees everything: the RED report comes back in full, with the number's detected region (VN).
    assert first["hits"]["found"] and first["hits"]["visible"][0]["tlp"] == "red"
    assert lines[1]["canonical"] == "+84987654321" and not lines[1]["hits"]["found"]
    assert lines[2]["error"] and lines[2]["type"] is None
    assert lines[3]["error"] == "not UTF-8"
    assert lines[4]["warninglists"] == ["Accord: URL shorteners"] and lines[4]["hits"]["found"]
    assert lines[5]["error"] == "longer than 2048 characters" and len(lines[5]["input"]) == 200
    assert "6 values, 3 valid, 2 with hits, 2 unreadable lines" in err
    assert "line 5: not UTF-8" in err and "line 7: longer than 2048 characters" in err


def test_a_csv_column_becomes_a_csv_file(cli, tmp_path: Path) -> None:
    source = tmp_path / "accounts.csv"
    source.write_text('case,phone\n1,"+84 91 234 5678"\n2,\n3\n\n4,0987654321\n', encoding="utf-8")
    target = tmp_path / "answers.csv"
    code, _out, err = cli(
        "lookup",
        str(source),
        "--column",
        "phone",
        "--type",
        "phone-number",
        "--format",
        "csv",
        "--output",
        str(target),
        "--purpose",
        "case triage",
    )
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert [row["line"] for row in rows] == ["2", "3", "4", "6"]
    hit = rows[0]
    assert (hit["type"], hit["canonical"], hit["found"], hit["visible_count"]) == (
        "phone-number",
        "+84912345678",
        "true",
        "1",
    )
    assert hit["visible_parties"] == "A05" and hit["visible_objects"].startswith("indicator--")
    assert rows[1]["error"] == "empty value"
    assert rows[2]["error"] == "no column 'phone' in this row"
    assert (rows[3]["canonical"], rows[3]["found"], rows[3]["cross_border"]) == ("+84987654321", "false", "false")
    # Never overwritten.
    code, _out, err = cli("lookup", str(source), "--column", "2", "--output", str(target), "--purpose", "again")
    assert code == 2 and err.startswith("accord: --output: cannot create") and err.count("\n") == 1


def test_each_chunk_is_one_audit_entry_without_the_values(cli, tmp_path: Path) -> None:
    values = tmp_path / "values.txt"
    values.write_text("0912345678\n+84 98 765 4321\n", encoding="utf-8")
    assert cli("lookup", str(values), "--purpose", "audit check", "--legal-basis", "Art. 41")[0] == 0
    code, out, _err = cli("audit", "export", "--out", "-", "--purpose", "review")
    assert code == 0
    entries = [json.loads(line) for line in out.splitlines()]
    (lookup,) = [entry for entry in entries if entry["action"] == "matching.lookup"]
    assert (lookup["purpose"], lookup["legal_basis"]) == ("audit check", "Art. 41")
    assert lookup["details"] == {"values": 2, "valid": 2, "with_hits": 1, "with_restricted_hits": 0}
    assert "0912345678" not in json.dumps(lookup) and "987654321" not in json.dumps(lookup)


@pytest.mark.parametrize(
    ("content", "args", "field"),
    [
        ("phone\n+84912345678\n", ("--column", "msisdn"), "--column"),
        ("", ("--column", "phone"), "FILE"),
        ("+84912345678\n", ("--type", "telephone"), "--type"),
    ],
)
def test_a_bad_file_or_option_is_one_line_and_exit_2(cli, tmp_path: Path, content: str, args, field: str) -> None:
    source = tmp_path / "values.csv"
    source.write_text(content, encoding="utf-8")
    code, out, err = cli("lookup", str(source), "--purpose", "x", *args)
    assert code == 2 and out == ""
    assert err.startswith(f"accord: {field}: ") and err.count("\n") == 1


def test_a_missing_file_is_one_line_and_exit_2(cli, tmp_path: Path) -> None:
    code, _out, err = cli("lookup", str(tmp_path / "nope.txt"), "--purpose", "x")
    assert code == 2 and err.startswith("accord: ") and err.count("\n") == 1


def test_a_purpose_is_required(cli, tmp_path: Path) -> None:
    source = tmp_path / "values.txt"
    source.write_text("+84912345678\n", encoding="utf-8")
    code, _out, err = cli("lookup", str(source))
    assert code == 2 and "--purpose" in err


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=30), max_size=30))
def test_values_keep_their_line_numbers_in_either_file_form(texts: list[str]) -> None:
    # A text may hold line breaks of any kind: what counts is where the reader says each value starts.
    lines = [text.replace("\r", " ").replace("\n", " ") for text in texts]
    expected = [(n, line.strip()) for n, line in enumerate(lines, start=1) if line.strip()]
    plain = b"".join(line.encode() + b"\n" for line in lines)
    assert [(v.number, v.value) for v in plain_values(FileLines(io.BytesIO(plain)))] == expected
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["value"])
    writer.writerows([[line] for line in lines])
    rows = csv_values(FileLines(io.BytesIO(table.getvalue().encode())), "value")
    assert [(v.number - 1, v.value) for v in rows] == expected


def test_a_warninglist_that_cannot_be_read_is_named(cli, tmp_path: Path) -> None:
    source = tmp_path / "values.txt"
    source.write_text("+84912345678\n", encoding="utf-8")
    broken = ("-s", "matching_warninglists=lists/missing.json")
    code, out, err = cli(*broken, "config", "check")
    assert code == 1 and "problem: setting 'matching_warninglists'" in err and "missing.json" in err
    code, out, err = cli(*broken, "lookup", str(source), "--purpose", "x")
    assert code == 2 and out == "" and err.startswith("accord: setting 'matching_warninglists'")
    assert err.count("\n") == 1
    code, out, _err = cli("config", "check")
    assert code == 0 and "warninglists: 4 loaded" in out
