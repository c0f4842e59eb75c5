"""``accord evidence``: register files, record custody, export and import packages, verify them offline."""

from __future__ import annotations

import json
import mimetypes
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from accord.audit.service import Disclosure
from accord.cli.context import ctx_of, operator
from accord.errors import InvalidInput
from accord.evidence.checkpoint import CheckpointError, parse_vkey, vkey
from accord.evidence.report import package_report_pdf
from accord.evidence.service import MANUAL_EVENTS, SOURCE_KINDS, ItemMetadata
from accord.evidence.verify import KnownCheckpoint, verify_package
from accord.federation.evidence_transfer import transfers_of
from accord.identity.actor import Actor
from accord.node import Node, package_limits

evidence_app = typer.Typer(help="Electronic evidence: items, custody log, packages.", no_args_is_help=True)
log_app = typer.Typer(help="The custody log (RFC 9162 Merkle tree) of this node.", no_args_is_help=True)
evidence_app.add_typer(log_app, name="log")

ITEM_PREFIX = "evidence-item--"
PurposeOption = Annotated[str, typer.Option(help="Why (recorded in the custody log and the audit log).")]


def _acting_for(node: Node, party: str) -> Actor:
    """The operator, acting for one party: evidence is always held by a party."""
    view = node.identity.get_party(party)
    return replace(operator(), party_id=view.id, party_name=view.name, country=view.country)


def _when(value: str | None, field: str) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(field, f"not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise InvalidInput(field, "needs a UTC offset, e.g. 2026-11-20T09:30:00+07:00")
    return parsed


@evidence_app.command("add")
def add(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="Files to register.", exists=True, dir_okay=False)],
    case: Annotated[str, typer.Option(help="Case reference the items belong to.")],
    party: Annotated[str, typer.Option(help="The party (name or id) that holds the evidence.")],
    description: Annotated[str, typer.Option(help="What the file is.")],
    collector: Annotated[str, typer.Option(help="Who collected it (name, role).")],
    source_kind: Annotated[str, typer.Option(help=f"One of {', '.join(SOURCE_KINDS)}.")] = "seized-device",
    collected_at: Annotated[
        str | None, typer.Option(help="When it was collected, ISO 8601 with offset (default: now).")
    ] = None,
    place: Annotated[str | None, typer.Option(help="Where it was collected.")] = None,
    legal_basis: Annotated[str | None, typer.Option(help="Order, warrant or request it was obtained under.")] = None,
    request: Annotated[str | None, typer.Option(help="Id of the cooperation request it answers.")] = None,
    media_type: Annotated[str | None, typer.Option(help="Media type (default: guessed from the name).")] = None,
) -> None:
    """Hash each file while storing it and register it; prints one item id per file."""
    node = ctx_of(ctx).node()
    try:
        actor = _acting_for(node, party)
        when = _when(collected_at, "--collected-at")
        for path in files:
            meta = ItemMetadata(
                case_reference=case,
                description=description,
                source_kind=source_kind,
                collector=collector,
                collected_at=when,
                file_name=path.name,
                media_type=media_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream",
                place=place,
                legal_basis=legal_basis,
                request_id=request,
            ).checked()
            size = path.stat().st_size
            with (
                path.open("rb") as handle,
                typer.progressbar(length=size, label=path.name, file=sys.stderr) as bar,
            ):
                # A file that grows or shrinks while it is read is refused before anything is registered.
                item = node.evidence.add_file(actor, handle, meta, expected_size=size, progress=bar.update)
            typer.echo(item.id)
    finally:
        node.close()


@evidence_app.command("list")
def list_items(
    ctx: typer.Context,
    case: Annotated[str | None, typer.Option(help="Only this case.")] = None,
    purpose: PurposeOption = "evidence inventory",
) -> None:
    """Items held on this node: id, state, exhibit, SHA-256, size, file name."""
    node = ctx_of(ctx).node()
    try:
        for item in node.evidence.items(operator(), case, Disclosure(purpose=purpose)):
            typer.echo(
                f"{item.id}\t{item.state}\t{item.case_reference}\t{item.exhibit_number}\t{item.sha256}\t"
                f"{item.size_bytes}\t{item.file_name}"
            )
    finally:
        node.close()


@evidence_app.command("show")
def show(ctx: typer.Context, item_id: Annotated[str, typer.Argument()], purpose: PurposeOption = "review") -> None:
    """An item with its custody events, their inclusion proofs and the signed tree head, as JSON."""
    node = ctx_of(ctx).node()
    try:
        detail = node.evidence.item(operator(), item_id, Disclosure(purpose=purpose))
        typer.echo(json.dumps(detail.document(), indent=2, ensure_ascii=False))
    finally:
        node.close()


