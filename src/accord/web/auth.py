"""Who is calling: bearer tokens for the API, server-side sessions for pages, and the anti-forgery check.

Authentication lives here (it reads HTTP); what an actor may do is decided by the services.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from accord.audit.service import Disclosure, Outcome
from accord.errors import InvalidInput
from accord.identity.actor import Actor
from accord.identity.errors import AuthenticationFailed
from accord.identity.login import SessionState
from accord.identity.validation import has_control_characters
from accord.node import Node
from accord.web.errors import CsrfFailed, LoginRequired

SESSION_COOKIE = "accord_session"
LOGIN_CSRF_COOKIE = "accord_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def node_of(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


def client_address(request: Request) -> str:
    # Behind a proxy, `accord serve` starts uvicorn with proxy_headers (trust_proxy_headers), which puts the
    # proxy-reported peer here; parsing X-Forwarded-For ourselves would trust its client-written left end.
    return request.client.host if request.client else "unknown"


def cookie_secure(request: Request) -> bool:
    mode = node_of(request).settings.cookie_secure
    return mode == "always" or (mode == "auto" and request.url.scheme == "https")


def bearer_token(request: Request) -> str:
    """The token of ``Authorization: Bearer <token>``. Raises AuthenticationFailed when there is none."""
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise AuthenticationFailed("no bearer token")
    return credentials.strip()


def bearer_actor(request: Request) -> Actor:
    """The actor behind ``Authorization: Bearer <token>``, unaudited. Call it from a worker thread (it reads the
    database)."""
    return node_of(request).identity.authenticate_token(bearer_token(request))


def api_actor(request: Request) -> Actor:
    # A plain function: FastAPI runs it in its thread pool, so database work never blocks the event loop.
    """The actor behind ``Authorization: Bearer <token>``. Token use on a write is audited."""
    actor = bearer_actor(request)
    if request.method not in SAFE_METHODS:
        node_of(request).audit.record(
            actor.audit_ref(),
            "token.use",
            object_type="token",
            object_id=actor.token_id,
            outcome=Outcome.OK,
            details={"method": request.method, "path": request.url.path},
        )
    return actor


def _session_state(request: Request) -> SessionState | None:
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        return None
    try:
        return node_of(request).login.session_state(secret)
    except AuthenticationFailed:
        return None


def optional_session(request: Request) -> SessionState | None:
    state = _session_state(request)
    request.state.session = state
    return state


async def page_actor(request: Request) -> Actor:
    """The actor behind the session cookie; otherwise the browser is sent to the login page."""
    state = await run_in_threadpool(_session_state, request)
    if state is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target if request.method == "GET" else "/")
    request.state.session = state
    if request.method not in SAFE_METHODS:
        await check_csrf(request, state.csrf_token)
    return state.actor


async def check_csrf(request: Request, expected: str) -> None:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()  # Starlette caches it, so the route's Form(...) fields still parse
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, expected):
        raise CsrfFailed()


async def check_login_csrf(request: Request) -> None:
    """Login-form CSRF: a double-submit cookie, since there is no session yet to bind a token to."""
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected:
        raise CsrfFailed()
    await check_csrf(request, expected)


ApiActor = Annotated[Actor, Depends(api_actor)]
PageActor = Annotated[Actor, Depends(page_actor)]


PURPOSE_HEADER = "Accord-Purpose"
LEGAL_BASIS_HEADER = "Accord-Legal-Basis"


def _header_text(request: Request, name: str) -> str | None:
    """A free-text header as UTF-8 (HTTP hands headers over as Latin-1 bytes; clients send UTF-8)."""
    raw = request.headers.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        text = raw.encode("latin-1").decode("utf-8").strip()
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise InvalidInput(name, "must be UTF-8 text") from None
    if has_control_characters(text):
        raise InvalidInput(name, "must not contain control characters")
    return text


async def disclosure_dependency(request: Request) -> Disclosure:
    # async: parsing two headers needs no worker thread (FastAPI runs a plain function dependency in one).
    return disclosure_from_headers(request)


def disclosure_from_headers(request: Request) -> Disclosure:
    """Purpose (required) and legal basis of a read of personal data, from ``Accord-Purpose`` and
    ``Accord-Legal-Basis``: data-protection rules ask why, every time (UN Convention Art. 36)."""
    purpose = _header_text(request, PURPOSE_HEADER)
    if purpose is None:
        raise InvalidInput(PURPOSE_HEADER, "say why you read this personal data")
    return Disclosure(purpose=purpose, legal_basis=_header_text(request, LEGAL_BASIS_HEADER))


DisclosureHeaders = Annotated[Disclosure, Depends(disclosure_dependency)]


async def optional_disclosure_from_headers(request: Request) -> Disclosure:
    """``Accord-Purpose`` and ``Accord-Legal-Basis`` when given, for writes that read no personal data."""
    return Disclosure(
        purpose=_header_text(request, PURPOSE_HEADER), legal_basis=_header_text(request, LEGAL_BASIS_HEADER)
    )


OptionalDisclosureHeaders = Annotated[Disclosure, Depends(optional_disclosure_from_headers)]
