"""The CASE/UCO description of an evidence package: what each file is, where it came from, who held it.

A package carries, beside its BagIt payload, one JSON-LD document in the vocabulary of CASE (Cyber-investigation
Analysis Standard Expression) on top of UCO (Unified Cyber Ontology), release 1.x — the form court experts and
forensic tools (case-utils, and what reads CASE) expect. The document is a plain ``@graph`` of flat nodes, each
with an IRI of its own, shaped to conform to the SHACL shapes of CASE 1.5.0 as ``case_validate`` checks them:

* each item is an ``observable:File`` with a ``FileFacet`` (fileName, sizeInBytes) and a ``ContentDataFacet``
  (SHA-256 as a ``types:Hash`` whose hashValue is ``xsd:hexBinary``, sizeInBytes, mimeType);
* each item has a ``case-investigation:ProvenanceRecord`` (exhibitNumber; rootExhibitNumber on working copies)
  whose ``core:object`` is the file — the exhibit, which actions take as object or produce as result;
* people and organisations are ``identity:Person`` / ``identity:Organization`` named with ``core:name``, a
  person tied to their organisation by a ``core:Relationship`` "Member_Of";
* the collection of an item is a ``case-investigation:InvestigativeAction`` "collected" performed by the
  collector, with the legal basis as a ``case-investigation:Authorization`` linked as its ``action:instrument``
  (UCO: "the things used to perform an action") and the place as a ``location:Location``;
* each custody event is an InvestigativeAction named after its kind, timed by ``action:startTime``/``endTime``,
  performed by its actor, with the item's provenance record as ``action:object``, a produced record as
  ``action:result`` (a copy's record for "copied", the package's for "exported", the item's for "collected"),
  the purpose and details as ``core:description``, and ``case-investigation:wasInformedBy`` pointing at the
  item's previous action, so the chain of custody reads as a chain;
* a working copy is tied to its original by an ``observable:ObservableRelationship`` "Copied_From" (a term of
  UCO's ObservableObjectRelationshipVocab) and by ``case-investigation:wasDerivedFrom``;
* the items of one case reference are gathered in a ``case-investigation:Investigation`` that lists the
  authorizations as ``relevantAuthorization``.

Two practices of UCO's own shapes are followed so that the document conforms without warnings: every node is an
IRI ending in a UUID (UCO 1.x ``UcoThing-identifier-regex-shape``), and ``types:hashMethod`` is a plain
``xsd:string`` ("As of UCO 1.4.0, the datatype to use for types:hashMethod should be xsd:string"). The UUIDs are
version 5, derived from Accord's own ids (never random), so the same input always gives the same document; facet
and hash UUIDs follow case-utils' ``inherent_uuid`` scheme, so the same file hash is the same node everywhere.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from accord.errors import InvalidInput

SOURCE_KINDS = ("seized-device", "provider-production", "open-source", "other")
EVENT_KINDS = (
    "collected",
    "registered",
    "accessed",
    "copied",
    "analysed",
    "transferred",
    "received",
    "sealed",
    "released",
    "destroyed",
    "exported",
)

CASE_INVESTIGATION = "https://ontology.caseontology.org/case/investigation/"
UCO = "https://ontology.unifiedcyberontology.org/uco/"
_PREFIXES = {
    "case-investigation": CASE_INVESTIGATION,
    "uco-action": UCO + "action/",
    "uco-core": UCO + "core/",
    "uco-identity": UCO + "identity/",
    "uco-location": UCO + "location/",
    "uco-observable": UCO + "observable/",
    "uco-types": UCO + "types/",
    "uco-vocabulary": UCO + "vocabulary/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
# Every Accord id is hashed under this one UUID namespace (RFC 9562 5.5), so an item keeps the UUID of its IRI
# whichever node describes it; the kb prefix in front names the describing node.
_ACCORD_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:accord:")
_NODE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class EvidenceItemDescription:
    """One evidence item in the package, as the CASE description needs it."""

    id: str
    file_name: str
    sha256: str
    size_bytes: int
    media_type: str
    description: str
    source_kind: str
    collector: str
    collector_party: str
    collected_at: datetime
    place: str | None
    legal_basis: str | None
    case_reference: str
    exhibit_number: str
    parent_item_id: str | None = None  # set on a working copy: the item it was copied from


@dataclass(frozen=True)
class CustodyEventDescription:
    """One custody event (a leaf of the custody Merkle log) of an item in the package."""

    index: int
    item_id: str
    kind: str
    actor: str
    actor_party: str
    at: datetime
    purpose: str | None = None
    details: dict[str, str] = field(default_factory=dict)


def describe_package(
    items: Sequence[EvidenceItemDescription],
    events: Sequence[CustodyEventDescription],
    *,
    package_id: str,
    node_id: str,
) -> dict[str, Any]:
    """The JSON-LD document (``@context`` and ``@graph``) describing ``items`` and their custody ``events``.

    Deterministic: the same arguments give the same document, and the same bytes when dumped with sorted keys.
    Raises :class:`~accord.errors.InvalidInput` for input that would make a wrong description.
    """
    _check_input(items, events, package_id, node_id)
    graph = _Graph(node_id)
    by_id = {item.id: item for item in items}
    ordered = sorted(events, key=lambda event: event.index)
    for item in sorted(items, key=lambda item: item.id):
        _describe_item(graph, item, by_id)
    previous = _describe_collections(graph, items, by_id, ordered)
    for event in ordered:
        _describe_event(graph, event, by_id, package_id, previous)
    _describe_package_record(graph, items, package_id, node_id)
    _describe_investigations(graph, items, ordered)
    return {"@context": {**_PREFIXES, "kb": graph.kb}, "@graph": graph.nodes()}


class _Graph:
    """The nodes being written, keyed by IRI: a node described twice (a shared hash, a person) is merged."""

    def __init__(self, node_id: str) -> None:
        self.kb = f"urn:accord:{node_id}:"
        self._nodes: dict[str, dict[str, Any]] = {}

    def iri(self, kind: str, *key: str) -> str:
        """The IRI of the node of class ``kind`` for Accord key ``key``: kb:<kind>-<UUIDv5>."""
        name = json.dumps([kind, *key], ensure_ascii=False)  # an unambiguous join, whatever the ids hold
        return f"kb:{kind}-{uuid.uuid5(_ACCORD_NAMESPACE, name)}"

    def add(self, iri: str, kind: str, **properties: Any) -> str:
        node = self._nodes.setdefault(iri, {"@id": iri, "@type": kind})
        for name, value in properties.items():
            if value is None or value == []:
                continue
            if isinstance(value, list) and isinstance(node.get(name), list):
                merged = {_sort_key(entry): entry for entry in node[name] + value}
                node[name] = [merged[key] for key in sorted(merged)]
            else:
                node[name] = value
        return iri

    def has(self, iri: str) -> bool:
        return iri in self._nodes

    def nodes(self) -> list[dict[str, Any]]:
        return [self._nodes[iri] for iri in sorted(self._nodes)]


def _sort_key(entry: Any) -> str:
    return entry["@id"] if isinstance(entry, dict) else str(entry)


def _refs(iris: Iterable[str]) -> list[dict[str, str]]:
    return [{"@id": iri} for iri in sorted(set(iris))]


def _datetime(value: datetime) -> dict[str, str]:
    return {"@type": "xsd:dateTime", "@value": value.isoformat()}


# --- input -------------------------------------------------------------------------------------------------------


def _check_input(
    items: Sequence[EvidenceItemDescription], events: Sequence[CustodyEventDescription], package_id: str, node_id: str
) -> None:
    if not _NODE_ID.fullmatch(node_id):
        raise InvalidInput("node_id", "must be letters, digits, '.', '_' or '-' (it goes into a URN)")
    if not package_id:
        raise InvalidInput("package_id", "must not be empty")
    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        raise InvalidInput("items", "an item is listed twice")
    for item in items:
        _check_item(item)
    indexes = [event.index for event in events]
    if len(set(indexes)) != len(indexes):
        raise InvalidInput("events", "two events have the same log index")
    for event in events:
        where = f"events[{event.index}]"
        if event.item_id not in ids:
            raise InvalidInput(f"{where}.item_id", f"item {event.item_id!r} is not in the package")
        if event.kind not in EVENT_KINDS:
            raise InvalidInput(f"{where}.kind", f"must be one of {', '.join(EVENT_KINDS)}")
        _check_aware(f"{where}.at", event.at)


def _check_item(item: EvidenceItemDescription) -> None:
    where = f"items[{item.id}]"
    if not _SHA256.fullmatch(item.sha256):
        raise InvalidInput(f"{where}.sha256", "must be 64 hexadecimal digits")
    if isinstance(item.size_bytes, bool) or not isinstance(item.size_bytes, int) or item.size_bytes < 0:
        raise InvalidInput(f"{where}.size_bytes", "must be a whole number of bytes")
    if item.source_kind not in SOURCE_KINDS:
        raise InvalidInput(f"{where}.source_kind", f"must be one of {', '.join(SOURCE_KINDS)}")
    _check_aware(f"{where}.collected_at", item.collected_at)


def _check_aware(where: str, value: datetime) -> None:
    """xsd:dateTime may lack a zone, but a time of custody without one is ambiguous: refuse it."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(where, "must carry a time zone")


