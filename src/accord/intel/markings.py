"""Who may see an object, from its TLP 2.0 marking, its owner and its sharing group. This module is the one
place the rule is written; the service applies it on every read path, in Python (``Audience.allows``) and in
SQL (``Audience.condition``), and a test walks every path for every level.

- TLP:AMBER+STRICT and TLP:RED: the owner party only. They never leave it: not by API, TAXII, export or search.
- An object shared with a sharing group: the owner and the group's member parties (for CLEAR, GREEN and AMBER).
- Otherwise TLP:CLEAR and TLP:GREEN: every user of this node (its community); TLP:AMBER: the owner and
  parties whose kind is in the AMBER audience (by default the authorities: law enforcement, central
  authorities, 24/7 points of contact, CERTs, international organisations). The setting
  ``intel_amber_audience`` holds that list, because who counts as "need to know" is national policy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, true

from accord.identity.actor import Actor
from accord.intel.vocabulary import TLP_MARKING_IDS, Tlp, strictest

OWNER_ONLY = frozenset({Tlp.AMBER_STRICT, Tlp.RED})
_TLP_LABELS = frozenset(str(level) for level in Tlp)


def tlp_of(stix_object: dict[str, Any], default: Tlp) -> Tlp:
    """The strictest TLP marking on the object (object_marking_refs and granular markings), else ``default``."""
    refs: list[str] = list(stix_object.get("object_marking_refs") or [])
    refs += [g.get("marking_ref", "") for g in stix_object.get("granular_markings") or [] if isinstance(g, dict)]
    return strictest([TLP_MARKING_IDS[r] for r in refs if r in TLP_MARKING_IDS]) or default


def visible_tlps(actor: Actor, party_kind: str | None, amber_audience: Sequence[str]) -> frozenset[Tlp]:
    """The TLP levels ``actor`` may see on another party's objects that are not in a sharing group."""
    if actor.via == "operator":
        return frozenset(Tlp)
    levels = {Tlp.CLEAR, Tlp.GREEN}
    if party_kind in amber_audience:
        levels.add(Tlp.AMBER)
    return frozenset(levels)


FEW_GROUPS = 16  # sharing groups compared one by one in SQL; more go into one IN list


@dataclass(frozen=True)
class Audience:
    """What one reader may see: their party, the TLP levels open to them, the sharing groups they are in."""

    operator: bool
    party_id: str | None
    levels: frozenset[Tlp]
    groups: frozenset[str]

    @classmethod
    def of(cls, actor: Actor, amber_audience: Sequence[str], groups: Iterable[str]) -> Audience:
        return cls(
            operator=actor.via == "operator",
            party_id=actor.party_id,
            levels=visible_tlps(actor, actor.party_kind, amber_audience),
            groups=frozenset(groups),
        )

    def allows(self, owner: str, tlp: str, group: str | None) -> bool:
        if self.operator or (self.party_id is not None and owner == self.party_id):
            return True
        # The stored label as it is: a Tlp is a StrEnum, so "red" is in OWNER_ONLY and "amber" in ``levels``
        # without building a Tlp per posting (bulk lookups ask this for every holding). A label that is not a
        # TLP still raises ValueError, as Tlp(tlp) does.
        if tlp not in _TLP_LABELS:
            Tlp(tlp)
        if tlp in OWNER_ONLY:
            return False
        if group is not None:
            return group in self.groups
        return tlp in self.levels

    def condition(self, owner: Any, tlp: Any, group: Any) -> ColumnElement[bool]:
        """The same rule as ``allows``, as a SQL condition over the given columns."""
        return _condition(self, owner, tlp, group)

    def _build_condition(self, owner: Any, tlp: Any, group: Any) -> ColumnElement[bool]:
        if self.operator:
            return true()
        # Comparisons joined by OR rather than IN (...): an IN list is an "expanding" parameter that SQLAlchemy
        # rewrites on every execution, which cost more than the query itself for a single-object read.
        mine = owner == self.party_id if self.party_id is not None else false()
        shareable = and_(*(tlp != str(t) for t in sorted(OWNER_ONLY)))
        groups = sorted(self.groups)
        if not groups:
            in_group: ColumnElement[bool] = false()
        elif len(groups) <= FEW_GROUPS:
            in_group = or_(*(group == g for g in groups))
        else:
            in_group = group.in_(groups)
        open_levels = sorted(str(t) for t in self.levels if t not in OWNER_ONLY)
        level_open = or_(*(tlp == level for level in open_levels)) if open_levels else false()
        return or_(mine, and_(shareable, or_(in_group, and_(group.is_(None), level_open))))


# Built once per audience and columns: an audience is a frozen value and SQL expressions are immutable, and building
# this one cost a fifth of a millisecond, more than running a single-object query.
@lru_cache(maxsize=1024)
def _condition(audience: Audience, owner: Any, tlp: Any, group: Any) -> ColumnElement[bool]:
    return audience._build_condition(owner, tlp, group)


def parse_audience(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())
