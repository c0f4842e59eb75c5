"""``POST /federation/v1/envelopes``: a peer delivers one signed envelope and gets our signed receipt.

The call itself is signed by the peer's node key (RFC 9421, ``peer_caller``), so only an active peer gets this
far; the envelope's own signature is checked against the same peer's key. Errors are problem+json naming the
field (``signature``, ``to``, ``kind``, …): a 4xx tells the sender never to send this envelope again, a 5xx to
try again later.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from accord.errors import InvalidInput
from accord.federation.outbox import MAX_BODY_BYTES
from accord.federation.routes import PeerCaller
from accord.web.auth import node_of

router = APIRouter(prefix="/federation/v1", tags=["federation"])


@router.post("/envelopes", summary="Deliver a signed envelope (a signed call from an active peer); returns a receipt")
async def deliver_envelope(request: Request, caller: PeerCaller) -> JSONResponse:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise InvalidInput("envelope", f"at most {MAX_BODY_BYTES} bytes")
    try:
        document = json.loads(body)
    except ValueError:
        raise InvalidInput("envelope", "the body is not JSON") from None
    receipt = await run_in_threadpool(node_of(request).envelopes.receive, caller, document)
    return JSONResponse({"receipt": receipt})
