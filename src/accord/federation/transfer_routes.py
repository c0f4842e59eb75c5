"""Node-to-node endpoints for evidence transfers and witnessing, under ``/federation/v1``. Every call is signed by
the calling peer (RFC 9421, see ``routes.peer_caller``); suspended peers are refused there.

A chunk's Content-Digest (RFC 9530) is checked before the signature, so a chunk damaged in transit is answered
with a problem naming the ``content-digest`` field (the sender sends it again) rather than a signature failure.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from accord.errors import InvalidInput
from accord.federation.evidence_receive import Declaration, check_chunk, checked_transfer_id
from accord.federation.evidence_transfer import EvidenceTransfers, transfers_of
from accord.federation.routes import PeerCaller
from accord.web.auth import node_of

router = APIRouter(prefix="/federation/v1", tags=["federation"])
MAX_JSON_BYTES = 64 * 1024  # declarations and cosignatures are a few hundred bytes

TransferId = Annotated[str, Path(max_length=80, description="evidence-transfer--<uuid>, chosen by the sender")]


def _transfers(request: Request) -> EvidenceTransfers:
    return transfers_of(node_of(request))


async def _json(request: Request) -> Any:
    body = await request.body()
    if len(body) > MAX_JSON_BYTES:
        raise InvalidInput("body", f"at most {MAX_JSON_BYTES} bytes")
    try:
        return json.loads(body)
    except ValueError:
        raise InvalidInput("body", "not JSON") from None


@router.post("/transfers", status_code=201, summary="Declare an evidence package to be sent in chunks")
async def declare(request: Request, caller: PeerCaller) -> dict[str, Any]:
    declaration = Declaration.parse(await _json(request))
    return await run_in_threadpool(_transfers(request).receiver.declare, caller, declaration)


@router.get("/transfers/{transfer_id}", summary="A transfer's status: which chunks this node holds")
async def status(request: Request, caller: PeerCaller, transfer_id: TransferId) -> dict[str, Any]:
    return await run_in_threadpool(_transfers(request).receiver.status, caller, checked_transfer_id(transfer_id))


@router.put("/transfers/{transfer_id}/chunks/{index}", summary="One chunk, with its Content-Digest (RFC 9530)")
async def chunk(
    request: Request,
    transfer_id: TransferId,
    index: Annotated[int, Path(ge=0, le=1 << 20)],
) -> dict[str, Any]:
    body = await request.body()
    checked = check_chunk(index, body, request.headers.get("content-digest"))
    node = node_of(request)
    caller = await run_in_threadpool(
        node.federation.authenticate, request.method, str(request.url), request.headers, body
    )
    receiver = _transfers(request).receiver
    return await run_in_threadpool(receiver.put_chunk, caller, checked_transfer_id(transfer_id), index, checked)


@router.post("/transfers/{transfer_id}/complete", summary="Check the whole package, import it, answer a receipt")
async def complete(request: Request, caller: PeerCaller, transfer_id: TransferId) -> dict[str, Any]:
    return await run_in_threadpool(_transfers(request).receiver.complete, caller, checked_transfer_id(transfer_id))


@router.get("/evidence/checkpoint", summary="This node's latest signed custody head, for a witness")
async def checkpoint(
    request: Request,
    caller: PeerCaller,
    since: Annotated[int | None, Query(ge=1, description="size of the last head the caller saw")] = None,
) -> dict[str, Any]:
    return await run_in_threadpool(_transfers(request).receiver.latest_checkpoint, caller, since)


@router.post("/evidence/cosignatures", status_code=201, summary="A peer's cosignature on one of our custody heads")
async def cosignature(request: Request, caller: PeerCaller) -> dict[str, Any]:
    document = await _json(request)
    if not isinstance(document, dict):
        raise InvalidInput("body", "a JSON object")
    tree_size, line = document.get("tree_size"), document.get("line")
    if not isinstance(tree_size, int) or isinstance(tree_size, bool) or tree_size < 0:
        raise InvalidInput("tree_size", "a tree size")
    if not isinstance(line, str) or len(line) > 1000:
        raise InvalidInput("line", "a cosignature line")
    return await run_in_threadpool(_transfers(request).receiver.accept_cosignature, caller, tree_size, line)