@evidence_app.command("event")
def event(
    ctx: typer.Context,
    item_id: Annotated[str, typer.Argument()],
    kind: Annotated[str, typer.Argument(help=f"One of {', '.join(MANUAL_EVENTS)}.")],
    purpose: PurposeOption,
    detail: Annotated[list[str] | None, typer.Option(help="KEY=VALUE recorded with the event; repeatable.")] = None,
) -> None:
    """Record a custody event (analysed, transferred, sealed, released); prints its log index."""
    details = {}
    for entry in detail or []:
        key, sep, value = entry.partition("=")
        if not sep:
            raise InvalidInput("--detail", f"expected KEY=VALUE, got {entry!r}")
        details[key] = value
    node = ctx_of(ctx).node()
    try:
        logged = node.evidence.record_event(operator(), item_id, kind, purpose, details)
        typer.echo(logged.seq)
    finally:
        node.close()


@evidence_app.command("copy")
def copy(ctx: typer.Context, item_id: Annotated[str, typer.Argument()], purpose: PurposeOption) -> None:
    """Make a working copy (the original can stay sealed); prints the copy's item id."""
    node = ctx_of(ctx).node()
    try:
        typer.echo(node.evidence.copy_item(operator(), item_id, purpose).id)
    finally:
        node.close()


@evidence_app.command("destroy")
def destroy(
    ctx: typer.Context,
    item_id: Annotated[str, typer.Argument()],
    decision: Annotated[str, typer.Option(help="The decision ordering destruction (reference, reason).")],
    approved_by: Annotated[str, typer.Option(help="The official who approved it.")],
) -> None:
    """Destroy an item's bytes by a recorded decision; its hash and history stay in the log."""
    node = ctx_of(ctx).node()
    try:
        logged = node.evidence.destroy_item(operator(), item_id, decision, approved_by)
        typer.echo(logged.seq)
    finally:
        node.close()


@evidence_app.command("export")
def export(
    ctx: typer.Context,
    what: Annotated[list[str], typer.Argument(help="Item ids, or one case reference.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The package file to write (.zip).")],
    purpose: PurposeOption = "transfer to a foreign authority",
    recipient: Annotated[str | None, typer.Option(help="Who the package is for.")] = None,
) -> None:
    """Write a BagIt package with custody proofs; prints the package id and the zip's SHA-256."""
    if output.exists():
        raise InvalidInput("--output", f"{output} exists; choose another name")
    items = [w for w in what if w.startswith(ITEM_PREFIX)]
    if items and len(items) != len(what):
        raise InvalidInput("WHAT", "give item ids or one case reference, not both")
    if not items and len(what) != 1:
        raise InvalidInput("WHAT", "give one case reference")
    node = ctx_of(ctx).node()
    try:
        result = node.evidence_packages.export(
            operator(),
            output,
            Disclosure(purpose=purpose),
            item_ids=items,
            case_reference=None if items else what[0],
            recipient=recipient,
        )
        typer.echo(f"{result.package_id}\t{result.sha256}\t{len(result.items)} items\t{result.events} events")
    finally:
        node.close()


def _known(paths: list[Path]) -> list[KnownCheckpoint]:
    known = []
    for path in paths:
        try:
            document = json.loads(path.read_text())
            origin, note = str(document["origin"]), str(document["signed_note"])
            _name, _id, public = parse_vkey(str(document["vkey"]))
        except (OSError, ValueError, KeyError, TypeError, CheckpointError) as exc:
            raise InvalidInput("--known-checkpoint", f"{path}: {exc}") from None
        known.append(KnownCheckpoint(note, origin, public))
    return known


