"""``accord config check``: every setting with where it came from, and whether the node can run."""

from __future__ import annotations

import os
import stat

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from accord.cli.context import ctx_of
from accord.config import declared_settings, unknown_env_settings
from accord.errors import AccordError
from accord.identity.node_keys import PRIVATE_KEY_FILE, load_node_keys
from accord.node import load_warninglists
from accord.store import migrate
from accord.store.engine import make_engine

config_app = typer.Typer(help="Settings.", no_args_is_help=True)


def _shown(name: str, value: object) -> str:
    if name == "database_url" and value:
        try:
            return make_url(str(value)).render_as_string(hide_password=True)
        except ArgumentError:
            return "<not a database URL>"
    return str(value)


@config_app.command("check")
def check(ctx: typer.Context) -> None:
    """Print the effective settings and check the database, schema, node key and warninglists. Exit 1 on any
    problem."""
    settings = ctx_of(ctx).settings()  # an invalid value raises InvalidSetting: exit 2 with its name
    for spec in declared_settings():
        value = settings.effective_database_url if spec.name == "database_url" else getattr(settings, spec.name)
        typer.echo(f"{spec.name} = {_shown(spec.name, value)}    [{settings.sources.get(spec.name, 'default')}]")
    problems: list[str] = []
    warnings = [f"unknown variable {name} (typo?)" for name in unknown_env_settings(os.environ)]
    if not settings.node_name or not settings.node_country:
        problems.append("node_name/node_country not set: run accord init")
    try:
        engine = make_engine(settings.effective_database_url)
        try:
            if not migrate.is_up_to_date(engine):
                current, head = migrate.current_revision(engine), migrate.head_revision(engine)
                problems.append(f"database schema at {current}, code expects {head}: run accord init")
        finally:
            engine.dispose()
    except (SQLAlchemyError, AccordError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        problems.append(f"database: {reason[0] if reason else type(exc).__name__}")
    key_path = settings.home / PRIVATE_KEY_FILE
    try:
        load_node_keys(settings.home)
        if stat.S_IMODE(key_path.stat().st_mode) != 0o600:
            warnings.append(f"{key_path} mode is {stat.S_IMODE(key_path.stat().st_mode):o}, 600 is expected")
    except AccordError as exc:
        problems.append(str(exc))
    try:
        lists = load_warninglists(settings)
        typer.echo(f"warninglists: {len(lists)} loaded")
    except AccordError as exc:
        problems.append(str(exc))
    for line in warnings:
        typer.echo(f"warning: {line}", err=True)
    for line in problems:
        typer.echo(f"problem: {line}", err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo("config ok")
