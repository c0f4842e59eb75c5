"""The authenticated actor behind every service call, and the views services hand out (never ORM rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from accord.audit.service import AuditActor
from accord.identity.vocabulary import PERMISSION_SCOPE, ROLE_PERMISSIONS, Permission, Role, Scope


@dataclass(frozen=True)
class Actor:
    user_id: str | None
    username: str
    party_id: str | None
    party_name: str | None
    country: str | None
    roles: frozenset[Role]
    # None for a browser session or the local operator: then roles alone decide. A token narrows to its scopes.
    scopes: frozenset[Scope] | None
    via: str  # "session", "token", "operator" or "peer" (another node, by its signed call)
    token_id: str | None = None
    party_kind: str | None = None
    # The identity epoch this actor was read under (identity.epoch): caches of directory data keyed by it stay
    # valid for the request. None: read afresh.
    epoch: int | None = None

    @property
    def permissions(self) -> frozenset[Permission]:
        if self.via == "operator":
            return frozenset(Permission)
        if self.via == "peer":
            return PEER_PERMISSIONS
        granted: set[Permission] = set()
        for role in self.roles:
            granted |= ROLE_PERMISSIONS[role]
        return frozenset(granted)

    def can(self, permission: Permission) -> bool:
        """Role check only; use :meth:`holds` to include the token's scopes."""
        return permission in self.permissions

    def holds(self, permission: Permission) -> bool:
        """The role grants it and, for a token, the token's scopes cover it."""
        needed = PERMISSION_SCOPE[permission]
        return self.can(permission) and (self.scopes is None or needed in self.scopes)

    def audit_ref(self) -> AuditActor:
        return AuditActor(id=self.user_id, name=self.username, party_id=self.party_id)


# A peer node reads the feed its sharing policy gives it and submits intelligence of its own; nothing else.
PEER_PERMISSIONS = frozenset({Permission.READ_INTEL, Permission.SUBMIT_INTEL})


def peer_actor(node_id: str, name: str, country: str, party_id: str) -> Actor:
    """Another node calling with a signature made by its key (federation.signing); it acts for its party here."""
    return Actor(
        user_id=None,
        username=f"peer:{node_id}",
        party_id=party_id,
        party_name=name,
        country=country,
        roles=frozenset(),
        scopes=None,
        via="peer",
    )


def operator_actor(login: str) -> Actor:
    """Someone with a shell on the node machine (the CLI): they could read the database file anyway."""
    return Actor(
        user_id=None,
        username=f"operator:{login}",
        party_id=None,
        party_name=None,
        country=None,
        roles=frozenset({Role.ADMIN}),
        scopes=None,
        via="operator",
    )


@dataclass(frozen=True)
class PartyView:
    id: str
    name: str
    kind: str
    country: str
    created_at: datetime
    contact: str | None = None  # the party's point of contact for other parties (directory data)


@dataclass(frozen=True)
class UserView:
    id: str
    username: str
    display_name: str
    email: str | None
    party: PartyView
    roles: list[str]
    is_active: bool
    created_at: datetime


@dataclass(frozen=True)
class TokenView:
    id: str
    name: str
    username: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    status: str  # "active", "expired" or "revoked", as of the service's clock