@evidence_app.command("verify")
def verify(
    ctx: typer.Context,
    package: Annotated[Path, typer.Argument(help="The package (.zip).", exists=True, dir_okay=False)],
    known_checkpoint: Annotated[
        list[Path] | None,
        typer.Option(help="A checkpoint received earlier (JSON from 'accord evidence log checkpoint'); repeatable."),
    ] = None,
    witness: Annotated[
        list[str] | None, typer.Option(help="A witness's verifier key (vkey) whose cosignature is required.")
    ] = None,
    expect_node: Annotated[
        str | None, typer.Option(help="The sender's node id, as exchanged when peering or checked by phone.")
    ] = None,
) -> None:
    """Check a package offline (no database, no network): numbered steps, exit 0 only if all pass."""
    settings = ctx_of(ctx).settings()
    with typer.progressbar(length=package.stat().st_size, label="verifying", file=sys.stderr) as bar:
        report = verify_package(
            package,
            limits=package_limits(settings),
            known=_known(known_checkpoint or []),
            witnesses=witness or [],
            progress=bar.update,
            expect_nodes=[expect_node] if expect_node else [],
        )
    for line in report.lines():
        typer.echo(line)
    if not report.ok:
        failed = report.first_failure()
        typer.echo(f"accord: package NOT verified: {failed.line(len(report.steps)) if failed else ''}", err=True)
        raise typer.Exit(1)
    if report.pinned:
        typer.echo("package verified: every step passed")
    else:
        typer.echo(f"package verified: every step passed; signed by {report.node_id}, not pinned (--expect-node)")


@evidence_app.command("report")
def report(
    ctx: typer.Context,
    package: Annotated[Path, typer.Argument(help="The package (.zip).", exists=True, dir_okay=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="The PDF to write.")],
) -> None:
    """Verify a package and write the chain-of-custody report (PDF) for the court file; exit 1 if it fails."""
    settings = ctx_of(ctx).settings()
    verified = verify_package(package, limits=package_limits(settings))
    vkey_text = ""
    if verified.checkpoint is not None and verified.public_key is not None:
        vkey_text = vkey(verified.checkpoint.origin, verified.public_key)
    pdf = package_report_pdf(verified, vkey_text, datetime.now(UTC))
    temporary = output.with_name(output.name + ".part")
    temporary.write_bytes(pdf)
    temporary.replace(output)
    typer.echo(f"{output}: {len(pdf)} bytes; verification {'passed' if verified.ok else 'FAILED'}")
    if not verified.ok:
        raise typer.Exit(1)


@evidence_app.command("import")
def import_package(
    ctx: typer.Context,
    package: Annotated[Path, typer.Argument(help="The package (.zip).", exists=True, dir_okay=False)],
    party: Annotated[str, typer.Option(help="The party (name or id) receiving the evidence.")],
    purpose: PurposeOption = "evidence received from a foreign authority",
    expect_node: Annotated[
        str | None, typer.Option(help="The sender's node id, when the sender is not a peer of this node.")
    ] = None,
) -> None:
    """Verify a package from another node and register its items with a 'received' event."""
    node = ctx_of(ctx).node()
    try:
        result = node.evidence_packages.import_package(
            _acting_for(node, party), package, Disclosure(purpose=purpose), expected_node=expect_node
        )
        for line in result.report.lines():
            typer.echo(line)
        for item in result.items:
            typer.echo(item.id)
    finally:
        node.close()


@log_app.command("verify")
def log_verify(ctx: typer.Context) -> None:
    """Recompute the whole custody log: leaves, item chains, subtrees and every signed tree head."""
    node = ctx_of(ctx).node()
    try:
        report = node.evidence.custody.verify()
        typer.echo(
            f"custody log ok: {report.events} events, {report.subtrees} subtrees, "
            f"{report.checkpoints} signed heads, root {report.root_hash.hex()}"
        )
    finally:
        node.close()


@log_app.command("checkpoint")
def log_checkpoint(ctx: typer.Context) -> None:
    """Sign the log's current tree head; prints it as JSON (origin, vkey, signed note) to keep or send."""
    node = ctx_of(ctx).node()
    try:
        signed = node.evidence.checkpoint(operator())
        document = {
            "origin": signed.checkpoint.origin,
            "vkey": node.evidence.custody.vkey(),
            "tree_size": signed.checkpoint.tree_size,
            "root_hash": signed.checkpoint.root_hash.hex(),
            "signed_note": signed.note,
        }
        typer.echo(json.dumps(document, indent=2))
    finally:
        node.close()


@log_app.command("add-cosignature")
def log_add_cosignature(
    ctx: typer.Context,
    tree_size: Annotated[int, typer.Argument(help="Size of the signed head the witness cosigned.", min=0)],
    witness_key: Annotated[str, typer.Option(help="The witness's cosigner key (C2SP vkey, type 0x04).")],
    line: Annotated[str, typer.Option(help="The cosignature line the witness returned.")],
) -> None:
    """Keep a witness's cosignature on one of our signed heads, once it verifies; packages then carry it."""
    node = ctx_of(ctx).node()
    try:
        stored = node.evidence.add_cosignature(operator(), tree_size, witness_key, line)
    except CheckpointError as exc:
        raise InvalidInput("--line", str(exc)) from None
    finally:
        node.close()
    typer.echo(f"cosignature by {stored['witness']} on tree size {stored['tree_size']} kept")


