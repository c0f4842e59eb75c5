"""Builders for small, realistic STIX 2.1 objects (scam reports from Viet Nam, the Philippines, Ghana)."""

from __future__ import annotations

import uuid
from typing import Any

TLP_GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
TLP_AMBER = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
TLP_AMBER_STRICT = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
TLP_RED = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
TLP_CLEAR = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"


def sid(kind: str, n: int) -> str:
    return f"{kind}--{uuid.uuid5(uuid.NAMESPACE_URL, f'https://accord.test/{kind}/{n}')}"


def indicator(
    n: int, pattern: str, *, modified: str = "2026-11-01T08:00:00.000Z", markings: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": sid("indicator", n),
        "created": "2026-11-01T08:00:00.000Z",
        "modified": modified,
        "name": f"Scam report {n}",
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": "2026-11-01T08:00:00Z",
        **({"object_marking_refs": markings} if markings else {}),
        **extra,
    }


def phone(n: int, value: str, markings: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "phone-number",
        "spec_version": "2.1",
        "id": sid("phone-number", n),
        "value": value,
        **({"object_marking_refs": markings} if markings else {}),
    }


def bundle(*objects: dict[str, Any]) -> dict[str, Any]:
    return {"type": "bundle", "id": sid("bundle", 999), "objects": list(objects)}
