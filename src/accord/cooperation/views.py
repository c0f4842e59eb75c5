"""What the request service hands out (never ORM rows), and how stored fields look to the catalogue."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from accord.cooperation.models import CooperationRequest


@dataclass
class RequestView:
    row: CooperationRequest
    requesting_party: str
    requested_party: str
    history: list[dict[str, Any]]
    clocks: list[dict[str, Any]]
    hold: dict[str, Any] | None
    lint: list[dict[str, str]]
    blocking: list[dict[str, str]]
    next_states: list[str] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        row = self.row
        return {
            "id": row.id,
            "reference": row.reference,
            "type": row.request_type,
            "instrument": row.instrument,
            "state": row.state,
            "urgency": row.urgency,
            "language": row.language,
            "case_reference": row.case_reference,
            "requesting_party": {"id": row.requesting_party_id, "name": self.requesting_party},
            "requested_party": {"id": row.requested_party_id, "name": self.requested_party},
            "created_by": row.created_by,
            "created_at": row.created_at.isoformat(),
            "sent_at": _iso(row.sent_at),
            "received_at": _iso(row.received_at),
            "acknowledged_at": _iso(row.acknowledged_at),
            "decided_at": _iso(row.decided_at),
            "catalogue_version": row.catalogue_version,
            "fields": json.loads(row.fields),
            "history": self.history,
            "clocks": self.clocks,
            "hold": self.hold,
            "lint": self.lint,
            "blocking": self.blocking,
            "next_states": self.next_states,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def fields_with_envelope(row: CooperationRequest) -> dict[str, Any]:
    """The fields as the catalogue sees them: the envelope's case reference and language count as fields."""
    fields: dict[str, Any] = json.loads(row.fields)
    if row.case_reference:
        fields.setdefault("case_reference", row.case_reference)
    if row.language:
        fields.setdefault("language", row.language)
    return fields


def fields_from_hit(fields: dict[str, Any]) -> dict[str, Any]:
    """A draft opened from a matching hit keeps what the analyst saw under 'identifiers' (a catalogue field)."""
    out = {
        k: v
        for k, v in fields.items()
        if k not in ("identifier", "reports_seen", "holds_withheld_reports", "cross_border", "warninglists")
    }
    identifier = fields.get("identifier")
    if isinstance(identifier, dict) and "identifiers" not in out:
        out["identifiers"] = [
            {"value": identifier.get("canonical") or identifier.get("input"), "type": identifier.get("kind")}
        ]
    return out
