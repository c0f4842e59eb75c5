"""``accord peer``: invite another country's node, accept an invitation, list, suspend, resume, remove, ping."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import httpx
import typer

from accord.cli.context import ctx_of, operator
from accord.errors import InvalidInput

peer_app = typer.Typer(help="Peering with other Accord nodes.", no_args_is_help=True)


def _write_new(path: Path, document: dict[str, object]) -> None:
    if path.exists():
        raise InvalidInput("--output", f"{path} exists; choose another name")
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def _read(path: Path) -> object:
    try:
        if path.stat().st_size > 64 * 1024:
            raise InvalidInput("FILE", f"{path} is not a peering document (too large)")
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput("FILE", f"{path}: {exc}") from None


@peer_app.command("invite")
def invite(
    ctx: typer.Context,
    url: Annotated[str, typer.Option(help="This node's address as the peer will reach it, e.g. https://accord.a05.vn")],
    party: Annotated[str, typer.Option(help="The party (name or id) this node speaks for.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the invitation (JSON).")],
    days: Annotated[int, typer.Option(help="Days the invitation stays valid (1-30).")] = 7,
) -> None:
    """Write a signed invitation for another node; send it to them by any channel (it holds no secret)."""
    node = ctx_of(ctx).node()
    try:
        document = node.federation.invite(operator(), base_url=url, party=party, days=days)
        _write_new(output, document)
    finally:
        node.close()
    typer.echo(f"invitation {document['nonce']} written to {output} (valid {days} days)")


@peer_app.command("accept")
def accept(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="An invitation, or the acceptance answering one of ours.")],
    url: Annotated[str | None, typer.Option(help="This node's address (when accepting an invitation).")] = None,
    party: Annotated[str | None, typer.Option(help="The party this node speaks for (accepting an invitation).")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also write our acceptance here (to carry it by hand).")
    ] = None,
    send: Annotated[bool, typer.Option(help="Send our acceptance to the inviting node now.")] = True,
) -> None:
    """Peer with the node that wrote FILE. Accepting an invitation also answers it (online, or as a file)."""
    node = ctx_of(ctx).node()
    try:
        peer, reply = node.federation.accept(operator(), _read(file), base_url=url, party=party)
        typer.echo(f"peer {peer.node_id} ({peer.name}, {peer.country}) added")
        if reply is not None:
            if output is not None:
                _write_new(output, reply)
                typer.echo(f"acceptance written to {output}: on their node, run accord peer accept {output.name}")
            if send:
                try:
                    node.federation.deliver_acceptance(reply, peer.base_url)
                    typer.echo(f"acceptance delivered to {peer.base_url}: both nodes are now peered")
                except httpx.HTTPError as exc:
                    typer.echo(f"could not reach {peer.base_url} ({exc}); carry the acceptance by hand (-o)", err=True)
    finally:
        node.close()


@peer_app.command("list")
def list_peers(ctx: typer.Context) -> None:
    """Peers: node id, status, country, name, address."""
    node = ctx_of(ctx).node()
    try:
        for peer in node.federation.peers(operator()):
            typer.echo(f"{peer.node_id}\t{peer.status}\t{peer.country}\t{peer.name}\t{peer.base_url}")
    finally:
        node.close()


@peer_app.command("suspend")
def suspend(
    ctx: typer.Context,
    node_id: Annotated[str, typer.Argument()],
    reason: Annotated[str, typer.Option(help="Why (recorded in the audit log).")],
) -> None:
    """Refuse the peer's calls and send it nothing until resumed (nothing is deleted)."""
    node = ctx_of(ctx).node()
    try:
        node.federation.set_status(operator(), node_id, "suspended", reason)
    finally:
        node.close()
    typer.echo(f"peer {node_id} suspended")


@peer_app.command("resume")
def resume(ctx: typer.Context, node_id: Annotated[str, typer.Argument()]) -> None:
    """Accept the peer's calls again."""
    node = ctx_of(ctx).node()
    try:
        node.federation.set_status(operator(), node_id, "active")
    finally:
        node.close()
    typer.echo(f"peer {node_id} active")


@peer_app.command("remove")
def remove(ctx: typer.Context, node_id: Annotated[str, typer.Argument()]) -> None:
    """Forget a peer (peer again with a new invitation)."""
    node = ctx_of(ctx).node()
    try:
        node.federation.remove(operator(), node_id)
    finally:
        node.close()
    typer.echo(f"peer {node_id} removed")


@peer_app.command("ping")
def ping(ctx: typer.Context, node_id: Annotated[str, typer.Argument()]) -> None:
    """A signed call to the peer: proves both nodes know each other's keys; exit 1 if refused."""
    node = ctx_of(ctx).node()
    try:
        try:
            response = node.federation.call(node_id, "GET", "/federation/v1/hello")
        except httpx.HTTPError as exc:
            typer.echo(f"accord: cannot reach the peer: {exc}", err=True)
            raise typer.Exit(1) from None
    finally:
        node.close()
    if response.status_code != 200:
        typer.echo(f"accord: the peer refused the call ({response.status_code}): {response.text[:200]}", err=True)
        raise typer.Exit(1)
    answer = response.json()
    typer.echo(f"{answer['node_id']} ({answer['name']}, {answer['country']}) knows this node as {answer['you']}")


@peer_app.command("outbox")
def outbox(
    ctx: typer.Context,
    node_id: Annotated[str | None, typer.Argument(help="Only this peer's envelopes.")] = None,
) -> None:
    """Envelopes not delivered yet, per peer: status, kind, attempts, next attempt, last error."""
    node = ctx_of(ctx).node()
    try:
        items = node.envelopes.outbox(operator(), node_id)
    finally:
        node.close()
    if not items:
        typer.echo("outbox empty: every envelope has its receipt")
    for item in items:
        typer.echo(
            f"{item.peer_node_id}\t{item.peer_name}\t{item.status}\t{item.kind}\t{item.envelope_id}\t"
            f"attempts={item.attempts}\tnext={item.next_attempt_at.isoformat()}\t{item.last_error or ''}"
        )


@peer_app.command("deliver")
def deliver(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="At most this many envelopes (1-10000).", min=1, max=10_000)] = 100,
) -> None:
    """Deliver due envelopes to active peers now (the server does this in the background); exit 1 if any failed."""
    node = ctx_of(ctx).node()
    try:
        report = node.envelopes.deliver_due(limit)
    finally:
        node.close()
    typer.echo(f"delivered {report.delivered}, to retry {report.retrying}, refused by the peer {report.refused}")
    if report.retrying or report.refused:
        raise typer.Exit(1)
