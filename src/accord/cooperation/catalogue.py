"""The legal catalogue: versioned data, not code, for every rule of cooperation requests.

Per request type and instrument: the required fields (each with the article that requires it), the refusal and
postponement grounds allowed, the grounds never allowed, timers and confidentiality defaults; per country: the
languages and channels it accepts, its reservations, authorities and national offences with maximum penalties.
Rules the research could not check stay here with their mark ("R", "unchecked"), so a lawyer corrects a file,
not the program (Convention requirement 1). Every decision records the version of the catalogue it used.

The file is checked against ``catalogue/schema.json`` (JSON Schema 2020-12) and for references between its
parts when it is loaded; a node refuses to start with a catalogue that does not check out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from accord.errors import AccordError, InvalidInput

CONVENTION_OFFENCE, SERIOUS_CRIME, OTHER = "convention_offence", "serious_crime", "other"
SERIOUS_CRIME_YEARS = 4  # UN Art. 2(h): "serious crime" is punishable by at least four years' deprivation of liberty


class CatalogueInvalid(AccordError):
    """The catalogue file does not validate or refers to something it does not define."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"legal catalogue {source}: {reason}")


@dataclass(frozen=True)
class Requirement:
    field: str
    article: str
    verification: str


@dataclass(frozen=True)
class InstrumentRules:
    instrument: str
    article: str
    verification: str
    required: tuple[Requirement, ...]
    refusal_grounds: frozenset[str]
    postponement_grounds: frozenset[str]
    forbidden_grounds: frozenset[str]


@dataclass(frozen=True)
class FieldSpec:
    code: str
    title: str
    type: str
    max_length: int | None
    must_be: bool | None
    items: tuple[str, ...]
    help: str | None
    article_text: str | None


@dataclass(frozen=True)
class RequestType:
    code: str
    title: str
    summary: str
    direction: str
    preservation_hold: bool
    requires_offence_class: tuple[str, ...]
    instruments: dict[str, InstrumentRules]
    confidential: bool
    do_not_notify_user: bool
    data_categories: tuple[str, ...]
    timers: dict[str, Any]

    def rules(self, instrument: str) -> InstrumentRules:
        try:
            return self.instruments[instrument]
        except KeyError:
            raise InvalidInput(
                "instrument", f"{self.code} is not available under {instrument!r}; one of {', '.join(self.instruments)}"
            ) from None


class Catalogue:
    def __init__(self, document: dict[str, Any], source: str) -> None:
        self.document = document
        self.source = source
        self.version: str = document["catalogue_version"]
        self.fields = {code: _field(code, spec) for code, spec in document["fields"].items()}
        self.request_types = {code: _request_type(code, spec) for code, spec in document["request_types"].items()}
        self.grounds: dict[str, dict[str, Any]] = document["refusal_grounds"]
        self.offences: dict[str, dict[str, Any]] = document["offences"]
        self.parties: dict[str, dict[str, Any]] = document["parties"]
        self.timers: dict[str, int] = document["timers"]

    def request_type(self, code: str | None) -> RequestType:
        if code is None or code not in self.request_types:
            raise InvalidInput("type", f"one of {', '.join(sorted(self.request_types))}")
        return self.request_types[code]

    def party(self, country: str) -> dict[str, Any] | None:
        return self.parties.get(country)

    def national_offence(self, code: str) -> tuple[str, dict[str, Any]] | None:
        """``(country, offence)`` for a national offence code such as ``VN-174``."""
        country = code.split("-", 1)[0]
        for offence in (self.parties.get(country) or {}).get("national_offences", []):
            if offence["code"] == code:
                return country, offence
        return None

    def classify_offence(self, code: str) -> str:
        """Convention offence, serious crime (maximum penalty at least 4 years, UN Art. 2(h)) or other.

        A national offence that implements a convention offence is a convention offence whatever its penalty."""
        if code in self.offences:
            return CONVENTION_OFFENCE
        found = self.national_offence(code)
        if found is None:
            raise InvalidInput("offences", f"unknown offence code {code!r}: not in the catalogue {self.version}")
        _country, offence = found
        if offence.get("convention_offence"):
            return CONVENTION_OFFENCE
        if offence.get("life_imprisonment") or offence["max_penalty_years"] >= SERIOUS_CRIME_YEARS:
            return SERIOUS_CRIME
        return OTHER

    def public_view(self) -> dict[str, Any]:
        """What ``GET /api/v1/cooperation/catalogue`` returns: the request types with their required fields."""
        return {
            "catalogue_version": self.version,
            "review": self.document["review"],
            "instruments": self.document["instruments"],
            "request_types": {
                code: {
                    **{k: v for k, v in self.document["request_types"][code].items() if k != "instruments"},
                    "instruments": {
                        name: {
                            **rules,
                            "required": [
                                {
                                    **req,
                                    "title": self.fields[req["field"]].title,
                                    "type": self.fields[req["field"]].type,
                                }
                                for req in rules["required"]
                            ],
                        }
                        for name, rules in self.document["request_types"][code]["instruments"].items()
                    },
                }
                for code in sorted(self.request_types)
            },
            "fields": self.document["fields"],
            "refusal_grounds": self.grounds,
            "data_categories": self.document["data_categories"],
            "timers": self.timers,
            "offences": self.offences,
            "parties": self.parties,
        }


