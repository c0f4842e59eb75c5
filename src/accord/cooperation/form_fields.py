"""The request form's inputs: one per catalogue field, by field type, read back into the request's fields.

Kept apart from the page routes: how an offences list, a custodian, data items or identifiers are typed into a
form and parsed back is a concern of its own (and the largest one of the cooperation pages).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData

from accord.cooperation.catalogue import Catalogue, FieldSpec, RequestType
from accord.intel.normalise import IdentifierKind

OPTIONAL_FIELDS = (
    "confidential",
    "do_not_notify_user",
    "conditions_on_use",
    "identifiers",
    "date_range",
    "linked_preservation",
)
CUSTODIAN_PARTS = ("name", "location", "explanation", "retention_days")
MAX_RETENTION_DAYS = 36_500  # a century: anything longer is a typing mistake
KINDS = sorted((str(k) for k in IdentifierKind), key=len, reverse=True)


def form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def form_texts(form: FormData, name: str) -> list[str]:
    return [v.strip() if isinstance(v, str) else "" for v in form.getlist(name)]


@dataclass(frozen=True)
class FieldRow:
    """One element on the form: the catalogue's field, and the article requiring it (None when optional)."""

    code: str
    spec: FieldSpec
    article: str | None


def form_rows(catalogue: Catalogue, rtype: RequestType, instrument: str) -> tuple[list[FieldRow], list[FieldRow]]:
    """The required elements in the catalogue's order, then the optional ones not already required."""
    required = [FieldRow(r.field, catalogue.fields[r.field], r.article) for r in rtype.rules(instrument).required]
    names = {row.code for row in required}
    optional = [
        FieldRow(code, catalogue.fields[code], None)
        for code in OPTIONAL_FIELDS
        if code in catalogue.fields and code not in names
    ]
    return required, optional


def identifier_lines(value: Any) -> str:
    """Identifiers as the textarea shows them: ``type:value`` per line, or the value alone."""
    lines = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict) and item.get("value"):
            kind = item.get("type")
            lines.append(f"{kind}:{item['value']}" if kind else str(item["value"]))
    return "\n".join(lines)


def parse_identifiers(text: str, old: Any) -> list[dict[str, Any]] | None:
    """One identifier per line, ``type:value`` when the prefix is a known kind; what was stored with an identifier
    the form does not show (a port, a time) is kept while the line stays."""
    kept = {(i.get("type"), i.get("value")): i for i in (old if isinstance(old, list) else []) if isinstance(i, dict)}
    items = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        kind = next((k for k in KINDS if line.startswith(f"{k}:")), None)
        value = line[len(kind) + 1 :].strip() if kind else line
        item: dict[str, Any] = {**kept.get((kind, value), {}), "value": value}
        if kind:
            item["type"] = kind
        items.append(item)
    return items or None


def _custodian(form: FormData, code: str, old: Any) -> tuple[dict[str, Any] | None, str | None]:
    """Name and location, or unknown with an explanation; what the form does not show (set through the API) stays."""
    unknown = form.get(f"{code}.unknown") == "true"
    parts = {name: form_text(form, f"{code}.{name}") for name in CUSTODIAN_PARTS}
    kept = {k: v for k, v in old.items() if k not in (*CUSTODIAN_PARTS, "unknown")} if isinstance(old, dict) else {}
    value: dict[str, Any] = {**kept, **{k: v for k, v in parts.items() if v and k != "retention_days"}}
    if unknown:
        value["unknown"] = True
    retention, problem = parts["retention_days"], None
    if retention:
        if retention.isdigit() and 1 <= int(retention) <= MAX_RETENTION_DAYS:
            value["retention_days"] = int(retention)
        else:
            value["retention_days"] = retention  # shown again as typed
            problem = f"the retention period is a whole number of days from 1 to {MAX_RETENTION_DAYS}"
    return value or None, problem


def parse_value(form: FormData, row: FieldRow, old: Any) -> tuple[Any, str | None]:
    """The form's inputs for one element as the catalogue's JSON for it (None when left empty), and a problem the
    form itself can see (the service checks everything else)."""
    code, spec = row.code, row.spec
    if spec.type == "boolean":
        return form.get(code) == "true", None
    if spec.type == "offences":
        return [v for v in form_texts(form, code) if v] or None, None
    if spec.type == "data_items":
        rows = zip(form_texts(form, f"{code}.description"), form_texts(form, f"{code}.category"), strict=False)
        items = [{"description": d, "category": c} for d, c in rows if d or c]  # empty rows are ignored
        return items or None, None
    if spec.type == "custodian":
        return _custodian(form, code, old)
    if spec.type == "checklist":
        ticked = {item: form.get(f"{code}.{item}") == "true" for item in spec.items}
        return (ticked if any(ticked.values()) else None), None
    if spec.type == "date_range":
        bounds = {end: form_text(form, f"{code}.{end}") for end in ("from", "to")}
        return {k: v for k, v in bounds.items() if v} or None, None
    if spec.type == "identifiers":
        return parse_identifiers(form_text(form, code), old), None
    return form_text(form, code) or None, None


def parse_fields(
    form: FormData, rows: list[FieldRow], old: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, list[dict[str, str]]]]:
    """Values by field code, and the problems the form itself found (the service checks the rest)."""
    values: dict[str, Any] = {}
    problems: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        values[row.code], problem = parse_value(form, row, old.get(row.code))
        if problem:
            problems[row.code] = [{"field": row.code, "reason": problem}]
    return values, problems
