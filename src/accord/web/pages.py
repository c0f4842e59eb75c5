"""The page shell: health check, login and logout, language choice, dashboard."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from accord import __version__
from accord.identity.errors import AuthenticationFailed, LoginThrottled
from accord.web.auth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    PageActor,
    check_csrf,
    check_login_csrf,
    client_address,
    cookie_secure,
    node_of,
    optional_session,
)
from accord.web.errors import CsrfFailed
from accord.web.i18n import LOCALES
from accord.web.rendering import LOCALE_COOKIE, pages_of

health = APIRouter(tags=["node"])
router = APIRouter(include_in_schema=False)
MAX_FORM_TEXT = 1024
ONE_YEAR = 365 * 86400


@health.get("/healthz", summary="Liveness and database reachability")
def healthz(request: Request) -> Response:
    node = node_of(request)
    body: dict[str, Any] = {
        "status": "ok",
        "version": __version__,
        "node_id": node.keys.node_id,
        "database": node.db.dialect,
    }
    try:
        with node.db.reading() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        body["status"] = "database unreachable"
        return JSONResponse(body, status_code=503)
    return JSONResponse(body)


def safe_next(target: str | None) -> str:
    """Only paths on this site: an open redirect would let a phishing mail borrow our login page."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_page(
    request: Request, *, status_code: int = 200, error: str | None = None, next_path: str = "/"
) -> Response:
    node = node_of(request)
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or node.ids.secret(32)
    request.state.login_csrf = token
    response = pages_of(request).render(
        request, "web/login.html", {"error": error, "next": safe_next(next_path)}, status_code=status_code
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=cookie_secure(request), path="/"
    )
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    if optional_session(request):
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, next_path=next)


@router.post("/login", dependencies=[Depends(check_login_csrf)])
def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=MAX_FORM_TEXT)],
    password: Annotated[str, Form(max_length=MAX_FORM_TEXT)],
    next: Annotated[str, Form(max_length=MAX_FORM_TEXT)] = "/",
) -> Response:
    node = node_of(request)
    try:
        actor = node.login.login(username, password, client_address(request))
    except LoginThrottled as exc:
        response = _login_page(request, status_code=429, error="throttled", next_path=next)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except AuthenticationFailed:
        return _login_page(request, status_code=401, error="failed", next_path=next)
    opened = node.login.open_session(actor)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        opened.secret,
        max_age=node.settings.session_max_age_seconds,
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request),
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, _actor: PageActor) -> Response:
    node_of(request).login.close_session(request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/locale")
async def choose_language(
    request: Request,
    locale: Annotated[str, Form(max_length=8)],
    next: Annotated[str, Form(max_length=MAX_FORM_TEXT)] = "/",
) -> Response:
    state = await run_in_threadpool(optional_session, request)
    expected = state.csrf_token if state else request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected:
        raise CsrfFailed()
    await check_csrf(request, expected)
    response = RedirectResponse(safe_next(next), status_code=303)
    if locale in LOCALES:
        response.set_cookie(
            LOCALE_COOKIE, locale, max_age=ONE_YEAR, samesite="lax", secure=cookie_secure(request), path="/"
        )
    return response


@router.get("/")
def dashboard(request: Request, actor: PageActor) -> Response:
    node = node_of(request)
    context = {
        "counts": node.identity.count_summary(actor),
        "activity": node.audit.own_activity(actor.audit_ref(), limit=10),
        "permissions": actor.permissions,
    }
    return pages_of(request).render(request, "web/dashboard.html", context)
