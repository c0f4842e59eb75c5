"""Who may see an object, from its TLP 2.0 marking and its owner. Enforced in the service on every read path.

- TLP:CLEAR and TLP:GREEN: every user of this node (its community).
- TLP:AMBER: the owner, and parties whose kind is in the AMBER audience (by default the authorities:
  law enforcement, central authorities, 24/7 points of contact, CERTs, international organisations) — the
  setting ``intel_amber_audience`` holds the list, because who counts as "need to know" is national policy.
- TLP:AMBER+STRICT and TLP:RED: the owner party only. They never leave it: not by API, export or search.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from accord.identity.actor import Actor
from accord.intel.vocabulary import TLP_MARKING_IDS, Tlp, strictest

DEFAULT_AMBER_AUDIENCE = ("law_enforcement", "central_authority", "point_of_contact", "cert", "international_org")


def tlp_of(stix_object: dict[str, Any], default: Tlp) -> Tlp:
    """The strictest TLP marking on the object (object_marking_refs and granular markings), else ``default``."""
    refs: list[str] = list(stix_object.get("object_marking_refs") or [])
    refs += [g.get("marking_ref", "") for g in stix_object.get("granular_markings") or [] if isinstance(g, dict)]
    return strictest([TLP_MARKING_IDS[r] for r in refs if r in TLP_MARKING_IDS]) or default


def visible_tlps(actor: Actor, party_kind: str | None, amber_audience: Sequence[str]) -> frozenset[Tlp]:
    """The TLP levels ``actor`` may see on objects owned by *another* party."""
    if actor.via == "operator":
        return frozenset(Tlp)
    levels = {Tlp.CLEAR, Tlp.GREEN}
    if party_kind in amber_audience:
        levels.add(Tlp.AMBER)
    return frozenset(levels)


def can_see(actor: Actor, party_kind: str | None, amber_audience: Sequence[str], owner: str, tlp: str) -> bool:
    if actor.via == "operator" or (actor.party_id is not None and owner == actor.party_id):
        return True
    return Tlp(tlp) in visible_tlps(actor, party_kind, amber_audience)


def parse_audience(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def tlp_values(levels: Iterable[Tlp]) -> list[str]:
    return sorted(str(level) for level in levels)
