"""Checking a request's fields against the catalogue before it may be sent, and the quality linter.

``check_fields`` answers "may this be sent?": every field the request type and instrument require, each
problem named with the article that requires the element (UN 42(3), BC 29(2), P2 9(3) …). ``lint`` answers
"will a provider or a foreign authority send it back?": what providers most often refuse (SIRIUS: identifier
syntax, an IP address without port and time zone, unbounded date ranges, no legal basis, data older than the
provider keeps). Lint findings are warnings; they never block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from accord.cooperation.catalogue import Catalogue, FieldSpec, RequestType
from accord.errors import AccordError
from accord.intel.normalise import InvalidIdentifier, detect, normalise

MAX_LIST = 500
_REF = re.compile(r"^[a-z][a-z0-9-]{1,40}--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
MAX_TEXT_DEFAULT = 20_000
LONG_RANGE = timedelta(days=366)


@dataclass(frozen=True)
class FieldProblem:
    field: str
    reason: str
    article: str | None = None

    def as_json(self) -> dict[str, str]:
        out = {"field": self.field, "reason": self.reason}
        if self.article:
            out["article"] = self.article
        return out


class RequestIncomplete(AccordError):
    """Required elements are missing or malformed: nothing was changed. Each problem names its field and article."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = problems
        listed = "; ".join(f"{p.field}: {p.reason}" + (f" ({p.article})" if p.article else "") for p in problems[:5])
        more = f" and {len(problems) - 5} more" if len(problems) > 5 else ""
        super().__init__(f"the request cannot go on: {listed}{more}")


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def check_value(spec: FieldSpec, value: Any, rtype: RequestType | None, catalogue: Catalogue) -> str | None:
    """Why ``value`` is not a valid value for the field, or None."""
    kind = spec.type
    if kind in ("text", "party", "request_ref"):
        limit = spec.max_length or MAX_TEXT_DEFAULT
        if not isinstance(value, str) or not value.strip():
            return "must be non-empty text"
        return f"at most {limit} characters" if len(value) > limit else None
    if kind == "language":
        return None if isinstance(value, str) and value.isalpha() and 2 <= len(value) <= 3 else "an ISO 639 code"
    if kind == "boolean":
        if not isinstance(value, bool):
            return "must be true or false"
        return None
    if kind == "choice":
        return None if value in spec.items else f"one of {', '.join(spec.items)}"
    if kind == "date":
        return None if isinstance(value, str) and _date(value) is not None else "a date (YYYY-MM-DD)"
    if kind == "datetime":
        return None if isinstance(value, str) and _aware(value) is not None else "a time with its UTC offset"
    if kind == "date_range":
        return _check_range(value)
    if kind == "checklist":
        if not isinstance(value, dict):
            return f"confirm each of: {', '.join(spec.items)}"
        unconfirmed = [item for item in spec.items if value.get(item) is not True]
        return f"not confirmed: {', '.join(unconfirmed)}" if unconfirmed else None
    if kind == "offences":
        if not isinstance(value, list) or not value or len(value) > 50:
            return "a list of 1 to 50 offence codes from the catalogue"
        unknown = [
            c
            for c in value
            if not isinstance(c, str) or (c not in catalogue.offences and catalogue.national_offence(c) is None)
        ]
        return f"unknown offence codes: {', '.join(map(str, unknown[:5]))}" if unknown else None
    if kind == "data_items":
        return _check_data_items(value, rtype)
    if kind == "custodian":
        return _check_custodian(value)
    if kind == "refs":
        if not isinstance(value, list) or len(value) > MAX_LIST:
            return f"a list of at most {MAX_LIST} ids"
        bad = [v for v in value if not isinstance(v, str) or not _REF.match(v)]
        return f"not an id: {str(bad[0])[:80]!r}" if bad else None
    if kind == "identifiers":
        if not isinstance(value, list) or len(value) > MAX_LIST:
            return f"a list of at most {MAX_LIST} identifiers"
        bad = [
            i for i, item in enumerate(value) if not isinstance(item, dict) or not isinstance(item.get("value"), str)
        ]
        return f"item {bad[0]} needs a 'value'" if bad else None
    return f"unsupported field type {kind}"  # pragma: no cover - the schema admits no other type


