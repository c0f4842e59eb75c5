"""Parties, users, roles and API tokens. Every change and every read of personal data is audited."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accord.audit.service import AuditLog, Disclosure, Outcome
from accord.clock import Clock
from accord.errors import AlreadyExists, InvalidInput, NotFound
from accord.identity import credentials, validation
from accord.identity.actor import Actor, PartyView, TokenView, UserView
from accord.identity.epoch import EpochCache, current_epoch
from accord.identity.errors import AuthenticationFailed, PermissionDenied
from accord.identity.models import ApiToken, Party, User, UserRole, WebSession
from accord.identity.vocabulary import PERMISSION_SCOPE, ROLE_PERMISSIONS, PartyKind, Permission, Role, Scope
from accord.ids import IdSource
from accord.store.engine import Database

MAX_LIST = 1000  # parties or users per listing; a node has hundreds, not millions
MAX_TOKENS_PER_USER = 50
LAST_USED_PRECISION = timedelta(minutes=1)  # do not turn every API read into a write


@dataclass(frozen=True)
class TokenPolicy:
    default_days: int
    max_days: int


def party_view(row: Party) -> PartyView:
    return PartyView(
        id=row.id, name=row.name, kind=row.kind, country=row.country, created_at=row.created_at, contact=row.contact
    )


def user_view(row: User) -> UserView:
    return UserView(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        email=row.email,
        party=party_view(row.party),
        roles=row.role_names,
        is_active=row.is_active,
        created_at=row.created_at,
    )


def actor_for(user: User, *, via: str, scopes: frozenset[Scope] | None = None, token_id: str | None = None) -> Actor:
    return Actor(
        user_id=user.id,
        username=user.username,
        party_id=user.party_id,
        party_name=user.party.name,
        country=user.party.country,
        roles=frozenset(Role(r) for r in user.role_names),
        scopes=scopes,
        via=via,
        token_id=token_id,
        party_kind=user.party.kind,
    )


@dataclass
class _TokenCheck:
    """What checking a token needs from its row, user, roles and party, as read under one identity epoch."""

    secret_hash: str
    revoked: bool
    expires_at: datetime
    active: bool
    actor: Actor
    last_used_at: datetime | None  # kept current by this process's own writes (they do not move the epoch)

    @classmethod
    def of(cls, token: ApiToken, epoch: int) -> _TokenCheck:
        actor = actor_for(
            token.user, via="token", scopes=frozenset(Scope(s) for s in token.scope_names), token_id=token.id
        )
        return cls(
            secret_hash=token.secret_hash,
            revoked=token.revoked_at is not None,
            expires_at=token.expires_at,
            active=token.user.is_active,
            actor=replace(actor, epoch=epoch),
            last_used_at=token.last_used_at,
        )


@dataclass(frozen=True)
class TokenUse:
    """A checked token: the actor it stands for, and (``record_due``) whether its last use is due to be written."""

    actor: Actor
    at: datetime
    _due: _TokenCheck | None  # the cached check to update once the use is written

    @property
    def record_due(self) -> bool:
        return self._due is not None


TOKENS_CACHED = 4096  # tokens whose checks a process keeps (per identity epoch)
PARTIES_CACHED = 4096


class IdentityService:
    def __init__(self, db: Database, clock: Clock, ids: IdSource, audit: AuditLog, tokens: TokenPolicy) -> None:
        self._db = db
        self._clock = clock
        self._ids = ids
        self._audit = audit
        self._tokens = tokens
        self._tokens_seen: EpochCache[_TokenCheck] = EpochCache(TOKENS_CACHED)
        self._parties_seen: EpochCache[PartyView] = EpochCache(PARTIES_CACHED)

    # -- authorisation -------------------------------------------------------------------------------------

    def authorize(self, actor: Actor, permission: Permission) -> None:
        """Raise :class:`PermissionDenied` (and audit the denial) unless ``actor`` holds ``permission``.

        A token must also carry the scope the permission needs: a token never does more than it was issued for.
        """
        missing = None
        if not actor.can(permission):
            missing = "role"
        elif actor.scopes is not None and PERMISSION_SCOPE[permission] not in actor.scopes:
            missing = "scope"
        if missing:
            self._audit.record(
                actor.audit_ref(),
                "access.denied",
                outcome=Outcome.DENIED,
                details={"permission": permission, "missing": missing},
            )
            raise PermissionDenied(actor.username, permission, missing)

    def require_scope(self, actor: Actor, scope: Scope) -> None:
        """For actions any user may take on their own things (their tokens): only the token scope is checked."""
        if actor.scopes is not None and scope not in actor.scopes and Scope.ADMIN not in actor.scopes:
            self._audit.record(actor.audit_ref(), "access.denied", outcome=Outcome.DENIED, details={"scope": scope})
            raise PermissionDenied(actor.username, f"use scope {scope}", "scope")

    # -- parties ------------------------------------------------------------------------------------------

    def add_party(self, actor: Actor, name: str, kind: str, country: str, *, contact: str | None = None) -> PartyView:
        """Register an organisation, with the point of contact other parties see on a hit they may not open.

        Raises InvalidInput, AlreadyExists, PermissionDenied.
        """
        self.authorize(actor, Permission.MANAGE_PARTIES)
        party = Party(
            id=self._ids.new_id("party"),
            name=validation.clean_text("name", name),
            kind=validation.one_of("kind", kind, PartyKind),
            country=validation.country(country),
            created_at=self._clock.now(),
            contact=validation.contact(contact),
        )
        try:
            with self._db.writing() as session:
                if session.scalar(select(Party.id).where(Party.name == party.name)):
                    raise AlreadyExists("party", party.name)
                session.add(party)
                session.flush()
                self._audit.append(
                    session,
                    actor.audit_ref(),
                    "party.create",
                    object_type="party",
                    object_id=party.id,
                    details={
                        "name": party.name,
                        "kind": party.kind,
                        "country": party.country,
                        "contact": party.contact,
                    },
                )
        except IntegrityError as exc:  # a concurrent insert of the same name won the race
            raise AlreadyExists("party", party.name) from exc
        return party_view(party)

    def set_party_contact(self, actor: Actor, key: str, contact: str | None) -> PartyView:
        """Set (or, with None or blank text, clear) a party's point of contact; the change is audited with the old
        and new text. Raises InvalidInput, NotFound, PermissionDenied."""
        self.authorize(actor, Permission.MANAGE_PARTIES)
        text = validation.contact(contact)
        with self._db.writing() as session:
            party = self.find_party(session, key)
            before, party.contact = party.contact, text
            self._audit.append(
                session,
                actor.audit_ref(),
                "party.update",
                object_type="party",
                object_id=party.id,
                details={"field": "contact", "before": before, "after": text},
            )
            return party_view(party)

    def list_parties(self, actor: Actor) -> list[PartyView]:
        """The directory of organisations known to this node (not personal data). Raises PermissionDenied."""
        self.authorize(actor, Permission.VIEW_DIRECTORY)
        with self._db.reading() as session:
            rows = session.scalars(select(Party).order_by(Party.country, Party.name).limit(MAX_LIST))
            return [party_view(r) for r in rows]

    def get_party(self, key: str) -> PartyView:
        """A party by id or name (directory data, for other services). Raises NotFound."""
        with self._db.reading() as session:
            return party_view(self.find_party(session, key))

    def parties_by_id(self, ids: Iterable[str], as_of: int | None = None) -> dict[str, PartyView]:
        """The parties with these ids (directory data, for other services), in chunks of ``MAX_LIST``.

        With ``as_of`` (an identity epoch read in this request, ``Actor.epoch``), parties read under that epoch
        before are answered from this process's cache.
        """
        wanted = sorted(set(ids))
        found: dict[str, PartyView] = {}
        if as_of is not None:
            for party_id in wanted:
                view = self._parties_seen.peek(as_of, party_id)
                if view is not None:
                    found[party_id] = view
            wanted = [party_id for party_id in wanted if party_id not in found]
        if not wanted:
            return found
        with self._db.reading() as session:
            epoch = current_epoch(session)
            for start in range(0, len(wanted), MAX_LIST):
                rows = session.scalars(select(Party).where(Party.id.in_(wanted[start : start + MAX_LIST])))
                for row in rows:
                    found[row.id] = view = party_view(row)
                    self._parties_seen.put(epoch, row.id, view)
        return found

    def addresses_for(self, party_id: str, permission: Permission) -> list[str]:
        """E-mail addresses of the party's active users whose roles grant ``permission`` (for the node's own
        notifications; nobody reads them through this, so it is not a disclosure)."""
        roles = [str(role) for role, granted in ROLE_PERMISSIONS.items() if permission in granted]
        with self._db.reading() as session:
            rows = session.scalars(
                select(User.email)
                .join(UserRole, UserRole.user_id == User.id)
                .where(User.party_id == party_id, User.is_active.is_(True), User.email.is_not(None))
                .where(UserRole.role.in_(roles))
                .distinct()
                .order_by(User.email)
            )
            return [email for email in rows if email]

    def find_party(self, session: Session, key: str) -> Party:
        if not validation.is_lookup_key(key):
            raise NotFound("party", key[:80])
        party = session.scalar(select(Party).where(or_(Party.id == key, Party.name == key.strip())))
        if party is None:
            raise NotFound("party", key)
        return party

    # -- users --------------------------------------------------------------------------------------------

    def add_user(
        self,
        actor: Actor,
        username: str,
        party: str,
        roles: Iterable[str],
        *,
        display_name: str | None = None,
        email: str | None = None,
        password: str | None = None,
    ) -> tuple[UserView, str | None]:
        """Create a user. With no password one is generated and returned (shown once, never stored in clear).

        Returns the user and the generated password (None when the caller gave one).
        Raises InvalidInput, NotFound (party), AlreadyExists, PermissionDenied.
        """
        self.authorize(actor, Permission.MANAGE_USERS)
        name = validation.username(username)
        chosen_roles = validation.many_of("role", roles, Role)
        generated = None
        if password is None:
            password = generated = credentials.generate_password(self._ids)
        credentials.check_password_strength(password)
        user = User(
            id=self._ids.new_id("user"),
            username=name,
            display_name=validation.clean_text("display_name", display_name or name),
            email=validation.email(email),
            password_hash=credentials.hash_password(password),
            is_active=True,
            created_at=self._clock.now(),
        )
        try:
            with self._db.writing() as session:
                if session.scalar(select(User.id).where(User.username == name)):
                    raise AlreadyExists("user", name)
                user.party = self.find_party(session, party)
                user.roles = [UserRole(role=str(r)) for r in sorted(chosen_roles)]
                session.add(user)
                session.flush()
                self._audit.append(
                    session,
                    actor.audit_ref(),
                    "user.create",
                    object_type="user",
                    object_id=user.id,
                    details={"username": name, "party_id": user.party_id, "roles": user.role_names},
                )
                view = user_view(user)
        except IntegrityError as exc:
            raise AlreadyExists("user", name) from exc
        return view, generated

    def list_users(self, actor: Actor, disclosure: Disclosure) -> list[UserView]:
        """Users with their names and e-mail addresses: personal data, so the read is audited with its purpose.

        Raises PermissionDenied.
        """
        self.authorize(actor, Permission.MANAGE_USERS)
        with self._db.writing() as session:
            rows = session.scalars(select(User).order_by(User.username).limit(MAX_LIST)).unique().all()
            self._audit.append(
                session,
                actor.audit_ref(),
                "user.list",
                object_type="user",
                disclosure=disclosure,
                details={"count": len(rows)},
            )
            return [user_view(r) for r in rows]

    def set_user_active(self, actor: Actor, username: str, active: bool, disclosure: Disclosure) -> UserView:
        """Deactivate (a leaver, a compromised account) or reactivate a user. Deactivation ends their browser
        sessions and revokes their tokens at once (reactivation does not bring the tokens back); nothing is
        deleted, so the audit trail keeps its names. The answer shows the user, so an unchanged state is
        audited as a read of personal data.

        Raises NotFound, InvalidInput (deactivating yourself), PermissionDenied.
        """
        self.authorize(actor, Permission.MANAGE_USERS)
        name = validation.username(username)
        if not active and name == actor.username:
            raise InvalidInput("is_active", "you cannot deactivate your own account")
        with self._db.writing() as session:
            user = session.scalar(select(User).where(User.username == name))
            if user is None:
                raise NotFound("user", name)
            if user.is_active == active:
                self._audit.append(
                    session,
                    actor.audit_ref(),
                    "user.read",
                    object_type="user",
                    object_id=user.id,
                    disclosure=disclosure,
                )
                return user_view(user)
            user.is_active = active
            revoked = 0
            if not active:
                session.execute(delete(WebSession).where(WebSession.user_id == user.id))
                result = session.execute(
                    update(ApiToken)
                    .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                    .values(revoked_at=self._clock.now())
                )
                revoked = cast("CursorResult[Any]", result).rowcount
            self._audit.append(
                session,
                actor.audit_ref(),
                "user.reactivate" if active else "user.deactivate",
                object_type="user",
                object_id=user.id,
                disclosure=disclosure,
                details={"username": name, "tokens_revoked": revoked},
            )
            return user_view(user)

    def count_summary(self, actor: Actor) -> dict[str, int]:
        """Counts for the dashboard (no personal data)."""
        with self._db.reading() as session:
            now = self._clock.now()
            return {
                "parties": session.scalar(select(func.count()).select_from(Party)) or 0,
                "countries": session.scalar(select(func.count(func.distinct(Party.country)))) or 0,
                "users": session.scalar(select(func.count()).select_from(User).where(User.is_active.is_(True))) or 0,
                "my_tokens": session.scalar(
                    select(func.count())
                    .select_from(ApiToken)
                    .where(ApiToken.user_id == actor.user_id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)
                )
                or 0,
            }

    # -- API tokens ---------------------------------------------------------------------------------------

    def create_token(
        self,
        actor: Actor,
        username: str,
        name: str,
        scopes: Iterable[str] = (Scope.READ,),
        expires_in_days: int | None = None,
    ) -> tuple[TokenView, str]:
        """Issue a token for ``username``; returns it with the plaintext, which is never shown again.

        Users issue their own tokens; issuing for someone else needs MANAGE_USERS. A token cannot carry
        the admin scope unless its user may manage users. Raises InvalidInput, NotFound, PermissionDenied.
        """
        chosen = validation.many_of("scopes", scopes, Scope)
        days = self._tokens.default_days if expires_in_days is None else expires_in_days
        if not 1 <= days <= self._tokens.max_days:
            raise InvalidInput("expires_in_days", f"must be between 1 and {self._tokens.max_days}")
        label = validation.clean_text("name", name, max_length=100)
        self.require_scope(actor, Scope.WRITE)
        if actor.scopes is not None and not chosen <= actor.scopes:
            # A token may only mint tokens narrower than itself, or a leaked write token becomes an admin one.
            self._audit.record(
                actor.audit_ref(), "access.denied", outcome=Outcome.DENIED, details={"scopes": sorted(chosen)}
            )
            raise PermissionDenied(actor.username, "issue a token wider than the caller's", "scope")
        target = validation.username(username)
        if target != actor.username:
            self.authorize(actor, Permission.MANAGE_USERS)
        secret = credentials.new_token_secret(self._ids)
        now = self._clock.now()
        with self._db.writing() as session:
            user = session.scalar(select(User).where(User.username == target))
            if user is None:
                raise NotFound("user", target)
            if Scope.ADMIN in chosen and Role.ADMIN not in {Role(r) for r in user.role_names}:
                raise InvalidInput("scopes", "the admin scope is only for users with the admin role")
            live = session.scalar(
                select(func.count())
                .select_from(ApiToken)
                .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            )
            if (live or 0) >= MAX_TOKENS_PER_USER:
                raise InvalidInput("name", f"a user may hold at most {MAX_TOKENS_PER_USER} live tokens; revoke one")
            token = ApiToken(
                id=self._ids.new_id("token"),
                user=user,
                name=label,
                lookup=secret.lookup,
                secret_hash=credentials.secret_hash(secret.secret),
                scopes=" ".join(sorted(chosen)),
                created_at=now,
                expires_at=now + timedelta(days=days),
            )
            session.add(token)
            session.flush()
            self._audit.append(
                session,
                actor.audit_ref(),
                "token.create",
                object_type="token",
                object_id=token.id,
                details={"for": target, "scopes": token.scope_names, "expires_at": token.expires_at.isoformat()},
            )
            return self._token_view(token), secret.plaintext

    def list_tokens(self, actor: Actor, username: str | None = None) -> list[TokenView]:
        """Tokens of ``username`` (default: the actor's own). Others' tokens need MANAGE_USERS."""
        target = validation.username(username) if username else actor.username
        if target != actor.username:
            self.authorize(actor, Permission.MANAGE_USERS)
        with self._db.reading() as session:
            rows = session.scalars(
                select(ApiToken).join(ApiToken.user).where(User.username == target).order_by(ApiToken.created_at.desc())
            )
            return [self._token_view(r) for r in rows]

    def revoke_token(self, actor: Actor, token_id: str) -> TokenView:
        """Revoke one of the actor's tokens (or anyone's, with MANAGE_USERS). Raises NotFound, PermissionDenied."""
        self.require_scope(actor, Scope.WRITE)
        if not validation.is_object_id(token_id, "token"):
            raise NotFound("token", token_id[:80])
        with self._db.writing() as session:
            token = session.get(ApiToken, token_id)
            if token is None or (token.user_id != actor.user_id and not actor.holds(Permission.MANAGE_USERS)):
                raise NotFound("token", token_id)  # do not reveal that someone else's token exists
            if token.revoked_at is None:
                token.revoked_at = self._clock.now()
                self._audit.append(session, actor.audit_ref(), "token.revoke", object_type="token", object_id=token.id)
            return self._token_view(token)

    def authenticate_token(self, plaintext: str, session: Session | None = None) -> Actor:
        """The actor a bearer token stands for. Raises AuthenticationFailed (unknown, expired, revoked, inactive).

        The token's row, user, roles and party are cached per identity epoch (identity.epoch): a call reads one
        row when nothing changed since the last call, and everything again after any identity change. With
        ``session``, it reads in that transaction (a route's own read, so the check costs no transaction of
        its own); otherwise in one of its own.
        """
        use = self.check_token(plaintext, session)
        self.record_token_use(use)
        return use.actor

    def check_token(self, plaintext: str, session: Session | None = None) -> TokenUse:
        """``authenticate_token`` without its one write: the actor, and whether the token's last use is due to
        be written (``record_token_use``). For a caller that must not wait for the write lock where it is (an
        event loop). Raises AuthenticationFailed as ``authenticate_token`` does."""
        parsed = credentials.parse_token(plaintext[:200])
        if parsed is None:
            raise AuthenticationFailed("malformed token")
        now = self._clock.now()
        with nullcontext(session) if session is not None else self._db.reading() as reading:
            epoch = current_epoch(reading)
            check = self._tokens_seen.peek(epoch, parsed.lookup)
            if check is None:
                token = reading.scalar(select(ApiToken).where(ApiToken.lookup == parsed.lookup))
                check = None if token is None else _TokenCheck.of(token, epoch)
                if check is not None:
                    self._tokens_seen.put(epoch, parsed.lookup, check)
        if check is None or not credentials.secret_matches(check.secret_hash, parsed.secret):
            raise AuthenticationFailed("unknown token")
        if check.revoked:
            raise AuthenticationFailed("revoked token")
        if check.expires_at <= now:
            raise AuthenticationFailed("expired token")
        if not check.active:
            raise AuthenticationFailed("inactive user")
        due = check.last_used_at is None or now - check.last_used_at >= LAST_USED_PRECISION
        return TokenUse(check.actor, now, check if due else None)

    def record_token_use(self, use: TokenUse) -> None:
        """Write when the token was last used, if ``use.record_due``: at most once a minute per token and
        process (``LAST_USED_PRECISION``), so that API reads do not each become a write."""
        check = use._due
        if check is None:
            return
        with self._db.writing() as writing:
            row = writing.get(ApiToken, check.actor.token_id)
            if row is not None:
                row.last_used_at = use.at
        check.last_used_at = use.at

    def _token_view(self, row: ApiToken) -> TokenView:
        now = self._clock.now()
        status = "revoked" if row.revoked_at else ("expired" if row.expires_at <= now else "active")
        return TokenView(
            id=row.id,
            name=row.name,
            username=row.user.username,
            scopes=row.scope_names,
            created_at=row.created_at,
            expires_at=row.expires_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
            status=status,
        )
