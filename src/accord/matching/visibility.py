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
from accord.matching.correlation import Correlation


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
    visible_count = 0
    withheld: dict[str, str] = {}  # party id -> its country, as the postings carry it
    for holding in correlation.holdings:
        if audience.allows(holding.party_id, holding.tlp, holding.sharing_group_id):
            visible_count += holding.reports
        else:
            withheld[holding.party_id] = holding.country
    visible = tuple(
        VisibleHit(
            stix_id=report.stix_id,
            stix_type=report.stix_type,
            party_id=report.party_id,
            party=_name(parties, report.party_id),
            country=report.country,
            tlp=report.tlp,
            first_seen=report.first_seen,
            last_seen=report.last_seen,
        )
        for report in correlation.reports
    )
    restricted = None
    if withheld:
        contacts = tuple(
            sorted(
                (
                    Contact(
                        party_id=party_id,
                        party=_name(parties, party_id),
                        country=country,
                        contact=parties[party_id].contact if party_id in parties else None,
                    )
                    for party_id, country in withheld.items()
                ),
                key=lambda c: (c.country, c.party),
            )
        )
        restricted = Restricted(
            parties=len(contacts), countries=tuple(sorted({c.country for c in contacts})), contacts=contacts
        )
    return Hits(visible=visible, visible_count=visible_count, restricted=restricted)


def _name(parties: Mapping[str, PartyView], party_id: str) -> str:
    return parties[party_id].name if party_id in parties else party_id