# --- items -------------------------------------------------------------------------------------------------------


def _describe_item(graph: _Graph, item: EvidenceItemDescription, by_id: dict[str, EvidenceItemDescription]) -> None:
    """The file, its facets and hash, its provenance record, and its tie to its original."""
    file_iri = _file_iri(graph, item.id)
    facet_namespace = uuid.UUID(file_iri[-36:])
    file_facet = _facet_iri(facet_namespace, "FileFacet")
    content_facet = _facet_iri(facet_namespace, "ContentDataFacet")
    graph.add(
        file_iri,
        "uco-observable:File",
        **{
            "uco-core:name": item.file_name,
            "uco-core:description": item.description or None,
            "uco-core:hasFacet": _refs([file_facet, content_facet]),
        },
    )
    graph.add(
        file_facet,
        "uco-observable:FileFacet",
        **{"uco-observable:fileName": item.file_name, "uco-observable:sizeInBytes": item.size_bytes},
    )
    graph.add(
        content_facet,
        "uco-observable:ContentDataFacet",
        **{
            "uco-observable:hash": _refs([_hash(graph, item.sha256)]),
            "uco-observable:sizeInBytes": item.size_bytes,
            "uco-observable:mimeType": item.media_type or None,
        },
    )
    root = _root(item, by_id)
    graph.add(
        _record_iri(graph, item.id),
        "case-investigation:ProvenanceRecord",
        **{
            "uco-core:name": f"Exhibit {item.exhibit_number}",
            "uco-core:description": [f"Accord evidence item {item.id}", f"Case reference: {item.case_reference}"],
            "uco-core:tag": [item.source_kind],
            "case-investigation:exhibitNumber": item.exhibit_number,
            "case-investigation:rootExhibitNumber": root.exhibit_number if root is not item else None,
            "uco-core:object": _refs([file_iri]),
        },
    )
    if item.parent_item_id in by_id:
        _describe_copy(graph, item, by_id[item.parent_item_id])


