"""The legal catalogue for cooperation requests (req. 1) is valid, coherent and encodes the rules the research
marks as read in the text: the closed refusal lists for preservation, no dual criminality for preservation, the
Art. 29(2) / 42(3) contents, the 60-day hold and the emergency test.

Plain data checks: no database, no application start-up.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

CATALOGUE_DIR = Path(__file__).resolve().parents[2] / "src" / "accord" / "cooperation" / "catalogue"
MARKS = ("T", "R+", "R", "unchecked")  # strongest first

Rules = dict[str, Any]


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((CATALOGUE_DIR / "schema.json").read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def catalogue() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((CATALOGUE_DIR / "catalogue.json").read_text(encoding="utf-8"))
    return loaded


def all_rules(catalogue: dict[str, Any]) -> Iterator[tuple[str, str, Rules]]:
    for type_code, request_type in catalogue["request_types"].items():
        for instrument, rules in request_type["instruments"].items():
            yield type_code, instrument, rules


def rules_for(catalogue: dict[str, Any], type_code: str, instrument: str) -> Rules:
    rules: Rules = catalogue["request_types"][type_code]["instruments"][instrument]
    return rules


def required_articles(rules: Rules) -> dict[str, set[str]]:
    articles: dict[str, set[str]] = {}
    for requirement in rules["required"]:
        articles.setdefault(requirement["field"], set()).add(requirement["article"])
    return articles


# --------------------------------------------------------------------------- the file itself


def test_the_schema_is_a_valid_draft_2020_12_schema(schema: dict[str, Any]) -> None:
    Draft202012Validator.check_schema(schema)


def test_the_catalogue_validates_against_the_schema(schema: dict[str, Any], catalogue: dict[str, Any]) -> None:
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    errors = [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(catalogue)]
    assert errors == []


def test_the_catalogue_is_a_versioned_draft_that_says_no_lawyer_has_reviewed_it(catalogue: dict[str, Any]) -> None:
    assert catalogue["catalogue_version"] == "2026.11.0"
    assert catalogue["review"]["status"] == "draft"
    assert "reviewed_by" not in catalogue["review"] and "reviewed_on" not in catalogue["review"]
    note = catalogue["review"]["note"].lower()
    assert "no lawyer" in note
    assert "unchecked" in note and "official texts" in note


# --------------------------------------------------------------------------- cross-references


def test_every_required_field_exists_in_the_field_dictionary(catalogue: dict[str, Any]) -> None:
    missing = [
        (type_code, instrument, requirement["field"])
        for type_code, instrument, rules in all_rules(catalogue)
        for requirement in rules["required"]
        if requirement["field"] not in catalogue["fields"]
    ]
    assert missing == []


def test_no_field_is_required_twice_under_the_same_clause(catalogue: dict[str, Any]) -> None:
    for type_code, instrument, rules in all_rules(catalogue):
        pairs = [(r["field"], r["article"]) for r in rules["required"]]
        assert len(pairs) == len(set(pairs)), (type_code, instrument)


def test_every_ground_used_exists_in_refusal_grounds(catalogue: dict[str, Any]) -> None:
    missing = [
        (type_code, instrument, ground)
        for type_code, instrument, rules in all_rules(catalogue)
        for key in ("refusal_grounds", "postponement_grounds", "forbidden_grounds")
        for ground in rules.get(key, [])
        if ground not in catalogue["refusal_grounds"]
    ]
    assert missing == []


def test_no_ground_is_both_allowed_and_forbidden(catalogue: dict[str, Any]) -> None:
    for type_code, instrument, rules in all_rules(catalogue):
        allowed = set(rules["refusal_grounds"]) | set(rules.get("postponement_grounds", []))
        clash = allowed & set(rules.get("forbidden_grounds", []))
        assert clash == set(), (type_code, instrument, clash)


def test_every_data_category_used_exists(catalogue: dict[str, Any]) -> None:
    categories = set(catalogue["data_categories"])
    for type_code, request_type in catalogue["request_types"].items():
        assert request_type["data_categories"], type_code
        assert set(request_type["data_categories"]) <= categories, type_code


def test_every_instrument_key_used_exists(catalogue: dict[str, Any]) -> None:
    instruments = set(catalogue["instruments"])
    used: list[tuple[str, str]] = [(f"request type {t}", i) for t, i, _ in all_rules(catalogue)]
    used += [(f"offence {code}", offence["instrument"]) for code, offence in catalogue["offences"].items()]
    for country, party in catalogue["parties"].items():
        used += [(f"party {country}", instrument) for instrument in party["instruments"]]
        used += [(f"reservation of {country}", r["instrument"]) for r in party["reservations"]]
        used += [(f"authority of {country}", a["instrument"]) for a in party["authorities"] if "instrument" in a]
    assert [(where, key) for where, key in used if key not in instruments] == []


def test_every_national_offence_points_to_a_known_convention_offence(catalogue: dict[str, Any]) -> None:
    for country, party in catalogue["parties"].items():
        for offence in party["national_offences"]:
            assert offence["code"].startswith(f"{country}-"), offence["code"]
            if "convention_offence" in offence:
                assert offence["convention_offence"] in catalogue["offences"], offence["code"]


def test_choice_and_checklist_fields_list_their_items_and_only_booleans_carry_must_be(
    catalogue: dict[str, Any],
) -> None:
    for code, field in catalogue["fields"].items():
        assert field.get("help"), code
        if field["type"] in ("choice", "checklist"):
            assert field.get("items"), code
            assert len(field["items"]) == len(set(field["items"])), code
        else:
            assert "items" not in field, code
        if "must_be" in field:
            assert field["type"] == "boolean", code


# --------------------------------------------------------------------------- confidence marks


def test_instrument_rules_are_never_marked_stronger_than_their_refusal_grounds(catalogue: dict[str, Any]) -> None:
    """A rule's mark is the weakest of its parts: a list that uses an R ground cannot be T."""
    for type_code, instrument, rules in all_rules(catalogue):
        if instrument != "UN":
            continue  # BC grounds are read in the text; the shared ground records carry the UN (weaker) mark
        weakest = max(
            (MARKS.index(catalogue["refusal_grounds"][g]["verification"]) for g in rules["refusal_grounds"]),
            default=0,
        )
        assert MARKS.index(rules["verification"]) >= weakest, (type_code, instrument)


