"""Intelligence pages: search by any identifier, object page, import with per-object results, collections."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from accord.audit.service import Disclosure
from accord.errors import InvalidInput, NotFound
from accord.identity.vocabulary import Permission
from accord.intel.collections import collection_id
from accord.intel.errors import InvalidBundle
from accord.intel.normalise import InvalidIdentifier
from accord.intel.routes import parse_bundle
from accord.intel.vocabulary import TLP_ORDER, Tlp, parse_tlp
from accord.web.auth import PageActor, node_of
from accord.web.problems import problem_kind
from accord.web.rendering import pages_of

router = APIRouter(include_in_schema=False)
IMPORT_PATH = "/intel/import"
UI_PURPOSE = Disclosure(purpose="intelligence analysis in the web interface")
SHOWN_FIELDS = (
    "name",
    "description",
    "pattern",
    "value",
    "iban",
    "account_number",
    "indicator_types",
    "labels",
    "valid_from",
    "valid_until",
    "created",
    "modified",
    "revoked",
    "confidence",
)


def _party_names(request: Request, ids: set[str]) -> dict[str, str]:
    identity = node_of(request).identity
    return {party_id: identity.get_party(party_id).name for party_id in ids}


@router.get("/intel")
def search(request: Request, actor: PageActor, value: Annotated[str, Query(max_length=4096)] = "") -> Response:
    node = node_of(request)
    node.identity.authorize(actor, Permission.READ_INTEL)
    context: dict[str, Any] = {"value": value, "result": None, "error": None}
    if value.strip():
        try:
            result = node.intel.search(actor, value, UI_PURPOSE)
            context["result"] = result
            context["parties"] = _party_names(request, {hit.owner_party_id for hit in result.hits})
        except InvalidIdentifier as exc:
            context["error"] = {"kind": exc.kind, "reason": exc.reason}
    context["collections"] = [(str(tlp).upper(), collection_id(tlp)) for tlp in TLP_ORDER]
    context["can_submit"] = actor.holds(Permission.SUBMIT_INTEL)
    status = 422 if context["error"] else 200
    return pages_of(request).render(request, "intel/search.html", context, status_code=status)


@router.get("/intel/objects/{stix_id}")
def object_page(
    request: Request, actor: PageActor, stix_id: str, version: Annotated[str | None, Query(max_length=40)] = None
) -> Response:
    node = node_of(request)
    content = node.intel.get_object(actor, stix_id, UI_PURPOSE, version)
    versions = node.intel.versions(actor, stix_id)
    fields = [(name, content[name]) for name in SHOWN_FIELDS if name in content]
    context = {
        "object": content,
        "fields": fields,
        "versions": versions,
        "current": content.get("modified", ""),
        "tlp": node.intel.tlp_of(actor, stix_id, version),
        "raw": json.dumps(content, indent=2, ensure_ascii=False, sort_keys=True),
    }
    return pages_of(request).render(request, "intel/object.html", context)


@router.get("/intel/import")
def import_form(request: Request, actor: PageActor) -> Response:
    node_of(request).identity.authorize(actor, Permission.SUBMIT_INTEL)
    return pages_of(request).render(request, "intel/import.html", {"levels": TLP_ORDER, "report": None})


@router.post("/intel/import")
async def import_upload(
    request: Request,
    actor: PageActor,
    bundle: Annotated[UploadFile, File()],
    tlp: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    node = node_of(request)
    context: dict[str, Any] = {"levels": TLP_ORDER, "report": None, "error": None, "filename": bundle.filename}
    try:
        chosen: Tlp | None = parse_tlp(tlp) if tlp else None
        objects = parse_bundle(await bundle.read())
        context["report"] = await run_in_threadpool(
            lambda: node.intel.import_objects(
                actor, objects, tlp=chosen, source=f"upload {bundle.filename or ''}"[:200]
            )
        )
        status = 200
    except ValueError:
        context["error"] = "tlp: one of clear, green, amber, amber+strict, red"
        status = 422
    except (InvalidBundle, InvalidInput, NotFound) as exc:
        context["error"] = str(exc)
        status = problem_kind(exc).status
    template = "intel/_import_result.html" if request.headers.get("hx-request") else "intel/import.html"
    return pages_of(request).render(request, template, context, status_code=status)
