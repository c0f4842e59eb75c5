"""Identifiers from CSV (a bank's or telecom's export): one row, one identifier, with a column map.

Each valid row becomes an ``indicator`` whose pattern compares the canonical identifier (a national bank
account, which a pattern path cannot say in one comparison, becomes a ``bank-account`` SCO instead). Ids are
UUIDv5 of (party, kind, canonical value), so importing the same list again is a no-op. A row that does not
normalise is reported with its line number and reason.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from accord.errors import InvalidInput
from accord.intel.normalise import Canonical, InvalidIdentifier, detect, normalise

NAMESPACE = uuid.UUID("8b0f3a2e-61c4-5d7a-9e15-2c4b6d8f0a13")
MAX_ROWS = 1_000_000
PATHS = {
    "phone-number": "phone-number:value",
    "cryptocurrency-wallet": "cryptocurrency-wallet:value",
    "url": "url:value",
    "domain-name": "domain-name:value",
    "email-addr": "email-addr:value",
    "ipv4-addr": "ipv4-addr:value",
    "ipv6-addr": "ipv6-addr:value",
    "file:md5": "file:hashes.MD5",
    "file:sha-1": "file:hashes.'SHA-1'",
    "file:sha-256": "file:hashes.'SHA-256'",
    "file:sha-512": "file:hashes.'SHA-512'",
}


@dataclass(frozen=True)
class ColumnMap:
    value: str  # column name, or 1-based number
    kind: str | None = None  # a fixed kind for every row ...
    kind_column: str | None = None  # ... or a column naming it; neither: detect
    name_column: str | None = None


@dataclass
class Tabulated:
    objects: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)


def _index(header: list[str], column: str, option: str) -> int:
    if column.isdigit() and 1 <= int(column) <= len(header):
        return int(column) - 1
    if column in header:
        return header.index(column)
    raise InvalidInput(option, f"no column {column!r}; the header has: {', '.join(header)[:200]}")


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _object(canonical: Canonical, party_id: str, name: str, stamp: str, markings: list[str]) -> dict[str, Any]:
    kind = str(canonical.kind)
    ident = uuid.uuid5(NAMESPACE, f"{party_id}/{kind}/{canonical.value}")
    marks = {"object_marking_refs": markings} if markings else {}
    if kind == "bank-account" and ":" in canonical.value:  # the national form CC:bank:account
        country, bank_id, account = canonical.value.split(":", 2)
        return {
            "type": "bank-account",
            "spec_version": "2.1",
            "id": f"bank-account--{ident}",
            "country": country,
            "bank_id": bank_id,
            "account_number": account,
            **marks,
        }
    path = "bank-account:iban" if kind == "bank-account" else PATHS[kind]
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{ident}",
        "created": stamp,
        "modified": stamp,
        "name": name or f"Reported {kind}",
        "indicator_types": ["malicious-activity"],
        "pattern": f"[{path} = {_quote(canonical.value)}]",
        "pattern_type": "stix",
        "valid_from": stamp,
        **marks,
    }


def rows_to_objects(
    text_lines: Iterable[str],
    columns: ColumnMap,
    party_id: str,
    region: str | None,
    now: datetime,
    markings: list[str],
) -> Iterator[dict[str, Any] | tuple[int, str]]:
    """STIX objects for valid rows; (line number, reason) for the others. Raises InvalidInput for the map."""
    reader = csv.reader(text_lines)
    header = next(reader, None)
    if header is None:
        raise InvalidInput("FILE", "empty file")
    value_at = _index(header, columns.value, "--value-column")
    kind_at = _index(header, columns.kind_column, "--kind-column") if columns.kind_column else None
    name_at = _index(header, columns.name_column, "--name-column") if columns.name_column else None
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    for line, row in enumerate(reader, start=2):
        if line > MAX_ROWS + 1:
            yield line, f"more than {MAX_ROWS} rows; split the file"
            return
        if not row or not any(cell.strip() for cell in row):
            continue
        try:
            raw = row[value_at]
            kind = columns.kind or (row[kind_at].strip() if kind_at is not None else None)
            canonical = normalise(kind, raw, default_region=region) if kind else detect(raw, default_region=region)
        except IndexError:
            yield line, "row has fewer columns than the header"
            continue
        except InvalidIdentifier as exc:
            yield line, f"{exc.kind}: {exc.reason}"
            continue
        name = row[name_at].strip()[:300] if name_at is not None and name_at < len(row) else ""
        yield _object(canonical, party_id, name, stamp, markings)


def read_text(data: bytes) -> io.StringIO:
    """CSV bytes as text: UTF-8 (with or without BOM), else a clear error."""
    try:
        return io.StringIO(data.decode("utf-8-sig"), newline="")
    except UnicodeDecodeError:
        raise InvalidInput("FILE", "CSV must be UTF-8") from None
