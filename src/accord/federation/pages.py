"""Federation pages: the peers with where each exchange stands (intelligence sync: last success, how far behind,
last error; requests and messages: the envelope backlog, its oldest, the last delivery error, refusals; evidence
transfers in progress), and per peer its sharing policy, the preview of exactly what it would receive and why
(federation.sharing), the envelopes written for it and the evidence transfers with it.

Each service checks its own permission: the directory (VIEW_DIRECTORY) for peers, sync and envelopes, READ_EVIDENCE
for transfers (the page asks only when the viewer holds it, so that no denial is audited for merely looking), the
cooperation service's rule for naming the request an envelope carries."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from accord.errors import InvalidInput, NotFound
from accord.federation.evidence_transfer import transfers_of
from accord.federation.sharing import Preview
from accord.identity.vocabulary import Permission
from accord.web.auth import PageActor, node_of
from accord.web.problems import problem_kind
from accord.web.rendering import pages_of

router = APIRouter(include_in_schema=False)
PREVIEW_ITEMS = 50
ENVELOPE_ROWS = 50  # the newest envelopes listed on a peer's page; the rest are counted
TRANSFER_ROWS = 50
MAX_POLICY_CHARS = 256 * 1024


@router.get("/federation")
def peers(request: Request, actor: PageActor) -> Response:
    node = node_of(request)
    states = node.intel_sync.status(actor)
    backlog = node.envelopes.backlog(actor)
    evidence = transfers_of(node).in_progress(actor) if actor.holds(Permission.READ_EVIDENCE) else None
    now = node.clock.now()
    rows = [
        {
            "sync": s,
            "backlog": backlog.get(s.node_id),
            "oldest_age": _age(now, backlog[s.node_id].oldest_pending_at) if s.node_id in backlog else None,
            "transfers": None if evidence is None else evidence.get(s.node_id, 0),
        }
        for s in states
    ]
    context = {"rows": rows, "node_id": node.keys.node_id, "can_see_evidence": evidence is not None}
    return pages_of(request).render(request, "federation/index.html", context)


def _age(now: datetime, since: datetime | None) -> int | None:
    """Seconds since ``since`` (never negative: another process's clock may run a little ahead)."""
    return None if since is None else max(0, int((now - since).total_seconds()))


def _peer_page(request: Request, actor: PageActor, node_id: str, **extra: Any) -> Response:
    node = node_of(request)
    node.identity.authorize(actor, Permission.VIEW_DIRECTORY)
    status = extra.pop("status_code", 200)
    peer = node.federation.peer(node_id)
    can_manage = actor.can(Permission.MANAGE_PARTIES)
    policy = node.sharing.policy(node_id)
    preview: Preview | None = node.sharing.preview(actor, node_id, items=PREVIEW_ITEMS) if can_manage else None
    state = next((s for s in node.intel_sync.status(actor) if s.node_id == node_id), None)
    envelopes, envelope_total = node.envelopes.sent(actor, node_id, limit=ENVELOPE_ROWS)
    backlog = node.envelopes.backlog(actor, node_id).get(node_id)
    transfers = transfers_of(node).with_peer(actor, node_id) if actor.holds(Permission.READ_EVIDENCE) else None
    context = {
        "peer": peer,
        "state": state,
        "backlog": backlog,
        "oldest_age": _age(node.clock.now(), backlog.oldest_pending_at) if backlog else None,
        "envelopes": envelopes,
        "envelopes_more": envelope_total - len(envelopes),
        "transfers": None if transfers is None else transfers[:TRANSFER_ROWS],
        "transfers_more": 0 if transfers is None else max(0, len(transfers) - TRANSFER_ROWS),
        "policy": policy.document(),
        "policy_text": extra.pop("policy_text", None) or json.dumps(policy.document(), indent=2, ensure_ascii=False),
        "preview": preview.document() if preview else None,
        "can_manage": can_manage,
        **extra,
    }
    return pages_of(request).render(request, "federation/peer.html", context, status_code=status)


@router.get("/federation/peers/{node_id}")
def peer(request: Request, actor: PageActor, node_id: str) -> Response:
    return _peer_page(request, actor, node_id[:80])


@router.post("/federation/peers/{node_id}/policy")
def set_policy(
    request: Request,
    actor: PageActor,
    node_id: str,
    policy: Annotated[str, Form(max_length=MAX_POLICY_CHARS)] = "",
    reset: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    node = node_of(request)
    try:
        if reset:
            node.sharing.set_policy(actor, node_id, None)
        else:
            try:
                document = json.loads(policy)
            except ValueError as exc:
                raise InvalidInput("policy", f"not JSON: {exc}") from None
            node.sharing.set_policy(actor, node_id, document)
    except InvalidInput as exc:
        error = {"field": exc.field, "message": exc.reason}
        return _peer_page(
            request, actor, node_id, error=error, policy_text=policy, status_code=problem_kind(exc).status
        )
    except NotFound:
        raise
    return _peer_page(request, actor, node_id, saved=True)
