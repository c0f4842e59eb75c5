"""``accord party``, ``accord user``, ``accord token``: the directory and credentials, from the node's shell."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from accord.audit.service import Disclosure
from accord.cli.context import ctx_of, operator
from accord.errors import InvalidInput
from accord.identity.vocabulary import PartyKind, Role, Scope

party_app = typer.Typer(help="Organisations (parties) known to this node.", no_args_is_help=True)
user_app = typer.Typer(help="User accounts.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
MAX_STDIN_PASSWORD = 1024


@party_app.command("add")
def party_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Full name of the organisation.")],
    kind: Annotated[str, typer.Option(help=f"One of: {', '.join(PartyKind)}.")],
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2 code, e.g. VN.")],
    contact: Annotated[
        str | None,
        typer.Option(help="Point of contact other parties see on a match, e.g. '24/7 desk, +84 ..., a05@...'."),
    ] = None,
) -> None:
    """Register an organisation."""
    node = ctx_of(ctx).node()
    try:
        party = node.identity.add_party(operator(), name, kind, country, contact=contact)
    finally:
        node.close()
    typer.echo(f"{party.id}\t{party.name}\t{party.kind}\t{party.country}")


@party_app.command("set-contact")
def party_set_contact(
    ctx: typer.Context,
    party: Annotated[str, typer.Argument(help="Party name or id.")],
    contact: Annotated[str, typer.Argument(help="Point of contact (at most 300 characters); '' clears it.")],
) -> None:
    """Set the point of contact that lookups name when a match is one the asking party may not see."""
    node = ctx_of(ctx).node()
    try:
        view = node.identity.set_party_contact(operator(), party, contact)
    finally:
        node.close()
    typer.echo(f"{view.name}: {view.contact or '(no contact)'}")


@party_app.command("list")
def party_list(ctx: typer.Context) -> None:
    """List organisations: id, name, kind, country."""
    node = ctx_of(ctx).node()
    try:
        for party in node.identity.list_parties(operator()):
            typer.echo(f"{party.id}\t{party.name}\t{party.kind}\t{party.country}")
    finally:
        node.close()


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Login name: a-z, 0-9, '.', '_', '-'.")],
    party: Annotated[str, typer.Option(help="Party name or id.")],
    role: Annotated[list[str], typer.Option(help=f"Role, repeatable: {', '.join(Role)}.")],
    display_name: Annotated[str | None, typer.Option(help="Full name.")] = None,
    email: Annotated[str | None, typer.Option(help="E-mail address.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input instead of generating one.")
    ] = False,
) -> None:
    """Create a user. The generated password is printed once; only its argon2 hash is kept."""
    password = None
    if password_stdin:
        password = sys.stdin.readline(MAX_STDIN_PASSWORD + 1).rstrip("\r\n")
        if not password:
            raise InvalidInput("--password-stdin", "no password on standard input")
    node = ctx_of(ctx).node()
    try:
        user, generated = node.identity.add_user(
            operator(), username, party, role, display_name=display_name, email=email, password=password
        )
    finally:
        node.close()
    typer.echo(f"created {user.username} ({', '.join(user.roles)}) in {user.party.name}")
    if generated:
        typer.echo(f"password: {generated}")


@user_app.command("list")
def user_list(
    ctx: typer.Context,
    purpose: Annotated[str, typer.Option(help="Why you read this personal data (audited).")] = "user administration",
    legal_basis: Annotated[str | None, typer.Option(help="Legal basis of the read (audited).")] = None,
) -> None:
    """List users: user name, full name, party, roles. The read is audited."""
    node = ctx_of(ctx).node()
    try:
        users = node.identity.list_users(operator(), Disclosure(purpose=purpose, legal_basis=legal_basis))
    finally:
        node.close()
    for user in users:
        state = "" if user.is_active else "\tinactive"
        typer.echo(f"{user.username}\t{user.display_name}\t{user.party.name}\t{','.join(user.roles)}{state}")


def _set_active(ctx: typer.Context, username: str, active: bool) -> None:
    node = ctx_of(ctx).node()
    try:
        user = node.identity.set_user_active(operator(), username, active, Disclosure(purpose="user administration"))
    finally:
        node.close()
    typer.echo(f"{user.username} is now {'active' if user.is_active else 'deactivated'}")


@user_app.command("disable")
def user_disable(ctx: typer.Context, username: Annotated[str, typer.Argument(help="The user to deactivate.")]) -> None:
    """Deactivate a user: their sessions end and their tokens stop working at once. Nothing is deleted."""
    _set_active(ctx, username, False)


@user_app.command("enable")
def user_enable(ctx: typer.Context, username: Annotated[str, typer.Argument(help="The user to reactivate.")]) -> None:
    """Reactivate a deactivated user."""
    _set_active(ctx, username, True)


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="The user the token acts as.")],
    name: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
    scope: Annotated[list[str] | None, typer.Option(help=f"Scope, repeatable: {', '.join(Scope)}.")] = None,
    days: Annotated[int | None, typer.Option(help="Lifetime in days (default from settings).")] = None,
) -> None:
    """Issue an API token and print only the token (so it can be piped into a secret store)."""
    node = ctx_of(ctx).node()
    try:
        _view, secret = node.identity.create_token(operator(), username, name, scope or [Scope.READ], days)
    finally:
        node.close()
    typer.echo(secret)
