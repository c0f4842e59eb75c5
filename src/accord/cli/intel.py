"""``accord intel import`` (streaming, any size) and ``accord intel export``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Annotated, Any

import ijson
import typer

from accord.audit.service import Disclosure
from accord.cli.context import ctx_of, operator
from accord.errors import InvalidInput
from accord.intel.errors import InvalidBundle
from accord.intel.pipeline import worker_count
from accord.intel.tabular import ColumnMap
from accord.intel.vocabulary import Tlp, parse_tlp

intel_app = typer.Typer(help="STIX 2.1 intelligence.", no_args_is_help=True)
MAX_FAILURES_SHOWN = 20


class _Progress:
    """A file wrapper that moves a progress bar as bytes are read (ijson reads in chunks)."""

    def __init__(self, handle: IO[bytes], bar: Any) -> None:
        self._handle = handle
        self._bar = bar

    def read(self, size: int = -1) -> bytes:
        chunk = self._handle.read(size)
        self._bar.update(len(chunk))
        return chunk


def _objects(path: Path, bar: Any) -> Iterator[Any]:
    """The bundle's objects one at a time: a 500 MB bundle never sits whole in memory."""
    try:
        with path.open("rb") as handle:
            yield from ijson.items(_Progress(handle, bar), "objects.item", use_float=True)
    except ijson.JSONError as exc:
        raise InvalidBundle(f"{path}: {exc}") from None


MAX_MISP_FILE = 200 * 1024 * 1024  # MISP events are read whole; bigger ones should be split


def _read_json(path: Path) -> Any:
    if path.stat().st_size > MAX_MISP_FILE:
        raise InvalidInput("FILES", f"{path} is larger than {MAX_MISP_FILE // (1024 * 1024)} MiB")
    try:
        return json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidBundle(f"{path}: {exc}") from None


@intel_app.command("import")
def import_files(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="STIX 2.1 bundle files.", exists=True, dir_okay=False)],
    party: Annotated[str, typer.Option(help="The party (name or id) that owns this intelligence.")],
    tlp: Annotated[
        str | None, typer.Option(help="TLP for objects without a marking (default: intel_default_tlp).")
    ] = None,
    misp: Annotated[bool, typer.Option("--misp", help="The files are MISP event JSON, not STIX bundles.")] = False,
    sharing_group: Annotated[
        str | None, typer.Option(help="Share with this sharing group's parties instead of the TLP community.")
    ] = None,
) -> None:
    """Import bundles (or MISP events); prints a line per file and the first failures with their object ids."""
    try:
        chosen: Tlp | None = parse_tlp(tlp) if tlp else None
    except ValueError:
        raise InvalidInput("--tlp", "one of clear, green, amber, amber+strict, red") from None
    node = ctx_of(ctx).node()
    failed = 0
    try:
        owner = node.identity.get_party(party).id  # a wrong party fails before any progress bar is drawn
        for path in files:
            if misp:
                report, skipped = node.intel.import_misp_event(
                    operator(), _read_json(path), tlp=chosen, owner=owner, source=f"misp file {path.name}"
                )
                if skipped:
                    kinds = ", ".join(sorted({item["type"] for item in skipped}))
                    typer.echo(f"  {len(skipped)} attributes have no STIX equivalent: {kinds[:200]}")
            else:
                with typer.progressbar(length=path.stat().st_size, label=path.name, file=sys.stderr) as bar:
                    report = node.intel.import_objects(
                        operator(),
                        _objects(path, bar),
                        tlp=chosen,
                        owner=owner,
                        sharing_group=sharing_group,
                        source=f"file {path.name}",
                        workers=worker_count(node.settings.intel_import_workers, path.stat().st_size),
                    )
            typer.echo(
                f"{path}: {report.total} objects, {len(report.successes) - report.duplicates} stored, "
                f"{report.duplicates} already known, {len(report.failures)} failed"
            )
            for failure in report.failures[:MAX_FAILURES_SHOWN]:
                typer.echo(f"  {failure['id']}: {failure['message']}", err=True)
            failed += len(report.failures)
    finally:
        node.close()
    if failed:
        raise typer.Exit(1)