def test_recalled_un_rules_keep_their_marks(catalogue: dict[str, Any]) -> None:
    # UN 42(5)'s cross-reference to the Art. 40 grounds is R; the Art. 42(3)(a)-(f) items are R+ (never T)
    preservation = rules_for(catalogue, "preservation", "UN")
    assert preservation["verification"] == "R"
    assert {r["verification"] for r in preservation["required"] if r["article"].startswith("UN 42(3)")} == {"R+"}
    # the UN MLA contents list is R
    for type_code in ("mla_stored_data", "mla_general"):
        contents = [
            r for r in rules_for(catalogue, type_code, "UN")["required"] if r["article"].startswith("UN 40(15)")
        ]
        assert len(contents) == 6 and {r["verification"] for r in contents} == {"R"}
    # only UN Arts. 7-15 were read in the text
    assert {code for code, o in catalogue["offences"].items() if o["verification"] == "T"} == {
        f"UN-{n}" for n in range(7, 16)
    }
    assert catalogue["refusal_grounds"]["no_dual_criminality"]["verification"] == "R"


def test_party_data_and_national_offences_are_marked_unchecked_demo_data(catalogue: dict[str, Any]) -> None:
    assert set(catalogue["parties"]) == {"VN", "PH", "GH", "SG"}
    for country, party in catalogue["parties"].items():
        assert party["verification"] == "unchecked", country
        assert "demo" in party["notes"].lower() and "not legal advice" in party["notes"].lower(), country
        assert 3 <= len(party["national_offences"]) <= 5, country
    assert catalogue["parties"]["VN"]["languages"] == ["vi", "en"]
    assert catalogue["parties"]["PH"]["languages"] == ["en", "fil"]


# --------------------------------------------------------------------------- the legal rules


def test_the_offence_taxonomy_has_un_arts_7_to_17_and_bc_arts_2_to_11(catalogue: dict[str, Any]) -> None:
    expected = {f"UN-{n}" for n in range(7, 18)} | {f"BC-{n}" for n in range(2, 12)}
    assert set(catalogue["offences"]) == expected
    for code, offence in catalogue["offences"].items():
        instrument, number = code.split("-")
        assert (offence["instrument"], offence["article"]) == (instrument, f"{instrument} {number}")