def _describe_copy(graph: _Graph, copy: EvidenceItemDescription, original: EvidenceItemDescription) -> None:
    copy_file, original_file = _file_iri(graph, copy.id), _file_iri(graph, original.id)
    graph.add(copy_file, "uco-observable:File", **{"case-investigation:wasDerivedFrom": _refs([original_file])})
    graph.add(
        graph.iri("ObservableRelationship", copy.id, original.id),
        "uco-observable:ObservableRelationship",
        **{
            "uco-core:source": _refs([copy_file]),
            "uco-core:target": _refs([original_file]),
            "uco-core:kindOfRelationship": "Copied_From",
            "uco-core:isDirectional": True,
        },
    )


def _root(item: EvidenceItemDescription, by_id: dict[str, EvidenceItemDescription]) -> EvidenceItemDescription:
    """The first original of a working copy among the package's items (a copy of a copy leads back to it)."""
    seen = {item.id}
    while item.parent_item_id in by_id and item.parent_item_id not in seen:
        item = by_id[item.parent_item_id]
        seen.add(item.id)
    return item


def _hash(graph: _Graph, sha256: str) -> str:
    """The SHA-256 node; its UUID is case-utils' ``hash_method_value_uuid`` (urn:hash::sha256:<hex>)."""
    hex_value = sha256.lower()
    iri = f"kb:Hash-{uuid.uuid5(uuid.NAMESPACE_URL, f'urn:hash::sha256:{hex_value}')}"
    return graph.add(
        iri,
        "uco-types:Hash",
        **{
            "uco-types:hashMethod": "SHA256",
            "uco-types:hashValue": {"@type": "xsd:hexBinary", "@value": sha256},
        },
    )


