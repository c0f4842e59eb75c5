"""Intelligence API (``/api/v1/intel``): import bundles, read objects, search by identifier, export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from accord.errors import InvalidInput
from accord.intel.errors import InvalidBundle
from accord.intel.service import MAX_EXPORT, ImportReport, parse_versions
from accord.intel.vocabulary import parse_tlp
from accord.web.auth import ApiActor, DisclosureHeaders, node_of

router = APIRouter(prefix="/intel", tags=["intelligence"])
BUNDLES_PATH = "/api/v1/intel/bundles"
MAX_BUNDLE_OBJECTS = 100_000  # per HTTP request; the CLI streams larger files
ACCEPTED_MEDIA = ("application/json", "application/stix+json", "application/taxii+json")


def status_resource(report: ImportReport) -> dict[str, Any]:
    """Counts and per-object outcomes in the shape of a TAXII 2.1 status resource (section 4.3.1)."""
    return {
        "status": report.status,
        "total_count": report.total,
        "success_count": len(report.successes),
        "successes": report.successes,
        "failure_count": len(report.failures),
        "failures": report.failures,
        "pending_count": 0,
        "pendings": [],
        "duplicate_count": report.duplicates,
    }


def parse_bundle(body: bytes) -> list[Any]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidBundle(f"body is not JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("type") != "bundle":
        raise InvalidBundle('expected an object with "type": "bundle"')
    objects = document.get("objects", [])
    if not isinstance(objects, list):
        raise InvalidBundle('"objects" must be a list')
    if len(objects) > MAX_BUNDLE_OBJECTS:
        raise InvalidBundle(f"more than {MAX_BUNDLE_OBJECTS} objects; split it or use accord intel import")
    return objects


@router.post("/bundles", summary="Import a STIX 2.1 bundle; answers with each object's outcome")
async def import_bundle(
    request: Request,
    actor: ApiActor,
    tlp: Annotated[str | None, Query(max_length=16)] = None,
    sharing_group: Annotated[str | None, Query(max_length=200)] = None,
) -> JSONResponse:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in ACCEPTED_MEDIA:
        raise HTTPException(415, detail=f"send one of {', '.join(ACCEPTED_MEDIA)}")
    try:
        chosen = parse_tlp(tlp) if tlp else None
    except ValueError:
        raise InvalidInput("tlp", "one of clear, green, amber, amber+strict, red") from None
    objects = parse_bundle(await request.body())
    node = node_of(request)
    report = await run_in_threadpool(
        lambda: node.intel.import_objects(actor, objects, tlp=chosen, sharing_group=sharing_group, source="api")
    )
    return JSONResponse(status_resource(report), status_code=200 if not report.failures else 207)


class SharingGroupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=200)
    parties: list[str] = Field(min_length=1, max_length=500, description="Party ids or names")


@router.post("/sharing-groups", status_code=201, summary="Create a sharing group of parties (admin)")
def create_sharing_group(request: Request, actor: ApiActor, body: SharingGroupIn) -> dict[str, Any]:
    return node_of(request).intel.create_sharing_group(actor, body.name, body.parties)


@router.get("/sharing-groups", summary="Sharing groups your party belongs to (all, for admins)")
def list_sharing_groups(request: Request, actor: ApiActor) -> list[dict[str, Any]]:
    return node_of(request).intel.list_sharing_groups(actor)


@router.post("/misp-events", summary="Import a MISP event (JSON); attributes become STIX indicators")
async def import_misp_event(
    request: Request, actor: ApiActor, tlp: Annotated[str | None, Query(max_length=16)] = None
) -> JSONResponse:
    try:
        chosen = parse_tlp(tlp) if tlp else None
    except ValueError:
        raise InvalidInput("tlp", "one of clear, green, amber, amber+strict, red") from None
    try:
        document = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidBundle(f"body is not JSON ({exc})") from None
    node = node_of(request)
    report, skipped = await run_in_threadpool(
        lambda: node.intel.import_misp_event(actor, document, tlp=chosen, source="api misp")
    )
    body = {**status_resource(report), "skipped_attributes": skipped[:1000], "skipped_count": len(skipped)}
    return JSONResponse(body, status_code=200 if not report.failures else 207)


@router.get("/misp-export", summary="Indicators you may see as one MISP event; needs Accord-Purpose")
def export_misp(
    request: Request,
    actor: ApiActor,
    disclosure: DisclosureHeaders,
) -> dict[str, Any]:
    return node_of(request).intel.export_misp_event(actor, disclosure)


@router.get("/objects/{stix_id}", summary="One object (latest version, or ?version=); needs Accord-Purpose")
def get_object(
    request: Request,
    actor: ApiActor,
    disclosure: DisclosureHeaders,
    stix_id: str,
    version: Annotated[str | None, Query(max_length=40)] = None,
) -> dict[str, Any]:
    return node_of(request).intel.get_object(actor, stix_id, disclosure, version)


@router.delete("/objects/{stix_id}", summary="Delete your party's object: every version, or ?version=")
def delete_object(
    request: Request,
    actor: ApiActor,
    stix_id: str,
    version: Annotated[str | None, Query(max_length=40, description="a version's modified, first, last or all")] = None,
) -> dict[str, Any]:
    # Without ?version= the whole object goes, so that a later GET of this path is 404 (TAXII's default is "last").
    versions = parse_versions("version", [version] if version else ["all"])
    deletion = node_of(request).intel.delete_object(actor, stix_id, versions, source="api")
    return {"id": deletion.stix_id, "deleted_versions": deletion.removed, "remaining_versions": deletion.remaining}


@router.get("/objects/{stix_id}/versions", summary="The versions of an object you may see")
def versions(request: Request, actor: ApiActor, stix_id: str) -> dict[str, Any]:
    return {"versions": node_of(request).intel.versions(actor, stix_id)}


@router.get("/search", summary="Objects holding an identifier (raw form; normalised here); needs Accord-Purpose")
def search(
    request: Request,
    actor: ApiActor,
    disclosure: DisclosureHeaders,
    value: Annotated[str, Query(min_length=1, max_length=4096)],
    kind: Annotated[str | None, Query(max_length=32)] = None,
) -> dict[str, Any]:
    result = node_of(request).intel.search(actor, value, disclosure, kind)
    return {"kind": result.kind, "canonical": result.canonical, "hits": [hit.__dict__ for hit in result.hits]}


@router.get("/export", summary="A STIX bundle of the latest versions you may see; needs Accord-Purpose")
def export(
    request: Request,
    actor: ApiActor,
    disclosure: DisclosureHeaders,
    type: Annotated[list[str] | None, Query(max_length=50)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_EXPORT)] = MAX_EXPORT,
) -> StreamingResponse:
    node = node_of(request)
    objects = node.intel.export(actor, disclosure, types=type, limit=limit)  # checks and audits before streaming
    bundle_id = node.ids.new_id("bundle")

    def stream() -> Iterator[bytes]:
        yield f'{{"type": "bundle", "id": "{bundle_id}", "objects": ['.encode()
        for index, item in enumerate(objects):
            yield (b"," if index else b"") + json.dumps(item, ensure_ascii=False).encode()
        yield b"]}"

    return StreamingResponse(stream(), media_type="application/stix+json;version=2.1")
