"""Cooperation requests between nodes: a request to a party that stands for a peer node travels to that node as
a signed envelope, and so does every later change either side makes (UN Art. 40 mutual legal assistance, Art. 41
24/7 network, Art. 42 expedited preservation: the Convention's requests between States Parties).

How it hooks in: the request service calls one callable (``CooperationRequests.relay``) inside the transaction of
each change a person makes. That is the smallest clean change to cooperation: it keeps no knowledge of peers or
envelopes (dependencies point one way, federation → cooperation), and because the call is inside the same
transaction, a change commits with its envelope in the outbox or not at all. Wrapping the service's public
methods from outside instead would have needed a second transaction (a change committed, its envelope lost in a
crash between the two).

On arrival the receiving node applies the change to its copy of the request (same id, same reference), as the
party standing for the sending node: a new request lands in the inbox of the party this node speaks for towards
that peer (``Peer.own_party_id``), like any request received on the node.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.cooperation import states
from accord.cooperation.models import CooperationRequest
from accord.cooperation.relay import MESSAGE, REQUEST, Change
from accord.cooperation.remote import RemoteChanges, change_document, parse_change, request_document
from accord.cooperation.requests import CooperationRequests
from accord.federation.envelopes import (
    COOPERATION_MESSAGE,
    COOPERATION_REQUEST,
    COOPERATION_RESPONSE,
    COOPERATION_TRANSITION,
    Envelope,
    EnvelopeRejected,
)
from accord.federation.models import Peer
from accord.federation.outbox import EnvelopeExchange
from accord.identity.service import IdentityService

# The requested party's answer to a request (UN 40(23): reasons for a refusal or postponement go to the requesting
# party) travels as a response; every other move as a transition.
RESPONSES = frozenset({states.EXECUTED, states.PARTIALLY_EXECUTED, states.REFUSED, states.POSTPONED})
KINDS = (COOPERATION_REQUEST, COOPERATION_TRANSITION, COOPERATION_MESSAGE, COOPERATION_RESPONSE)


class CooperationLink:
    """Carries cooperation requests to peers and applies what peers send. Building one wires it into the request
    service (``relay``) and into the envelope exchange (handlers)."""

    def __init__(self, requests: CooperationRequests, exchange: EnvelopeExchange, identity: IdentityService) -> None:
        self._remote = RemoteChanges(requests)
        self._exchange = exchange
        self._identity = identity
        requests.relay = self.outgoing
        exchange.register(KINDS, self.incoming, self.delivered)

    def outgoing(self, session: Session, row: CooperationRequest, change: Change) -> bool:
        """Put the change in the outbox when the request's other party stands for a peer; True if it did."""
        if row.sent_at is None:
            return False  # drafts and approvals stay on this node
        other = row.requested_party_id if change.side is states.Side.REQUESTING else row.requesting_party_id
        peer = session.scalars(select(Peer).where(Peer.party_id == other).order_by(Peer.node_id)).first()
        if peer is None:
            return False
        if change.machine == REQUEST and change.to == states.SENT:
            party = self._identity.parties_by_id({row.requesting_party_id})[row.requesting_party_id]
            body = request_document(row, change, {"name": party.name, "country": party.country})
            kind = COOPERATION_REQUEST
        else:
            body = change_document(row, change)
            kind = _kind(change)
        # A suspended peer's envelopes are written all the same and wait in the outbox until it is resumed.
        self._exchange.enqueue(session, peer.node_id, kind, body, subject_id=row.id)
        return True

    def incoming(self, session: Session, peer: Peer, envelope: Envelope) -> None:
        """Apply a cooperation envelope from ``peer`` in the inbox's transaction."""
        if envelope.kind == COOPERATION_REQUEST:
            if peer.own_party_id is None:
                raise EnvelopeRejected("to", "this node named no party it speaks for towards the sender; peer again")
            self._remote.receive(
                session,
                envelope.body,
                requesting_party_id=peer.party_id,
                requested_party_id=peer.own_party_id,
                peer=peer.node_id,
            )
            return
        request_id, change = parse_change(envelope.body)
        if (change.machine == REQUEST and change.to == states.SENT) or _kind(change) != envelope.kind:
            raise EnvelopeRejected("kind", f"{envelope.kind} does not carry a {change.machine} change to {change.to}")
        self._remote.apply(session, request_id, change, peer_party_id=peer.party_id, peer=peer.node_id)

    def delivered(self, session: Session, peer: Peer, envelope: Envelope) -> None:
        """The peer's receipt for a request we sent: the request is received there, so it is here too."""
        if envelope.kind == COOPERATION_REQUEST:
            self._remote.delivered(session, str(envelope.body["request"]["id"]), peer.node_id)


def _kind(change: Change) -> str:
    if change.machine == MESSAGE:
        return COOPERATION_MESSAGE
    if change.machine == REQUEST and change.to in RESPONSES:
        return COOPERATION_RESPONSE
    return COOPERATION_TRANSITION
