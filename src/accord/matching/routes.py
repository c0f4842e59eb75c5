"""Matching API: ``POST /api/v1/lookup``, many raw values at once, each answered at the caller's level;
``POST /api/v1/feedback``, a sighting or outcome for one value."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from accord.audit.batching import LoopWaiter
from accord.errors import InvalidInput
from accord.identity.service import TokenUse
from accord.intel.models import MAX_VALUE_LENGTH
from accord.matching.models import MAX_NOTE_LENGTH
from accord.matching.service import KINDS, MAX_LOOKUP_VALUES, PreparedLookup, documents
from accord.node import Node
from accord.web.auth import ApiActor, OptionalDisclosureHeaders, bearer_token, disclosure_from_headers, node_of

router = APIRouter(tags=["matching"])
LOOKUP_PATH = "/api/v1/lookup"
# 100,000 values of realistic length (phone numbers, IBANs, URLs: 60 bytes on average with JSON quoting, plus a
# type each) are about 10 MB; 16 MiB leaves room without letting one request hold much more memory than that.
LOOKUP_MAX_BODY = 16 * 1024 * 1024
FIELDS = frozenset({"values", "types"})
# Up to this many bytes of body (a few values), a lookup on SQLite runs in the event loop's own thread: its reads
# are page reads in this process, which cost less than handing the call to a worker thread and back with the
# interpreter lock passing between the threads (docs/benchmarks.md, single-value HTTP lookup). Larger calls, and
# every call on PostgreSQL (whose reads wait on the network, when the loop could be serving), go to a worker
# thread.
INLINE_MAX_BODY = 1024

REQUEST_SCHEMA = {
    "type": "object",
    "required": ["values"],
    "additionalProperties": False,
    "properties": {
        "values": {
            "type": "array",
            "maxItems": MAX_LOOKUP_VALUES,
            "items": {"type": "string", "maxLength": MAX_VALUE_LENGTH},
            "examples": [["+84 91 234 5678", "DE89 3704 0044 0532 0130 00", "bit.ly/3xYz"]],
        },
        "types": {
            "type": "array",
            "description": "One per value: an identifier kind, or null to detect it",
            "items": {"anyOf": [{"type": "string", "enum": sorted(KINDS)}, {"type": "null"}]},
        },
    },
}


def parse_lookup_body(body: bytes) -> tuple[list[str], list[str | None] | None]:
    """``{"values": [...], "types": [...]?}`` as typed lists. Raises InvalidInput naming the field."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("body", "not JSON") from None
    if not isinstance(document, dict):
        raise InvalidInput("body", 'a JSON object: {"values": [...], "types": [...]}')
    unknown = sorted(set(document) - FIELDS)
    if unknown:
        raise InvalidInput(unknown[0][:40], "unknown field; send values and, optionally, types")
    values = document.get("values")
    if not isinstance(values, list):
        raise InvalidInput("values", "required, a list of strings")
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise InvalidInput("values", f"item {index} is not a string")
    types = document.get("types")
    if types is None:
        return values, None
    if not isinstance(types, list):
        raise InvalidInput("types", "a list with one identifier kind (or null) per value")
    for index, kind in enumerate(types):
        if kind is not None and not isinstance(kind, str):
            raise InvalidInput("types", f"item {index} is neither an identifier kind nor null")
    return values, types


@router.post(
    "/lookup",
    summary="Who holds these identifiers (up to 100,000 raw values); needs Accord-Purpose",
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": REQUEST_SCHEMA}}}},
)
async def lookup(request: Request) -> JSONResponse:
    body = await request.body()  # bounded by BodyLimit (LOOKUP_MAX_BODY)
    node = node_of(request)
    if len(body) <= INLINE_MAX_BODY and node.db.dialect == "sqlite":
        # No worker thread: the reads run here and the loop serves other requests while the audit entry commits.
        waiter = LoopWaiter()
        prepared, use = _prepare(request, node, body, waiter.notify)
        if use.record_due:  # once a minute per token: a write, which may wait for the lock, so not in the loop
            await run_in_threadpool(node.identity.record_token_use, use)
        await waiter.wait()
        return JSONResponse({"results": documents(prepared.recorded())})

    def answer() -> JSONResponse:
        # One worker-thread hop for the whole call (each hop costs as much as a small query). Rendering 100,000
        # results must not stall the event loop either, so it happens here too.
        prepared, use = _prepare(request, node, body, None)
        node.identity.record_token_use(use)
        return JSONResponse({"results": documents(prepared.recorded())})

    return await run_in_threadpool(answer)


def _prepare(
    request: Request, node: Node, body: bytes, on_recorded: Callable[[], None] | None
) -> tuple[PreparedLookup, TokenUse]:
    """The token check, then the same checks in the same order as a route with ApiActor and DisclosureHeaders
    would make, then the lookup up to its queued audit entry. The token's use is not audited apart: the lookup's
    own entry names the token. Token and index are read in one snapshot, closed before the audit entry is
    waited for."""
    token = bearer_token(request)
    with node.db.snapshot() as snapshot:
        use = node.identity.check_token(token, snapshot)
        disclosure = disclosure_from_headers(request)
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":
            raise HTTPException(415, detail="send application/json")
        values, types = parse_lookup_body(body)
        prepared = node.matching.prepare_lookup(use.actor, values, types, disclosure, snapshot, on_recorded=on_recorded)
    return prepared, use


class FeedbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str = Field(min_length=1, max_length=MAX_VALUE_LENGTH, description="the identifier, in any written form")
    type: str | None = Field(default=None, max_length=40, description="its kind, or null to detect it")
    outcome: str = Field(
        max_length=40, description="seen, blocked, taken_down, false_positive, victim_payment, confirmed_by_police"
    )
    observed_at: datetime | None = Field(default=None, description="when it happened, with a time zone; now if absent")
    note: str | None = Field(default=None, max_length=MAX_NOTE_LENGTH, description="a short remark")


@router.post(
    "/feedback", status_code=201, summary="Record a sighting or outcome (blocked, taken down, ...) for a value"
)
def feedback(
    request: Request, actor: ApiActor, disclosure: OptionalDisclosureHeaders, body: FeedbackBody
) -> JSONResponse:
    # Recording what one's party saw reads no personal data: a purpose is recorded when given, not required.
    record = node_of(request).matching.record_feedback(
        actor, body.value, body.type, body.outcome, body.observed_at, body.note, disclosure
    )
    return JSONResponse(record.document(), status_code=201)
