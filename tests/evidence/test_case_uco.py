"""case_uco: the package description conforms to CASE as case-utils validates it, says what it must, and is stable.

The real validator runs (``case_utils.case_validate.validate``: pySHACL against the CASE ontology bundled with
case-utils); a second test shows it rejects a broken description, so conformance is not vacuous.
"""

from __future__ import annotations

import copy
import json
import warnings
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import rdflib
from case_utils.case_validate import validate
from case_utils.ontology.version_info import CURRENT_CASE_VERSION

from accord.errors import InvalidInput
from accord.evidence.case_uco import CustodyEventDescription, EvidenceItemDescription, describe_package

CET = timezone(timedelta(hours=1))
NODE = "node-0123456789abcdef0123456789abcdef"
PACKAGE = "package--5f1c3a0e-2b7d-4c55-9a1e-7c0d4e8f9a10"

PHONE = EvidenceItemDescription(
    id="evidence-item--7d6f0a52-1c3e-4a8b-9f10-2b3c4d5e6f70",
    file_name="pixel7-full-file-system.zip",
    sha256="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    size_bytes=31_457_280_000,
    media_type="application/zip",
    description="Full file system extraction of the seized Pixel 7",
    source_kind="seized-device",
    collector="Anna Keller",
    collector_party="Bundeskriminalamt",
    collected_at=datetime(2026, 3, 2, 9, 30, tzinfo=CET),
    place="Wiesbaden, Thaerstraße 11",
    legal_basis="Beschluss AG Wiesbaden 12 Gs 345/26 (§§ 94, 98 StPO)",
    case_reference="BKA-2026-0042",
    exhibit_number="A-1",
    parent_item_id=None,
)
PRODUCTION = EvidenceItemDescription(
    id="evidence-item--0b1c2d3e-4f50-4a6b-8c7d-8e9fa0b1c2d3",
    file_name="subscriber-records.json",
    sha256="60303AE22B998861BCE3B28F33EEC1BE758A213C86C93C076DBE9F558C11C752",
    size_bytes=48_213,
    media_type="application/json",
    description="Subscriber and IP log records produced by the provider",
    source_kind="provider-production",
    collector="Jean Martin",
    collector_party="Bundeskriminalamt",
    collected_at=datetime(2026, 3, 4, 14, 0, tzinfo=UTC),
    place="Provider portal",
    legal_basis="Production order 2026/17 (§ 100g StPO)",
    case_reference="BKA-2026-0042",
    exhibit_number="B-1",
    parent_item_id=None,
)
WORKING_COPY = replace(
    PHONE,
    id="evidence-item--c3d4e5f6-0718-4293-a4b5-c6d7e8f90a1b",
    exhibit_number="A-1-C1",
    parent_item_id=PHONE.id,
)
ITEMS = [PHONE, PRODUCTION, WORKING_COPY]
EVENTS = [
    CustodyEventDescription(
        1, PHONE.id, "registered", "Anna Keller", "Bundeskriminalamt", datetime(2026, 3, 2, 11, tzinfo=CET)
    ),
    CustodyEventDescription(
        2,
        PRODUCTION.id,
        "collected",
        "Jean Martin",
        "Bundeskriminalamt",
        datetime(2026, 3, 4, 14, tzinfo=UTC),
        "download",
    ),
    CustodyEventDescription(
        3,
        PHONE.id,
        "copied",
        "Anna Keller",
        "Bundeskriminalamt",
        datetime(2026, 3, 5, 8, tzinfo=CET),
        "working copy for the examiner",
        {"copy": WORKING_COPY.id},
    ),
    CustodyEventDescription(
        4,
        WORKING_COPY.id,
        "analysed",
        "Dr. Lena Vogt",
        "Kriminaltechnisches Institut",
        datetime(2026, 3, 6, 10, 15, 30, 250_000, tzinfo=CET),
        "recovery of deleted messages",
        {"tool": "ALEAPP 3.2.1", "report": "KTI-2026-117"},
    ),
    CustodyEventDescription(
        5,
        PRODUCTION.id,
        "exported",
        "Anna Keller",
        "",
        datetime(2026, 3, 9, 16, tzinfo=CET),
        "Mutual legal assistance request FR-2026-9",
        {"package_id": PACKAGE},
    ),
]


def describe(
    items: list[EvidenceItemDescription] = ITEMS, events: list[CustodyEventDescription] = EVENTS
) -> dict[str, Any]:
    return describe_package(items, events, package_id=PACKAGE, node_id=NODE)