def _check_range(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "an object with 'from' and 'to'"
    start, end = value.get("from"), value.get("to")
    parsed = [(_aware(x) or _date(x)) if isinstance(x, str) else None for x in (start, end)]
    if any(x is not None and p is None for x, p in zip((start, end), parsed, strict=True)):
        return "'from' and 'to' must be dates or times with offsets"
    return None


def _check_data_items(value: Any, rtype: RequestType | None) -> str | None:
    if not isinstance(value, list) or not value or len(value) > MAX_LIST:
        return f"a list of 1 to {MAX_LIST} items, each with a description and a data category"
    allowed = rtype.data_categories if rtype else ()
    for index, item in enumerate(value):
        if not isinstance(item, dict) or _empty(item.get("description")):
            return f"item {index}: a description of the data is required"
        category = item.get("category")
        if category not in allowed:
            return f"item {index}: category must be one of {', '.join(allowed)}"
    return None


def _check_custodian(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "the custodian's name or the system's location, or unknown with an explanation"
    if value.get("unknown") is True:
        return None if not _empty(value.get("explanation")) else "'unknown' needs an explanation"
    if _empty(value.get("name")) and _empty(value.get("location")):
        return "give any available information: the custodian's name or the system's location"
    return None


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _aware(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def check_known_fields(fields: dict[str, Any], rtype: RequestType | None, catalogue: Catalogue) -> list[FieldProblem]:
    """Every given field must be in the catalogue and well-formed (drafts may still lack required ones)."""
    problems = []
    for name, value in fields.items():
        spec = catalogue.fields.get(name)
        if spec is None:
            problems.append(FieldProblem(name, f"not a field of the catalogue {catalogue.version}"))
        elif not _empty(value):
            reason = check_value(spec, value, rtype, catalogue)
            if reason:
                problems.append(FieldProblem(name, reason))
    return problems


def check_required(
    fields: dict[str, Any], rtype: RequestType, instrument: str, catalogue: Catalogue
) -> list[FieldProblem]:
    """What blocks sending: each required element missing or failing its rule, with the article requiring it."""
    rules = rtype.rules(instrument)
    problems = []
    for requirement in rules.required:
        spec = catalogue.fields[requirement.field]
        value = fields.get(requirement.field)
        if _empty(value):
            problems.append(FieldProblem(requirement.field, "required", requirement.article))
            continue
        reason = check_value(spec, value, rtype, catalogue)
        if reason is None and spec.must_be is not None and value is not spec.must_be:
            reason = f"must be {str(spec.must_be).lower()}"
        if reason:
            problems.append(FieldProblem(requirement.field, reason, requirement.article))
    return problems


@dataclass(frozen=True)
class LintFinding:
    field: str
    code: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


def lint(fields: dict[str, Any], now: datetime) -> list[LintFinding]:
    """What providers most often send back (SIRIUS EU Digital Evidence Situation Report)."""
    findings: list[LintFinding] = []
    for index, item in enumerate(fields.get("identifiers") or []):
        if not isinstance(item, dict):
            continue
        findings += _lint_identifier(f"identifiers[{index}]", item)
    for name in ("date_range", "period_of_collection"):
        value = fields.get(name)
        if isinstance(value, dict):
            findings += _lint_range(name, value, fields, now)
    if _empty(fields.get("legal_provisions_and_penalties")) and _empty(fields.get("domestic_legal_basis")):
        findings.append(
            LintFinding(
                "legal_provisions_and_penalties", "missing_legal_basis", "no legal basis or provisions are cited"
            )
        )
    return findings


def _lint_identifier(where: str, item: dict[str, Any]) -> list[LintFinding]:
    value, kind = str(item.get("value", "")), item.get("type")
    out = []
    try:
        canonical = normalise(kind, value) if isinstance(kind, str) and kind else detect(value)
        detected = str(canonical.kind)
    except InvalidIdentifier as exc:
        return [LintFinding(where, "identifier_syntax", f"{value[:80]!r} does not check out: {exc.reason}")]
    if detected in ("ipv4-addr", "ipv6-addr"):
        if _empty(item.get("port")):
            out.append(
                LintFinding(where, "ip_without_port", "an IP address behind carrier-grade NAT needs its source port")
            )
        time = item.get("time")
        if not isinstance(time, str) or _aware(time) is None:
            out.append(
                LintFinding(where, "ip_without_time_zone", "an IP address needs the exact time with its UTC offset")
            )
    return out


def _lint_range(name: str, value: dict[str, Any], fields: dict[str, Any], now: datetime) -> list[LintFinding]:
    start = _as_datetime(value.get("from"))
    end = _as_datetime(value.get("to"))
    if start is None or end is None:
        return [LintFinding(name, "unbounded_date_range", "give both ends of the period; open ranges are refused")]
    out = []
    if end < start:
        out.append(LintFinding(name, "reversed_date_range", "the period ends before it starts"))
    elif end - start > LONG_RANGE:
        out.append(LintFinding(name, "long_date_range", "periods over a year are often refused as disproportionate"))
    custodian = fields.get("custodian")
    retention = custodian.get("retention_days") if isinstance(custodian, dict) else None
    if isinstance(retention, int) and retention > 0 and start < now - timedelta(days=retention):
        oldest = (now - timedelta(days=retention)).date()
        message = f"data before {oldest} is past the custodian's {retention}-day retention"
        out.append(LintFinding(name, "outside_retention", message))
    return out


def _as_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    parsed = _aware(value)
    if parsed is not None:
        return parsed
    day = _date(value)
    return datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None