@intel_app.command("import-csv")
def import_csv(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="UTF-8 CSV with a header row.", exists=True, dir_okay=False)],
    party: Annotated[str, typer.Option(help="The party (name or id) that reports these identifiers.")],
    value_column: Annotated[str, typer.Option(help="Column (name or 1-based number) holding the identifier.")],
    kind: Annotated[str | None, typer.Option(help="Kind for every row, e.g. phone-number (default: detect).")] = None,
    kind_column: Annotated[str | None, typer.Option(help="Column naming each row's kind.")] = None,
    name_column: Annotated[str | None, typer.Option(help="Column with a short description of each report.")] = None,
    tlp: Annotated[str | None, typer.Option(help="TLP of the reports (default: intel_default_tlp).")] = None,
) -> None:
    """Import a list of identifiers (phone numbers, accounts, wallets, URLs...) reported in a CSV."""
    try:
        chosen: Tlp | None = parse_tlp(tlp) if tlp else None
    except ValueError:
        raise InvalidInput("--tlp", "one of clear, green, amber, amber+strict, red") from None
    columns = ColumnMap(value=value_column, kind=kind, kind_column=kind_column, name_column=name_column)
    node = ctx_of(ctx).node()
    try:
        owner = node.identity.get_party(party).id
        with file.open(encoding="utf-8-sig", newline="") as handle:
            try:
                report = node.intel.import_identifiers(
                    operator(), handle, columns, tlp=chosen, owner=owner, source=f"csv {file.name}"
                )
            except UnicodeDecodeError:
                raise InvalidInput("FILE", "CSV must be UTF-8") from None
    finally:
        node.close()
    typer.echo(
        f"{file}: {report.total} rows, {len(report.successes) - report.duplicates} stored, "
        f"{report.duplicates} already known, {len(report.failures)} refused"
    )
    for failure in report.failures[:MAX_FAILURES_SHOWN]:
        typer.echo(f"  {failure['id']}: {failure['message']}", err=True)
    if report.failures:
        raise typer.Exit(1)


group_app = typer.Typer(help="Sharing groups: named sets of parties to share intelligence with.", no_args_is_help=True)
intel_app.add_typer(group_app, name="group")


@group_app.command("add")
def group_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name of the group, e.g. 'Mekong scam-compound task force'.")],
    party: Annotated[list[str], typer.Option(help="Member party (name or id); repeatable.")],
) -> None:
    """Create a sharing group."""
    node = ctx_of(ctx).node()
    try:
        group = node.intel.create_sharing_group(operator(), name, party)
    finally:
        node.close()
    typer.echo(f"{group['id']}\t{group['name']}\t{len(group['parties'])} parties")


@group_app.command("list")
def group_list(ctx: typer.Context) -> None:
    """List sharing groups with their member party ids."""
    node = ctx_of(ctx).node()
    try:
        for group in node.intel.list_sharing_groups(operator()):
            typer.echo(f"{group['id']}\t{group['name']}\t{','.join(group['parties'])}")
    finally:
        node.close()


@intel_app.command("export")
def export(
    ctx: typer.Context,
    out: Annotated[str, typer.Option(help="Bundle file to write, or '-' for standard output.")],
    purpose: Annotated[str, typer.Option(help="Why the intelligence is exported (audited).")],
    type_: Annotated[list[str] | None, typer.Option("--type", help="Only these STIX types; repeatable.")] = None,
    misp: Annotated[bool, typer.Option("--misp", help="Write indicators as one MISP event instead.")] = False,
) -> None:
    """Write the latest version of every object as one STIX 2.1 bundle, or a MISP event (never overwriting)."""
    handle: IO[str]
    if out == "-":
        handle = sys.stdout
    else:
        try:
            handle = Path(out).open("x", encoding="utf-8")
        except OSError as exc:
            raise InvalidInput("--out", f"cannot create {out}: {exc.strerror or exc}") from None
    node = ctx_of(ctx).node()
    count = 0
    try:
        if misp:
            event = node.intel.export_misp_event(operator(), Disclosure(purpose=purpose), types=type_)
            handle.write(json.dumps(event, ensure_ascii=False, indent=1) + "\n")
            count = len(event["Event"]["Attribute"])
        else:
            objects = node.intel.export(operator(), Disclosure(purpose=purpose), types=type_)
            handle.write(f'{{"type": "bundle", "id": "{node.ids.new_id("bundle")}", "objects": [\n')
            for item in objects:
                handle.write(("," if count else "") + json.dumps(item, ensure_ascii=False) + "\n")
                count += 1
            handle.write("]}\n")
    finally:
        node.close()
        if handle is not sys.stdout:
            handle.close()
    if out != "-":
        typer.echo(f"exported {count} {'attributes' if misp else 'objects'} to {out}")
