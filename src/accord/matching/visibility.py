"""What one reader learns about a value: each posting at the level its marking allows (``Audience``, the one
rule in ``intel.markings``), so a match is never hidden and never over-shared.

- Postings the reader may see: full context — the object, the reporting party, country, TLP, first and last seen.
- Postings they may not see: only that they exist — how many parties in which countries hold information, and
  each holder's point of contact — never an object id, a date, a count of reports or any value the reader did not
  send. This is the hit/no-hit answer of the EU Prüm system (Council Decision 2008/615/JHA, Arts. 3-5: a reference
  match, then a request through the national contact point for the data behind it), and the UN Convention
  against Cybercrime's Art. 41 24/7 network is who that contact usually is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from accord.identity.actor import PartyView
from accord.intel.markings import Audience
from accord.matching.correlation import Correlation, Holding


@dataclass(frozen=True)
class VisibleHit:
    """An object the reader may open that holds the value."""

    stix_id: str
    stix_type: str
    party_id: str
    party: str
    country: str
    tlp: str
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True)
class Contact:
    """Whom to ask about information the reader may not see: the holding party and its point of contact."""

    party_id: str
    party: str
    country: str
    contact: str | None


@dataclass(frozen=True)
class Restricted:
    """The hit/no-hit summary of postings the reader may not see."""

    parties: int
    countries: tuple[str, ...]
    contacts: tuple[Contact, ...]


@dataclass(frozen=True)
class Hits:
    """``visible``: the newest visible objects (``visible_count`` says how many there are in all);
    ``restricted``: None when nothing is withheld from the reader."""

    visible: tuple[VisibleHit, ...] = ()
    visible_count: int = 0
    restricted: Restricted | None = None

    @property
    def found(self) -> bool:
        return self.visible_count > 0 or self.restricted is not None


NO_HITS = Hits()


def hits_of(correlation: Correlation, audience: Audience, parties: Mapping[str, PartyView]) -> Hits:
    """The reader's view of ``correlation``. ``parties`` maps the holders' ids to the directory."""
    viewer = Viewer(audience, parties)
    visible_count, withheld, _newest = viewer.split(correlation)
    return viewer.hits(correlation, visible_count, withheld)


class Viewer:
    """One reader's view of many correlations, as a bulk lookup draws it: the rule (``Audience.allows``) is
    decided once per distinct owner, TLP and sharing group, not once per posting, and the restricted summary of
    the same withheld holders is built once and shared (results are immutable)."""

    def __init__(self, audience: Audience, parties: Mapping[str, PartyView]) -> None:
        self._audience = audience
        self._parties = parties
        self._decided: dict[tuple[str, str, str | None], bool] = {}
        self._restricted: dict[tuple[tuple[str, str], ...], Restricted] = {}
        self._names: dict[str, str] = {}

    def allows(self, holding: Holding) -> bool:
        key = (holding.party_id, holding.tlp, holding.sharing_group_id)
        decided = self._decided.get(key)
        if decided is None:
            decided = self._decided[key] = self._audience.allows(*key)
        return decided

    def split(self, correlation: Correlation) -> tuple[int, dict[str, str], datetime | None]:
        """The reports the reader may see (count), the holders of those they may not (party id -> country, as
        the postings carry it) and the newest ``last_seen`` among the visible ones (None: none visible)."""
        visible_count = 0
        withheld: dict[str, str] = {}
        newest: datetime | None = None
        for holding in correlation.holdings:
            if self.allows(holding):
                visible_count += holding.reports
                if newest is None or holding.last_seen > newest:
                    newest = holding.last_seen
            else:
                withheld[holding.party_id] = holding.country
        return visible_count, withheld, newest

    def hits(self, correlation: Correlation, visible_count: int, withheld: Mapping[str, str]) -> Hits:
        """What ``split`` found, as the result's hits."""
        name = self._name
        visible = tuple(
            VisibleHit(
                stix_id=report.stix_id,
                stix_type=report.stix_type,
                party_id=report.party_id,
                party=name(report.party_id),
                country=report.country,
                tlp=report.tlp,
                first_seen=report.first_seen,
                last_seen=report.last_seen,
            )
            for report in correlation.reports
        )
        restricted = self._restricted_of(tuple(withheld.items())) if withheld else None
        return Hits(visible=visible, visible_count=visible_count, restricted=restricted)

    def _restricted_of(self, withheld: tuple[tuple[str, str], ...]) -> Restricted:
        restricted = self._restricted.get(withheld)
        if restricted is None:
            parties = self._parties
            contacts = tuple(
                sorted(
                    (
                        Contact(
                            party_id=party_id,
                            party=self._name(party_id),
                            country=country,
                            contact=parties[party_id].contact if party_id in parties else None,
                        )
                        for party_id, country in withheld
                    ),
                    key=lambda c: (c.country, c.party),
                )
            )
            restricted = Restricted(
                parties=len(contacts), countries=tuple(sorted({c.country for c in contacts})), contacts=contacts
            )
            self._restricted[withheld] = restricted
        return restricted

    def _name(self, party_id: str) -> str:
        name = self._names.get(party_id)
        if name is None:
            name = self._names[party_id] = _name(self._parties, party_id)
        return name


def _name(parties: Mapping[str, PartyView], party_id: str) -> str:
    return parties[party_id].name if party_id in parties else party_id
