"""Intelligence sync with peers over TAXII 2.1, with the unmodified taxii2-client.

Pull: for each shareable TLP level, ask the peer's collection for that level with our stored position (the peer's
opaque ``next``) and ``match[version]=all``, page by page, and import what arrives as the peer's party's
intelligence (TLP = the collection's level unless the object is marked stricter), recording which node sent each
version. The position is saved after each page is stored, so a pull cut off anywhere resumes at the last stored
page; the page it was working on comes again and is a no-op (imports are idempotent by (id, modified)).
"Nothing new" costs one small signed GET per level.

Push: the same feed the peer would pull (sharing.feed_page, our policy for that peer), sent with TAXII Add Objects
to the peer's collection of that level, with our own push position.

Every request is signed with this node's key (RFC 9421, ``NodeSignatureAuth``); a peer's server knows us by it.
taxii2-client sets no HTTP timeout (shared/research/taxii-peer-notes.md), so its session gets one.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session
from taxii2client.common import _HTTPConnection
from taxii2client.v21 import Collection

from accord.clock import Clock
from accord.errors import InvalidInput
from accord.federation.models import Peer, PeerSyncState, ReceivedObject
from accord.federation.service import ACTIVE, FederationService
from accord.federation.sharing import SharingService
from accord.federation.signing import sign_message
from accord.identity.actor import Actor, operator_actor, peer_actor
from accord.identity.node_keys import NodeKeys
from accord.identity.service import IdentityService
from accord.identity.vocabulary import Permission
from accord.intel.collections import MAX_PAGE, collection_id
from accord.intel.service import ImportReport, IntelService
from accord.intel.vocabulary import Tlp
from accord.store.bulk import insert_missing
from accord.store.engine import Database

LOG = logging.getLogger(__name__)
LEVELS = (Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER)  # RED and AMBER+STRICT never cross (policy.py)
PAGE = MAX_PAGE
TIMEOUT = (5.0, 60.0)  # connect, read (seconds)
BACKOFF_FIRST = timedelta(seconds=10)
BACKOFF_MAX = timedelta(hours=1)
MAX_ERROR = 1000


class NodeSignatureAuth(requests.auth.AuthBase):
    """Signs every request a requests session sends (taxii2-client's) with the node key (RFC 9421)."""

    def __init__(self, keys: NodeKeys) -> None:
        self._keys = keys

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if not isinstance(body, str | bytes):
            raise TypeError("a signed request needs its body in memory")  # taxii2-client sends JSON text
        sign_message(
            request.method or "GET",
            request.url or "",
            request.headers,
            body.encode() if isinstance(body, str) else body,
            self._keys.node_id,
            self._keys.private_key,
        )
        return request


class _TimeoutAdapter(HTTPAdapter):
    def __init__(self, timeout: tuple[float, float]) -> None:
        super().__init__()
        self._timeout = timeout

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        return super().send(request, **kwargs)


@dataclass
class SyncReport:
    peer: str
    pulled: int = 0  # versions received
    stored: int = 0  # of which new here
    failed: list[dict[str, str]] = field(default_factory=list)
    pushed: int = 0
    pages: int = 0
    behind: int = 0
    seconds: float = 0.0

    def document(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class SyncStatus:
    node_id: str
    name: str
    status: str
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    next_attempt_at: datetime | None
    objects_received: int
    behind: int | None
    failures: int
    last_error: str | None

    def document(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for key in ("last_attempt_at", "last_success_at", "next_attempt_at"):
            out[key] = out[key].isoformat() if out[key] else None
        return out


class IntelSync:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        federation: FederationService,
        sharing: SharingService,
        intel: IntelService,
        keys: NodeKeys,
        identity: IdentityService,
        *,
        interval: timedelta = timedelta(minutes=1),
        timeout: tuple[float, float] = TIMEOUT,
    ) -> None:
        self._db = db
        self._clock = clock
        self._federation = federation
        self._sharing = sharing
        self._intel = intel
        self._keys = keys
        self._identity = identity
        self.interval = interval
        self.timeout = timeout  # (connect, read) seconds for every call to a peer
        self._operator = operator_actor("federation-sync")

    # -- one peer --------------------------------------------------------------------------------------------

    def sync(self, node_id: str, *, pull: bool = True, push: bool = True, max_pages: int | None = None) -> SyncReport:
        """Pull from and push to one peer now; the state (positions, last success or error) is kept either way.
        Raises NotFound, InvalidInput (suspended peer), and the transport's errors after recording them."""
        peer = self._active(node_id)
        started = time.monotonic()
        report = SyncReport(peer=node_id)
        self._touch(node_id)
        try:
            with self._session() as session:
                if pull:
                    self._pull(session, peer, report, max_pages)
                if push:
                    self._push(session, peer, report, max_pages)
        except Exception as exc:
            self._failed(node_id, exc)
            raise
        report.seconds = round(time.monotonic() - started, 3)
        self._succeeded(node_id, report)
        return report

    def _pull(self, session: _Connection, peer: Peer, report: SyncReport, max_pages: int | None) -> None:
        """Page by page per level; the next page is fetched while this one is stored (its token comes with this
        page), so the sender's work and ours overlap. A position is saved only once its page is stored."""
        positions = self._positions(peer.node_id)
        report.behind = 0
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-prefetch") as prefetch:
            for level in LEVELS:
                if max_pages is not None and report.pages >= max_pages:
                    break
                collection = self._collection(session, peer, level)

                def fetch(token: str | None, collection: Collection = collection) -> dict[str, Any]:
                    return dict(collection.get_objects(next=token, limit=PAGE, version="all"))

                pending: Future[dict[str, Any]] | None = prefetch.submit(fetch, positions["pull"].get(str(level)))
                while pending is not None:
                    envelope = pending.result()
                    report.pages += 1
                    more = bool(envelope.get("more")) and (max_pages is None or report.pages < max_pages)
                    pending = prefetch.submit(fetch, envelope["next"]) if more and envelope.get("next") else None
                    objects = envelope.get("objects") or []
                    if objects:
                        self._store(peer, level, objects, report)
                    if envelope.get("next"):
                        positions["pull"][str(level)] = envelope["next"]
                        self._save_positions(peer.node_id, positions)
                    report.behind = max(report.behind, session.behind)

    def _store(self, peer: Peer, level: Tlp, objects: list[Any], report: SyncReport) -> None:
        result = self.receive(peer.node_id, level, objects)
        report.pulled += len(objects)
        report.stored += len(result.successes) - result.duplicates
        report.failed += result.failures

    def receive(self, node_id: str, level: Tlp, objects: list[Any], *, pushed: bool = False) -> ImportReport:
        """Store versions a peer sent (pulled from it, or pushed by it with TAXII Add Objects) as its party's
        intelligence, marked ``level`` unless marked stricter, and remember which node sent each."""
        if level not in LEVELS:
            raise InvalidInput("collection", f"TLP:{str(level).upper()} is never exchanged between nodes")
        peer = self._active(node_id)
        actor = peer_actor(peer.node_id, peer.name, peer.country, peer.party_id) if pushed else self._operator
        result = self._intel.import_objects(
            actor, objects, tlp=level, owner=peer.party_id, source=f"peer:{peer.node_id}"
        )
        now = self._clock.now()
        creators = _creators(objects)
        rows = [
            {
                "stix_id": s["id"],
                "modified": s["version"] or "",
                "peer_node_id": peer.node_id,
                "created_by_ref": creators.get(s["id"]),
                "received_at": now,
            }
            for s in result.successes
        ]
        with self._db.writing() as db_session:
            insert_missing(db_session, ReceivedObject, rows)
            state = self._state(db_session, peer.node_id)
            state.objects_received += len(objects)
        return result

    def _push(self, session: _Connection, peer: Peer, report: SyncReport, max_pages: int | None) -> None:
        positions = self._positions(peer.node_id)
        for level in LEVELS:
            collection = self._collection(session, peer, level)
            while max_pages is None or report.pages < max_pages:
                page = self._sharing.feed_page(peer.node_id, level, positions["push"].get(str(level)), PAGE)
                if page.objects:
                    envelope = {"objects": [json.loads(v.content) for v in page.objects]}
                    status = collection.add_objects(envelope)
                    if status.failure_count:
                        failures = [f"{f.get('id')}: {f.get('message')}" for f in status.failures[:3]]
                        raise InvalidInput("push", f"{peer.name} refused {status.failure_count}: {failures}")
                    report.pushed += len(page.objects)
                report.pages += 1
                if page.next_token:
                    positions["push"][str(level)] = page.next_token
                    self._save_positions(peer.node_id, positions)
                if not page.more:
                    break

    # -- the loop inside `accord serve` ------------------------------------------------------------------------

    def run_due(self) -> list[SyncReport]:
        """Sync every active peer whose next attempt is due; failures are recorded (with backoff), not raised."""
        now = self._clock.now()
        with self._db.reading() as session:
            peers = list(session.scalars(select(Peer.node_id).where(Peer.status == ACTIVE).order_by(Peer.node_id)))
            due_at = dict(session.execute(select(PeerSyncState.peer_node_id, PeerSyncState.next_attempt_at)).all())
        done = []
        for node_id in peers:
            due = due_at.get(node_id)
            if due is not None and due > now:
                continue
            try:
                done.append(self.sync(node_id))
            except Exception as exc:  # recorded in the peer's state by sync(); the loop goes on to the next peer
                LOG.warning("sync with %s failed: %s", node_id, exc)
        return done

    def status(self, actor: Actor) -> list[SyncStatus]:
        self._identity.authorize(actor, Permission.VIEW_DIRECTORY)
        with self._db.reading() as session:
            rows = session.execute(
                select(Peer, PeerSyncState)
                .outerjoin(PeerSyncState, PeerSyncState.peer_node_id == Peer.node_id)
                .order_by(Peer.name)
            ).all()
            return [
                SyncStatus(
                    peer.node_id,
                    peer.name,
                    peer.status,
                    state.last_attempt_at if state else None,
                    state.last_success_at if state else None,
                    state.next_attempt_at if state else None,
                    state.objects_received if state else 0,
                    state.backlog if state else None,
                    state.failures if state else 0,
                    state.last_error if state else None,
                )
                for peer, state in rows
            ]

    # -- state -----------------------------------------------------------------------------------------------

    def _active(self, node_id: str) -> Peer:
        peer = self._federation.peer(node_id)
        if peer.status != ACTIVE:
            raise InvalidInput("peer", f"{peer.name} is suspended: {peer.status_reason}")
        return peer

    def _state(self, session: Session, node_id: str) -> PeerSyncState:
        state = session.get(PeerSyncState, node_id, with_for_update=True)
        if state is None:
            state = PeerSyncState(peer_node_id=node_id, cursors=None, objects_received=0, failures=0)
            session.add(state)
        return state

    def _positions(self, node_id: str) -> dict[str, dict[str, str]]:
        with self._db.reading() as session:
            state = session.get(PeerSyncState, node_id)
            stored = json.loads(state.cursors) if state is not None and state.cursors else {}
        return {"pull": dict(stored.get("pull", {})), "push": dict(stored.get("push", {}))}

    def _save_positions(self, node_id: str, positions: dict[str, dict[str, str]]) -> None:
        with self._db.writing() as session:
            self._state(session, node_id).cursors = json.dumps(positions, sort_keys=True)

    def _touch(self, node_id: str) -> None:
        with self._db.writing() as session:
            self._state(session, node_id).last_attempt_at = self._clock.now()

    def _succeeded(self, node_id: str, report: SyncReport) -> None:
        with self._db.writing() as session:
            state = self._state(session, node_id)
            now = self._clock.now()
            state.last_success_at, state.failures, state.last_error = now, 0, None
            state.backlog = report.behind
            state.next_attempt_at = now + self.interval

    def _failed(self, node_id: str, exc: BaseException) -> None:
        with self._db.writing() as session:
            state = self._state(session, node_id)
            state.failures += 1
            state.last_error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
            state.next_attempt_at = self._clock.now() + backoff(state.failures)

    # -- transport -------------------------------------------------------------------------------------------

    def _session(self) -> _Connection:
        return _Connection(self._keys, self.timeout)

    def _collection(self, connection: requests.Session, peer: Peer, level: Tlp) -> Collection:
        url = f"{peer.base_url}/taxii2/accord/collections/{collection_id(level)}/"
        info = {"id": collection_id(level), "title": f"TLP:{level}", "can_read": True, "can_write": True}
        conn = _HTTPConnection(version="2.1")
        conn.session = connection
        return Collection(url, conn=conn, collection_info=info)


class _Connection(requests.Session):
    """A requests session whose every request is signed with the node key and times out."""

    def __init__(self, keys: NodeKeys, timeout: tuple[float, float]) -> None:
        super().__init__()
        self.auth = NodeSignatureAuth(keys)
        self.behind = 0
        adapter = _TimeoutAdapter(timeout)
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        self.hooks["response"].append(self._remember)

    def _remember(self, response: requests.Response, *_args: Any, **_kwargs: Any) -> None:
        header = response.headers.get("X-Accord-Behind")
        self.behind = int(header) if header and header.isdigit() else 0


def backoff(failures: int, jitter: Callable[[], float] = random.random) -> timedelta:
    """Exponential backoff (10 s, 20 s, 40 s … capped at an hour) with up to 25 % jitter, so peers that all saw
    the same outage do not come back in step."""
    base: timedelta = min(BACKOFF_FIRST * (2 ** max(failures - 1, 0)), BACKOFF_MAX)
    return base * (1 + jitter() / 4)


def _creators(objects: list[Any]) -> dict[str, str]:
    """The organisation each object names as its creator (STIX ``created_by_ref``), by object id."""
    out = {}
    for obj in objects:
        if isinstance(obj, dict) and isinstance(obj.get("id"), str) and isinstance(obj.get("created_by_ref"), str):
            out[obj["id"]] = obj["created_by_ref"][:120]
    return out
