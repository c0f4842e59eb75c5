"""The audit view: entries newest first, filters, and a chain check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from accord.audit.errors import AuditChainBroken
from accord.audit.service import MAX_PAGE, MAX_SEQ, AuditQuery, Disclosure
from accord.identity.vocabulary import Permission
from accord.web.auth import PageActor, node_of
from accord.web.rendering import pages_of

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
PAGE_PURPOSE = "audit review in the web interface"


@router.get("/audit")
def entries(
    request: Request,
    actor: PageActor,
    before: Annotated[int | None, Query(ge=1, le=MAX_SEQ)] = None,
    action: Annotated[str, Query(max_length=64)] = "",
    by: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    node = node_of(request)
    node.identity.authorize(actor, Permission.READ_AUDIT)
    query = AuditQuery(
        before_seq=before, action_prefix=action or None, actor=by or None, limit=min(PAGE_SIZE, MAX_PAGE)
    )
    # A fixed purpose: one taken from the query string could be planted by a link from another site.
    records = node.audit.read(actor.audit_ref(), query, Disclosure(purpose=PAGE_PURPOSE))
    context = {
        "records": records,
        "filters": {"action": action, "by": by},
        "next_before": records[-1].seq if len(records) == PAGE_SIZE else None,
        "can_verify": actor.can(Permission.VERIFY_AUDIT),
    }
    return pages_of(request).render(request, "audit/entries.html", context)


@router.post("/audit/verify")
def verify(request: Request, actor: PageActor) -> Response:
    node = node_of(request)
    node.identity.authorize(actor, Permission.VERIFY_AUDIT)
    try:
        report = node.audit.verify()
        context: dict[str, object] = {"ok": True, "entries": report.entries, "head_hash": report.head_hash}
    except AuditChainBroken as exc:
        context = {"ok": False, "seq": exc.seq, "field": exc.field}
    template = "audit/_verify.html" if request.headers.get("hx-request") else "audit/verify.html"
    return pages_of(request).render(request, template, context)
