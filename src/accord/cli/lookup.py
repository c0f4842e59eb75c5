"""``accord lookup FILE``: who holds the identifiers in a file, streamed in chunks, written as JSON lines or CSV.

The file is one value a line, or a CSV whose ``--column`` holds the values. It is read as it is looked up, so a
file of any size runs in bounded memory. Lines that cannot be read (not UTF-8, too long, a CSV row without the
column) come out as results whose ``error`` names the line; values that do not normalise come out with the reason,
as over the API.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from accord.audit.service import Disclosure
from accord.cli.context import ctx_of, operator
from accord.errors import InvalidInput
from accord.intel.models import MAX_VALUE_LENGTH
from accord.matching.service import KINDS, LookupResult, MatchingService
from accord.matching.visibility import NO_HITS

# Values per lookup call: a progress step every few seconds at most, and one audit entry per chunk, not per line.
CHUNK = 5_000
# Longer lines are read in pieces and reported, never held whole: no identifier comes near (MAX_VALUE_LENGTH).
MAX_LINE_BYTES = 64 * 1024
MAX_PROBLEMS_SHOWN = 20
CSV_COLUMNS = [
    "line",
    "input",
    "type",
    "canonical",
    "error",
    "found",
    "visible_count",
    "visible_parties",
    "visible_objects",
    "restricted_parties",
    "restricted_countries",
    "contacts",
    "warninglists",
    "cross_border",
]


class OutputFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


@dataclass(frozen=True)
class Line:
    """A value read from the file, or why its line could not be read (``problem``)."""

    number: int
    value: str
    problem: str | None = None


class FileLines:
    """The file's lines as bytes, each at most MAX_LINE_BYTES (a longer one is consumed and flagged ``None``),
    counting the bytes read for the progress bar."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self.consumed = 0

    def __iter__(self) -> Iterator[bytes | None]:
        while raw := self._handle.readline(MAX_LINE_BYTES + 1):
            self.consumed += len(raw)
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                self._skip_rest_of_line()
                yield None
            else:
                yield raw

    def _skip_rest_of_line(self) -> None:
        while rest := self._handle.readline(MAX_LINE_BYTES):
            self.consumed += len(rest)
            if rest.endswith(b"\n"):
                return


def _decoded(raw: bytes | None, first: bool) -> tuple[str, str | None]:
    if raw is None:
        return "", f"line longer than {MAX_LINE_BYTES} bytes"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace")[:200], "not UTF-8"
    return (text.removeprefix("\ufeff") if first else text), None


def plain_values(lines: FileLines) -> Iterator[Line]:
    """One value a line; blank lines are skipped."""
    for number, raw in enumerate(lines, start=1):
        text, problem = _decoded(raw, number == 1)
        value = text.strip()
        if problem:
            yield Line(number, value[:200], problem)
        elif len(value) > MAX_VALUE_LENGTH:
            yield Line(number, value[:200], f"longer than {MAX_VALUE_LENGTH} characters")
        elif value:
            yield Line(number, value)


def csv_values(lines: FileLines, column: str) -> Iterator[Line]:
    """The values of one CSV column (a header name, or a number counted from 1); blank rows are skipped. The
    header is read at once: raises InvalidInput for a file without one or without the column; the values raise
    InvalidInput, as they are read, at a row CSV cannot parse."""
    bad: dict[int, str] = {}

    def text_lines() -> Iterator[str]:
        for number, raw in enumerate(lines, start=1):
            text, problem = _decoded(raw, number == 1)
            if problem:
                bad[number] = problem
                text = "\n"  # a blank line in its place keeps the line numbers; the row is reported below
            yield text

    reader = csv.reader(text_lines())
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise InvalidInput("FILE", f"line {reader.line_num}: not CSV ({exc})") from None
    if header is None:
        raise InvalidInput("FILE", "empty; a CSV file starts with a header row")
    index = _column_index(header, column)

    def rows() -> Iterator[Line]:
        last = reader.line_num
        try:
            for row in reader:
                first, last = last + 1, reader.line_num
                problems = [bad[n] for n in range(first, last + 1) if n in bad]
                if problems:
                    yield Line(first, "", problems[0])
                elif not any(cell.strip() for cell in row):
                    continue
                elif index >= len(row):
                    yield Line(first, "", f"no column {column!r} in this row")
                elif len(row[index].strip()) > MAX_VALUE_LENGTH:
                    yield Line(first, row[index][:200], f"longer than {MAX_VALUE_LENGTH} characters")
                else:
                    yield Line(first, row[index].strip())
        except csv.Error as exc:
            raise InvalidInput("FILE", f"line {reader.line_num}: not CSV ({exc})") from None

    return rows()


def _column_index(header: list[str], column: str) -> int:
    names = [name.strip() for name in header]
    if column.strip() in names:
        return names.index(column.strip())
    if column.isdigit() and 1 <= int(column) <= len(header):
        return int(column) - 1
    raise InvalidInput("--column", f"no column {column!r}; the header has: {', '.join(names)[:200]}")


