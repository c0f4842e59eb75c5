"""Evidence API under ``/api/v1/evidence``.

Uploads stream: the request body is the file itself (``Content-Type`` its media type) and the description comes
in query parameters, so a 10 GB extraction is hashed and written as it arrives, never buffered. A declared
``Content-Length`` (or ``sha256``) that the bytes do not match is a truncated or altered upload: refused,
nothing kept. Every read of evidence needs ``Accord-Purpose`` and is audited.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import anyio.from_thread
from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from accord.errors import InvalidInput
from accord.evidence.checkpoint import CheckpointError
from accord.evidence.service import MANUAL_EVENTS, ItemMetadata, ItemView
from accord.node import Node
from accord.web.auth import ApiActor, DisclosureHeaders, node_of

router = APIRouter(prefix="/evidence", tags=["evidence"])
ITEMS_PATH = "/api/v1/evidence/items"
PACKAGE_UPLOAD_PATHS = ("/api/v1/evidence/packages/verify", "/api/v1/evidence/packages/import")
CHUNK = 1024 * 1024


def pull_body(stream: AsyncIterator[bytes]) -> Iterator[bytes]:
    """The request body as a plain iterator, for a worker thread (each chunk fetched from the event loop)."""

    async def next_chunk() -> bytes | None:
        try:
            return await stream.__anext__()
        except StopAsyncIteration:
            return None

    while True:
        chunk = anyio.from_thread.run(next_chunk)
        if chunk is None:
            return
        if chunk:
            yield chunk


def _declared_size(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    if not raw.isdigit():
        raise InvalidInput("Content-Length", "must be a number of bytes")
    return int(raw)


@router.post("/items", status_code=201, summary="Register an evidence file; the body is the file, streamed")
async def add_item(
    request: Request,
    actor: ApiActor,
    case_reference: Annotated[str, Query(min_length=1, max_length=200)],
    description: Annotated[str, Query(min_length=1, max_length=4000)],
    collector: Annotated[str, Query(min_length=1, max_length=200)],
    collected_at: Annotated[datetime, Query(description="ISO 8601 with UTC offset")],
    file_name: Annotated[str, Query(min_length=1, max_length=255)],
    source_kind: Annotated[str, Query(max_length=32)] = "seized-device",
    exhibit_number: Annotated[str | None, Query(max_length=100)] = None,
    place: Annotated[str | None, Query(max_length=500)] = None,
    legal_basis: Annotated[str | None, Query(max_length=500)] = None,
    request_id: Annotated[str | None, Query(max_length=100)] = None,
    use_conditions: Annotated[str | None, Query(max_length=4000)] = None,
    sha256: Annotated[str | None, Query(description="expected SHA-256 (hex); a mismatch is refused")] = None,
) -> JSONResponse:
    media_type = request.headers.get("content-type", "application/octet-stream").split(";")[0].strip()
    meta = ItemMetadata(
        case_reference=case_reference,
        description=description,
        source_kind=source_kind,
        collector=collector,
        collected_at=collected_at,
        file_name=file_name,
        media_type=media_type or "application/octet-stream",
        exhibit_number=exhibit_number,
        place=place,
        legal_basis=legal_basis,
        request_id=request_id,
        use_conditions=use_conditions,
    ).checked()
    node = node_of(request)
    size = _declared_size(request)
    stream = request.stream()
    item = await run_in_threadpool(
        lambda: node.evidence.add_item(
            actor, pull_body(stream), meta, expected_sha256=sha256.lower() if sha256 else None, expected_size=size
        )
    )
    return JSONResponse(item.document(), status_code=201, headers={"Location": f"{ITEMS_PATH}/{item.id}"})


@router.get("/items", summary="Evidence items your party holds, newest first; needs Accord-Purpose")
def list_items(
    request: Request,
    actor: ApiActor,
    disclosure: DisclosureHeaders,
    case: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    items = node_of(request).evidence.items(actor, case, disclosure)
    return {"items": [item.document() for item in items]}


@router.get("/items/{item_id}", summary="An item with its custody events, inclusion proofs and the signed head")
def get_item(request: Request, item_id: str, actor: ApiActor, disclosure: DisclosureHeaders) -> dict[str, Any]:
    return node_of(request).evidence.item(actor, item_id, disclosure).document()


@router.get("/items/{item_id}/content", summary="The item's bytes (recorded as an 'accessed' custody event)")
def get_content(request: Request, item_id: str, actor: ApiActor, disclosure: DisclosureHeaders) -> Response:
    item, stream = node_of(request).evidence.open_content(actor, item_id, disclosure)

    def chunks() -> Iterator[bytes]:
        with stream:
            while chunk := stream.read(CHUNK):
                yield chunk

    return StreamingResponse(
        chunks(),
        media_type=item.media_type,
        headers={
            "Content-Length": str(item.size_bytes),
            "Content-Disposition": _attachment(item.file_name),
            "Digest": f"sha-256={_b64(item.sha256)}",
        },
    )


def _attachment(name: str) -> str:
    from urllib.parse import quote

    return f"attachment; filename*=UTF-8''{quote(name, safe='')}"


def _b64(hex_digest: str) -> str:
    import base64

    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(description=f"one of {', '.join(MANUAL_EVENTS)}", max_length=32)
    purpose: str = Field(min_length=1, max_length=500)
    details: dict[str, str] = Field(default_factory=dict, max_length=20)


@router.post("/items/{item_id}/events", status_code=201, summary="Record a custody event")
def record_event(request: Request, item_id: str, actor: ApiActor, body: EventIn) -> dict[str, Any]:
    event = node_of(request).evidence.record_event(actor, item_id, body.kind, body.purpose, body.details)
    return {"index": event.seq, "kind": event.kind, "leaf_hash": event.leaf_hash.hex()}


class PurposeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    purpose: str = Field(min_length=1, max_length=500)


@router.post("/items/{item_id}/copies", status_code=201, summary="Make a working copy (the original may stay sealed)")
def copy_item(request: Request, item_id: str, actor: ApiActor, body: PurposeIn) -> dict[str, Any]:
    return node_of(request).evidence.copy_item(actor, item_id, body.purpose).document()


class DestructionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: str = Field(min_length=1, max_length=500, description="the decision ordering destruction")
    approved_by: str = Field(min_length=1, max_length=200)


@router.post("/items/{item_id}/destruction", summary="Destroy the bytes by a recorded decision (hash kept)")
def destroy_item(request: Request, item_id: str, actor: ApiActor, body: DestructionIn) -> dict[str, Any]:
    event = node_of(request).evidence.destroy_item(actor, item_id, body.decision, body.approved_by)
    return {"index": event.seq, "kind": event.kind}


class PackageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[str] = Field(default_factory=list, max_length=10_000)
    case: str | None = Field(default=None, max_length=200)
    recipient: str | None = Field(default=None, max_length=200)


@router.post("/packages", summary="Export items (or a case) as a verifiable package (zip); needs Accord-Purpose")
def export_package(
    request: Request, actor: ApiActor, disclosure: DisclosureHeaders, body: PackageIn, cleanup: BackgroundTasks
) -> FileResponse:
    folder = Path(tempfile.mkdtemp(prefix="accord-export-"))
    target = folder / "package.zip"
    cleanup.add_task(_remove_folder, folder)
    try:
        result = node_of(request).evidence_packages.export(
            actor, target, disclosure, item_ids=body.items, case_reference=body.case, recipient=body.recipient
        )
    except BaseException:
        _remove_folder(folder)
        raise
    return FileResponse(
        target,
        media_type="application/zip",
        filename=f"{result.package_id}.zip",
        headers={"Accord-Package-Id": result.package_id, "Digest": f"sha-256={_b64(result.sha256)}"},
    )


def _remove_folder(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


async def spool_upload(request: Request, node: Node, folder: Path) -> Path:
    """An uploaded package to a temporary file (the verifier needs random access to the zip's directory)."""
    target = folder / "upload.zip"
    limit = node.settings.evidence_package_max_bytes
    seen = 0
    with target.open("wb") as out:
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > limit:
                raise InvalidInput("body", f"package larger than {limit} bytes (setting evidence_package_max_bytes)")
            await run_in_threadpool(out.write, chunk)
    return target


@router.post("/packages/verify", summary="Verify a package (the body is the zip); every step with its result")
async def verify_uploaded_package(
    request: Request,
    actor: ApiActor,
    expected_node: Annotated[str | None, Query(max_length=64, description="the sender's node id, if known")] = None,
) -> JSONResponse:
    from accord.evidence.verify import verify_package

    del actor  # any signed-in user may check a package: it reads nothing stored here
    node = node_of(request)
    with tempfile.TemporaryDirectory(prefix="accord-verify-") as folder:
        path = await spool_upload(request, node, Path(folder))
        report = await run_in_threadpool(
            lambda: verify_package(
                path, limits=node.evidence_packages.limits, known=node.evidence_packages.known_checkpoints()
            )
        )
    return JSONResponse(
        {
            "verified": report.ok,
            "signed_by": report.node_id,
            "pinned": report.pinned,
            "package_id": (report.statement or {}).get("package_id"),
            "steps": [
                {"number": s.number, "title": s.title, "status": s.status, "detail": s.detail} for s in report.steps
            ],
        }
    )


@router.post("/packages/import", status_code=201, summary="Import a package from another node; needs Accord-Purpose")
async def import_uploaded_package(
    request: Request,
    actor: ApiActor,
    disclosure: DisclosureHeaders,
    expected_node: Annotated[str | None, Query(max_length=64, description="the sender, if not a peer")] = None,
) -> JSONResponse:
    node = node_of(request)
    with tempfile.TemporaryDirectory(prefix="accord-import-") as folder:
        path = await spool_upload(request, node, Path(folder))
        result = await run_in_threadpool(
            lambda: node.evidence_packages.import_package(actor, path, disclosure, expected_node=expected_node)
        )
    return JSONResponse(
        {
            "package_id": result.package_id,
            "from_node": result.origin_node_id,
            "items": [_item_summary(item) for item in result.items],
            "steps": result.report.lines(),
        },
        status_code=201,
    )


def _item_summary(item: ItemView) -> dict[str, Any]:
    return {"id": item.id, "sha256": item.sha256, "file_name": item.file_name, "size_bytes": item.size_bytes}


@router.get("/log/checkpoint", summary="The custody log's signed tree head (C2SP checkpoint, signed note)")
def checkpoint(request: Request, actor: ApiActor) -> dict[str, Any]:
    node = node_of(request)
    signed = node.evidence.checkpoint(actor)
    return {
        "origin": signed.checkpoint.origin,
        "vkey": node.evidence.custody.vkey(),
        "tree_size": signed.checkpoint.tree_size,
        "root_hash": signed.checkpoint.root_hash.hex(),
        "signed_note": signed.note,
    }


@router.get("/log/consistency", summary="A consistency proof between two signed tree sizes (RFC 9162 2.1.4)")
def consistency(
    request: Request,
    actor: ApiActor,
    first: Annotated[int, Query(alias="from", ge=1)],
    second: Annotated[int, Query(alias="to", ge=1)],
) -> dict[str, Any]:
    proof = node_of(request).evidence.consistency(actor, first, second)
    return {"from": first, "to": second, "proof": [h.hex() for h in proof]}


class CosignatureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tree_size: int = Field(ge=0)
    witness_vkey: str = Field(max_length=300, description="the witness's cosigner key (C2SP vkey, type 0x04)")
    line: str = Field(max_length=1000, description="the cosignature line the witness returned")


@router.post("/log/cosignatures", status_code=201, summary="Store a witness's cosignature (verified first)")
def add_cosignature(request: Request, actor: ApiActor, body: CosignatureIn) -> dict[str, Any]:
    try:
        stored = node_of(request).evidence.add_cosignature(actor, body.tree_size, body.witness_vkey, body.line)
    except CheckpointError as exc:
        raise InvalidInput("line", str(exc)) from None
    return stored