def test_the_data_categories_are_those_of_req_4(catalogue: dict[str, Any]) -> None:
    assert set(catalogue["data_categories"]) == {
        "subscriber_info",
        "traffic_data",
        "content_data",
        "other_stored_data",
        "domain_registration_info",
        "financial_record",
        "virtual_asset",
    }


def test_preservation_under_budapest_allows_exactly_the_article_29_grounds(catalogue: dict[str, Any]) -> None:
    rules = rules_for(catalogue, "preservation", "BC")
    assert set(rules["refusal_grounds"]) == {"political_offence", "essential_interests", "dual_criminality_reservation"}
    assert rules.get("postponement_grounds", []) == []
    assert (rules["article"], rules["verification"]) == ("BC 29", "T")


def test_preservation_under_the_un_convention_has_a_closed_list_without_political_offence(
    catalogue: dict[str, Any],
) -> None:
    rules = rules_for(catalogue, "preservation", "UN")
    assert set(rules["refusal_grounds"]) == {"essential_interests", "discrimination", "dual_criminality_reservation"}


def test_dual_criminality_is_never_a_ground_to_refuse_preservation(catalogue: dict[str, Any]) -> None:
    for type_code in ("preservation", "traffic_data_disclosure"):
        for instrument, rules in catalogue["request_types"][type_code]["instruments"].items():
            assert "no_dual_criminality" in rules["forbidden_grounds"], (type_code, instrument)
            assert "no_dual_criminality" not in rules["refusal_grounds"], (type_code, instrument)


def test_expedited_traffic_data_disclosure_under_budapest_is_withheld_only_on_article_30_grounds(
    catalogue: dict[str, Any],
) -> None:
    assert set(rules_for(catalogue, "traffic_data_disclosure", "BC")["refusal_grounds"]) == {
        "political_offence",
        "essential_interests",
    }
    assert catalogue["request_types"]["traffic_data_disclosure"]["data_categories"] == ["traffic_data"]


@pytest.mark.parametrize(("instrument", "clause"), [("UN", "UN 42(3)"), ("BC", "BC 29(2)")])
def test_preservation_requires_the_six_items_with_their_clauses(
    catalogue: dict[str, Any], instrument: str, clause: str
) -> None:
    articles = required_articles(rules_for(catalogue, "preservation", instrument))
    expected = {
        "requesting_authority": "(a)",
        "offences": "(b)",
        "facts_summary": "(b)",
        "data_to_preserve": "(c)",
        "relationship_to_offence": "(c)",
        "custodian": "(d)",
        "necessity": "(e)",
        "intends_mla": "(f)",
    }
    for field, item in expected.items():
        assert f"{clause}{item}" in articles.get(field, set()), (instrument, field)


def test_the_preservation_fields_are_shaped_as_the_law_asks(catalogue: dict[str, Any]) -> None:
    fields = catalogue["fields"]
    assert fields["intends_mla"]["type"] == "boolean" and fields["intends_mla"]["must_be"] is True
    assert fields["custodian"]["type"] == "custodian"
    assert "any available information" in fields["custodian"]["article_text"]
    assert "unknown" in fields["custodian"]["help"]
    assert fields["data_to_preserve"]["type"] == "data_items"
    assert fields["offences"]["type"] == "offences"


def test_preservation_holds_at_least_sixty_days_with_alerts_before_expiry(catalogue: dict[str, Any]) -> None:
    preservation = catalogue["request_types"]["preservation"]
    assert preservation["preservation_hold"] is True
    assert preservation["direction"] == "international"
    timers = preservation["timers"]
    assert timers["hold_min_days"] >= 60
    assert sorted(timers["hold_alert_days_before"], reverse=True) == [14, 7, 1]
    assert all(days < timers["hold_min_days"] for days in timers["hold_alert_days_before"])
    assert preservation["confidentiality_default"] == {"confidential": True, "do_not_notify_user": True}


