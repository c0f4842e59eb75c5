"""Cooperation API: the legal catalogue, requests (drafts, transitions, history and clocks), preservation holds,
inbox/outbox/overdue lists, notifications; and drafts opened from a matching hit.

Fixed points: ``POST /api/v1/cooperation/requests`` creates a draft, ``POST …/requests/{id}/transitions`` with
``{"to": "sent"}`` (and grounds/reasons where required) moves it, ``GET …/requests/{id}`` returns it with history
and clocks, ``GET /api/v1/cooperation/catalogue`` lists the request types with their required fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from accord.cooperation.legal import Decision
from accord.cooperation.output import content_hash, render_pdf, request_document
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


@router.get("/catalogue", summary="The legal catalogue: request types with their required fields, grounds, timers")
def catalogue(request: Request, actor: ApiActor) -> dict[str, Any]:
    del actor  # any signed-in user may read the law
    return node_of(request).cooperation_requests.catalogue.public_view()


class RequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(max_length=64, description="a request type of the catalogue, e.g. preservation")
    instrument: str = Field(max_length=16, description="the instrument relied on, e.g. UN or BC")
    requested_party: str = Field(max_length=200, description="the requested party (id or name)")
    urgency: str = Field(default="routine", max_length=16, description="routine, urgent or emergency")
    language: str | None = Field(default=None, max_length=8)
    case_reference: str | None = Field(default=None, max_length=200)
    fields: dict[str, Any] = Field(default_factory=dict, description="the request's fields (see the catalogue)")


@router.post("/requests", status_code=201, summary="Create a draft request (type, instrument, fields)")
def create_request(request: Request, actor: ApiActor, body: RequestIn) -> JSONResponse:
    view = node_of(request).cooperation_requests.create(
        actor,
        request_type=body.type,
        instrument=body.instrument,
        requested_party=body.requested_party,
        fields=body.fields,
        urgency=body.urgency,
        language=body.language,
        case_reference=body.case_reference,
    )
    document = view.document()
    return JSONResponse(document, status_code=201, headers={"Location": f"/api/v1/cooperation/requests/{view.row.id}"})


@router.patch("/requests/{request_id}", summary="Change a draft: type, instrument, envelope or fields")
def update_request(request: Request, request_id: str, actor: ApiActor, body: dict[str, Any]) -> dict[str, Any]:
    return node_of(request).cooperation_requests.update(actor, request_id, body).document()


@router.get("/requests/{request_id}", summary="A request with its history, clocks, hold and lint; needs Accord-Purpose")
def get_request(request: Request, request_id: str, actor: ApiActor, disclosure: DisclosureHeaders) -> dict[str, Any]:
    return node_of(request).cooperation_requests.get(actor, request_id, disclosure).document()


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: str = Field(max_length=32, description="the next state")
    grounds: list[str] = Field(default_factory=list, max_length=20, description="refusal or postponement grounds")
    reasons: str | None = Field(default=None, max_length=4000)
    approved_by: str | None = Field(default=None, max_length=200)
    partial_considered: bool | None = Field(default=None, description="partial or conditional execution considered")
    note: str | None = Field(default=None, max_length=4000, description="information asked for or given")
    dual_criminality: dict[str, Any] | None = Field(default=None, description="conduct, domestic_offence, fulfilled")
    override_reasons: str | None = Field(default=None, max_length=4000, description="lawyer's override of a check")


@router.post(
    "/requests/{request_id}/transitions", summary="Move a request (409 if illegal, 422 naming what is missing)"
)
def transition(request: Request, request_id: str, actor: ApiActor, body: TransitionIn) -> dict[str, Any]:
    decision = Decision(
        grounds=tuple(body.grounds),
        reasons=body.reasons,
        approved_by=body.approved_by,
        partial_considered=body.partial_considered,
        note=body.note,
        dual_criminality=body.dual_criminality,
        override_reasons=body.override_reasons,
    )
    return node_of(request).cooperation_requests.transition(actor, request_id, body.to, decision).document()


class HoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: str = Field(max_length=32, description="extension_requested, extended or released")
    until: datetime | None = Field(default=None, description="the new expiry, for extended")
    justification: str | None = Field(default=None, max_length=4000, description="for extension_requested")


@router.post("/requests/{request_id}/hold", summary="Move a preservation hold (extension, release)")
def hold(request: Request, request_id: str, actor: ApiActor, body: HoldIn) -> dict[str, Any]:
    return (
        node_of(request)
        .cooperation_requests.hold_transition(
            actor, request_id, body.to, until=body.until, justification=body.justification
        )
        .document()
    )


@router.get("/requests", summary="Your party's inbox, outbox or overdue requests; needs Accord-Purpose")
def list_requests(
    request: Request,
    actor: ApiActor,
    disclosure: DisclosureHeaders,
    box: Annotated[str, Query(max_length=16, description="inbox, outbox or overdue")] = "inbox",
) -> dict[str, Any]:
    views = node_of(request).cooperation_requests.listing(actor, box, disclosure)
    return {"box": box, "requests": [view.document() for view in views]}


@router.get("/notifications", summary="Your party's notifications (deadline alerts, new requests), newest first")
def notifications(request: Request, actor: ApiActor) -> dict[str, Any]:
    return {"notifications": node_of(request).cooperation_requests.notifications(actor)}


class DirectoryEntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    party: str = Field(max_length=200, description="party id or name")
    role: str = Field(max_length=40, description="point_of_contact_24_7, central_authority, …")
    name: str = Field(max_length=200)
    hours: str = Field(max_length=300, description="'24/7' or 'Mon-Fri 08:00-17:00; Sat 09:00-12:00'")
    time_zone: str = Field(max_length=64, description="IANA time zone of the hours")
    languages: list[str] = Field(default_factory=list, max_length=10)
    channels: list[str] = Field(default_factory=list, max_length=10)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=320)
    escalation_order: int = Field(default=1, ge=1, le=99)


@router.get("/directory", summary="The 24/7 directory: contacts with hours, on duty now, and stale entries flagged")
def directory(
    request: Request, actor: ApiActor, party: Annotated[str | None, Query(max_length=200)] = None
) -> dict[str, Any]:
    entries = node_of(request).directory.entries(actor, party)
    return {"entries": [entry.document() for entry in entries]}


@router.post("/directory", status_code=201, summary="Add a directory entry (admin); verified today")
def add_directory_entry(request: Request, actor: ApiActor, body: DirectoryEntryIn) -> dict[str, Any]:
    entry = node_of(request).directory.add(actor, **body.model_dump())
    return entry.document()


@router.post("/directory/{entry_id}/verification", summary="Record that an entry was checked today (admin)")
def verify_directory_entry(request: Request, entry_id: str, actor: ApiActor) -> dict[str, Any]:
    return node_of(request).directory.verify(actor, entry_id).document()


@router.get("/requests/{request_id}/document.json", summary="The request's content as JSON with its content hash")
def request_json(request: Request, request_id: str, actor: ApiActor, disclosure: DisclosureHeaders) -> JSONResponse:
    requests = node_of(request).cooperation_requests
    document = request_document(requests.get(actor, request_id, disclosure).document(), requests.catalogue)
    digest = content_hash(document)
    return JSONResponse({**document, "content_hash": digest}, headers={"Digest": f"sha-256={_b64(digest)}"})


@router.get("/requests/{request_id}/document.pdf", summary="The request printed in its form's layout (PDF)")
def request_pdf(request: Request, request_id: str, actor: ApiActor, disclosure: DisclosureHeaders) -> Response:
    requests = node_of(request).cooperation_requests
    view = requests.get(actor, request_id, disclosure).document()
    document = request_document(view, requests.catalogue)
    return Response(
        render_pdf(document),
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{view["reference"] or request_id}.pdf"',
            "Accord-Content-Hash": content_hash(document),
        },
    )


def _b64(hex_digest: str) -> str:
    import base64

    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(max_length=40, description="status_inquiry (requesting side) or status_answer (requested side)")
    text: str = Field(min_length=1, max_length=4000)


@router.post("/requests/{request_id}/messages", status_code=201, summary="Ask for or give the status of a request")
def message(request: Request, request_id: str, actor: ApiActor, body: MessageIn) -> dict[str, Any]:
    return node_of(request).cooperation_requests.message(actor, request_id, body.kind, body.text).document()