def _chunks(lines: Iterator[Line]) -> Iterator[list[Line]]:
    chunk: list[Line] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _answers(
    matching: MatchingService, chunk: list[Line], kind: str | None, disclosure: Disclosure
) -> list[tuple[int, LookupResult]]:
    """Each line of the chunk with its result: one lookup call for the readable lines, the others answered with
    the reason they could not be read."""
    readable = [line.value for line in chunk if line.problem is None]
    types = [kind] * len(readable) if kind else None
    answered = iter(matching.lookup(operator(), readable, types, disclosure) if readable else [])
    return [
        (line.number, LookupResult(line.value, None, None, line.problem, NO_HITS, (), False))
        if line.problem is not None
        else (line.number, next(answered))
        for line in chunk
    ]


def _csv_row(number: int, document: dict[str, Any]) -> list[Any]:
    hits = document["hits"]
    restricted = hits["restricted"] or {"parties": 0, "countries": [], "contacts": []}
    return [
        number,
        document["input"],
        document["type"] or "",
        document["canonical"] or "",
        document["error"] or "",
        str(hits["found"]).lower(),
        hits["visible_count"],
        "; ".join(sorted({hit["party"] for hit in hits["visible"]})),
        " ".join(hit["stix_id"] for hit in hits["visible"]),
        restricted["parties"],
        " ".join(restricted["countries"]),
        "; ".join(
            f"{c['party']} ({c['country']}): {c['contact'] or 'no contact given'}" for c in restricted["contacts"]
        ),
        "; ".join(document["warninglists"]),
        str(document["cross_border"]).lower(),
    ]


def _writer(handle: IO[str], output_format: OutputFormat) -> Callable[[int, dict[str, Any]], None]:
    if output_format is OutputFormat.CSV:
        table = csv.writer(handle)
        table.writerow(CSV_COLUMNS)

        def write_row(number: int, document: dict[str, Any]) -> None:
            table.writerow(_csv_row(number, document))

        return write_row

    def write_json_line(number: int, document: dict[str, Any]) -> None:
        handle.write(json.dumps({"line": number, **document}, ensure_ascii=False) + "\n")

    return write_json_line


def lookup(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(help="One value a line, or a CSV file with --column.", exists=True, dir_okay=False)
    ],
    purpose: Annotated[str, typer.Option(help="Why these values are looked up (audited).")],
    type_: Annotated[
        str | None, typer.Option("--type", help="Kind of every value, e.g. phone-number (default: detect each).")
    ] = None,
    column: Annotated[
        str | None, typer.Option(help="The file is CSV with a header row; look up this column (name or number).")
    ] = None,
    output_format: Annotated[OutputFormat, typer.Option("--format", help="jsonl or csv.")] = OutputFormat.JSONL,
    output: Annotated[
        Path | None, typer.Option(help="File to write (never overwritten); default standard output.")
    ] = None,
    legal_basis: Annotated[str | None, typer.Option(help="Legal basis of the lookup (audited).")] = None,
) -> None:
    """Look up a file of identifiers: per value its canonical form, hits, warninglists and cross-border flag."""
    if type_ is not None and type_ not in KINDS:
        raise InvalidInput("--type", f"{type_!r} is not one of {', '.join(sorted(KINDS))}")
    disclosure = Disclosure(purpose=purpose, legal_basis=legal_basis)
    counts = {"values": 0, "valid": 0, "hits": 0}
    problems: list[str] = []
    with file.open("rb") as source:
        lines = FileLines(source)
        values = csv_values(lines, column) if column is not None else plain_values(lines)  # a bad header fails here
        node = ctx_of(ctx).node()
        node.db.tune_for_serving()  # a read-heavy job: SQLite reads through a memory map, as a server's do
        handle: IO[str] = sys.stdout
        try:
            matching = node.matching  # a warninglist that cannot be loaded fails before anything is written
            if output is not None:
                try:
                    handle = output.open("x", encoding="utf-8", newline="")
                except OSError as exc:
                    raise InvalidInput("--output", f"cannot create {output}: {exc.strerror or exc}") from None
            write = _writer(handle, output_format)
            with typer.progressbar(length=file.stat().st_size, label=file.name, file=sys.stderr) as bar:
                shown = 0
                for chunk in _chunks(values):
                    problems += [f"line {line.number}: {line.problem}" for line in chunk if line.problem]
                    for number, result in _answers(matching, chunk, type_, disclosure):
                        write(number, result.document())
                        counts["values"] += 1
                        counts["valid"] += result.error is None
                        counts["hits"] += result.hits.found
                    bar.update(lines.consumed - shown)
                    shown = lines.consumed
        finally:
            node.close()
            if handle is not sys.stdout:
                handle.close()
    typer.echo(
        f"{file}: {counts['values']} values, {counts['valid']} valid, {counts['hits']} with hits, "
        f"{len(problems)} unreadable lines",
        err=True,
    )
    for problem in problems[:MAX_PROBLEMS_SHOWN]:
        typer.echo(f"  {problem}", err=True)
