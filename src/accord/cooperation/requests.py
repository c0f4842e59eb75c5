"""Cooperation requests: drafts checked against the legal catalogue, transitions with their legal guards, an
immutable history, preservation holds, clocks and notifications.

Requests between parties on this node are delivered at once (sent → received, made by the node); between
nodes the federation carries the same request as a signed envelope. A request is visible to the users of the
two parties it is between, and every read is audited with its purpose (requests name people and accounts).

Each change is one transaction: the state, the history entry, the hold, the notifications and the audit entry
commit together or not at all, so a refused transition leaves nothing behind.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from accord.audit.service import AuditLog, Disclosure
from accord.clock import Clock
from accord.cooperation import states
from accord.cooperation.alerts import Alerts
from accord.cooperation.catalogue import Catalogue, RequestType
from accord.cooperation.deadlines import HoldView, Step, clocks
from accord.cooperation.directory import Directory
from accord.cooperation.legal import (
    Decision,
    check_assessment,
    check_decision,
    check_refusal,
    duration_problems,
    hold_days,
    offence_class_problems,
)
from accord.cooperation.models import (
    CooperationRequest,
    CooperationTransition,
    PreservationHold,
)
from accord.cooperation.notify import Mailer
from accord.cooperation.relay import HOLD, MESSAGE, REQUEST, Change, Relay
from accord.cooperation.validation import (
    FieldProblem,
    RequestIncomplete,
    check_known_fields,
    check_required,
    lint,
)
from accord.cooperation.views import RequestView, fields_from_hit, fields_with_envelope
from accord.errors import InvalidInput, NotFound
from accord.identity.actor import Actor
from accord.identity.errors import PermissionDenied
from accord.identity.service import IdentityService
from accord.identity.vocabulary import Permission
from accord.ids import IdSource
from accord.store.engine import Database

URGENCIES = ("routine", "urgent", "emergency")
MESSAGE_SIDES = {
    "status_inquiry": states.Side.REQUESTING,
    "status_answer": states.Side.REQUESTED,
    "no_longer_required_notice": states.Side.REQUESTING,
}
MAX_FIELDS_BYTES = 256 * 1024
MAX_LISTED = 200
MAX_TEXT = 4000


class CooperationRequests:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        ids: IdSource,
        audit: AuditLog,
        identity: IdentityService,
        catalogue: Catalogue,
        mailer: Mailer | None = None,
        directory: Directory | None = None,
    ) -> None:
        self.alerts = Alerts(db, clock, identity, mailer, directory)
        self._db = db
        self._clock = clock
        self._ids = ids
        self._audit = audit
        self._identity = identity
        self.catalogue = catalogue
        # Set by the federation when the node has peers: called inside each change's transaction (see relay.py).
        self.relay: Relay | None = None

    # -- drafts ----------------------------------------------------------------------------------------------

    def create(
        self,
        actor: Actor,
        *,
        request_type: str,
        instrument: str,
        requested_party: str,
        fields: dict[str, Any],
        urgency: str = "routine",
        language: str | None = None,
        case_reference: str | None = None,
    ) -> RequestView:
        """A draft of ``request_type`` under ``instrument``. Fields are checked for form now (unknown or malformed
        → 422 naming them); whether every required element is there is checked when it is sent."""
        self._identity.authorize(actor, Permission.DRAFT_COOPERATION)
        if actor.party_id is None:
            raise InvalidInput("party", "a request is made by a party; act as one of its users")
        rtype = self.catalogue.request_type(request_type)
        rtype.rules(instrument)
        requested = self._identity.get_party(requested_party)
        if requested.id == actor.party_id:
            raise InvalidInput("requested_party", "a request goes to another party")
        self._check_envelope(urgency, language, case_reference)
        fields = self._with_defaults(rtype, fields)
        self._check_fields(fields, rtype)
        now = self._clock.now()
        request_id = self._ids.new_id("cooperation-request")
        with self._db.writing() as session:
            row = CooperationRequest(
                id=request_id,
                state=states.DRAFT,
                request_type=rtype.code,
                requesting_party_id=actor.party_id,
                requested_party_id=requested.id,
                created_by=actor.username,
                created_at=now,
                origin="form",
                fields=json.dumps(fields, sort_keys=True),
                reference=self._next_reference(session, actor.country or "XX", now),
                instrument=instrument,
                urgency=urgency,
                language=language,
                case_reference=case_reference,
                catalogue_version=self.catalogue.version,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            self._record(session, row, actor, "request", None, states.DRAFT, states.Side.REQUESTING, {})
            self._audit.append(
                session,
                actor.audit_ref(),
                "cooperation.request.create",
                object_type="cooperation-request",
                object_id=request_id,
                details={"type": rtype.code, "instrument": instrument, "requested_party": requested.id},
            )
            return self._view(session, row, actor)

    def update(self, actor: Actor, request_id: str, changes: dict[str, Any]) -> RequestView:
        """Change a draft (its type, instrument, envelope or fields); only the requesting side, only drafts."""
        self._identity.authorize(actor, Permission.DRAFT_COOPERATION)
        allowed = {"type", "instrument", "urgency", "language", "case_reference", "fields"}
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise InvalidInput(unknown[0], f"cannot be changed; change one of {', '.join(sorted(allowed))}")
        with _denials_audited(self._identity, actor), self._db.writing() as session:
            row = self._visible(session, actor, request_id, for_update=True)
            self._require_side(actor, row, states.Side.REQUESTING)
            if row.state != states.DRAFT:
                raise states.IllegalTransition(row.state, states.DRAFT, "only a draft can be changed")
            rtype = self.catalogue.request_type(changes.get("type", row.request_type))
            instrument = changes.get("instrument", row.instrument) or next(iter(rtype.instruments))
            rtype.rules(instrument)
            urgency = changes.get("urgency", row.urgency)
            language = changes.get("language", row.language)
            case_reference = changes.get("case_reference", row.case_reference)
            self._check_envelope(urgency, language, case_reference)
            new_fields = changes.get("fields", {})
            if not isinstance(new_fields, dict):
                raise InvalidInput("fields", "an object of field names and values")
            fields = {**json.loads(row.fields), **new_fields}
            fields = {k: v for k, v in fields.items() if v is not None}
            if row.request_type is None:  # a draft opened from a matching hit: its notes move under 'identifiers'
                fields = fields_from_hit(fields)
            fields = self._with_defaults(rtype, fields)
            self._check_fields(fields, rtype)
            row.request_type, row.instrument, row.urgency = rtype.code, instrument, urgency
            row.language, row.case_reference = language, case_reference
            row.fields = json.dumps(fields, sort_keys=True)
            row.catalogue_version = self.catalogue.version
            row.reference = row.reference or self._next_reference(session, actor.country or "XX", self._clock.now())
            row.updated_at = self._clock.now()
            self._audit.append(
                session,
                actor.audit_ref(),
                "cooperation.request.update",
                object_type="cooperation-request",
                object_id=row.id,
                details={"changed": sorted(changes)},
            )
            return self._view(session, row, actor)

    # -- reading ---------------------------------------------------------------------------------------------

    def get(self, actor: Actor, request_id: str, disclosure: Disclosure) -> RequestView:
        self._authorize_any(actor)
        with self._db.writing() as session:
            row = self._visible(session, actor, request_id)
            self._audit.append(
                session,
                actor.audit_ref(),
                "cooperation.request.read",
                object_type="cooperation-request",
                object_id=row.id,
                disclosure=disclosure,
            )
            return self._view(session, row, actor)

    def listing(self, actor: Actor, box: str, disclosure: Disclosure) -> list[RequestView]:
        """``inbox`` (requests to your party, once sent), ``outbox`` (from your party) or ``overdue`` (either, with
        a clock past its due time)."""
        self._authorize_any(actor)
        if box not in ("inbox", "outbox", "overdue"):
            raise InvalidInput("box", "one of inbox, outbox, overdue")
        statement = select(CooperationRequest).where(CooperationRequest.request_type.is_not(None))
        party = actor.party_id
        if box == "inbox":
            statement = statement.where(CooperationRequest.state.not_in([states.DRAFT, states.PENDING_APPROVAL]))
            if actor.via != "operator":
                statement = statement.where(CooperationRequest.requested_party_id == party)
        elif box == "outbox" and actor.via != "operator":
            statement = statement.where(CooperationRequest.requesting_party_id == party)
        elif box == "overdue":
            statement = statement.where(CooperationRequest.state.not_in(list(states.FINAL)))
            if actor.via != "operator":
                statement = statement.where(
                    or_(CooperationRequest.requesting_party_id == party, CooperationRequest.requested_party_id == party)
                )
        statement = statement.order_by(CooperationRequest.created_at.desc(), CooperationRequest.id).limit(
            MAX_LISTED * (5 if box == "overdue" else 1)
        )
        with self._db.writing() as session:
            views = [self._view(session, row, actor) for row in session.scalars(statement)]
            if box == "overdue":
                views = [v for v in views if any(c["status"] == "overdue" for c in v.clocks)][:MAX_LISTED]
            self._audit.append(
                session,
                actor.audit_ref(),
                f"cooperation.{box}.read",
                object_type="party",
                object_id=party,
                disclosure=disclosure,
                details={"requests": len(views)},
            )
            return views

    # -- transitions -----------------------------------------------------------------------------------------

    def transition(self, actor: Actor, request_id: str, to: str, decision: Decision) -> RequestView:
        """Move a request. Raises IllegalTransition (409: current and requested state), RequestIncomplete (422:
        each missing element with its article), PermissionDenied, NotFound."""
        self._authorize_any(actor)
        check_decision(decision)
        with _denials_audited(self._identity, actor), self._db.writing() as session:
            row = self._visible(session, actor, request_id, for_update=True)
            if to not in states.STATES:
                raise InvalidInput("to", f"one of {', '.join(states.STATES)}")
            side = states.side_for(row.state, to)
            if side is states.Side.NODE:
                raise states.IllegalTransition(row.state, to, "the node makes this move itself on delivery")
            self._require_side(actor, row, side, to)
            rtype = self.catalogue.request_type(row.request_type)
            details = self._guard(session, row, rtype, actor, to, decision)
            self._move(session, row, actor, to, side, details)
            relayed = self._relayed(session, row, Change(REQUEST, to, side, actor.username, details))
            if to == states.SENT and not relayed:
                self._deliver(session, row, rtype)
            self._audit.append(
                session,
                actor.audit_ref(),
                "cooperation.request.transition",
                object_type="cooperation-request",
                object_id=row.id,
                details={"to": to, "grounds": list(decision.grounds)},
            )
            return self._view(session, row, actor)

    def _guard(
        self, session: Session, row: CooperationRequest, rtype: RequestType, actor: Actor, to: str, decision: Decision
    ) -> dict[str, Any]:
        fields = fields_with_envelope(row)
        details = decision.details()
        instrument = row.instrument or ""
        if to in (states.SENT, states.PENDING_APPROVAL):
            problems = check_required(fields, rtype, instrument, self.catalogue)
            problems += self._language_problems(row, fields)
            problems += offence_class_problems(self.catalogue, rtype, fields, decision)
            problems += duration_problems(rtype, fields)
            if problems:
                raise RequestIncomplete(problems)
            if to == states.SENT and row.state == states.PENDING_APPROVAL:
                # Four eyes: the approver holds the approval right and is not who drafted the request.
                if not actor.holds(Permission.APPROVE_COOPERATION):
                    raise _Denied(Permission.APPROVE_COOPERATION)
                if actor.username == row.created_by and actor.via != "operator":
                    raise InvalidInput("approved_by", "the request must be approved by someone other than its author")
                details["approved_by"] = actor.username
        elif to in (states.REFUSED, states.POSTPONED):
            check_refusal(rtype, instrument, to, decision)
        elif to == states.NEEDS_MORE_INFORMATION and not decision.note:
            raise RequestIncomplete([FieldProblem("note", "say what information is needed", "UN 40(16)")])
        elif to == states.UNDER_REVIEW and row.state == states.NEEDS_MORE_INFORMATION and not decision.note:
            raise RequestIncomplete([FieldProblem("note", "give the information that was asked for")])
        if to in (states.EXECUTING, states.EXECUTED, states.PARTIALLY_EXECUTED) and rtype.code.startswith("mla"):
            assessment = decision.dual_criminality
            if assessment is not None:
                details["dual_criminality"] = check_assessment(assessment)
        details["catalogue_article"] = rtype.rules(instrument).article
        return details

    def _language_problems(self, row: CooperationRequest, fields: dict[str, Any]) -> list[FieldProblem]:
        requested = self._identity.parties_by_id({row.requested_party_id})[row.requested_party_id]
        accepted = (self.catalogue.party(requested.country) or {}).get("languages") or []
        if not accepted:
            return []
        languages = {row.language, *self._translation_languages(row, fields)}
        if languages & set(accepted):
            return []
        return [
            FieldProblem(
                "language",
                f"{requested.name} accepts {', '.join(accepted)}: write in one of them or link a translation",
                "UN 40(14); P2 4",
            )
        ]

    def _translation_languages(self, row: CooperationRequest, fields: dict[str, Any]) -> list[str | None]:
        """Languages of the translations linked to this request: requests listed in its ``linked_requests``
        whose ``translation_of`` names it, between the same parties (Convention req. 14: stored as linked
        documents)."""
        linked = [r for r in fields.get("linked_requests") or [] if isinstance(r, str)][:50]
        if not linked:
            return []
        with self._db.reading() as session:
            rows = session.scalars(select(CooperationRequest).where(CooperationRequest.id.in_(linked))).all()
        return [
            other.language
            for other in rows
            if json.loads(other.fields).get("translation_of") == row.id
            and (other.requesting_party_id, other.requested_party_id)
            == (row.requesting_party_id, row.requested_party_id)
        ]

    def _move(
        self,
        session: Session,
        row: CooperationRequest,
        actor: Actor | None,
        to: str,
        side: states.Side,
        details: dict[str, Any],
    ) -> None:
        now = self._clock.now()
        self._record(session, row, actor, "request", row.state, to, side, details)
        row.state, row.updated_at = to, now
        if side is not states.Side.NODE and row.sent_at is not None and to != states.SENT:
            other = row.requested_party_id if side is states.Side.REQUESTING else row.requesting_party_id
            self.alerts.notify(
                session, row, other, f"state-{to}", f"Request {row.reference} is now {to.replace('_', ' ')}"
            )
        if to == states.SENT:
            row.sent_at = now
        elif to == states.RECEIVED:
            row.received_at = now
        elif to == states.ACKNOWLEDGED:
            row.acknowledged_at = now
        elif to in (states.EXECUTED, states.REFUSED, states.PARTIALLY_EXECUTED) and row.decided_at is None:
            row.decided_at = now
        self._after_move(session, row, to)

    def _relayed(self, session: Session, row: CooperationRequest, change: Change) -> bool:
        return self.relay is not None and self.relay(session, row, change)

    def _deliver(
        self, session: Session, row: CooperationRequest, rtype: RequestType, channel: str = "accord (same node)"
    ) -> None:
        """The request is received: as it is sent (both parties on this node), or as a peer node receives it."""
        self._move(session, row, None, states.RECEIVED, states.Side.NODE, {"channel": channel})
        message = f"New {rtype.title.lower()} {row.reference}"
        if row.urgency == "emergency":
            message = f"EMERGENCY: {message}{self.alerts.contact_line(row.requested_party_id, escalate=False)}"
        self.alerts.notify(session, row, row.requested_party_id, "received", message)
        if rtype.preservation_hold:
            # International: at least 60 days (UN 42(7), BC 29(7)); a domestic order: its own duration, at most
            # 90 days (UN 25(2), BC 16(2)), checked before sending.
            days = hold_days(rtype, json.loads(row.fields))
            now = self._clock.now()
            session.add(
                PreservationHold(
                    request_id=row.id,
                    state=states.HOLD_ACTIVE,
                    started_at=now,
                    expires_at=now + timedelta(days=days),
                    mla_request_id=None,
                    updated_at=now,
                )
            )
            self._record(session, row, None, "hold", None, states.HOLD_ACTIVE, states.Side.NODE, {"days": days})
        linked = json.loads(row.fields).get("linked_preservation")
        if isinstance(linked, str):
            self._link_mla(session, row, linked)

    def _link_mla(self, session: Session, mla: CooperationRequest, preservation_id: str) -> None:
        """An MLA request received for preserved data keeps the hold until it is decided (UN 42(7), BC 29(7))."""
        hold = session.get(PreservationHold, preservation_id, with_for_update=True)
        preservation = session.get(CooperationRequest, preservation_id)
        if hold is None or preservation is None or hold.state not in states.HOLD_RUNNING:
            return
        if {preservation.requesting_party_id, preservation.requested_party_id} != {
            mla.requesting_party_id,
            mla.requested_party_id,
        }:
            return
        self._record(
            session, preservation, None, "hold", hold.state, states.HOLD_MLA_RECEIVED, states.Side.NODE, {"mla": mla.id}
        )
        hold.state, hold.mla_request_id, hold.updated_at = states.HOLD_MLA_RECEIVED, mla.id, self._clock.now()

    def _after_move(self, session: Session, row: CooperationRequest, to: str) -> None:
        if to in states.DECIDED:
            hold = session.scalars(
                select(PreservationHold).where(
                    PreservationHold.mla_request_id == row.id, PreservationHold.state == states.HOLD_MLA_RECEIVED
                )
            ).first()
            if hold is not None:
                preservation = session.get(CooperationRequest, hold.request_id)
                if preservation is not None:
                    self._record(
                        session,
                        preservation,
                        None,
                        "hold",
                        hold.state,
                        states.HOLD_RELEASED,
                        states.Side.NODE,
                        {"reason": f"MLA request {row.reference} decided: {to}"},
                    )
                    hold.state, hold.updated_at = states.HOLD_RELEASED, self._clock.now()

    # -- messages --------------------------------------------------------------------------------------------

    def message(self, actor: Actor, request_id: str, kind: str, text: str) -> RequestView:
        """A status inquiry (requesting side) or its answer (requested side), kept in the history and notified to
        the other side (UN 40: respond to reasonable requests for the status and progress of a request)."""
        self._authorize_any(actor)
        if kind not in MESSAGE_SIDES:
            raise InvalidInput("kind", f"one of {', '.join(MESSAGE_SIDES)}")
        if not text.strip() or len(text) > MAX_TEXT:
            raise InvalidInput("text", f"1 to {MAX_TEXT} characters")
        side = MESSAGE_SIDES[kind]
        with _denials_audited(self._identity, actor), self._db.writing() as session:
            row = self._visible(session, actor, request_id, for_update=True)
            if row.sent_at is None or row.state in states.FINAL:
                raise states.IllegalTransition(row.state, kind, "messages go with a request that is sent and open")
            self._require_side(actor, row, side, kind)
            self._record(session, row, actor, MESSAGE, None, kind, side, {"text": text.strip()})
            self._relayed(session, row, Change(MESSAGE, kind, side, actor.username, {"text": text.strip()}))
            other = row.requested_party_id if side is states.Side.REQUESTING else row.requesting_party_id
            count = session.scalar(
                select(func.count())
                .select_from(CooperationTransition)
                .where(CooperationTransition.request_id == row.id)
            )
            label = kind.replace("_", " ")
            self.alerts.notify(session, row, other, f"{kind}-{count}", f"Request {row.reference}: {label} received")
            self._audit.append(
                session,
                actor.audit_ref(),
                "cooperation.request.message",
                object_type="cooperation-request",
                object_id=row.id,
                details={"kind": kind},
            )
            return self._view(session, row, actor)

    # -- preservation holds ----------------------------------------------------------------------------------

    def hold_transition(
        self, actor: Actor, request_id: str, to: str, *, until: datetime | None = None, justification: str | None = None
    ) -> RequestView:
        """Ask for an extension (requesting side, before expiry, with a justification), grant it with a new expiry
        no earlier than the current one (requested side), or release the data (requested side)."""
        self._authorize_any(actor)
        with _denials_audited(self._identity, actor), self._db.writing() as session:
            row = self._visible(session, actor, request_id, for_update=True)
            hold = session.get(PreservationHold, request_id, with_for_update=True)
            if hold is None:
                raise NotFound("preservation hold of request", request_id)
            side = states.side_for(hold.state, to, states.HOLD_TRANSITIONS)
            if side is states.Side.NODE:
                raise states.IllegalTransition(hold.state, to, "the node makes this move itself")
            self._require_side(actor, row, side, to)
            details: dict[str, Any] = {}
            now = self._clock.now()
            if to == states.HOLD_EXTENSION_REQUESTED:
                if not justification:
                    raise RequestIncomplete(
                        [FieldProblem("justification", "why the data must be kept longer", "UN 42(8)")]
                    )
                details["justification"] = justification[:MAX_TEXT]
            if to == states.HOLD_EXTENDED:
                if until is None or until.tzinfo is None or until <= hold.expires_at:
                    raise RequestIncomplete(
                        [FieldProblem("until", f"a new expiry after {hold.expires_at.isoformat()}", "UN 42(8)")]
                    )
                details["until"], hold.expires_at = until.isoformat(), until
            self._record(session, row, actor, HOLD, hold.state, to, side, details)
            hold.state, hold.updated_at = to, now
            self._relayed(session, row, Change(HOLD, to, side, actor.username, details))
            other = row.requested_party_id if side is states.Side.REQUESTING else row.requesting_party_id
            self.alerts.notify(
                session, row, other, f"hold-{to}-{now.isoformat()}", f"Preservation {row.reference}: {to}"
            )
            self._audit.append(
                session,
                actor.audit_ref(),
                "cooperation.hold.transition",
                object_type="cooperation-request",
                object_id=row.id,
                details={"to": to},
            )
            return self._view(session, row, actor)

    # -- the clock -------------------------------------------------------------------------------------------

    def tick(self) -> dict[str, int]:
        """Run the deadlines as of the injected clock: expire holds, send the D-14/D-7/D-1 alerts, escalate
        unacknowledged emergencies, flag overdue answers. Each alert happens once (its key is unique)."""
        now = self._clock.now()
        counts = {"expired": 0, "alerts": 0, "escalations": 0, "overdue": 0}
        with self._db.writing() as session:
            holds = session.scalars(
                select(PreservationHold).where(PreservationHold.state.in_(list(states.HOLD_RUNNING))).with_for_update()
            ).all()
            for hold in holds:
                row = session.get(CooperationRequest, hold.request_id)
                if row is None:  # pragma: no cover - a foreign key holds it
                    continue
                rtype = self.catalogue.request_type(row.request_type)
                if now >= hold.expires_at:
                    self._record(session, row, None, "hold", hold.state, states.HOLD_EXPIRED, states.Side.NODE, {})
                    hold.state, hold.updated_at = states.HOLD_EXPIRED, now
                    for party in (row.requesting_party_id, row.requested_party_id):
                        self.alerts.notify(
                            session, row, party, "hold-expired", f"Preservation {row.reference} has expired"
                        )
                    counts["expired"] += 1
                    continue
                for days in rtype.timers.get("hold_alert_days_before") or [14, 7, 1]:
                    if now >= hold.expires_at - timedelta(days=days):
                        key = f"hold-D-{days}-{hold.expires_at.isoformat()}"
                        message = (
                            f"Preservation {row.reference} expires on {hold.expires_at:%Y-%m-%d %H:%M} UTC (D-{days})"
                        )
                        added = sum(
                            self.alerts.notify(session, row, party, key, message)
                            for party in (row.requesting_party_id, row.requested_party_id)
                        )
                        counts["alerts"] += added
            open_rows = session.scalars(
                select(CooperationRequest).where(
                    CooperationRequest.sent_at.is_not(None),
                    CooperationRequest.state.not_in([*states.FINAL, states.EXECUTED, states.REFUSED]),
                )
            ).all()
            for row in open_rows:
                for item in self._clocks(session, row, now):
                    if item["status"] != "overdue" or item["name"] == "preservation_hold":
                        continue
                    if item["name"] == "acknowledge":
                        message = (
                            f"Emergency request {row.reference} not acknowledged in time: escalated to the next "
                            f"point of contact{self.alerts.contact_line(row.requested_party_id, escalate=True)}"
                        )
                        counts["escalations"] += self.alerts.notify(
                            session, row, row.requested_party_id, "ack-escalation", message
                        )
                    else:
                        message = f"Request {row.reference}: {item['name']} overdue since {item['due_at']}"
                        counts["overdue"] += sum(
                            self.alerts.notify(session, row, party, f"{item['name']}-overdue", message)
                            for party in (row.requesting_party_id, row.requested_party_id)
                        )
        counts["emailed"] = self.alerts.deliver_email()
        return counts

    def notifications(self, actor: Actor, limit: int = 50) -> list[dict[str, Any]]:
        self._authorize_any(actor)
        return self.alerts.listed(None if actor.via == "operator" else actor.party_id, limit)

    # -- helpers ---------------------------------------------------------------------------------------------

    def _record(
        self,
        session: Session,
        row: CooperationRequest,
        actor: Actor | None,
        machine: str,
        from_state: str | None,
        to_state: str,
        side: states.Side,
        details: dict[str, Any],
    ) -> None:
        seq = session.scalar(
            select(func.coalesce(func.max(CooperationTransition.seq), 0)).where(
                CooperationTransition.request_id == row.id
            )
        )
        session.add(
            CooperationTransition(
                request_id=row.id,
                seq=int(seq or 0) + 1,
                machine=machine,
                from_state=from_state,
                to_state=to_state,
                at=self._clock.now(),
                actor=actor.username if actor else "node",
                actor_party_id=actor.party_id if actor else None,
                side=str(side),
                catalogue_version=self.catalogue.version,
                details=json.dumps(details, sort_keys=True, default=str),
            )
        )
        session.flush()

    def _view(self, session: Session, row: CooperationRequest, actor: Actor) -> RequestView:
        names = self._identity.parties_by_id({row.requesting_party_id, row.requested_party_id})
        history = session.scalars(
            select(CooperationTransition)
            .where(CooperationTransition.request_id == row.id)
            .order_by(CooperationTransition.seq)
        ).all()
        hold = session.get(PreservationHold, row.id)
        fields = fields_with_envelope(row)
        rtype = self.catalogue.request_types.get(row.request_type or "")
        blocking: list[FieldProblem] = []
        if rtype is not None and row.state in (states.DRAFT, states.PENDING_APPROVAL) and row.instrument:
            blocking = check_required(fields, rtype, row.instrument, self.catalogue)
            blocking += self._language_problems(row, fields)
        now = self._clock.now()
        return RequestView(
            row=row,
            requesting_party=names[row.requesting_party_id].name,
            requested_party=names[row.requested_party_id].name,
            history=[
                {
                    "seq": h.seq,
                    "machine": h.machine,
                    "from": h.from_state,
                    "to": h.to_state,
                    "at": h.at.isoformat(),
                    "actor": h.actor,
                    "side": h.side,
                    "catalogue_version": h.catalogue_version,
                    **json.loads(h.details),
                }
                for h in history
            ],
            clocks=self._clocks(session, row, now, history=list(history), hold=hold),
            hold=(
                {
                    "state": hold.state,
                    "started_at": hold.started_at.isoformat(),
                    "expires_at": hold.expires_at.isoformat(),
                    "mla_request_id": hold.mla_request_id,
                }
                if hold
                else None
            ),
            lint=[f.as_json() for f in lint(fields, now)] if rtype else [],
            blocking=[p.as_json() for p in blocking],
            next_states=self._next_states(row, actor),
        )

    def _clocks(
        self,
        session: Session,
        row: CooperationRequest,
        now: datetime,
        *,
        history: list[CooperationTransition] | None = None,
        hold: PreservationHold | None = None,
    ) -> list[dict[str, Any]]:
        if history is None:
            history = list(
                session.scalars(
                    select(CooperationTransition)
                    .where(CooperationTransition.request_id == row.id)
                    .order_by(CooperationTransition.seq)
                )
            )
            hold = session.get(PreservationHold, row.id)
        rtype = self.catalogue.request_types.get(row.request_type or "")
        return [
            c.as_json()
            for c in clocks(
                state=row.state,
                urgency=row.urgency,
                steps=[Step(h.machine, h.to_state, h.at) for h in history],
                timers=rtype.timers if rtype else {},
                global_timers=self.catalogue.timers,
                hold=HoldView(hold.state, hold.started_at, hold.expires_at, hold.mla_request_id) if hold else None,
                now=now,
            )
        ]

    def _next_states(self, row: CooperationRequest, actor: Actor) -> list[str]:
        sides = set()
        if actor.via == "operator" or actor.party_id == row.requesting_party_id:
            sides.add(states.Side.REQUESTING)
        if actor.via == "operator" or actor.party_id == row.requested_party_id:
            sides.add(states.Side.REQUESTED)
        return [to for to, side in states.TRANSITIONS.get(row.state, {}).items() if side in sides]

    def _visible(
        self, session: Session, actor: Actor, request_id: str, *, for_update: bool = False
    ) -> CooperationRequest:
        row = session.get(CooperationRequest, request_id, with_for_update=for_update)
        if row is None or (row.request_type is None and row.state != states.DRAFT):
            raise NotFound("cooperation request", request_id)
        parties = {row.requesting_party_id}
        if row.state not in (states.DRAFT, states.PENDING_APPROVAL):
            parties.add(row.requested_party_id)  # the requested side sees a request once it is sent
        if actor.via != "operator" and actor.party_id not in parties:
            raise NotFound("cooperation request", request_id)
        return row

    def _require_side(self, actor: Actor, row: CooperationRequest, side: states.Side, to: str = states.DRAFT) -> None:
        permission = Permission.DRAFT_COOPERATION if side is states.Side.REQUESTING else Permission.RESPOND_COOPERATION
        if not actor.holds(permission):
            raise _Denied(permission)  # audited once the write transaction is gone (see _denials_audited)
        party = row.requesting_party_id if side is states.Side.REQUESTING else row.requested_party_id
        if actor.via != "operator" and actor.party_id != party:
            raise states.IllegalTransition(row.state, to, f"only the {side.value} party makes this move")

    def _authorize_any(self, actor: Actor) -> None:
        if not (actor.holds(Permission.DRAFT_COOPERATION) or actor.holds(Permission.RESPOND_COOPERATION)):
            self._identity.authorize(actor, Permission.DRAFT_COOPERATION)  # raises, and audits the denial

    def _check_envelope(self, urgency: str, language: str | None, case_reference: str | None) -> None:
        if urgency not in URGENCIES:
            raise InvalidInput("urgency", f"one of {', '.join(URGENCIES)}")
        if language is not None and not (language.isalpha() and 2 <= len(language) <= 3 and language.islower()):
            raise InvalidInput("language", "an ISO 639 code such as en, vi, fil")
        if case_reference is not None and not 1 <= len(case_reference) <= 200:
            raise InvalidInput("case_reference", "1 to 200 characters")

    def _check_fields(self, fields: dict[str, Any], rtype: RequestType) -> None:
        if len(json.dumps(fields)) > MAX_FIELDS_BYTES:
            raise InvalidInput("fields", f"at most {MAX_FIELDS_BYTES} bytes of JSON")
        problems = check_known_fields(fields, rtype, self.catalogue)
        if problems:
            raise RequestIncomplete(problems)

    @staticmethod
    def _with_defaults(rtype: RequestType, fields: dict[str, Any]) -> dict[str, Any]:
        """Confidentiality defaults from the catalogue (UN 42(3)(g): keep confidential, do not notify the user)."""
        out = dict(fields)
        out.setdefault("confidential", rtype.confidential)
        out.setdefault("do_not_notify_user", rtype.do_not_notify_user)
        return out

    def _next_reference(self, session: Session, country: str, now: datetime) -> str:
        prefix = f"{country}-{now.year}-"
        count = session.scalar(
            select(func.count()).select_from(CooperationRequest).where(CooperationRequest.reference.like(f"{prefix}%"))
        )
        return f"{prefix}{int(count or 0) + 1:05d}"


class _Denied(Exception):
    """A permission found missing inside a write transaction; the public method audits it after the rollback
    (SQLite has one writer: the denial's own audit transaction cannot start while ours holds the lock)."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission


@contextmanager
def _denials_audited(identity: IdentityService, actor: Actor) -> Iterator[None]:
    try:
        yield
    except _Denied as denied:
        identity.authorize(actor, denied.permission)  # audits the denial and raises PermissionDenied
        raise PermissionDenied(actor.username, denied.permission, "role") from None  # pragma: no cover
