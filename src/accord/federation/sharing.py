"""What this node gives each peer: its sharing policy (stored, or the default), the preview of what that peer would
receive and why, and the feed a peer pulls over TAXII — one page at a time, decided by the same policy code.

The feed is the store's own order (``intel_objects.seq``, monotonic), per TLP level, every version. Its position
token carries a fingerprint of the policy it was issued under: when the policy changes, the peer's next pull
starts again from the beginning, so objects a wider policy now allows are not skipped (the peer's import is
idempotent, so what it already holds costs a no-op, not a duplicate).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accord.audit.service import AuditActor, AuditLog, Disclosure
from accord.canonical_json import canonical_bytes
from accord.clock import Clock
from accord.errors import InvalidInput, NotFound
from accord.federation.models import Peer, PeerPolicy
from accord.federation.policy import Candidate, Decision, SharingPolicy, categories_of, default_policy, parse_policy
from accord.identity.actor import Actor
from accord.identity.models import Party
from accord.identity.service import IdentityService
from accord.identity.vocabulary import Permission
from accord.intel.collections import MAX_PAGE, StoredVersion
from accord.intel.extract import pattern_identifiers, sco_identifiers
from accord.intel.models import IntelObject, SharingGroup, SharingGroupMember
from accord.intel.pattern_parser import fast_comparisons
from accord.intel.vocabulary import Tlp
from accord.store.engine import Database

SHARE_PURPOSE = "Sharing with a peer node under its sharing policy"
PREVIEW_CHUNK = 2_000
MAX_PREVIEW_ITEMS = 1_000


@dataclass(frozen=True)
class FeedPage:
    objects: list[StoredVersion]
    more: bool
    next_token: str | None  # the position after the last version looked at (None: nothing looked at)
    behind: int  # versions stored after that position, any level (an upper bound of what is left)


@dataclass
class Preview:
    peer: str
    policy: dict[str, Any]
    total: int = 0
    shared: int = 0
    reasons: Counter[tuple[bool, str]] = field(default_factory=Counter)
    items: list[dict[str, Any]] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        return {
            "peer": self.peer,
            "policy": self.policy,
            "total": self.total,
            "shared": self.shared,
            "withheld": self.total - self.shared,
            "reasons": [
                {"shared": shared, "reason": reason, "objects": count}
                for (shared, reason), count in sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
            "items": self.items,
        }


def fingerprint(policy: SharingPolicy) -> str:
    return hashlib.sha256(canonical_bytes(policy.document())).hexdigest()[:16]


def encode_position(policy_print: str, seq: int) -> str:
    return base64.urlsafe_b64encode(f"{policy_print}:{seq}".encode()).decode()


def decode_position(token: str | None, policy_print: str) -> int:
    """The store position a token names; 0 (the beginning) when the token was issued under another policy."""
    if not token:
        return 0
    try:
        printed, _, seq = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        position = int(seq)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("next", "not a token this node issued") from None
    return position if printed == policy_print and position >= 0 else 0


class SharingService:
    def __init__(self, db: Database, clock: Clock, audit: AuditLog, identity: IdentityService) -> None:
        self._db = db
        self._clock = clock
        self._audit = audit
        self._identity = identity

    # -- the policy ------------------------------------------------------------------------------------------

    def policy(self, node_id: str) -> SharingPolicy:
        with self._db.reading() as session:
            _peer(session, node_id)
            row = session.get(PeerPolicy, node_id)
            return parse_policy(json.loads(row.document)) if row is not None else default_policy()

    def set_policy(self, actor: Actor, node_id: str, document: Any) -> SharingPolicy:
        """Replace a peer's policy (``None`` restores the default). Raises InvalidInput naming the rule at fault."""
        self._identity.authorize(actor, Permission.MANAGE_PARTIES)
        policy = parse_policy(document) if document is not None else None
        with self._db.writing() as session:
            _peer(session, node_id)
            row = session.get(PeerPolicy, node_id)
            if policy is None:
                if row is not None:
                    session.delete(row)
            elif row is None:
                session.add(
                    PeerPolicy(
                        peer_node_id=node_id,
                        document=canonical_bytes(policy.document()).decode(),
                        updated_at=self._clock.now(),
                        updated_by=actor.username,
                    )
                )
            else:
                row.document = canonical_bytes(policy.document()).decode()
                row.updated_at, row.updated_by = self._clock.now(), actor.username
            self._audit.append(
                session,
                actor.audit_ref(),
                "peer.policy",
                object_type="peer",
                object_id=node_id,
                details={"policy": policy.document() if policy else "default"},
            )
        return policy or default_policy()

    # -- what a peer receives ----------------------------------------------------------------------------------

    def preview(self, actor: Actor, node_id: str, *, items: int = 50, only: bool | None = None) -> Preview:
        """Every latest object version with the decision the peer's policy takes on it, counted by reason; the
        first ``items`` listed (only shared ones, or only withheld ones, with ``only``)."""
        self._identity.authorize(actor, Permission.MANAGE_PARTIES)
        if not 0 <= items <= MAX_PREVIEW_ITEMS:
            raise InvalidInput("items", f"between 0 and {MAX_PREVIEW_ITEMS}")
        policy = self.policy(node_id)
        result = Preview(peer=node_id, policy=policy.document())
        with self._db.reading() as session:
            peer = _peer(session, node_id)
            context = _Context.load(session, peer)
            for rows in _chunks(session, (IntelObject.is_latest.is_(True),)):
                for row, decision in zip(rows, self._decide(context, policy, rows), strict=True):
                    result.total += 1
                    result.shared += decision.shared
                    result.reasons[(decision.shared, decision.reason)] += 1
                    if len(result.items) < items and (only is None or only == decision.shared):
                        result.items.append(
                            {"id": row.stix_id, "type": row.stix_type, "tlp": row.tlp, **decision.document()}
                        )
        self._audit.record(
            actor.audit_ref(),
            "peer.preview",
            object_type="peer",
            object_id=node_id,
            details={"total": result.total, "shared": result.shared},
        )
        return result

    def feed_page(self, node_id: str, level: Tlp, token: str | None, limit: int) -> FeedPage:
        """One page of the versions of TLP ``level`` the peer may receive, after the position ``token`` names.

        At most ``limit`` versions are looked at (so a page can hold fewer, even none, with ``more`` true).
        Every page that discloses something is audited with the rules that let it through and the positions
        it covers, which, with the policy's fingerprint, is enough to say later exactly what crossed.
        """
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput("limit", f"between 1 and {MAX_PAGE}")
        policy = self.policy(node_id)
        printed = fingerprint(policy)
        after = decode_position(token, printed)
        if str(level) not in policy.levels:
            return FeedPage([], False, token, 0)
        with self._db.reading() as session:
            peer = _peer(session, node_id)
            # The store's head first, then the rows up to it: writers of intel_objects commit in seq order (one
            # writer at a time: SQLite's write lock, PostgreSQL's advisory lock in IntelService._store_batch), so
            # nothing at or below the head can still appear, and an empty scan moves the position to the head —
            # "nothing new" then scans only what arrived since, not the whole store again.
            head = int(session.scalar(select(func.max(IntelObject.seq))) or 0)
            rows = session.execute(
                _columns()
                .where(IntelObject.tlp == str(level), IntelObject.seq > after, IntelObject.seq <= head)
                .order_by(IntelObject.seq)
                .limit(limit + 1)
            ).all()
            more = len(rows) > limit
            rows = rows[:limit]
            if not rows:
                return FeedPage([], False, encode_position(printed, head) if head > after else token, 0)
            decisions = self._decide(_Context.load(session, peer), policy, rows)
        shared = [(row, d) for row, d in zip(rows, decisions, strict=True) if d.shared]
        last = rows[-1].seq
        if shared:  # recorded before anything is handed out: no audit entry, no disclosure
            self._audit.record(
                _peer_ref(peer),
                "federation.share",
                object_type="peer",
                object_id=node_id,
                disclosure=Disclosure(purpose=SHARE_PURPOSE),
                details={
                    "level": str(level),
                    "objects": len(shared),
                    "positions": [rows[0].seq, last],
                    "policy": printed,
                    "rules": dict(Counter(d.rule.name for _, d in shared if d.rule is not None)),
                },
            )
        page = [StoredVersion(r.seq, r.stix_id, r.modified, r.added_at, r.content) for r, _ in shared]
        return FeedPage(page, more, encode_position(printed, last), head - last)

    def _decide(self, context: _Context, policy: SharingPolicy, rows: Sequence[Any]) -> list[Decision]:
        return [
            policy.decide(
                Candidate(
                    stix_id=row.stix_id,
                    stix_type=row.stix_type,
                    tlp=row.tlp,
                    country=context.countries.get(row.owner_party_id, "??"),
                    categories=categories_of(row.stix_type, _kinds(row.content)),
                    group=context.group_names.get(row.sharing_group_id) if row.sharing_group_id else None,
                    peer_in_group=row.sharing_group_id in context.peer_groups,
                    received_from=context.peer_parties.get(row.owner_party_id),
                )
            )
            for row in rows
        ]


