"""CSV lists of identifiers with a column map: valid rows stored once, bad rows named by line."""

from __future__ import annotations

from pathlib import Path

from accord.audit.service import Disclosure
from accord.cli.main import run
from accord.intel.tabular import ColumnMap
from accord.node import Node
from tests.conftest import World, count_rows

CSV = """reported_at,channel,number_or_account,what
2026-11-20,sms,091 234 5678,SMS claiming the account is locked
2026-11-20,transfer,DE89 3704 0044 0532 0130 00,Victim transfer
2026-11-21,transfer,VN:970436:0071 0001 23456,Mule account at a Vietnamese bank
2026-11-21,crypto,0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed,Deposit wallet
2026-11-21,web,http://vcb-hotro.blogspot.com/dang-nhap,Phishing page
2026-11-22,sms,not a number,
2026-11-22,transfer,DE00 3704 0044 0532 0130 00,Mistyped IBAN
"""


def test_csv_rows_become_indexed_reports_and_bad_rows_are_named(node: Node, world: World) -> None:
    actor = node.identity.authenticate_token(world.tokens["partner"])  # the bank's fraud desk
    assert actor.party_name == "Demo Bank VN"
    columns = ColumnMap(value="number_or_account", name_column="what")
    report = node.intel.import_identifiers(actor, CSV.splitlines(keepends=True), columns, source="test")
    assert (report.total, len(report.successes), len(report.failures)) == (7, 5, 2)
    assert {f["id"] for f in report.failures} == {"line 7", "line 8"}
    assert "checksum" in next(f["message"] for f in report.failures if f["id"] == "line 8")
    assert count_rows(node, "observables", "kind = 'bank-account' AND value = 'VN:970436:0071000123456'") == 1
    hits = node.intel.search(actor, "+84912345678", Disclosure(purpose="t")).hits
    assert len(hits) == 1 and hits[0].tlp == "amber"
    again = node.intel.import_identifiers(actor, CSV.splitlines(keepends=True), columns, source="test")
    assert again.duplicates == 5


def test_csv_from_the_cli_with_a_fixed_kind(settings, world: World, tmp_path: Path, capsys) -> None:
    path = tmp_path / "numbers.csv"
    path.write_text("number\n0917 555 0142\n0917 555 0143\n", encoding="utf-8")
    base = ["--home", str(settings.home), "--database-url", settings.effective_database_url]
    code = run(
        [
            *base,
            "intel",
            "import-csv",
            str(path),
            "--party",
            "PNP Anti-Cybercrime Group",
            "--value-column",
            "1",
            "--kind",
            "phone-number",
            "--tlp",
            "green",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "2 rows, 2 stored" in out
    code = run(
        [*base, "intel", "import-csv", str(path), "--party", "PNP Anti-Cybercrime Group", "--value-column", "msisdn"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "no column 'msisdn'" in err and err.count("\n") == 1
