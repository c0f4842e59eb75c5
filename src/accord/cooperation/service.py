"""Cooperation drafts opened from a matching hit: "who holds this value? ask them" (issue 4, part 6).

A draft names the party that holds the value and is pre-filled with the value and what the requester was
allowed to see of that party's reports — never more: for reports the requester may not see, only that the
party holds information (the hit/no-hit answer). The request form itself, its legal checks and its states come
with the cooperation issue; until then drafts are stored and listed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from accord.audit.service import AuditLog, Disclosure
from accord.clock import Clock
from accord.cooperation.models import CooperationRequest
from accord.errors import InvalidInput
from accord.identity.actor import Actor
from accord.identity.service import IdentityService
from accord.identity.vocabulary import Permission
from accord.ids import IdSource
from accord.matching.service import MatchingService, check_kind
from accord.store.engine import Database

DRAFT = "draft"
FROM_HIT = "matching hit"
MAX_LISTED = 200


@dataclass(frozen=True)
class DraftView:
    id: str
    state: str
    requesting_party_id: str
    requested_party_id: str
    requested_party: str
    created_by: str
    created_at: datetime
    origin: str
    fields: dict[str, Any]

    def document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "requesting_party_id": self.requesting_party_id,
            "requested_party_id": self.requested_party_id,
            "requested_party": self.requested_party,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "origin": self.origin,
            "fields": self.fields,
        }


class CooperationService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        ids: IdSource,
        audit: AuditLog,
        identity: IdentityService,
        matching: MatchingService,
    ) -> None:
        self._db = db
        self._clock = clock
        self._ids = ids
        self._audit = audit
        self._identity = identity
        self._matching = matching

    def draft_from_hit(
        self, actor: Actor, value: str, kind: str | None, holder: str, disclosure: Disclosure
    ) -> DraftView:
        """A draft request to ``holder`` (party id or name) about ``value``, which a lookup by ``actor`` must
        show ``holder`` to hold. Raises PermissionDenied, InvalidInput (naming value, type, holder or party),
        NotFound."""
        self._identity.authorize(actor, Permission.DRAFT_COOPERATION)
        if actor.party_id is None:
            raise InvalidInput("party", "a cooperation request is made by a party; sign in as one of its users")
        check_kind("type", kind)  # before the lookup, which would name its own field ("types")
        requested = self._identity.get_party(holder)
        if requested.id == actor.party_id:
            raise InvalidInput("holder", "your own party holds this value; no cooperation request is needed")
        [result] = self._matching.lookup(actor, [value], [kind], disclosure)
        if result.error is not None or result.canonical is None:
            raise InvalidInput("value", result.error or "not an identifier")
        visible = [hit for hit in result.hits.visible if hit.party_id == requested.id]
        restricted = result.hits.restricted
        withheld = restricted is not None and any(c.party_id == requested.id for c in restricted.contacts)
        if not visible and not withheld:
            raise InvalidInput("holder", "a lookup of this value does not show this party as holding it")
        fields: dict[str, Any] = {
            "identifier": {"input": value, "kind": result.type, "canonical": result.canonical},
            # What the requester saw: report ids only where the markings let them see the report.
            "reports_seen": [
                {"stix_id": hit.stix_id, "tlp": hit.tlp, "last_seen": hit.last_seen.isoformat()} for hit in visible
            ],
            "holds_withheld_reports": withheld,
            "cross_border": result.cross_border,
            "warninglists": list(result.warninglists),
        }
        draft_id = self._ids.new_id("cooperation-request")
        now = self._clock.now()
        with self._db.writing() as session:
            session.add(
                CooperationRequest(
                    id=draft_id,
                    state=DRAFT,
                    request_type=None,
                    requesting_party_id=actor.party_id,
                    requested_party_id=requested.id,
                    created_by=actor.username,
                    created_at=now,
                    origin=FROM_HIT,
                    fields=json.dumps(fields, sort_keys=True),
                )
            )
            self._audit.append(
                session,
                actor.audit_ref(),
                "cooperation.draft",
                object_type="cooperation-request",
                object_id=draft_id,
                disclosure=disclosure,
                details={"requested_party": requested.id, "origin": FROM_HIT},
            )
        return DraftView(
            draft_id, DRAFT, actor.party_id, requested.id, requested.name, actor.username, now, FROM_HIT, fields
        )

    def drafts(self, actor: Actor, disclosure: Disclosure) -> list[DraftView]:
        """The caller's party's drafts, newest first (at most 200). They hold identifiers (personal data), so
        the read is audited with its purpose, like every other such read."""
        self._identity.authorize(actor, Permission.DRAFT_COOPERATION)
        if actor.party_id is None:
            return []
        with self._db.writing() as session:
            self._audit.append(
                session,
                actor.audit_ref(),
                "cooperation.drafts.read",
                object_type="party",
                object_id=actor.party_id,
                disclosure=disclosure,
            )
            rows = session.scalars(
                select(CooperationRequest)
                .where(CooperationRequest.requesting_party_id == actor.party_id, CooperationRequest.state == DRAFT)
                .order_by(CooperationRequest.created_at.desc(), CooperationRequest.id)
                .limit(MAX_LISTED)
            ).all()
        names = self._identity.parties_by_id({row.requested_party_id for row in rows})
        return [
            DraftView(
                row.id,
                row.state,
                row.requesting_party_id,
                row.requested_party_id,
                names[row.requested_party_id].name,
                row.created_by,
                row.created_at,
                row.origin,
                json.loads(row.fields),
            )
            for row in rows
        ]
