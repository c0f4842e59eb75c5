"""JSON shapes of the identity API. Lengths are bounded here too, before any service sees the input."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from accord.identity.actor import Actor, PartyView, TokenView, UserView
from accord.identity.models import CONTACT_LENGTH


class PartyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=200, examples=["Ministry of Public Security - Cybersecurity Department (A05)"])
    kind: str = Field(max_length=40, examples=["law_enforcement"])
    country: str = Field(max_length=2, examples=["VN"])
    contact: str | None = Field(
        default=None, max_length=CONTACT_LENGTH, examples=["24/7 desk, +84 24 3456 7890, a05-247@example.gov.vn"]
    )


class PartyOut(BaseModel):
    id: str
    name: str
    kind: str
    country: str
    contact: str | None
    created_at: datetime

    @classmethod
    def of(cls, view: PartyView) -> PartyOut:
        return cls(
            id=view.id,
            name=view.name,
            kind=view.kind,
            country=view.country,
            contact=view.contact,
            created_at=view.created_at,
        )


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(max_length=64)
    party: str = Field(max_length=200, description="Party id or name")
    roles: list[str] = Field(min_length=1, max_length=6)
    display_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    password: str | None = Field(default=None, max_length=1024, description="Omit to have one generated")


class UserOut(BaseModel):
    id: str
    username: str
    display_name: str
    email: str | None
    party: PartyOut
    roles: list[str]
    is_active: bool
    created_at: datetime

    @classmethod
    def of(cls, view: UserView) -> UserOut:
        return cls(
            id=view.id,
            username=view.username,
            display_name=view.display_name,
            email=view.email,
            party=PartyOut.of(view.party),
            roles=view.roles,
            is_active=view.is_active,
            created_at=view.created_at,
        )


class UserActiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    is_active: bool


class CreatedUserOut(BaseModel):
    user: UserOut
    password: str | None = Field(description="The generated password, shown this once; null if you gave one")


class MeOut(BaseModel):
    id: str | None
    username: str
    party: dict[str, str | None]
    roles: list[str]
    scopes: list[str] | None
    permissions: list[str]

    @classmethod
    def of(cls, actor: Actor) -> MeOut:
        return cls(
            id=actor.user_id,
            username=actor.username,
            party={"id": actor.party_id, "name": actor.party_name, "country": actor.country},
            roles=sorted(actor.roles),
            scopes=sorted(actor.scopes) if actor.scopes is not None else None,
            permissions=sorted(actor.permissions),
        )


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=100)
    scopes: list[str] = Field(default_factory=lambda: ["read"], min_length=1, max_length=3)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)
    username: str | None = Field(default=None, max_length=64, description="Issue for another user (admins)")


class TokenOut(BaseModel):
    id: str
    name: str
    username: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    status: str

    @classmethod
    def of(cls, view: TokenView) -> TokenOut:
        return cls(**view.__dict__)


class CreatedTokenOut(BaseModel):
    token: TokenOut
    secret: str = Field(description="The bearer token, shown this once; only its hash is stored")


class NodeOut(BaseModel):
    node_id: str
    name: str
    country: str
    public_key_pem: str
