"""``accord sync PEER`` and ``accord peer policy|preview|status``: what this node shares with each peer, and
intelligence sync by hand (``accord serve`` also syncs on its own)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import requests
import typer

from accord.cli.context import ctx_of, operator
from accord.cli.peer import peer_app
from accord.errors import InvalidInput

MAX_POLICY_BYTES = 256 * 1024


@peer_app.command("policy")
def policy(
    ctx: typer.Context,
    node_id: Annotated[str, typer.Argument(help="The peer's node id.")],
    set_file: Annotated[
        Path | None, typer.Option("--set", help="Replace the peer's policy with this JSON file (rules).")
    ] = None,
    default: Annotated[bool, typer.Option("--default", help="Go back to the default policy.")] = False,
) -> None:
    """Show (or replace) what this node shares with a peer, as JSON rules."""
    if set_file is not None and default:
        raise InvalidInput("--set", "give --set FILE or --default, not both")
    document: object = None
    if set_file is not None:
        try:
            if set_file.stat().st_size > MAX_POLICY_BYTES:
                raise InvalidInput("--set", f"{set_file} is larger than a policy can be ({MAX_POLICY_BYTES} bytes)")
            document = json.loads(set_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInput("--set", f"{set_file}: {exc}") from None
    node = ctx_of(ctx).node()
    try:
        if set_file is not None or default:
            current = node.sharing.set_policy(operator(), node_id, document)
        else:
            node.federation.peer(node_id)  # NotFound for an unknown peer
            current = node.sharing.policy(node_id)
    finally:
        node.close()
    typer.echo(json.dumps(current.document(), indent=2, ensure_ascii=False))


@peer_app.command("preview")
def preview(
    ctx: typer.Context,
    node_id: Annotated[str, typer.Argument(help="The peer's node id.")],
    items: Annotated[int, typer.Option(help="How many objects to list (0-1000).", min=0, max=1000)] = 20,
    shared: Annotated[
        bool | None, typer.Option("--shared/--withheld", help="List only shared, or only withheld, objects.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole preview as JSON.")] = False,
) -> None:
    """Exactly what the peer would receive under its policy, and why each object is in or out."""
    node = ctx_of(ctx).node()
    try:
        result = node.sharing.preview(operator(), node_id, items=items, only=shared).document()
    finally:
        node.close()
    if as_json:
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    typer.echo(f"{result['shared']} of {result['total']} objects would be shared with {node_id}")
    for reason in result["reasons"]:
        mark = "in " if reason["shared"] else "out"
        typer.echo(f"  {mark} {reason['objects']:>8}  {reason['reason']}")
    for entry in result["items"]:
        mark = "in " if entry["shared"] else "out"
        typer.echo(f"{mark} {entry['id']}\t{entry['tlp']}\t{entry['reason']}")


@peer_app.command("status")
def status(ctx: typer.Context) -> None:
    """Per peer: last sync attempt and success, objects received, how far behind, failures and the last error."""
    node = ctx_of(ctx).node()
    try:
        states = node.intel_sync.status(operator())
    finally:
        node.close()
    for state in states:
        success = state.last_success_at.isoformat() if state.last_success_at else "never"
        behind = "?" if state.behind is None else str(state.behind)
        error = f"\t{state.last_error}" if state.last_error else ""
        typer.echo(
            f"{state.node_id}\t{state.status}\tlast success {success}\treceived {state.objects_received}"
            f"\tbehind {behind}\tfailures {state.failures}{error}"
        )


def sync(
    ctx: typer.Context,
    node_id: Annotated[str, typer.Argument(help="The peer's node id.")],
    pull: Annotated[bool, typer.Option("--pull/--no-pull", help="Fetch what the peer shares with us.")] = True,
    push: Annotated[bool, typer.Option("--push/--no-push", help="Send what our policy shares with it.")] = True,
) -> None:
    """Sync intelligence with a peer now (TAXII 2.1 both ways); resumes where the last sync stopped."""
    node = ctx_of(ctx).node()
    try:
        try:
            report = node.intel_sync.sync(node_id, pull=pull, push=push)
        except requests.RequestException as exc:
            typer.echo(f"accord: sync with {node_id} failed: {exc}", err=True)
            raise typer.Exit(1) from None
    finally:
        node.close()
    typer.echo(
        f"pulled {report.pulled} ({report.stored} new, {len(report.failed)} refused), pushed {report.pushed}, "
        f"{report.pages} pages in {report.seconds:.2f} s"
    )
    for failure in report.failed[:20]:
        typer.echo(f"refused {failure.get('id')}: {failure.get('message')}", err=True)
