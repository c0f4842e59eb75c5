"""Cooperation API. So far: ``POST /api/v1/cooperation/drafts`` opens a draft from a matching hit and
``GET /api/v1/cooperation/drafts`` lists the caller's party's drafts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from accord.intel.models import MAX_VALUE_LENGTH
from accord.web.auth import ApiActor, DisclosureHeaders, node_of

router = APIRouter(prefix="/cooperation", tags=["cooperation"])


class DraftFromHit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str = Field(min_length=1, max_length=MAX_VALUE_LENGTH, description="the identifier, in any written form")
    type: str | None = Field(default=None, max_length=40, description="its kind, or null to detect it")
    holder: str = Field(min_length=1, max_length=200, description="the party (id or name) a lookup showed holding it")


@router.post(
    "/drafts", status_code=201, summary="Open a cooperation draft to the holder of a value; needs Accord-Purpose"
)
def draft_from_hit(
    request: Request, actor: ApiActor, disclosure: DisclosureHeaders, body: DraftFromHit
) -> JSONResponse:
    draft = node_of(request).cooperation.draft_from_hit(actor, body.value, body.type, body.holder, disclosure)
    return JSONResponse(draft.document(), status_code=201)


@router.get("/drafts", summary="Your party's cooperation drafts, newest first; needs Accord-Purpose")
def drafts(request: Request, actor: ApiActor, disclosure: DisclosureHeaders) -> dict[str, Any]:
    return {"drafts": [draft.document() for draft in node_of(request).cooperation.drafts(actor, disclosure)]}
