"""The legal rules a transition must satisfy, as pure functions of the catalogue and the request's fields.

Refusal and postponement grounds, the offence class a type needs, preservation periods, and the shape of the
decision a person records (Convention requirements 8-10, 17, 20). ``requests.py`` applies them inside its
transactions; keeping them here keeps the rules readable apart from the storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from accord.cooperation import states
from accord.cooperation.catalogue import Catalogue, RequestType
from accord.cooperation.validation import FieldProblem, RequestIncomplete
from accord.errors import InvalidInput

MAX_TEXT = 4000


@dataclass(frozen=True)
class Decision:
    """What a transition carries: the legal record of a refusal or postponement, an answer, an approval."""

    grounds: tuple[str, ...] = ()
    reasons: str | None = None
    approved_by: str | None = None
    partial_considered: bool | None = None
    note: str | None = None
    dual_criminality: dict[str, Any] | None = None
    override_reasons: str | None = None

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in ("reasons", "approved_by", "partial_considered", "note", "dual_criminality", "override_reasons"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.grounds:
            out["grounds"] = list(self.grounds)
        return out


def check_refusal(rtype: RequestType, instrument: str, to: str, decision: Decision) -> None:
    """Refusal and postponement need grounds from the type's list, reasons, the approving official and a record
    that partial or conditional execution was considered (Convention req. 8; BC 27(4)-(7), UN 40(21)-(27))."""
    rules = rtype.rules(instrument)
    allowed = rules.refusal_grounds if to == states.REFUSED else rules.postponement_grounds | rules.refusal_grounds
    article = f"{instrument} {rules.article}"
    problems = []
    if not decision.grounds:
        problems.append(FieldProblem("grounds", f"one or more of: {', '.join(sorted(allowed)) or 'none'}", article))
    for ground in decision.grounds:
        if ground in rules.forbidden_grounds:
            problems.append(FieldProblem("grounds", f"{ground!r} is never a ground for {rtype.code}", article))
        elif ground not in allowed:
            problems.append(
                FieldProblem("grounds", f"{ground!r} is not allowed; one of {', '.join(sorted(allowed))}", article)
            )
    if not decision.reasons:
        problems.append(FieldProblem("reasons", "the reasons are sent to the requesting party", "UN 40(23)"))
    if not decision.approved_by:
        problems.append(FieldProblem("approved_by", "the official who approved the decision"))
    if decision.partial_considered is not True:
        problems.append(
            FieldProblem(
                "partial_considered", "record that partial or conditional execution was considered", "UN 40(26)"
            )
        )
    if "no_dual_criminality" in decision.grounds and decision.dual_criminality is None:
        problems.append(
            FieldProblem("dual_criminality", "a conduct-based assessment is required", "UN 35(2); BC 25(5)")
        )
    if problems:
        raise RequestIncomplete(problems)


def offence_class_problems(
    catalogue: Catalogue, rtype: RequestType, fields: dict[str, Any], decision: Decision
) -> list[FieldProblem]:
    if not rtype.requires_offence_class:
        return []
    codes = [c for c in fields.get("offences") or [] if isinstance(c, str)]
    classes = {catalogue.classify_offence(code) for code in codes}
    if classes & set(rtype.requires_offence_class) or not codes:
        return []
    if decision.override_reasons:
        return []  # a lawyer's override, recorded in the history with its reasons
    allowed = " or ".join(rtype.requires_offence_class)
    return [FieldProblem("offences", f"needs a {allowed} (or an override with reasons)", "UN 23, 35(1)")]


def hold_days(rtype: RequestType, fields: dict[str, Any]) -> int:
    if "hold_max_days" in rtype.timers:
        return int(str(fields.get("order_duration_days", rtype.timers["hold_max_days"])))
    return int(rtype.timers.get("hold_min_days", 60))


def duration_problems(rtype: RequestType, fields: dict[str, Any]) -> list[FieldProblem]:
    limit = rtype.timers.get("hold_max_days")
    if not isinstance(limit, int):
        return []
    raw = str(fields.get("order_duration_days", ""))
    if raw.isdigit() and 1 <= int(raw) <= limit:
        return []
    return [FieldProblem("order_duration_days", f"a whole number of days from 1 to {limit}", "UN 25(2); BC 16(2)")]


def check_decision(decision: Decision) -> None:
    for name in ("reasons", "approved_by", "note", "override_reasons"):
        value = getattr(decision, name)
        if value is not None and (not isinstance(value, str) or len(value) > MAX_TEXT):
            raise InvalidInput(name, f"text of at most {MAX_TEXT} characters")
    if len(decision.grounds) > 20:
        raise InvalidInput("grounds", "at most 20 grounds")


def check_assessment(assessment: dict[str, Any]) -> dict[str, Any]:
    """Dual criminality is assessed on the conduct, not the name of the offence (UN 35(2), BC 25(5))."""
    conduct = assessment.get("conduct")
    if not isinstance(conduct, str) or not conduct.strip():
        raise RequestIncomplete(
            [FieldProblem("dual_criminality.conduct", "describe the underlying conduct", "UN 35(2)")]
        )
    domestic = assessment.get("domestic_offence")
    fulfilled = assessment.get("fulfilled")
    if not isinstance(fulfilled, bool):
        raise RequestIncomplete([FieldProblem("dual_criminality.fulfilled", "true or false", "UN 35(2)")])
    if fulfilled and not domestic:
        raise RequestIncomplete(
            [
                FieldProblem(
                    "dual_criminality.domestic_offence", "the domestic offence the conduct amounts to", "UN 35(2)"
                )
            ]
        )
    return {"conduct": conduct[:MAX_TEXT], "domestic_offence": domestic, "fulfilled": fulfilled}
