"""Sharing policy per peer, as code: which intelligence this node gives one peer, and why each item is in or out.

A policy is a list of rules. A ``share`` rule names the conditions an object must meet (object types, TLP levels,
the owner's country, data categories, sharing groups) and the legal basis and purpose under which it crosses —
the Convention lets a party transfer personal data only under its own law (Art. 36(1)(a)) and for a stated use
(Art. 40(19), speciality). A ``withhold`` rule names conditions and a reason; it wins over any share rule.

Fixed points that no rule can change:
- TLP:RED and TLP:AMBER+STRICT never leave the node (TLP 2.0: RED is for the named recipients only, and
  AMBER+STRICT for the recipient's own organisation only).
- TLP:AMBER crosses only under a rule that names ``amber`` explicitly; a rule without a TLP condition means
  CLEAR and GREEN.
- Intelligence this node received from a peer is not passed on: onward transfer needs the original sender's
  authorisation (Art. 36(3)), which a policy of ours cannot give.
- An object restricted to a sharing group crosses only when the peer's party is a member of that group.

No policy stored for a peer means the default: TLP:CLEAR and TLP:GREEN, of every type and category.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from accord.errors import InvalidInput
from accord.intel.markings import OWNER_ONLY
from accord.intel.normalise.models import IdentifierKind
from accord.intel.vocabulary import Tlp

SHARE, WITHHOLD = "share", "withhold"
SHAREABLE_TLPS = (Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER)
IMPLICIT_TLPS = frozenset({Tlp.CLEAR, Tlp.GREEN})

# Data categories, from what an object carries. Personal data (Art. 2 definition: information relating to an
# identifiable natural person) covers the scam identifiers that point at a person or their account.
PERSONAL_DATA, NETWORK_IDENTIFIERS, THREAT_INTELLIGENCE = "personal-data", "network-identifiers", "threat-intelligence"
CATEGORIES = (PERSONAL_DATA, NETWORK_IDENTIFIERS, THREAT_INTELLIGENCE)
PERSONAL_KINDS = frozenset(
    {IdentifierKind.PHONE, IdentifierKind.BANK_ACCOUNT, IdentifierKind.WALLET, IdentifierKind.EMAIL}
)
PERSONAL_TYPES = frozenset({"identity", "user-account", "email-addr", "phone-number", "bank-account"})

MAX_RULES = 100
MAX_VALUES = 200
MAX_TEXT = 500
CONDITIONS = ("types", "tlp", "countries", "categories", "sharing_groups")
RULE_KEYS = frozenset({"name", "effect", "legal_basis", "purpose", "reason", *CONDITIONS})


@dataclass(frozen=True)
class Rule:
    name: str
    effect: str
    types: frozenset[str] | None = None
    tlp: frozenset[str] | None = None
    countries: frozenset[str] | None = None
    categories: frozenset[str] | None = None
    sharing_groups: frozenset[str] | None = None  # group names
    legal_basis: str | None = None
    purpose: str | None = None
    reason: str | None = None

    def matches(self, item: Candidate) -> bool:
        levels = self.tlp if self.tlp is not None else (IMPLICIT_TLPS if self.effect == SHARE else None)
        return (
            (self.types is None or item.stix_type in self.types)
            and (levels is None or item.tlp in levels)
            and (self.countries is None or item.country in self.countries)
            # Every category the object carries must be allowed: an indicator holding a phone number and an IP
            # address is personal data too, and crosses only where personal data may.
            and (self.categories is None or item.categories <= self.categories)
            and (self.sharing_groups is None or (item.group is not None and item.group in self.sharing_groups))
        )

    def document(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "effect": self.effect}
        for key in CONDITIONS:
            value = getattr(self, key)
            if value is not None:
                out[key] = sorted(value)
        for key in ("legal_basis", "purpose", "reason"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


@dataclass(frozen=True)
class Candidate:
    """What the policy looks at in one object version."""

    stix_id: str
    stix_type: str
    tlp: str
    country: str  # the owner party's country
    categories: frozenset[str]
    group: str | None  # the sharing group's name, when the object is restricted to one
    peer_in_group: bool  # the peer's party is a member of that group
    received_from: str | None  # the node it came from, when this node received it from a peer


@dataclass(frozen=True)
class Decision:
    shared: bool
    reason: str
    rule: Rule | None = None

    def document(self) -> dict[str, Any]:
        out: dict[str, Any] = {"shared": self.shared, "reason": self.reason}
        if self.rule is not None:
            out["rule"] = self.rule.name
            if self.shared:
                out["legal_basis"], out["purpose"] = self.rule.legal_basis, self.rule.purpose
        return out


@dataclass(frozen=True)
class SharingPolicy:
    rules: tuple[Rule, ...]

    def decide(self, item: Candidate) -> Decision:
        level = item.tlp.upper()
        if item.tlp in OWNER_ONLY:
            return Decision(False, f"TLP:{level} never leaves this node")
        if item.received_from is not None:
            return Decision(
                False, f"received from node {item.received_from}; passing it on needs that node's authorisation"
            )
        if item.group is not None and not item.peer_in_group:
            return Decision(False, f"restricted to sharing group {item.group!r}, which the peer is not a member of")
        for rule in self.rules:
            if rule.effect == WITHHOLD and rule.matches(item):
                return Decision(False, f"withheld by rule {rule.name!r}: {rule.reason}", rule)
        for rule in self.rules:
            if rule.effect == SHARE and rule.matches(item):
                return Decision(True, f"shared by rule {rule.name!r}", rule)
        categories = ", ".join(sorted(item.categories))
        return Decision(False, f"no rule shares TLP:{level} {item.stix_type} from {item.country} ({categories})")

    @property
    def levels(self) -> frozenset[str]:
        """The TLP levels any share rule can let through (a cheap first filter in SQL)."""
        out: set[str] = set()
        for rule in self.rules:
            if rule.effect == SHARE:
                out |= rule.tlp if rule.tlp is not None else IMPLICIT_TLPS
        return frozenset(out)

    def document(self) -> dict[str, Any]:
        return {"rules": [rule.document() for rule in self.rules]}


def default_policy() -> SharingPolicy:
    """The policy of a peer nobody wrote one for (shipped as data: default_policy.json)."""
    text = resources.files("accord.federation").joinpath("default_policy.json").read_text(encoding="utf-8")
    return parse_policy(json.loads(text))


def categories_of(stix_type: str, kinds: Iterable[str]) -> frozenset[str]:
    """The data categories of an object of ``stix_type`` whose identifiers are of ``kinds`` (observable kinds)."""
    kinds = set(kinds)
    found: set[str] = set()
    if stix_type in PERSONAL_TYPES or kinds & PERSONAL_KINDS:
        found.add(PERSONAL_DATA)
    if kinds - PERSONAL_KINDS:
        found.add(NETWORK_IDENTIFIERS)
    return frozenset(found or {THREAT_INTELLIGENCE})


def parse_policy(document: Any) -> SharingPolicy:
    """A policy from its JSON document. Raises InvalidInput naming the rule and field at fault."""
    if not isinstance(document, Mapping) or set(document) != {"rules"}:
        raise InvalidInput("policy", 'a JSON object with one key, "rules" (a list of rules)')
    rules = document["rules"]
    if not isinstance(rules, list) or not rules:
        raise InvalidInput("rules", "a non-empty list (to share nothing, suspend the peer or withhold everything)")
    if len(rules) > MAX_RULES:
        raise InvalidInput("rules", f"at most {MAX_RULES} rules")
    parsed = tuple(_rule(i, raw) for i, raw in enumerate(rules))
    names = [rule.name for rule in parsed]
    if len(set(names)) != len(names):
        raise InvalidInput("rules", "rule names must be unique (preview and audit name the rule)")
    return SharingPolicy(parsed)


def _rule(index: int, raw: Any) -> Rule:
    where = f"rules[{index}]"
    if not isinstance(raw, Mapping):
        raise InvalidInput(where, "a rule is a JSON object")
    unknown = set(raw) - RULE_KEYS
    if unknown:
        raise InvalidInput(
            f"{where}.{sorted(unknown)[0]}", f"not a rule field (fields: {', '.join(sorted(RULE_KEYS))})"
        )
    name = _text(raw, where, "name", required=True) or ""
    effect = raw.get("effect", SHARE)
    if effect not in (SHARE, WITHHOLD):
        raise InvalidInput(f"{where}.effect", f"{SHARE!r} or {WITHHOLD!r}")
    conditions = {key: _values(raw, where, key) for key in CONDITIONS if key in raw}
    # A rule with no condition would match everything: composite rules must say what they are about.
    if not conditions:
        raise InvalidInput(where, f"name at least one condition ({', '.join(CONDITIONS)})")
    tlp = conditions.get("tlp")
    if tlp is not None:
        for level in tlp:
            if level not in {str(t) for t in Tlp}:
                raise InvalidInput(f"{where}.tlp", f"{level!r} is not a TLP 2.0 level")
            if Tlp(level) in OWNER_ONLY and effect == SHARE:
                raise InvalidInput(f"{where}.tlp", f"TLP:{level.upper()} never leaves the node; no rule can share it")
    categories = conditions.get("categories")
    if categories is not None and not categories <= set(CATEGORIES):
        raise InvalidInput(f"{where}.categories", f"one or more of {', '.join(CATEGORIES)}")
    countries = conditions.get("countries")
    if countries is not None and not all(len(c) == 2 and c.isalpha() and c.isupper() for c in countries):
        raise InvalidInput(f"{where}.countries", "ISO 3166-1 alpha-2 codes in capitals, e.g. VN")
    legal_basis = _text(raw, where, "legal_basis", required=effect == SHARE)
    purpose = _text(raw, where, "purpose", required=effect == SHARE)
    reason = _text(raw, where, "reason", required=effect == WITHHOLD)
    return Rule(name=name, effect=effect, legal_basis=legal_basis, purpose=purpose, reason=reason, **conditions)


def _values(raw: Mapping[str, Any], where: str, key: str) -> frozenset[str]:
    value = raw[key]
    if not isinstance(value, list) or not value:
        raise InvalidInput(f"{where}.{key}", "a non-empty list (leave the condition out to not restrict by it)")
    if len(value) > MAX_VALUES or not all(isinstance(v, str) and 0 < len(v) <= MAX_TEXT for v in value):
        raise InvalidInput(f"{where}.{key}", f"at most {MAX_VALUES} non-empty strings")
    return frozenset(v.lower() if key == "tlp" else v for v in value)


def _text(raw: Mapping[str, Any], where: str, key: str, *, required: bool) -> str | None:
    value = raw.get(key)
    if value is None:
        if required:
            raise InvalidInput(f"{where}.{key}", "required")
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise InvalidInput(f"{where}.{key}", f"a non-empty text of at most {MAX_TEXT} characters")
    return value.strip()
