"""Identity pages: parties and users (admin), the user's own API tokens."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from accord.audit.service import Disclosure
from accord.errors import AlreadyExists, InvalidInput, NotFound
from accord.identity.vocabulary import PartyKind, Permission, Role, Scope
from accord.web.auth import PageActor, node_of
from accord.web.problems import problem_kind
from accord.web.rendering import pages_of

router = APIRouter(include_in_schema=False)
UI_DISCLOSURE = Disclosure(purpose="user administration", legal_basis="node operation")
FORM_ERRORS = (InvalidInput, AlreadyExists, NotFound)


def _form_error(exc: Exception) -> dict[str, str]:
    field = exc.field if isinstance(exc, InvalidInput) else getattr(exc, "kind", "")
    return {"field": field, "message": str(exc)}


def _render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    return pages_of(request).render(request, template, context, status_code=status_code)


def _parties_page(request: Request, actor: PageActor, **extra: Any) -> Response:
    node = node_of(request)
    status = extra.pop("status_code", 200)
    context = {
        "parties": node.identity.list_parties(actor),
        "kinds": list(PartyKind),
        "can_manage": actor.can(Permission.MANAGE_PARTIES),
        "form": {},
        **extra,
    }
    return _render(request, "identity/parties.html", context, status)


@router.get("/admin/parties")
def parties(request: Request, actor: PageActor) -> Response:
    return _parties_page(request, actor)


@router.post("/admin/parties")
def add_party(
    request: Request,
    actor: PageActor,
    name: Annotated[str, Form(max_length=200)],
    kind: Annotated[str, Form(max_length=40)],
    country: Annotated[str, Form(max_length=2)],
) -> Response:
    try:
        created = node_of(request).identity.add_party(actor, name, kind, country)
    except FORM_ERRORS as exc:
        form = {"name": name, "kind": kind, "country": country}
        return _parties_page(request, actor, error=_form_error(exc), form=form, status_code=problem_kind(exc).status)
    return _parties_page(request, actor, created=created)


def _users_page(request: Request, actor: PageActor, **extra: Any) -> Response:
    node = node_of(request)
    status = extra.pop("status_code", 200)
    context = {
        "users": node.identity.list_users(actor, UI_DISCLOSURE),
        "parties": node.identity.list_parties(actor),
        "roles": list(Role),
        "form": {},
        **extra,
    }
    return _render(request, "identity/users.html", context, status)


@router.get("/admin/users")
def users(request: Request, actor: PageActor) -> Response:
    return _users_page(request, actor)


@router.post("/admin/users")
def add_user(
    request: Request,
    actor: PageActor,
    username: Annotated[str, Form(max_length=64)],
    party: Annotated[str, Form(max_length=200)],
    roles: Annotated[list[str], Form(max_length=6)],
    display_name: Annotated[str, Form(max_length=200)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
) -> Response:
    try:
        created, password = node_of(request).identity.add_user(
            actor, username, party, roles, display_name=display_name or None, email=email or None
        )
    except FORM_ERRORS as exc:
        form = {"username": username, "party": party, "roles": roles, "display_name": display_name, "email": email}
        return _users_page(request, actor, error=_form_error(exc), form=form, status_code=problem_kind(exc).status)
    return _users_page(request, actor, created=created, password=password)


@router.post("/admin/users/{username}/active")
def set_user_active(request: Request, actor: PageActor, username: str, active: Annotated[bool, Form()]) -> Response:
    try:
        changed = node_of(request).identity.set_user_active(actor, username, active, UI_DISCLOSURE)
    except FORM_ERRORS as exc:
        return _users_page(request, actor, error=_form_error(exc), status_code=problem_kind(exc).status)
    return _users_page(request, actor, changed=changed)


def _tokens_page(request: Request, actor: PageActor, **extra: Any) -> Response:
    status = extra.pop("status_code", 200)
    context = {
        "tokens": node_of(request).identity.list_tokens(actor),
        "scopes": [s for s in Scope if s != Scope.ADMIN or Role.ADMIN in actor.roles],
        "max_days": node_of(request).settings.token_max_days,
        "default_days": node_of(request).settings.token_default_days,
        "form": {},
        **extra,
    }
    return _render(request, "identity/tokens.html", context, status)


@router.get("/tokens")
def tokens(request: Request, actor: PageActor) -> Response:
    return _tokens_page(request, actor)


@router.post("/tokens")
def create_token(
    request: Request,
    actor: PageActor,
    name: Annotated[str, Form(max_length=100)],
    scopes: Annotated[list[str], Form(max_length=3)],
    expires_in_days: Annotated[int, Form(ge=1, le=3650)],
) -> Response:
    try:
        created, secret = node_of(request).identity.create_token(actor, actor.username, name, scopes, expires_in_days)
    except FORM_ERRORS as exc:
        form = {"name": name, "scopes": scopes, "expires_in_days": expires_in_days}
        return _tokens_page(request, actor, error=_form_error(exc), form=form, status_code=problem_kind(exc).status)
    return _tokens_page(request, actor, created=created, secret=secret)


@router.post("/tokens/{token_id}/revoke")
def revoke_token(request: Request, actor: PageActor, token_id: str) -> Response:
    token = node_of(request).identity.revoke_token(actor, token_id)
    if request.headers.get("hx-request"):
        return _render(request, "identity/_token_row.html", {"token": token})
    return RedirectResponse("/tokens", status_code=303)
