"""Who is calling: bearer tokens for the API, server-side sessions for pages, and the anti-forgery check.

Authentication lives here (it reads HTTP); what an actor may do is decided by the services.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from accord.audit.service import Disclosure, Outcome
from accord.identity.actor import Actor
from accord.identity.errors import AuthenticationFailed
from accord.identity.login import SessionState
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
    if node_of(request).settings.trust_proxy_headers:
        forwarded = request.headers.get("x-forwarded-for", "")
        if forwarded:
            return forwarded.split(",")[0].strip()[:64]
    return request.client.host if request.client else "unknown"


def cookie_secure(request: Request) -> bool:
    mode = node_of(request).settings.cookie_secure
    return mode == "always" or (mode == "auto" and request.url.scheme == "https")


async def api_actor(request: Request) -> Actor:
    """The actor behind ``Authorization: Bearer <token>``. Token use on a write is audited."""
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise AuthenticationFailed("no bearer token")
    node = node_of(request)
    actor = node.identity.authenticate_token(credentials.strip())
    if request.method not in SAFE_METHODS:
        node.audit.record(
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


async def optional_session(request: Request) -> SessionState | None:
    state = _session_state(request)
    request.state.session = state
    return state


async def page_actor(request: Request) -> Actor:
    """The actor behind the session cookie; otherwise the browser is sent to the login page."""
    state = _session_state(request)
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


PURPOSE_HEADER = "accord-purpose"
LEGAL_BASIS_HEADER = "accord-legal-basis"


async def disclosure_from_headers(request: Request) -> Disclosure:
    """Purpose and legal basis of a read of personal data, from ``Accord-Purpose`` / ``Accord-Legal-Basis``."""
    return Disclosure(
        purpose=request.headers.get(PURPOSE_HEADER) or None,
        legal_basis=request.headers.get(LEGAL_BASIS_HEADER) or None,
    )


DisclosureHeaders = Annotated[Disclosure, Depends(disclosure_from_headers)]