def _field(code: str, spec: dict[str, Any]) -> FieldSpec:
    return FieldSpec(
        code,
        spec["title"],
        spec["type"],
        spec.get("max_length"),
        spec.get("must_be"),
        tuple(spec.get("items", ())),
        spec.get("help"),
        spec.get("article_text"),
    )


def _request_type(code: str, spec: dict[str, Any]) -> RequestType:
    instruments = {
        name: InstrumentRules(
            name,
            rules["article"],
            rules["verification"],
            tuple(
                Requirement(r["field"], r["article"], r.get("verification", rules["verification"]))
                for r in rules["required"]
            ),
            frozenset(rules["refusal_grounds"]),
            frozenset(rules.get("postponement_grounds", ())),
            frozenset(rules.get("forbidden_grounds", ())),
        )
        for name, rules in spec["instruments"].items()
    }
    return RequestType(
        code=code,
        title=spec["title"],
        summary=spec["summary"],
        direction=spec["direction"],
        preservation_hold=bool(spec.get("preservation_hold", False)),
        requires_offence_class=tuple(spec.get("requires_offence_class", ())),
        instruments=instruments,
        confidential=spec["confidentiality_default"]["confidential"],
        do_not_notify_user=spec["confidentiality_default"]["do_not_notify_user"],
        data_categories=tuple(spec["data_categories"]),
        timers=dict(spec["timers"]),
    )


def _cross_check(document: dict[str, Any]) -> list[str]:
    """References between parts of the catalogue that JSON Schema cannot express."""
    problems = []
    fields, grounds = document["fields"], document["refusal_grounds"]
    categories, instruments = document["data_categories"], document["instruments"]
    for code, spec in document["request_types"].items():
        problems += [
            f"request type {code}: unknown data category {c!r}" for c in spec["data_categories"] if c not in categories
        ]
        for name, rules in spec["instruments"].items():
            where = f"request type {code} under {name}"
            if name not in instruments:
                problems.append(f"{where}: unknown instrument")
            problems += [
                f"{where}: unknown field {r['field']!r}" for r in rules["required"] if r["field"] not in fields
            ]
            listed = [
                *rules["refusal_grounds"],
                *rules.get("postponement_grounds", ()),
                *rules.get("forbidden_grounds", ()),
            ]
            problems += [f"{where}: unknown ground {g!r}" for g in listed if g not in grounds]
            both = set(rules["refusal_grounds"]) & set(rules.get("forbidden_grounds", ()))
            problems += [f"{where}: ground {g!r} is both allowed and forbidden" for g in sorted(both)]
    for country, party in document["parties"].items():
        for offence in party["national_offences"]:
            implemented = offence.get("convention_offence")
            if implemented and implemented not in document["offences"]:
                problems.append(f"party {country}: offence {offence['code']} implements unknown {implemented!r}")
    return problems


@cache
def _validator() -> Draft202012Validator:
    schema = json.loads(resources.files("accord.cooperation").joinpath("catalogue/schema.json").read_text("utf-8"))
    return Draft202012Validator(schema, format_checker=FormatChecker())


def parse_catalogue(document: Any, source: str) -> Catalogue:
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top)"
        raise CatalogueInvalid(source, f"{where}: {first.message[:300]} ({len(errors)} problem(s))")
    problems = _cross_check(document)
    if problems:
        raise CatalogueInvalid(source, f"{problems[0]} ({len(problems)} problem(s))")
    return Catalogue(document, source)


def load_catalogue(path: Path | None = None) -> Catalogue:
    """The catalogue at ``path``, or the one Accord ships. Raises CatalogueInvalid."""
    if path is None:
        text = resources.files("accord.cooperation").joinpath("catalogue/catalogue.json").read_text("utf-8")
        source = "built-in"
    else:
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise CatalogueInvalid(str(path), f"cannot read ({exc.strerror})") from None
        source = str(path)
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise CatalogueInvalid(source, f"not JSON ({exc})") from None
    return parse_catalogue(document, source)
