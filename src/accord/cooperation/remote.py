"""Changes to cooperation requests that arrive from a peer node, applied inside the caller's transaction with the
request service's own helpers (history, clocks, holds, notifications), so a request between two countries'
nodes has the same life on both sides as one between two parties of a node.

The peer speaks for one party (the local party standing for it): it may make only the moves of that party's
side, on requests that party is a party to. Legal guards that need the deciding person (grounds, approvals,
four eyes) ran on the node where the decision was made; what they recorded travels in ``details``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accord.cooperation import states
from accord.cooperation.models import CooperationRequest, CooperationTransition, PreservationHold
from accord.cooperation.relay import HOLD, MESSAGE, REQUEST, Change
from accord.cooperation.requests import MAX_TEXT, MESSAGE_SIDES, CooperationRequests
from accord.errors import AlreadyExists, InvalidInput, NotFound
from accord.identity.actor import Actor

ORIGIN = "peer node"
MAX_DETAILS_BYTES = 64 * 1024  # grounds, reasons, notes: text fields of at most MAX_TEXT each, with room to spare


def request_document(row: CooperationRequest, change: Change, requesting_party: dict[str, str]) -> dict[str, Any]:
    """What travels when a request is sent: its envelope, its fields and who sent it (no local party ids: the
    receiving node maps the parties itself)."""
    return {
        "request": {
            "id": row.id,
            "reference": row.reference,
            "type": row.request_type,
            "instrument": row.instrument,
            "urgency": row.urgency,
            "language": row.language,
            "case_reference": row.case_reference,
            "fields": json.loads(row.fields),
            "created_at": row.created_at.isoformat(),
            "sent_at": row.sent_at.isoformat() if row.sent_at else None,
            "catalogue_version": row.catalogue_version,
            "requesting_party": requesting_party,
        },
        "change": change_document(row, change),
    }


def change_document(row: CooperationRequest, change: Change) -> dict[str, Any]:
    return {
        "request_id": row.id,
        "machine": change.machine,
        "to": change.to,
        "side": str(change.side),
        "actor": change.actor,
        "details": change.details,
    }


def parse_change(document: Any) -> tuple[str, Change]:
    """The request id and change of a change document from a peer. Raises InvalidInput naming the member."""
    if not isinstance(document, dict):
        raise InvalidInput("change", "an object")
    request_id, machine, to = document.get("request_id"), document.get("machine"), document.get("to")
    if not isinstance(request_id, str) or not 1 <= len(request_id) <= 64:
        raise InvalidInput("request_id", "a cooperation request id")
    if machine not in (REQUEST, HOLD, MESSAGE):
        raise InvalidInput("machine", f"one of {REQUEST}, {HOLD}, {MESSAGE}")
    if not isinstance(to, str) or not 1 <= len(to) <= 40:
        raise InvalidInput("to", "a state or message kind")
    try:
        side = states.Side(str(document.get("side")))
    except ValueError:
        raise InvalidInput("side", "requesting or requested") from None
    actor, details = document.get("actor"), document.get("details")
    if not isinstance(actor, str) or not 1 <= len(actor) <= 200:
        raise InvalidInput("actor", "the user name of who made the change")
    if not isinstance(details, dict) or len(json.dumps(details, default=str)) > MAX_DETAILS_BYTES:
        raise InvalidInput("details", f"an object of at most {MAX_DETAILS_BYTES} bytes of JSON")
    return request_id, Change(machine, to, side, actor, details)


class RemoteChanges:
    """Applies what a peer node sent, inside the caller's transaction (the federation inbox's, so a delivery is
    recorded with its effect or not at all). Raises InvalidInput, NotFound, AlreadyExists, IllegalTransition."""

    def __init__(self, requests: CooperationRequests) -> None:
        self._requests = requests

    def receive(
        self,
        session: Session,
        document: Any,
        *,
        requesting_party_id: str,
        requested_party_id: str,
        peer: str,
    ) -> CooperationRequest:
        """Create the request a peer sent (same id and reference on both nodes) and receive it as a request sent on
        this node is received: history, notification, preservation hold (UN 42(7)), link to a preservation."""
        requests = self._requests
        if not isinstance(document, dict) or not isinstance(document.get("request"), dict):
            raise InvalidInput("request", "an object")
        data: dict[str, Any] = document["request"]
        request_id, change = parse_change(document.get("change"))
        if request_id != data.get("id") or change.machine != REQUEST or change.to != states.SENT:
            raise InvalidInput("change", "a request arrives with the change that sent it")
        rtype = requests.catalogue.request_type(data.get("type"))
        instrument = data.get("instrument")
        if not isinstance(instrument, str):
            raise InvalidInput("instrument", "the instrument relied on, e.g. UN or BC")
        rtype.rules(instrument)
        requests._check_envelope(str(data.get("urgency")), data.get("language"), data.get("case_reference"))
        fields = data.get("fields")
        if not isinstance(fields, dict):
            raise InvalidInput("fields", "an object of field names and values")
        requests._check_fields(fields, rtype)
        reference = data.get("reference")
        if not isinstance(reference, str) or not 1 <= len(reference) <= 40:
            raise InvalidInput("reference", "the requesting node's reference, 1 to 40 characters")
        if session.get(CooperationRequest, request_id) is not None:
            raise AlreadyExists("cooperation request", request_id)
        if session.scalar(select(CooperationRequest.id).where(CooperationRequest.reference == reference)):
            raise AlreadyExists("cooperation request reference", reference)
        now = requests._clock.now()
        row = CooperationRequest(
            id=request_id,
            state=states.SENT,
            request_type=rtype.code,
            requesting_party_id=requesting_party_id,
            requested_party_id=requested_party_id,
            created_by=f"{change.actor}@{peer}"[:200],
            created_at=_when(data.get("created_at")) or now,
            origin=ORIGIN,
            fields=json.dumps(fields, sort_keys=True),
            reference=reference,
            instrument=instrument,
            urgency=data["urgency"],
            language=data.get("language"),
            case_reference=data.get("case_reference"),
            catalogue_version=requests.catalogue.version,
            updated_at=now,
            sent_at=_when(data.get("sent_at")) or now,
        )
        session.add(row)
        session.flush()
        actor = _peer_actor(change.actor, peer, requesting_party_id)
        sender = data.get("requesting_party")
        details = {**change.details, "from_node": peer, "requesting_party": sender if isinstance(sender, dict) else {}}
        requests._record(session, row, actor, REQUEST, None, states.SENT, states.Side.REQUESTING, details)
        requests._deliver(session, row, rtype, channel=f"accord federation from {peer}")
        requests._audit.append(
            session,
            actor.audit_ref(),
            "cooperation.request.receive",
            object_type="cooperation-request",
            object_id=row.id,
            details={"type": rtype.code, "from_node": peer, "requested_party": requested_party_id},
        )
        return row

    def delivered(self, session: Session, request_id: str, peer: str) -> None:
        """The peer's signed receipt says the request arrived there: on this node it moves sent → received too
        (with its preservation hold, counted from now), unless it moved on meanwhile (withdrawn)."""
        row = session.get(CooperationRequest, request_id, with_for_update=True)
        if row is None or row.state != states.SENT:
            return
        rtype = self._requests.catalogue.request_type(row.request_type)
        self._requests._deliver(session, row, rtype, channel=f"accord federation: receipt from {peer}")

    def apply(self, session: Session, request_id: str, change: Change, *, peer_party_id: str, peer: str) -> None:
        """Apply a transition, hold transition or message a peer made for the party it speaks for."""
        requests = self._requests
        row = session.get(CooperationRequest, request_id, with_for_update=True)
        # A peer that is not a party to the request does not learn that it exists (as _visible does for users).
        if row is None or row.sent_at is None or peer_party_id not in (row.requesting_party_id, row.requested_party_id):
            raise NotFound("cooperation request", request_id)
        side = states.Side.REQUESTED if peer_party_id == row.requested_party_id else states.Side.REQUESTING
        if change.side is not side:
            raise states.IllegalTransition(row.state, change.to, f"the peer speaks for the {side.value} party")
        actor = _peer_actor(change.actor, peer, peer_party_id)
        details = {**change.details, "from_node": peer}
        other = row.requesting_party_id if side is states.Side.REQUESTED else row.requested_party_id
        if change.machine == REQUEST:
            if states.side_for(row.state, change.to) is not side:
                raise states.IllegalTransition(row.state, change.to, f"only the {side.value} party's node moves it")
            requests._move(session, row, actor, change.to, side, details)
        elif change.machine == MESSAGE:
            self._message(session, row, actor, change, side, other)
        else:
            self._hold(session, row, actor, change, side, other, details)
        requests._audit.append(
            session,
            actor.audit_ref(),
            f"cooperation.{change.machine}.remote",
            object_type="cooperation-request",
            object_id=row.id,
            details={"to": change.to, "from_node": peer},
        )

    def _message(
        self, session: Session, row: CooperationRequest, actor: Actor, change: Change, side: states.Side, other: str
    ) -> None:
        if MESSAGE_SIDES.get(change.to) is not side:
            raise InvalidInput("to", f"a message kind the {side.value} party sends")
        if row.state in states.FINAL:
            raise states.IllegalTransition(row.state, change.to, "messages go with a request that is open")
        text = change.details.get("text")
        if not isinstance(text, str) or not 1 <= len(text) <= MAX_TEXT:
            raise InvalidInput("text", f"1 to {MAX_TEXT} characters")
        self._requests._record(session, row, actor, MESSAGE, None, change.to, side, {"text": text})
        count = session.scalar(
            select(func.count()).select_from(CooperationTransition).where(CooperationTransition.request_id == row.id)
        )
        label = change.to.replace("_", " ")
        self._requests.alerts.notify(
            session, row, other, f"{change.to}-{count}", f"Request {row.reference}: {label} received"
        )

    def _hold(
        self,
        session: Session,
        row: CooperationRequest,
        actor: Actor,
        change: Change,
        side: states.Side,
        other: str,
        details: dict[str, Any],
    ) -> None:
        hold = session.get(PreservationHold, row.id, with_for_update=True)
        if hold is None:
            raise NotFound("preservation hold of request", row.id)
        if states.side_for(hold.state, change.to, states.HOLD_TRANSITIONS) is not side:
            raise states.IllegalTransition(hold.state, change.to, f"only the {side.value} party's node moves it")
        if change.to == states.HOLD_EXTENDED:
            until = _when(change.details.get("until"))
            if until is None or until <= hold.expires_at:
                raise InvalidInput("until", f"a new expiry after {hold.expires_at.isoformat()} (UN 42(8))")
            hold.expires_at = until
        now = self._requests._clock.now()
        self._requests._record(session, row, actor, HOLD, hold.state, change.to, side, details)
        hold.state, hold.updated_at = change.to, now
        self._requests.alerts.notify(
            session, row, other, f"hold-{change.to}-{now.isoformat()}", f"Preservation {row.reference}: {change.to}"
        )


def _peer_actor(username: str, peer: str, party_id: str) -> Actor:
    """Who made a change on the peer's node, as this node's history and audit log name them."""
    return Actor(
        user_id=None,
        username=f"{username}@{peer}"[:200],
        party_id=party_id,
        party_name=None,
        country=None,
        roles=frozenset(),
        scopes=frozenset(),
        via="peer",
    )


def _when(value: Any) -> datetime | None:
    """An ISO 8601 time with a zone from a peer's document, or None when it is missing or not one."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
