"""What every command gets from the global flags: how to load settings, and the local operator."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from accord.config import Settings, load_settings
from accord.errors import InvalidInput
from accord.identity.actor import Actor, operator_actor
from accord.node import Node, open_node


@dataclass
class CliContext:
    overrides: dict[str, Any] = field(default_factory=dict)
    config_file: Path | None = None
    verbose: bool = False

    def settings(self, **extra: Any) -> Settings:
        return load_settings(overrides={**self.overrides, **extra}, config_file=self.config_file)

    def node(self) -> Node:
        return open_node(self.settings())


def parse_setting_flags(values: list[str]) -> dict[str, str]:
    parsed = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InvalidInput("--setting", f"expected NAME=VALUE, got {item!r}")
        parsed[name.strip().replace("-", "_")] = value
    return parsed


def ctx_of(ctx: typer.Context) -> CliContext:
    obj = ctx.find_root().obj
    if not isinstance(obj, CliContext):  # pragma: no cover - the root callback always sets it
        raise RuntimeError("CLI context missing")
    return obj


def operator() -> Actor:
    """The person at this machine's shell. They can read the node's files anyway, so they act as admin."""
    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        login = str(os.getuid())
    return operator_actor(login)
