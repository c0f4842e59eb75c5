"""Peering: invite, accept, list, suspend, resume, remove — and the peer's side of every signed call.

A peer is stored with the local party that stands for it (created from the party the peer names, in the
peer's country), so what arrives from it carries provenance like any other party's data. Suspending a peer
(the Convention lets a party suspend transfers) refuses its calls at once; nothing of it is deleted.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from accord.audit.service import AuditLog
from accord.clock import Clock
from accord.errors import AlreadyExists, InvalidInput, NotFound
from accord.federation.invitations import (
    ACCEPTANCE,
    INVITATION,
    InvalidPeeringDocument,
    PeeringDocument,
    check_base_url,
    open_document,
    sign_document,
)
from accord.federation.models import Peer, PeerInvitation, SeenSignature
from accord.federation.signing import SEEN_SECONDS, PeerAuthenticationFailed, SignatureVerifier, sign_request
from accord.identity.actor import Actor
from accord.identity.node_keys import NodeKeys
from accord.identity.service import IdentityService
from accord.identity.vocabulary import Permission
from accord.store.engine import Database

ACTIVE, SUSPENDED = "active", "suspended"
MAX_INVITATION_DAYS = 30
PEER_PARTY_KIND = "law_enforcement"
CALL_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


@dataclass(frozen=True)
class PeerView:
    node_id: str
    name: str
    country: str
    base_url: str
    party_id: str
    status: str
    status_reason: str | None

    def document(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _view(row: Peer) -> PeerView:
    return PeerView(row.node_id, row.name, row.country, row.base_url, row.party_id, row.status, row.status_reason)


class FederationService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        audit: AuditLog,
        identity: IdentityService,
        keys: NodeKeys,
        node_name: str,
        node_country: str,
    ) -> None:
        self._db = db
        self._clock = clock
        self._audit = audit
        self._identity = identity
        self._keys = keys
        self._name = node_name
        self._country = node_country
        self.verifier = SignatureVerifier(self._active_key, self._remember_signature)

    def _remember_signature(self, node_id: str, nonce: str) -> None:
        """Record a signed call's nonce; raise PeerAuthenticationFailed if any server process recorded it before.

        Nonces are kept while a signature could still be accepted (signing.SEEN_SECONDS), on the machine's clock
        as signature freshness is; older ones are dropped in the same transaction.
        """
        now = time.time()
        try:
            with self._db.writing() as session:
                session.execute(delete(SeenSignature).where(SeenSignature.seen_at < now - SEEN_SECONDS))
                session.add(SeenSignature(node_id=node_id, nonce=nonce, seen_at=now))
                session.flush()
        except IntegrityError:
            raise PeerAuthenticationFailed("this signed call was seen before (replay)") from None

    # -- peering ---------------------------------------------------------------------------------------------

    def invite(self, actor: Actor, *, base_url: str, party: str, days: int = 7) -> dict[str, Any]:
        """A signed invitation naming this node, its address and the party it speaks for."""
        self._identity.authorize(actor, Permission.MANAGE_PARTIES)
        if not 1 <= days <= MAX_INVITATION_DAYS:
            raise InvalidInput("days", f"between 1 and {MAX_INVITATION_DAYS}")
        own = self._identity.get_party(party)
        now = self._clock.now()
        nonce = secrets.token_urlsafe(24)
        document = self._sign(INVITATION, base_url, own.name, own.kind, nonce, now, now + timedelta(days=days))
        with self._db.writing() as session:
            session.add(
                PeerInvitation(
                    nonce=nonce,
                    created_at=now,
                    expires_at=now + timedelta(days=days),
                    created_by=actor.username,
                    party_id=own.id,
                )
            )
            self._audit.append(
                session, actor.audit_ref(), "peer.invite", object_type="peer-invitation", object_id=nonce
            )
        return document

    def accept(
        self, actor: Actor, document: Any, *, base_url: str | None = None, party: str | None = None
    ) -> tuple[PeerView, dict[str, Any] | None]:
        """Accept an invitation (returns the peer and our signed acceptance to send back), or an acceptance of one
        of our invitations (returns the peer). Raises InvalidPeeringDocument, AlreadyExists, InvalidInput."""
        self._identity.authorize(actor, Permission.MANAGE_PARTIES)
        kind = document.get("type") if isinstance(document, dict) else None
        now = self._clock.now()
        if kind == ACCEPTANCE:
            return self._register_acceptance(actor, open_document(document, now, kind=ACCEPTANCE)), None
        opened = open_document(document, now, kind=INVITATION)
        if base_url is None or party is None:
            raise InvalidInput("url", "to accept an invitation, give this node's address and the party it speaks for")
        own = self._identity.get_party(party)
        reply = self._sign(
            ACCEPTANCE,
            base_url,
            own.name,
            own.kind,
            secrets.token_urlsafe(24),
            now,
            now + timedelta(days=1),
            opened.nonce,
        )
        return self._add_peer(actor, opened, own.id), reply

    def deliver_acceptance(self, acceptance: dict[str, Any], inviter_url: str) -> None:
        """Send our acceptance to the inviting node so it registers us too (raises httpx errors when unreachable)."""
        request = httpx.Request("POST", f"{check_base_url(inviter_url)}/federation/v1/acceptances", json=acceptance)
        with httpx.Client(timeout=CALL_TIMEOUT) as client:
            response = client.send(sign_request(request, self._keys.node_id, self._keys.private_key))
        if response.status_code != 201:
            raise InvalidInput(
                "invitation",
                f"the inviting node refused the acceptance ({response.status_code}): {response.text[:200]}",
            )

    def receive_acceptance(self, document: Any) -> PeerView:
        """An acceptance posted by the invited node itself (no user: the document's signature and our open
        invitation's nonce are the authority)."""
        opened = open_document(document, self._clock.now(), kind=ACCEPTANCE)
        return self._register_acceptance(None, opened)

    def _register_acceptance(self, actor: Actor | None, opened: PeeringDocument) -> PeerView:
        now = self._clock.now()
        with self._db.writing() as session:
            invitation = session.get(PeerInvitation, opened.in_reply_to or "", with_for_update=True)
            if invitation is None or invitation.expires_at <= now:
                raise InvalidPeeringDocument("it answers no open invitation of this node")
            if invitation.accepted_by is not None:
                raise InvalidPeeringDocument("the invitation it answers was already accepted")
            invitation.accepted_by = opened.node_id
            own_party_id = invitation.party_id
        return self._add_peer(actor, opened, own_party_id)

    def _add_peer(self, actor: Actor | None, opened: PeeringDocument, own_party_id: str | None) -> PeerView:
        if opened.node_id == self._keys.node_id:
            raise InvalidInput("invitation", "this is this node's own document")
        party_id = self._peer_party(opened)
        now = self._clock.now()
        with self._db.writing() as session:
            if session.get(Peer, opened.node_id) is not None:
                raise AlreadyExists("peer", opened.node_id)
            row = Peer(
                node_id=opened.node_id,
                name=opened.name,
                country=opened.country,
                public_key=opened.public_key,
                base_url=opened.base_url,
                party_id=party_id,
                own_party_id=own_party_id,
                status=ACTIVE,
                status_reason=None,
                added_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            who = actor.audit_ref() if actor else None
            if who is not None:
                self._audit.append(session, who, "peer.add", object_type="peer", object_id=opened.node_id)
            return _view(row)

    def _peer_party(self, opened: PeeringDocument) -> str:
        name = opened.party.get("name") or opened.name
        try:
            return self._identity.get_party(name).id
        except NotFound:
            operator = _node_operator()
            kind = opened.party.get("kind") or PEER_PARTY_KIND
            return self._identity.add_party(operator, name, kind, opened.country).id

    def peers(self, actor: Actor) -> list[PeerView]:
        self._identity.authorize(actor, Permission.VIEW_DIRECTORY)
        with self._db.reading() as session:
            return [_view(r) for r in session.scalars(select(Peer).order_by(Peer.name))]

    def peer(self, node_id: str) -> Peer:
        with self._db.reading() as session:
            row = session.get(Peer, node_id)
            if row is None:
                raise NotFound("peer", node_id)
            session.expunge(row)
            return row

    def set_status(self, actor: Actor, node_id: str, status: str, reason: str | None = None) -> PeerView:
        """Suspend (the Convention lets a party suspend transfers) or resume a peer; its calls are refused at once."""
        self._identity.authorize(actor, Permission.MANAGE_PARTIES)
        if status not in (ACTIVE, SUSPENDED):
            raise InvalidInput("status", "active or suspended")
        if status == SUSPENDED and not reason:
            raise InvalidInput("reason", "say why the peer is suspended")
        with self._db.writing() as session:
            row = session.get(Peer, node_id)
            if row is None:
                raise NotFound("peer", node_id)
            row.status, row.status_reason, row.updated_at = status, reason, self._clock.now()
            self._audit.append(
                session,
                actor.audit_ref(),
                f"peer.{status}",
                object_type="peer",
                object_id=node_id,
                details={"reason": reason},
            )
            return _view(row)

    def remove(self, actor: Actor, node_id: str) -> None:
        self._identity.authorize(actor, Permission.MANAGE_PARTIES)
        with self._db.writing() as session:
            row = session.get(Peer, node_id)
            if row is None:
                raise NotFound("peer", node_id)
            session.delete(row)
            self._audit.append(session, actor.audit_ref(), "peer.remove", object_type="peer", object_id=node_id)

    # -- calls -----------------------------------------------------------------------------------------------

    def authenticate(self, method: str, url: str, headers: Any, body: bytes) -> PeerView:
        """The active peer that signed this call. Raises PeerAuthenticationFailed."""
        node_id = self.verifier.verify(method, url, headers, body)
        return _view(self.peer(node_id))

    def call(self, node_id: str, method: str, path: str, json: Any = None) -> httpx.Response:
        """A signed call to a peer (raises NotFound for an unknown peer, InvalidInput for a suspended one)."""
        row = self.peer(node_id)
        if row.status != ACTIVE:
            raise InvalidInput("peer", f"{row.name} is suspended: {row.status_reason}")
        request = httpx.Request(method, f"{row.base_url}{path}", json=json)
        with httpx.Client(timeout=CALL_TIMEOUT) as client:
            return client.send(sign_request(request, self._keys.node_id, self._keys.private_key))

    def hello(self, caller: PeerView) -> dict[str, Any]:
        return {"node_id": self._keys.node_id, "name": self._name, "country": self._country, "you": caller.node_id}

    # -- helpers ---------------------------------------------------------------------------------------------

    def _active_key(self, node_id: str) -> bytes | None:
        with self._db.reading() as session:
            row = session.get(Peer, node_id)
            if row is None:
                return None
            if row.status != ACTIVE:
                raise PeerAuthenticationFailed(f"peer {row.name} is suspended")
            return bytes(row.public_key)

    def _sign(
        self,
        kind: str,
        base_url: str,
        party_name: str,
        party_kind: str,
        nonce: str,
        issued: Any,
        expires: Any,
        in_reply_to: str | None = None,
    ) -> dict[str, Any]:
        try:
            return sign_document(
                self._keys,
                kind=kind,
                name=self._name or self._keys.node_id,
                country=self._country,
                base_url=base_url,
                party={"name": party_name, "kind": party_kind},
                nonce=nonce,
                issued_at=issued,
                expires_at=expires,
                in_reply_to=in_reply_to,
            )
        except InvalidPeeringDocument as exc:
            raise InvalidInput("url", exc.reason) from None


def _node_operator() -> Actor:
    from accord.identity.actor import operator_actor

    return operator_actor("federation")
