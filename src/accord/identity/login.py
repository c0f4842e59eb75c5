"""Password login with throttling, and browser sessions stored server-side (only hashes of their secrets)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select

from accord.audit.service import AuditActor, AuditLog, Outcome
from accord.clock import Clock
from accord.identity import credentials
from accord.identity.actor import Actor
from accord.identity.errors import AuthenticationFailed, LoginThrottled
from accord.identity.models import LoginFailure, User, WebSession
from accord.identity.service import actor_for
from accord.ids import IdSource
from accord.store.engine import Database

SESSION_SECRET_BYTES = 32
CSRF_TOKEN_BYTES = 32
MAX_USERNAME_INPUT = 64  # longer input is no user of ours; bound what we store about failures
MAX_CLIENT_LENGTH = 64


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

        Failures are counted per user name and per client address over the window; both are audited.
        """
        name = username.strip().lower()[:MAX_USERNAME_INPUT]
        client = client[:MAX_CLIENT_LENGTH]
        now = self._clock.now()
        window_start = now - timedelta(seconds=self._policy.window_seconds)
        with self._db.reading() as session:
            recent = session.execute(
                select(func.count(), func.min(LoginFailure.at)).where(
                    LoginFailure.at > window_start, or_(LoginFailure.username == name, LoginFailure.client == client)
                )
            ).one()
            if recent[0] >= self._policy.max_failures:
                retry_after = math.ceil(
                    (recent[1] + timedelta(seconds=self._policy.window_seconds) - now).total_seconds()
                )
                throttled = max(1, retry_after)
            else:
                throttled = 0
                user = session.scalar(select(User).where(User.username == name))
        if throttled:
            self._audit.record(
                AuditActor(None, name, None), "login.throttled", outcome=Outcome.DENIED, details={"client": client}
            )
            raise LoginThrottled(throttled)

        # Verify against a dummy hash for unknown users, so the response time does not reveal who exists.
        ok = credentials.verify_password(user.password_hash if user else credentials.dummy_password_hash(), password)
        if user is None or not ok or not user.is_active:
            reason = "unknown user" if user is None else ("wrong password" if not ok else "inactive user")
            with self._db.writing() as session:
                session.execute(delete(LoginFailure).where(LoginFailure.at <= window_start))
                session.add(LoginFailure(username=name, client=client, at=now))
                self._audit.append(
                    session,
                    AuditActor(user.id if user else None, name, user.party_id if user else None),
                    "login.failed",
                    outcome=Outcome.FAILED,
                    details={"client": client, "reason": reason},
                )
            raise AuthenticationFailed(reason)
        with self._db.writing() as session:
            session.execute(delete(LoginFailure).where(LoginFailure.username == name))
            if credentials.needs_rehash(user.password_hash):
                fresh = session.get(User, user.id)
                if fresh is not None:
                    fresh.password_hash = credentials.hash_password(password)
            actor = actor_for(user, via="session")
            self._audit.append(session, actor.audit_ref(), "login.succeeded", details={"client": client})
        return actor

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
