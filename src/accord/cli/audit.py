"""``accord audit verify``, ``accord audit head`` and ``accord audit export``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, TextIO

import typer

from accord.audit.errors import AuditChainBroken
from accord.audit.heads import check_signed_head, sign_head
from accord.audit.service import Disclosure, Outcome
from accord.cli.context import ctx_of, operator
from accord.errors import InvalidInput

audit_app = typer.Typer(help="The append-only audit log.", no_args_is_help=True)
MAX_HEAD_FILE = 64 * 1024


def _read_head_file(path: Path) -> object:
    try:
        with path.open("rb") as handle:
            return json.loads(handle.read(MAX_HEAD_FILE))
    except (OSError, ValueError) as exc:
        raise InvalidInput("--head", f"cannot read {path}: {exc}") from None


@audit_app.command("verify")
def verify(
    ctx: typer.Context,
    head: Annotated[
        Path | None,
        typer.Option(help="A signed head saved earlier by `accord audit head`; it must still be in the log."),
    ] = None,
) -> None:
    """Recompute the hash chain. Exit 1 and name the first broken entry if anything was changed."""
    document = _read_head_file(head) if head is not None else None
    node = ctx_of(ctx).node()
    try:
        expected = check_signed_head(document, node.keys.public_raw) if document is not None else None
        report = node.audit.verify(expected)
    except AuditChainBroken as exc:
        typer.echo(f"BROKEN at entry {exc.seq}: {exc.field} is {exc.actual}, expected {exc.expected}", err=True)
        raise typer.Exit(1) from None
    finally:
        node.close()
    checked = f", contains signed head {expected.seq}" if expected else ""
    typer.echo(f"ok: {report.entries} entries, head {report.head_hash}{checked}")


@audit_app.command("head")
def head(
    ctx: typer.Context,
    out: Annotated[Path | None, typer.Option(help="Write the signed head here (default: standard output).")] = None,
) -> None:
    """Print the newest sequence number and hash, signed with the node key. Keep it where the database
    administrator cannot write; `accord audit verify --head FILE` later proves the log was not rewritten."""
    node = ctx_of(ctx).node()
    try:
        node.audit.verify()  # never sign a head over a chain that is already broken
        signed = sign_head(node.keys, node.audit.head(), node.clock.now())
    except AuditChainBroken as exc:
        typer.echo(f"BROKEN at entry {exc.seq}: {exc.field}; refusing to sign", err=True)
        raise typer.Exit(1) from None
    finally:
        node.close()
    text = json.dumps(signed.as_json(), indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        with out.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise InvalidInput("--out", f"cannot write {out}: {exc.strerror or exc}") from None
    typer.echo(f"signed head {signed.seq} written to {out}")


@audit_app.command("export")
def export(
    ctx: typer.Context,
    out: Annotated[str, typer.Option(help="File to write JSON lines to, or '-' for standard output.")],
    purpose: Annotated[str, typer.Option(help="Why the log is exported (recorded in the log).")],
    legal_basis: Annotated[str | None, typer.Option(help="Legal basis of the export.")] = None,
) -> None:
    """Write every entry as JSON lines, oldest first. The export itself is recorded first."""
    disclosure = Disclosure(purpose=purpose, legal_basis=legal_basis)
    handle: TextIO
    if out == "-":
        handle = sys.stdout
    else:
        try:  # open first: a failed export must not leave an "exported" entry behind
            handle = Path(out).open("x", encoding="utf-8")
        except OSError as exc:
            raise InvalidInput("--out", f"cannot create {out}: {exc.strerror or exc}") from None
    node = ctx_of(ctx).node()
    actor = operator()
    count = 0
    try:
        node.audit.record(
            actor.audit_ref(), "audit.export", object_type="audit", disclosure=disclosure, details={"to": out}
        )
        with node.db.reading() as session:
            for record in node.audit.iter_all(session):
                row = {**record.__dict__, "at": record.at.isoformat()}
                handle.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
                count += 1
    except OSError as exc:
        node.audit.record(
            actor.audit_ref(),
            "audit.export",
            object_type="audit",
            disclosure=disclosure,
            outcome=Outcome.FAILED,
            details={"to": out, "written": count, "error": exc.strerror or type(exc).__name__},
        )
        raise InvalidInput("--out", f"writing {out} failed after {count} entries: {exc.strerror or exc}") from None
    finally:
        node.close()
        if handle is not sys.stdout:
            handle.close()
    if out != "-":
        typer.echo(f"exported {count} entries to {out}")
