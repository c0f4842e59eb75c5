"""MISP event JSON in and out (the format of MISP's /events/view and feeds).

Import: each MISP attribute whose type has a STIX equivalent becomes an ``indicator`` with a one-comparison
pattern (the id keeps the attribute's UUID, so re-importing the same event is a no-op and an edited
attribute becomes a new version); the event becomes a ``report`` referring to them. ``tlp:*`` tags become
TLP 2.0 markings. Attribute types without an equivalent are reported, not silently dropped.
Export: indicators with a single equality comparison become attributes of one MISP event.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from accord.intel.errors import InvalidBundle
from accord.intel.extract import pattern_identifiers
from accord.intel.vocabulary import MARKING_ID_FOR, TLP_MARKING_IDS, parse_tlp, strictest

# MISP attribute type -> STIX pattern (object path). MISP's financial-fraud and crypto types included.
ATTRIBUTE_PATHS = {
    "ip-src": "ipv4-addr:value",
    "ip-dst": "ipv4-addr:value",
    "domain": "domain-name:value",
    "hostname": "domain-name:value",
    "url": "url:value",
    "link": "url:value",
    "uri": "url:value",
    "email": "email-addr:value",
    "email-src": "email-addr:value",
    "email-dst": "email-addr:value",
    "md5": "file:hashes.MD5",
    "sha1": "file:hashes.'SHA-1'",
    "sha256": "file:hashes.'SHA-256'",
    "sha512": "file:hashes.'SHA-512'",
    "phone-number": "phone-number:value",
    "whois-registrant-phone": "phone-number:value",
    "iban": "bank-account:iban",
    "bank-account-nr": "bank-account:account_number",
    "btc": "cryptocurrency-wallet:value",
    "xmr": "cryptocurrency-wallet:value",
    "dash": "cryptocurrency-wallet:value",
}
# STIX identifier kind (from extract.py) -> MISP attribute type, for export.
KIND_TO_MISP = {
    "ipv4-addr": "ip-dst",
    "ipv6-addr": "ip-dst",
    "domain-name": "domain",
    "url": "url",
    "email-addr": "email-src",
    "file:md5": "md5",
    "file:sha-1": "sha1",
    "file:sha-256": "sha256",
    "file:sha-512": "sha512",
    "phone-number": "phone-number",
    "bank-account": "iban",
    "cryptocurrency-wallet": "btc",
}
CATEGORY = {"phone-number": "Financial fraud", "iban": "Financial fraud", "btc": "Financial fraud"}
MAX_ATTRIBUTES = 100_000


@dataclass
class Converted:
    objects: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # attributes with no STIX equivalent


def _stamp(value: Any, fallback: datetime) -> str:
    try:
        moment = datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        moment = fallback
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _uuid(value: Any, seed: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, seed))


def event_to_stix(document: Any, now: datetime) -> Converted:
    """Convert one MISP event (``{"Event": {...}}`` or the bare event). Raises InvalidBundle."""
    event = document.get("Event", document) if isinstance(document, dict) else None
    if not isinstance(event, dict) or not isinstance(event.get("Attribute", []), list):
        raise InvalidBundle('not a MISP event: expected {"Event": {..., "Attribute": [...]}}')
    attributes = list(event.get("Attribute", []))
    for obj in event.get("Object", []) or []:
        if isinstance(obj, dict):
            attributes += [a for a in obj.get("Attribute", []) or [] if isinstance(a, dict)]
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidBundle(f"more than {MAX_ATTRIBUTES} attributes")
    tags = [t.get("name", "") for t in event.get("Tag", []) or [] if isinstance(t, dict)]
    tlps = []
    for tag in tags:
        if tag.lower().startswith("tlp:"):
            try:
                tlps.append(parse_tlp(tag))
            except ValueError:
                continue
    tlp = strictest(tlps)
    markings = [MARKING_ID_FOR[tlp]] if tlp else []
    event_uuid = _uuid(event.get("uuid"), f"misp-event/{event.get('id')}/{event.get('info')}")
    created = _stamp(event.get("timestamp"), now)
    result = Converted()
    refs = []
    for attribute in attributes:
        if not isinstance(attribute, dict):
            continue
        kind, value = str(attribute.get("type", "")), attribute.get("value")
        path = ATTRIBUTE_PATHS.get(kind)
        if path is None or not isinstance(value, str) or not value:
            result.skipped.append({"uuid": str(attribute.get("uuid", "")), "type": kind[:64]})
            continue
        stamp = _stamp(attribute.get("timestamp"), now)
        indicator_id = f"indicator--{_uuid(attribute.get('uuid'), f'{event_uuid}/{kind}/{value}')}"
        refs.append(indicator_id)
        result.objects.append(
            {
                "type": "indicator",
                "spec_version": "2.1",
                "id": indicator_id,
                "created": stamp,
                "modified": stamp,
                "name": str(attribute.get("comment") or f"{attribute.get('category', 'MISP')}: {kind}")[:300],
                "pattern": f"[{path} = {_quote(value)}]",
                "pattern_type": "stix",
                "valid_from": stamp,
                "labels": [f"misp:type={kind}"]
                + ([f"misp:category={attribute['category']}"] if attribute.get("category") else []),
                **({"object_marking_refs": markings} if markings else {}),
            }
        )
    if refs:
        result.objects.append(
            {
                "type": "report",
                "spec_version": "2.1",
                "id": f"report--{event_uuid}",
                "created": created,
                "modified": created,
                "name": str(event.get("info") or "MISP event")[:300],
                "published": created,
                "report_types": ["threat-report"],
                "object_refs": refs,
                "labels": [t[:100] for t in tags if not t.lower().startswith("tlp:")][:50],
                **({"object_marking_refs": markings} if markings else {}),
            }
        )
    return result


def stix_to_event(objects: Iterable[dict[str, Any]], info: str, now: datetime, event_uuid: str) -> dict[str, Any]:
    """Indicators with identifier comparisons become attributes of one MISP event (the rest is left out)."""
    attributes = []
    levels = []
    for obj in objects:
        if obj.get("type") != "indicator" or obj.get("pattern_type") != "stix":
            continue
        refs = obj.get("object_marking_refs") or []
        levels += [TLP_MARKING_IDS[r] for r in refs if r in TLP_MARKING_IDS]
        for kind, value in pattern_identifiers(obj["pattern"]):
            misp_type = KIND_TO_MISP[kind]
            attributes.append(
                {
                    "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{obj['id']}/{kind}/{value}")),
                    "type": misp_type,
                    "category": CATEGORY.get(misp_type, "Network activity"),
                    "value": value,
                    "to_ids": True,
                    "comment": str(obj.get("name", ""))[:300],
                    "timestamp": str(int(now.timestamp())),
                }
            )
    tlp = strictest(levels)
    return {
        "Event": {
            "uuid": event_uuid,
            "info": info,
            "date": now.strftime("%Y-%m-%d"),
            "timestamp": str(int(now.timestamp())),
            "threat_level_id": "4",
            "analysis": "2",
            "distribution": "0",
            "Tag": [{"name": f"tlp:{tlp}"}] if tlp else [],
            "Attribute": attributes,
        }
    }