# -- sending to peers (accord.federation.evidence_transfer) ----------------------------------------------------


def _peer_id(node: Node, peer: str) -> str:
    """A peer named by node id or by name (case-insensitive)."""
    for view in node.federation.peers(operator()):
        if peer in (view.node_id, view.name) or peer.casefold() == view.name.casefold():
            return view.node_id
    raise InvalidInput("--to", f"no peer {peer!r}; see accord peer list")


def _echo_sent(result: Any) -> None:
    typer.echo(f"delivered: {result.size} bytes, {result.bytes_resent} bytes resent")
    typer.echo(json.dumps(result.receipt, indent=2))
    if result.witness_error:
        typer.echo(f"accord: warning: the peer's cosignature was not kept: {result.witness_error}", err=True)


@evidence_app.command("send")
def send(
    ctx: typer.Context,
    what: Annotated[list[str], typer.Argument(help="Item ids, or one case reference.")],
    to: Annotated[str, typer.Option("--to", help="The peer (node id or name) to send to.")],
    purpose: PurposeOption = "transfer to a foreign authority",
    legal_basis: Annotated[str | None, typer.Option(help="The request or agreement the transfer answers.")] = None,
) -> None:
    """Export a package and send it to a peer in hashed chunks; prints the transfer id, then the peer's receipt."""
    items = [w for w in what if w.startswith(ITEM_PREFIX)]
    if (items and len(items) != len(what)) or (not items and len(what) != 1):
        raise InvalidInput("WHAT", "give item ids or one case reference")
    node = ctx_of(ctx).node()
    try:
        peer_id = _peer_id(node, to)
        transfers = transfers_of(node)
        peer = node.federation.peer(peer_id)
        actor = operator() if peer.own_party_id is None else _acting_for(node, peer.own_party_id)
        state = transfers.sender.prepare(
            actor,
            peer_id,
            item_ids=items,
            case_reference=None if items else what[0],
            purpose=purpose,
            legal_basis=legal_basis,
        )
        typer.echo(f"transfer {state['transfer_id']}")
        with typer.progressbar(length=state["size"], label="sending", file=sys.stderr) as bar:
            result = transfers.resume(actor, state["transfer_id"], bar.update)
        _echo_sent(result)
    finally:
        node.close()


@evidence_app.command("resume")
def resume(ctx: typer.Context, transfer_id: Annotated[str, typer.Argument(help="The transfer's id.")]) -> None:
    """Continue an interrupted send: only the chunks the peer does not hold yet are sent."""
    node = ctx_of(ctx).node()
    try:
        transfers = transfers_of(node)
        state = transfers.sender.spool.state(transfer_id)
        if state is None:
            raise InvalidInput("TRANSFER_ID", f"no outgoing transfer {transfer_id!r}; see accord evidence transfers")
        peer = node.federation.peer(state["peer"])
        actor = operator() if peer.own_party_id is None else _acting_for(node, peer.own_party_id)
        with typer.progressbar(length=state["size"], label="sending", file=sys.stderr) as bar:
            result = transfers.resume(actor, transfer_id, bar.update)
        _echo_sent(result)
    finally:
        node.close()


@evidence_app.command("transfers")
def transfers(ctx: typer.Context) -> None:
    """Outgoing and incoming evidence transfers: id, direction, peer, state, chunks held, size, last error."""
    node = ctx_of(ctx).node()
    try:
        for t in transfers_of(node).transfers():
            typer.echo(
                f"{t['transfer_id']}\t{t['direction']}\t{t.get('peer_name') or t['peer']}\t{t['status']}\t"
                f"{t['held_chunks']}/{t['chunks']} chunks\t{t['size']} bytes\t{t['updated_at']}\t"
                f"{t.get('last_error') or t.get('reason') or ''}"
            )
    finally:
        node.close()


@evidence_app.command("witness")
def witness(ctx: typer.Context, peer: Annotated[str, typer.Argument(help="The peer (node id or name).")]) -> None:
    """Check the peer's latest custody head against the last one seen, cosign it and send the cosignature back."""
    node = ctx_of(ctx).node()
    try:
        result = transfers_of(node).witness(operator(), _peer_id(node, peer))
    finally:
        node.close()
    since = f"consistent with size {result.previous_size}" if result.previous_size is not None else "first seen"
    typer.echo(f"cosigned {result.origin} at size {result.tree_size} (root {result.root_hash}; {since})")
