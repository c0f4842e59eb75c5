"""Node-to-node endpoints under ``/federation/v1``: every call signed by the calling node (RFC 9421), except the
acceptance that completes peering, whose own signature and our open invitation are its authority."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from accord.errors import InvalidInput
from accord.federation.invitations import MAX_DOCUMENT_BYTES
from accord.federation.service import PeerView
from accord.web.auth import node_of

router = APIRouter(prefix="/federation/v1", tags=["federation"])
ACCEPTANCES_PATH = "/federation/v1/acceptances"


async def peer_caller(request: Request) -> PeerView:
    """The active peer whose node key signed this call; 401 problem otherwise."""
    body = await request.body()
    node = node_of(request)
    return await run_in_threadpool(
        node.federation.authenticate, request.method, str(request.url), request.headers, body
    )


PeerCaller = Annotated[PeerView, Depends(peer_caller)]


@router.get("/hello", summary="Who is this node (a signed call from a peer; proves both keys work)")
def hello(request: Request, caller: PeerCaller) -> dict[str, Any]:
    return node_of(request).federation.hello(caller)


@router.post("/acceptances", status_code=201, summary="The invited node's signed acceptance of our invitation")
async def acceptance(request: Request) -> JSONResponse:
    body = await request.body()
    if len(body) > MAX_DOCUMENT_BYTES:
        raise InvalidInput("body", f"at most {MAX_DOCUMENT_BYTES} bytes")
    try:
        document = json.loads(body)
    except ValueError:
        raise InvalidInput("body", "not JSON") from None
    node = node_of(request)
    peer = await run_in_threadpool(node.federation.receive_acceptance, document)
    return JSONResponse(peer.document(), status_code=201)
