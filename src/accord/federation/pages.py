"""Federation pages: the peers with where sync stands (last success, how far behind, last error), and per peer
its sharing policy and the preview of exactly what it would receive and why (federation.sharing)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from accord.errors import InvalidInput, NotFound
from accord.federation.sharing import Preview
from accord.identity.vocabulary import Permission
from accord.web.auth import PageActor, node_of
from accord.web.problems import problem_kind
from accord.web.rendering import pages_of

router = APIRouter(include_in_schema=False)
PREVIEW_ITEMS = 50
MAX_POLICY_CHARS = 256 * 1024


@router.get("/federation")
def peers(request: Request, actor: PageActor) -> Response:
    node = node_of(request)
    context = {"states": node.intel_sync.status(actor), "node_id": node.keys.node_id}
    return pages_of(request).render(request, "federation/index.html", context)


def _peer_page(request: Request, actor: PageActor, node_id: str, **extra: Any) -> Response:
    node = node_of(request)
    node.identity.authorize(actor, Permission.VIEW_DIRECTORY)
    status = extra.pop("status_code", 200)
    peer = node.federation.peer(node_id)
    can_manage = actor.can(Permission.MANAGE_PARTIES)
    policy = node.sharing.policy(node_id)
    preview: Preview | None = node.sharing.preview(actor, node_id, items=PREVIEW_ITEMS) if can_manage else None
    state = next((s for s in node.intel_sync.status(actor) if s.node_id == node_id), None)
    context = {
        "peer": peer,
        "state": state,
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
        error = {"field": exc.field, "message": str(exc)}
        return _peer_page(
            request, actor, node_id, error=error, policy_text=policy, status_code=problem_kind(exc).status
        )
    except NotFound:
        raise
    return _peer_page(request, actor, node_id, saved=True)
