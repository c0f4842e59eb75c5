"""Reading the store as TAXII-shaped collections: one per TLP level, filtered, versioned, paged.

The markings rule is the same as everywhere else (``markings.Audience``): in a collection whose level the
reader may not see in general, they see only their own party's objects and their sharing groups'.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, false, func, or_, select
from sqlalchemy.orm import aliased

from accord.errors import InvalidInput
from accord.intel.markings import Audience
from accord.intel.models import IntelObject
from accord.intel.validate import parse_timestamp
from accord.intel.vocabulary import Tlp

COLLECTION_NAMESPACE = uuid.UUID("3c4e1f7a-9b2d-5c8e-a1f0-6d7b2e9c4a51")
MAX_PAGE = 1000  # TAXII page size ceiling (the client asks with limit; we may give fewer)
MAX_FILTER_VALUES = 100


def collection_id(tlp: Tlp) -> str:
    """Stable across nodes and releases, so a peer's TAXII client config never changes."""
    return str(uuid.uuid5(COLLECTION_NAMESPACE, f"tlp-{tlp}"))


COLLECTIONS = {collection_id(tlp): tlp for tlp in Tlp}


@dataclass(frozen=True)
class ObjectFilter:
    tlp: Tlp
    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    versions: tuple[str, ...] = ("last",)  # "last", "first", "all" or STIX timestamps (TAXII 2.1 section 3.4.2)
    spec_versions: tuple[str, ...] = ()
    added_after: datetime | None = None
    after_seq: int | None = None
    limit: int = MAX_PAGE

    def __post_init__(self) -> None:
        for name in ("ids", "types", "versions", "spec_versions"):
            if len(getattr(self, name)) > MAX_FILTER_VALUES:
                raise InvalidInput(f"match[{name.rstrip('s')}]", f"at most {MAX_FILTER_VALUES} values")
        if not 1 <= self.limit <= MAX_PAGE:
            raise InvalidInput("limit", f"between 1 and {MAX_PAGE}")


@dataclass(frozen=True)
class StoredVersion:
    seq: int
    stix_id: str
    modified: str
    added_at: datetime
    content: str


def versions_statement(audience: Audience, flt: ObjectFilter) -> Select[int, str, str, datetime, str]:
    # Plain columns, not ORM objects: building 1,000 mapped objects was most of a TAXII page's time.
    statement = (
        select(IntelObject.seq, IntelObject.stix_id, IntelObject.modified, IntelObject.added_at, IntelObject.content)
        .where(IntelObject.tlp == str(flt.tlp))
        .order_by(IntelObject.seq)
    )
    statement = statement.where(
        audience.condition(IntelObject.owner_party_id, IntelObject.tlp, IntelObject.sharing_group_id)
    )
    if len(flt.ids) == 1:  # get-by-id: a plain comparison, not an IN list SQLAlchemy rewrites per execution
        statement = statement.where(IntelObject.stix_id == flt.ids[0])
    elif flt.ids:
        statement = statement.where(IntelObject.stix_id.in_(flt.ids))
    if flt.types:
        statement = statement.where(IntelObject.stix_type.in_(flt.types))
    if flt.spec_versions and "2.1" not in flt.spec_versions:
        statement = statement.where(false())  # we hold STIX 2.1 only
    if flt.added_after is not None:
        statement = statement.where(IntelObject.added_at > flt.added_after)
    if flt.after_seq is not None:
        statement = statement.where(IntelObject.seq > flt.after_seq)
    if "all" not in flt.versions:
        chosen: list[ColumnElement[bool]] = []
        if "last" in flt.versions:
            chosen.append(IntelObject.is_latest.is_(True))
        if "first" in flt.versions:
            earlier = aliased(IntelObject)
            first_at = select(func.min(earlier.modified_at)).where(earlier.stix_id == IntelObject.stix_id)
            chosen.append(IntelObject.modified_at == first_at.scalar_subquery())
        stamps = [v for v in flt.versions if v not in {"last", "first"}]
        if stamps:
            instants = [parse_timestamp("match[version]", "match[version]", v) for v in stamps]
            chosen.append(IntelObject.modified_at.in_(instants))
        statement = statement.where(or_(*chosen)) if chosen else statement.where(false())
    return statement.limit(flt.limit + 1)  # one more tells whether there is a next page