def test_un_e_evidence_cooperation_needs_a_convention_offence_or_serious_crime(catalogue: dict[str, Any]) -> None:
    for type_code in (
        "preservation",
        "traffic_data_disclosure",
        "mla_stored_data",
        "mla_general",
        "emergency_disclosure",
    ):
        request_type = catalogue["request_types"][type_code]
        assert "UN" in request_type["instruments"], type_code
        assert set(request_type["requires_offence_class"]) == {"convention_offence", "serious_crime"}, type_code


def test_un_mla_requests_carry_the_article_40_contents(catalogue: dict[str, Any]) -> None:
    expected = {
        "requesting_authority": "(a)",
        "subject_matter": "(b)",
        "facts_summary": "(c)",
        "assistance_sought": "(d)",
        "persons_concerned": "(e)",
        "purpose": "(f)",
    }
    for type_code in ("mla_stored_data", "mla_general"):
        rules = rules_for(catalogue, type_code, "UN")
        articles = required_articles(rules)
        for field, item in expected.items():
            assert f"UN 40(15){item}" in articles.get(field, set()), (type_code, field)
        assert {"fiscal_offence", "bank_secrecy"} <= set(rules["forbidden_grounds"])
        assert rules["postponement_grounds"] == ["ongoing_investigation"]


def test_emergency_disclosure_requires_the_facts_and_the_three_part_emergency_test(catalogue: dict[str, Any]) -> None:
    emergency = catalogue["request_types"]["emergency_disclosure"]
    assert set(emergency["instruments"]) == {"P2", "UN"}
    for instrument, rules in emergency["instruments"].items():
        fields = {r["field"] for r in rules["required"]}
        assert {"emergency_facts", "emergency_confirmation"} <= fields, instrument
    confirmation = catalogue["fields"]["emergency_confirmation"]
    assert confirmation["type"] == "checklist"
    assert confirmation["items"] == ["significant_risk", "imminent_risk", "life_or_safety_of_natural_person"]
    assert "significant and imminent risk to the life or safety" in confirmation["article_text"]


def test_emergency_disclosure_under_the_protocol_requires_items_a_to_h(catalogue: dict[str, Any]) -> None:
    articles = required_articles(rules_for(catalogue, "emergency_disclosure", "P2"))
    clauses = {article for found in articles.values() for article in found if article.startswith("P2 9(3)(")}
    assert {f"P2 9(3)({item})" for item in "abcdefgh"} <= clauses
    assert "P2 9(3)(b)" in articles["pursuant_to_protocol"]
    pursuant = catalogue["fields"]["pursuant_to_protocol"]
    assert pursuant["type"] == "boolean" and pursuant["must_be"] is True


def test_emergency_timers(catalogue: dict[str, Any]) -> None:
    assert catalogue["request_types"]["emergency_disclosure"]["timers"] == {
        "acknowledge_minutes": 15,
        "answer_hours": 8,
    }
    assert catalogue["timers"] == {
        "emergency_acknowledge_minutes": 15,
        "emergency_answer_hours": 8,
        "directory_reverify_months": 12,
        "urgent_acknowledge_hours": 1,
    }


def test_domestic_orders_are_domestic_and_preservation_orders_last_at_most_ninety_days(
    catalogue: dict[str, Any],
) -> None:
    types = catalogue["request_types"]
    assert {t for t, rt in types.items() if rt["direction"] == "domestic"} == {
        "domestic_preservation_order",
        "domestic_production_order",
    }
    order = types["domestic_preservation_order"]
    assert order["timers"]["hold_max_days"] == 90
    for instrument in ("UN", "BC"):
        fields = {r["field"] for r in order["instruments"][instrument]["required"]}
        assert {"custodian", "data_to_preserve", "order_duration_days", "custodian_confidentiality"} <= fields
    assert "BC 16(3)" in required_articles(order["instruments"]["BC"])["custodian_confidentiality"]


def test_information_exchange_kinds_follow_un_article_47(catalogue: dict[str, Any]) -> None:
    kind = catalogue["fields"]["information_kind"]
    assert kind["type"] == "choice"
    assert kind["items"] == [
        "suspects",
        "proceeds",
        "instrumentalities",
        "modus_operandi",
        "early_identification",
        "other",
    ]
    required = {r["field"] for r in rules_for(catalogue, "le_information_exchange", "UN")["required"]}
    assert {"information", "information_kind"} <= required
