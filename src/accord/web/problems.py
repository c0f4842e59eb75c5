"""The one place where errors become HTTP responses: RFC 9457 problem+json (an HTML page for browsers).

Handlers are looked up along the exception's class hierarchy (Starlette does this), so a new domain error
needs one line in ``PROBLEMS`` or inherits its parent's entry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException

from accord.audit.errors import AuditChainBroken
from accord.config import InvalidSetting
from accord.cooperation.catalogue import CatalogueInvalid
from accord.cooperation.states import IllegalTransition
from accord.cooperation.validation import RequestIncomplete
from accord.errors import AccordError, AlreadyExists, InvalidInput, NotFound
from accord.evidence.blobstore import BlobMismatch, BlobMissing, BlobSourceChanged, BlobTooLarge
from accord.evidence.custody import CustodyLogBroken
from accord.evidence.package import ExportIntegrityError
from accord.evidence.safezip import UnsafeArchive
from accord.evidence.service import EvidenceStateError
from accord.evidence.transfer import PackageRejected
from accord.federation.invitations import InvalidPeeringDocument
from accord.federation.signing import PeerAuthenticationFailed
from accord.identity.errors import (
    AuthenticationFailed,
    LoginThrottled,
    NodeKeyProblem,
    PermissionDenied,
    TokenExpiryInvalid,
)
from accord.intel.errors import InvalidBundle
from accord.intel.normalise import InvalidIdentifier
from accord.matching.errors import TooManyValues
from accord.store.engine import DatabaseUnavailable, UnsupportedDatabase
from accord.web.errors import CsrfFailed, LoginRequired
from accord.web.rendering import pages_of
from accord.web.security import SECURITY_HEADERS

log = logging.getLogger("accord.web")
PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:accord:problem:"  # documented in docs/api.md
TAXII_ERROR_MEDIA = "application/taxii+json;version=2.1"


@dataclass(frozen=True)
class ProblemKind:
    status: int
    slug: str
    title: str


PROBLEMS: dict[type[AccordError], ProblemKind] = {
    AccordError: ProblemKind(400, "bad-request", "The request cannot be carried out"),
    InvalidInput: ProblemKind(422, "invalid-input", "A field is not valid"),
    TokenExpiryInvalid: ProblemKind(422, "invalid-input", "A field is not valid"),
    NotFound: ProblemKind(404, "not-found", "Not found"),
    AlreadyExists: ProblemKind(409, "already-exists", "Already exists"),
    AuthenticationFailed: ProblemKind(401, "unauthenticated", "Authentication required or failed"),
    LoginThrottled: ProblemKind(429, "login-throttled", "Too many failed logins"),
    PermissionDenied: ProblemKind(403, "forbidden", "Not allowed"),
    CsrfFailed: ProblemKind(403, "csrf-failed", "Anti-forgery check failed"),
    AuditChainBroken: ProblemKind(409, "audit-chain-broken", "The audit chain is broken"),
    InvalidBundle: ProblemKind(422, "invalid-bundle", "Not a STIX 2.1 bundle"),
    InvalidIdentifier: ProblemKind(422, "invalid-identifier", "The identifier does not check out"),
    TooManyValues: ProblemKind(413, "too-many-values", "Too many values in one request"),
    InvalidSetting: ProblemKind(500, "misconfigured", "The node is misconfigured"),
    UnsupportedDatabase: ProblemKind(500, "misconfigured", "The node is misconfigured"),
    DatabaseUnavailable: ProblemKind(503, "database-unavailable", "The database is unreachable"),
    NodeKeyProblem: ProblemKind(500, "node-key", "The node's key is unusable"),
    BlobTooLarge: ProblemKind(413, "too-large", "The file is larger than this node accepts"),
    BlobMismatch: ProblemKind(422, "transfer-mismatch", "The bytes received are not the bytes announced"),
    BlobSourceChanged: ProblemKind(409, "source-changed", "The file changed while it was being stored"),
    BlobMissing: ProblemKind(500, "evidence-missing", "Stored evidence bytes are missing"),
    EvidenceStateError: ProblemKind(409, "evidence-state", "The evidence item's state forbids this"),
    ExportIntegrityError: ProblemKind(409, "integrity-incident", "Stored evidence no longer has its hash"),
    CustodyLogBroken: ProblemKind(409, "custody-log-broken", "The custody log is broken"),
    UnsafeArchive: ProblemKind(422, "unsafe-archive", "The package is not a safe archive"),
    PackageRejected: ProblemKind(422, "package-rejected", "The evidence package failed verification"),
    RequestIncomplete: ProblemKind(422, "request-incomplete", "Required elements are missing or not valid"),
    IllegalTransition: ProblemKind(409, "illegal-transition", "The request cannot move to that state"),
    CatalogueInvalid: ProblemKind(500, "misconfigured", "The node is misconfigured"),
    PeerAuthenticationFailed: ProblemKind(401, "peer-unauthenticated", "The calling node is not an authenticated peer"),
    InvalidPeeringDocument: ProblemKind(422, "invalid-peering-document", "The peering document does not check out"),
}


def problem_kind(exc: AccordError) -> ProblemKind:
    for cls in type(exc).__mro__:
        if cls in PROBLEMS:
            return PROBLEMS[cls]
    return PROBLEMS[AccordError]


def problem_fields(exc: AccordError) -> dict[str, Any]:
    """Extension members (RFC 9457 section 3.2) that a client can act on; never internal details."""
    if isinstance(exc, TooManyValues):
        return {"errors": [{"field": exc.field, "reason": exc.reason}], "limit": exc.limit}
    if isinstance(exc, InvalidInput):
        return {"errors": [{"field": exc.field, "reason": exc.reason}]}
    if isinstance(exc, TokenExpiryInvalid):
        return {"errors": [{"field": "expires_in_days", "reason": str(exc)}]}
    if isinstance(exc, NotFound | AlreadyExists):
        return {"kind": exc.kind, "key": exc.key}
    if isinstance(exc, LoginThrottled):
        return {"retry_after": exc.retry_after}
    if isinstance(exc, AuditChainBroken):
        return {"seq": exc.seq, "field": exc.field}
    if isinstance(exc, RequestIncomplete):
        return {"errors": [problem.as_json() for problem in exc.problems]}
    if isinstance(exc, IllegalTransition):
        return {"current_state": exc.current, "requested_state": exc.requested}
    if isinstance(exc, BlobMismatch):
        return {"errors": [{"field": exc.field, "reason": str(exc)}]}
    if isinstance(exc, PackageRejected):
        return {"steps": exc.report.lines()}
    if isinstance(exc, EvidenceStateError):
        return {"state": exc.state}
    if isinstance(exc, InvalidIdentifier):
        return {"errors": [{"field": "value", "reason": exc.reason}], "kind": exc.kind}
    return {}


def _detail(exc: AccordError) -> str:
    # AuthenticationFailed hides its reason (unknown user vs wrong password) from the client on purpose.
    if isinstance(exc, AuthenticationFailed):
        return "Missing, wrong, expired or revoked credentials."
    if isinstance(exc, InvalidSetting | UnsupportedDatabase | NodeKeyProblem | DatabaseUnavailable):
        return "The node cannot serve this request; its operator has been told in the server log."
    return str(exc)


def wants_html(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


def problem_response(
    request: Request, status: int, slug: str, title: str, detail: str, extra: dict[str, Any] | None = None
) -> Response:
    body: dict[str, Any] = {
        "type": f"{TYPE_BASE}{slug}" if slug else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **(extra or {}),
    }
    headers: dict[str, str] = {}
    if status == 401 and request.url.path.startswith("/api/"):
        headers["WWW-Authenticate"] = 'Bearer realm="accord"'
    if "retry_after" in body:
        headers["Retry-After"] = str(body["retry_after"])
    if request.url.path.startswith("/taxii2/"):
        return taxii_error(status, title, detail, body, headers)
    if wants_html(request):
        return pages_of(request).render(
            request, "web/error.html", {"problem": body}, status_code=status, headers=headers
        )
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def taxii_error(status: int, title: str, detail: str, problem: dict[str, Any], headers: dict[str, str]) -> Response:
    """TAXII routes answer with the TAXII 2.1 error resource (section 3.6.1), not problem+json."""
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="accord-taxii", Bearer realm="accord-taxii"'
    body: dict[str, Any] = {"title": title, "description": detail, "http_status": str(status)}
    if problem.get("type", "about:blank") != "about:blank":
        body["error_code"] = str(problem["type"]).removeprefix(TYPE_BASE)
    if "errors" in problem:
        body["details"] = {"errors": problem["errors"]}
    return JSONResponse(body, status_code=status, media_type=TAXII_ERROR_MEDIA, headers=headers)


async def accord_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, AccordError):  # pragma: no cover - registered for AccordError only
        raise exc
    if isinstance(exc, LoginRequired):
        return RedirectResponse(f"/login?next={quote(exc.next_path, safe='/')}", status_code=303)
    kind = problem_kind(exc)
    if kind.status >= 500:
        log.error("node problem: %s", exc)
    return problem_response(request, kind.status, kind.slug, kind.title, _detail(exc), problem_fields(exc))


async def http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):  # pragma: no cover
        raise exc
    phrase = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if isinstance(exc.detail, str) else phrase
    response = problem_response(request, exc.status_code, "", phrase, detail)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def validation_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, RequestValidationError):  # pragma: no cover
        raise exc
    errors = []
    for error in exc.errors()[:50]:  # bound the answer to hostile input
        location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path", "header")]
        errors.append({"field": ".".join(location) or "body", "reason": str(error.get("msg", "invalid"))})
    fields = ", ".join(sorted({e["field"] for e in errors}))
    return problem_response(
        request, 422, "invalid-input", "A field is not valid", f"invalid: {fields}", {"errors": errors}
    )


async def database_error(request: Request, exc: Exception) -> Response:
    # A lost connection or a lock held past the busy timeout: the node is up, its database is not answering.
    log.error("database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return problem_response(
        request, 503, "database-unavailable", "The database is unreachable", "Try again shortly.", None
    )


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    response = problem_response(
        request, 500, "internal", "Internal error", "The node hit an unexpected error; it is logged."
    )
    # Starlette answers unexpected errors outside the user middleware, so the security headers go on here.
    for name, value in SECURITY_HEADERS:
        response.headers[name.decode()] = value.decode()
    response.headers["cache-control"] = "no-store"
    return response


def install(app: FastAPI) -> None:
    app.add_exception_handler(AccordError, accord_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(OperationalError, database_error)
    app.add_exception_handler(Exception, unexpected_error)
