"""``accord audit verify`` and ``accord audit export``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, TextIO

import typer

from accord.audit.errors import AuditChainBroken
from accord.audit.service import Disclosure
from accord.cli.context import ctx_of, operator
from accord.errors import InvalidInput

audit_app = typer.Typer(help="The append-only audit log.", no_args_is_help=True)


@audit_app.command("verify")
def verify(ctx: typer.Context) -> None:
    """Recompute the hash chain. Exit 1 and name the first broken entry if anything was changed."""
    node = ctx_of(ctx).node()
    try:
        report = node.audit.verify()
    except AuditChainBroken as exc:
        typer.echo(f"BROKEN at entry {exc.seq}: {exc.field} is {exc.actual}, expected {exc.expected}", err=True)
        raise typer.Exit(1) from None
    finally:
        node.close()
    typer.echo(f"ok: {report.entries} entries, head {report.head_hash}")


@audit_app.command("export")
def export(
    ctx: typer.Context,
    out: Annotated[str, typer.Option(help="File to write JSON lines to, or '-' for standard output.")],
    purpose: Annotated[str, typer.Option(help="Why the log is exported (recorded in the log).")],
    legal_basis: Annotated[str | None, typer.Option(help="Legal basis of the export.")] = None,
) -> None:
    """Write every entry as JSON lines, oldest first. The export itself is recorded first."""
    target = None if out == "-" else Path(out)
    if target is not None and target.exists():
        raise InvalidInput("--out", f"{target} exists; refusing to overwrite")
    node = ctx_of(ctx).node()
    actor = operator()
    try:
        node.audit.record(
            actor.audit_ref(),
            "audit.export",
            object_type="audit",
            disclosure=Disclosure(purpose=purpose, legal_basis=legal_basis),
            details={"to": out},
        )
        count = 0
        with node.db.reading() as session:
            handle: TextIO = sys.stdout if target is None else target.open("x", encoding="utf-8")
            try:
                for record in node.audit.iter_all(session):
                    row = {**record.__dict__, "at": record.at.isoformat()}
                    handle.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
                    count += 1
            finally:
                if target is not None:
                    handle.close()
    finally:
        node.close()
    if target is not None:
        typer.echo(f"exported {count} entries to {target}")
