"""Moving signed envelopes between nodes: a durable outbox delivered with retries, an idempotent inbox.

Sending: a domain puts an envelope in the outbox inside the transaction of the change it carries (``enqueue``);
``deliver_due`` (the server's background loop, or ``accord peer deliver``) posts due envelopes to their peer over a
signed call and stores the peer's signed receipt. Envelopes go to each peer in the order they were written, and
one that cannot be delivered now holds back the later ones to that peer (a status change must not overtake the
request it changes). A peer that is down, slow, answers 5xx or drops the connection is tried again later with
exponential backoff and jitter; nothing is dropped. A peer that refuses an envelope (4xx) has said it will never
take it: the envelope is marked refused, with the peer's reason, and the next one goes. A suspended peer gets
nothing: its envelopes wait until it is resumed.

Receiving: ``receive`` verifies the envelope, applies it and records it in the inbox with our receipt in ONE
transaction, so a crash never half-applies an envelope, and a second delivery of the same envelope (the sender
did not get our answer) applies nothing and gets the same receipt.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import and_, case, func, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accord.audit.service import AuditActor, AuditLog
from accord.clock import Clock
from accord.cooperation.models import CooperationRequest
from accord.errors import InvalidInput
from accord.federation.envelope_models import InboxEnvelope, OutboxEnvelope
from accord.federation.envelopes import (
    MAX_ENVELOPE_BYTES,
    RECEIPT,
    Envelope,
    EnvelopeRejected,
    check_receipt,
    open_envelope,
    seal,
)
from accord.federation.models import Peer
from accord.federation.service import ACTIVE, PeerView
from accord.federation.signing import sign_request
from accord.identity.actor import Actor
from accord.identity.node_keys import NodeKeys
from accord.identity.service import IdentityService
from accord.identity.vocabulary import Permission
from accord.ids import IdSource
from accord.store.engine import Database

ENVELOPES_PATH = "/federation/v1/envelopes"
# Backoff between attempts: 10 s doubling to at most an hour, so a peer back after an outage hears from us within
# the hour, and a peer that is down is not hammered. Half of each delay is random (jitter) so that many envelopes
# or nodes waiting on the same peer do not all call it in the same second when it comes back.
BACKOFF_FIRST = timedelta(seconds=10)
BACKOFF_CAP = timedelta(hours=1)
# A generous read timeout: the receiver applies the envelope before answering. Connecting is quick or not at all.
DELIVERY_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
# Answers that say "not now" rather than "never": the peer may not know our key yet or suspended us for now (401),
# or is busy (408, 425, 429). Every 5xx is "not now" too.
RETRY_STATUSES = frozenset({401, 408, 425, 429})
MAX_ERROR = 1000

Handler = Callable[[Session, Peer, Envelope], None]


@dataclass(frozen=True)
class OutboxItem:
    """An envelope not delivered: waiting to be tried (again), held back by a suspended peer, or refused."""

    envelope_id: str
    peer_node_id: str
    peer_name: str
    kind: str
    subject_id: str | None
    status: str  # pending, waiting (the peer is suspended or removed), refused
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_error: str | None

    def document(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["created_at"], out["next_attempt_at"] = self.created_at.isoformat(), self.next_attempt_at.isoformat()
        return out


@dataclass(frozen=True)
class PeerBacklog:
    """Where delivery to one peer stands: what waits, since when, what went wrong last, what the peer refused."""

    peer_node_id: str
    pending: int  # not delivered and not refused: they will be tried (again), in order
    oldest_pending_at: datetime | None  # when the oldest of them was written
    refused: int
    delivered: int
    last_delivered_at: datetime | None  # when the last receipt came back
    last_error: str | None  # of the undelivered envelope tried most recently
    last_error_at: datetime | None


@dataclass(frozen=True)
class SentEnvelope:
    """One envelope written for a peer, whatever became of it. ``reference`` names the cooperation request it
    carries, only for a viewer who may see that request."""

    envelope_id: str
    kind: str
    reference: str | None
    request_id: str | None
    state: str  # pending, waiting (the peer is suspended or removed), delivered, refused
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None  # None once delivered or refused
    last_error: str | None
    delivered_at: datetime | None  # when the peer's signed receipt was stored
    refused_at: datetime | None


@dataclass
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0  # failed now, tried again after a backoff
    refused: int = 0  # the peer will never take them (4xx)


@dataclass(frozen=True)
class _Attempt:
    receipt: Envelope | None = None
    error: str | None = None
    final: bool = False  # the peer refused the envelope for good


class EnvelopeExchange:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        ids: IdSource,
        audit: AuditLog,
        identity: IdentityService,
        keys: Callable[[], NodeKeys],
        rng: random.Random | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._ids = ids
        self._audit = audit
        self._identity = identity
        self._keys = keys
        self._rng = rng or random.Random()  # noqa: S311 - jitter for retries, not a secret
        self._handlers: dict[str, Handler] = {}
        self._on_delivered: dict[str, Handler] = {}

    def register(self, kinds: Iterable[str], handler: Handler, delivered: Handler | None = None) -> None:
        """Who applies envelopes of ``kinds`` when they arrive, and (optionally) who learns on the sending node that
        the peer's receipt came back. Both run inside the transaction that records the envelope."""
        for kind in kinds:
            self._handlers[kind] = handler
            if delivered is not None:
                self._on_delivered[kind] = delivered

    # -- sending ---------------------------------------------------------------------------------------------

    def enqueue(
        self, session: Session, peer_node_id: str, kind: str, body: dict[str, Any], subject_id: str | None = None
    ) -> Envelope:
        """Sign an envelope for a peer and put it in the outbox, in the caller's transaction (so it is sent if and
        only if the change it carries commits). Raises EnvelopeRejected when it is too large."""
        keys, now = self._keys(), self._clock.now()
        envelope = seal(
            keys.private_key,
            envelope_id=self._ids.new_id("envelope"),
            kind=kind,
            sender=keys.node_id,
            recipient=peer_node_id,
            issued_at=now,
            body=body,
        )
        session.add(
            OutboxEnvelope(
                envelope_id=envelope.id,
                peer_node_id=peer_node_id,
                kind=kind,
                subject_id=subject_id,
                token=envelope.token,
                created_at=now,
                attempts=0,
                next_attempt_at=now,
            )
        )
        session.flush()
        return envelope

    def deliver_due(self, limit: int = 100, *, timeout: httpx.Timeout | float | None = None) -> DeliveryReport:
        """Post up to ``limit`` due envelopes to their (active) peers, in order per peer; store each receipt, or the
        error and the time of the next attempt. Never raises for a peer's failure: it is recorded on the envelope.
        The server's background loop calls this; ``accord peer deliver`` does by hand."""
        now = self._clock.now()
        with self._db.reading() as session:
            rows = session.execute(
                select(OutboxEnvelope.seq, OutboxEnvelope.peer_node_id, OutboxEnvelope.next_attempt_at)
                .join(Peer, Peer.node_id == OutboxEnvelope.peer_node_id)
                .where(
                    OutboxEnvelope.delivered_at.is_(None),
                    OutboxEnvelope.refused_at.is_(None),
                    Peer.status == ACTIVE,
                )
                .order_by(OutboxEnvelope.seq)
                .limit(limit)
            ).all()
            peers = {p.node_id: p for p in session.scalars(select(Peer).where(Peer.status == ACTIVE))}
            session.expunge_all()
        report, blocked = DeliveryReport(), set()
        for seq, peer_node_id, next_attempt_at in rows:
            if peer_node_id in blocked:
                continue
            if next_attempt_at > now:
                blocked.add(peer_node_id)  # an earlier envelope waits: the later ones wait behind it
                continue
            outcome = self._deliver_one(seq, peers[peer_node_id], timeout or DELIVERY_TIMEOUT)
            if outcome.receipt is not None:
                report.delivered += 1
            elif outcome.final:
                report.refused += 1
            else:
                report.retrying += 1
                blocked.add(peer_node_id)
        return report

    def _deliver_one(self, seq: int, peer: Peer, timeout: httpx.Timeout | float) -> _Attempt:
        with self._db.reading() as session:
            row = session.get(OutboxEnvelope, seq)
            if row is None or row.delivered_at is not None:
                return _Attempt(error="already delivered")
            token, envelope_id = row.token, row.envelope_id
        attempt = self._post(peer, token, envelope_id, timeout)
        now = self._clock.now()
        with self._db.writing() as session:
            row = session.get(OutboxEnvelope, seq, with_for_update=True)
            if row is None or row.delivered_at is not None:  # another deliverer got there first
                return attempt
            row.attempts += 1
            row.last_attempt_at = now
            if attempt.receipt is not None:
                row.delivered_at, row.receipt, row.last_error = now, attempt.receipt.token, None
                keys = self._keys()
                own = open_envelope(token, sender=keys.node_id, sender_key=keys.public_raw, recipient=peer.node_id)
                delivered = self._on_delivered.get(own.kind)
                if delivered is not None:
                    delivered(session, peer, own)
            elif attempt.final:
                row.refused_at, row.last_error = now, attempt.error
            else:
                row.last_error = attempt.error
                row.next_attempt_at = now + self._backoff(row.attempts)
            self._audit.append(
                session,
                AuditActor(None, "node", None),
                "federation.envelope.delivered"
                if attempt.receipt
                else ("federation.envelope.refused" if attempt.final else "federation.envelope.retry"),
                object_type="envelope",
                object_id=envelope_id,
                details={"peer": peer.node_id, "attempts": row.attempts, "error": attempt.error},
            )
        return attempt

    def _post(self, peer: Peer, token: str, envelope_id: str, timeout: httpx.Timeout | float) -> _Attempt:
        keys = self._keys()
        request = httpx.Request("POST", f"{peer.base_url}{ENVELOPES_PATH}", json={"envelope": token})
        try:
            with httpx.Client(timeout=timeout) as client:
                response = client.send(sign_request(request, keys.node_id, keys.private_key))
        except httpx.HTTPError as exc:  # refused, timed out, dropped mid-answer: all "try again later"
            return _Attempt(error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR] or type(exc).__name__)
        if response.status_code >= 500 or response.status_code in RETRY_STATUSES:
            return _Attempt(error=f"HTTP {response.status_code}: {response.text[:300]}")
        if response.status_code >= 300:
            return _Attempt(error=f"HTTP {response.status_code}: {response.text[: MAX_ERROR - 20]}", final=True)
        try:
            answer = response.json()
            receipt = open_envelope(
                answer.get("receipt") if isinstance(answer, dict) else None,
                sender=peer.node_id,
                sender_key=bytes(peer.public_key),
                recipient=keys.node_id,
            )
            check_receipt(receipt, envelope_id, token)
        except (ValueError, EnvelopeRejected) as exc:
            # A receipt that does not check out proves nothing: try again (the peer answers with the same receipt).
            return _Attempt(error=f"bad receipt: {exc}"[:MAX_ERROR])
        return _Attempt(receipt=receipt)

    def _backoff(self, attempts: int) -> timedelta:
        seconds = min(BACKOFF_CAP.total_seconds(), BACKOFF_FIRST.total_seconds() * 2.0 ** min(attempts - 1, 20))
        return timedelta(seconds=seconds / 2 + seconds / 2 * self._rng.random())

    # -- receiving -------------------------------------------------------------------------------------------

    def receive(self, caller: PeerView, document: Any) -> str:
        """Verify, apply and record an envelope the (authenticated, active) peer posted; returns our signed receipt.
        The same envelope again returns the same receipt and applies nothing. Raises EnvelopeRejected (and what
        the handler raises: InvalidInput, NotFound, AlreadyExists, IllegalTransition), all naming the problem."""
        if not isinstance(document, dict) or set(document) != {"envelope"}:
            raise InvalidInput("envelope", 'a body of the form {"envelope": "<compact JWS>"}')
        keys = self._keys()
        with self._db.reading() as session:
            peer = session.get(Peer, caller.node_id)
            if peer is None:
                raise EnvelopeRejected("from", "not a peer of this node")
            session.expunge(peer)
        envelope = open_envelope(
            document["envelope"], sender=peer.node_id, sender_key=bytes(peer.public_key), recipient=keys.node_id
        )
        handler = self._handlers.get(envelope.kind)
        if handler is None:
            raise EnvelopeRejected("kind", f"this node takes no {envelope.kind} envelopes")
        try:
            with self._db.writing() as session:
                known = self._known(session, peer, envelope)
                if known is not None:
                    return known
                handler(session, peer, envelope)
                receipt = seal(
                    keys.private_key,
                    envelope_id=self._ids.new_id("envelope"),
                    kind=RECEIPT,
                    sender=keys.node_id,
                    recipient=peer.node_id,
                    issued_at=self._clock.now(),
                    body={"envelope_id": envelope.id, "sha256": envelope.digest},
                )
                session.add(
                    InboxEnvelope(
                        envelope_id=envelope.id,
                        peer_node_id=peer.node_id,
                        kind=envelope.kind,
                        sha256=envelope.digest,
                        received_at=self._clock.now(),
                        receipt=receipt.token,
                    )
                )
                self._audit.append(
                    session,
                    AuditActor(None, f"node:{peer.node_id}", peer.party_id),
                    "federation.envelope.received",
                    object_type="envelope",
                    object_id=envelope.id,
                    details={"kind": envelope.kind, "peer": peer.node_id},
                )
                return receipt.token
        except IntegrityError:
            # The same envelope delivered twice at once (a retry racing a slow first attempt): the first commit won
            # and this transaction rolled back whole; answer with the receipt the first one stored.
            with self._db.reading() as session:
                known = self._known(session, peer, envelope)
            if known is None:
                raise
            return known

    @staticmethod
    def _known(session: Session, peer: Peer, envelope: Envelope) -> str | None:
        known = session.get(InboxEnvelope, envelope.id)
        if known is None:
            return None
        if known.sha256 != envelope.digest or known.peer_node_id != peer.node_id:
            raise EnvelopeRejected("id", "an envelope with this id and other content was received before")
        return known.receipt

    # -- the operator's view ---------------------------------------------------------------------------------

    def outbox(self, actor: Actor, peer: str | None = None, limit: int = 500) -> list[OutboxItem]:
        """Envelopes not delivered (pending, waiting for a suspended peer, refused), oldest first."""
        self._identity.authorize(actor, Permission.VIEW_DIRECTORY)
        statement = (
            select(OutboxEnvelope, Peer)
            .outerjoin(Peer, Peer.node_id == OutboxEnvelope.peer_node_id)
            .where(OutboxEnvelope.delivered_at.is_(None))
            .order_by(OutboxEnvelope.seq)
            .limit(limit)
        )
        if peer is not None:
            statement = statement.where(OutboxEnvelope.peer_node_id == peer)
        with self._db.reading() as session:
            return [
                OutboxItem(
                    envelope_id=row.envelope_id,
                    peer_node_id=row.peer_node_id,
                    peer_name=found.name if found else "(removed peer)",
                    kind=row.kind,
                    subject_id=row.subject_id,
                    status="refused"
                    if row.refused_at
                    else ("pending" if found is not None and found.status == ACTIVE else "waiting"),
                    attempts=row.attempts,
                    created_at=row.created_at,
                    next_attempt_at=row.next_attempt_at,
                    last_error=row.last_error,
                )
                for row, found in session.execute(statement)
            ]

    def backlog(self, actor: Actor, peer: str | None = None) -> dict[str, PeerBacklog]:
        """Per peer node id (or for ``peer`` only), where delivery stands; only peers with an envelope written for
        them appear. Raises PermissionDenied without VIEW_DIRECTORY."""
        self._identity.authorize(actor, Permission.VIEW_DIRECTORY)
        undelivered = OutboxEnvelope.delivered_at.is_(None)
        pending = and_(undelivered, OutboxEnvelope.refused_at.is_(None))
        of_peer = OutboxEnvelope.peer_node_id == peer if peer is not None else true()
        totals = (
            select(
                OutboxEnvelope.peer_node_id,
                func.sum(case((pending, 1), else_=0)),
                func.min(case((pending, OutboxEnvelope.created_at), else_=None)),
                func.sum(case((OutboxEnvelope.refused_at.is_not(None), 1), else_=0)),
                func.count(OutboxEnvelope.delivered_at),
                func.max(OutboxEnvelope.delivered_at),
            )
            .where(of_peer)
            .group_by(OutboxEnvelope.peer_node_id)
        )
        failing = (
            select(OutboxEnvelope.peer_node_id, func.max(OutboxEnvelope.last_attempt_at).label("at"))
            .where(of_peer, undelivered, OutboxEnvelope.last_error.is_not(None))
            .group_by(OutboxEnvelope.peer_node_id)
            .subquery()
        )
        errors = (
            select(OutboxEnvelope.peer_node_id, OutboxEnvelope.last_error, OutboxEnvelope.last_attempt_at)
            .join(
                failing,
                and_(
                    failing.c.peer_node_id == OutboxEnvelope.peer_node_id,
                    failing.c.at == OutboxEnvelope.last_attempt_at,
                ),
            )
            .where(undelivered, OutboxEnvelope.last_error.is_not(None))
            .order_by(OutboxEnvelope.seq.desc())
        )
        with self._db.reading() as session:
            last: dict[str, tuple[str | None, datetime | None]] = {}
            for peer_node_id, error, at in session.execute(errors):
                last.setdefault(peer_node_id, (error, at))
            result = {}
            for peer_node_id, waiting, oldest, refused, delivered, delivered_at in session.execute(totals):
                error, error_at = last.get(peer_node_id, (None, None))
                result[peer_node_id] = PeerBacklog(
                    peer_node_id=peer_node_id,
                    pending=int(waiting or 0),
                    oldest_pending_at=_aware(oldest),
                    refused=int(refused or 0),
                    delivered=int(delivered or 0),
                    last_delivered_at=_aware(delivered_at),
                    last_error=error,
                    last_error_at=_aware(error_at),
                )
            return result

    def sent(self, actor: Actor, peer: str, limit: int = 50) -> tuple[list[SentEnvelope], int]:
        """The envelopes written for ``peer``, newest first (at most ``limit``), and how many there are in all.
        Raises PermissionDenied without VIEW_DIRECTORY."""
        self._identity.authorize(actor, Permission.VIEW_DIRECTORY)
        statement = (
            select(OutboxEnvelope, CooperationRequest, Peer.status)
            .outerjoin(CooperationRequest, CooperationRequest.id == OutboxEnvelope.subject_id)
            .outerjoin(Peer, Peer.node_id == OutboxEnvelope.peer_node_id)
            .where(OutboxEnvelope.peer_node_id == peer)
            .order_by(OutboxEnvelope.seq.desc())
            .limit(limit)
        )
        with self._db.reading() as session:
            total = session.scalar(
                select(func.count()).select_from(OutboxEnvelope).where(OutboxEnvelope.peer_node_id == peer)
            )
            listed = []
            for row, subject, peer_status in session.execute(statement):
                if row.delivered_at is not None:
                    state = "delivered"
                elif row.refused_at is not None:
                    state = "refused"
                else:
                    state = "pending" if peer_status == ACTIVE else "waiting"
                shown = subject is not None and _may_see_request(actor, subject)
                listed.append(
                    SentEnvelope(
                        envelope_id=row.envelope_id,
                        kind=row.kind,
                        reference=(subject.reference or subject.id) if shown and subject else None,
                        request_id=subject.id if shown and subject else None,
                        state=state,
                        attempts=row.attempts,
                        created_at=row.created_at,
                        next_attempt_at=row.next_attempt_at if state in ("pending", "waiting") else None,
                        last_error=row.last_error,
                        delivered_at=row.delivered_at,
                        refused_at=row.refused_at,
                    )
                )
            return listed, int(total or 0)

    def receipt(self, envelope_id: str) -> str | None:
        """The peer's signed receipt for an envelope we sent, once delivered."""
        with self._db.reading() as session:
            return session.scalar(select(OutboxEnvelope.receipt).where(OutboxEnvelope.envelope_id == envelope_id))


def _may_see_request(actor: Actor, row: CooperationRequest) -> bool:
    """The cooperation service's rule (``CooperationRequests._visible``, ``_authorize_any``): a cooperation
    permission, and the viewer's party is one of the request's two (operators see all)."""
    if not (actor.holds(Permission.DRAFT_COOPERATION) or actor.holds(Permission.RESPOND_COOPERATION)):
        return False
    return actor.via == "operator" or actor.party_id in (row.requesting_party_id, row.requested_party_id)


def _aware(value: datetime | None) -> datetime | None:
    """Aggregates (min, max) bypass the column type, so SQLite hands back naive UTC times or even strings."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


MAX_BODY_BYTES = MAX_ENVELOPE_BYTES + 1024  # the JSON wrapper around one envelope
