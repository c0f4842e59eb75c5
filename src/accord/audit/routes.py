"""Audit API (``/api/v1/audit``) for auditors and data-protection officers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from accord.audit.errors import AuditChainBroken
from accord.audit.service import MAX_PAGE, MAX_SEQ, AuditQuery, AuditRecord
from accord.identity.vocabulary import Permission
from accord.web.auth import ApiActor, DisclosureHeaders, node_of

router = APIRouter(tags=["audit"])


class AuditEntryOut(BaseModel):
    seq: int
    at: datetime
    actor_id: str | None
    actor: str
    party_id: str | None
    action: str
    object_type: str | None
    object_id: str | None
    purpose: str | None
    legal_basis: str | None
    outcome: str
    details: dict[str, Any]
    entry_hash: str

    @classmethod
    def of(cls, record: AuditRecord) -> AuditEntryOut:
        return cls(**record.__dict__)


class VerifyOut(BaseModel):
    ok: bool
    entries: int | None = None
    head_hash: str | None = None
    broken_seq: int | None = None
    broken_field: str | None = None


@router.get("/audit", summary="Audit entries, newest first (the read is itself audited)")
def list_entries(
    request: Request,
    actor: ApiActor,
    disclosure: DisclosureHeaders,
    before_seq: Annotated[int | None, Query(ge=1, le=MAX_SEQ)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    by: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> list[AuditEntryOut]:
    node = node_of(request)
    node.identity.authorize(actor, Permission.READ_AUDIT)
    query = AuditQuery(before_seq=before_seq, action_prefix=action, actor=by, limit=limit)
    return [AuditEntryOut.of(r) for r in node.audit.read(actor.audit_ref(), query, disclosure)]


@router.get("/audit/verify", summary="Recompute the hash chain; names the first broken entry")
def verify(request: Request, actor: ApiActor) -> VerifyOut:
    node = node_of(request)
    node.identity.authorize(actor, Permission.VERIFY_AUDIT)
    try:
        report = node.audit.verify()
    except AuditChainBroken as exc:
        return VerifyOut(ok=False, broken_seq=exc.seq, broken_field=exc.field)
    return VerifyOut(ok=True, entries=report.entries, head_hash=report.head_hash)
