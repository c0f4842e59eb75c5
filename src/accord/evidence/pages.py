"""Evidence pages: the party's items, a streamed upload, the item page with its custody checked, and packages.

Uploads stream as the API's do (``routes.py``): the request body is the file itself and its description travels
in the query string, so a phone extraction of many gigabytes is hashed as it arrives and never buffered. The
browser sends it with XHR (``accord.js``) to show progress, with the anti-forgery token in ``X-CSRF-Token``.

The item page does not trust a column saying "verified": it opens the signed tree head with the node's key and
checks every custody event against it (leaf hash, RFC 9162 inclusion proof, link to the previous event), the
same checks a receiving country runs on a package.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, BackgroundTasks, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from accord.audit.service import Disclosure
from accord.canonical_json import canonical_bytes
from accord.errors import InvalidInput
from accord.evidence import merkle
from accord.evidence.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from accord.evidence.custody import CustodyLog
from accord.evidence.report import ReportCheckpoint, item_report_pdf
from accord.evidence.routes import PackageIn, export_package, get_content, pull_body, spool_upload
from accord.evidence.service import (
    MANUAL_EVENTS,
    SOURCE_KINDS,
    CustodyEntry,
    EvidenceStateError,
    ItemDetail,
    ItemMetadata,
)
from accord.evidence.transfer import PackageRejected
from accord.evidence.verify import PackageReport, verify_package
from accord.identity.actor import Actor
from accord.identity.vocabulary import Permission
from accord.web.auth import CSRF_HEADER, PageActor, node_of
from accord.web.errors import CsrfFailed
from accord.web.problems import problem_kind
from accord.web.rendering import pages_of

router = APIRouter(include_in_schema=False)
UPLOAD_PATH = "/evidence/upload"
VERIFY_PATH = "/evidence/verify"
IMPORT_PATH = "/evidence/import"
PACKAGE_UPLOAD_PATHS = (VERIFY_PATH, IMPORT_PATH)
# Listing and viewing are audited under this fixed purpose; reads that hand evidence out (content, packages,
# imports) carry the purpose the user typed into the form, which also goes into the custody log.
UI_PURPOSE = Disclosure(purpose="evidence management in the web interface")
REPORT_PURPOSE = Disclosure(purpose="chain-of-custody report from the web interface")
FORM_ERRORS = (InvalidInput, EvidenceStateError)
_OFFSET = re.compile(r"Z|[+-](?:[01]\d|2[0-3]):[0-5]\d")
# Fetch Metadata (W3C): a navigation started by another site. The session cookie is SameSite=Lax, so such a
# GET would carry it; a download that writes an "accessed" custody event must not be triggered by a link.
FOREIGN_SITES = frozenset({"cross-site", "same-site"})


def _render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    return pages_of(request).render(request, template, context, status_code=status_code)


def human_size(size: int) -> str:
    """Sizes as people read them (binary units, as file managers on the investigators' machines show them)."""
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in ("KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


# -- custody check ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustodyProblem:
    """One failed check: ``check`` is head, body, proof or chain; ``seq`` the event's log index."""

    check: str
    seq: int | None
    detail: str


@dataclass(frozen=True)
class CustodyCheck:
    tree_size: int
    events: int
    problems: list[CustodyProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.events > 0


def check_custody(detail: ItemDetail, log: CustodyLog) -> CustodyCheck:
    """Every custody event of the item against the signed tree head, opened with the node's own key."""
    try:
        head = open_checkpoint(detail.checkpoint.note, log.origin, log.public_key())
    except CheckpointError as exc:
        return CustodyCheck(0, len(detail.custody), [CustodyProblem("head", None, str(exc))])
    problems: list[CustodyProblem] = []
    previous: str | None = None
    for entry in detail.custody:
        problems.extend(_entry_problems(entry, head))
        problems.extend(_chain_problems(entry, previous, detail.item.sha256))
        previous = entry.leaf_hash
    return CustodyCheck(head.tree_size, len(detail.custody), problems)


def _entry_problems(entry: CustodyEntry, head: Checkpoint) -> list[CustodyProblem]:
    # The leaf is recomputed from the event shown on the page, so the proof covers what the reader sees.
    leaf = merkle.leaf_hash(canonical_bytes(entry.document))
    if leaf.hex() != entry.leaf_hash:
        return [CustodyProblem("body", entry.seq, f"hashes to {leaf.hex()}, not {entry.leaf_hash}")]
    try:
        proof = [bytes.fromhex(h) for h in entry.inclusion_proof]
        merkle.verify_inclusion(leaf, entry.seq, head.tree_size, proof, head.root_hash)
    except (merkle.ProofError, ValueError) as exc:
        return [CustodyProblem("proof", entry.seq, str(exc))]
    return []


def _chain_problems(entry: CustodyEntry, previous: str | None, sha256: str) -> list[CustodyProblem]:
    """Each event names the one before it and the item's hash: no event can be dropped or moved to another file."""
    problems = []
    if entry.document.get("previous") != previous:
        problems.append(CustodyProblem("chain", entry.seq, f"names {entry.document.get('previous')}, not {previous}"))
    if entry.document.get("item_sha256") != sha256:
        problems.append(CustodyProblem("hash", entry.seq, f"names {entry.document.get('item_sha256')}"))
    return problems


# -- list and upload -------------------------------------------------------------------------------------------


@router.get("/evidence")
def items_page(request: Request, actor: PageActor, case: Annotated[str, Query(max_length=200)] = "") -> Response:
    node = node_of(request)
    items = node.evidence.items(actor, case.strip() or None, UI_PURPOSE)
    context = {
        "items": items,
        "case": case,
        "source_kinds": SOURCE_KINDS,
        "can_handle": actor.holds(Permission.HANDLE_EVIDENCE),
        "size_text": human_size,
        "upload_path": UPLOAD_PATH,
        "max_size": human_size(node.settings.evidence_max_item_bytes),
    }
    return _render(request, "evidence/items.html", context)


def _require_csrf_header(request: Request) -> None:
    """Raw uploads take the token from the header only: a form body would have been consumed by the check."""
    if request.headers.get(CSRF_HEADER) is None:
        raise CsrfFailed()


def _declared_size(request: Request) -> int:
    # Required here (browsers always send it for a file): it is what lets a truncated upload be refused.
    raw = request.headers.get("content-length", "")
    if not raw.isdigit():
        raise InvalidInput("Content-Length", "the browser must announce the file's size")
    return int(raw)


def collected_time(local: str, offset: str) -> datetime:
    """``collected_at`` as ISO 8601; without its own offset, the offset field supplies one (never assumed)."""
    try:
        moment = datetime.fromisoformat(local.strip())
    except ValueError:
        raise InvalidInput("collected_at", "a date and time such as 2026-11-20T09:30") from None
    if moment.tzinfo is not None:
        return moment
    if not _OFFSET.fullmatch(offset.strip()):
        raise InvalidInput("collected_offset", "the UTC offset of that time, such as +07:00")
    return datetime.fromisoformat(f"{local.strip()}{offset.strip().replace('Z', '+00:00')}")


@router.post(UPLOAD_PATH)
async def upload(
    request: Request,
    actor: PageActor,
    case_reference: Annotated[str, Query(max_length=200)] = "",
    description: Annotated[str, Query(max_length=4000)] = "",
    source_kind: Annotated[str, Query(max_length=32)] = "",
    collector: Annotated[str, Query(max_length=200)] = "",
    collected_at: Annotated[str, Query(max_length=40)] = "",
    collected_offset: Annotated[str, Query(max_length=6)] = "",
    file_name: Annotated[str, Query(max_length=255)] = "",
    exhibit_number: Annotated[str, Query(max_length=100)] = "",
    place: Annotated[str, Query(max_length=500)] = "",
    legal_basis: Annotated[str, Query(max_length=500)] = "",
    request_id: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    _require_csrf_header(request)
    media_type = request.headers.get("content-type", "").split(";")[0].strip()
    meta = ItemMetadata(
        case_reference=case_reference.strip(),
        description=description.strip(),
        source_kind=source_kind,
        collector=collector.strip(),
        collected_at=collected_time(collected_at, collected_offset),
        file_name=file_name,
        media_type=media_type or "application/octet-stream",
        exhibit_number=exhibit_number.strip() or None,
        place=place.strip() or None,
        legal_basis=legal_basis.strip() or None,
        request_id=request_id.strip() or None,
    ).checked()
    node = node_of(request)
    size = _declared_size(request)
    stream = request.stream()
    item = await run_in_threadpool(
        lambda: node.evidence.add_item(actor, pull_body(stream), meta, expected_size=size),
    )
    # 201 with Location, not a redirect: XHR would follow a redirect and fetch (and audit) the item page twice.
    location = f"/evidence/items/{quote(item.id)}"
    return pages_of(request).render(
        request, "evidence/_registered.html", {"item": item}, status_code=201, headers={"Location": location}
    )


# -- the item page and its actions -----------------------------------------------------------------------------


def _item_page(
    request: Request,
    actor: Actor,
    item_id: str,
    *,
    error: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    node = node_of(request)
    detail = node.evidence.item(actor, item_id, UI_PURPOSE)
    context = {
        "item": detail.item,
        "custody": detail.custody,
        "checkpoint": detail.checkpoint,
        "copies": detail.copies,
        "check": check_custody(detail, node.evidence.custody),
        "holder": node.identity.get_party(detail.item.party_id).name,
        "manual_events": MANUAL_EVENTS,
        "can_handle": actor.holds(Permission.HANDLE_EVIDENCE),
        "size_text": human_size,
        "error": error,
        "form": form or {},
    }
    return _render(request, "evidence/item.html", context, status_code)


def _form_failure(
    request: Request, actor: Actor, item_id: str, which: str, exc: InvalidInput | EvidenceStateError, **form: str
) -> Response:
    """The item page again, with the error next to the form that caused it (the field it names, or the state)."""
    name = exc.field if isinstance(exc, InvalidInput) else "state"
    error = {"form": which, "field": name, "message": str(exc)}
    return _item_page(request, actor, item_id, error=error, form=form, status_code=problem_kind(exc).status)


def _back_to(item_id: str, anchor: str = "") -> Response:
    return RedirectResponse(f"/evidence/items/{quote(item_id)}{anchor}", status_code=303)


@router.get("/evidence/items/{item_id}")
def item_page(request: Request, actor: PageActor, item_id: str) -> Response:
    return _item_page(request, actor, item_id)


@router.post("/evidence/items/{item_id}/events")
def record_event(
    request: Request,
    actor: PageActor,
    item_id: str,
    kind: Annotated[str, Form(max_length=32)],
    purpose: Annotated[str, Form(max_length=500)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    details = {"note": note.strip()} if note.strip() else {}
    try:
        node_of(request).evidence.record_event(actor, item_id, kind, purpose.strip(), details)
    except FORM_ERRORS as exc:
        return _form_failure(request, actor, item_id, "event", exc, kind=kind, purpose=purpose, note=note)
    return _back_to(item_id, "#custody")


@router.post("/evidence/items/{item_id}/copies")
def copy_item(
    request: Request, actor: PageActor, item_id: str, purpose: Annotated[str, Form(max_length=500)] = ""
) -> Response:
    try:
        copy = node_of(request).evidence.copy_item(actor, item_id, purpose.strip())
    except FORM_ERRORS as exc:
        return _form_failure(request, actor, item_id, "copy", exc, copy_purpose=purpose)
    return _back_to(copy.id)


@router.post("/evidence/items/{item_id}/destruction")
def destroy_item(
    request: Request,
    actor: PageActor,
    item_id: str,
    decision: Annotated[str, Form(max_length=500)] = "",
    approved_by: Annotated[str, Form(max_length=200)] = "",
    confirm: Annotated[bool, Form()] = False,
) -> Response:
    try:
        if not confirm:
            raise InvalidInput("confirm", "tick the box to confirm that the bytes are to be destroyed")
        node_of(request).evidence.destroy_item(actor, item_id, decision.strip(), approved_by.strip())
    except FORM_ERRORS as exc:
        return _form_failure(request, actor, item_id, "destroy", exc, decision=decision, approved_by=approved_by)
    return _back_to(item_id, "#custody")


@router.get("/evidence/items/{item_id}/content")
def download_content(
    request: Request, actor: PageActor, item_id: str, purpose: Annotated[str, Query(max_length=500)] = ""
) -> Response:
    if request.headers.get("sec-fetch-site") in FOREIGN_SITES:
        raise CsrfFailed()
    try:
        return get_content(request, item_id, actor, Disclosure(purpose=purpose.strip() or None))
    except FORM_ERRORS as exc:
        return _form_failure(request, actor, item_id, "content", exc, content_purpose=purpose)


@router.post("/evidence/items/{item_id}/package")
def download_package(
    request: Request,
    actor: PageActor,
    item_id: str,
    cleanup: BackgroundTasks,
    purpose: Annotated[str, Form(max_length=500)] = "",
    recipient: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    # export_package deletes the zip's folder after it is sent (a task on ``cleanup``, which FastAPI runs).
    body = PackageIn(items=[item_id], recipient=recipient.strip() or None)
    try:
        return export_package(request, actor, Disclosure(purpose=purpose.strip() or None), body, cleanup)
    except FORM_ERRORS as exc:
        return _form_failure(request, actor, item_id, "package", exc, package_purpose=purpose, recipient=recipient)


@router.get("/evidence/items/{item_id}/report.pdf")
def download_report(request: Request, actor: PageActor, item_id: str) -> Response:
    node = node_of(request)
    detail = node.evidence.item(actor, item_id, REPORT_PURPOSE)
    head = detail.checkpoint.checkpoint
    pdf = item_report_pdf(
        detail.item.document(),
        [entry.as_json() for entry in detail.custody],
        ReportCheckpoint(head.origin, head.tree_size, head.root_hash.hex(), node.evidence.custody.vkey()),
        node.identity.get_party(detail.item.party_id).name,
        node.clock.now(),
    )
    disposition = f'attachment; filename="{detail.item.id}-custody-report.pdf"'
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": disposition})


# -- packages from elsewhere -----------------------------------------------------------------------------------


@router.get(VERIFY_PATH)
def verify_page(request: Request, actor: PageActor) -> Response:
    context = {
        "can_import": actor.holds(Permission.HANDLE_EVIDENCE),
        "verify_path": VERIFY_PATH,
        "import_path": IMPORT_PATH,
        "max_size": human_size(node_of(request).settings.evidence_package_max_bytes),
    }
    return _render(request, "evidence/verify.html", context)


def _package_answer(
    request: Request, report: PackageReport, file_name: str, imported: list[Any] | None, status_code: int
) -> Response:
    context = {"report": report, "file_name": file_name, "imported": imported, "size_text": human_size}
    return _render(request, "evidence/_package_report.html", context, status_code)


@router.post(VERIFY_PATH)
async def verify_upload(
    request: Request,
    actor: PageActor,
    file_name: Annotated[str, Query(max_length=255)] = "",
    expected_node: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    del actor  # any signed-in user may check a package, as with the API: it reads nothing stored here
    _require_csrf_header(request)
    node = node_of(request)
    with tempfile.TemporaryDirectory(prefix="accord-verify-") as folder:
        path = await spool_upload(request, node, Path(folder))
        report = await run_in_threadpool(
            lambda: verify_package(
                path,
                limits=node.evidence_packages.limits,
                known=node.evidence_packages.known_checkpoints(),
                expect_nodes=[expected_node] if expected_node else [],
            )
        )
    return _package_answer(request, report, file_name, None, 200)


@router.post(IMPORT_PATH)
async def import_upload(
    request: Request,
    actor: PageActor,
    purpose: Annotated[str, Query(max_length=500)] = "",
    file_name: Annotated[str, Query(max_length=255)] = "",
    expected_node: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    _require_csrf_header(request)
    node = node_of(request)
    # Checked before a byte is spooled: a package may be hundreds of gigabytes.
    node.identity.authorize(actor, Permission.HANDLE_EVIDENCE)
    if not purpose.strip():
        raise InvalidInput("purpose", "say why the evidence is received")
    disclosure = Disclosure(purpose=purpose.strip())
    with tempfile.TemporaryDirectory(prefix="accord-import-") as folder:
        path = await spool_upload(request, node, Path(folder))
        try:
            result = await run_in_threadpool(
                lambda: node.evidence_packages.import_package(
                    actor, path, disclosure, expected_node=expected_node or None
                ),
            )
        except PackageRejected as exc:
            # Every step is shown, so the reader sees which check the package failed and why nothing was kept.
            return _package_answer(request, exc.report, file_name, None, problem_kind(exc).status)
    return _package_answer(request, result.report, file_name, result.items, 201)
