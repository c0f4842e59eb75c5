"""Identity API (``/api/v1``): thin views that parse, call one service method, and answer."""

from __future__ import annotations

from fastapi import APIRouter, Request

from accord.identity.schemas import (
    CreatedTokenOut,
    CreatedUserOut,
    MeOut,
    NodeOut,
    PartyIn,
    PartyOut,
    TokenIn,
    TokenOut,
    UserActiveIn,
    UserIn,
    UserOut,
)
from accord.web.auth import ApiActor, DisclosureHeaders, node_of

router = APIRouter(tags=["identity"])


@router.get("/me", summary="The caller: user, party, roles and token scopes")
def me(actor: ApiActor) -> MeOut:
    return MeOut.of(actor)


@router.get("/node", summary="This node's id, name, country and public key (public information)")
def node_info(request: Request) -> NodeOut:
    node = node_of(request)
    return NodeOut(
        node_id=node.keys.node_id,
        name=node.settings.node_name,
        country=node.settings.node_country,
        public_key_pem=node.keys.public_pem,
    )


@router.get("/parties", summary="Directory of organisations known to this node")
def list_parties(request: Request, actor: ApiActor) -> list[PartyOut]:
    return [PartyOut.of(p) for p in node_of(request).identity.list_parties(actor)]


@router.post("/parties", status_code=201, summary="Register an organisation (admin)")
def add_party(request: Request, actor: ApiActor, body: PartyIn) -> PartyOut:
    return PartyOut.of(
        node_of(request).identity.add_party(actor, body.name, body.kind, body.country, contact=body.contact)
    )


@router.get("/users", summary="Users (personal data: send Accord-Purpose and Accord-Legal-Basis)")
def list_users(request: Request, actor: ApiActor, disclosure: DisclosureHeaders) -> list[UserOut]:
    return [UserOut.of(u) for u in node_of(request).identity.list_users(actor, disclosure)]


@router.post("/users", status_code=201, summary="Create a user (admin); a password is generated unless given")
def add_user(request: Request, actor: ApiActor, body: UserIn) -> CreatedUserOut:
    view, password = node_of(request).identity.add_user(
        actor,
        body.username,
        body.party,
        body.roles,
        display_name=body.display_name,
        email=body.email,
        password=body.password,
    )
    return CreatedUserOut(user=UserOut.of(view), password=password)


@router.patch("/users/{username}", summary="Deactivate or reactivate a user (admin)")
def set_user_active(
    request: Request, actor: ApiActor, disclosure: DisclosureHeaders, username: str, body: UserActiveIn
) -> UserOut:
    return UserOut.of(node_of(request).identity.set_user_active(actor, username, body.is_active, disclosure))


@router.get("/tokens", summary="The caller's API tokens (never their secrets)")
def list_tokens(request: Request, actor: ApiActor) -> list[TokenOut]:
    return [TokenOut.of(t) for t in node_of(request).identity.list_tokens(actor)]


@router.post("/tokens", status_code=201, summary="Issue an API token; the secret is in this answer only")
def create_token(request: Request, actor: ApiActor, body: TokenIn) -> CreatedTokenOut:
    view, secret = node_of(request).identity.create_token(
        actor, body.username or actor.username, body.name, body.scopes, body.expires_in_days
    )
    return CreatedTokenOut(token=TokenOut.of(view), secret=secret)


@router.delete("/tokens/{token_id}", summary="Revoke a token")
def revoke_token(request: Request, actor: ApiActor, token_id: str) -> TokenOut:
    return TokenOut.of(node_of(request).identity.revoke_token(actor, token_id))