@dataclass(frozen=True)
class _Context:
    """What decisions need beyond the object: owners' countries, which parties stand for peers, group names and
    the peer's group memberships (all small tables, read once per page)."""

    countries: dict[str, str]
    peer_parties: dict[str, str]
    group_names: dict[str, str]
    peer_groups: frozenset[str]

    @classmethod
    def load(cls, session: Session, peer: Peer) -> _Context:
        return cls(
            countries={str(a): str(b) for a, b in session.execute(select(Party.id, Party.country))},
            peer_parties={str(a): str(b) for a, b in session.execute(select(Peer.party_id, Peer.node_id))},
            group_names={str(a): str(b) for a, b in session.execute(select(SharingGroup.id, SharingGroup.name))},
            peer_groups=frozenset(
                session.scalars(select(SharingGroupMember.group_id).where(SharingGroupMember.party_id == peer.party_id))
            ),
        )


def _columns() -> Any:
    return select(
        IntelObject.seq,
        IntelObject.stix_id,
        IntelObject.stix_type,
        IntelObject.modified,
        IntelObject.added_at,
        IntelObject.tlp,
        IntelObject.owner_party_id,
        IntelObject.sharing_group_id,
        IntelObject.content,
    )


def _chunks(session: Session, where: Iterable[Any]) -> Iterator[Sequence[Any]]:
    """The object versions matching ``where`` in store order, PREVIEW_CHUNK at a time (bounded memory)."""
    after = 0
    while True:
        statement = select(
            IntelObject.seq,
            IntelObject.stix_id,
            IntelObject.stix_type,
            IntelObject.tlp,
            IntelObject.owner_party_id,
            IntelObject.sharing_group_id,
            IntelObject.content,
        )
        rows = session.execute(
            statement.where(*where, IntelObject.seq > after).order_by(IntelObject.seq).limit(PREVIEW_CHUNK)
        ).all()
        if not rows:
            return
        yield rows
        after = rows[-1].seq


def _kinds(content: str) -> set[str]:
    """The identifier kinds an object carries, read from the object itself (its SCO value or its indicator
    pattern's comparisons). Why not the observable index: postings are keyed by observable, and a lookup by
    object would scan them all once per page; parsing the page's own objects is cheaper and needs no new index
    on the ingest path. Kinds whose values would not normalise count too (the safer side for personal data)."""
    try:
        obj = json.loads(content)
    except ValueError:
        return set()
    if not isinstance(obj, dict):
        return set()
    pattern = obj.get("pattern")
    if obj.get("type") == "indicator" and obj.get("pattern_type") == "stix" and isinstance(pattern, str):
        try:
            return {kind for kind, _raw in pattern_identifiers(pattern, fast_comparisons(pattern))}
        except Exception:
            return set()
    return {kind for kind, _raw in sco_identifiers(obj)}


def _peer(session: Session, node_id: str) -> Peer:
    row = session.get(Peer, node_id)
    if row is None:
        raise NotFound("peer", node_id[:80])
    return row


def _peer_ref(peer: Peer) -> AuditActor:
    return AuditActor(id=None, name=f"peer:{peer.node_id}", party_id=peer.party_id)
