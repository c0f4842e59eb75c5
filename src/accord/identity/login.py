"""Password login with throttling, and browser sessions stored server-side (only hashes of their secrets)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from accord.audit.service import AuditActor, AuditLog, Outcome
from accord.clock import Clock
from accord.identity import credentials
from accord.identity.actor import Actor
from accord.identity.errors import AuthenticationFailed, LoginThrottled
from accord.identity.models import LoginFailure, User, WebSession
from accord.identity.service import actor_for
from accord.identity.validation import has_control_characters
from accord.ids import IdSource
from accord.store.engine import Database

SESSION_SECRET_BYTES = 32
CSRF_TOKEN_BYTES = 32
MAX_USERNAME_INPUT = 64  # longer input is no user of ours; bound what we store about failures
MAX_CLIENT_LENGTH = 64
SPRAY_FACTOR = 4  # one client may fail this many times the limit across all names before it waits
DISTRIBUTED_FACTOR = 10  # failures at one name from any clients before that name waits
UNKNOWN_USER = "(unknown user)"


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int
    window_seconds: int
    session_max_age_seconds: int


@dataclass(frozen=True)
class OpenedSession:
    secret: str  # goes into the cookie; only its hash is stored
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class SessionState:
    actor: Actor
    csrf_token: str


class LoginService:
    def __init__(self, db: Database, clock: Clock, ids: IdSource, audit: AuditLog, policy: LoginPolicy) -> None:
        self._db = db
        self._clock = clock
        self._ids = ids
        self._audit = audit
        self._policy = policy

    def login(self, username: str, password: str, client: str) -> Actor:
        """Check a password. Raises LoginThrottled (before looking at the password) or AuthenticationFailed.

        Failures are counted over the window per (user name, client) pair, per client (password spraying)
        and per user name from any client (a distributed guess at one account). The per-name limit is
        several times higher than the pair limit, so a stranger cannot lock a 24/7 duty officer out with a
        handful of tries. Successes, failures and throttled tries are all audited.
        """
        name = username.strip().lower()[:MAX_USERNAME_INPUT]
        client = client[:MAX_CLIENT_LENGTH]
        # Only a digest of the typed name is kept for throttling: people type passwords into the name field.
        name_key = credentials.secret_hash(name)
        now = self._clock.now()
        window_start = now - timedelta(seconds=self._policy.window_seconds)
        limits = self._policy.max_failures
        with self._db.reading() as session:
            recent = LoginFailure.at > window_start
            counts = [
                (session.execute(select(func.count(), func.min(LoginFailure.at)).where(recent, *where)).one(), limit)
                for where, limit in (
                    ((LoginFailure.username == name_key, LoginFailure.client == client), limits),
                    ((LoginFailure.client == client,), limits * SPRAY_FACTOR),
                    ((LoginFailure.username == name_key,), limits * DISTRIBUTED_FACTOR),
                )
            ]
            user = None if has_control_characters(name) else session.scalar(select(User).where(User.username == name))
        over = [oldest for (count, oldest), limit in counts if count >= limit]
        if over:
            retry_after = math.ceil((min(over) + timedelta(seconds=self._policy.window_seconds) - now).total_seconds())
            self._audit.record(self._who(user), "login.throttled", outcome=Outcome.DENIED, details={"client": client})
            raise LoginThrottled(max(1, retry_after))

        # Verify against a dummy hash for unknown users, so the response time does not reveal who exists.
        ok = credentials.verify_password(user.password_hash if user else credentials.dummy_password_hash(), password)
        if user is None or not ok or not user.is_active:
            reason = "unknown user" if user is None else ("wrong password" if not ok else "inactive user")
            with self._db.writing() as session:
                session.execute(delete(LoginFailure).where(LoginFailure.at <= window_start))
                session.add(LoginFailure(username=name_key, client=client, at=now))
                self._audit.append(
                    session,
                    self._who(user),
                    "login.failed",
                    outcome=Outcome.FAILED,
                    details={"client": client, "reason": reason},
                )
            raise AuthenticationFailed(reason)
        with self._db.writing() as session:
            session.execute(delete(LoginFailure).where(LoginFailure.username == name_key))
            if credentials.needs_rehash(user.password_hash):
                fresh = session.get(User, user.id)
                if fresh is not None:
                    fresh.password_hash = credentials.hash_password(password)
            actor = actor_for(user, via="session")
            self._audit.append(session, actor.audit_ref(), "login.succeeded", details={"client": client})
        return actor

    @staticmethod
    def _who(user: User | None) -> AuditActor:
        """The audit actor of a login attempt; an unknown name is never written down (it may be a password)."""
        if user is None:
            return AuditActor(None, UNKNOWN_USER, None)
        return AuditActor(user.id, user.username, user.party_id)

    def open_session(self, actor: Actor) -> OpenedSession:
        if actor.user_id is None:
            raise AuthenticationFailed("only users have browser sessions")
        now = self._clock.now()
        opened = OpenedSession(
            secret=self._ids.secret(SESSION_SECRET_BYTES),
            csrf_token=self._ids.secret(CSRF_TOKEN_BYTES),
            expires_at=now + timedelta(seconds=self._policy.session_max_age_seconds),
        )
        with self._db.writing() as session:
            session.execute(delete(WebSession).where(WebSession.expires_at <= now))
            session.add(
                WebSession(
                    secret_hash=credentials.secret_hash(opened.secret),
                    user_id=actor.user_id,
                    csrf_token=opened.csrf_token,
                    created_at=now,
                    expires_at=opened.expires_at,
                )
            )
        return opened

    def session_state(self, secret: str) -> SessionState:
        """The actor behind a session cookie. Raises AuthenticationFailed: unknown, expired, or user inactive."""
        if not secret or len(secret) > 128:
            raise AuthenticationFailed("malformed session")
        with self._db.reading() as session:
            row = session.get(WebSession, credentials.secret_hash(secret))
            if row is None:
                raise AuthenticationFailed("unknown session")
            if row.expires_at <= self._clock.now():
                raise AuthenticationFailed("expired session")
            if not row.user.is_active:
                raise AuthenticationFailed("inactive user")
            return SessionState(actor_for(row.user, via="session"), row.csrf_token)

    def close_session(self, secret: str) -> None:
        """Log out: the session row is deleted, so a copied cookie stops working at once."""
        with self._db.writing() as session:
            row = session.get(WebSession, credentials.secret_hash(secret))
            if row is None:
                return
            actor = actor_for(row.user, via="session")
            session.delete(row)
            self._audit.append(session, actor.audit_ref(), "logout")