def case_validate(document: dict[str, Any], path: Path) -> Any:
    """Write the document and run case-utils' validator (the one behind the ``case_validate`` command)."""
    path.write_text(json.dumps(document, sort_keys=True, indent=1, ensure_ascii=False), encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rdflib/pyshacl deprecations; unknown concepts still fail conformance
        return validate(str(path), allow_infos=False, allow_warnings=False)


def as_rdf(document: dict[str, Any]) -> rdflib.Graph:
    graph = rdflib.Graph()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # rdflib's JSON-LD parser uses its own deprecated API
        graph.parse(data=json.dumps(document), format="json-ld")
    return graph


ACTION = "https://ontology.unifiedcyberontology.org/uco/action/"
PREFIXES = """
PREFIX action: <https://ontology.unifiedcyberontology.org/uco/action/>
PREFIX core: <https://ontology.unifiedcyberontology.org/uco/core/>
PREFIX identity: <https://ontology.unifiedcyberontology.org/uco/identity/>
PREFIX investigation: <https://ontology.caseontology.org/case/investigation/>
PREFIX observable: <https://ontology.unifiedcyberontology.org/uco/observable/>
PREFIX types: <https://ontology.unifiedcyberontology.org/uco/types/>
"""


def rows(graph: rdflib.Graph, query: str) -> set[tuple[str, ...]]:
    return {tuple(str(value) for value in row) for row in graph.query(PREFIXES + query)}  # type: ignore[union-attr]


def test_description_conforms_to_case(tmp_path: Path) -> None:
    document = describe()
    result = case_validate(document, tmp_path / "case-uco.jsonld")
    assert result.conforms, result.text
    assert not result.undefined_concepts
    assert CURRENT_CASE_VERSION.startswith("1.")  # the CASE release the validator checked against
    assert len(as_rdf(document)) > 150  # the validator saw the whole description, not an empty graph


def test_the_validator_rejects_broken_descriptions(tmp_path: Path) -> None:
    not_hex = copy.deepcopy(describe())
    for node in not_hex["@graph"]:
        if node["@type"] == "uco-types:Hash":
            node["uco-types:hashValue"]["@value"] = "not a hexadecimal digest"
    result = case_validate(not_hex, tmp_path / "not-hex.jsonld")
    assert not result.conforms
    assert "hashValue" in result.text

    misspelt = copy.deepcopy(describe())
    for node in misspelt["@graph"]:
        if node["@type"] == "uco-observable:ContentDataFacet":
            node["@type"] = "uco-observable:ContentFacet"
    result = case_validate(misspelt, tmp_path / "misspelt.jsonld")
    assert not result.conforms
    assert {str(concept) for concept in result.undefined_concepts} == {
        "https://ontology.unifiedcyberontology.org/uco/observable/ContentFacet"
    }


def test_deterministic() -> None:
    first = json.dumps(describe(), sort_keys=True)
    shuffled = json.dumps(describe(list(reversed(ITEMS)), list(reversed(EVENTS))), sort_keys=True)
    assert first == shuffled
    other_node = describe_package(ITEMS, EVENTS, package_id=PACKAGE, node_id="node-ffff")
    assert other_node["@context"]["kb"] == "urn:accord:node-ffff:"
    # The UUIDs come from Accord's ids, not from the node: the same item is recognisable across nodes.
    assert [node["@id"] for node in other_node["@graph"]] == [node["@id"] for node in describe()["@graph"]]


def test_every_node_is_an_accord_iri_ending_in_a_uuid() -> None:
    document = describe()
    assert document["@context"]["kb"] == f"urn:accord:{NODE}:"
    for node in document["@graph"]:
        kind, _, suffix = node["@id"].removeprefix("kb:").partition("-")
        assert node["@id"].startswith("kb:") and kind and len(suffix) == 36


def test_files_and_hashes() -> None:
    graph = as_rdf(describe())
    found = rows(
        graph,
        """SELECT ?name ?size ?method ?value ?mime WHERE {
            ?file a observable:File ; core:hasFacet ?facet, ?content .
            ?facet a observable:FileFacet ; observable:fileName ?name ; observable:sizeInBytes ?size .
            ?content a observable:ContentDataFacet ; observable:hash ?hash ; observable:mimeType ?mime .
            ?hash a types:Hash ; types:hashMethod ?method ; types:hashValue ?value .
            FILTER (datatype(?value) = <http://www.w3.org/2001/XMLSchema#hexBinary>)
        }""",
    )
    assert {(name, size, method, value.lower(), mime) for name, size, method, value, mime in found} == {
        (item.file_name, str(item.size_bytes), "SHA256", item.sha256.lower(), item.media_type) for item in ITEMS
    }
    text = json.dumps(describe())
    assert PHONE.sha256 in text and PRODUCTION.sha256 in text  # as given: the package verifier looks for them


def test_provenance_records_and_the_working_copy() -> None:
    graph = as_rdf(describe())
    records = rows(
        graph,
        """SELECT ?exhibit ?name WHERE {
            ?record a investigation:ProvenanceRecord ; investigation:exhibitNumber ?exhibit ; core:object ?file .
            ?file core:name ?name .
        }""",
    )
    assert records == {(item.exhibit_number, item.file_name) for item in ITEMS}
    assert rows(graph, "SELECT ?root WHERE { ?r investigation:rootExhibitNumber ?root }") == {("A-1",)}
    copied_from = rows(
        graph,
        """SELECT ?copy ?original WHERE {
            ?relation a observable:ObservableRelationship ; core:kindOfRelationship "Copied_From" ;
                core:source ?copyFile ; core:target ?originalFile .
            ?copyFile investigation:wasDerivedFrom ?originalFile .
            ?copyRecord core:object ?copyFile ; investigation:exhibitNumber ?copy .
            ?originalRecord core:object ?originalFile ; investigation:exhibitNumber ?original .
        }""",
    )
    assert copied_from == {("A-1-C1", "A-1")}


def test_every_custody_event_is_an_investigative_action() -> None:
    graph = as_rdf(describe())
    actions = rows(
        graph,
        """SELECT ?kind ?start ?end ?performer WHERE {
            ?action a investigation:InvestigativeAction ; core:name ?kind ; action:startTime ?start ;
                action:endTime ?end ; action:performer [ a identity:Person ; core:name ?performer ] .
        }""",
    )
    expected = {(event.kind, event.at.isoformat(), event.at.isoformat(), event.actor) for event in EVENTS}
    phone_collection = PHONE.collected_at.isoformat()
    expected.add(("collected", phone_collection, phone_collection, PHONE.collector))  # from the item's record
    assert actions == expected
    purposes = rows(graph, 'SELECT ?d WHERE { ?a core:name "analysed" ; core:description ?d }')
    assert purposes == {("recovery of deleted messages",), ("report: KTI-2026-117",), ("tool: ALEAPP 3.2.1",)}
    affiliation = rows(
        graph,
        """SELECT ?person ?organisation WHERE {
            [] a core:Relationship ; core:kindOfRelationship "Member_Of" ;
               core:source [ core:name ?person ] ; core:target [ a identity:Organization ; core:name ?organisation ] .
        }""",
    )
    assert ("Dr. Lena Vogt", "Kriminaltechnisches Institut") in affiliation


def test_objects_results_and_the_chain_of_custody() -> None:
    graph = as_rdf(describe())
    links = rows(
        graph,
        """SELECT ?kind ?link ?exhibit WHERE {
            ?action a investigation:InvestigativeAction ; core:name ?kind ; ?link ?record .
            ?record investigation:exhibitNumber ?exhibit .
            FILTER (?link IN (action:object, action:result))
        }""",
    )
    result, obj = ACTION + "result", ACTION + "object"
    assert links == {
        ("collected", result, "A-1"),  # the phone's collection, from the item's own record
        ("collected", result, "B-1"),  # the production's "collected" custody event
        ("registered", obj, "A-1"),
        ("copied", obj, "A-1"),
        ("copied", result, "A-1-C1"),
        ("analysed", obj, "A-1-C1"),
        ("exported", obj, "B-1"),
    }
    package = rows(
        graph, 'SELECT ?n WHERE { [] core:name "exported" ; action:result [ core:name ?n ; core:object ?f ] }'
    )
    assert package == {(f"Accord evidence package {PACKAGE}",)}
    chain = rows(
        graph,
        """SELECT ?later ?earlier WHERE {
            [] core:name ?later ; investigation:wasInformedBy [ core:name ?earlier ] .
        }""",
    )
    assert chain == {
        ("registered", "collected"),
        ("copied", "registered"),
        ("analysed", "copied"),
        ("exported", "collected"),
    }


def test_authorizations() -> None:
    graph = as_rdf(describe())
    instruments = rows(
        graph,
        """SELECT ?exhibit ?basis ?place WHERE {
            [] a investigation:InvestigativeAction ; core:name "collected" ;
               action:instrument [ a investigation:Authorization ; core:name ?basis ] ;
               action:location [ core:name ?place ] ;
               action:result [ investigation:exhibitNumber ?exhibit ] .
        }""",
    )
    assert instruments == {
        ("A-1", PHONE.legal_basis, PHONE.place),
        ("B-1", PRODUCTION.legal_basis, PRODUCTION.place),
    }
    investigation = rows(
        graph,
        """SELECT ?case ?basis WHERE {
            [] a investigation:Investigation ; core:name ?case ;
               investigation:relevantAuthorization [ core:name ?basis ] .
        }""",
    )
    assert investigation == {("BKA-2026-0042", PHONE.legal_basis), ("BKA-2026-0042", PRODUCTION.legal_basis)}


@pytest.mark.parametrize(
    ("items", "events", "field"),
    [
        ([replace(PHONE, collected_at=datetime(2026, 3, 2, 9, 30))], [], f"items[{PHONE.id}].collected_at"),
        ([replace(PHONE, sha256="abc")], [], f"items[{PHONE.id}].sha256"),
        ([replace(PHONE, source_kind="hearsay")], [], f"items[{PHONE.id}].source_kind"),
        ([PHONE, PHONE], [], "items"),
        ([PHONE], [replace(EVENTS[0], kind="lost")], "events[1].kind"),
        ([PHONE], [replace(EVENTS[1])], "events[2].item_id"),
        ([PHONE], [EVENTS[0], replace(EVENTS[2], index=1)], "events"),
    ],
)
def test_refuses_input_that_would_mislead(
    items: list[EvidenceItemDescription], events: list[CustodyEventDescription], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        describe(items, events)
    assert caught.value.field == field


def test_refuses_a_node_id_that_is_not_urn_safe() -> None:
    with pytest.raises(InvalidInput):
        describe_package(ITEMS, EVENTS, package_id=PACKAGE, node_id="node with spaces/")
