"""``accord init`` and ``accord node show``."""

from __future__ import annotations

from typing import Annotated

import typer

from accord.cli.context import ctx_of
from accord.identity.node_keys import load_node_keys
from accord.node import init_node

node_app = typer.Typer(help="This node's identity.", no_args_is_help=True)


def init(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="Human name of the node, e.g. 'Viet Nam - A05 cybercrime unit'.")],
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2 country of the node.")],
) -> None:
    """Create a node in HOME: config file, Ed25519 key pair (mode 0600), database schema. Safe to re-run."""
    settings = ctx_of(ctx).settings()
    result = init_node(settings, name, country)
    key_note = "created" if result.created_key else "kept existing"
    typer.echo(f"node {result.node_id} in {result.home} (key {key_note}, schema {result.schema_revision})")
    typer.echo("next: accord user add NAME --party PARTY --role admin, then accord serve")


@node_app.command("show")
def show(ctx: typer.Context) -> None:
    """Print the node id, name, country and public key."""
    settings = ctx_of(ctx).settings()
    keys = load_node_keys(settings.home)
    typer.echo(f"node id:  {keys.node_id}")
    typer.echo(f"name:     {settings.node_name}")
    typer.echo(f"country:  {settings.node_country}")
    typer.echo(f"home:     {settings.home}")
    typer.echo("public key:")
    typer.echo(keys.public_pem.rstrip())