def _facet_iri(object_uuid: uuid.UUID, facet_class: str) -> str:
    """case-utils' ``facet_inherence_uuid``: UUIDv5 of the facet's class IRI under the object's UUID."""
    return f"kb:{facet_class}-{uuid.uuid5(object_uuid, _PREFIXES['uco-observable'] + facet_class)}"


def _file_iri(graph: _Graph, item_id: str) -> str:
    return graph.iri("File", item_id)


def _record_iri(graph: _Graph, item_id: str) -> str:
    return graph.iri("ProvenanceRecord", item_id)


# --- people and organisations ------------------------------------------------------------------------------------


def _person(graph: _Graph, name: str, party: str) -> str:
    """The person (one per name within an organisation), tied to the organisation when there is one."""
    person = graph.add(graph.iri("Person", party, name), "uco-identity:Person", **{"uco-core:name": name})
    if party:
        organisation = graph.add(
            graph.iri("Organization", party), "uco-identity:Organization", **{"uco-core:name": party}
        )
        graph.add(
            graph.iri("Relationship", "member", party, name),
            "uco-core:Relationship",
            **{
                "uco-core:source": _refs([person]),
                "uco-core:target": _refs([organisation]),
                "uco-core:kindOfRelationship": "Member_Of",
                "uco-core:isDirectional": True,
            },
        )
    return person


def _authorization(graph: _Graph, legal_basis: str | None) -> list[str]:
    if not legal_basis:
        return []
    iri = graph.iri("Authorization", legal_basis)
    return [graph.add(iri, "case-investigation:Authorization", **{"uco-core:name": legal_basis})]


def _location(graph: _Graph, place: str | None) -> list[str]:
    if not place:
        return []
    return [graph.add(graph.iri("Location", place), "uco-location:Location", **{"uco-core:name": place})]


# --- actions -----------------------------------------------------------------------------------------------------


def _describe_collections(
    graph: _Graph,
    items: Sequence[EvidenceItemDescription],
    by_id: dict[str, EvidenceItemDescription],
    events: list[CustodyEventDescription],
) -> dict[str, str]:
    """The collection of each original whose log has no "collected" event, from the item's own record of it.

    Working copies whose original is in the package were not collected: the original's "copied" event made them.
    Returns, per item, the action its first custody event follows (for ``wasInformedBy``).
    """
    collected = {event.item_id for event in events if event.kind == "collected"}
    previous: dict[str, str] = {}
    for item in sorted(items, key=lambda item: item.id):
        if item.id in collected or item.parent_item_id in by_id:
            continue
        previous[item.id] = graph.add(
            graph.iri("InvestigativeAction", "collection", item.id),
            "case-investigation:InvestigativeAction",
            **{
                "uco-core:name": "collected",
                "uco-core:description": [f"Collection of {item.file_name} ({item.source_kind})"],
                "uco-action:startTime": _datetime(item.collected_at),
                "uco-action:endTime": _datetime(item.collected_at),
                "uco-action:performer": {"@id": _person(graph, item.collector, item.collector_party)},
                "uco-action:instrument": _refs(_authorization(graph, item.legal_basis)),
                "uco-action:location": _refs(_location(graph, item.place)),
                "uco-action:result": _refs([_record_iri(graph, item.id)]),
            },
        )
    return previous


