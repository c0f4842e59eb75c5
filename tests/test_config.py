"""Settings: declared once, read from defaults < file < environment < flags, every one documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.config import InvalidSetting, declared_settings, load_settings, unknown_env_settings

DOCS = Path(__file__).parents[1] / "docs" / "configuration.md"


def test_defaults_put_everything_in_the_working_directory(tmp_path: Path) -> None:
    settings = load_settings(env={}, cwd=tmp_path)
    assert settings.home == tmp_path.resolve()
    assert settings.effective_database_url == f"sqlite:///{tmp_path.resolve() / 'accord.db'}"
    assert settings.port == 8000 and settings.sources["port"] == "default"


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    (tmp_path / "accord.toml").write_text('port = 9001\nnode_name = "From file"\nlogin_max_failures = 3\n')
    env = {"ACCORD_HOME": str(tmp_path), "ACCORD_PORT": "9002", "ACCORD_NODE_NAME": "From env"}
    settings = load_settings(env=env, overrides={"port": "9003"})
    assert (settings.port, settings.node_name, settings.login_max_failures) == (9003, "From env", 3)
    assert settings.sources["port"] == "command line"
    assert settings.sources["node_name"] == "environment ACCORD_NODE_NAME"
    assert settings.sources["login_max_failures"].startswith("file ")


@pytest.mark.parametrize(
    ("env", "overrides", "name"),
    [
        ({"ACCORD_PORT": "eighty"}, {}, "port"),
        ({"ACCORD_PORT": "70000"}, {}, "port"),
        ({"ACCORD_COOKIE_SECURE": "sometimes"}, {}, "cookie_secure"),
        ({"ACCORD_TRUST_PROXY_HEADERS": "maybe"}, {}, "trust_proxy_headers"),
        ({}, {"no_such_setting": "1"}, "no_such_setting"),
    ],
)
def test_bad_values_name_the_setting_and_source(tmp_path: Path, env, overrides, name: str) -> None:
    with pytest.raises(InvalidSetting) as caught:
        load_settings(env=env, overrides=overrides, cwd=tmp_path)
    assert caught.value.name == name


def test_unknown_key_in_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "accord.toml").write_text("prot = 80\n")
    with pytest.raises(InvalidSetting) as caught:
        load_settings(env={}, cwd=tmp_path)
    assert caught.value.name == "prot" and caught.value.source.startswith("file ")


def test_broken_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "accord.toml").write_text("port = = 1\n")
    with pytest.raises(InvalidSetting) as caught:
        load_settings(env={}, cwd=tmp_path)
    assert caught.value.name == "config"


def test_typo_in_environment_is_reported() -> None:
    assert unknown_env_settings({"ACCORD_PROT": "1", "ACCORD_PORT": "2", "HOME": "/"}) == ["ACCORD_PROT"]


def test_every_setting_is_documented_with_its_variable() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for spec in declared_settings():
        assert f"`{spec.name}`" in text, spec.name
        assert f"ACCORD_{spec.name.upper()}" in text, spec.name


def test_every_cli_command_is_documented() -> None:
    import typer

    from accord.cli.main import app

    text = (Path(__file__).parents[1] / "docs" / "cli.md").read_text(encoding="utf-8")
    group = typer.main.get_command(app)
    commands = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        sub = getattr(command, "commands", None)
        commands.extend([f"accord {name} {child}" for child in sub] if sub else [f"accord {name}"])
    assert len(commands) >= 12
    for command in commands:
        assert f"`{command}" in text, command
