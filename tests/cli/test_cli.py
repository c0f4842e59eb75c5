"""The ``accord`` command line through its real entry point (``run``), on both databases."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from accord.audit.service import Disclosure
from accord.cli.main import run
from accord.config import load_settings
from accord.evidence.verify import verify_package
from accord.node import open_node


@pytest.fixture
def cli(tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]):
    home = tmp_path / "node"

    def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        if stdin is not None:
            import io

            sys.stdin = io.StringIO(stdin)
        try:
            code = run(["--home", str(home), "--database-url", database_url, *args])
        finally:
            sys.stdin = sys.__stdin__
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    invoke.home = home  # type: ignore[attr-defined]
    invoke.database_url = database_url  # type: ignore[attr-defined]
    return invoke


def _initialised(cli) -> None:
    code, out, _err = cli("init", "--name", "Ghana node", "--country", "gh")
    assert code == 0, out


def test_init_creates_key_config_and_schema_and_is_idempotent(cli) -> None:
    code, out, _ = cli("init", "--name", "Ghana node", "--country", "gh")
    assert code == 0 and "key created" in out
    key = cli.home / "node_key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert 'node_country = "GH"' in (cli.home / "accord.toml").read_text()
    code, out2, _ = cli("init", "--name", "Ghana node", "--country", "GH")
    assert code == 0 and "kept existing" in out2
    assert out.split()[1] == out2.split()[1]  # same node id


def test_node_show_prints_id_and_public_key(cli) -> None:
    _initialised(cli)
    code, out, _ = cli("node", "show")
    assert code == 0
    assert "node id:  node-" in out and "BEGIN PUBLIC KEY" in out and "Ghana node" in out


def test_party_user_token_round_trip(cli) -> None:
    _initialised(cli)
    code, out, _ = cli(
        "party", "add", "Ghana Police Service Cybercrime Unit", "--kind", "law_enforcement", "--country", "GH"
    )
    assert code == 0 and out.startswith("party--")
    code, out, _ = cli("party", "list")
    assert "Ghana Police Service Cybercrime Unit\tlaw_enforcement\tGH" in out
    code, out, _ = cli(
        "user",
        "add",
        "kwame",
        "--party",
        "Ghana Police Service Cybercrime Unit",
        "--role",
        "admin",
        "--role",
        "analyst",
    )
    assert code == 0
    password = next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("password: "))
    code, token, _ = cli("token", "create", "kwame", "--scope", "read", "--days", "7")
    assert code == 0 and len(token.strip().splitlines()) == 1 and token.startswith("accord.")
    node = open_node(load_settings(env={}, overrides={"home": cli.home, "database_url": cli.database_url}))
    try:
        assert node.identity.authenticate_token(token.strip()).username == "kwame"
        assert node.login.login("kwame", password, "127.0.0.1").roles == frozenset({"admin", "analyst"})
    finally:
        node.close()
    code, out, _ = cli("user", "list", "--purpose", "monthly review")
    assert "kwame\tkwame\tGhana Police Service Cybercrime Unit\tadmin,analyst" in out
    code, out, _ = cli("user", "disable", "kwame")
    assert code == 0 and "deactivated" in out
    code, out, _ = cli("user", "list")
    assert "admin,analyst\tinactive" in out
    code, out, _ = cli("user", "enable", "kwame")
    assert code == 0 and "now active" in out


def test_user_password_from_stdin(cli) -> None:
    _initialised(cli)
    cli("party", "add", "CSA", "--kind", "cert", "--country", "GH")
    code, out, _ = cli(
        "user",
        "add",
        "ama",
        "--party",
        "CSA",
        "--role",
        "auditor",
        "--password-stdin",
        stdin="a sufficiently long passphrase\n",
    )
    assert code == 0 and "password:" not in out
    code, _out, err = cli(
        "user", "add", "kofi", "--party", "CSA", "--role", "auditor", "--password-stdin", stdin="short\n"
    )
    assert code == 2 and err.count("\n") == 1 and "password" in err


@pytest.mark.parametrize(
    "args",
    [
        ("party", "add", "X", "--kind", "casino", "--country", "GH"),
        ("party", "add", "X", "--kind", "cert", "--country", "Ghana"),
        ("party", "add", "X", "--kind", "cert"),
        ("user", "add", "someone", "--party", "CSA"),
        ("--no-such-flag",),
        ("-s", "port=eighty", "party", "list"),
        ("-s", "nonsense", "party", "list"),
        ("token", "create", "nobody", "--days", "0"),
    ],
)
def test_invalid_arguments_give_one_line_and_exit_2(cli, args) -> None:
    _initialised(cli)
    code, _out, err = cli(*args)
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("accord: ")


def test_refused_action_gives_one_line_and_exit_1(cli) -> None:
    _initialised(cli)
    code, _out, err = cli("user", "add", "someone", "--party", "No Such Party", "--role", "analyst")
    assert code == 1 and err == "accord: no party 'No Such Party'\n"


def test_commands_on_an_uninitialised_home_say_to_run_init(cli) -> None:
    code, _out, err = cli("party", "list")
    assert code == 1 and "accord init" in err and err.count("\n") == 1


def test_audit_verify_names_the_tampered_entry(cli) -> None:
    _initialised(cli)
    cli("party", "add", "CSA", "--kind", "cert", "--country", "GH")
    cli("party", "add", "GPS", "--kind", "law_enforcement", "--country", "GH")
    code, out, _ = cli("audit", "verify")
    assert code == 0 and out.startswith("ok: 2 entries")
    node = open_node(load_settings(env={}, overrides={"home": cli.home, "database_url": cli.database_url}))
    try:
        with node.db.engine.begin() as connection:
            if node.db.dialect == "sqlite":
                connection.exec_driver_sql("DROP TRIGGER audit_entries_no_update")
            else:
                connection.exec_driver_sql("DROP TRIGGER audit_entries_append_only ON audit_entries")
            connection.execute(text('UPDATE audit_entries SET details = \'{"name":"Forged"}\' WHERE seq = 1'))
    finally:
        node.close()
    code, _out, err = cli("audit", "verify")
    assert code == 1
    assert err.startswith("BROKEN at entry 1: entry_hash")


def test_audit_export_writes_json_lines_and_records_itself(cli, tmp_path: Path) -> None:
    _initialised(cli)
    cli("party", "add", "CSA", "--kind", "cert", "--country", "GH")
    target = tmp_path / "audit.jsonl"
    code, out, _ = cli("audit", "export", "--out", str(target), "--purpose", "court order 12/2026")
    assert code == 0 and "exported 2 entries" in out
    lines = target.read_text().splitlines()
    assert '"action": "audit.export"' in lines[1] and "court order 12/2026" in lines[1]
    code, _out, err = cli("audit", "export", "--out", str(target), "--purpose", "again")
    assert code == 2 and "File exists" in err
    code, _out, err = cli("audit", "export", "--out", str(tmp_path / "missing" / "x.jsonl"), "--purpose", "x")
    assert code == 2 and err.startswith("accord: --out: cannot create")
    code, out, _ = cli("audit", "verify")
    assert out.startswith("ok: 2 entries")  # party + one export: the failed exports left no entry


def test_signed_head_catches_a_log_cut_back_with_its_head(cli, tmp_path: Path) -> None:
    _initialised(cli)
    for name in ("CSA", "GPS", "EOCO"):
        cli("party", "add", name, "--kind", "cert", "--country", "GH")
    head_file = tmp_path / "head.json"
    code, out, _ = cli("audit", "head", "--out", str(head_file))
    assert code == 0 and "signed head 3" in out
    code, out, _ = cli("audit", "verify", "--head", str(head_file))
    assert code == 0 and "contains signed head 3" in out
    node = open_node(load_settings(env={}, overrides={"home": cli.home, "database_url": cli.database_url}))
    try:
        with node.db.engine.begin() as connection:  # an insider removes the last entry and rewinds the head
            if node.db.dialect == "sqlite":
                connection.exec_driver_sql("DROP TRIGGER audit_entries_no_delete")
            else:
                connection.exec_driver_sql("DROP TRIGGER audit_entries_append_only ON audit_entries")
            previous = connection.execute(text("SELECT entry_hash FROM audit_entries WHERE seq = 2")).scalar_one()
            connection.execute(text("DELETE FROM audit_entries WHERE seq = 3"))
            connection.execute(text("UPDATE audit_head SET seq = 2, entry_hash = :h"), {"h": previous})
    finally:
        node.close()
    code, out, _ = cli("audit", "verify")
    assert code == 0  # the chain alone cannot tell...
    code, _out, err = cli("audit", "verify", "--head", str(head_file))
    assert code == 1 and err.startswith("BROKEN at entry 3: signed_head")  # ...the signed head can
    forged = head_file.read_text().replace('"seq": 3', '"seq": 2')
    (tmp_path / "forged.json").write_text(forged)
    code, _out, err = cli("audit", "verify", "--head", str(tmp_path / "forged.json"))
    assert code == 1 and "signature does not verify" in err


def test_config_check_reports_sources_and_problems(cli) -> None:
    code, _out, err = cli("config", "check")
    assert code == 1 and "run accord init" in err
    _initialised(cli)
    code, out, _err = cli("config", "check")
    assert code == 0 and "config ok" in out
    assert "node_country = GH    [file " in out


def test_config_check_never_prints_a_database_password(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(
        ["--home", str(tmp_path), "--database-url", "postgresql+psycopg://u:s3cret@127.0.0.1:1/x", "config", "check"]
    )
    captured = capsys.readouterr()
    assert code == 1 and "problem: database" in captured.err
    assert "s3cret" not in captured.out + captured.err


def test_unreachable_or_foreign_databases_give_one_line_without_password(tmp_path: Path, capsys) -> None:
    home = tmp_path / "n"
    assert run(["--home", str(home), "init", "--name", "X", "--country", "VN"]) == 0
    capsys.readouterr()
    code = run(["--home", str(home), "--database-url", "postgresql://u:s3cret@127.0.0.1:1/x", "party", "list"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "unreachable" in err and "s3cret" not in err
    code = run(["--home", str(home), "--database-url", "mysql://bob:S3cretPW@db/x", "party", "list"])
    err = capsys.readouterr().err
    assert code == 1 and "S3cretPW" not in err and err.count("\n") == 1
    code = run(["--home", str(home), "--database-url", "garbage", "config", "check"])
    captured = capsys.readouterr()
    assert code == 1 and "<not a database URL>" in captured.out and "problem: database" in captured.err


def test_console_script_exit_code(tmp_path: Path) -> None:
    """The installed `accord` script returns run()'s code to the shell."""
    script = Path(sys.executable).parent / "accord"
    result = subprocess.run(
        [str(script), "--home", str(tmp_path), "party", "add"],
        capture_output=True,
        text=True,
        env={**os.environ, "ACCORD_DATABASE_URL": ""},
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1


def test_demo_seeds_three_countries_and_refuses_to_wipe_other_folders(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "demo"
    no_attack = tmp_path / "no-data"  # ATT&CK import is covered elsewhere; keep this test quick
    no_attack.mkdir()
    assert run(["demo", "--dir", str(folder), "--seed-only", "--data-dir", str(no_attack)]) == 0
    out = capsys.readouterr().out
    assert "Intelligence: 0 ATT&CK objects, 11 scam reports" in out
    logins = [line.split()[:2] for line in out.splitlines() if line.startswith("  ")]
    assert len(logins) == 7
    node = open_node(load_settings(env={}, overrides={"home": folder, "database_url": ""}))
    try:
        admin_name, admin_password = logins[0]
        admin = node.login.login(admin_name, admin_password, "127.0.0.1")
        assert {p.country for p in node.identity.list_parties(admin)} == {"VN", "PH", "GH", "SG"}
        assert node.audit.verify().entries > 19
        hits = node.intel.search(admin, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", Disclosure(purpose="test"))
        assert {hit.country for hit in hits.hits} == {"VN", "PH"}  # reported on both sides of a border
        items = node.evidence.items(admin, None, Disclosure(purpose="test"))
        assert sorted(item.source_kind for item in items) == ["provider-production", "seized-device", "seized-device"]
        assert node.evidence.custody.verify().events == 9
        package = next(folder.glob("*.zip"))
        assert verify_package(package).ok
        assert f"accord evidence verify {package}" in out
        outbox = node.cooperation_requests.listing(admin, "outbox", Disclosure(purpose="test"))
        by_type = {view.row.request_type: view.document() for view in outbox}
        assert by_type["preservation"]["hold"]["state"] == "mla_received"  # the MLA keeps it alive
        assert by_type["emergency_disclosure"]["state"] == "received"
        assert len(node.directory.entries(admin)) == 6
    finally:
        node.close()
    assert run(["demo", "--dir", str(folder), "--seed-only", "--data-dir", str(no_attack)]) == 0  # recreated
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("data")
    assert run(["demo", "--dir", str(precious), "--seed-only"]) == 2
    assert (precious / "keep.txt").exists()