def _describe_event(
    graph: _Graph,
    event: CustodyEventDescription,
    by_id: dict[str, EvidenceItemDescription],
    package_id: str,
    previous: dict[str, str],
) -> None:
    """One custody event as an InvestigativeAction; ``previous`` (item id → last action) is brought up to date."""
    item = by_id[event.item_id]
    record = _record_iri(graph, item.id)
    descriptions = [event.purpose] if event.purpose else []
    descriptions += [f"{key}: {value}" for key, value in sorted(event.details.items())]
    properties: dict[str, Any] = {
        "uco-core:name": event.kind,
        "uco-core:description": descriptions,
        "uco-action:startTime": _datetime(event.at),
        "uco-action:endTime": _datetime(event.at),
        "uco-action:performer": {"@id": _person(graph, event.actor, event.actor_party)},
        "uco-action:object": _refs([record]),
        "uco-action:result": _refs(_results(graph, event, by_id, package_id)),
        "case-investigation:wasInformedBy": _refs(_informed_by(item, by_id, previous)),
    }
    if event.kind == "collected":  # collection makes the exhibit: its record is the result, not the object
        properties["uco-action:object"] = None
        properties["uco-action:instrument"] = _refs(_authorization(graph, item.legal_basis))
        properties["uco-action:location"] = _refs(_location(graph, item.place))
    previous[item.id] = graph.add(
        graph.iri("InvestigativeAction", "custody", str(event.index), item.id),
        "case-investigation:InvestigativeAction",
        **properties,
    )


def _results(
    graph: _Graph, event: CustodyEventDescription, by_id: dict[str, EvidenceItemDescription], package_id: str
) -> list[str]:
    """What the event produced, where the package holds it: the item itself, a working copy, the package."""
    if event.kind == "collected":
        return [_record_iri(graph, event.item_id)]
    if event.kind == "copied":
        copies = [item.id for item in by_id.values() if item.parent_item_id == event.item_id]
        named = event.details.get("copy")
        return [_record_iri(graph, copy) for copy in copies if named is None or copy == named]
    if event.kind == "exported":
        return [_package_record_iri(graph, package_id)]
    return []


def _informed_by(
    item: EvidenceItemDescription, by_id: dict[str, EvidenceItemDescription], previous: dict[str, str]
) -> list[str]:
    """The action this one follows: the item's previous one, or for a copy's first event the original's copying."""
    if item.id in previous:
        return [previous[item.id]]
    if item.parent_item_id in by_id and item.parent_item_id in previous:
        return [previous[item.parent_item_id]]
    return []


# --- the package and the investigations --------------------------------------------------------------------------


def _package_record_iri(graph: _Graph, package_id: str) -> str:
    return graph.iri("ProvenanceRecord", "package", package_id)


def _describe_package_record(
    graph: _Graph, items: Sequence[EvidenceItemDescription], package_id: str, node_id: str
) -> None:
    graph.add(
        _package_record_iri(graph, package_id),
        "case-investigation:ProvenanceRecord",
        **{
            "uco-core:name": f"Accord evidence package {package_id}",
            "uco-core:description": [f"Exported by Accord node {node_id}"],
            "uco-core:object": _refs(_file_iri(graph, item.id) for item in items),
        },
    )


def _describe_investigations(
    graph: _Graph, items: Sequence[EvidenceItemDescription], events: list[CustodyEventDescription]
) -> None:
    """One Investigation per case reference, holding its items, records, actions and authorizations."""
    cases: dict[str, list[EvidenceItemDescription]] = {}
    for item in items:
        if item.case_reference:
            cases.setdefault(item.case_reference, []).append(item)
    for reference, members in cases.items():
        ids = {item.id for item in members}
        contents = [_file_iri(graph, item.id) for item in members]
        contents += [_record_iri(graph, item.id) for item in members]
        contents += [
            graph.iri("InvestigativeAction", "custody", str(event.index), event.item_id)
            for event in events
            if event.item_id in ids
        ]
        collections = [graph.iri("InvestigativeAction", "collection", item_id) for item_id in sorted(ids)]
        graph.add(
            graph.iri("Investigation", reference),
            "case-investigation:Investigation",
            **{
                "uco-core:name": reference,
                "case-investigation:investigationForm": "case",
                "case-investigation:relevantAuthorization": _refs(
                    iri for item in members for iri in _authorization(graph, item.legal_basis)
                ),
                "uco-core:object": _refs(contents + [iri for iri in collections if graph.has(iri)]),
            },
        )
